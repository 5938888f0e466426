/* The parent side of ptbench: spawns the processes, runs the barriers,
 * collects their records and reaps them, and writes the report. */
#ifndef PTBENCH_COORDINATOR_H
#define PTBENCH_COORDINATOR_H

#include "json_writer.h"
#include "ptbench.h"

/* Runs the whole benchmark and writes the report to w. Returns the exit
 * status: 0 all well, 1 processes died or failed, 3 setup failed. */
int run_benchmark(const struct options *o, struct jw *w);

#endif
