#include "coordinator.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ERRORS_LISTED 20
#define MAX_DEATHS_LISTED 20

struct proc {
	pid_t pid;
	int index;
	int reported;       /* reported the phase being collected */
	int dead;           /* ended before finishing every phase */
	int reaped;
	int wait_status;
	int death_phase;
	long death_round;
	int killed_at_timeout;
	int64_t vm_pte_spawn_kb;
	struct record rec; /* the record of the phase being collected */
};

struct run {
	const struct options *o;
	struct jw *w;
	struct proc *procs;
	struct proc **by_pid; /* sorted by pid, for reaping */
	struct control *ctl;
	long spawned;
	int report_fd;
	char pending[sizeof(struct record)];
	size_t pending_len;
	long errors_total;
	long deaths_total;
	long timeouts_total;
	long deaths_by_phase[PHASE_COUNT];
	int64_t page_tables_start, page_tables_peak, page_tables_held;
	int64_t page_tables_attached, page_tables_touched; /* last round */
	int64_t oom_kills_start;
	/* last round's touch figures for the summary */
	double region_pte_mean, minflt_touch_mean;
	int64_t vm_pte_held_sum;
	long touch_reporters;
	uint64_t attach_touch_wall_ns;
	/* errors, kept for the report */
	struct {
		int index;
		int phase;
		long round;
		int err;
		char msg[sizeof(((struct record *)0)->msg)];
	} errors[MAX_ERRORS_LISTED];
	int errors_listed;
};

