#include "err.h"

#include <stdio.h>
#include <string.h>

void str_copy_utf8(char *dst, size_t n, const char *src, size_t srclen)
{
	size_t k;

	if (n == 0)
		return;
	k = srclen < n - 1 ? srclen : n - 1;
	if (k < srclen)
		while (k > 0 && ((unsigned char)src[k] & 0xC0) == 0x80)
			k--;
	memcpy(dst, src, k);
	dst[k] = '\0';
}

void tmerr_clear(struct tmerr *e)
{
	memset(e, 0, sizeof(*e));
}

int tmerr_vset(struct tmerr *e, enum tmerr_code code, const char *fmt,
	       va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

int tmerr_set(struct tmerr *e, enum tmerr_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tmerr_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

void tmerr_where(struct tmerr *e, const char *file, long line, long col)
{
	if (file)
		str_copy_utf8(e->file, sizeof(e->file), file, strlen(file));
	e->line = line;
	e->col = col;
}

void tmerr_field(struct tmerr *e, const char *field)
{
	str_copy_utf8(e->field, sizeof(e->field), field, strlen(field));
}

void tmerr_value(struct tmerr *e, const char *value, size_t len)
{
	size_t i, k = len;

	if (k > 40) {
		k = 40;
		while (k > 0 && ((unsigned char)value[k] & 0xC0) == 0x80)
			k--;
	}
	/* control characters would break one-line logs: show them as '?' */
	for (i = 0; i < k; i++) {
		unsigned char c = (unsigned char)value[i];

		e->value[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	e->value[k] = '\0';
	if (k < len)
		strcat(e->value, "\xe2\x80\xa6");
}

void tmerr_format(const struct tmerr *e, char *out, size_t outsz)
{
	int n = 0;

	out[0] = '\0';
	if (e->file[0]) {
		n = snprintf(out, outsz, "%s", e->file);
		if (e->line > 0 && (size_t)n < outsz)
			n += snprintf(out + n, outsz - n, ":%ld", e->line);
		if (e->col > 0 && (size_t)n < outsz)
			n += snprintf(out + n, outsz - n, ":%ld", e->col);
		if ((size_t)n < outsz)
			n += snprintf(out + n, outsz - n, ": ");
	}
	if ((size_t)n < outsz)
		n += snprintf(out + n, outsz - n, "%s", e->msg);
	if (e->path[0] && (size_t)n < outsz)
		n += snprintf(out + n, outsz - n, " at %s", e->path);
	if (e->field[0] && (size_t)n < outsz)
		n += snprintf(out + n, outsz - n, " (field \"%s\"", e->field);
	if (e->field[0] && e->value[0] && (size_t)n < outsz)
		n += snprintf(out + n, outsz - n, ", value \"%s\"", e->value);
	if (e->field[0] && (size_t)n < outsz)
		snprintf(out + n, outsz - n, ")");
}
