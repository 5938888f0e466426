/*
 * mshare-demo: the donor/consumer pair that shows an msharefs region in use.
 *
 *   mshare-demo donor [--name NAME] [--text TEXT] [--timeout SECONDS]
 *                     [--object-size BYTES|whole]
 *       creates /sys/fs/mshare/NAME (two alignment units), puts an object of
 *       anonymous shared memory at its start (2 MiB by default; "whole" fills
 *       the region, 1 TiB on x86-64, which the kernel's overcommit accounting
 *       refuses in a small guest), maps the region at four alignment units,
 *       writes TEXT at its start, and waits until a consumer has answered (or
 *       the timeout), then removes the region.
 *   mshare-demo consumer [--name NAME]
 *       opens the region read-write, maps it wherever the kernel likes, prints
 *       the text it finds and writes an answer after it.
 *   mshare-demo pair [--name NAME]
 *       runs both and checks that each saw the other's writes; exit status 0
 *       when they did.
 *
 * The consumer opens the file O_RDWR: a read-only fd cannot back a writable
 * MAP_SHARED mapping (the mmap fails with EACCES).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/msharefs.h>

#define MSHARE_DIR "/sys/fs/mshare"
#define ANSWER_OFFSET 4096 /* the consumer's answer goes one page in */
#define ANSWER_PREFIX "consumer read: "

static const char *name = "mshare-demo";
static const char *text = "Some random shared text";
static double timeout_s = 30;
static unsigned long long object_size = 2ULL << 20; /* 0: the whole region */
static char created[256];                            /* removed if the donor fails */

static void die(const char *what)
{
	fprintf(stderr, "mshare-demo: %s: %s\n", what, strerror(errno));
	if (created[0])
		unlink(created);
	exit(1);
}

static void region_path(char *buf, size_t len)
{
	snprintf(buf, len, MSHARE_DIR "/%s", name);
}

static unsigned long long read_alignment(void)
{
	char buf[64] = "";
	unsigned long long align;
	ssize_t n;
	int fd = open(MSHARE_DIR "/mshare_info", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(MSHARE_DIR "/mshare_info (is msharefs mounted on " MSHARE_DIR "?)");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	align = n > 0 ? strtoull(buf, NULL, 10) : 0;
	if (align == 0) {
		fprintf(stderr, "mshare-demo: " MSHARE_DIR "/mshare_info: no alignment in '%s'\n",
			buf);
		exit(1);
	}
	return align;
}

static int donor(void)
{
	char path[256];
	unsigned long long align = read_alignment();
	unsigned long long size = align * 2;
	struct mshare_create mc;
	struct timespec pause = { 0, 20000000 };
	double waited = 0;
	char *addr;
	int fd;

	region_path(path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	snprintf(created, sizeof(created), "%s", path);
	if (ftruncate(fd, (off_t)size) != 0)
		die("ftruncate");
	memset(&mc, 0, sizeof(mc));
	mc.region_offset = 0;
	mc.size = object_size && object_size < size ? object_size : size;
	mc.offset = 0;
	mc.prot = PROT_READ | PROT_WRITE;
	mc.flags = MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED;
	mc.fd = (__u32)-1;
	if (ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc) != 0)
		die("MSHAREFS_CREATE_MAPPING");
	addr = mmap((void *)(uintptr_t)(align * 4), size, PROT_READ | PROT_WRITE,
		    MAP_FIXED | MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		die("mmap of the region");
	strcpy(addr, text);
	printf("donor: region %s, %llu bytes at %p, object of %llu bytes; wrote \"%s\"\n", path,
	       size, (void *)addr, (unsigned long long)mc.size, text);
	fflush(stdout);

	while (strncmp(addr + ANSWER_OFFSET, ANSWER_PREFIX, strlen(ANSWER_PREFIX)) != 0) {
		if (waited >= timeout_s) {
			fprintf(stderr, "mshare-demo: donor: no answer within %.0f s\n", timeout_s);
			unlink(path);
			return 1;
		}
		nanosleep(&pause, NULL);
		waited += 0.02;
	}
	printf("donor: the consumer answered \"%s\"\n", addr + ANSWER_OFFSET);
	munmap(addr, size);
	unlink(path);
	close(fd);
	return 0;
}

static int consumer(void)
{
	char path[256];
	struct stat st;
	char *addr;
	int fd;

	region_path(path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(path);
	if (fstat(fd, &st) != 0)
		die("fstat");
	if (st.st_size == 0) {
		fprintf(stderr, "mshare-demo: consumer: region %s is not sized yet\n", path);
		return 1;
	}
	addr = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		die("mmap of the region");
	printf("consumer: region %s, %lld bytes at %p; read \"%s\"\n", path,
	       (long long)st.st_size, (void *)addr, addr);
	snprintf(addr + ANSWER_OFFSET, 256, ANSWER_PREFIX "%.200s", addr);
	munmap(addr, (size_t)st.st_size);
	close(fd);
	return 0;
}

static int pair(const char *self)
{
	char path[256];
	struct timespec pause = { 0, 20000000 };
	pid_t donor_pid, consumer_pid;
	int status, ok = 1;

	region_path(path, sizeof(path));
	donor_pid = fork();
	if (donor_pid < 0)
		die("fork");
	if (donor_pid == 0)
		exit(donor());
	/* The consumer starts once the region exists and has its size. */
	for (int i = 0;; i++) {
		struct stat st;

		if (stat(path, &st) == 0 && st.st_size > 0)
			break;
		if (i > timeout_s * 50 || waitpid(donor_pid, &status, WNOHANG) == donor_pid) {
			fprintf(stderr, "mshare-demo: pair: the donor did not create %s\n", path);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	nanosleep(&pause, NULL); /* let the donor write its text */
	consumer_pid = fork();
	if (consumer_pid < 0)
		die("fork");
	if (consumer_pid == 0) {
		execl(self, self, "consumer", "--name", name, (char *)NULL);
		die("exec of the consumer");
	}
	if (waitpid(consumer_pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		ok = 0;
	if (waitpid(donor_pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		ok = 0;
	printf("pair: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s donor|consumer|pair [--name NAME] [--text TEXT] "
				"[--timeout SECONDS] [--object-size BYTES|whole]\n", argv[0]);
		return 2;
	}
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			name = argv[++i];
		} else if (strcmp(argv[i], "--text") == 0 && i + 1 < argc) {
			text = argv[++i];
		} else if (strcmp(argv[i], "--object-size") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "whole") == 0) {
				object_size = 0;
			} else {
				char *end;

				object_size = strtoull(argv[i], &end, 0);
				if (*end || object_size < 2 * 4096 || object_size % 4096) {
					fprintf(stderr, "mshare-demo: --object-size must be 'whole' or "
							"a multiple of 4096 of at least 8192\n");
					return 2;
				}
			}
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout_s = atof(argv[++i]);
		} else {
			fprintf(stderr, "mshare-demo: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (strchr(name, '/') || strlen(name) > 200 || strlen(text) > 1000) {
		fprintf(stderr, "mshare-demo: --name must be a plain file name and --text short\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "donor") == 0)
		return donor();
	if (strcmp(cmd, "consumer") == 0)
		return consumer();
	if (strcmp(cmd, "pair") == 0)
		return pair("/proc/self/exe");
	fprintf(stderr, "mshare-demo: unknown command '%s' (donor, consumer or pair)\n", cmd);
	return 2;
}
