/*
 * xprofile: export profiles (xprofile.h). The parser, the row masker, the
 * export at the centre and the import at the platform.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "home.h"
#include "mask.h"
#include "sha256.h"
#include "xlog.h"
#include "xprofile.h"
#include "pgx.h"

#define SQL_CAP (1 << 20)
#define MAX_COLS 128

/* ---- the profile ------------------------------------------------------------ */

void xprofile_init(struct xprofile *p)
{
	memset(p, 0, sizeof(*p));
}

void xprofile_free(struct xprofile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ncats; i++) {
		free(p->cats[i].on);
		free(p->cats[i].mask);
	}
	free(p->cats);
	xprofile_init(p);
}

const struct xprofile_cat *xprofile_cat(const struct xprofile *p,
					const char *name)
{
	for (size_t i = 0; i < p->ncats; i++)
		if (!strcmp(p->cats[i].cat->name, name))
			return &p->cats[i];
	return NULL;
}

static int perr(struct tmerr *err, const char *name, long line,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int perr(struct tmerr *err, const char *name, long line,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tmerr_vset(err, TMERR_MAPPING, fmt, ap);
	va_end(ap);
	tmerr_where(err, name, line, 0);
	return -1;
}

/* Splits line (modified) into at most max words; a word starting with '#'
 * ends the line. Returns the count, or max + 1 when there are more. */
static size_t split_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

static const struct {
	const char *name;
	enum xmask m;
} mask_kinds[] = {
	{ "id", XMASK_ID }, { "phone", XMASK_PHONE },
	{ "name", XMASK_NAME }, { "generic", XMASK_GENERIC },
};

static int valid_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return 0;
	return 1;
}

static int add_category(struct xprofile *p, const struct defs *d,
			const char *name, long line, char **w, size_t nw,
			struct tmerr *err)
{
	const struct category_def *c = defs_category(d, w[1]);
	struct xprofile_cat *pc;

	if (!c)
		return perr(err, name, line, "unknown category \"%.64s\"", w[1]);
	if (xprofile_cat(p, c->name))
		return perr(err, name, line, "category \"%s\" is given twice", c->name);
	if (nw < 3)
		return perr(err, name, line,
			    "category \"%s\" lists no fields (name them, or \"*\" for all)",
			    c->name);
	pc = &p->cats[p->ncats];
	pc->cat = c;
	pc->line = line;
	pc->on = calloc(c->nfields, 1);
	pc->mask = calloc(c->nfields, 1);
	p->ncats++;
	if (!pc->on || !pc->mask)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	if (nw == 3 && !strcmp(w[2], "*")) {
		for (size_t i = 0; i < c->nfields; i++)
			pc->on[i] = !c->fields[i].extra;
		return 0;
	}
	for (size_t i = 2; i < nw; i++) {
		int f = category_field(c, w[i]);

		if (!strcmp(w[i], "*"))
			return perr(err, name, line,
				    "\"*\" must be the only field of category \"%s\"",
				    c->name);
		if (f < 0 || c->fields[f].extra)
			return perr(err, name, line,
				    "category \"%s\" has no field \"%.64s\"",
				    c->name, w[i]);
		if (pc->on[f])
			return perr(err, name, line,
				    "field \"%s.%s\" is given twice", c->name, w[i]);
		pc->on[f] = 1;
	}
	for (size_t k = 0; k < c->nkeys; k++)
		if (!pc->on[c->keys[k]])
			return perr(err, name, line,
				    "category \"%s\" lacks its key field \"%s\" (rows cannot be matched without it)",
				    c->name, c->fields[c->keys[k]].name);
	return 0;
}

static int set_mask(struct xprofile_cat *pc, const char *field,
		    enum xmask m, const char *name, long line,
		    struct tmerr *err)
{
	const struct category_def *c = pc->cat;
	int f = category_field(c, field);

	if (f < 0 || !pc->on[f])
		return perr(err, name, line,
			    "field \"%s.%.64s\" is not exported, so it cannot be masked",
			    c->name, field);
	if (c->fields[f].key && strcmp(field, "id_number"))
		return perr(err, name, line,
			    "key field \"%s.%s\" cannot be masked (rows could no longer be matched)",
			    c->name, field);
	if (pc->mask[f])
		return perr(err, name, line, "field \"%s.%s\" is masked twice",
			    c->name, field);
	pc->mask[f] = (unsigned char)m;
	return 0;
}

static int add_mask(struct xprofile *p, const char *name, long line,
		    char **w, size_t nw, struct tmerr *err)
{
	char *dot = nw == 3 ? strchr(w[1], '.') : NULL;
	enum xmask m = XMASK_NONE;
	size_t hits = 0;

	if (!dot || dot == w[1] || !dot[1])
		return perr(err, name, line,
			    "want \"mask CATEGORY.FIELD id|phone|name|generic\"");
	*dot = '\0';
	for (size_t i = 0; i < sizeof(mask_kinds) / sizeof(mask_kinds[0]); i++)
		if (!strcmp(w[2], mask_kinds[i].name))
			m = mask_kinds[i].m;
	if (m == XMASK_NONE)
		return perr(err, name, line,
			    "unknown mask \"%.32s\" (want id, phone, name or generic)",
			    w[2]);
	if (strcmp(w[1], "*")) {
		const struct xprofile_cat *pc = xprofile_cat(p, w[1]);

		if (!pc)
			return perr(err, name, line,
				    "category \"%.64s\" is not exported (list it on a \"category\" line before its masks)",
				    w[1]);
		return set_mask((struct xprofile_cat *)pc, dot + 1, m, name,
				line, err);
	}
	for (size_t i = 0; i < p->ncats; i++) {
		int f = category_field(p->cats[i].cat, dot + 1);

		if (f < 0 || !p->cats[i].on[f])
			continue;
		if (set_mask(&p->cats[i], dot + 1, m, name, line, err))
			return -1;
		hits++;
	}
	if (!hits)
		return perr(err, name, line,
			    "no exported category has a field \"%.64s\"", dot + 1);
	return 0;
}

