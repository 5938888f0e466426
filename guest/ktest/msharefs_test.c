// SPDX-License-Identifier: GPL-2.0
/*
 * msharefs-test: kselftest-style tests of msharefs, run inside the guest.
 *
 * Prints TAP ("ok N name", "not ok N name", "ok N name # SKIP why") and a
 * totals line, and exits non-zero if any test failed. Every test runs in
 * its own child process, so a test that dies takes no other test with it.
 *
 * Usage: msharefs-test [-l] [TEST...]
 *   -l     list the tests
 *   TEST   run only the named tests (default: all)
 *
 * Needs root, msharefs (mounted at /sys/fs/mshare, or mountable there),
 * hugetlbfs for the hugetlb tests, 2 CPUs for the TLB test and cgroup2
 * with the memory controller for the memcg test; tests whose needs are not
 * met are skipped with the reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/msharefs.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MSHARE_MAGIC
#define MSHARE_MAGIC 0x4d534852
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

#define MSHARE_DIR "/sys/fs/mshare"
#define HUGETLB_DIR "/dev/hugepages"
#define CGROUP_DIR "/sys/fs/cgroup"
#define MIB (1024UL * 1024)
#define HUGE_2M (2 * MIB)

enum { PASS = 0, FAIL = 1, SKIP = 4 };

static unsigned long align_size; /* from mshare_info */
static long page_size;

/* ------------------------------------------------------------ reporting */

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* The reason of a skip, printed on the TAP line by the parent. */
static void skip_reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void skip_reason(const char *fmt, ...)
{
	va_list ap;

	fputs("#SKIPREASON ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			diag("%s:%d: check failed: %s", __func__, __LINE__, #cond); \
			diag(__VA_ARGS__);                                      \
			return FAIL;                                            \
		}                                                               \
	} while (0)

/* Expect a system call to fail with errno ERR. */
#define CHECK_ERR(call, err)                                                    \
	do {                                                                    \
		errno = 0;                                                      \
		long ret_ = (long)(call);                                       \
		int errno_ = errno;                                             \
		if (ret_ != -1 || errno_ != (err)) {                            \
			diag("%s:%d: %s: expected %s, got %ld (errno %d: %s)",  \
			     __func__, __LINE__, #call, #err, ret_, errno_,     \
			     strerror(errno_));                                 \
			return FAIL;                                            \
		}                                                               \
	} while (0)

/* Expect a system call to succeed (not return -1). */
#define CHECK_OK(call)                                                          \
	do {                                                                    \
		errno = 0;                                                      \
		if ((long)(call) == -1) {                                       \
			diag("%s:%d: %s failed: %s", __func__, __LINE__, #call, \
			     strerror(errno));                                  \
			return FAIL;                                            \
		}                                                               \
	} while (0)

/* ------------------------------------------------------------ helpers */

static char *region_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), MSHARE_DIR "/%s", name);
	return path;
}

