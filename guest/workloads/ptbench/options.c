#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptbench.h"

static const char usage_text[] =
	"usage: ptbench --mode MODE --processes N --size BYTES [options]\n"
	"\n"
	"N processes attach one shared region of BYTES, touch every page, hold, detach.\n"
	"Prints a JSON report (docs/workloads.md); progress goes to stderr.\n"
	"\n"
	"  -m, --mode MODE         mshare | shmem | sysv | hugetlb | hugetlb-pmdshare\n"
	"  -n, --processes N       processes (default 2)\n"
	"  -s, --size BYTES        bytes each process touches; suffixes K, M, G (default 16M)\n"
	"      --backing B         shmem mode: memfd (default) or tmpfs (/dev/shm)\n"
	"      --access A          write (default) or read\n"
	"      --order O           seq (default) or random\n"
	"      --rounds R          attach/touch/detach rounds, for churn (default 1)\n"
	"      --stagger-us US     process i waits i*US before attaching\n"
	"      --jitter-us US      and a random 0..US before each attach and detach\n"
	"      --hold SECONDS      hold the region after the last touch (default 0)\n"
	"      --ready-file PATH   create PATH once every process holds the region\n"
	"      --release-file PATH hold until PATH exists (then detach)\n"
	"      --phase-timeout S   kill processes that have not finished a phase after S\n"
	"                          seconds (default 600)\n"
	"      --per-process W     per-process lists in the report: auto (default; all\n"
	"                          lists up to 64 processes, VmPTE only above), all, none\n"
	"  -o, --output FILE       write the report to FILE instead of stdout\n"
	"      --seed N            for random order and jitter (default 1)\n"
	"  -q, --quiet             no progress on stderr\n"
	"      --die-in PHASE:K    testing aid: processes 0..K-1 kill themselves in PHASE\n"
	"                          (attach, touch, hold, detach)\n";

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ptbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n%s", usage_text);
	exit(2);
}

static uint64_t parse_size(const char *text)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text)
		usage_error("size '%s' is not a number of bytes", text);
	if (*end == 'K' || *end == 'k')
		mult = 1ULL << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1ULL << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1ULL << 30;
	else if (*end != '\0')
		usage_error("size '%s' has an unknown suffix (K, M or G)", text);
	if (mult > 1 && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
		usage_error("size '%s' has an unknown suffix (K, M or G)", text);
	if (v == 0 || v > (1ULL << 46) / mult)
		usage_error("size '%s' must be from 1 byte to 64 TiB", text);
	return (uint64_t)v * mult;
}

static long parse_long(const char *text, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "ptbench: %s '%s' must be a whole number from %ld to %ld\n\n%s",
			what, text, min, max, usage_text);
		exit(2);
	}
	return v;
}

static double parse_seconds(const char *text, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end != '\0' || !(v >= 0 && v <= 1e7)) {
		fprintf(stderr, "ptbench: %s '%s' must be a number of seconds\n\n%s", what, text,
			usage_text);
		exit(2);
	}
	return v;
}

static int parse_phase(const char *text)
{
	for (int p = PHASE_ATTACH; p < PHASE_COUNT; p++)
		if (strcmp(text, phase_name(p)) == 0)
			return p;
	usage_error("phase '%s' is not attach, touch, hold or detach", text);
	return -1;
}

void parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_BACKING = 256, OPT_ACCESS, OPT_ORDER, OPT_ROUNDS, OPT_STAGGER, OPT_JITTER,
		OPT_HOLD, OPT_READY, OPT_RELEASE, OPT_PHASE_TIMEOUT, OPT_PER_PROCESS, OPT_SEED,
		OPT_DIE,
	};
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "processes", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "backing", required_argument, NULL, OPT_BACKING },
		{ "access", required_argument, NULL, OPT_ACCESS },
		{ "order", required_argument, NULL, OPT_ORDER },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "stagger-us", required_argument, NULL, OPT_STAGGER },
		{ "jitter-us", required_argument, NULL, OPT_JITTER },
		{ "hold", required_argument, NULL, OPT_HOLD },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "release-file", required_argument, NULL, OPT_RELEASE },
		{ "phase-timeout", required_argument, NULL, OPT_PHASE_TIMEOUT },
		{ "per-process", required_argument, NULL, OPT_PER_PROCESS },
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "die-in", required_argument, NULL, OPT_DIE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int mode_given = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->mode = MODE_SHMEM;
	o->processes = 2;
	o->size = 16ULL << 20;
	o->rounds = 1;
	o->phase_timeout_s = 600;
	o->per_process = 1;
	o->seed = 1;
	o->die_phase = -1;

	while ((c = getopt_long(argc, argv, "m:n:s:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mode_given = 1;
			if (strcmp(optarg, "mshare") == 0)
				o->mode = MODE_MSHARE;
			else if (strcmp(optarg, "shmem") == 0)
				o->mode = MODE_SHMEM;
			else if (strcmp(optarg, "sysv") == 0)
				o->mode = MODE_SYSV;
			else if (strcmp(optarg, "hugetlb") == 0)
				o->mode = MODE_HUGETLB;
			else if (strcmp(optarg, "hugetlb-pmdshare") == 0)
				o->mode = MODE_HUGETLB_PMDSHARE;
			else
				usage_error("mode '%s' is not mshare, shmem, sysv, hugetlb or "
					    "hugetlb-pmdshare", optarg);
			break;
		case 'n':
			o->processes = parse_long(optarg, 1, 100000, "--processes");
			break;
		case 's':
			o->size = parse_size(optarg);
			break;
		case OPT_BACKING:
			if (strcmp(optarg, "memfd") == 0)
				o->backing = BACKING_MEMFD;
			else if (strcmp(optarg, "tmpfs") == 0)
				o->backing = BACKING_TMPFS;
			else
				usage_error("backing '%s' is not memfd or tmpfs", optarg);
			break;
		case OPT_ACCESS:
			if (strcmp(optarg, "write") == 0)
				o->access = ACCESS_WRITE;
			else if (strcmp(optarg, "read") == 0)
				o->access = ACCESS_READ;
			else
				usage_error("access '%s' is not write or read", optarg);
			break;
		case OPT_ORDER:
			if (strcmp(optarg, "seq") == 0)
				o->order = ORDER_SEQ;
			else if (strcmp(optarg, "random") == 0)
				o->order = ORDER_RANDOM;
			else
				usage_error("order '%s' is not seq or random", optarg);
			break;
		case OPT_ROUNDS:
			o->rounds = parse_long(optarg, 1, 1000000, "--rounds");
			break;
		case OPT_STAGGER:
			o->stagger_us = parse_long(optarg, 0, 10000000, "--stagger-us");
			break;
		case OPT_JITTER:
			o->jitter_us = parse_long(optarg, 0, 10000000, "--jitter-us");
			break;
		case OPT_HOLD:
			o->hold_s = parse_seconds(optarg, "--hold");
			break;
		case OPT_READY:
			o->ready_file = optarg;
			break;
		case OPT_RELEASE:
			o->release_file = optarg;
			break;
		case OPT_PHASE_TIMEOUT:
			o->phase_timeout_s = parse_seconds(optarg, "--phase-timeout");
			if (o->phase_timeout_s <= 0)
				usage_error("--phase-timeout '%s' must be more than 0", optarg);
			break;
		case OPT_PER_PROCESS:
			if (strcmp(optarg, "none") == 0)
				o->per_process = 0;
			else if (strcmp(optarg, "auto") == 0)
				o->per_process = 1;
			else if (strcmp(optarg, "all") == 0)
				o->per_process = 2;
			else
				usage_error("--per-process '%s' is not auto, all or none", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_SEED:
			o->seed = (uint64_t)parse_long(optarg, 0, 0x7fffffffL, "--seed");
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_DIE: {
			char phase[16];
			const char *colon = strchr(optarg, ':');

			if (!colon || (size_t)(colon - optarg) >= sizeof(phase))
				usage_error("--die-in '%s' is not PHASE:COUNT", optarg);
			memcpy(phase, optarg, (size_t)(colon - optarg));
			phase[colon - optarg] = '\0';
			o->die_phase = parse_phase(phase);
			o->die_count = parse_long(colon + 1, 0, 100000, "--die-in count");
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fprintf(stderr, "\n%s", usage_text);
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!mode_given)
		usage_error("%s", "--mode is required");
}
