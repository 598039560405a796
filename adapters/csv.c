/*
 * csv: the streaming RFC 4180 adapter, with what real exports add: a UTF-8
 * BOM, GB18030/GBK input (converted with iconv), CRLF, LF or lone CR line
 * endings, and any one-byte delimiter.
 *
 * Memory is fixed by the options, never by the file: one read buffer, one
 * conversion buffer, one record buffer capped at record_cap and field arrays
 * capped at CSV_MAX_COLS. A malformed record is returned as ADP_BAD with err
 * filled and the parser resynchronises at the next line break; only a read
 * error, a conversion failure or out of memory is ADP_FATAL.
 *
 * Positions: lines are 1-based physical lines (CRLF, LF and CR each end one);
 * columns are 1-based and count UTF-8 characters (after decoding) from the
 * start of the physical line, so a BOM does not count.
 */
#include "adapter.h"

#include "../etl/buf.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_BUFSZ (64 * 1024)
#define CSV_MAX_COLS 4096
#define CSV_SLOP 16 /* bytes readable past the end of the parse buffer */

enum csv_state {
	ST_REC,   /* before the first byte of a record */
	ST_FIELD, /* before the first byte of a field */
	ST_UNQ,   /* inside an unquoted field */
	ST_QUO,   /* inside a quoted field */
	ST_QEND,  /* just after a quote inside a quoted field */
	ST_SKIP,  /* resynchronising: drop bytes up to the next line break */
};

/* Byte classes: which bytes end a fast scan in each state. */
enum { C_UNQ = 1, C_QUO = 2, C_EOL = 4 };

/* csv_fill() results besides "n > 0 bytes added" */
enum { FILL_EOF = 0, FILL_ERR = -1, FILL_ENC = -2 };

struct csv_handle {
	struct input *in;
	iconv_t cd;              /* (iconv_t)-1 for UTF-8 input */
	const char *encname;     /* for messages */
	unsigned char *raw;      /* undecoded input (iconv only) */
	size_t raw_len;
	unsigned char *buf;      /* UTF-8 bytes being parsed, NUL sentinel */
	size_t pos, len;
	unsigned long long base; /* stream offset of buf[0] */
	int in_eof;
	int enc_err;             /* invalid input just before buf[len] */
	int cr_pending;          /* a CR ended buf; a following LF is its pair */
	int fatal;

	long line;                     /* current physical line */
	unsigned long long line_start; /* stream offset where it starts */
	unsigned long long cont;       /* continuation bytes since then */

	unsigned char delim;
	unsigned char cls[256];
	size_t field_cap, record_cap;

	/* current record */
	struct buf rec;          /* fields, each NUL-terminated */
	size_t *offs;            /* CSV_MAX_COLS each */
	size_t *lens;
	long *cols;
	const char **vals;
	size_t nf;
	long rec_line;
	int bad;
	size_t fstart;           /* rec offset of the current field */
	long fline, fcol;
	long qline, qcol;        /* opening quote of the current field */
	int qnl;                 /* line breaks inside the quoted field */

	/* names */
	int have_names;
	size_t nnames;
	struct buf names_buf;
	const char **namev;

	/* first record read by open() in no-header mode */
	int pending;
	int pending_rc;
	struct tmerr pending_err;
};

static struct csv_handle *H(struct adapter_handle *ah)
{
	return (struct csv_handle *)ah;
}

/* ---- input and decoding ------------------------------------------------ */

