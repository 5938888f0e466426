#include "json_writer.h"

#include <inttypes.h>
#include <math.h>

void jw_init(struct jw *w, FILE *out)
{
	w->out = out;
	w->depth = 0;
	w->count[0] = 0;
}

static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void member(struct jw *w, const char *key)
{
	if (w->count[w->depth]++ > 0)
		fputc(',', w->out);
	if (key) {
		put_string(w->out, key);
		fputc(':', w->out);
	}
}

static void push(struct jw *w)
{
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->count[w->depth] = 0;
}

void jw_object_begin(struct jw *w, const char *key)
{
	member(w, key);
	fputc('{', w->out);
	push(w);
}

void jw_object_end(struct jw *w)
{
	fputc('}', w->out);
	if (w->depth > 0)
		w->depth--;
}

void jw_array_begin(struct jw *w, const char *key)
{
	member(w, key);
	fputc('[', w->out);
	push(w);
}

void jw_array_end(struct jw *w)
{
	fputc(']', w->out);
	if (w->depth > 0)
		w->depth--;
}

void jw_string(struct jw *w, const char *key, const char *value)
{
	member(w, key);
	if (value)
		put_string(w->out, value);
	else
		fputs("null", w->out);
}

void jw_int(struct jw *w, const char *key, int64_t value)
{
	member(w, key);
	fprintf(w->out, "%" PRId64, value);
}

void jw_uint(struct jw *w, const char *key, uint64_t value)
{
	member(w, key);
	fprintf(w->out, "%" PRIu64, value);
}

void jw_double(struct jw *w, const char *key, double value)
{
	member(w, key);
	if (isfinite(value))
		fprintf(w->out, "%.10g", value);
	else
		fputs("null", w->out);
}

void jw_bool(struct jw *w, const char *key, int value)
{
	member(w, key);
	fputs(value ? "true" : "false", w->out);
}

void jw_null(struct jw *w, const char *key)
{
	member(w, key);
	fputs("null", w->out);
}

void jw_finish(struct jw *w)
{
	fputc('\n', w->out);
	fflush(w->out);
}