/* A new region file, sized to @size unless @size is 0. Returns the fd or -1. */
static int region_create(const char *name, unsigned long size)
{
	int fd;

	unlink(region_path(name));
	fd = open(region_path(name), O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		diag("open %s: %s", region_path(name), strerror(errno));
		return -1;
	}
	if (size && ftruncate(fd, (off_t)size) < 0) {
		diag("ftruncate %s to %lu: %s", region_path(name), size, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int map_object(int fd, unsigned long offset, unsigned long size, unsigned int prot,
		      unsigned int flags, int object_fd, unsigned long file_offset)
{
	struct mshare_create mc = {
		.region_offset = offset,
		.size = size,
		.offset = file_offset,
		.prot = prot,
		.flags = flags,
		.fd = (unsigned int)object_fd,
	};

	return ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc);
}

static int map_anon(int fd, unsigned long offset, unsigned long size)
{
	return map_object(fd, offset, size, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
}

static int unmap_objects(int fd, unsigned long offset, unsigned long size)
{
	struct mshare_unmap mu = { .region_offset = offset, .size = size };

	return ioctl(fd, MSHAREFS_UNMAP, &mu);
}

static char *map_region(int fd, void *addr, unsigned long size, int prot, int flags)
{
	void *p = mmap(addr, size, prot, flags, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int write_file(const char *path, const char *text);

/*
 * A value from /proc/meminfo, in kB, or -1. The per-CPU differences of the
 * counters are folded in first (vm.stat_refresh), or PageTables and MemFree
 * would lag behind by up to a few dozen pages per CPU.
 */
static long meminfo(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long value = -1;
	FILE *f;

	write_file("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && line[len] == ':') {
			value = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/* A "kB" value from /proc/PID/status, or -1. */
static long proc_status(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t len = strlen(key);
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && line[len] == ':') {
			value = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static long read_long_file(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* Touch every page of [p, p + size) for writing, storing @seed + page index. */
static void fill_pages(char *p, unsigned long size, unsigned long seed)
{
	for (unsigned long off = 0; off < size; off += (unsigned long)page_size)
		*(volatile unsigned long *)(p + off) = seed + off / (unsigned long)page_size;
}

/* The first page whose value is not @seed + page index, or -1. */
static long check_pages(const char *p, unsigned long size, unsigned long seed)
{
	for (unsigned long off = 0; off < size; off += (unsigned long)page_size)
		if (*(const volatile unsigned long *)(p + off) != seed + off / (unsigned long)page_size)
			return (long)(off / (unsigned long)page_size);
	return -1;
}

/*
 * Access @p (read, or write if @write) in a child process and return the
 * signal that killed it, or 0 if the access worked.
 */
static int access_signal(volatile char *p, bool write)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Wait for a child and tell whether it exited with status 0. */
static bool child_ok(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return false;
	if (WIFSIGNALED(status))
		diag("child %d killed by signal %d", (int)pid, WTERMSIG(status));
	else if (WEXITSTATUS(status))
		diag("child %d exited with %d", (int)pid, WEXITSTATUS(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A byte through a pipe, for ordering steps between processes. */
static void signal_pipe(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		_exit(99);
}

static bool wait_pipe(int fd)
{
	char c;

	return read(fd, &c, 1) == 1;
}

/* Shared scratch memory for results of children (not msharefs memory). */
static void *shared_scratch(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------------------------------------ tests: the file system */

static int test_info_file(void)
{
	char buf[64] = "";
	struct statfs sfs;
	struct stat st;
	int fd;

	CHECK_OK(statfs(MSHARE_DIR, &sfs));
	CHECK(sfs.f_type == MSHARE_MAGIC, "f_type %#lx, want MSHARE_MAGIC", (unsigned long)sfs.f_type);
	CHECK_OK(stat(MSHARE_DIR, &st));
	CHECK((st.st_mode & 07777) == 0777, "root mode %o, want 0777", st.st_mode & 07777);

	CHECK_OK(stat(MSHARE_DIR "/mshare_info", &st));
	CHECK((st.st_mode & 07777) == 0444, "mshare_info mode %o, want 0444", st.st_mode & 07777);
	CHECK_OK(fd = open(MSHARE_DIR "/mshare_info", O_RDONLY));
	CHECK(read(fd, buf, sizeof(buf) - 1) > 0, "read mshare_info: %s", strerror(errno));
	close(fd);
	CHECK(!strcmp(buf, "549755813888\n"), "mshare_info reads '%s', want 512 GiB", buf);
	/* Read-only even for root, whom the mode bits do not stop. */
	fd = open(MSHARE_DIR "/mshare_info", O_WRONLY);
	if (fd >= 0) {
		CHECK_ERR(write(fd, "1\n", 2), EINVAL);
		close(fd);
	}
	CHECK_ERR(chmod(MSHARE_DIR "/mshare_info", 0666), EPERM);
	return PASS;
}

static int test_info_unlink_rename(void)
{
	int fd;

	CHECK_ERR(unlink(MSHARE_DIR "/mshare_info"), EPERM);
	CHECK_ERR(rename(MSHARE_DIR "/mshare_info", MSHARE_DIR "/elsewhere"), EPERM);
	CHECK_OK(fd = open(MSHARE_DIR "/over_info", O_RDWR | O_CREAT, 0600));
	close(fd);
	CHECK_ERR(rename(MSHARE_DIR "/over_info", MSHARE_DIR "/mshare_info"), EPERM);
	CHECK_OK(unlink(MSHARE_DIR "/over_info"));
	CHECK_OK(access(MSHARE_DIR "/mshare_info", R_OK));
	return PASS;
}

static int test_files_and_dirs(void)
{
	struct stat st;
	int fd;

	rmdir(MSHARE_DIR "/d1/d2");
	rmdir(MSHARE_DIR "/d1");
	CHECK_OK(mkdir(MSHARE_DIR "/d1", 0700));
	CHECK_OK(mkdir(MSHARE_DIR "/d1/d2", 0755));
	CHECK_OK(fd = open(MSHARE_DIR "/d1/d2/r", O_RDWR | O_CREAT | O_EXCL, 0640));
	CHECK_OK(fstat(fd, &st));
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0640 && st.st_size == 0,
	      "new region: mode %o size %lld", st.st_mode, (long long)st.st_size);
	close(fd);
	CHECK_ERR(rmdir(MSHARE_DIR "/d1/d2"), ENOTEMPTY);
	CHECK_OK(rename(MSHARE_DIR "/d1/d2/r", MSHARE_DIR "/d1/r2"));
	CHECK_ERR(stat(MSHARE_DIR "/d1/d2/r", &st), ENOENT);
	CHECK_OK(unlink(MSHARE_DIR "/d1/r2"));
	CHECK_OK(rmdir(MSHARE_DIR "/d1/d2"));
	CHECK_OK(rmdir(MSHARE_DIR "/d1"));
	return PASS;
}

static int test_open_excl(void)
{
	int fd = region_create("excl", 0);

	CHECK(fd >= 0, "cannot create the region");
	CHECK_ERR(open(region_path("excl"), O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
	close(fd);
	CHECK_OK(unlink(region_path("excl")));
	return PASS;
}

static int test_ftruncate(void)
{
	struct stat st;
	int fd = region_create("trunc", 0);

	CHECK(fd >= 0, "cannot create the region");
	CHECK_ERR(ftruncate(fd, 0), EINVAL);
	CHECK_ERR(ftruncate(fd, (off_t)page_size), EINVAL);
	CHECK_ERR(ftruncate(fd, (off_t)(align_size + (unsigned long)page_size)), EINVAL);
	CHECK_ERR(ftruncate(fd, (off_t)(align_size / 2)), EINVAL);
	CHECK_OK(ftruncate(fd, (off_t)(2 * align_size)));
	CHECK_OK(fstat(fd, &st));
	CHECK((unsigned long)st.st_size == 2 * align_size, "st_size %lld", (long long)st.st_size);
	/* Sized once only, even to the same size. */
	CHECK_ERR(ftruncate(fd, (off_t)(2 * align_size)), EINVAL);
	CHECK_ERR(ftruncate(fd, (off_t)align_size), EINVAL);
	/* open(O_TRUNC) of a sized region leaves it alone. */
	close(fd);
	CHECK_OK(fd = open(region_path("trunc"), O_RDWR | O_TRUNC));
	CHECK_OK(fstat(fd, &st));
	CHECK((unsigned long)st.st_size == 2 * align_size, "st_size %lld after O_TRUNC",
	      (long long)st.st_size);
	close(fd);
	CHECK_OK(unlink(region_path("trunc")));
	return PASS;
}

static int test_fallocate(void)
{
	struct stat st;
	int fd = region_create("falloc", 0);

	CHECK(fd >= 0, "cannot create the region");
	CHECK_ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)align_size), EOPNOTSUPP);
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)align_size),
		  EOPNOTSUPP);
	CHECK_ERR(fallocate(fd, 0, (off_t)align_size, (off_t)align_size), EINVAL);
	CHECK_ERR(fallocate(fd, 0, 0, (off_t)page_size), EINVAL);
	CHECK_OK(fallocate(fd, 0, 0, (off_t)align_size));
	CHECK_OK(fstat(fd, &st));
	CHECK((unsigned long)st.st_size == align_size, "st_size %lld", (long long)st.st_size);
	CHECK_ERR(fallocate(fd, 0, 0, (off_t)align_size), EINVAL);
	CHECK_ERR(ftruncate(fd, (off_t)(2 * align_size)), EINVAL);
	close(fd);
	CHECK_OK(unlink(region_path("falloc")));
	return PASS;
}

/* ------------------------------------------------------------ tests: mmap */

static int test_mmap_errors(void)
{
	int fd = region_create("mmaperr", 0), rdonly;
	char *p, *q;

	CHECK(fd >= 0, "cannot create the region");
	/* Not sized yet. */
	CHECK_ERR(mmap(NULL, align_size, PROT_READ, MAP_SHARED, fd, 0), EINVAL);
	CHECK_OK(ftruncate(fd, (off_t)align_size));

	CHECK_ERR(mmap(NULL, align_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), EINVAL);
	CHECK_ERR(mmap(NULL, align_size / 2, PROT_READ, MAP_SHARED, fd, 0), EINVAL);
	CHECK_ERR(mmap(NULL, 2 * align_size, PROT_READ, MAP_SHARED, fd, 0), EINVAL);
	CHECK_ERR(mmap(NULL, align_size, PROT_READ, MAP_SHARED, fd, (off_t)align_size), EINVAL);
	CHECK_ERR(mmap((void *)(3 * align_size + HUGE_2M), align_size, PROT_READ,
		       MAP_SHARED | MAP_FIXED, fd, 0),
		  EINVAL);

	/* Writable shared mapping of a read-only fd: the ordinary VFS rule. */
	CHECK_OK(rdonly = open(region_path("mmaperr"), O_RDONLY));
	CHECK_ERR(mmap(NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED, rdonly, 0), EACCES);
	p = map_region(rdonly, NULL, align_size, PROT_READ, MAP_SHARED);
	CHECK(p, "read-only mapping of a read-only fd: %s", strerror(errno));
	CHECK(((uintptr_t)p % align_size) == 0, "address %p not aligned", (void *)p);
	CHECK_OK(munmap(p, align_size));
	close(rdonly);

	/* A hint is rounded up to the alignment; MAP_FIXED is honoured. */
	p = map_region(fd, (void *)(7 * align_size + 4096), align_size, PROT_READ, MAP_SHARED);
	CHECK(p == (char *)(8 * align_size), "hinted mapping at %p", (void *)p);
	q = map_region(fd, (void *)(9 * align_size), align_size, PROT_READ, MAP_SHARED | MAP_FIXED);
	CHECK(q == (char *)(9 * align_size), "fixed mapping at %p", (void *)q);
	CHECK_OK(munmap(p, align_size));
	CHECK_OK(munmap(q, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("mmaperr")));
	return PASS;
}

static int test_mmap_enomem(void)
{
	/* Two regions of 200 alignment units cannot both fit in 128 TiB. */
	unsigned long big = 200 * align_size;
	int fd1 = region_create("big1", big), fd2 = region_create("big2", big);
	char *p;

	CHECK(fd1 >= 0 && fd2 >= 0, "cannot create the regions");
	p = map_region(fd1, NULL, big, PROT_READ, MAP_SHARED);
	CHECK(p, "first big mapping: %s", strerror(errno));
	CHECK_ERR(mmap(NULL, big, PROT_READ, MAP_SHARED, fd2, 0), ENOMEM);
	CHECK_OK(munmap(p, big));
	close(fd1);
	close(fd2);
	unlink(region_path("big1"));
	unlink(region_path("big2"));
	return PASS;
}

static int test_vma_operations(void)
{
	int fd = region_create("vmaops", 2 * align_size);
	unsigned long mask = 0;
	char *p, *q;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, 4 * MIB));
	p = map_region(fd, NULL, 2 * align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	p[0] = 'x';

	/* Only part of the mapping: EINVAL. */
	CHECK_ERR(munmap(p, align_size), EINVAL);
	CHECK_ERR(munmap(p + align_size, align_size), EINVAL);
	CHECK_ERR(munmap(p + page_size, (size_t)page_size), EINVAL);
	CHECK_ERR(mprotect(p, (size_t)page_size, PROT_READ), EINVAL);
	/* Our semantics: no protection change, advice, locking or policy at all. */
	CHECK_ERR(mprotect(p, 2 * align_size, PROT_READ), EINVAL);
	CHECK_ERR(madvise(p, (size_t)page_size, MADV_DONTNEED), EINVAL);
	CHECK_ERR(madvise(p, 2 * align_size, MADV_WILLNEED), EINVAL);
	CHECK_ERR(madvise(p, (size_t)page_size, MADV_PAGEOUT), EINVAL);
	CHECK_ERR(madvise(p, (size_t)page_size, MADV_NOHUGEPAGE), EINVAL);
	CHECK_ERR(mlock(p, (size_t)page_size), EINVAL);
	CHECK_ERR(munlock(p, (size_t)page_size), EINVAL);
	CHECK_ERR(syscall(SYS_mbind, p, (size_t)page_size, 0 /* MPOL_DEFAULT */, NULL, 0UL, 0U),
		  EINVAL);
	mask = 1;
	CHECK_ERR(syscall(SYS_mbind, p, 2 * align_size, 2 /* MPOL_BIND */, &mask, 64UL, 0U), EINVAL);
	CHECK_ERR(mremap(p, 2 * align_size, 2 * align_size, MREMAP_MAYMOVE | MREMAP_FIXED,
			 (void *)(40 * align_size)),
		  EINVAL);
	CHECK_ERR(mremap(p, 2 * align_size, 3 * align_size, MREMAP_MAYMOVE), EINVAL);
	q = mmap((void *)(50 * align_size), (size_t)page_size, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(q != MAP_FAILED, "anonymous mapping: %s", strerror(errno));
	/* Sanity: the same calls work on an ordinary mapping. */
	CHECK_OK(madvise(q, (size_t)page_size, MADV_DONTNEED));
	CHECK_OK(mlock(q, (size_t)page_size));
	CHECK_OK(munlock(q, (size_t)page_size));

	/* The mapping still works, and munmap of all of it does. */
	CHECK(p[0] == 'x', "data changed: %d", p[0]);
	CHECK_OK(munmap(p, 2 * align_size));
	munmap(q, (size_t)page_size);
	close(fd);
	CHECK_OK(unlink(region_path("vmaops")));
	return PASS;
}

static int test_mlockall_skips(void)
{
	int fd = region_create("mlockall", align_size);
	long locked_before, locked_after;
	char *p;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, 4 * MIB));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	locked_before = proc_status(getpid(), "VmLck");
	CHECK_OK(mlockall(MCL_CURRENT | MCL_FUTURE));
	locked_after = proc_status(getpid(), "VmLck");
	/* The region (512 GiB) is not locked; the rest of the process is. */
	CHECK(locked_after >= locked_before && locked_after < 64 * 1024,
	      "VmLck %ld kB after mlockall (was %ld)", locked_after, locked_before);
	fill_pages(p, 4 * MIB, 7);
	CHECK(check_pages(p, 4 * MIB, 7) < 0, "data lost");
	/* A region mapped after mlockall(MCL_FUTURE) is not locked either. */
	CHECK_OK(munmap(p, align_size));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap after MCL_FUTURE: %s", strerror(errno));
	CHECK(proc_status(getpid(), "VmLck") < 64 * 1024, "VmLck %ld kB",
	      proc_status(getpid(), "VmLck"));
	CHECK(check_pages(p, 4 * MIB, 7) < 0, "data lost after remapping");
	CHECK_OK(munlockall());
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("mlockall")));
	return PASS;
}

/* ------------------------------------------------------------ tests: ioctls */

static int test_ioctl_errors(void)
{
	int fd = region_create("ioctlerr", 0), rdonly, other;
	struct mshare_create mc;
	struct mshare_unmap mu;

	CHECK(fd >= 0, "cannot create the region");
	/* Not sized. */
	CHECK_ERR(map_anon(fd, 0, 4 * MIB), EINVAL);
	CHECK_ERR(unmap_objects(fd, 0, 4 * MIB), EINVAL);
	CHECK_OK(ftruncate(fd, (off_t)align_size));

	CHECK_ERR(ioctl(fd, MSHAREFS_CREATE_MAPPING, (void *)16), EFAULT);
	CHECK_ERR(ioctl(fd, MSHAREFS_UNMAP, (void *)16), EFAULT);
	CHECK_ERR(ioctl(fd, _IOW('x', 2, struct mshare_unmap), &mu), ENOTTY);
	CHECK_ERR(ioctl(fd, _IO('x', 0)), ENOTTY);
	CHECK_ERR(ioctl(fd, 0x5401 /* TCGETS */, &mc), ENOTTY);

	/* Objects outside the region. */
	CHECK_ERR(map_anon(fd, align_size, 4 * MIB), EINVAL);
	CHECK_ERR(map_anon(fd, align_size - 2 * MIB, 4 * MIB), EINVAL);
	CHECK_ERR(map_anon(fd, 0, align_size + 4096), EINVAL);
	CHECK_ERR(map_anon(fd, ~0UL - 4095, 8192), EINVAL);
	CHECK_ERR(map_anon(fd, 0, 0), EINVAL);
	/* MAP_SHARED and MAP_FIXED are required. */
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0),
		  EINVAL);
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_FIXED | MAP_ANONYMOUS, -1, 0), EINVAL);

	/* File objects: a bad fd, an msharefs file, hugetlb on a non-hugetlbfs file. */
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_SHARED | MAP_FIXED, 1000, 0), EBADF);
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_SHARED | MAP_FIXED, -1, 0), EBADF);
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0), EINVAL);
	other = region_create("ioctlother", align_size);
	CHECK(other >= 0, "cannot create the second region");
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_SHARED | MAP_FIXED, other, 0), EINVAL);
	close(other);
	unlink(region_path("ioctlother"));
	CHECK_OK(other = open("/tmp/mshare-plain", O_RDWR | O_CREAT | O_TRUNC, 0600));
	CHECK_OK(ftruncate(other, (off_t)(4 * MIB)));
	CHECK_ERR(map_object(fd, 0, 4 * MIB, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_HUGETLB, other, 0),
		  EINVAL);
	close(other);
	unlink("/tmp/mshare-plain");

	/* MSHAREFS_UNMAP outside the region. */
	CHECK_ERR(unmap_objects(fd, 0, align_size + 4096), EINVAL);
	CHECK_ERR(unmap_objects(fd, 0, 2 * align_size), EINVAL);
	CHECK_ERR(unmap_objects(fd, align_size, 4096), EINVAL);
	CHECK_ERR(unmap_objects(fd, align_size + 4096, 4096), EINVAL);
	CHECK_ERR(unmap_objects(fd, align_size - 4096, 8192), EINVAL);
	CHECK_ERR(unmap_objects(fd, ~0UL - 4095, 8192), EINVAL);

	/* Both need a file opened for writing. */
	CHECK_OK(rdonly = open(region_path("ioctlerr"), O_RDONLY));
	CHECK_ERR(map_anon(rdonly, 0, 4 * MIB), EBADF);
	CHECK_ERR(unmap_objects(rdonly, 0, 4 * MIB), EBADF);
	close(rdonly);

	/* And a good one works. */
	CHECK_OK(map_anon(fd, 0, 4 * MIB));
	CHECK_OK(unmap_objects(fd, 0, 4 * MIB));
	close(fd);
	CHECK_OK(unlink(region_path("ioctlerr")));
	return PASS;
}

