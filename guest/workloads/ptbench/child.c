/* One benchmark process: waits at each barrier, does the phase, reports. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ptbench.h"

static void wait_for_gen(struct control *ctl, uint32_t want)
{
	for (;;) {
		uint32_t cur = __atomic_load_n(&ctl->gen, __ATOMIC_ACQUIRE);

		if ((int32_t)(cur - want) >= 0)
			return;
		syscall(SYS_futex, &ctl->gen, FUTEX_WAIT, cur, NULL, NULL, 0);
	}
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (us > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t next_random(uint64_t *state)
{
	/* xorshift64* */
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void send_record(int fd, struct record *rec)
{
	ssize_t n;

	do {
		n = write(fd, rec, sizeof(*rec));
	} while (n < 0 && errno == EINTR);
}

/* Touches every page of [addr, addr + size) exactly once. Random order
 * steps through the pages by a prime that does not divide their count, from
 * a random start: a full cycle without a permutation table, which would add
 * private memory (and page tables) of its own. */
static void touch(char *addr, uint64_t size, uint64_t page, int write_access, int random_order,
		  uint64_t *rng)
{
	static const uint64_t primes[] = { 1000003ULL, 999983ULL, 15485863ULL, 2147483647ULL };
	uint64_t pages = size / page;
	uint64_t step = 1, p = 0;
	volatile char sink = 0;

	if (random_order && pages > 1) {
		for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++) {
			if (pages % primes[i] != 0) {
				step = primes[i] % pages;
				break;
			}
		}
		if (step == 0)
			step = 1;
		p = next_random(rng) % pages;
	}
	for (uint64_t i = 0; i < pages; i++) {
		volatile char *c = addr + p * page;

		if (write_access)
			*c = (char)(p + 1);
		else
			sink += *c;
		p += step;
		if (p >= pages)
			p -= pages;
	}
	(void)sink;
}

void child_main(int index, const struct options *o, const struct region *r, struct control *ctl,
		int report_fd)
{
	uint64_t rng = o->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)index + 1;
	struct record rec;
	struct rusage ru;
	void *addr = NULL;
	int fd;

	/* Die with the parent rather than wait at a barrier forever. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	/* The parent shields itself from the OOM killer; the workers must not be shielded. */
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "0", 1) < 0)
			(void)0;
		close(fd);
	}

	memset(&rec, 0, sizeof(rec));
	rec.index = index;
	rec.phase = PHASE_SPAWN;
	rec.vm_pte_kb = status_kb(0, "VmPTE");
	rec.vm_rss_kb = status_kb(0, "VmRSS");
	send_record(report_fd, &rec);

	for (long round = 0; round < o->rounds; round++) {
		for (int phase = PHASE_ATTACH; phase < PHASE_COUNT; phase++) {
			uint64_t t0;
			long minflt0, majflt0;

			if (phase == PHASE_HOLD && round != o->rounds - 1)
				continue;
			wait_for_gen(ctl, barrier_gen(round, phase));
			if (phase == PHASE_ATTACH && o->stagger_us)
				sleep_us(o->stagger_us * index);
			if ((phase == PHASE_ATTACH || phase == PHASE_DETACH) && o->jitter_us)
				sleep_us((long)(next_random(&rng) % (uint64_t)(o->jitter_us + 1)));
			if (phase == o->die_phase && index < o->die_count)
				raise(SIGKILL);

			memset(&rec, 0, sizeof(rec));
			rec.index = index;
			rec.phase = phase;
			rec.round = (int32_t)round;
			getrusage(RUSAGE_SELF, &ru);
			minflt0 = ru.ru_minflt;
			majflt0 = ru.ru_majflt;
			t0 = now_ns();
			switch (phase) {
			case PHASE_ATTACH:
				errno = 0;
				addr = region_attach(r, rec.msg, sizeof(rec.msg));
				rec.failed = addr == NULL;
				rec.err = addr == NULL ? errno : 0;
				break;
			case PHASE_TOUCH:
				if (addr)
					touch(addr, r->size, r->page_size, o->access == ACCESS_WRITE,
					      o->order == ORDER_RANDOM, &rng);
				else
					rec.failed = 1, snprintf(rec.msg, sizeof(rec.msg), "not attached");
				break;
			case PHASE_HOLD:
				break;
			case PHASE_DETACH:
				if (addr && region_detach(r, addr, rec.msg, sizeof(rec.msg)) != 0)
					rec.failed = 1, rec.err = errno;
				addr = NULL;
				break;
			}
			rec.wall_ns = (int64_t)(now_ns() - t0);
			getrusage(RUSAGE_SELF, &ru);
			rec.minflt = ru.ru_minflt - minflt0;
			rec.majflt = ru.ru_majflt - majflt0;
			rec.vm_pte_kb = status_kb(0, "VmPTE");
			rec.vm_rss_kb = status_kb(0, "VmRSS");
			send_record(report_fd, &rec);
		}
	}
	_exit(0);
}
