/*
 * err: an error with its input context, filled by library code and reported
 * by the CLI (library code never prints or exits).
 *
 * A struct tmerr is caller-owned and fixed-size; setting it never allocates
 * and never fails (long text is truncated). Values put into an error must
 * already be masked where personal (see mask.h).
 */
#ifndef TMISGW_ERR_H
#define TMISGW_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Error classes; the CLI maps them to exit codes (docs/exit-codes.md). */
enum tmerr_code {
	TMERR_NONE = 0,
	TMERR_USAGE,   /* bad command line or option */
	TMERR_INPUT,   /* unreadable or malformed input file */
	TMERR_MAPPING, /* mapping / definition file is wrong */
	TMERR_DB,      /* database error or lost connection */
	TMERR_LIMIT,   /* a hard cap was hit */
	TMERR_REJECT,  /* reject rate over the limit: load refused */
	TMERR_SYS,     /* OS or allocation failure */
};

struct tmerr {
	enum tmerr_code code;
	char msg[512];    /* lowercase, says what failed, quotes its subject */
	char file[256];   /* input or mapping file, "" if none */
	long line;        /* 1-based, 0 if unknown */
	long col;         /* 1-based, 0 if unknown */
	char path[256];   /* XML element path, "" if none */
	char field[64];   /* canonical field or source column, "" if none */
	char rule[32];    /* validation rule name for rejects, "" if none */
	char value[80];   /* offending value, truncated and masked, "" if none */
};

void tmerr_clear(struct tmerr *e);
/* Sets code and message; keeps any context already set. Returns -1. */
int tmerr_set(struct tmerr *e, enum tmerr_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tmerr_vset(struct tmerr *e, enum tmerr_code code, const char *fmt,
	       va_list ap);
void tmerr_where(struct tmerr *e, const char *file, long line, long col);
void tmerr_field(struct tmerr *e, const char *field);
/* Copies the value truncated to fit (on a UTF-8 boundary), marked with "…". */
void tmerr_value(struct tmerr *e, const char *value, size_t len);
/* "file:line:col: msg (field "x", value "y")" into out, always terminated. */
void tmerr_format(const struct tmerr *e, char *out, size_t outsz);

/* Copy at most n-1 bytes of src, cutting on a UTF-8 character boundary. */
void str_copy_utf8(char *dst, size_t n, const char *src, size_t srclen);

#endif