static int add_scope(struct xprofile *p, const struct defs *d,
		     const char *name, long line, char **w, size_t nw,
		     int *seen_prov, int *seen_set, struct tmerr *err)
{
	if (nw == 2 && !strcmp(w[1], "all")) {
		if (*seen_prov)
			return perr(err, name, line, "the province scope is given twice");
		*seen_prov = 1;
		return 0;
	}
	if (nw >= 3 && !strcmp(w[1], "province")) {
		if (*seen_prov)
			return perr(err, name, line, "the province scope is given twice");
		*seen_prov = 1;
		for (size_t i = 2; i < nw; i++) {
			const char *v = w[i];

			if (strlen(v) != 2 || v[0] < '1' || v[0] > '9' ||
			    v[1] < '0' || v[1] > '9')
				return perr(err, name, line,
					    "bad province \"%.16s\" (want two digits, e.g. 41)",
					    v);
			for (size_t k = 0; k < p->nprovs; k++)
				if (!strcmp(p->provs[k], v))
					return perr(err, name, line,
						    "province \"%s\" is given twice", v);
			if (p->nprovs == XPROFILE_MAX_PROVS)
				return perr(err, name, line, "more than %d provinces",
					    XPROFILE_MAX_PROVS);
			memcpy(p->provs[p->nprovs++], v, 3);
		}
		return 0;
	}
	if (nw >= 3 && !strcmp(w[1], "indicator_set")) {
		if (*seen_set)
			return perr(err, name, line,
				    "the indicator_set scope is given twice");
		*seen_set = 1;
		for (size_t i = 2; i < nw; i++) {
			const struct indicator_set *s = defs_set(d, w[i]);

			if (!s)
				return perr(err, name, line,
					    "unknown indicator set \"%.64s\"", w[i]);
			for (size_t k = 0; k < p->nsets; k++)
				if (p->sets[k] == s->name)
					return perr(err, name, line,
						    "indicator set \"%s\" is given twice",
						    s->name);
			if (p->nsets == XPROFILE_MAX_SETS)
				return perr(err, name, line,
					    "more than %d indicator sets",
					    XPROFILE_MAX_SETS);
			p->sets[p->nsets++] = s->name;
		}
		return 0;
	}
	return perr(err, name, line,
		    "want \"scope all\", \"scope province PP...\" or \"scope indicator_set SET...\"");
}

static int cmp_cat(const void *a, const void *b)
{
	const struct xprofile_cat *x = a, *y = b;

	return (x->cat->index > y->cat->index) - (x->cat->index < y->cat->index);
}

/* The checks that need the whole file; categories into defs order. */
static int finish(struct xprofile *p, const char *name, long lines,
		  struct tmerr *err)
{
	size_t masked = 0;

	if (!*p->platform)
		return perr(err, name, lines, "no \"platform\" line");
	if (!p->ncats)
		return perr(err, name, lines, "no \"category\" line: nothing would be exported");
	for (size_t i = 0; i < p->ncats; i++) {
		int f = category_field(p->cats[i].cat, "id_number");

		if (f >= 0 && p->cats[i].mask[f])
			masked++;
	}
	if (masked && masked != p->ncats) {
		for (size_t i = 0; i < p->ncats; i++) {
			int f = category_field(p->cats[i].cat, "id_number");

			if (f >= 0 && !p->cats[i].mask[f])
				return perr(err, name, p->cats[i].line,
					    "id_number is masked in some categories but not in \"%s\" (mask it everywhere, e.g. \"mask *.id_number id\")",
					    p->cats[i].cat->name);
		}
	}
	p->pseudonym = masked > 0;
	qsort(p->cats, p->ncats, sizeof(*p->cats), cmp_cat);
	return 0;
}

static int parse_line(struct xprofile *p, const struct defs *d,
		      const char *name, long ln, char *line, int *seen_prov,
		      int *seen_set, struct tmerr *err)
{
	char *w[MAX_COLS + 2];
	size_t nw = split_words(line, w, MAX_COLS + 1);

	if (!nw)
		return 0;
	if (nw > MAX_COLS + 1)
		return perr(err, name, ln, "too many words on a line");
	if (!strcmp(w[0], "platform")) {
		if (*p->platform)
			return perr(err, name, ln, "\"platform\" is given twice");
		if (nw != 2 || !home_org_valid(w[1]))
			return perr(err, name, ln,
				    "want \"platform ORG\" (6 characters 0-9 A-Z)");
		snprintf(p->platform, sizeof(p->platform), "%s", w[1]);
		return 0;
	}
	if (!strcmp(w[0], "name")) {
		struct buf b = BUF_INIT(sizeof(p->name) - 1);
		int rc = 0;

		if (*p->name)
			return perr(err, name, ln, "\"name\" is given twice");
		for (size_t i = 1; i < nw && !rc; i++)
			rc = buf_addstr(&b, i > 1 ? " " : "") || buf_addstr(&b, w[i]);
		if (rc || nw < 2) {
			buf_release(&b);
			return perr(err, name, ln, nw < 2 ? "\"name\" needs a text" :
				    "the name is longer than %zu bytes",
				    sizeof(p->name) - 1);
		}
		snprintf(p->name, sizeof(p->name), "%s", b.ptr);
		buf_release(&b);
		return 0;
	}
	if (!strcmp(w[0], "category")) {
		if (nw < 2)
			return perr(err, name, ln, "want \"category CATEGORY FIELD... | *\"");
		return add_category(p, d, name, ln, w, nw, err);
	}
	if (!strcmp(w[0], "mask"))
		return add_mask(p, name, ln, w, nw, err);
	if (!strcmp(w[0], "scope"))
		return add_scope(p, d, name, ln, w, nw, seen_prov, seen_set, err);
	return perr(err, name, ln,
		    "unknown directive \"%.32s\" (want platform, name, category, mask or scope)",
		    valid_word(w[0], 32) ? w[0] : "?");
}

int xprofile_parse(struct xprofile *p, const struct defs *d, const char *name,
		   const char *text, size_t len, struct tmerr *err)
{
	char line[XPROFILE_MAX_LINE + 1];
	int seen_prov = 0, seen_set = 0;
	size_t at = 0;
	long ln = 0;

	xprofile_init(p);
	snprintf(p->path, sizeof(p->path), "%s", name);
	if (len > XPROFILE_MAX_BYTES) {
		tmerr_set(err, TMERR_LIMIT, "profile is larger than %d bytes",
			  XPROFILE_MAX_BYTES);
		tmerr_where(err, name, 0, 0);
		return -1;
	}
	p->cats = calloc(d->ncats ? d->ncats : 1, sizeof(*p->cats));
	if (!p->cats)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;

		ln++;
		if (n && text[at + n - 1] == '\r')
			n--;
		if (n > XPROFILE_MAX_LINE) {
			perr(err, name, ln, "line is longer than %d bytes",
			     XPROFILE_MAX_LINE);
			goto fail;
		}
		if (memchr(text + at, '\0', n)) {
			perr(err, name, ln, "line holds a NUL byte");
			goto fail;
		}
		memcpy(line, text + at, n);
		line[n] = '\0';
		at += nl ? (size_t)(nl - (text + at)) + 1 : n;
		if (parse_line(p, d, name, ln, line, &seen_prov, &seen_set, err))
			goto fail;
	}
	if (!finish(p, name, ln, err))
		return 0;