static int test_ioctl_eintr(void)
{
	/*
	 * MSHAREFS_CREATE_MAPPING and MSHAREFS_UNMAP wait for the host mm's
	 * lock killably: only a fatal signal interrupts them, and the task
	 * that gets it dies without seeing EINTR.
	 */
	skip_reason("EINTR reaches only a task being killed, which cannot observe it");
	return SKIP;
}

/* ------------------------------------------------------------ tests: sharing */

static int test_share_between_processes(void)
{
	const unsigned long size = 8 * MIB;
	int fd = region_create("share", 2 * align_size), pipes[2][2];
	char *p;
	pid_t pid;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, align_size, size));
	CHECK_OK(pipe(pipes[0]));
	CHECK_OK(pipe(pipes[1]));

	pid = fork();
	if (pid == 0) {
		/* Another process, opening the region by name and mapping it elsewhere. */
		int cfd = open(region_path("share"), O_RDWR);
		struct stat st;
		char *c;

		if (cfd < 0 || fstat(cfd, &st) < 0 || (unsigned long)st.st_size != 2 * align_size)
			_exit(10);
		c = map_region(cfd, (void *)(20 * align_size), (unsigned long)st.st_size,
			       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED);
		if (c != (char *)(20 * align_size))
			_exit(11);
		if (!wait_pipe(pipes[0][0]))
			_exit(12);
		if (check_pages(c + align_size, size, 1000) >= 0)
			_exit(13);
		fill_pages(c + align_size, size, 2000);
		signal_pipe(pipes[1][1]);
		_exit(0);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	p = map_region(fd, (void *)(30 * align_size), 2 * align_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED);
	CHECK(p == (char *)(30 * align_size), "mmap: %s", strerror(errno));
	fill_pages(p + align_size, size, 1000);
	signal_pipe(pipes[0][1]);
	CHECK(wait_pipe(pipes[1][0]), "the other process did not answer");
	CHECK(check_pages(p + align_size, size, 2000) < 0,
	      "the other process's writes are not visible (page %ld)",
	      check_pages(p + align_size, size, 2000));
	CHECK(child_ok(pid), "the other process failed");
	/* Nothing is mapped in the first half: SIGSEGV there. */
	CHECK(access_signal(p + 4096, false) == SIGSEGV, "access to a hole did not get SIGSEGV");
	CHECK(access_signal(p + align_size + size, true) == SIGSEGV,
	      "access past the object did not get SIGSEGV");
	CHECK_OK(munmap(p, 2 * align_size));
	close(fd);
	CHECK_OK(unlink(region_path("share")));
	return PASS;
}

