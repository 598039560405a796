#include "mask.h"

#include <string.h>

/* An output being filled; once a piece does not fit nothing more is added,
 * so the result is always a prefix cut on a character boundary. */
struct mout {
	char *p;
	size_t sz, len;
	int full;
};

static void mout_init(struct mout *o, char *out, size_t outsz)
{
	o->p = out;
	o->sz = outsz;
	o->len = 0;
	o->full = outsz == 0;
	if (outsz)
		out[0] = '\0';
}

static void put(struct mout *o, const char *s, size_t k)
{
	if (o->full || o->len + k >= o->sz) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, k);
	o->len += k;
	o->p[o->len] = '\0';
}

/* Byte by byte, so a cut keeps as much as fits. */
static void put_ascii(struct mout *o, const char *s)
{
	for (; *s; s++)
		put(o, s, 1);
}

static int cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* Length of the valid UTF-8 character at s, 0 if s[0] starts none. */
static size_t u8len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xBF;
	size_t k, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		k = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		k = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		k = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if (!cont(s[i]))
			return 0;
	return k;
}

/* Bytes taken by the character at s: an invalid byte counts as one. */
static size_t step(const char *s, size_t n)
{
	size_t k = u8len(s, n);

	return k ? k : 1;
}

static size_t count_chars(const char *v, size_t n)
{
	size_t i = 0, c = 0;

	while (i < n) {
		i += step(v + i, n - i);
		c++;
	}
	return c;
}

/* Copies one character, showing control characters and bad bytes as '?'. */
static void put_char(struct mout *o, const char *s, size_t n)
{
	size_t k = u8len(s, n);
	unsigned char c = (unsigned char)s[0];

	if (k == 0 || (k == 1 && (c < 0x20 || c == 0x7f)))
		put(o, "?", 1);
	else
		put(o, s, k);
}

static void put_clean(struct mout *o, const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += step(v + i, n - i))
		put_char(o, v + i, n - i);
}

/* Keeps the first head and last tail characters, stars the rest. */
static void keep(struct mout *o, const char *v, size_t n, size_t head,
		 size_t tail)
{
	size_t total = count_chars(v, n), i = 0, c;

	if (head + tail >= total)
		head = tail = 0;
	for (c = 0; i < n && !o->full; c++) {
		if (c < head || c >= total - tail)
			put_char(o, v + i, n - i);
		else
			put(o, "*", 1);
		i += step(v + i, n - i);
	}
}

static void id_to(struct mout *o, const char *v, size_t n)
{
	size_t t = count_chars(v, n);

	if (t == 18)
		keep(o, v, n, 6, 4);
	else if (t > 6)
		keep(o, v, n, 2, 2);
	else
		keep(o, v, n, 0, 0);
}

void mask_id(const char *v, size_t n, char *out, size_t outsz)
{
	struct mout o;

	mout_init(&o, out, outsz);
	id_to(&o, v, n);
}

void mask_phone(const char *v, size_t n, char *out, size_t outsz)
{
	struct mout o;
	size_t t = count_chars(v, n);

	mout_init(&o, out, outsz);
	if (t >= 11)
		keep(&o, v, n, 3, 4);
	else if (t >= 3)
		keep(&o, v, n, 0, 2);
	else
		keep(&o, v, n, 0, 0);
}

void mask_name(const char *v, size_t n, char *out, size_t outsz)
{
	struct mout o;

	mout_init(&o, out, outsz);
	keep(&o, v, n, 1, 0);
}

void mask_generic(const char *v, size_t n, char *out, size_t outsz)
{
	struct mout o;
	const char *at = n ? memchr(v, '@', n) : NULL;

	mout_init(&o, out, outsz);
	if (at && at > v && (size_t)(at - v) < n - 1) {
		put_char(&o, v, n);
		put_ascii(&o, "***@");
		put_clean(&o, at + 1, n - (size_t)(at - v) - 1);
	} else if (n) {
		put_ascii(&o, "***");
	}
}

void mask_teacher_key(const char *id_type, const char *id_number, size_t n,
		      char *out, size_t outsz)
{
	struct mout o;

	mout_init(&o, out, outsz);
	if (id_type)
		put_clean(&o, id_type, strlen(id_type));
	put_ascii(&o, ":");
	id_to(&o, id_number, n);
}