fail:
	xprofile_free(p);
	return -1;
}

int xprofile_read(struct xprofile *p, const struct defs *d, const char *path,
		  struct tmerr *err)
{
	struct buf b = BUF_INIT(XPROFILE_MAX_BYTES);
	char chunk[16384];
	size_t n;
	FILE *f;
	int rc;

	xprofile_init(p);
	f = fopen(path, "rb");
	if (!f) {
		tmerr_set(err, errno == ENOENT ? TMERR_USAGE : TMERR_SYS,
			  "cannot open export profile \"%s\": %s", path,
			  strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n)) {
			fclose(f);
			buf_release(&b);
			tmerr_set(err, TMERR_LIMIT, "profile is larger than %d bytes",
				  XPROFILE_MAX_BYTES);
			tmerr_where(err, path, 0, 0);
			return -1;
		}
	if (ferror(f)) {
		fclose(f);
		buf_release(&b);
		return tmerr_set(err, TMERR_SYS, "cannot read \"%s\"", path);
	}
	fclose(f);
	rc = xprofile_parse(p, d, path, b.ptr, b.len, err);
	buf_release(&b);
	return rc;
}

int xprofile_load(struct xprofile *p, const struct defs *d, const char *org,
		  struct tmerr *err)
{
	char path[4096];

	xprofile_init(p);
	if (!org || !home_org_valid(org))
		return tmerr_set(err, TMERR_USAGE,
				 "bad platform code \"%.20s\" (want 6 characters 0-9 A-Z)",
				 org ? org : "");
	if ((size_t)snprintf(path, sizeof(path), "%s/profiles/%s.profile",
			     d->dir ? d->dir : defs_default_dir(), org) >= sizeof(path))
		return tmerr_set(err, TMERR_SYS, "profile path too long");
	if (access(path, F_OK))
		return tmerr_set(err, TMERR_USAGE,
				 "no export profile for \"%s\" (\"%s\" does not exist)",
				 org, path);
	if (xprofile_read(p, d, path, err))
		return -1;
	if (strcmp(p->platform, org)) {
		tmerr_set(err, TMERR_MAPPING,
			  "profile \"%s\" is for platform \"%s\", not \"%s\"", path,
			  p->platform, org);
		xprofile_free(p);
		return -1;
	}
	return 0;
}

/* ---- rows -------------------------------------------------------------------- */

int xprofile_header(const struct xprofile *p, const struct xprofile_cat *pc,
		    struct buf *out)
{
	const struct category_def *c = pc->cat;

	if (p->pseudonym)
		buf_addstr(out, XPROFILE_REF ",");
	for (size_t i = 0; i < c->nfields; i++)
		if (pc->on[i])
			buf_addf(out, "%s,", c->fields[i].name);
	return buf_addstr(out, "op\n");
}

void xprofile_ref(const unsigned char secret[32], const char *platform,
		  const char *id_type, size_t tl, const char *id_number,
		  size_t nl, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char pad[64], inner[SHA256_LEN], mac[SHA256_LEN];
	struct sha256 s;

	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < 32; i++)
		pad[i] ^= secret[i];
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, platform, strlen(platform) + 1);
	sha256_update(&s, id_type, tl);
	sha256_update(&s, "", 1);
	sha256_update(&s, id_number, nl);
	sha256_final(&s, inner);
	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < 32; i++)
		pad[i] ^= secret[i];
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, inner, sizeof(inner));
	sha256_final(&s, mac);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[32] = '\0';
}

struct span {
	const char *p;   /* raw bytes, quotes included */
	size_t n;
	int quoted;
};

/* Splits one CSV record into raw spans; -1 if malformed. */
static int split_csv(const char *row, size_t n, struct span *sp, size_t max,
		     size_t *count)
{
	size_t i = 0, k = 0;

	while (n && (row[n - 1] == '\n' || row[n - 1] == '\r'))
		n--;
	for (;;) {
		size_t start = i;

		if (k == max)
			return -1;
		if (i < n && row[i] == '"') {
			for (i++;; i++) {
				if (i >= n)
					return -1;
				if (row[i] == '"') {
					if (i + 1 < n && row[i + 1] == '"') {
						i++;
						continue;
					}
					i++;
					break;
				}
			}
			sp[k].quoted = 1;
		} else {
			while (i < n && row[i] != ',') {
				if (row[i] == '"')
					return -1;
				i++;
			}
			sp[k].quoted = 0;
		}
		sp[k].p = row + start;
		sp[k].n = i - start;
		k++;
		if (i == n)
			break;
		if (row[i] != ',')
			return -1;
		i++;
	}
	*count = k;
	return 0;
}

/* The value of a span, unquoted, into v. */
static int span_value(const struct span *s, struct buf *v)
{
	buf_reset(v);
	if (!s->quoted)
		return buf_add(v, s->p, s->n);
	for (size_t i = 1; i + 1 < s->n; i++) {
		if (s->p[i] == '"')
			i++;
		if (buf_addch(v, s->p[i]))
			return -1;
	}
	return 0;
}

static int add_csv_value(struct buf *out, const char *v, size_t n)
{
	if (n && !memchr(v, ',', n) && !memchr(v, '"', n) &&
	    !memchr(v, '\n', n) && !memchr(v, '\r', n))
		return buf_add(out, v, n);
	if (buf_addch(out, '"'))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((v[i] == '"' && buf_addch(out, '"')) || buf_addch(out, v[i]))
			return -1;
	return buf_addch(out, '"');
}

int xprofile_row(const struct xprofile *p, const struct xprofile_cat *pc,
		 const unsigned char secret[32], const char *row, size_t n,
		 struct buf *out, struct tmerr *err)
{
	const struct category_def *c = pc->cat;
	struct span sp[MAX_COLS];
	struct buf v = BUF_INIT(XPROFILE_MAX_ROW);
	char masked[1024];
	size_t ns, want = 1, k = 0;
	int fi_type = -1, fi_num = -1, rc = -1, full = 0;