static int test_fork_inherits(void)
{
	const unsigned long size = 4 * MIB;
	int fd = region_create("fork", align_size);
	long pte_before;
	char *p;
	pid_t pid;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	fill_pages(p, size, 3000);
	close(fd);

	pid = fork();
	if (pid == 0) {
		long before = proc_status(getpid(), "VmPTE");

		if (check_pages(p, size, 3000) >= 0)
			_exit(10);
		fill_pages(p, size, 4000);
		/* The child reaches the data through the shared tables. */
		if (proc_status(getpid(), "VmPTE") > before + 8)
			_exit(11);
		_exit(0);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	pte_before = proc_status(getpid(), "VmPTE");
	CHECK(child_ok(pid), "the child could not use the inherited mapping");
	CHECK(check_pages(p, size, 4000) < 0, "the child's writes are not visible");
	CHECK(proc_status(getpid(), "VmPTE") <= pte_before + 8, "VmPTE grew");
	CHECK_OK(munmap(p, align_size));
	CHECK_OK(unlink(region_path("fork")));
	return PASS;
}

static int test_unmap_then_sigsegv(void)
{
	const unsigned long size = 4 * MIB;
	int fd = region_create("unmap", align_size);
	char *p;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	CHECK_OK(map_anon(fd, 8 * MIB, size));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	fill_pages(p, size, 1);
	fill_pages(p + 8 * MIB, size, 2);
	CHECK(access_signal(p + 4096, true) == 0, "access before MSHAREFS_UNMAP failed");

	CHECK_OK(unmap_objects(fd, 0, size));
	/* This process touched the page; its TLB must not keep it. */
	CHECK(access_signal(p + 4096, false) == SIGSEGV, "read after MSHAREFS_UNMAP: no SIGSEGV");
	CHECK(access_signal(p, true) == SIGSEGV, "write after MSHAREFS_UNMAP: no SIGSEGV");
	/* The other object is untouched. */
	CHECK(check_pages(p + 8 * MIB, size, 2) < 0, "the other object changed");
	/* A new object in the hole is fresh, zeroed memory. */
	CHECK_OK(map_anon(fd, 0, size));
	CHECK(*(volatile unsigned long *)(p + 4096) == 0, "new object not zeroed");
	CHECK_OK(unmap_objects(fd, 0, align_size));
	CHECK(access_signal(p + 8 * MIB, false) == SIGSEGV, "read after unmapping all: no SIGSEGV");
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("unmap")));
	return PASS;
}

static int test_owner_exit(void)
{
	const unsigned long size = 4 * MIB;
	int to_owner[2], from_owner[2], fd;
	pid_t owner;
	char *p;

	CHECK_OK(pipe(to_owner));
	CHECK_OK(pipe(from_owner));
	unlink(region_path("owner"));
	owner = fork();
	if (owner == 0) {
		int ofd = region_create("owner", align_size);
		char *o;

		if (ofd < 0 || map_anon(ofd, 0, size) < 0)
			_exit(10);
		o = map_region(ofd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
		if (!o)
			_exit(11);
		fill_pages(o, size, 5000);
		signal_pipe(from_owner[1]);
		wait_pipe(to_owner[0]);
		_exit(0); /* the owner exits with the region still mapped */
	}
	CHECK(owner > 0, "fork: %s", strerror(errno));
	CHECK(wait_pipe(from_owner[0]), "the owner did not get ready");
	CHECK_OK(fd = open(region_path("owner"), O_RDWR));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap while the owner lives: %s", strerror(errno));
	CHECK(check_pages(p, size, 5000) < 0, "the owner's data is not visible");

	signal_pipe(to_owner[1]);
	CHECK(child_ok(owner), "the owner failed");

	/* Everything was unmapped when the owner exited. */
	CHECK(access_signal(p, false) == SIGSEGV, "access after the owner exited: no SIGSEGV");
	CHECK(access_signal(p + size - 1, true) == SIGSEGV, "write after the owner exited: no SIGSEGV");
	CHECK_ERR(mmap(NULL, align_size, PROT_READ, MAP_SHARED, fd, 0), EINVAL);
	/* Objects cannot be added any more either. */
	CHECK_ERR(map_anon(fd, 0, size), EINVAL);
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("owner")));
	return PASS;
}

