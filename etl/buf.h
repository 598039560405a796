/*
 * buf: the one growable byte buffer, with a hard cap (like git's strbuf and
 * curl's dynbuf).
 *
 * Rules:
 *  - b->ptr is never NULL and is always NUL-terminated, so it can be used as a
 *    C string (it may also hold embedded NULs; b->len is the truth).
 *  - The struct owns b->ptr. buf_release() frees it and leaves an empty,
 *    reusable buffer; buf_detach() hands ownership to the caller.
 *  - Every growth checks the cap first. A buffer never grows past b->cap bytes
 *    of content. On failure (cap reached: BUF_TOOBIG, or out of memory:
 *    BUF_NOMEM) the contents are left exactly as they were and the call
 *    returns the error; nothing is printed and nothing exits.
 */
#ifndef TMISGW_BUF_H
#define TMISGW_BUF_H

#include <stdarg.h>
#include <stddef.h>

enum { BUF_OK = 0, BUF_TOOBIG = -1, BUF_NOMEM = -2 };

extern char buf_slop[1];

struct buf {
	char *ptr;
	size_t len;
	size_t alloc; /* 0 while ptr points at buf_slop */
	size_t cap;   /* hard limit on len */
};

#define BUF_INIT(capacity) { buf_slop, 0, 0, (capacity) }

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
/* Returns the malloc'd contents (never NULL: "" duplicated when empty, or NULL
 * only if that allocation fails) and resets b. The caller frees. */
char *buf_detach(struct buf *b, size_t *len);

/* Make room for extra more bytes (plus the NUL). */
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t n);
int buf_addch(struct buf *b, int c);
int buf_addstr(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* s[0..n) as a JSON string, quoted and escaped; NULL appends null. */
int buf_add_json(struct buf *b, const char *s, size_t n);

static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	b->ptr[0] = '\0';
}

static inline void buf_setlen(struct buf *b, size_t len)
{
	b->len = len;
	b->ptr[len] = '\0';
}

#endif