	for (size_t i = 0; i < c->nfields; i++)
		if (pc->on[i]) {
			if (!strcmp(c->fields[i].name, "id_type"))
				fi_type = (int)want - 1;
			else if (!strcmp(c->fields[i].name, "id_number"))
				fi_num = (int)want - 1;
			want++;
		}
	if (split_csv(row, n, sp, MAX_COLS, &ns) || ns != want)
		return tmerr_set(err, TMERR_INPUT,
				 "malformed row from the database for \"%s\"", c->name);
	if (p->pseudonym) {
		char ref[33], type[16];

		if (fi_type < 0 || fi_num < 0 || span_value(&sp[fi_type], &v) ||
		    v.len >= sizeof(type))
			goto bad;
		memcpy(type, v.ptr, v.len + 1);
		if (span_value(&sp[fi_num], &v))
			goto limit;
		xprofile_ref(secret, p->platform, type, strlen(type), v.ptr,
			     v.len, ref);
		full |= buf_addstr(out, ref) | buf_addch(out, ',');
	}
	for (size_t i = 0; i < c->nfields; i++) {
		if (!pc->on[i])
			continue;
		if (!pc->mask[i] || !sp[k].n) {
			/* unmasked, or NULL: as COPY wrote it */
			full |= buf_add(out, sp[k].p, sp[k].n);
		} else {
			if (span_value(&sp[k], &v))
				goto limit;
			switch (pc->mask[i]) {
			case XMASK_ID:
				mask_id(v.ptr, v.len, masked, sizeof(masked));
				break;
			case XMASK_PHONE:
				mask_phone(v.ptr, v.len, masked, sizeof(masked));
				break;
			case XMASK_NAME:
				mask_name(v.ptr, v.len, masked, sizeof(masked));
				break;
			default:
				mask_generic(v.ptr, v.len, masked, sizeof(masked));
			}
			full |= add_csv_value(out, masked, strlen(masked));
		}
		full |= buf_addch(out, ',');
		k++;
	}
	full |= buf_add(out, sp[k].p, sp[k].n) | buf_addch(out, '\n');
	if (full)
		goto limit;
	rc = 0;
	goto out;
bad:
	tmerr_set(err, TMERR_INPUT, "malformed row from the database for \"%s\"",
		  c->name);
	goto out;
limit:
	tmerr_set(err, TMERR_LIMIT, "a row of \"%s\" is longer than %d bytes",
		  c->name, XPROFILE_MAX_ROW);
out:
	buf_release(&v);
	return rc;
}

/* ---- database helpers ----------------------------------------------------------- */

/* ---- the export ------------------------------------------------------------------ */

/* The centre's pseudonym secret, made once (its own statement). */
static int ensure_secret(PGconn *conn, struct tmerr *err)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char raw[32];
	char hex[65];
	const char *v[1] = { hex };
	PGresult *r;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
		if (fd >= 0)
			close(fd);
		return tmerr_set(err, TMERR_SYS, "cannot read /dev/urandom");
	}
	close(fd);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = hexd[raw[i] >> 4];
		hex[2 * i + 1] = hexd[raw[i] & 15];
	}
	hex[64] = '\0';
	r = pgx_query(conn, "INSERT INTO tmis.export_secret (id, secret) "
			"VALUES (1, decode($1, 'hex')) ON CONFLICT DO NOTHING",
		  1, v, err, "making the export secret");
	memset(raw, 0, sizeof(raw));
	memset(hex, 0, sizeof(hex));
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

static int read_secret(PGconn *conn, unsigned char secret[32],
		       struct tmerr *err)
{
	PGresult *r = pgx_query(conn, "SELECT secret FROM tmis.export_secret WHERE id = 1",
			    0, NULL, err, "reading the export secret");
	unsigned char *b;
	size_t n;

	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return tmerr_set(err, TMERR_DB, "tmis.export_secret holds no secret");
	}
	b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &n);
	PQclear(r);
	if (!b || n != 32) {
		PQfreemem(b);
		return tmerr_set(err, TMERR_DB, "tmis.export_secret holds a bad secret");
	}
	memcpy(secret, b, 32);
	PQfreemem(b);
	return 0;
}

/* The COPY of pc's rows in (since, upto] within p's scope. */
static int build_copy(PGconn *conn, struct buf *q, const struct xprofile *p,
		      const struct xprofile_cat *pc, long long since,
		      long long upto)
{
	const struct category_def *c = pc->cat;
	const char *live = c->multi ? "current" : "reported";
	const char *t = c->multi ? "t" : "x";
	int k = 0;

	buf_addstr(q, "COPY (SELECT ");
	for (size_t i = 0; i < c->nfields; i++) {
		const struct field_def *f = &c->fields[i];

		if (!pc->on[i])
			continue;
		buf_addstr(q, k++ ? ", " : "");
		if (!f->key)
			buf_addf(q, "CASE WHEN x.%s THEN ", live);
		buf_addf(q, "x.\"%s\"%s", f->name, f->type == FT_BOOL ? "::text" : "");
		if (!f->key)
			buf_addstr(q, " END");
	}
	buf_addf(q, ", CASE WHEN x.%s THEN 'upsert' ELSE 'delete' END", live);
	buf_addf(q, " FROM tmis.\"%s\" x", c->name);
	if (c->multi && (p->nprovs || p->nsets))
		buf_addstr(q, " JOIN tmis.teacher t ON t.id_type = x.id_type "
			      "AND t.id_number = x.id_number");
	buf_addf(q, " WHERE x.change_no > %lld AND x.change_no <= %lld", since, upto);
	if (!since)
		buf_addf(q, " AND x.%s", live);
	if (p->nprovs) {
		buf_addf(q, " AND substr(%s.school_code, 3, 2) IN (", t);
		for (size_t i = 0; i < p->nprovs; i++)
			buf_addf(q, "%s'%s'", i ? ", " : "", p->provs[i]);
		buf_addch(q, ')');
	}
	if (p->nsets) {
		buf_addf(q, " AND %s.indicator_set IN (", t);
		for (size_t i = 0; i < p->nsets; i++) {
			char *lit = PQescapeLiteral(conn, p->sets[i],
						    strlen(p->sets[i]));

			if (!lit)
				return -1;
			buf_addf(q, "%s%s", i ? ", " : "", lit);
			PQfreemem(lit);
		}
		buf_addch(q, ')');
	}
	buf_addstr(q, " ORDER BY ");
	for (size_t i = 0; i < c->nkeys; i++)
		buf_addf(q, "%sx.\"%s\"", i ? ", " : "", c->fields[c->keys[i]].name);
	return buf_addstr(q, ") TO STDOUT (FORMAT csv)");
}