static int test_owner_not_inherited(void)
{
	int fd = region_create("owner2", align_size);
	char *p;
	pid_t pid;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, 4 * MIB));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		_exit(0); /* a child exiting does not end the region */
	CHECK(child_ok(pid), "child failed");
	p[0] = 42;
	CHECK(access_signal(p, false) == 0, "the region died with a child of its owner");
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("owner2")));
	return PASS;
}

/* ------------------------------------------------------------ tests: objects */

static int test_file_object(void)
{
	const unsigned long size = 2 * MIB;
	int fd = region_create("file", align_size), file;
	unsigned long value;
	char *p;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(file = open("/tmp/mshare-object", O_RDWR | O_CREAT | O_TRUNC, 0600));
	CHECK_OK(ftruncate(file, (off_t)(2 * size)));
	for (unsigned long i = 0; i < 2 * size / (unsigned long)page_size; i++) {
		value = 9000 + i;
		CHECK(pwrite(file, &value, sizeof(value), (off_t)(i * (unsigned long)page_size)) ==
			      sizeof(value),
		      "pwrite: %s", strerror(errno));
	}
	/* The second half of the file, at 6 MiB into the region. */
	CHECK_OK(map_object(fd, 6 * MIB, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			    file, size));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	CHECK(check_pages(p + 6 * MIB, size, 9000 + size / (unsigned long)page_size) < 0,
	      "region does not show the file");
	*(volatile unsigned long *)(p + 6 * MIB) = 12345;
	CHECK(pread(file, &value, sizeof(value), (off_t)size) == sizeof(value), "pread");
	CHECK(value == 12345, "write through the region not in the file: %lu", value);
	/* An offset that is not page aligned. */
	CHECK_ERR(map_object(fd, 0, size, PROT_READ, MAP_SHARED | MAP_FIXED, file, 100), EINVAL);
	/* A read-only file cannot be mapped writable. */
	close(file);
	CHECK_OK(file = open("/tmp/mshare-object", O_RDONLY));
	CHECK_ERR(map_object(fd, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file, 0),
		  EACCES);
	CHECK_OK(map_object(fd, 0, size, PROT_READ, MAP_SHARED | MAP_FIXED, file, 0));
	CHECK(*(volatile unsigned long *)p == 9000, "read-only file object: %lu",
	      *(volatile unsigned long *)p);
	CHECK(access_signal(p, true) == SIGSEGV, "write to a read-only object: no SIGSEGV");
	close(file);
	CHECK_OK(munmap(p, align_size));
	close(fd);
	unlink("/tmp/mshare-object");
	CHECK_OK(unlink(region_path("file")));
	return PASS;
}

static bool hugetlb_ready(unsigned long pages)
{
	long total = read_long_file("/proc/sys/vm/nr_hugepages");
	char text[32];

	if (total < (long)pages) {
		snprintf(text, sizeof(text), "%lu", pages);
		write_file("/proc/sys/vm/nr_hugepages", text);
	}
	return meminfo("HugePages_Free") >= (long)pages && meminfo("Hugepagesize") == 2048;
}

static int test_hugetlb_anon(void)
{
	int fd;
	long free_before;
	char *p;

	if (!hugetlb_ready(4)) {
		skip_reason("cannot get 4 free 2 MiB huge pages");
		return SKIP;
	}
	fd = region_create("hugeanon", align_size);
	CHECK(fd >= 0, "cannot create the region");
	free_before = meminfo("HugePages_Free");
	/* 3 MiB is rounded up to 4 MiB: two huge pages. */
	CHECK_OK(map_object(fd, 4 * MIB, 3 * MIB, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0));
	/* Not aligned to the huge page size. */
	CHECK_ERR(map_object(fd, MIB, 2 * MIB, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0),
		  EINVAL);
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	fill_pages(p + 4 * MIB, 4 * MIB, 77);
	CHECK(meminfo("HugePages_Free") == free_before - 2, "HugePages_Free %ld, was %ld",
	      meminfo("HugePages_Free"), free_before);
	CHECK(access_signal(p + 8 * MIB, false) == SIGSEGV, "past the rounded end: no SIGSEGV");
	CHECK(access_signal(p + 7 * MIB, false) == 0, "inside the rounded end: no access");
	CHECK(check_pages(p + 4 * MIB, 4 * MIB, 77) < 0, "data lost");
	CHECK_OK(munmap(p, align_size));
	CHECK_OK(unmap_objects(fd, 0, align_size));
	CHECK(meminfo("HugePages_Free") == free_before, "huge pages not freed: %ld, was %ld",
	      meminfo("HugePages_Free"), free_before);
	close(fd);
	CHECK_OK(unlink(region_path("hugeanon")));
	return PASS;
}

static int test_hugetlb_file(void)
{
	struct statfs sfs;
	int fd, file;
	char *p;

	if (!hugetlb_ready(2)) {
		skip_reason("cannot get 2 free 2 MiB huge pages");
		return SKIP;
	}
	if (statfs(HUGETLB_DIR, &sfs) < 0 || sfs.f_type != HUGETLBFS_MAGIC) {
		mkdir(HUGETLB_DIR, 0755);
		if (mount("hugetlbfs", HUGETLB_DIR, "hugetlbfs", 0, NULL) < 0) {
			skip_reason("no hugetlbfs at " HUGETLB_DIR ": %s", strerror(errno));
			return SKIP;
		}
	}
	CHECK_OK(file = open(HUGETLB_DIR "/mshare-test", O_RDWR | O_CREAT | O_TRUNC, 0600));
	CHECK_OK(ftruncate(file, (off_t)(4 * MIB)));
	fd = region_create("hugefile", align_size);
	CHECK(fd >= 0, "cannot create the region");
	/* With and without MAP_HUGETLB, a hugetlbfs file gives hugetlb memory. */
	CHECK_OK(map_object(fd, 0, 2 * MIB, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED | MAP_HUGETLB, file, 0));
	CHECK_OK(map_object(fd, align_size / 2, 2 * MIB, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED, file, 2 * MIB));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	fill_pages(p, 2 * MIB, 10);
	fill_pages(p + align_size / 2, 2 * MIB, 20);
	CHECK(access_signal(p, false) == 0, "child cannot read");
	{
		/* The file sees the data. */
		char *f = mmap(NULL, 4 * MIB, PROT_READ, MAP_SHARED, file, 0);

		CHECK(f != MAP_FAILED, "mmap of the hugetlbfs file: %s", strerror(errno));
		CHECK(check_pages(f, 2 * MIB, 10) < 0 && check_pages(f + 2 * MIB, 2 * MIB, 20) < 0,
		      "the file does not hold the region's data");
		munmap(f, 4 * MIB);
	}
	CHECK_OK(munmap(p, align_size));
	close(fd);
	close(file);
	unlink(HUGETLB_DIR "/mshare-test");
	CHECK_OK(unlink(region_path("hugefile")));
	return PASS;
}

/* ------------------------------------------------------------ tests: walkers */

