/*
 * manifest: manifest.xml of an exchange package. The writer prints only
 * values manifest_check() has accepted, whose character sets need no
 * escaping; the parser reads through libxml2 into the same struct and then
 * runs the same manifest_check(), so both sides enforce one set of rules.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define PATH_MAX_LEN 96

static const char *const kinds[] = { "full", "delta", "export", "receipt" };
static const char *const outcomes[] = { "accepted", "accepted-with-rejects",
					"rejected" };

/* ---- the model ------------------------------------------------------------ */

void manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->changes_since = -1;
	m->changes_upto = -1;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	free(m->files);
	free(m->counts);
	manifest_init(m);
}

struct mfile *manifest_add_file(struct manifest *m, struct tmerr *err)
{
	struct mfile *v, *f;

	if (m->nfiles >= MANIFEST_MAX_FILES) {
		tmerr_set(err, TMERR_LIMIT, "manifest lists more than %d files",
			  MANIFEST_MAX_FILES);
		return NULL;
	}
	v = realloc(m->files, (m->nfiles + 1) * sizeof(*v));
	if (!v) {
		tmerr_set(err, TMERR_SYS, "out of memory building a manifest");
		return NULL;
	}
	m->files = v;
	f = &v[m->nfiles++];
	memset(f, 0, sizeof(*f));
	f->records = -1;
	return f;
}

struct mcount *manifest_add_count(struct manifest *m, struct tmerr *err)
{
	struct mcount *v, *c;

	if (m->ncounts >= MANIFEST_MAX_FILES) {
		tmerr_set(err, TMERR_LIMIT, "manifest holds more than %d counts",
			  MANIFEST_MAX_FILES);
		return NULL;
	}
	v = realloc(m->counts, (m->ncounts + 1) * sizeof(*v));
	if (!v) {
		tmerr_set(err, TMERR_SYS, "out of memory building a manifest");
		return NULL;
	}
	m->counts = v;
	c = &v[m->ncounts++];
	memset(c, 0, sizeof(*c));
	c->received = c->loaded = c->rejected = -1;
	return c;
}

const struct mfile *manifest_find(const struct manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].name, name))
			return &m->files[i];
	return NULL;
}

/* ---- syntax --------------------------------------------------------------- */

static int all_in(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define DIGITS "0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define NAMECHARS DIGITS LOWER UPPER "._-"

int manifest_valid_id(const char *s)
{
	size_t n = strlen(s);

	return n >= 8 && n <= MANIFEST_ID_MAX && all_in(s, DIGITS "abcdef-");
}

int manifest_valid_org(const char *s)
{
	return strlen(s) == MANIFEST_ORG_LEN && all_in(s, DIGITS UPPER);
}

int manifest_valid_sha256(const char *s)
{
	return strlen(s) == 64 && all_in(s, DIGITS "abcdef");
}

int manifest_valid_name(const char *s)
{
	const char *base = strncmp(s, "data/", 5) ? s : s + 5;
	size_t n = strlen(s);

	if (!*base || n > 255 || !all_in(base, NAMECHARS))
		return 0;
	if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(s, "data"))
		return 0;
	return strcmp(s, MANIFEST_NAME) != 0;
}

static int valid_category(const char *s)
{
	return *s && all_in(s, DIGITS LOWER "_");
}

static int valid_schema(const char *s)
{
	return *s && all_in(s, NAMECHARS "/");
}

static int two(const char *s, int lo, int hi)
{
	int v;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return 0;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v >= lo && v <= hi;
}

/* xsd:dateTime with a mandatory zone: 2026-11-28T02:00:00[.123]+08:00 */
static int valid_created(const char *s)
{
	const char *p;

	if (strlen(s) < 20 || !all_in(s, DIGITS "-:T.Z+") ||
	    strspn(s, DIGITS) != 4 || s[4] != '-' || !two(s + 5, 1, 12) ||
	    s[7] != '-' || !two(s + 8, 1, 31) || s[10] != 'T' ||
	    !two(s + 11, 0, 23) || s[13] != ':' || !two(s + 14, 0, 59) ||
	    s[16] != ':' || !two(s + 17, 0, 60))
		return 0;
	p = s + 19;
	if (*p == '.') {
		size_t k = strspn(++p, DIGITS);

		if (k == 0 || k > 9)
			return 0;
		p += k;
	}
	if (!strcmp(p, "Z"))
		return 1;
	return (p[0] == '+' || p[0] == '-') && two(p + 1, 0, 14) &&
	       p[3] == ':' && two(p + 4, 0, 59) && p[6] == '\0';
}