struct row_sink {
	const struct xprofile *p;
	const struct xprofile_cat *pc;
	const unsigned char *secret;
	struct buf line;
	FILE *f;
	const char *path;
};

static int sink_row(void *arg, const char *row, size_t n, struct tmerr *err)
{
	struct row_sink *s = arg;

	buf_reset(&s->line);
	if (xprofile_row(s->p, s->pc, s->secret, row, n, &s->line, err))
		return -1;
	if (fwrite(s->line.ptr, 1, s->line.len, s->f) != s->line.len)
		return tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s",
				 s->path, strerror(errno));
	return 0;
}

/* Writes pc's export file at path (new, 0600): the header, then the rows. */
static int export_file(PGconn *conn, const struct xprofile *p,
		       const struct xprofile_cat *pc,
		       const unsigned char secret[32], long long since,
		       long long upto, const char *path, long long *rows,
		       struct tmerr *err)
{
	struct buf q = BUF_INIT(SQL_CAP);
	struct row_sink s = { p, pc, secret, BUF_INIT(XPROFILE_MAX_ROW + 1024),
			      NULL, path };
	int fd, rc = -1;

	*rows = 0;
	if (build_copy(conn, &q, p, pc, since, upto) || xprofile_header(p, pc, &s.line)) {
		tmerr_set(err, TMERR_SYS, "out of memory building the query for \"%s\"",
			  pc->cat->name);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(s.f = fdopen(fd, "w"))) {
		tmerr_set(err, TMERR_SYS, "cannot create \"%s\": %s", path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (fwrite(s.line.ptr, 1, s.line.len, s.f) != s.line.len) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", path,
			  strerror(errno));
		goto out;
	}
	if (export_copy(conn, q.ptr, sink_row, &s, rows, err))
		goto out;
	if (fflush(s.f)) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", path,
			  strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (s.f && fclose(s.f) && !rc)
		rc = tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", path,
			       strerror(errno));
	buf_release(&s.line);
	buf_release(&q);
	return rc;
}

static int export_txn(PGconn *conn, const struct gw_home *h,
		      const struct xprofile *p, long long since,
		      const char *out, const char *work, char **paths,
		      struct xexport_result *res, struct tmerr *err)
{
	struct buf q = BUF_INIT(SQL_CAP);
	unsigned char secret[32];
	const char *v[1] = { p->platform };
	long long seq, rows;
	struct xlog_entry e;
	int rc = -1;

	buf_addstr(&q, "LOCK TABLE tmis.teacher");
	for (size_t i = 0; i < p->ncats; i++)
		if (strcmp(p->cats[i].cat->name, "teacher"))
			buf_addf(&q, ", tmis.\"%s\"", p->cats[i].cat->name);
	if (buf_addstr(&q, " IN SHARE MODE; SET LOCAL DateStyle = ISO")) {
		tmerr_set(err, TMERR_SYS, "out of memory building the lock statement");
		goto out;
	}
	if (pgx_exec(conn, q.ptr, err, "locking the tables to export") ||
	    read_secret(conn, secret, err) ||
	    pgx_query_ll(conn, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
			   "FROM tmis.change_no_seq", 0, NULL, &res->upto, err,
		     "reading the change number") ||
	    pgx_query_ll(conn, "SELECT count(*) + 1 FROM tmis.exchange_log WHERE "
			   "direction = 'out' AND event = 'export' AND partner = $1",
		     1, v, &seq, err, "counting the platform's exports"))
		goto out;
	if (since > res->upto) {
		tmerr_set(err, TMERR_USAGE,
			  "change number %lld is ahead of this database, which is at %lld",
			  since, res->upto);
		goto out;
	}
	res->since = since;
	for (size_t i = 0; i < p->ncats; i++) {
		const struct xprofile_cat *pc = &p->cats[i];

		if (asprintf(&paths[i], "%s/%s.csv", work, pc->cat->name) < 0) {
			paths[i] = NULL;
			tmerr_set(err, TMERR_SYS, "out of memory");
			goto out;
		}
		if (export_file(conn, p, pc, secret, since, res->upto, paths[i],
				&rows, err))
			goto out;
	}
	/* package_manifest() makes full and delta ones: adjust the kind */
	if (package_manifest(h, &res->m, p->platform, "delta", seq,
			     (const char *const *)paths, p->ncats, err))
		goto out;
	snprintf(res->m.kind, sizeof(res->m.kind), "export");
	res->m.changes_since = res->since;
	res->m.changes_upto = res->upto;
	if (package_write(h, &res->m, (const char *const *)paths, out, &res->pkg,
			  err))
		goto out;
	for (size_t i = 0; i < res->m.nfiles; i++)
		res->records += res->m.files[i].records;
	xlog_entry_init(&e);
	e.direction = "out";
	e.event = "export";
	e.partner = p->platform;
	e.package_id = res->m.id;
	e.sequence = seq;
	e.kind = "export";
	e.bytes = (long long)res->pkg.bytes;
	e.sha256 = res->pkg.sha256;
	e.signer_fpr = res->pkg.signer;
	e.loaded = res->records;
	e.outcome = "exported";
	if (xlog_append(conn, &e, &res->log_id, err) ||
	    pgx_exec(conn, "COMMIT", err, "committing the export")) {
		unlink(res->pkg.path);
		goto out;
	}
	rc = 0;
out:
	memset(secret, 0, sizeof(secret));
	buf_release(&q);
	return rc;
}

int xprofile_export(PGconn *conn, const struct gw_home *h,
		    const struct defs *d, const struct xprofile *p,
		    long long since, const char *out,
		    struct xexport_result *res, struct tmerr *err)
{
	char work[PATH_MAX] = "", **paths = NULL;
	const char *v[1] = { p->platform };
	PGresult *r;
	int rc = -1, locked = 0;

