/* The shared region in each mode: created by the parent, attached by each child. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/msharefs.h>

#include "ptbench.h"

#define GIB (1ULL << 30)
#define HUGE_2M (2ULL << 20)
#define MSHARE_DIR "/sys/fs/mshare"

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* Writes "what: reason" to err; errno is kept for the caller. */
static int fail(char *err, size_t errlen, const char *what)
{
	int saved = errno;

	snprintf(err, errlen, "%s: %s", what, strerror(saved));
	errno = saved;
	return -1;
}

static int create_mshare(struct region *r, char *err, size_t errlen)
{
	char buf[64] = "";
	struct mshare_create mc;
	ssize_t n;
	int fd;

	fd = open(MSHARE_DIR "/mshare_info", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, MSHARE_DIR "/mshare_info (is msharefs mounted?)");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || (r->alignment = strtoull(buf, NULL, 10)) == 0) {
		snprintf(err, errlen, MSHARE_DIR "/mshare_info: no alignment in '%s'", buf);
		return -1;
	}
	r->size = round_up(r->size, 4096);
	r->map_size = round_up(r->size, r->alignment);
	snprintf(r->path, sizeof(r->path), MSHARE_DIR "/ptbench-%d", (int)getpid());
	fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, errlen, r->path);
	if (ftruncate(fd, (off_t)r->map_size) != 0) {
		fail(err, errlen, "ftruncate of the mshare region");
		goto out_unlink;
	}
	memset(&mc, 0, sizeof(mc));
	mc.region_offset = 0;
	mc.size = r->size;
	mc.offset = 0;
	mc.prot = PROT_READ | PROT_WRITE;
	mc.flags = MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED;
	mc.fd = (__u32)-1;
	if (ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc) != 0) {
		fail(err, errlen, "MSHAREFS_CREATE_MAPPING");
		goto out_unlink;
	}
	/* The parent keeps this fd: while it is open and the parent (the owner)
	 * lives, the region lives. Children open the file by name. */
	r->fd = fd;
	return 0;
out_unlink:
	unlink(r->path);
	close(fd);
	r->path[0] = '\0';
	return -1;
}

int region_create(struct region *r, const struct options *o, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->mode = o->mode;
	r->size = o->size;
	r->page_size = 4096;
	r->fd = -1;
	r->shm_id = -1;

	switch (o->mode) {
	case MODE_MSHARE:
		return create_mshare(r, err, errlen);
	case MODE_SHMEM:
		r->size = round_up(r->size, 4096);
		r->map_size = r->size;
		if (o->backing == BACKING_TMPFS) {
			snprintf(r->path, sizeof(r->path), "/dev/shm/ptbench-%d", (int)getpid());
			r->fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (r->fd < 0)
				return fail(err, errlen, r->path);
		} else {
			r->fd = memfd_create("ptbench", 0);
			if (r->fd < 0)
				return fail(err, errlen, "memfd_create");
		}
		if (ftruncate(r->fd, (off_t)r->size) != 0)
			return fail(err, errlen, "ftruncate");
		return 0;
	case MODE_SYSV:
		r->size = round_up(r->size, 4096);
		r->map_size = r->size;
		r->shm_id = shmget(IPC_PRIVATE, r->size, IPC_CREAT | 0600);
		if (r->shm_id < 0)
			return fail(err, errlen, "shmget (is the kernel built with SYSVIPC, and "
						 "kernel.shmmax large enough?)");
		return 0;
	case MODE_HUGETLB:
	case MODE_HUGETLB_PMDSHARE:
		r->page_size = HUGE_2M;
		r->size = round_up(r->size, HUGE_2M);
		if (o->mode == MODE_HUGETLB_PMDSHARE) {
			/* Whole, aligned gigabytes: every PMD table can be shared. */
			r->map_size = round_up(r->size, GIB);
			r->align_1g = 1;
			r->map_noreserve = r->map_size != r->size;
		} else {
			r->map_size = r->size;
			r->place_offset_2m = 1;
		}
		r->fd = memfd_create("ptbench-hugetlb", MFD_HUGETLB);
		if (r->fd < 0)
			return fail(err, errlen, "memfd_create(MFD_HUGETLB)");
		if (ftruncate(r->fd, (off_t)r->map_size) != 0)
			return fail(err, errlen, "ftruncate of the hugetlb file");
		return 0;
	}
	snprintf(err, errlen, "unknown mode");
	return -1;
}

void region_destroy(struct region *r)
{
	if (r->path[0])
		unlink(r->path);
	if (r->shm_id >= 0)
		shmctl(r->shm_id, IPC_RMID, NULL);
	if (r->fd >= 0)
		close(r->fd);
	r->path[0] = '\0';
	r->shm_id = -1;
	r->fd = -1;
}

/* Maps fd at an address with the wanted placement relative to 1 GiB. */
static void *map_placed(const struct region *r, int fd, int flags, char *err, size_t errlen)
{
	uint64_t extra = GIB + HUGE_2M;
	char *hole, *want, *got;

	hole = mmap(NULL, r->map_size + extra, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hole == MAP_FAILED) {
		fail(err, errlen, "mmap (address space reservation)");
		return NULL;
	}
	want = (char *)round_up((uint64_t)(uintptr_t)hole, GIB);
	if (r->place_offset_2m)
		want += HUGE_2M;
	got = mmap(want, r->map_size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
	if (got == MAP_FAILED) {
		fail(err, errlen, "mmap of the hugetlb file");
		int saved = errno;

		munmap(hole, r->map_size + extra);
		errno = saved;
		return NULL;
	}
	if (want > hole)
		munmap(hole, (size_t)(want - hole));
	if (hole + r->map_size + extra > want + r->map_size)
		munmap(want + r->map_size, (size_t)(hole + r->map_size + extra - (want + r->map_size)));
	return got;
}

void *region_attach(const struct region *r, char *err, size_t errlen)
{
	void *addr;
	int fd;

	switch (r->mode) {
	case MODE_MSHARE:
	case MODE_SHMEM:
		if (r->path[0]) {
			fd = open(r->path, O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				fail(err, errlen, r->path);
				return NULL;
			}
		} else {
			fd = r->fd;
		}
		addr = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (addr == MAP_FAILED)
			fail(err, errlen, "mmap");
		if (fd != r->fd) {
			int saved = errno;

			close(fd);
			errno = saved;
		}
		return addr == MAP_FAILED ? NULL : addr;
	case MODE_SYSV:
		addr = shmat(r->shm_id, NULL, 0);
		if (addr == (void *)-1) {
			fail(err, errlen, "shmat");
			return NULL;
		}
		return addr;
	case MODE_HUGETLB:
	case MODE_HUGETLB_PMDSHARE:
		return map_placed(r, r->fd, MAP_SHARED | (r->map_noreserve ? MAP_NORESERVE : 0), err,
				  errlen);
	}
	snprintf(err, errlen, "unknown mode");
	return NULL;
}

int region_detach(const struct region *r, void *addr, char *err, size_t errlen)
{
	if (r->mode == MODE_SYSV) {
		if (shmdt(addr) != 0)
			return fail(err, errlen, "shmdt");
		return 0;
	}
	if (munmap(addr, r->map_size) != 0)
		return fail(err, errlen, "munmap");
	return 0;
}