static int test_proc_of_sharer(void)
{
	const unsigned long size = 4 * MIB;
	int fd = region_create("procwalk", align_size), ready[2], done[2];
	char path[64], line[512], *p;
	bool found = false, flag = false;
	uint64_t entries[16];
	FILE *f;
	pid_t pid;
	int pm;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	CHECK_OK(pipe(ready));
	CHECK_OK(pipe(done));
	pid = fork();
	if (pid == 0) {
		fill_pages(p, size, 1);
		signal_pipe(ready[1]);
		wait_pipe(done[0]);
		_exit(check_pages(p, size, 1) < 0 ? 0 : 1);
	}
	CHECK(pid > 0, "fork");
	CHECK(wait_pipe(ready[0]), "child not ready");

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	CHECK(f = fopen(path, "r"), "open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, region_path("procwalk")))
			found = true;
		if (found && !strncmp(line, "VmFlags:", 8)) {
			flag = strstr(line, " mr") != NULL;
			break;
		}
	}
	fclose(f);
	CHECK(found, "the region is not in %s", path);
	CHECK(flag, "the region's VmFlags lack 'mr'");

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	CHECK(f = fopen(path, "r"), "open %s", path);
	while (fgets(line, sizeof(line), f))
		;
	fclose(f);

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	CHECK_OK(pm = open(path, O_RDONLY));
	CHECK(pread(pm, entries, sizeof(entries),
		    (off_t)((uintptr_t)p / (uintptr_t)page_size * sizeof(uint64_t))) ==
		      sizeof(entries),
	      "read %s: %s", path, strerror(errno));
	close(pm);

	snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			;
		fclose(f);
	}
	CHECK_OK(write_file("/proc/self/clear_refs", "1"));
	{
		unsigned char vec[16];

		CHECK_OK(mincore(p, 16 * (size_t)page_size, vec));
	}

	signal_pipe(done[1]);
	CHECK(child_ok(pid), "the sharer lost its data");
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("procwalk")));
	return PASS;
}

static int test_sharer_faults_once(void)
{
	const unsigned long size = 8 * MIB, pages = size / (unsigned long)page_size;
	int fd = region_create("faults", align_size), ready[2];
	long before, taken;
	char *p;
	pid_t pid;

	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	CHECK_OK(pipe(ready));
	pid = fork();
	if (pid == 0) {
		char *c = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);

		if (!c)
			_exit(10);
		fill_pages(c, size, 1);
		_exit(0);
	}
	CHECK(child_ok(pid), "first process failed");
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	before = minflt();
	CHECK(check_pages(p, size, 1) < 0, "data lost");
	fill_pages(p, size, 2);
	taken = minflt() - before;
	/* One fault links the tables; every page is then already there. */
	CHECK(taken <= 4, "%ld faults for %lu pages (want about 1)", taken, pages);
	diag("%ld fault(s) to read and write %lu pages someone else touched first", taken, pages);
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("faults")));
	return PASS;
}

/* ------------------------------------------------------------ tests: accounting */

static int test_accounting(void)
{
	const int nproc = 4;
	const unsigned long size = 64 * MIB;
	/* One set of tables for the object: PTE tables, plus a PMD and a PUD table. */
	const long set_kb = (long)(size / (unsigned long)page_size * 8 / 1024) + 8;
	long pt_base, free_base, pt_mapped, pt_touched, free_touched, pt_end, free_end;
	long shmem_base, shmem_touched, shmem_end;
	int fd, go[2], touched[2], leave[2];
	struct {
		long pte_before, pte_after;
		int ok;
	} *res;
	pid_t pids[4];

	res = shared_scratch(sizeof(*res) * (size_t)nproc);
	CHECK(res, "scratch memory");
	/* Our own page tables for it exist before the baseline is taken. */
	memset(res, 0, sizeof(*res) * (size_t)nproc);
	sync();
	pt_base = meminfo("PageTables");
	free_base = meminfo("MemFree");
	shmem_base = meminfo("Shmem");

	fd = region_create("acct", align_size);
	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	CHECK_OK(pipe(go));
	CHECK_OK(pipe(touched));
	CHECK_OK(pipe(leave));
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char *c = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);

			close(fd);
			if (!c)
				_exit(10);
			signal_pipe(touched[1]); /* mapped */
			wait_pipe(go[0]);
			res[i].pte_before = proc_status(getpid(), "VmPTE");
			fill_pages(c, size, (unsigned long)i);
			res[i].pte_after = proc_status(getpid(), "VmPTE");
			signal_pipe(touched[1]);
			wait_pipe(leave[0]);
			_exit(0);
		}
		CHECK(pids[i] > 0, "fork");
	}
	for (int i = 0; i < nproc; i++)
		CHECK(wait_pipe(touched[0]), "child %d did not map", i);
	pt_mapped = meminfo("PageTables");
	for (int i = 0; i < nproc; i++) {
		/* One at a time, so each has touched the whole region when it reports. */
		signal_pipe(go[1]);
		CHECK(wait_pipe(touched[0]), "child did not touch");
	}
	pt_touched = meminfo("PageTables");
	free_touched = meminfo("MemFree");
	shmem_touched = meminfo("Shmem");
	for (int i = 0; i < nproc; i++)
		signal_pipe(leave[1]);
	for (int i = 0; i < nproc; i++)
		CHECK(child_ok(pids[i]), "child %d failed", i);
	close(fd);
	CHECK_OK(unlink(region_path("acct")));
	sync();
	pt_end = meminfo("PageTables");
	free_end = meminfo("MemFree");
	shmem_end = meminfo("Shmem");

	diag("PageTables kB: base %ld, %d mapped %ld, all touched %ld, end %ld; one set %ld, "
	     "unshared would add %ld",
	     pt_base, nproc, pt_mapped, pt_touched, pt_end, set_kb, nproc * set_kb);
	diag("MemFree kB: base %ld, touched %ld, end %ld; Shmem kB: base %ld, touched %ld, "
	     "end %ld (object %lu kB)",
	     free_base, free_touched, free_end, shmem_base, shmem_touched, shmem_end, size / 1024);
	for (int i = 0; i < nproc; i++)
		diag("sharer %d VmPTE: %ld kB before touching, %ld kB after", i,
		     res[i].pte_before, res[i].pte_after);

	/* Touching by all: one set of tables (within 25% and 16 kB), not one per process. */
	CHECK(pt_touched - pt_mapped >= set_kb * 9 / 10 &&
		      pt_touched - pt_mapped <= set_kb * 5 / 4 + 16,
	      "PageTables grew by %ld kB, one set is %ld kB", pt_touched - pt_mapped, set_kb);
	for (int i = 0; i < nproc; i++)
		CHECK(res[i].pte_after - res[i].pte_before <= 8,
		      "sharer %d VmPTE grew by %ld kB", i, res[i].pte_after - res[i].pte_before);
	/*
	 * The object was really allocated, once: Shmem grew by its size (within
	 * 1 MiB). MemFree fell by at least 3/4 of it; the rest came from the
	 * per-CPU page lists, which MemFree does not count.
	 */
	CHECK(labs(shmem_touched - shmem_base - (long)(size / 1024)) <= 1024,
	      "Shmem grew by %ld kB for a %lu kB object", shmem_touched - shmem_base, size / 1024);
	CHECK(free_base - free_touched >= (long)(size / 1024) * 3 / 4,
	      "MemFree dropped by %ld kB only", free_base - free_touched);
	/*
	 * And everything is back: page tables within 2 pages, Shmem within
	 * 1 MiB, MemFree within 16 MiB (the per-CPU lists again).
	 */
	CHECK(labs(pt_end - pt_base) <= 8, "PageTables %ld kB at the end, %ld kB at the start",
	      pt_end, pt_base);
	CHECK(labs(shmem_end - shmem_base) <= 1024, "Shmem %ld kB at the end, %ld kB at the start",
	      shmem_end, shmem_base);
	CHECK(free_base - free_end <= 16384, "MemFree %ld kB at the end, %ld kB at the start",
	      free_end, free_base);
	return PASS;
}