static ssize_t read_input(struct csv_handle *h, void *dst, size_t n)
{
	ssize_t r;

	do
		r = h->in->read(h->in->ctx, dst, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int fill_utf8(struct csv_handle *h, struct tmerr *err)
{
	ssize_t r;

	if (h->in_eof)
		return FILL_EOF;
	r = read_input(h, h->buf + h->len, CSV_BUFSZ - h->len);
	if (r < 0)
		return tmerr_set(err, TMERR_INPUT, "cannot read \"%s\": %s",
				 h->in->name ? h->in->name : "input",
				 strerror(errno));
	if (r == 0) {
		h->in_eof = 1;
		return FILL_EOF;
	}
	h->len += (size_t)r;
	return 1;
}

/*
 * Convert raw bytes until some output exists. An incomplete character at
 * the end of raw waits for the next read (EINVAL); an invalid one (EILSEQ)
 * is dropped byte by byte and reported once the output before it is parsed.
 */
static int fill_iconv(struct csv_handle *h, struct tmerr *err)
{
	for (;;) {
		if (h->enc_err)
			return FILL_ENC;
		if (h->raw_len) {
			char *ib = (char *)h->raw, *ob = (char *)h->buf + h->len;
			size_t il = h->raw_len, ol = CSV_BUFSZ - h->len;
			size_t r = iconv(h->cd, &ib, &il, &ob, &ol);
			int e = errno;
			size_t made = CSV_BUFSZ - h->len - ol;

			memmove(h->raw, ib, il);
			h->raw_len = il;
			h->len += made;
			if (r == (size_t)-1 && e == EILSEQ) {
				memmove(h->raw, h->raw + 1, --h->raw_len);
				h->enc_err = 1;
			} else if (r == (size_t)-1 && e != EINVAL && e != E2BIG) {
				return tmerr_set(err, TMERR_INPUT,
						 "cannot convert \"%s\" from %s: %s",
						 h->in->name ? h->in->name : "input",
						 h->encname, strerror(e));
			}
			if (made)
				return 1;
			if (h->enc_err)
				continue;
		}
		if (h->in_eof) {
			if (h->raw_len) {
				h->raw_len = 0;
				h->enc_err = 1;
				continue;
			}
			return FILL_EOF;
		}
		{
			ssize_t r = read_input(h, h->raw + h->raw_len,
					       CSV_BUFSZ - h->raw_len);

			if (r < 0)
				return tmerr_set(err, TMERR_INPUT,
						 "cannot read \"%s\": %s",
						 h->in->name ? h->in->name : "input",
						 strerror(errno));
			if (r == 0)
				h->in_eof = 1;
			h->raw_len += (size_t)r;
		}
	}
}

/* Keep the unparsed tail, add input after it and restore the sentinel. */
static int csv_fill(struct csv_handle *h, struct tmerr *err)
{
	size_t tail = h->len - h->pos;
	int r;

	if (h->pos) {
		memmove(h->buf, h->buf + h->pos, tail);
		h->base += h->pos;
		h->len = tail;
		h->pos = 0;
	}
	if (h->cd == (iconv_t)-1)
		r = fill_utf8(h, err);
	else
		r = fill_iconv(h, err);
	h->buf[h->len] = '\0';
	return r;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/*
 * Length of the well-formed multibyte sequence at p (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), 0 if it is a valid prefix cut by
 * end, -1 if invalid.
 */
static inline int utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t avail = (size_t)(end - p);
	int n, i;

	if (c < 0xC2)
		return -1;
	if (c < 0xE0) {
		n = 2;
	} else if (c < 0xF0) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return -1;
	}
	if (avail < 2)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return -1;
	for (i = 2; i < n; i++) {
		if ((size_t)i >= avail)
			return 0;
		if ((p[i] & 0xC0) != 0x80)
			return -1;
	}
	return n;
}

/* ---- record building ---------------------------------------------------- */

static inline long col_at(const struct csv_handle *h, const unsigned char *p)
{
	return (long)(h->base + (unsigned long long)(p - h->buf) -
		      h->line_start - h->cont) + 1;
}

__attribute__((format(printf, 6, 7)))
static void bad_at(struct csv_handle *h, struct tmerr *err, long line, long col,
		   const char *rule, const char *fmt, ...)
{
	va_list ap;

	if (h->bad)
		return;
	h->bad = 1;
	tmerr_clear(err);
	va_start(ap, fmt);
	tmerr_vset(err, TMERR_INPUT, fmt, ap);
	va_end(ap);
	tmerr_where(err, h->in->name, line, col);
	snprintf(err->rule, sizeof(err->rule), "%s", rule);
	if (h->have_names && h->nf && h->nf <= h->nnames &&
	    strcmp(rule, "ragged") && strcmp(rule, "record_too_long"))
		tmerr_field(err, h->namev[h->nf - 1]);
}

static int oom(struct csv_handle *h, struct tmerr *err)
{
	h->fatal = 1;
	tmerr_set(err, TMERR_SYS, "out of memory reading \"%s\"",
		  h->in->name ? h->in->name : "input");
	return ADP_FATAL;
}

/* A cap hit inside quotes with a line break in the field is most likely a
 * quote that never closes; the caller then resynchronises at a line break. */
static void __attribute__((noinline))
cap_hit(struct csv_handle *h, struct tmerr *err, int quoted, int record)
{
	if (quoted && h->qnl)
		bad_at(h, err, h->qline, h->qcol, "unclosed_quote",
		       "unclosed quote: quoted field opened at line %ld exceeds %zu bytes",
		       h->qline, record ? h->record_cap : h->field_cap);
	else if (record)
		bad_at(h, err, h->rec_line, 1, "record_too_long",
		       "record longer than %zu bytes", h->record_cap);
	else
		bad_at(h, err, h->fline, h->fcol, "field_too_long",
		       "field longer than %zu bytes", h->field_cap);
}

/* 0: stored (or the record is already bad), 1: a cap was hit, -1: no memory */
static inline int app(struct csv_handle *h, struct tmerr *err,
		      const unsigned char *src, size_t n, int quoted)
{
	struct buf *b = &h->rec;

	if (h->bad)
		return 0;
	if (b->len - h->fstart + n > h->field_cap) {
		cap_hit(h, err, quoted, 0);
		return 1;
	}
	if (b->len + n > h->record_cap) {
		cap_hit(h, err, quoted, 1);
		return 1;
	}
	if (n <= CSV_SLOP && b->len + CSV_SLOP < b->alloc) {
		/* short field: one fixed-size copy, reading into the slop */
		memcpy(b->ptr + b->len, src, CSV_SLOP);
	} else {
		if (b->len + n + 1 >= b->alloc && buf_grow(b, n + 1))
			return -1;
		memcpy(b->ptr + b->len, src, n);
	}
	b->len += n;
	return 0;
}

static void __attribute__((noinline))
too_many_fields(struct csv_handle *h, struct tmerr *err, const unsigned char *p)
{
	size_t lim = h->have_names ? h->nnames : CSV_MAX_COLS;

	if (h->have_names)
		bad_at(h, err, h->line, col_at(h, p), "ragged",
		       "record has more than %zu fields", lim);
	else
		bad_at(h, err, h->line, col_at(h, p), "record_too_long",
		       "record has more than %zu fields", lim);
}

static inline void field_begin(struct csv_handle *h, struct tmerr *err,
			       const unsigned char *p)
{
	size_t lim = h->have_names ? h->nnames : CSV_MAX_COLS;

	if (!h->bad) {
		if (h->nf < lim) {
			long col = col_at(h, p);

			h->offs[h->nf] = h->rec.len;
			h->cols[h->nf] = col;
			h->fstart = h->rec.len;
			h->fline = h->line;
			h->fcol = col;
		} else {
			too_many_fields(h, err, p);
		}
	}
	h->nf++;
}

static void __attribute__((noinline))
record_full(struct csv_handle *h, struct tmerr *err)
{
	cap_hit(h, err, 0, 1);
}

static inline int field_end(struct csv_handle *h, struct tmerr *err)
{
	struct buf *b = &h->rec;

	if (h->bad)
		return 0;
	if (b->len + 1 > h->record_cap) {
		record_full(h, err);
		return 0;
	}
	if (b->len + 1 >= b->alloc && buf_grow(b, 1))
		return -1;
	h->lens[h->nf - 1] = b->len - h->fstart;
	b->ptr[b->len++] = '\0';
	return 0;
}

static int finish(struct csv_handle *h, struct tmerr *err,
		  const unsigned char *p)
{
	size_t i;

	if (!h->bad && h->have_names && h->nf != h->nnames)
		bad_at(h, err, h->line, col_at(h, p), "ragged",
		       "record has %zu fields, expected %zu", h->nf, h->nnames);
	if (h->bad)
		return ADP_BAD;
	for (i = 0; i < h->nf; i++)
		h->vals[i] = h->rec.ptr + h->offs[i];
	return ADP_OK;
}

/* Consume one line break at p. */
static inline unsigned char *eol(struct csv_handle *h, unsigned char *p,
				 const unsigned char *end)
{
	if (*p++ == '\r') {
		if (p < end) {
			if (*p == '\n')
				p++;
		} else {
			h->cr_pending = 1;
		}
	}
	h->line++;
	h->line_start = h->base + (unsigned long long)(p - h->buf);
	h->cont = 0;
	return p;
}

/* Scan bytes that need no decision in a state: plain bytes (the buffer ends
 * in a NUL sentinel, which every mask stops at) and valid UTF-8. */
static inline unsigned char *scan(struct csv_handle *h, unsigned char *q,
				  const unsigned char *end, int mask)
{
	const unsigned char *cls = h->cls;
	int n;

	for (;;) {
		while (!(cls[*q] & mask))
			q++;
		if (*q < 0x80 || q >= end)
			return q;
		n = utf8_len(q, end);
		if (n <= 0)
			return q;
		q += n;
		h->cont += (unsigned long long)n - 1;
	}
}

static void enc_bad(struct csv_handle *h, struct tmerr *err,
		    const unsigned char *p)
{
	bad_at(h, err, h->line, col_at(h, p), "encoding",
	       "invalid %s byte sequence", h->encname);
}

/* Reached invalid input or EOF without a byte to decide on: make sure a
 * field is open so that the error belongs to a record. */
static int open_field(struct csv_handle *h, struct tmerr *err, int st,
		      const unsigned char *p)
{
	if (st == ST_REC) {
		h->rec_line = h->line;
		st = ST_FIELD;
	}
	if (st == ST_FIELD) {
		field_begin(h, err, p);
		st = ST_UNQ;
	}
	if (st == ST_QEND)
		st = ST_UNQ;
	return st;
}

static int at_eof(struct csv_handle *h, struct tmerr *err, int st,
		  const unsigned char *p)
{
	switch (st) {
	case ST_REC:
		return ADP_EOF;
	case ST_FIELD:
		field_begin(h, err, p);
		/* fallthrough */
	case ST_UNQ:
	case ST_QEND:
		if (field_end(h, err))
			return oom(h, err);
		break;
	case ST_QUO:
		bad_at(h, err, h->qline, h->qcol, "unclosed_quote",
		       "unclosed quote: quoted field opened at line %ld never closes",
		       h->qline);
		break;
	default:
		break;
	}
	return finish(h, err, p);
}

/* Parse one record into h->rec; err is filled for ADP_BAD and ADP_FATAL. */
static int csv_record(struct csv_handle *h, struct tmerr *err)
{
	const unsigned char delim = h->delim;
	unsigned char *p = h->buf + h->pos, *end = h->buf + h->len, *q;
	int st = ST_REC, more = 0, r, n, rc;
	unsigned char c;

	h->nf = 0;
	h->bad = 0;
	buf_reset(&h->rec);
	for (;;) {
		if (p >= end || more) {
			h->pos = (size_t)(p - h->buf);
			r = csv_fill(h, err);
			p = h->buf + h->pos;
			end = h->buf + h->len;
			more = 0;
			if (r == FILL_ERR) {
				h->fatal = 1;
				return ADP_FATAL;
			}
			if (r == FILL_ENC) {
				h->enc_err = 0;
				h->cr_pending = 0;
				if (st != ST_SKIP) {
					st = open_field(h, err, st, p);
					enc_bad(h, err, p);
				}
				continue;
			}
			if (r == FILL_EOF) {
				if (p < end) {
					/* a multibyte character cut by EOF */
					st = open_field(h, err, st, p);
					enc_bad(h, err, p);
					p = end;
				}
				h->pos = (size_t)(p - h->buf);
				return at_eof(h, err, st, p);
			}
			if (h->cr_pending) {
				h->cr_pending = 0;
				if (*p == '\n') {
					r = st == ST_QUO ? app(h, err, p, 1, 1) : 0;
					if (r < 0)
						return oom(h, err);
					p++;
					h->line_start++;
					if (r) {
						/* the cap fell on a line break */
						h->pos = (size_t)(p - h->buf);
						return ADP_BAD;
					}
				}
				continue;
			}
		}

		switch (st) {
		case ST_REC:
			c = *p;
			if (c == '\n' || c == '\r') {
				p = eol(h, p, end);
				break;
			}
			h->rec_line = h->line;
			st = ST_FIELD;
			/* fallthrough */
		case ST_FIELD:
			field_begin(h, err, p);
			if (*p == '"') {
				h->qline = h->line;
				h->qcol = col_at(h, p);
				h->qnl = 0;
				p++;
				st = ST_QUO;
			} else {
				st = ST_UNQ;
			}
			break;

		case ST_UNQ:
			q = scan(h, p, end, C_UNQ);
			if (q > p) {
				if (app(h, err, p, (size_t)(q - p), 0) < 0)
					return oom(h, err);
				p = q;
			}
			if (p >= end)
				break;
			c = *p;
			if (c == delim) {
				if (field_end(h, err))
					return oom(h, err);
				p++;
				st = ST_FIELD;
			} else if (c == '\n' || c == '\r') {
				if (field_end(h, err))
					return oom(h, err);
				rc = finish(h, err, p);
				p = eol(h, p, end);
				h->pos = (size_t)(p - h->buf);
				return rc;
			} else if (c == '"') {
				bad_at(h, err, h->line, col_at(h, p), "bad_quote",
				       "stray quote in unquoted field");
				p++;
			} else if (c == '\0') {
				bad_at(h, err, h->line, col_at(h, p), "nul_byte",
				       "unexpected NUL byte");
				p++;
			} else {
				n = utf8_len(p, end);
				if (n == 0) {
					more = 1;
				} else {
					enc_bad(h, err, p);
					p++;
				}
			}
			break;

		case ST_QUO:
			q = scan(h, p, end, C_QUO);
			if (q > p) {
				r = app(h, err, p, (size_t)(q - p), 1);
				if (r < 0)
					return oom(h, err);
				p = q;
				if (r) {
					st = ST_SKIP;
					break;
				}
			}
			if (p >= end)
				break;
			c = *p;
			if (c == '"') {
				p++;
				st = ST_QEND;
			} else if (c == '\n' || c == '\r') {
				n = c == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1;
				h->qnl++;
				r = app(h, err, p, (size_t)n, 1);
				if (r < 0)
					return oom(h, err);
				if (r) {
					st = ST_SKIP;
					break;
				}
				p = eol(h, p, end);
			} else if (c == '\0') {
				bad_at(h, err, h->line, col_at(h, p), "nul_byte",
				       "unexpected NUL byte");
				p++;
			} else {
				n = utf8_len(p, end);
				if (n == 0) {
					more = 1;
				} else {
					enc_bad(h, err, p);
					p++;
				}
			}
			break;

		case ST_QEND:
			c = *p;
			if (c == '"') {
				r = app(h, err, p, 1, 1);
				if (r < 0)
					return oom(h, err);
				p++;
				st = r ? ST_SKIP : ST_QUO;
			} else if (c == delim) {
				if (field_end(h, err))
					return oom(h, err);
				p++;
				st = ST_FIELD;
			} else if (c == '\n' || c == '\r') {
				if (field_end(h, err))
					return oom(h, err);
				rc = finish(h, err, p);
				p = eol(h, p, end);
				h->pos = (size_t)(p - h->buf);
				return rc;
			} else {
				bad_at(h, err, h->line, col_at(h, p), "bad_quote",
				       "unexpected character after closing quote");
				st = ST_UNQ;
			}
			break;

		case ST_SKIP:
			q = p;
			while (q < end && !(h->cls[*q] & C_EOL))
				q++;
			p = q;
			if (p < end) {
				p = eol(h, p, end);
				h->pos = (size_t)(p - h->buf);
				return ADP_BAD;
			}
			break;
		}
	}
}

/* ---- the adapter -------------------------------------------------------- */

static void csv_free(struct csv_handle *h)
{
	if (!h)
		return;
	if (h->cd != (iconv_t)-1)
		iconv_close(h->cd);
	free(h->raw);
	free(h->buf);
	free(h->offs);
	free(h->lens);
	free(h->cols);
	free(h->vals);
	free(h->namev);
	buf_release(&h->rec);
	buf_release(&h->names_buf);
	free(h);
}

static void csv_close(struct adapter_handle *ah)
{
	csv_free(H(ah));
}

static int set_encoding(struct csv_handle *h, const char *enc,
			struct tmerr *err)
{
	const char *from;

	h->cd = (iconv_t)-1;
	if (!enc || !strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8")) {
		h->encname = "UTF-8";
		return 0;
	}
	if (!strcasecmp(enc, "gb18030"))
		from = "GB18030";
	else if (!strcasecmp(enc, "gbk"))
		from = "GBK";
	else
		return tmerr_set(err, TMERR_MAPPING,
				 "unsupported encoding \"%s\"", enc);
	h->encname = from;
	h->cd = iconv_open("UTF-8", from);
	if (h->cd == (iconv_t)-1)
		return tmerr_set(err, TMERR_SYS,
				 "cannot convert from \"%s\": %s", enc,
				 strerror(errno));
	h->raw = malloc(CSV_BUFSZ);
	if (!h->raw)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	return 0;
}

/* Skip a UTF-8 BOM (after decoding) at the very start of the stream. */
static int skip_bom(struct csv_handle *h, struct tmerr *err)
{
	int r = 1;

	while (h->len < 3 && r > 0)
		r = csv_fill(h, err);
	if (r == FILL_ERR)
		return -1;
	if (h->len >= 3 && !memcmp(h->buf, "\xEF\xBB\xBF", 3)) {
		h->pos = 3;
		h->line_start = 3;
	}
	return 0;
}

/* Keep the header (or first record) as the column names. */
static int take_names(struct csv_handle *h, int from_header,
		      struct tmerr *err)
{
	size_t i;
	char *s;

	h->nnames = h->nf;
	h->namev = calloc(h->nnames ? h->nnames : 1, sizeof(*h->namev));
	if (!h->namev)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	if (from_header) {
		h->names_buf = h->rec;
		buf_init(&h->rec, h->record_cap + 1);
	} else {
		for (i = 0; i < h->nnames; i++)
			if (buf_addf(&h->names_buf, "%zu", i + 1) ||
			    buf_addch(&h->names_buf, '\0'))
				return tmerr_set(err, TMERR_SYS,
						 "out of memory");
	}
	for (i = 0, s = h->names_buf.ptr; i < h->nnames; i++) {
		h->namev[i] = s;
		s += strlen(s) + 1;
	}
	h->have_names = 1;
	return 0;
}

static int csv_open(struct adapter_handle **ah, struct input *in,
		    const struct adapter_opts *opts, struct tmerr *err)
{
	struct csv_handle *h;
	unsigned char d = opts && opts->delimiter ? (unsigned char)opts->delimiter
						  : ',';
	int rc, c;

	*ah = NULL;
	if (d == '"' || d == '\r' || d == '\n' || d >= 0x80)
		return tmerr_set(err, TMERR_MAPPING,
				 "invalid csv delimiter \"%c\"", d);
	h = calloc(1, sizeof(*h));
	if (!h)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	h->in = in;
	h->line = 1;
	h->delim = d;
	h->field_cap = opts && opts->field_cap ? opts->field_cap
					       : ADAPTER_FIELD_CAP;
	h->record_cap = opts && opts->record_cap ? opts->record_cap
						 : ADAPTER_RECORD_CAP;
	buf_init(&h->rec, h->record_cap + 1);
	buf_init(&h->names_buf, h->record_cap + CSV_MAX_COLS * 6);
	for (c = 0x80; c < 0x100; c++)
		h->cls[c] = C_UNQ | C_QUO;
	h->cls[0] = C_UNQ | C_QUO;
	h->cls['"'] = C_UNQ | C_QUO;
	h->cls['\r'] = C_UNQ | C_QUO | C_EOL;
	h->cls['\n'] = C_UNQ | C_QUO | C_EOL;
	h->cls[d] |= C_UNQ;

	if (set_encoding(h, opts ? opts->encoding : NULL, err))
		goto fail;
	h->buf = calloc(1, CSV_BUFSZ + 1 + CSV_SLOP);
	h->offs = malloc(CSV_MAX_COLS * sizeof(*h->offs));
	h->lens = malloc(CSV_MAX_COLS * sizeof(*h->lens));
	h->cols = malloc(CSV_MAX_COLS * sizeof(*h->cols));
	h->vals = malloc(CSV_MAX_COLS * sizeof(*h->vals));
	if (!h->buf || !h->offs || !h->lens || !h->cols || !h->vals) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto fail;
	}
	h->buf[0] = '\0';
	if (skip_bom(h, err))
		goto fail;

	if (opts && opts->has_header) {
		rc = csv_record(h, err);
		if (rc == ADP_FATAL)
			goto fail;
		if (rc == ADP_BAD) {
			char msg[sizeof(err->msg)];

			snprintf(msg, sizeof(msg), "bad csv header: %.480s", err->msg);
			memcpy(err->msg, msg, sizeof(msg));
			goto fail;
		}
		if (rc == ADP_EOF)
			h->have_names = 1;
		else if (take_names(h, 1, err))
			goto fail;
	} else {
		rc = csv_record(h, &h->pending_err);
		if (rc == ADP_FATAL ||
		    (rc == ADP_BAD && (h->nf > CSV_MAX_COLS ||
				       !strcmp(h->pending_err.rule, "unclosed_quote") ||
				       !strcmp(h->pending_err.rule, "record_too_long") ||
				       !strcmp(h->pending_err.rule, "field_too_long")))) {
			/* without a clean field count there is no layout */
			*err = h->pending_err;
			goto fail;
		}
		if (rc == ADP_EOF) {
			h->have_names = 1;
		} else {
			if (take_names(h, 0, err))
				goto fail;
			h->pending = 1;
			h->pending_rc = rc;
		}
	}
	*ah = (struct adapter_handle *)h;
	return 0;
fail:
	csv_free(h);
	return -1;
}

