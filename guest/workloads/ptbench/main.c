/* ptbench: page-table cost of N processes sharing one region. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coordinator.h"
#include "ptbench.h"

int main(int argc, char **argv)
{
	struct options o;
	struct jw w;
	FILE *out = stdout;
	int status;

	parse_options(argc, argv, &o);
	if (o.output) {
		out = fopen(o.output, "we");
		if (!out) {
			fprintf(stderr, "ptbench: --output %s: %s\n", o.output, strerror(errno));
			return 2;
		}
	}
	jw_init(&w, out);
	status = run_benchmark(&o, &w);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "ptbench: --output %s: %s\n", o.output, strerror(errno));
		return 2;
	}
	return status;
}