static int test_memcg_owner_charged(void)
{
	const unsigned long size = 32 * MIB;
	char text[32];
	long owner_before, sharer_before, owner_after, sharer_after;
	int fd, ready[2], done[2];
	pid_t pid;

	if (access(CGROUP_DIR "/cgroup.subtree_control", W_OK) < 0) {
		skip_reason("no cgroup2 at " CGROUP_DIR);
		return SKIP;
	}
	if (write_file(CGROUP_DIR "/cgroup.subtree_control", "+memory") < 0) {
		skip_reason("cannot enable the memory controller: %s", strerror(errno));
		return SKIP;
	}
	rmdir(CGROUP_DIR "/mshare-owner");
	rmdir(CGROUP_DIR "/mshare-sharer");
	CHECK_OK(mkdir(CGROUP_DIR "/mshare-owner", 0755));
	CHECK_OK(mkdir(CGROUP_DIR "/mshare-sharer", 0755));
	snprintf(text, sizeof(text), "%d", (int)getpid());
	CHECK_OK(write_file(CGROUP_DIR "/mshare-owner/cgroup.procs", text));

	fd = region_create("memcg", align_size);
	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	CHECK_OK(pipe(ready));
	CHECK_OK(pipe(done));
	pid = fork();
	if (pid == 0) {
		char *c;

		snprintf(text, sizeof(text), "%d", (int)getpid());
		if (write_file(CGROUP_DIR "/mshare-sharer/cgroup.procs", text) < 0)
			_exit(10);
		c = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
		if (!c)
			_exit(11);
		signal_pipe(ready[1]);
		wait_pipe(done[0]);
		fill_pages(c, size, 1);
		signal_pipe(ready[1]);
		wait_pipe(done[0]);
		_exit(0);
	}
	CHECK(pid > 0, "fork");
	CHECK(wait_pipe(ready[0]), "sharer not ready");
	owner_before = read_long_file(CGROUP_DIR "/mshare-owner/memory.current");
	sharer_before = read_long_file(CGROUP_DIR "/mshare-sharer/memory.current");
	signal_pipe(done[1]);
	CHECK(wait_pipe(ready[0]), "sharer did not touch");
	owner_after = read_long_file(CGROUP_DIR "/mshare-owner/memory.current");
	sharer_after = read_long_file(CGROUP_DIR "/mshare-sharer/memory.current");
	signal_pipe(done[1]);
	CHECK(child_ok(pid), "sharer failed");
	diag("memory.current: owner %ld -> %ld, sharer %ld -> %ld (sharer touched %lu bytes)",
	     owner_before, owner_after, sharer_before, sharer_after, size);
	CHECK(owner_after - owner_before >= (long)size * 9 / 10,
	      "the owner's cgroup was charged %ld bytes", owner_after - owner_before);
	CHECK(sharer_after - sharer_before < (long)size / 8,
	      "the sharer's cgroup was charged %ld bytes", sharer_after - sharer_before);
	close(fd);
	unlink(region_path("memcg"));
	snprintf(text, sizeof(text), "%d", (int)getpid());
	write_file(CGROUP_DIR "/cgroup.procs", text);
	rmdir(CGROUP_DIR "/mshare-sharer");
	rmdir(CGROUP_DIR "/mshare-owner");
	return PASS;
}

/* ------------------------------------------------------------ tests: SMP */

struct tlb_shared {
	volatile int start, unmapped, writer_up, reader_up;
	volatile unsigned long written, seen;
	volatile unsigned long stale_writes, stale_reads;
	volatile int writer_faulted, reader_faulted;
};

static struct tlb_shared *tlb_state;
static sigjmp_buf tlb_jump;

static void tlb_segv(int sig)
{
	(void)sig;
	siglongjmp(tlb_jump, 1);
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void tlb_worker(char *page, int cpu, bool writer)
{
	struct tlb_shared *s = tlb_state;
	unsigned long v = 0;

	pin_to_cpu(cpu);
	signal(SIGSEGV, tlb_segv);
	if (sigsetjmp(tlb_jump, 1)) {
		if (writer)
			s->writer_faulted = 1;
		else
			s->reader_faulted = 1;
		_exit(0);
	}
	if (writer)
		s->writer_up = 1;
	else
		s->reader_up = 1;
	while (!s->start)
		;
	for (;;) {
		if (writer) {
			*(volatile unsigned long *)page = ++v;
			/* The store retired before this load: if the unmap was done, it was stale. */
			if (s->unmapped)
				s->stale_writes++;
			s->written = v;
		} else {
			v = *(volatile unsigned long *)page;
			if (s->unmapped)
				s->stale_reads++;
			s->seen = v;
		}
	}
}

static pid_t tlb_workers[2];

static void tlb_kill_workers(void)
{
	for (int i = 0; i < 2; i++)
		if (tlb_workers[i] > 0)
			kill(tlb_workers[i], SIGKILL);
}

static int test_smp_unmap_no_stale_tlb(void)
{
	const unsigned long size = 2 * MIB;
	struct tlb_shared *s;
	int fd, rounds = 0;
	pid_t writer, reader;
	char *p;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		skip_reason("needs 2 CPUs");
		return SKIP;
	}
	for (rounds = 0; rounds < 5; rounds++) {
		s = tlb_state = shared_scratch(sizeof(*s));
		CHECK(s, "scratch memory");
		fd = region_create("tlb", align_size);
		CHECK(fd >= 0, "cannot create the region");
		CHECK_OK(map_anon(fd, 0, size));
		p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
		CHECK(p, "mmap: %s", strerror(errno));
		writer = fork();
		if (writer == 0)
			tlb_worker(p + 4096, 1, true);
		reader = fork();
		if (reader == 0)
			tlb_worker(p + 4096, 0, false);
		tlb_workers[0] = writer;
		tlb_workers[1] = reader;
		atexit(tlb_kill_workers);
		CHECK(writer > 0 && reader > 0, "fork");
		while (!s->writer_up || !s->reader_up)
			usleep(1000);
		s->start = 1;
		/* Let them run until the reader has seen the writer's values. */
		for (int i = 0; i < 2000 && s->seen < 1000; i++)
			usleep(1000);
		CHECK(s->seen > 0, "the reader never saw a write (seen %lu, written %lu)", s->seen,
		      s->written);
		CHECK_OK(unmap_objects(fd, 0, size));
		s->unmapped = 1;
		CHECK(child_ok(writer) && child_ok(reader), "a worker failed");
		tlb_workers[0] = tlb_workers[1] = 0;
		diag("round %d: %lu values written, last seen %lu; writer faulted %d, reader "
		     "faulted %d; stale writes %lu, stale reads %lu",
		     rounds, s->written, s->seen, s->writer_faulted, s->reader_faulted,
		     s->stale_writes, s->stale_reads);
		CHECK(s->writer_faulted && s->reader_faulted, "a worker did not fault after the unmap");
		CHECK(s->stale_writes == 0 && s->stale_reads == 0,
		      "accesses after MSHAREFS_UNMAP returned: %lu writes, %lu reads",
		      s->stale_writes, s->stale_reads);
		munmap(p, align_size);
		close(fd);
		unlink(region_path("tlb"));
		munmap((void *)s, sizeof(*s));
	}
	return PASS;
}