	(void)d;
	memset(res, 0, sizeof(*res));
	manifest_init(&res->m);
	if (!*h->org)
		return tmerr_set(err, TMERR_USAGE,
				 "gateway home \"%s\" has no organisation (\"tmisgw keys init\" sets it)",
				 h->dir);
	if (!strcmp(p->platform, h->org))
		return tmerr_set(err, TMERR_USAGE,
				 "platform \"%s\" is this gateway's own organisation",
				 p->platform);
	if (since < 0)
		return tmerr_set(err, TMERR_USAGE,
				 "bad change number %lld (want 0 or more)", since);
	if (!out)
		return tmerr_set(err, TMERR_USAGE, "no output given");
	if (!p->ncats || p->ncats > MANIFEST_MAX_FILES)
		return tmerr_set(err, TMERR_MAPPING, "the profile holds %zu categories",
				 p->ncats);
	paths = calloc(p->ncats, sizeof(*paths));
	if (!paths)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	if (ensure_secret(conn, err))
		goto out;
	/* one export per platform at a time: sequences stay distinct */
	r = pgx_query(conn, "SELECT pg_advisory_lock(hashtext('tmisgw export ' || $1))",
		  1, v, err, "locking the platform's exports");
	if (!r)
		goto out;
	PQclear(r);
	locked = 1;
	if (snprintf(work, sizeof(work), "%s/xexport.XXXXXX", h->spool) >=
	    (int)sizeof(work) || !mkdtemp(work)) {
		tmerr_set(err, TMERR_SYS, "cannot make a work directory in \"%s\": %s",
			  h->spool, strerror(errno));
		*work = '\0';
		goto out;
	}
	if (pgx_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", err,
		    "starting the export transaction"))
		goto out;
	rc = export_txn(conn, h, p, since, out, work, paths, res, err);
out:
	pgx_rollback(conn);
	if (locked)
		PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock(hashtext('tmisgw export ' || $1))",
				     1, NULL, v, NULL, NULL, 0));
	home_rm_tree(work);
	for (size_t i = 0; i < p->ncats; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

/* ---- the import ---------------------------------------------------------------- */

int xprofile_pull_since(PGconn *conn, const char *partner, long long *since,
			struct tmerr *err)
{
	const char *v[1] = { partner };

	return pgx_query_ll(conn, "SELECT coalesce((SELECT changes_upto FROM tmis.pull_state "
			      "WHERE partner = $1), 0)", 1, v, since, err,
			"reading tmis.pull_state");
}

void ximport_result_free(struct ximport_result *res)
{
	if (res->verified)
		package_info_free(&res->info);
	res->verified = 0;
}

/* The refusal's log entry, after rolling back, in its own statement. */
static void log_refusal(PGconn *conn, const struct ximport_result *res,
			const char *outcome, struct tmerr *err)
{
	struct xlog_entry e;
	struct tmerr le;
	char msg[512];

	pgx_rollback(conn);
	xlog_entry_received(&e, "import", res->verified ? &res->info : NULL);
	tmerr_clear(&le);
	tmerr_format(err, msg, sizeof(msg));
	e.outcome = outcome;
	e.error = msg;
	if (xlog_append(conn, &e, NULL, &le)) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n,
			 " (and it could not be logged: %s)", le.msg);
	}
}

/* Copies src to dst, a new file of mode 0600, fsynced. */
static int copy_new(const char *src, const char *dst, struct tmerr *err)
{
	char buf[64 * 1024];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;

	if (in < 0)
		goto fail;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto fail;
			off += w;
		}
	if (n < 0 || fsync(out))
		goto fail;
	rc = 0;
	goto done;
fail:
	tmerr_set(err, TMERR_SYS, "cannot copy \"%s\" to \"%s\": %s", src, dst,
		  strerror(errno));
done:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !rc)
		rc = tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", dst,
			       strerror(errno));
	return rc;
}

