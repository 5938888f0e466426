/* Figures from /proc: a process's VmPTE, the guest's PageTables, vmstat counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ptbench.h"

/* Finds "field" at the start of a line of `path` and parses the number after
 * the separator; *unit_kb tells whether the line ends in "kB". */
static int64_t find_field(const char *path, const char *field, char sep, int *unit_kb)
{
	char line[256];
	size_t len = strlen(field);
	int64_t value = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, len) == 0 && line[len] == sep) {
			char *end;

			value = strtoll(line + len + 1, &end, 10);
			if (unit_kb)
				*unit_kb = strstr(end, "kB") != NULL;
			break;
		}
	}
	fclose(f);
	return value;
}

long status_kb(pid_t pid, const char *field)
{
	char path[64];

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return (long)find_field(path, field, ':', NULL);
}

int64_t meminfo_bytes(const char *field)
{
	int kb = 0;
	int64_t v = find_field("/proc/meminfo", field, ':', &kb);

	return v >= 0 && kb ? v * 1024 : v;
}

int64_t vmstat_value(const char *field)
{
	return find_field("/proc/vmstat", field, ' ', NULL);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *phase_name(int phase)
{
	static const char *const names[PHASE_COUNT] = { "spawn", "attach", "touch", "hold",
							"detach" };

	return phase >= 0 && phase < PHASE_COUNT ? names[phase] : "?";
}

const char *mode_name(enum pt_mode mode)
{
	switch (mode) {
	case MODE_MSHARE:
		return "mshare";
	case MODE_SHMEM:
		return "shmem";
	case MODE_SYSV:
		return "sysv";
	case MODE_HUGETLB:
		return "hugetlb";
	case MODE_HUGETLB_PMDSHARE:
		return "hugetlb-pmdshare";
	}
	return "?";
}
