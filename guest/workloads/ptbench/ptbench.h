/*
 * ptbench: N processes attach one shared region, touch every page, hold,
 * and detach, so the page-table cost of sharing can be measured per mode.
 * See docs/workloads.md.
 */
#ifndef PTBENCH_H
#define PTBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum pt_mode {
	MODE_MSHARE,           /* a region on msharefs: page tables shared */
	MODE_SHMEM,            /* MAP_SHARED of a memfd or a tmpfs file */
	MODE_SYSV,             /* SysV shared memory (shmget/shmat) */
	MODE_HUGETLB,          /* hugetlb memfd, placed so no PMD table is shared */
	MODE_HUGETLB_PMDSHARE, /* hugetlb memfd, 1 GiB aligned: PMD tables shared */
};

enum pt_backing { BACKING_MEMFD, BACKING_TMPFS };
enum pt_access { ACCESS_WRITE, ACCESS_READ };
enum pt_order { ORDER_SEQ, ORDER_RANDOM };

struct options {
	enum pt_mode mode;
	enum pt_backing backing;
	enum pt_access access;
	enum pt_order order;
	long processes;
	uint64_t size;          /* bytes each process touches */
	long rounds;            /* attach/touch/detach rounds (churn) */
	long stagger_us;        /* process i waits i * stagger_us before attaching */
	long jitter_us;         /* plus a random 0..jitter_us before attach and detach */
	double hold_s;          /* hold after the last touch */
	const char *ready_file; /* created once every process holds */
	const char *release_file; /* hold until this file exists */
	double phase_timeout_s; /* a phase not finished by then: stragglers are killed */
	int per_process;        /* 0 none, 1 auto, 2 all: per-process lists in the report */
	const char *output;     /* report file; stdout if NULL */
	uint64_t seed;
	int quiet;
	/* Testing aid: processes with index < die_count kill themselves in die_phase. */
	int die_phase;
	long die_count;
};

/* Phases, in order within a round. PHASE_SPAWN happens once, before round 0. */
enum pt_phase { PHASE_SPAWN, PHASE_ATTACH, PHASE_TOUCH, PHASE_HOLD, PHASE_DETACH, PHASE_COUNT };

const char *phase_name(int phase);
const char *mode_name(enum pt_mode mode);

/* Parses the command line; prints usage and exits on error. */
void parse_options(int argc, char **argv, struct options *o);

/* The shared region, as the parent sets it up and each child attaches it. */
struct region {
	enum pt_mode mode;
	uint64_t size;         /* bytes touched */
	uint64_t map_size;     /* bytes mapped (mshare: the whole region) */
	uint64_t page_size;    /* touch stride */
	uint64_t alignment;    /* mshare: from mshare_info */
	char path[256];        /* mshare or tmpfs file; empty for memfd/sysv */
	int fd;                /* memfd, inherited by the children */
	int shm_id;            /* sysv */
	int map_noreserve;
	int place_offset_2m;   /* hugetlb: place 2 MiB past a 1 GiB boundary */
	int align_1g;          /* hugetlb-pmdshare: 1 GiB aligned */
};

/* Parent: creates the region. Returns 0, or -1 with a message in err. */
int region_create(struct region *r, const struct options *o, char *err, size_t errlen);
/* Parent: removes names and ids (mshare/tmpfs file, sysv id). */
void region_destroy(struct region *r);
/* Child: maps the region; returns the address or NULL with a message. */
void *region_attach(const struct region *r, char *err, size_t errlen);
int region_detach(const struct region *r, void *addr, char *err, size_t errlen);

/* Reads one "Name:  N kB" field of /proc/self/status (or /proc/PID/status),
 * in kB; -1 if missing. */
long status_kb(pid_t pid, const char *field);
/* A /proc/meminfo field in bytes ("kB" fields converted); -1 if missing. */
int64_t meminfo_bytes(const char *field);
/* A /proc/vmstat counter; -1 if missing. */
int64_t vmstat_value(const char *field);

/* What a child reports at the end of each phase (one pipe write, atomic). */
struct record {
	int32_t index;
	int32_t phase;
	int32_t round;
	int32_t failed;     /* 1: the phase failed, msg says why */
	int32_t err;        /* errno of the failure, 0 if none */
	int64_t wall_ns;    /* the process's own time for the phase */
	int64_t minflt;     /* minor faults during the phase */
	int64_t majflt;
	int64_t vm_pte_kb;  /* VmPTE at the end of the phase */
	int64_t vm_rss_kb;
	char msg[84];
};

/* Shared between the parent and the children (one anonymous shared page). */
struct control {
	volatile uint32_t gen;   /* the parent's barrier counter; futex word */
};

/* Child: runs every phase, then _exits. Never returns. */
void child_main(int index, const struct options *o, const struct region *r,
		struct control *ctl, int report_fd) __attribute__((noreturn));

/* Barrier generation of (round, phase) for phases after PHASE_SPAWN. */
static inline uint32_t barrier_gen(long round, int phase)
{
	return (uint32_t)(1 + round * PHASE_COUNT + phase);
}

uint64_t now_ns(void);

#endif