/* Reads the header of the CSV at path into cols (names checked against c). */
static int read_header(const char *path, const struct category_def *c,
		       char cols[MAX_COLS][64], size_t *ncols, int *has_op,
		       int *has_ref, struct tmerr *err)
{
	char line[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;
	char *p, *tok, *save;

	*has_op = *has_ref = 0;
	if (!f)
		return tmerr_set(err, TMERR_SYS, "cannot read \"%s\": %s", path,
				 strerror(errno));
	if (!fgets(line, sizeof(line), f) || !strchr(line, '\n')) {
		fclose(f);
		return tmerr_set(err, TMERR_INPUT, "file of \"%s\" has no header line",
				 c->name);
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	for (p = line; (tok = strtok_r(p, ",", &save)); p = NULL) {
		int known = !strcmp(tok, "op") || !strcmp(tok, XPROFILE_REF);

		if (!known) {
			int fi = category_field(c, tok);

			known = fi >= 0 && !c->fields[fi].extra;
		}
		if (!known || !valid_word(tok, 63))
			return tmerr_set(err, TMERR_INPUT,
					 "the file of \"%s\" has a column \"%.64s\" the schema does not define",
					 c->name, tok);
		for (size_t k = 0; k < n; k++)
			if (!strcmp(cols[k], tok))
				return tmerr_set(err, TMERR_INPUT,
						 "the file of \"%s\" repeats column \"%s\"",
						 c->name, tok);
		if (n == MAX_COLS)
			return tmerr_set(err, TMERR_INPUT, "too many columns");
		snprintf(cols[n++], 64, "%s", tok);
		*has_op |= !strcmp(tok, "op");
		*has_ref |= !strcmp(tok, XPROFILE_REF);
	}
	for (size_t k = 0; k < c->nkeys; k++) {
		const char *kn = c->fields[c->keys[k]].name;
		size_t i;

		for (i = 0; i < n && strcmp(cols[i], kn); i++)
			;
		if (i == n)
			return tmerr_set(err, TMERR_INPUT,
					 "the file of \"%s\" lacks key column \"%s\"",
					 c->name, kn);
	}
	*ncols = n;
	return 0;
}

/* COPY the file at path into the stage table. */
static int copy_in(PGconn *conn, const char *sql, const char *path,
		   struct tmerr *err)
{
	char buf[64 * 1024];
	PGresult *r = PQexec(conn, sql);
	size_t n;
	FILE *f;

	if (PQresultStatus(r) != PGRES_COPY_IN)
		return pgx_fail(conn, r, err, "staging a file");
	PQclear(r);
	f = fopen(path, "rb");
	if (!f) {
		PQputCopyEnd(conn, "tmisgw: cannot read the file");
		while ((r = PQgetResult(conn)))
			PQclear(r);
		return tmerr_set(err, TMERR_SYS, "cannot read \"%s\"", path);
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (PQputCopyData(conn, buf, (int)n) != 1)
			break;
	fclose(f);
	if (PQputCopyEnd(conn, NULL) != 1) {
		pgx_fail(conn, NULL, err, "staging a file");
		while ((r = PQgetResult(conn)))
			PQclear(r);
		return -1;
	}
	r = PQgetResult(conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgx_fail(conn, r, err, "staging a file");
		while ((r = PQgetResult(conn)))
			PQclear(r);
		return tmerr_set(err, TMERR_INPUT, "%s", err->msg);
	}
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);
	return 0;
}

/* Applies the file of category c at path to tmis.pull_record. */
static int apply_file(PGconn *conn, const struct category_def *c,
		      const char *partner, const char *upto, const char *path,
		      struct ximport_cat *ic, struct tmerr *err)
{
	char cols[MAX_COLS][64];
	size_t ncols = 0;
	int has_op = 0, has_ref = 0, rc = -1;
	struct buf q = BUF_INIT(SQL_CAP), key = BUF_INIT(SQL_CAP);
	const char *v[3] = { partner, c->name, upto };
	long long bad;
	PGresult *r;

	if (read_header(path, c, cols, &ncols, &has_op, &has_ref, err))
		return -1;
	buf_addstr(&q, "CREATE TEMP TABLE tmisgw_pull (");
	for (size_t i = 0; i < ncols; i++)
		buf_addf(&q, "\"%s\" text, ", cols[i]);
	buf_addstr(&q, "_line bigserial) ON COMMIT DROP");
	buf_addstr(&key, "json_build_array(");
	if (has_ref)
		buf_addstr(&key, "s.\"" XPROFILE_REF "\"");
	for (size_t k = 0, n = has_ref; k < c->nkeys; k++) {
		const char *kn = c->fields[c->keys[k]].name;

		if (has_ref && (!strcmp(kn, "id_type") || !strcmp(kn, "id_number")))
			continue;
		buf_addf(&key, "%ss.\"%s\"", n++ ? ", " : "", kn);
	}
	if (buf_addstr(&key, ")::text")) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto out;
	}
	if (pgx_exec(conn, q.ptr, err, "making the stage table"))
		goto out;
	buf_reset(&q);
	buf_addstr(&q, "COPY tmisgw_pull (");
	for (size_t i = 0; i < ncols; i++)
		buf_addf(&q, "%s\"%s\"", i ? ", " : "", cols[i]);
	buf_addstr(&q, ") FROM STDIN (FORMAT csv, HEADER true)");
	if (copy_in(conn, q.ptr, path, err))
		goto out;
	if (has_op) {
		if (pgx_query_ll(conn, "SELECT count(*) FROM tmisgw_pull WHERE op IS NULL "
				   "OR op NOT IN ('upsert', 'delete')", 0, NULL, &bad,
			     err, "checking the ops"))
			goto out;
		if (bad) {
			tmerr_set(err, TMERR_INPUT,
				  "the file of \"%s\" has %lld rows whose op is neither upsert nor delete",
				  c->name, bad);
			goto out;
		}
		buf_reset(&q);
		buf_addf(&q, "WITH d AS (SELECT %s AS k FROM tmisgw_pull s WHERE op = 'delete') "
			     "DELETE FROM tmis.pull_record r USING d WHERE r.partner = $1 "
			     "AND r.category = $2 AND r.key = d.k", key.ptr);
		r = pgx_query(conn, q.ptr, 2, v, err, "applying deletes");
		if (!r)
			goto out;
		ic->deletes = atoll(PQcmdTuples(r));
		PQclear(r);
	}
	buf_reset(&q);
	buf_addf(&q, "INSERT INTO tmis.pull_record (partner, category, key, data, changes_upto) "
		     "SELECT DISTINCT ON (k) $1, $2, k, d, $3::bigint FROM (SELECT %s AS k, "
		     "to_jsonb(s) - '_line' - 'op' AS d, _line FROM tmisgw_pull s%s) q "
		     "ORDER BY k, _line DESC ON CONFLICT (partner, category, key) DO UPDATE "
		     "SET data = EXCLUDED.data, changes_upto = EXCLUDED.changes_upto, "
		     "updated_at = now()", key.ptr,
		 has_op ? " WHERE op = 'upsert'" : "");
	if (pgx_query_ll(conn, "SELECT count(*) FROM tmisgw_pull", 0, NULL, &ic->records,
		     err, "counting staged rows"))
		goto out;
	r = pgx_query(conn, q.ptr, 3, v, err, "applying upserts");
	if (!r)
		goto out;
	ic->upserts = atoll(PQcmdTuples(r));
	PQclear(r);
	rc = pgx_exec(conn, "DROP TABLE tmisgw_pull", err, "dropping the stage table");
out:
	buf_release(&q);
	buf_release(&key);
	return rc;
}

/* Checks 4 of an export: kind, window, files. TMERR_INPUT. */
static int check_export(const struct ximport_opts *o, const struct manifest *m,
			struct tmerr *err)
{
	if (o->expect_sender && strcmp(m->sender, o->expect_sender))
		return tmerr_set(err, TMERR_INPUT,
				 "check 2 (sender): the export comes from \"%s\", not \"%s\"",
				 m->sender, o->expect_sender);
	if (strcmp(m->kind, "export"))
		return tmerr_set(err, TMERR_INPUT,
				 "check 4 (kind): a package of kind \"%s\" is not imported (load it with \"tmisgw load\")",
				 m->kind);
	if (m->changes_since < 0 || m->changes_upto < m->changes_since)
		return tmerr_set(err, TMERR_INPUT,
				 "check 4 (changes): the export does not say its change window");
	if (m->nfiles > sizeof(((struct ximport_result *)0)->cats) /
			sizeof(struct ximport_cat))
		return tmerr_set(err, TMERR_INPUT, "check 4 (files): too many files");
	for (size_t i = 0; i < m->nfiles; i++) {
		if (strcmp(m->files[i].format, "csv") ||
		    !defs_category(o->defs, m->files[i].category))
			return tmerr_set(err, TMERR_INPUT,
					 "check 5 (schema): file \"%s\" is not canonical CSV of a category the schema defines",
					 m->files[i].name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->files[i].category, m->files[j].category))
				return tmerr_set(err, TMERR_INPUT,
						 "check 4 (files): two files of category \"%s\"",
						 m->files[i].category);
	}
	return 0;
}