static int one_of(const char *s, const char *const *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return 1;
	return 0;
}

/* ---- checks --------------------------------------------------------------- */

/* Fills err for the element or attribute at path; returns -1. */
static int bad(struct tmerr *err, const char *path, const char *value,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int bad(struct tmerr *err, const char *path, const char *value,
	       const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tmerr_set(err, TMERR_INPUT, "manifest: %s %s", path, what);
	str_copy_utf8(err->path, sizeof(err->path), path, strlen(path));
	if (value)
		tmerr_value(err, value, strlen(value));
	return -1;
}

static int check_file(const struct mfile *f, size_t i, struct tmerr *err)
{
	char p[PATH_MAX_LEN];

#define AT(attr) (snprintf(p, sizeof(p), "/package/file[%zu]/@" attr, i + 1), p)
	if (!manifest_valid_name(f->name))
		return bad(err, AT("name"), f->name,
			   "\"%.256s\" is not data/NAME or NAME of [A-Za-z0-9._-] (nor \"manifest.xml\")",
			   f->name);
	if (!valid_category(f->category))
		return bad(err, AT("category"), f->category,
			   "\"%.64s\" is not a category name ([a-z0-9_]+)",
			   f->category);
	if (strcmp(f->format, "csv") && strcmp(f->format, "xml"))
		return bad(err, AT("format"), f->format,
			   "\"%.8s\" is neither \"csv\" nor \"xml\"", f->format);
	if (f->records < 0)
		return bad(err, AT("records"), NULL, "is missing or negative");
	if (!manifest_valid_sha256(f->sha256))
		return bad(err, AT("sha256"), f->sha256,
			   "is not 64 lowercase hex digits");
#undef AT
	return 0;
}

static int check_count(const struct mcount *c, size_t i, struct tmerr *err)
{
	char p[PATH_MAX_LEN];

	snprintf(p, sizeof(p), "/package/receipt/count[%zu]", i + 1);
	if (!manifest_valid_name(c->name))
		return bad(err, p, c->name, "names \"%.256s\", not a payload file name",
			   c->name);
	if (c->received < 0 || c->loaded < 0 || c->rejected < 0)
		return bad(err, p, NULL,
			   "lacks a received, loaded or rejected count, or one is negative");
	return 0;
}

int manifest_check(const struct manifest *m, struct tmerr *err)
{
	size_t i, j;
	char p[PATH_MAX_LEN];

	if (!manifest_valid_id(m->id))
		return bad(err, "/package/@id", m->id,
			   "\"%.64s\" is not an id of 8 to 64 [0-9a-f-]", m->id);
	if (!manifest_valid_org(m->sender))
		return bad(err, "/package/sender/@org", m->sender,
			   "\"%.16s\" is not an organisation code (6 of [0-9A-Z])",
			   m->sender);
	if (!manifest_valid_org(m->recipient))
		return bad(err, "/package/recipient/@org", m->recipient,
			   "\"%.16s\" is not an organisation code (6 of [0-9A-Z])",
			   m->recipient);
	if (!valid_created(m->created))
		return bad(err, "/package/created", m->created,
			   "\"%.40s\" is not a date and time with zone (YYYY-MM-DDThh:mm:ss+hh:mm)",
			   m->created);
	if (!one_of(m->kind, kinds, 4))
		return bad(err, "/package/kind", m->kind,
			   "\"%.16s\" is not full, delta, export or receipt",
			   m->kind);
	if (m->sequence < 1)
		return bad(err, "/package/sequence", NULL,
			   "is missing or not a whole number of at least 1");
	if (!valid_schema(m->schema))
		return bad(err, "/package/schema", m->schema,
			   "\"%.64s\" is not a schema name ([A-Za-z0-9._/-]+)",
			   m->schema);
	if (m->changes_since != -1 || m->changes_upto != -1) {
		if (strcmp(m->kind, "export"))
			return bad(err, "/package/changes", NULL,
				   "is only allowed in an export package");
		if (m->changes_since < 0 || m->changes_upto < m->changes_since)
			return bad(err, "/package/changes", NULL,
				   "needs since >= 0 and upto >= since");
	}
	if (m->nfiles > MANIFEST_MAX_FILES || m->ncounts > MANIFEST_MAX_FILES)
		return bad(err, "/package", NULL, "lists more than %d files",
			   MANIFEST_MAX_FILES);
	for (i = 0; i < m->nfiles; i++) {
		if (check_file(&m->files[i], i, err))
			return -1;
		for (j = 0; j < i; j++)
			if (!strcmp(m->files[i].name, m->files[j].name)) {
				snprintf(p, sizeof(p), "/package/file[%zu]/@name", i + 1);
				return bad(err, p, m->files[i].name,
					   "\"%.256s\" is listed twice (also file[%zu])",
					   m->files[i].name, j + 1);
			}
	}
	if (strcmp(m->kind, "receipt")) {
		if (m->original_id[0] || m->original_sha256[0] ||
		    m->outcome[0] || m->ncounts)
			return bad(err, "/package/receipt", NULL,
				   "is only allowed in a receipt package");
		return 0;
	}
	if (!manifest_valid_id(m->original_id))
		return bad(err, "/package/receipt/@of", m->original_id,
			   "\"%.64s\" is not a package id", m->original_id);
	if (!manifest_valid_sha256(m->original_sha256))
		return bad(err, "/package/receipt/@sha256", m->original_sha256,
			   "is not 64 lowercase hex digits");
	if (!one_of(m->outcome, outcomes, 3))
		return bad(err, "/package/receipt/@outcome", m->outcome,
			   "\"%.32s\" is not accepted, accepted-with-rejects or rejected",
			   m->outcome);
	for (i = 0; i < m->ncounts; i++) {
		if (check_count(&m->counts[i], i, err))
			return -1;
		for (j = 0; j < i; j++)
			if (!strcmp(m->counts[i].name, m->counts[j].name)) {
				snprintf(p, sizeof(p), "/package/receipt/count[%zu]", i + 1);
				return bad(err, p, m->counts[i].name,
					   "counts \"%.256s\" twice", m->counts[i].name);
			}
	}
	return 0;
}

/* ---- writer --------------------------------------------------------------- */

int manifest_write(const struct manifest *m, struct buf *out,
		   struct tmerr *err)
{
	size_t i, start = out->len;
	int r;

	if (manifest_check(m, err))
		return -1;
	r = buf_addf(out,
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<package xmlns=\"%s\" version=\"1\" id=\"%s\">\n"
		     "  <sender org=\"%s\"/>\n"
		     "  <recipient org=\"%s\"/>\n"
		     "  <created>%s</created>\n"
		     "  <kind>%s</kind>\n"
		     "  <sequence>%lld</sequence>\n"
		     "  <schema>%s</schema>\n",
		     MANIFEST_NS, m->id, m->sender, m->recipient, m->created,
		     m->kind, m->sequence, m->schema);
	if (!r && m->changes_since >= 0)
		r = buf_addf(out, "  <changes since=\"%lld\" upto=\"%lld\"/>\n",
			     m->changes_since, m->changes_upto);
	if (!r && !strcmp(m->kind, "receipt")) {
		r = buf_addf(out,
			     "  <receipt of=\"%s\" sha256=\"%s\" outcome=\"%s\">\n",
			     m->original_id, m->original_sha256, m->outcome);
		for (i = 0; !r && i < m->ncounts; i++)
			r = buf_addf(out,
				     "    <count name=\"%s\" received=\"%lld\" loaded=\"%lld\" rejected=\"%lld\"/>\n",
				     m->counts[i].name, m->counts[i].received,
				     m->counts[i].loaded, m->counts[i].rejected);
		if (!r)
			r = buf_addstr(out, "  </receipt>\n");
	}
	for (i = 0; !r && i < m->nfiles; i++) {
		const struct mfile *f = &m->files[i];

		r = buf_addf(out,
			     "  <file name=\"%s\" category=\"%s\" format=\"%s\" records=\"%lld\"\n"
			     "        bytes=\"%llu\" sha256=\"%s\"/>\n",
			     f->name, f->category, f->format, f->records,
			     f->bytes, f->sha256);
	}
	if (!r)
		r = buf_addstr(out, "</package>\n");
	if (r) {
		buf_setlen(out, start);
		return tmerr_set(err, r == BUF_TOOBIG ? TMERR_LIMIT : TMERR_SYS,
				 "cannot write manifest \"%s\": %s", m->id,
				 r == BUF_TOOBIG ? "buffer limit reached" : "out of memory");
	}
	return 0;
}

/* ---- parser --------------------------------------------------------------- */

static int is_ws(const char *s)
{
	return s[strspn(s, " \t\r\n")] == '\0';
}

static int in_ns(const xmlNode *n)
{
	return n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, MANIFEST_NS);
}