static int test_numa_scan(void)
{
	const unsigned long size = 4 * MIB;
	int fd;
	char *p;
	time_t end;

	if (write_file("/proc/sys/kernel/numa_balancing", "1") < 0) {
		skip_reason("no NUMA balancing in this kernel");
		return SKIP;
	}
	fd = region_create("numa", align_size);
	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, size));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	/* Run long enough for task_numa_work() to scan this mm a few times. */
	end = time(NULL) + 4;
	for (unsigned long round = 0; time(NULL) < end; round++) {
		fill_pages(p, size, round);
		CHECK(check_pages(p, size, round) < 0, "data lost in round %lu", round);
	}
	write_file("/proc/sys/kernel/numa_balancing", "0");
	CHECK_OK(munmap(p, align_size));
	close(fd);
	CHECK_OK(unlink(region_path("numa")));
	return PASS;
}

static int test_region_freed_on_last_close(void)
{
	long pt_before, pt_mapped, pt_after;
	int fd;
	char *p;

	pt_before = meminfo("PageTables");
	fd = region_create("lastclose", align_size);
	CHECK(fd >= 0, "cannot create the region");
	CHECK_OK(map_anon(fd, 0, 16 * MIB));
	p = map_region(fd, NULL, align_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(p, "mmap: %s", strerror(errno));
	fill_pages(p, 16 * MIB, 1);
	CHECK_OK(unlink(region_path("lastclose")));
	close(fd);
	/* The mapping keeps the region alive after unlink and close. */
	CHECK(check_pages(p, 16 * MIB, 1) < 0, "data lost after unlink and close");
	pt_mapped = meminfo("PageTables");
	CHECK_OK(munmap(p, align_size));
	pt_after = meminfo("PageTables");
	diag("PageTables kB: %ld before, %ld mapped, %ld after the last unmap", pt_before,
	     pt_mapped, pt_after);
	CHECK(pt_mapped - pt_before >= 32, "no page tables for 16 MiB?");
	CHECK(pt_after - pt_before <= 8, "host tables not freed: %ld kB left",
	      pt_after - pt_before);
	return PASS;
}

/* ------------------------------------------------------------ runner */

struct test {
	const char *name;
	int (*fn)(void);
};

static const struct test tests[] = {
	{ "info_file", test_info_file },
	{ "info_unlink_rename_eperm", test_info_unlink_rename },
	{ "files_and_dirs", test_files_and_dirs },
	{ "open_excl_eexist", test_open_excl },
	{ "ftruncate_sizes_once", test_ftruncate },
	{ "fallocate_sizes_once", test_fallocate },
	{ "mmap_errors", test_mmap_errors },
	{ "mmap_no_room_enomem", test_mmap_enomem },
	{ "vma_operations_einval", test_vma_operations },
	{ "mlockall_skips_region", test_mlockall_skips },
	{ "ioctl_errors", test_ioctl_errors },
	{ "ioctl_eintr", test_ioctl_eintr },
	{ "share_between_processes", test_share_between_processes },
	{ "fork_inherits", test_fork_inherits },
	{ "unmap_then_sigsegv", test_unmap_then_sigsegv },
	{ "owner_exit", test_owner_exit },
	{ "owner_not_inherited", test_owner_not_inherited },
	{ "file_object", test_file_object },
	{ "hugetlb_anon_object", test_hugetlb_anon },
	{ "hugetlb_file_object", test_hugetlb_file },
	{ "proc_of_sharer", test_proc_of_sharer },
	{ "sharer_faults_once", test_sharer_faults_once },
	{ "accounting", test_accounting },
	{ "memcg_owner_charged", test_memcg_owner_charged },
	{ "smp_unmap_no_stale_tlb", test_smp_unmap_no_stale_tlb },
	{ "numa_scan", test_numa_scan },
	{ "region_freed_on_last_unmap", test_region_freed_on_last_close },
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

/* Run one test in a child; returns PASS, FAIL or SKIP and prints its TAP line. */
static int run_test(unsigned int n, const struct test *t)
{
	char reason[512] = "", line[512];
	int out[2], status, result;
	FILE *f;
	pid_t pid;

	fflush(stdout);
	if (pipe(out) < 0) {
		printf("not ok %u %s # pipe: %s\n", n, t->name, strerror(errno));
		return FAIL;
	}
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		close(out[0]);
		dup2(out[1], STDOUT_FILENO);
		close(out[1]);
		exit(t->fn());
	}
	close(out[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		printf("not ok %u %s # cannot run it\n", n, t->name);
		return FAIL;
	}
	/* Whatever the test left running goes now; then its output is complete. */
	kill(-pid, SIGKILL);
	f = fdopen(out[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "#SKIPREASON ", 12)) {
			snprintf(reason, sizeof(reason), "%s", line + 12);
			reason[strcspn(reason, "\n")] = 0;
		} else {
			fputs(line, stdout);
		}
	}
	if (f)
		fclose(f);
	if (WIFSIGNALED(status)) {
		printf("# %s: killed by signal %d\n", t->name, WTERMSIG(status));
		result = FAIL;
	} else {
		result = WEXITSTATUS(status) == SKIP ? SKIP : WEXITSTATUS(status) ? FAIL : PASS;
	}
	if (result == SKIP)
		printf("ok %u %s # SKIP %s\n", n, t->name, reason);
	else
		printf("%s %u %s\n", result == PASS ? "ok" : "not ok", n, t->name);
	fflush(stdout);
	return result;
}

static int setup(void)
{
	char buf[64] = "";
	struct statfs sfs;
	int fd;

	page_size = sysconf(_SC_PAGESIZE);
	if (statfs(MSHARE_DIR, &sfs) < 0) {
		printf("Bail out! no %s: %s (kernel without msharefs?)\n", MSHARE_DIR,
		       strerror(errno));
		return -1;
	}
	if (sfs.f_type != MSHARE_MAGIC && mount("msharefs", MSHARE_DIR, "msharefs", 0, NULL) < 0) {
		printf("Bail out! cannot mount msharefs on %s: %s\n", MSHARE_DIR, strerror(errno));
		return -1;
	}
	fd = open(MSHARE_DIR "/mshare_info", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0) {
		printf("Bail out! cannot read %s/mshare_info\n", MSHARE_DIR);
		return -1;
	}
	close(fd);
	align_size = strtoul(buf, NULL, 10);
	if (!align_size) {
		printf("Bail out! mshare_info says '%s'\n", buf);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int pass = 0, fail = 0, skip = 0, n = 0, planned = 0;
	bool selected[NTESTS];

	for (size_t i = 0; i < NTESTS; i++)
		selected[i] = argc < 2;
	for (int a = 1; a < argc; a++) {
		bool known = false;

		if (!strcmp(argv[a], "-l")) {
			for (size_t i = 0; i < NTESTS; i++)
				printf("%s\n", tests[i].name);
			return 0;
		}
		for (size_t i = 0; i < NTESTS; i++) {
			if (!strcmp(argv[a], tests[i].name)) {
				selected[i] = known = true;
			}
		}
		if (!known) {
			fprintf(stderr, "msharefs-test: unknown test '%s' (-l lists them)\n", argv[a]);
			return 2;
		}
	}
	for (size_t i = 0; i < NTESTS; i++)
		planned += selected[i];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (setup() < 0)
		return 1;
	printf("1..%u\n", planned);
	for (size_t i = 0; i < NTESTS; i++) {
		if (!selected[i])
			continue;
		switch (run_test(++n, &tests[i])) {
		case PASS:
			pass++;
			break;
		case SKIP:
			skip++;
			break;
		default:
			fail++;
		}
	}
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n", pass, fail, skip);
	return fail ? 1 : 0;
}
