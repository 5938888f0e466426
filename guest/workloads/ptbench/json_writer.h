/* A small streaming JSON writer for the workloads' reports. */
#ifndef PTBENCH_JSON_WRITER_H
#define PTBENCH_JSON_WRITER_H

#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

struct jw {
	FILE *out;
	int depth;
	int count[JW_MAX_DEPTH]; /* members written at each level */
};

void jw_init(struct jw *w, FILE *out);
/* `key` is the member name inside an object, NULL inside an array or at the top. */
void jw_object_begin(struct jw *w, const char *key);
void jw_object_end(struct jw *w);
void jw_array_begin(struct jw *w, const char *key);
void jw_array_end(struct jw *w);
void jw_string(struct jw *w, const char *key, const char *value); /* NULL value: null */
void jw_int(struct jw *w, const char *key, int64_t value);
void jw_uint(struct jw *w, const char *key, uint64_t value);
void jw_double(struct jw *w, const char *key, double value);
void jw_bool(struct jw *w, const char *key, int value);
void jw_null(struct jw *w, const char *key);
/* Ends the document with a newline. */
void jw_finish(struct jw *w);

#endif