/* Refuses attributes other than those in allowed (NULL-terminated). */
static int only_attrs(const xmlNode *n, const char *const *allowed,
		      const char *path, struct tmerr *err)
{
	const xmlAttr *a;
	size_t i;

	for (a = n->properties; a; a = a->next) {
		const char *name = (const char *)a->name;

		for (i = 0; !a->ns && allowed[i]; i++)
			if (!strcmp(name, allowed[i]))
				break;
		if (a->ns || !allowed[i])
			return bad(err, path, NULL, "has an unknown attribute \"%.64s\"",
				   name);
	}
	return 0;
}

/* Copies attribute name of n into dst; a missing one is "". */
static int get_attr(const xmlNode *n, const char *name, char *dst, size_t dstsz,
		    const char *path, struct tmerr *err)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	char p[PATH_MAX_LEN];
	size_t len;

	dst[0] = '\0';
	if (!v)
		return 0;
	len = strlen((const char *)v);
	if (len >= dstsz) {
		snprintf(p, sizeof(p), "%s/@%s", path, name);
		bad(err, p, (const char *)v, "is longer than %zu bytes", dstsz - 1);
		xmlFree(v);
		return -1;
	}
	memcpy(dst, v, len + 1);
	xmlFree(v);
	return 0;
}

/* A whole number without sign or blanks; -1 if absent, -2 if not a number. */
static long long to_num(const char *s)
{
	long long v = 0;

	if (!*s)
		return -1;
	if (strlen(s) > 18 || !all_in(s, DIGITS))
		return -2;
	for (; *s; s++)
		v = v * 10 + (*s - '0');
	return v;
}