static int csv_next(struct adapter_handle *ah, struct record *rec,
		    struct tmerr *err)
{
	struct csv_handle *h = H(ah);
	int rc;

	if (h->pending) {
		h->pending = 0;
		rc = h->pending_rc;
		if (rc == ADP_BAD)
			*err = h->pending_err;
	} else if (h->fatal) {
		return tmerr_set(err, TMERR_INPUT, "cannot read \"%s\" further",
				 h->in->name ? h->in->name : "input");
	} else {
		rc = csv_record(h, err);
	}
	rec->line = h->rec_line;
	rec->names = h->namev;
	rec->vals = h->vals;
	rec->lens = h->lens;
	rec->cols = h->cols;
	rec->nfields = rc == ADP_OK ? h->nf : 0;
	return rc;
}

static size_t csv_names(struct adapter_handle *ah, const char *const **names)
{
	struct csv_handle *h = H(ah);

	*names = h->namev;
	return h->nnames;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

static int csv_probe(const unsigned char *head, size_t len, const char *name)
{
	size_t i = 0, j;
	int delims = 0;

	if (len >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && (head[i] == ' ' || head[i] == '\t' ||
			   head[i] == '\r' || head[i] == '\n'))
		i++;
	if (i < len && head[i] == '<')
		return 0;
	if (memchr(head, '\0', len))
		return 0;
	if (name && (ends_with(name, ".csv") || ends_with(name, ".txt")))
		return 50;
	for (j = i; j < len && head[j] != '\n' && head[j] != '\r'; j++)
		if (head[j] == ',' || head[j] == '\t' || head[j] == ';' ||
		    head[j] == '|')
			delims++;
	return delims ? 50 : 0;
}

const struct adapter csv_adapter = {
	.name = "csv",
	.probe = csv_probe,
	.open = csv_open,
	.next = csv_next,
	.names = csv_names,
	.close = csv_close,
};
