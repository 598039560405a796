#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf_slop[1];

void buf_init(struct buf *b, size_t cap)
{
	b->ptr = buf_slop;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_release(struct buf *b)
{
	if (b->alloc)
		free(b->ptr);
	b->ptr = buf_slop;
	b->len = 0;
	b->alloc = 0;
	buf_slop[0] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (len)
		*len = b->len;
	if (b->alloc) {
		p = b->ptr;
	} else {
		p = malloc(1);
		if (p)
			p[0] = '\0';
	}
	b->ptr = buf_slop;
	b->len = 0;
	b->alloc = 0;
	return p;
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t want, n;
	char *p;

	if (extra > b->cap || b->len > b->cap - extra)
		return BUF_TOOBIG;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return BUF_OK;
	n = b->alloc ? b->alloc : 64;
	while (n < want)
		n = n * 2;
	if (n > b->cap + 1)
		n = b->cap + 1;
	p = realloc(b->alloc ? b->ptr : NULL, n);
	if (!p)
		return BUF_NOMEM;
	if (!b->alloc)
		p[0] = '\0';
	b->ptr = p;
	b->alloc = n;
	return BUF_OK;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
	int rc = buf_grow(b, n);

	if (rc)
		return rc;
	memcpy(b->ptr + b->len, data, n);
	buf_setlen(b, b->len + n);
	return BUF_OK;
}

int buf_addch(struct buf *b, int c)
{
	int rc;

	if (b->len + 1 < b->alloc) {
		b->ptr[b->len++] = (char)c;
		b->ptr[b->len] = '\0';
		return BUF_OK;
	}
	rc = buf_grow(b, 1);
	if (rc)
		return rc;
	b->ptr[b->len++] = (char)c;
	b->ptr[b->len] = '\0';
	return BUF_OK;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return BUF_NOMEM;
	rc = buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return BUF_OK;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int buf_add_json(struct buf *b, const char *s, size_t n)
{
	int rc;

	if (!s)
		return buf_addstr(b, "null");
	rc = buf_addch(b, '"');
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			rc = buf_addch(b, '\\');
			if (!rc)
				rc = buf_addch(b, c);
		} else if (c < 0x20 || c == 0x7f) {
			rc = buf_addf(b, "\\u%04x", c);
		} else {
			rc = buf_addch(b, c);
		}
	}
	return rc ? rc : buf_addch(b, '"');
}