static int num_attr(const xmlNode *n, const char *name, long long *v,
		    const char *path, struct tmerr *err)
{
	char s[32], p[PATH_MAX_LEN];

	if (get_attr(n, name, s, sizeof(s), path, err))
		return -1;
	*v = to_num(s);
	if (*v == -2) {
		snprintf(p, sizeof(p), "%s/@%s", path, name);
		return bad(err, p, s, "\"%s\" is not a whole number", s);
	}
	return 0;
}

/* The text of a leaf element, trimmed of blanks. */
static int get_text(const xmlNode *n, char *dst, size_t dstsz,
		    const char *path, struct tmerr *err)
{
	const xmlNode *c;
	size_t len = 0, k;
	const char *s;

	dst[0] = '\0';
	if (n->properties)
		return bad(err, path, NULL, "has attributes");
	for (c = n->children; c; c = c->next) {
		if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
			continue;
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			return bad(err, path, NULL, "must hold text only");
		s = (const char *)c->content;
		k = s ? strlen(s) : 0;
		if (len + k >= dstsz)
			return bad(err, path, NULL, "is longer than %zu bytes",
				   dstsz - 1);
		memcpy(dst + len, s, k);
		len += k;
		dst[len] = '\0';
	}
	s = dst + strspn(dst, " \t\r\n");
	len = strlen(s);
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	memmove(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int no_children(const xmlNode *n, const char *path, struct tmerr *err)
{
	const xmlNode *c;

	for (c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE ||
		    ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		     c->content && !is_ws((const char *)c->content)) ||
		    c->type == XML_ENTITY_REF_NODE)
			return bad(err, path, NULL, "must be empty");
	return 0;
}

static int parse_file(const xmlNode *n, struct manifest *m, struct tmerr *err)
{
	static const char *const attrs[] = { "name", "category", "format",
					     "records", "bytes", "sha256", NULL };
	char path[PATH_MAX_LEN], s[32];
	struct mfile *f;
	long long v;

	snprintf(path, sizeof(path), "/package/file[%zu]", m->nfiles + 1);
	if (m->nfiles >= MANIFEST_MAX_FILES) {
		bad(err, path, NULL, "is one file too many (at most %d)",
		    MANIFEST_MAX_FILES);
		err->code = TMERR_LIMIT;
		return -1;
	}
	f = manifest_add_file(m, err);
	if (!f || only_attrs(n, attrs, path, err) || no_children(n, path, err) ||
	    get_attr(n, "name", f->name, sizeof(f->name), path, err) ||
	    get_attr(n, "category", f->category, sizeof(f->category), path, err) ||
	    get_attr(n, "format", f->format, sizeof(f->format), path, err) ||
	    get_attr(n, "sha256", f->sha256, sizeof(f->sha256), path, err) ||
	    num_attr(n, "records", &f->records, path, err) ||
	    get_attr(n, "bytes", s, sizeof(s), path, err))
		return -1;
	v = to_num(s);
	if (v < 0) {
		strcat(path, "/@bytes");
		return bad(err, path, s, "is missing or not a whole number");
	}
	f->bytes = (unsigned long long)v;
	return 0;
}

static int parse_receipt(const xmlNode *n, struct manifest *m,
			 struct tmerr *err)
{
	static const char *const attrs[] = { "of", "sha256", "outcome", NULL };
	static const char *const cattrs[] = { "name", "received", "loaded",
					      "rejected", NULL };
	const char *path = "/package/receipt";
	const xmlNode *c;
	char p[PATH_MAX_LEN];

	if (only_attrs(n, attrs, path, err) ||
	    get_attr(n, "of", m->original_id, sizeof(m->original_id), path, err) ||
	    get_attr(n, "sha256", m->original_sha256, sizeof(m->original_sha256),
		     path, err) ||
	    get_attr(n, "outcome", m->outcome, sizeof(m->outcome), path, err))
		return -1;
	for (c = n->children; c; c = c->next) {
		struct mcount *k;

		if (c->type != XML_ELEMENT_NODE) {
			if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
			    c->content && !is_ws((const char *)c->content))
				return bad(err, path, NULL, "holds stray text");
			if (c->type == XML_ENTITY_REF_NODE)
				return bad(err, path, NULL, "holds an entity reference");
			continue;
		}
		snprintf(p, sizeof(p), "%s/count[%zu]", path, m->ncounts + 1);
		if (!in_ns(c) || strcmp((const char *)c->name, "count"))
			return bad(err, p, NULL, "is \"%.64s\", not a count element",
				   (const char *)c->name);
		k = manifest_add_count(m, err);
		if (!k || only_attrs(c, cattrs, p, err) || no_children(c, p, err) ||
		    get_attr(c, "name", k->name, sizeof(k->name), p, err) ||
		    num_attr(c, "received", &k->received, p, err) ||
		    num_attr(c, "loaded", &k->loaded, p, err) ||
		    num_attr(c, "rejected", &k->rejected, p, err))
			return -1;
	}
	return 0;
}