static void progress(const struct run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void progress(const struct run *run, const char *fmt, ...)
{
	va_list ap;

	if (run->o->quiet)
		return;
	fprintf(stderr, "ptbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = (*(struct proc *const *)a)->pid, y = (*(struct proc *const *)b)->pid;

	return (x > y) - (x < y);
}

static struct proc *find_pid(struct run *run, pid_t pid)
{
	long lo = 0, hi = run->spawned - 1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;
		pid_t p = run->by_pid[mid]->pid;

		if (p == pid)
			return run->by_pid[mid];
		if (p < pid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static void note_error(struct run *run, int index, int phase, long round, int err,
		       const char *msg)
{
	run->errors_total++;
	if (run->errors_listed < MAX_ERRORS_LISTED) {
		run->errors[run->errors_listed].index = index;
		run->errors[run->errors_listed].phase = phase;
		run->errors[run->errors_listed].round = round;
		run->errors[run->errors_listed].err = err;
		snprintf(run->errors[run->errors_listed].msg, sizeof(run->errors[0].msg), "%.*s",
			 (int)sizeof(run->errors[0].msg) - 1, msg);
		run->errors_listed++;
	}
}

/* Reaps every child that has ended. Returns how many of those had not
 * reported the phase being collected. */
static long reap(struct run *run, int phase, long round)
{
	long newly_missing = 0;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct proc *p = find_pid(run, pid);

		if (!p || p->reaped)
			continue;
		p->reaped = 1;
		p->wait_status = status;
		/* Exit status 0 comes only after the last phase, whose record may
		 * still be in the pipe: not a death, and nothing is missing. */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		p->dead = 1;
		p->death_phase = phase;
		p->death_round = round;
		run->deaths_total++;
		run->deaths_by_phase[phase]++;
		if (!p->reported)
			newly_missing++;
	}
	return newly_missing;
}

static void take_record(struct run *run, const struct record *rec, int phase, long round,
			long *pending)
{
	struct proc *p;

	if (rec->index < 0 || rec->index >= run->spawned)
		return;
	p = &run->procs[rec->index];
	if (rec->phase != phase || rec->round != round || p->reported || p->dead)
		return;
	p->reported = 1;
	p->rec = *rec;
	if (phase == PHASE_SPAWN)
		p->vm_pte_spawn_kb = rec->vm_pte_kb;
	if (rec->failed)
		note_error(run, rec->index, phase, round, rec->err, rec->msg);
	(*pending)--;
}

static void read_records(struct run *run, int phase, long round, long *pending)
{
	char buf[sizeof(struct record) * 64];
	ssize_t n;

	for (;;) {
		size_t have = run->pending_len;

		memcpy(buf, run->pending, have);
		n = read(run->report_fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			return; /* EAGAIN, or every writer gone */
		have += (size_t)n;
		size_t off = 0;

		for (; off + sizeof(struct record) <= have; off += sizeof(struct record)) {
			struct record rec;

			memcpy(&rec, buf + off, sizeof(rec));
			take_record(run, &rec, phase, round, pending);
		}
		run->pending_len = have - off;
		memcpy(run->pending, buf + off, run->pending_len);
	}
}

/* Waits until every live process has reported (phase, round) or died. */
static void collect(struct run *run, int phase, long round)
{
	uint64_t deadline = now_ns() + (uint64_t)(run->o->phase_timeout_s * 1e9);
	uint64_t give_up = 0;
	long pending = 0;

	for (long i = 0; i < run->spawned; i++) {
		run->procs[i].reported = 0;
		if (!run->procs[i].dead && !run->procs[i].reaped)
			pending++;
	}
	while (pending > 0) {
		struct pollfd pfd = { .fd = run->report_fd, .events = POLLIN };

		if (poll(&pfd, 1, 100) > 0)
			read_records(run, phase, round, &pending);
		pending -= reap(run, phase, round);
		if (pending > 0 && now_ns() > deadline && !give_up) {
			/* Stragglers are killed; they are reaped as deaths. */
			for (long i = 0; i < run->spawned; i++) {
				struct proc *p = &run->procs[i];

				if (!p->reported && !p->dead && !p->reaped) {
					p->killed_at_timeout = 1;
					run->timeouts_total++;
					kill(p->pid, SIGKILL);
				}
			}
			progress(run, "%s round %ld: %ld processes did not finish within %.0f s; "
				      "killed them", phase_name(phase), round, pending,
				 run->o->phase_timeout_s);
			give_up = now_ns() + 30000000000ULL;
		}
		if (give_up && now_ns() > give_up) {
			progress(run, "%s round %ld: %ld processes could not be reaped; going on",
				 phase_name(phase), round, pending);
			break;
		}
	}
}

/* Lets every process waiting for `gen` go. */
static void release(struct run *run, uint32_t gen)
{
	__atomic_store_n(&run->ctl->gen, gen, __ATOMIC_RELEASE);
	syscall(SYS_futex, &run->ctl->gen, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

struct stats {
	long count;
	int64_t min, max, sum;
};

static void stats_add(struct stats *s, int64_t v)
{
	if (s->count == 0 || v < s->min)
		s->min = v;
	if (s->count == 0 || v > s->max)
		s->max = v;
	s->sum += v;
	s->count++;
}

static void write_stats(struct jw *w, const char *key, const struct stats *s)
{
	jw_object_begin(w, key);
	if (s->count) {
		jw_int(w, "min", s->min);
		jw_int(w, "max", s->max);
		jw_int(w, "sum", s->sum);
		jw_double(w, "mean", (double)s->sum / (double)s->count);
	} else {
		jw_null(w, "min");
		jw_null(w, "max");
		jw_int(w, "sum", 0);
		jw_null(w, "mean");
	}
	jw_object_end(w);
}

/* Which per-process lists to write for this phase. */
static int want_lists(const struct run *run, int phase, long round, int *vm_pte_only)
{
	*vm_pte_only = 0;
	if (run->o->per_process == 0)
		return 0;
	if (run->o->per_process == 2 || run->spawned <= 64)
		return 1;
	if (phase == PHASE_TOUCH && round == run->o->rounds - 1) {
		*vm_pte_only = 1;
		return 1;
	}
	return 0;
}

static void write_list(struct run *run, const char *key, int which)
{
	jw_array_begin(run->w, key);
	for (long i = 0; i < run->spawned; i++) {
		const struct proc *p = &run->procs[i];

		if (!p->reported) {
			jw_null(run->w, NULL);
			continue;
		}
		switch (which) {
		case 0:
			jw_int(run->w, NULL, p->rec.vm_pte_kb * 1024);
			break;
		case 1:
			jw_int(run->w, NULL, p->rec.minflt);
			break;
		default:
			jw_int(run->w, NULL, p->rec.wall_ns);
			break;
		}
	}
	jw_array_end(run->w);
}

static void write_phase(struct run *run, int phase, long round, uint64_t wall_ns, long deaths_before)
{
	struct stats wall = { 0 }, minflt = { 0 }, majflt = { 0 }, vm_pte = { 0 }, vm_rss = { 0 };
	long done = 0, failed = 0;
	int64_t page_tables = meminfo_bytes("PageTables");
	int lists, pte_only;

	for (long i = 0; i < run->spawned; i++) {
		const struct proc *p = &run->procs[i];

		if (!p->reported)
			continue;
		done++;
		failed += p->rec.failed != 0;
		stats_add(&wall, p->rec.wall_ns);
		stats_add(&minflt, p->rec.minflt);
		stats_add(&majflt, p->rec.majflt);
		if (p->rec.vm_pte_kb >= 0)
			stats_add(&vm_pte, p->rec.vm_pte_kb * 1024);
		if (p->rec.vm_rss_kb >= 0)
			stats_add(&vm_rss, p->rec.vm_rss_kb * 1024);
	}
	if (page_tables > run->page_tables_peak)
		run->page_tables_peak = page_tables;
	if (phase == PHASE_ATTACH && round == run->o->rounds - 1)
		run->page_tables_attached = page_tables;
	if (phase == PHASE_TOUCH && round == run->o->rounds - 1) {
		struct stats region = { 0 };

		run->page_tables_touched = page_tables;

		for (long i = 0; i < run->spawned; i++) {
			const struct proc *p = &run->procs[i];

			if (p->reported && !p->rec.failed && p->rec.vm_pte_kb >= 0 &&
			    p->vm_pte_spawn_kb >= 0)
				stats_add(&region, (p->rec.vm_pte_kb - p->vm_pte_spawn_kb) * 1024);
		}
		run->region_pte_mean = region.count ? (double)region.sum / (double)region.count : -1;
		run->minflt_touch_mean = minflt.count ? (double)minflt.sum / (double)minflt.count : -1;
		run->vm_pte_held_sum = vm_pte.sum;
		run->touch_reporters = done;
	}

	jw_object_begin(run->w, NULL);
	jw_string(run->w, "name", phase_name(phase));
	jw_int(run->w, "round", round);
	jw_int(run->w, "wall_ns", (int64_t)wall_ns);
	jw_int(run->w, "done", done);
	jw_int(run->w, "failed", failed);
	jw_int(run->w, "died", run->deaths_total - deaths_before);
	jw_int(run->w, "page_tables_bytes", page_tables);
	write_stats(run->w, "process_wall_ns", &wall);
	write_stats(run->w, "minflt", &minflt);
	write_stats(run->w, "majflt", &majflt);
	write_stats(run->w, "vm_pte_bytes", &vm_pte);
	write_stats(run->w, "vm_rss_bytes", &vm_rss);
	lists = want_lists(run, phase, round, &pte_only);
	if (lists) {
		jw_object_begin(run->w, "per_process");
		write_list(run, "vm_pte_bytes", 0);
		if (!pte_only) {
			write_list(run, "minflt", 1);
			write_list(run, "wall_ns", 2);
		}
		jw_object_end(run->w);
	}
	jw_object_end(run->w);
	fflush(run->w->out);

	progress(run, "%-6s round %ld: %ld done, %ld failed, %ld died, %.3f s, PageTables %lld kB",
		 phase_name(phase), round, done, failed, run->deaths_total - deaths_before,
		 (double)wall_ns / 1e9, (long long)(page_tables / 1024));
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Holds the region: for --hold seconds and until --release-file exists,
 * reaping processes that die meanwhile. */
static void hold(struct run *run, long round)
{
	uint64_t until = now_ns() + (uint64_t)(run->o->hold_s * 1e9);

	run->page_tables_held = meminfo_bytes("PageTables");
	if (run->o->ready_file) {
		int fd = open(run->o->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dprintf(fd, "%lld\n", (long long)run->page_tables_held);
			close(fd);
		} else {
			progress(run, "cannot create --ready-file %s: %s", run->o->ready_file,
				 strerror(errno));
		}
	}
	progress(run, "holding (%ld processes, PageTables %lld kB)%s%s",
		 run->spawned - run->deaths_total, (long long)(run->page_tables_held / 1024),
		 run->o->release_file ? "; waiting for " : "",
		 run->o->release_file ? run->o->release_file : "");
	while (now_ns() < until || (run->o->release_file && !file_exists(run->o->release_file))) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50000000 };

		nanosleep(&ts, NULL);
		/* Nobody has reported the hold phase yet, so deaths count against it. */
		for (long i = 0; i < run->spawned; i++)
			run->procs[i].reported = 0;
		reap(run, PHASE_HOLD, round);
	}
}

static long spawn(struct run *run, struct region *r, int write_fd)
{
	for (long i = 0; i < run->o->processes; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			char msg[sizeof(((struct record *)0)->msg)];
			int err = errno;

			snprintf(msg, sizeof(msg), "fork of process %ld: %.40s", i, strerror(err));
			note_error(run, (int)i, PHASE_SPAWN, 0, err, msg);
			progress(run, "%s; going on with %ld processes", msg, i);
			return i;
		}
		if (pid == 0) {
			close(run->report_fd);
			child_main((int)i, run->o, r, run->ctl, write_fd);
		}
		run->procs[i].pid = pid;
		run->procs[i].index = (int)i;
		run->procs[i].vm_pte_spawn_kb = -1;
		run->spawned = i + 1;
	}
	return run->spawned;
}

static void shield_from_oom_killer(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "-1000", 5) < 0)
			(void)0; /* not root: the parent may be chosen, like any process */
		close(fd);
	}
}

static void write_config(struct jw *w, const struct options *o, const struct region *r)
{
	jw_object_begin(w, "config");
	jw_string(w, "mode", mode_name(o->mode));
	if (o->mode == MODE_SHMEM)
		jw_string(w, "backing", o->backing == BACKING_TMPFS ? "tmpfs" : "memfd");
	jw_int(w, "processes", o->processes);
	jw_uint(w, "size", o->size);
	jw_uint(w, "touched_bytes", r->size);
	jw_uint(w, "mapped_bytes", r->map_size);
	jw_uint(w, "page_size", r->page_size);
	if (o->mode == MODE_MSHARE)
		jw_uint(w, "alignment", r->alignment);
	jw_string(w, "access", o->access == ACCESS_READ ? "read" : "write");
	jw_string(w, "order", o->order == ORDER_RANDOM ? "random" : "seq");
	jw_int(w, "rounds", o->rounds);
	jw_int(w, "stagger_us", o->stagger_us);
	jw_int(w, "jitter_us", o->jitter_us);
	jw_double(w, "hold_s", o->hold_s);
	jw_double(w, "phase_timeout_s", o->phase_timeout_s);
	jw_uint(w, "seed", o->seed);
	jw_object_end(w);
}

static const char *signal_name(int sig)
{
	const char *name = sigabbrev_np(sig);

	return name ? name : "?";
}

static void write_deaths(struct run *run)
{
	int64_t oom_now = vmstat_value("oom_kill");
	long by_signal[NSIG] = { 0 };
	long by_exit = 0, timeouts = 0;
	int listed = 0;

	for (long i = 0; i < run->spawned; i++) {
		const struct proc *p = &run->procs[i];

		if (!p->dead)
			continue;
		if (p->killed_at_timeout)
			timeouts++;
		if (p->reaped && WIFSIGNALED(p->wait_status))
			by_signal[WTERMSIG(p->wait_status)]++;
		else
			by_exit++;
	}
	jw_object_begin(run->w, "deaths");
	jw_int(run->w, "count", run->deaths_total);
	jw_object_begin(run->w, "by_signal");
	for (int s = 1; s < NSIG; s++) {
		if (by_signal[s]) {
			char key[32];

			snprintf(key, sizeof(key), "SIG%s", signal_name(s));
			jw_int(run->w, key, by_signal[s]);
		}
	}
	jw_object_end(run->w);
	jw_int(run->w, "by_exit_status", by_exit);
	jw_int(run->w, "killed_at_phase_timeout", timeouts);
	jw_object_begin(run->w, "by_phase");
	for (int ph = 0; ph < PHASE_COUNT; ph++)
		if (run->deaths_by_phase[ph])
			jw_int(run->w, phase_name(ph), run->deaths_by_phase[ph]);
	jw_object_end(run->w);
	/* The kernel's count of OOM kills during the run (all processes). */
	if (oom_now >= 0 && run->oom_kills_start >= 0)
		jw_int(run->w, "oom_kills", oom_now - run->oom_kills_start);
	else
		jw_null(run->w, "oom_kills");
	jw_array_begin(run->w, "first");
	for (long i = 0; i < run->spawned && listed < MAX_DEATHS_LISTED; i++) {
		const struct proc *p = &run->procs[i];

		if (!p->dead)
			continue;
		listed++;
		jw_object_begin(run->w, NULL);
		jw_int(run->w, "index", p->index);
		jw_int(run->w, "pid", p->pid);
		jw_string(run->w, "phase", phase_name(p->death_phase));
		jw_int(run->w, "round", p->death_round);
		if (p->reaped && WIFSIGNALED(p->wait_status)) {
			char name[32];

			snprintf(name, sizeof(name), "SIG%s", signal_name(WTERMSIG(p->wait_status)));
			jw_string(run->w, "signal", name);
		} else if (p->reaped && WIFEXITED(p->wait_status)) {
			jw_int(run->w, "exit_status", WEXITSTATUS(p->wait_status));
		}
		jw_bool(run->w, "killed_at_phase_timeout", p->killed_at_timeout);
		jw_object_end(run->w);
	}
	jw_array_end(run->w);
	jw_object_end(run->w);
}

static void write_errors(struct run *run)
{
	jw_object_begin(run->w, "errors");
	jw_int(run->w, "count", run->errors_total);
	jw_array_begin(run->w, "first");
	for (int i = 0; i < run->errors_listed; i++) {
		jw_object_begin(run->w, NULL);
		jw_int(run->w, "index", run->errors[i].index);
		jw_string(run->w, "phase", phase_name(run->errors[i].phase));
		jw_int(run->w, "round", run->errors[i].round);
		jw_int(run->w, "errno", run->errors[i].err);
		jw_string(run->w, "message", run->errors[i].msg);
		jw_object_end(run->w);
	}
	jw_array_end(run->w);
	jw_object_end(run->w);
}

/* Waits for every process to exit after the last phase (or kills it). */
static void wait_all(struct run *run)
{
	uint64_t deadline = now_ns() + 10000000000ULL;
	long left;

	do {
		left = 0;
		reap(run, PHASE_DETACH, run->o->rounds - 1);
		for (long i = 0; i < run->spawned; i++)
			left += !run->procs[i].reaped;
		if (left && now_ns() > deadline) {
			for (long i = 0; i < run->spawned; i++)
				if (!run->procs[i].reaped)
					kill(run->procs[i].pid, SIGKILL);
			deadline = now_ns() + 10000000000ULL;
		}
		if (left) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 10000000 };

			nanosleep(&ts, NULL);
		}
	} while (left);
}