/* Everything after BEGIN. */
static int import_txn(PGconn *conn, const struct ximport_opts *o,
		      const char *xdir, struct ximport_result *res,
		      int *refused, struct tmerr *err)
{
	const struct manifest *m = &res->info.m;
	char since[24], upto[24], seq[24], nrec[24];
	const char *v[8] = { m->sender, m->id, since, upto, res->info.sha256,
			     o->files_dir ? "files" : "db", nrec, seq };
	struct xlog_entry e;
	PGresult *r;

	snprintf(since, sizeof(since), "%lld", m->changes_since);
	snprintf(upto, sizeof(upto), "%lld", m->changes_upto);
	snprintf(seq, sizeof(seq), "%lld", m->sequence);
	r = pgx_query(conn, "SELECT pg_advisory_xact_lock(hashtext('tmisgw pull ' || $1))",
		  1, v, err, "locking the partner's pulls");
	if (!r)
		return -1;
	PQclear(r);
	if (xprofile_pull_since(conn, m->sender, &res->previous, err))
		return -1;
	r = pgx_query(conn, "SELECT changes_since, changes_upto FROM tmis.pull_package "
			"WHERE partner = $1 AND package_id = $2", 2, v, err,
		  "looking the package up");
	if (!r)
		return -1;
	if (PQntuples(r)) {
		tmerr_set(err, TMERR_INPUT,
			  "check 4 (replay): export \"%s\" from %s (changes %s to %s) was imported before; refused",
			  m->id, m->sender, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		PQclear(r);
		*refused = 1;
		return -1;
	}
	PQclear(r);
	if (m->changes_since && m->changes_since != res->previous) {
		*refused = 1;
		return tmerr_set(err, TMERR_INPUT,
				 "check 4 (changes): the export holds changes after %lld but %lld were imported from %s; %s (pull again from %lld)",
				 m->changes_since, res->previous, m->sender,
				 m->changes_since > res->previous ? "a gap" : "a replay",
				 res->previous);
	}
	if (!m->changes_since && m->changes_upto < res->previous) {
		*refused = 1;
		return tmerr_set(err, TMERR_INPUT,
				 "check 4 (changes): the export is a snapshot at %lld, older than the %lld imported from %s; refused",
				 m->changes_upto, res->previous, m->sender);
	}
	if (o->files_dir) {
		if ((size_t)snprintf(res->files, sizeof(res->files), "%s/%s",
				     o->files_dir, m->id) >= sizeof(res->files) ||
		    mkdir(res->files, 0700)) {
			tmerr_set(err, TMERR_SYS, "cannot make \"%s\": %s", res->files,
				  strerror(errno));
			*res->files = '\0';
			return -1;
		}
	} else if (!m->changes_since) {
		/* a snapshot replaces everything held from the sender */
		r = pgx_query(conn, "DELETE FROM tmis.pull_record WHERE partner = $1", 1, v,
			  err, "clearing the partner's records");
		if (!r)
			return -1;
		PQclear(r);
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct mfile *f = &m->files[i];
		struct ximport_cat *ic = &res->cats[res->ncats++];
		char src[4400], dst[4400];

		snprintf(ic->category, sizeof(ic->category), "%s", f->category);
		snprintf(src, sizeof(src), "%s/%s", xdir, f->name);
		if (o->files_dir) {
			snprintf(dst, sizeof(dst), "%s/%s.csv", res->files, f->category);
			if (copy_new(src, dst, err))
				return -1;
			ic->records = f->records;
		} else if (apply_file(conn, defs_category(o->defs, f->category),
				      m->sender, upto, src, ic, err)) {
			if (err->code == TMERR_INPUT)
				*refused = 1;
			return -1;
		}
		res->records += ic->records;
		res->upserts += ic->upserts;
		res->deletes += ic->deletes;
	}
	if (o->files_dir) {
		char src[4400], dst[4400];

		snprintf(src, sizeof(src), "%s/%s", xdir, MANIFEST_NAME);
		snprintf(dst, sizeof(dst), "%s/%s", res->files, MANIFEST_NAME);
		if (copy_new(src, dst, err))
			return -1;
	}
	snprintf(nrec, sizeof(nrec), "%lld", res->records);
	r = pgx_query(conn, "INSERT INTO tmis.pull_package (partner, package_id, sequence, "
			"changes_since, changes_upto, sha256, mode, records) "
			"VALUES ($1, $2, $8, $3, $4, $5, $6, $7)", 8, v, err,
		  "recording the package");
	if (!r)
		return -1;
	PQclear(r);
	v[2] = upto;
	v[3] = res->info.sha256;
	r = pgx_query(conn, "INSERT INTO tmis.pull_state (partner, changes_upto, package_id, sha256) "
			"VALUES ($1, $3, $2, $4) ON CONFLICT (partner) DO UPDATE SET "
			"changes_upto = EXCLUDED.changes_upto, package_id = EXCLUDED.package_id, "
			"sha256 = EXCLUDED.sha256, pulled_at = now()", 4, v, err,
		  "recording the change number");
	if (!r)
		return -1;
	PQclear(r);
	res->state = o->files_dir ? "written" : "imported";
	xlog_entry_received(&e, "import", &res->info);
	e.loaded = res->records;
	e.outcome = res->state;
	if (xlog_append(conn, &e, NULL, err))
		return -1;
	return pgx_exec(conn, "COMMIT", err, "committing the import");
}

int xprofile_import(PGconn *conn, const struct gw_home *h, const char *path,
		    const struct ximport_opts *o, struct ximport_result *res,
		    struct tmerr *err)
{
	char work[PATH_MAX] = "", xdir[PATH_MAX + 8];
	int refused = 1, rc = -1;

	memset(res, 0, sizeof(*res));
	res->state = "refused";
	if (o->files_dir) {
		struct stat st;

		if (stat(o->files_dir, &st) || !S_ISDIR(st.st_mode))
			return tmerr_set(err, TMERR_USAGE,
					 "\"%s\" is not a directory", o->files_dir);
	}
	if (snprintf(work, sizeof(work), "%s/ximport.XXXXXX", h->spool) >=
	    (int)sizeof(work) || !mkdtemp(work))
		return tmerr_set(err, TMERR_SYS,
				 "cannot make a work directory in \"%s\": %s",
				 h->spool, strerror(errno));
	snprintf(xdir, sizeof(xdir), "%s/p", work);
	if (package_verify(h, path, NULL, xdir, &res->info, err))
		goto refuse;
	res->verified = 1;
	res->since = res->info.m.changes_since;
	res->upto = res->info.m.changes_upto;
	if (check_export(o, &res->info.m, err))
		goto refuse;
	if (pgx_exec(conn, "BEGIN", err, "starting the import transaction"))
		goto out;
	refused = 0;
	if (!import_txn(conn, o, xdir, res, &refused, err)) {
		rc = 0;
		goto out;
	}
	if (!refused) {
		res->state = "failed";
		goto out;
	}
refuse:
	if (err->code == TMERR_INPUT || err->code == TMERR_LIMIT)
		log_refusal(conn, res, "refused", err);
	else
		res->state = "failed";
out:
	pgx_rollback(conn);
	if (rc && *res->files)
		home_rm_tree(res->files);
	home_rm_tree(work);
	return rc;
}