enum { E_SENDER, E_RECIPIENT, E_CREATED, E_KIND, E_SEQUENCE, E_SCHEMA,
       E_CHANGES, E_RECEIPT, E_N };

static const char *const singles[E_N] = { "sender", "recipient", "created",
					  "kind", "sequence", "schema",
					  "changes", "receipt" };

static int parse_child(const xmlNode *c, struct manifest *m, int *seen,
		       struct tmerr *err)
{
	static const char *const org[] = { "org", NULL };
	static const char *const chg[] = { "since", "upto", NULL };
	const char *name = (const char *)c->name;
	char path[PATH_MAX_LEN], s[32];
	int e;

	if (!in_ns(c))
		return bad(err, "/package", NULL,
			   "holds \"%.64s\", an element outside " MANIFEST_NS,
			   name);
	if (!strcmp(name, "file"))
		return parse_file(c, m, err);
	for (e = 0; e < E_N; e++)
		if (!strcmp(name, singles[e]))
			break;
	if (e == E_N)
		return bad(err, "/package", NULL, "holds an unknown element \"%.64s\"",
			   name);
	snprintf(path, sizeof(path), "/package/%s", name);
	if (seen[e]++)
		return bad(err, path, NULL, "appears twice");
	switch (e) {
	case E_SENDER:
	case E_RECIPIENT:
		if (only_attrs(c, org, path, err) || no_children(c, path, err))
			return -1;
		return e == E_SENDER ?
		       get_attr(c, "org", m->sender, sizeof(m->sender), path, err) :
		       get_attr(c, "org", m->recipient, sizeof(m->recipient), path, err);
	case E_CREATED:
		return get_text(c, m->created, sizeof(m->created), path, err);
	case E_KIND:
		return get_text(c, m->kind, sizeof(m->kind), path, err);
	case E_SEQUENCE:
		if (get_text(c, s, sizeof(s), path, err))
			return -1;
		m->sequence = to_num(s);
		if (m->sequence < 0)
			return bad(err, path, s, "\"%s\" is not a whole number", s);
		return 0;
	case E_SCHEMA:
		return get_text(c, m->schema, sizeof(m->schema), path, err);
	case E_CHANGES:
		if (only_attrs(c, chg, path, err) || no_children(c, path, err) ||
		    num_attr(c, "since", &m->changes_since, path, err) ||
		    num_attr(c, "upto", &m->changes_upto, path, err))
			return -1;
		if (m->changes_since < 0 || m->changes_upto < 0)
			return bad(err, path, NULL, "needs both since and upto");
		return 0;
	default:
		return parse_receipt(c, m, err);
	}
}