int run_benchmark(const struct options *o, struct jw *w)
{
	struct run run;
	struct region region;
	char err[256];
	int fds[2];
	const char *outcome;
	int status;

	memset(&run, 0, sizeof(run));
	run.o = o;
	run.w = w;
	shield_from_oom_killer();
	run.page_tables_start = meminfo_bytes("PageTables");
	run.page_tables_peak = run.page_tables_start;
	run.oom_kills_start = vmstat_value("oom_kill");

	jw_object_begin(w, NULL);
	jw_string(w, "tool", "ptbench");
	jw_int(w, "report_version", 1);
	if (region_create(&region, o, err, sizeof(err)) != 0) {
		write_config(w, o, &region);
		jw_string(w, "outcome", "setup-failed");
		jw_string(w, "setup_error", err);
		jw_object_end(w);
		jw_finish(w);
		fprintf(stderr, "ptbench: %s mode: %s\n", mode_name(o->mode), err);
		return 3;
	}
	write_config(w, o, &region);

	run.procs = calloc((size_t)o->processes, sizeof(*run.procs));
	run.by_pid = calloc((size_t)o->processes, sizeof(*run.by_pid));
	run.ctl = mmap(NULL, sizeof(*run.ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	if (!run.procs || !run.by_pid || run.ctl == MAP_FAILED || pipe2(fds, O_CLOEXEC) != 0) {
		fprintf(stderr, "ptbench: out of memory or fds before starting\n");
		region_destroy(&region);
		return 3;
	}
	run.report_fd = fds[0];
	fcntl(run.report_fd, F_SETFL, O_NONBLOCK);
	run.ctl->gen = 0;

	jw_int(w, "page_tables_start", run.page_tables_start);
	jw_array_begin(w, "phases");

	uint64_t t0 = now_ns();
	long deaths_before = 0;

	spawn(&run, &region, fds[1]);
	close(fds[1]);
	for (long i = 0; i < run.spawned; i++)
		run.by_pid[i] = &run.procs[i];
	qsort(run.by_pid, (size_t)run.spawned, sizeof(*run.by_pid), cmp_pid);
	collect(&run, PHASE_SPAWN, 0);
	write_phase(&run, PHASE_SPAWN, 0, now_ns() - t0, deaths_before);

	for (long round = 0; round < o->rounds; round++) {
		for (int phase = PHASE_ATTACH; phase < PHASE_COUNT; phase++) {
			if (phase == PHASE_HOLD && round != o->rounds - 1)
				continue;
			deaths_before = run.deaths_total;
			t0 = now_ns();
			if (phase == PHASE_HOLD)
				hold(&run, round);
			release(&run, barrier_gen(round, phase));
			collect(&run, phase, round);
			uint64_t wall = now_ns() - t0;

			if (round == o->rounds - 1 && (phase == PHASE_ATTACH || phase == PHASE_TOUCH))
				run.attach_touch_wall_ns += wall;
			write_phase(&run, phase, round, wall, deaths_before);
		}
	}
	jw_array_end(w);

	wait_all(&run);
	region_destroy(&region);

	jw_object_begin(w, "summary");
	jw_int(w, "spawned", run.spawned);
	jw_int(w, "page_tables_start", run.page_tables_start);
	jw_int(w, "page_tables_held", run.page_tables_held);
	jw_int(w, "page_tables_held_delta", run.page_tables_held - run.page_tables_start);
	jw_int(w, "page_tables_touch_delta", run.page_tables_touched - run.page_tables_attached);
	jw_int(w, "page_tables_peak", run.page_tables_peak);
	jw_int(w, "page_tables_end", meminfo_bytes("PageTables"));
	jw_int(w, "touch_reporters", run.touch_reporters);
	jw_int(w, "vm_pte_held_sum", run.vm_pte_held_sum);
	if (run.region_pte_mean >= 0)
		jw_double(w, "region_vm_pte_per_process", run.region_pte_mean);
	else
		jw_null(w, "region_vm_pte_per_process");
	if (run.minflt_touch_mean >= 0)
		jw_double(w, "minflt_touch_per_process", run.minflt_touch_mean);
	else
		jw_null(w, "minflt_touch_per_process");
	jw_int(w, "attach_touch_wall_ns", (int64_t)run.attach_touch_wall_ns);
	jw_object_end(w);
	write_deaths(&run);
	write_errors(&run);

	if (run.deaths_total > 0)
		outcome = "processes-died";
	else if (run.timeouts_total > 0)
		outcome = "timeout";
	else if (run.errors_total > 0 || run.spawned < o->processes)
		outcome = "errors";
	else
		outcome = "ok";
	status = strcmp(outcome, "ok") == 0 ? 0 : 1;
	jw_string(w, "outcome", outcome);
	jw_object_end(w);
	jw_finish(w);
	progress(&run, "outcome: %s (%ld died, %ld errors)", outcome, run.deaths_total,
		 run.errors_total);
	return status;
}