static int parse_package(const xmlNode *root, struct manifest *m,
			 struct tmerr *err)
{
	static const char *const attrs[] = { "version", "id", NULL };
	static const int required[] = { E_SENDER, E_RECIPIENT, E_CREATED,
					E_KIND, E_SEQUENCE, E_SCHEMA };
	int seen[E_N] = { 0 };
	char version[8];
	const xmlNode *c;
	size_t i;

	if (!root || strcmp((const char *)root->name, "package") || !in_ns(root))
		return bad(err, "/", NULL,
			   "root element is not a package in namespace " MANIFEST_NS);
	if (only_attrs(root, attrs, "/package", err) ||
	    get_attr(root, "version", version, sizeof(version), "/package", err) ||
	    get_attr(root, "id", m->id, sizeof(m->id), "/package", err))
		return -1;
	if (strcmp(version, "1"))
		return bad(err, "/package/@version", version,
			   "is \"%s\", not \"1\"", version);
	for (c = root->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			if (parse_child(c, m, seen, err))
				return -1;
		} else if ((c->type == XML_TEXT_NODE ||
			    c->type == XML_CDATA_SECTION_NODE) &&
			   c->content && !is_ws((const char *)c->content)) {
			return bad(err, "/package", NULL, "holds stray text");
		} else if (c->type == XML_ENTITY_REF_NODE) {
			return bad(err, "/package", NULL, "holds an entity reference");
		}
	}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!seen[required[i]])
			return bad(err, "/package", NULL, "lacks its %s element",
				   singles[required[i]]);
	if (!strcmp(m->kind, "receipt") && !seen[E_RECEIPT])
		return bad(err, "/package", NULL,
			   "is a receipt but lacks its receipt element");
	return 0;
}

int manifest_parse(const char *xml, size_t n, struct manifest *m,
		   struct tmerr *err)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int rc;

	manifest_init(m);
	if (n > MANIFEST_MAX_BYTES) {
		tmerr_set(err, TMERR_LIMIT,
			  "manifest: larger than %d bytes", MANIFEST_MAX_BYTES);
		return -1;
	}
	if (memchr(xml, '\0', n))
		return bad(err, "/", NULL, "is not UTF-8 text (it holds NUL bytes)");
	if (memmem(xml, n, "<!DOCTYPE", 9) || memmem(xml, n, "<!ENTITY", 8))
		return bad(err, "/", NULL,
			   "holds a DOCTYPE or entity declaration, which is not allowed");
	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return tmerr_set(err, TMERR_SYS, "out of memory parsing a manifest");
	doc = xmlCtxtReadMemory(ctxt, xml, (int)n, MANIFEST_NAME, "UTF-8",
				XML_PARSE_NONET | XML_PARSE_NOERROR |
				XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[200] = "unknown error";
		size_t k;

		if (e && e->message) {
			str_copy_utf8(msg, sizeof(msg), e->message, strlen(e->message));
			k = strlen(msg);
			while (k && msg[k - 1] == '\n')
				msg[--k] = '\0';
		}
		tmerr_set(err, TMERR_INPUT, "manifest: malformed XML at line %d: %s",
			  e ? e->line : 0, msg);
		xmlFreeParserCtxt(ctxt);
		return -1;
	}
	if (doc->intSubset || doc->extSubset)
		rc = bad(err, "/", NULL, "has a DOCTYPE, which is not allowed");
	else
		rc = parse_package(xmlDocGetRootElement(doc), m, err);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if (!rc)
		rc = manifest_check(m, err);
	if (rc)
		manifest_free(m);
	return rc;
}

/* ---- ids ------------------------------------------------------------------ */

int manifest_uuid(char out[37], struct tmerr *err)
{
	unsigned char r[16];
	size_t got = 0;
	ssize_t k;
	int fd, i;
	char *p = out;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tmerr_set(err, TMERR_SYS, "cannot open \"/dev/urandom\": %s",
				 strerror(errno));
	while (got < sizeof(r)) {
		k = read(fd, r + got, sizeof(r) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(fd);
			return tmerr_set(err, TMERR_SYS,
					 "cannot read \"/dev/urandom\": %s",
					 k ? strerror(errno) : "end of file");
		}
		got += (size_t)k;
	}
	close(fd);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", r[i]);
	}
	return 0;
}
