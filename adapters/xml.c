/*
 * xml: the streaming XML adapter, over libxml2's SAX2 push parser fed in
 * XML_CHUNK pieces from a struct input (never a tree of the document).
 *
 * Hardened: a DOCTYPE is refused as soon as the parser meets it (so no
 * entity is ever declared, expanded or loaded), external entities are
 * refused per parser, no network, no XInclude, UTF-16/UTF-32 refused and the
 * declared encoding must be UTF-8 or the GB family. Depth, name length,
 * attribute count, text node, value and record sizes are capped, on top of
 * libxml2's own default limits (XML_PARSE_HUGE is never set). Any violation
 * or malformation is ADP_FATAL naming file, line and element path: an XML
 * file broken midway is refused whole.
 *
 * Records are the elements at opts->record_path ("/a/b" from the root, or
 * "//b" anywhere outside another record); fields are opts->paths relative
 * to the record ("c", "c/d", "@x", "c/@x"), prefixes bound by opts->ns_*.
 * A field's value is the element's own text and CDATA children (not text
 * inside its child elements), or the attribute's value; NULL when absent,
 * "" when present and empty; the first occurrence in a record wins.
 *
 * Memory: one read chunk, a path stack capped at XML_MAX_DEPTH, and a queue
 * of records finished by the last chunk, bounded by the chunk size and
 * record_cap. libxml2 itself buffers at most one token (its 10 MB lookup
 * limit). Everything lives in the handle.
 */
#include "adapter.h"

#include "../etl/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#define XML_CHUNK (64 * 1024)
#define XML_HEAD 4096           /* bytes looked at for BOM and declaration */
#define XML_MAX_DEPTH 256
#define XML_MAX_NAME 256        /* prefix:local, in bytes */
#define XML_MAX_ATTRS 256
#define XML_MAX_PATHS 256
#define XML_MAX_STEPS 32
#define XML_MISSING UINT32_MAX
#define XML_MAX_RECORD_CAP (256u << 20) /* data offsets fit 32 bits */

#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_ptr;
#else
typedef xmlErrorPtr xml_error_ptr;
#endif

/* One step of a compiled path; names are interned in the parser's dict,
 * where libxml2 interns every element and attribute name and namespace. */
struct step {
	const xmlChar *uri;     /* NULL: no namespace */
	const xmlChar *local;
};

/* The fields of a record as a tree of element steps from the record. */
struct pnode {
	struct step s;
	int child, next;        /* first child, next sibling; -1 none */
	int text;               /* path taking this element's text, -1 none */
	int attr;               /* first attribute target, -1 none */
};

struct pattr {
	struct step s;
	int path, next;
};

struct span {
	uint32_t off, len;      /* off == XML_MISSING: absent */
};

struct frame {
	const xmlChar *prefix, *local;
	int node;               /* field tree node at this level, -1 none */
	int last;               /* its child node matched last, -1 none */
	int cap;                /* path whose value this element's text is */
};

struct xml_handle {
	struct input *in;
	xmlParserCtxtPtr ctxt;
	size_t field_cap, record_cap;
	int gb;                 /* decode as GB18030 */

	/* names */
	size_t np;
	struct buf names_buf;
	const char **names;

	/* record path */
	struct step rsteps[XML_MAX_STEPS];
	int nrsteps, anywhere;

	/* field tree */
	struct pnode *nodes;
	int nnodes;
	struct pattr *attrs;
	int nattrs;

	/* parse state */
	struct frame stk[XML_MAX_DEPTH + 1];
	int depth;              /* of the current element, 1 = root */
	int rmatch;             /* leading record path steps matched */
	int in_rec, rec_depth;
	long nrec;              /* record elements seen */
	size_t textrun;         /* bytes of the current text node */
	const xmlChar *okname[64]; /* interned names known to be short */
	size_t rec_base;        /* data offset of the current record */

	/* queue: records finished and the one being built (row nq) */
	struct buf data;        /* values, each NUL-terminated */
	struct buf spans;       /* rows of np spans */
	struct buf lines;       /* one long per row */
	size_t nq, qpos;

	/* the record handed out */
	const char **vals;
	size_t *lens;
	int *dup;               /* earlier copy of the same path, or -1 */

	unsigned char *chunk;
	int done, failed;
	struct tmerr err;
};

static struct xml_handle *H(struct adapter_handle *ah)
{
	return (struct xml_handle *)ah;
}

static const char *in_name(const struct xml_handle *h)
{
	return h->in->name ? h->in->name : "input";
}

/* ---- errors ------------------------------------------------------------- */

/* The element path of the current position, the record numbered. */
static void where_path(struct xml_handle *h, char *out, size_t outsz)
{
	size_t n = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < h->depth && n < outsz; i++) {
		const struct frame *f = &h->stk[i];
		int w;

		if (f->prefix)
			w = snprintf(out + n, outsz - n, "/%s:%s", f->prefix,
				     f->local);
		else
			w = snprintf(out + n, outsz - n, "/%s", f->local);
		if (w < 0)
			break;
		n += (size_t)w;
		if (h->in_rec && i == h->rec_depth - 1 && n < outsz) {
			w = snprintf(out + n, outsz - n, "[%ld]", h->nrec);
			if (w < 0)
				break;
			n += (size_t)w;
		}
	}
}

static long cur_line(const struct xml_handle *h)
{
	return h->ctxt && h->ctxt->input ? h->ctxt->input->line : 0;
}

/* Record the first error and stop the parser. */
__attribute__((format(printf, 4, 5)))
static void fail(struct xml_handle *h, enum tmerr_code code, const char *rule,
		 const char *fmt, ...)
{
	va_list ap;

	if (h->failed)
		return;
	h->failed = 1;
	tmerr_clear(&h->err);
	va_start(ap, fmt);
	tmerr_vset(&h->err, code, fmt, ap);
	va_end(ap);
	tmerr_where(&h->err, in_name(h), cur_line(h),
		    h->ctxt && h->ctxt->input ? h->ctxt->input->col : 0);
	snprintf(h->err.rule, sizeof(h->err.rule), "%s", rule);
	where_path(h, h->err.path, sizeof(h->err.path));
	if (h->ctxt)
		xmlStopParser(h->ctxt);
}

static void oom(struct xml_handle *h)
{
	fail(h, TMERR_SYS, "", "out of memory reading \"%s\"", in_name(h));
}

/* libxml2's structured errors, per parser: the first error is fatal. */
static void on_error(void *ud, xml_error_ptr e)
{
	struct xml_handle *h = ud;
	char msg[256];
	size_t n;

	if (!e || e->level < XML_ERR_ERROR || h->failed)
		return;
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "error");
	/* first line only: libxml2 may append the offending bytes */
	n = strcspn(msg, "\n");
	msg[n] = '\0';
	while (n && msg[n - 1] == ' ')
		msg[--n] = '\0';
	if (n && msg[0] >= 'A' && msg[0] <= 'Z' && !(msg[1] >= 'A' && msg[1] <= 'Z'))
		msg[0] = (char)(msg[0] - 'A' + 'a');
	if (e->code == XML_ERR_INVALID_CHAR || e->code == XML_ERR_INVALID_ENCODING)
		fail(h, TMERR_INPUT, "encoding", "invalid %s in \"%s\": %s",
		     h->gb ? "GB18030" : "UTF-8", in_name(h), msg);
	else
		fail(h, TMERR_INPUT, "xml", "malformed XML in \"%s\": %s",
		     in_name(h), msg);
	if (e->line > 0)
		h->err.line = e->line;
	if (e->int2 > 0)
		h->err.col = e->int2;
}

/* Silences libxml2's global generic channel (encoder messages). */
static void silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* ---- SAX handlers ------------------------------------------------------- */

static void on_doctype(void *ud, const xmlChar *name, const xmlChar *eid,
		       const xmlChar *sid)
{
	(void)name;
	(void)eid;
	(void)sid;
	fail(ud, TMERR_INPUT, "doctype",
	     "document type declarations are not accepted in \"%s\"",
	     in_name(ud));
}

static xmlParserInputPtr on_resolve(void *ud, const xmlChar *pub,
				    const xmlChar *sys)
{
	(void)pub;
	(void)sys;
	fail(ud, TMERR_INPUT, "external_entity",
	     "external entities are not accepted in \"%s\"", in_name(ud));
	return NULL;
}

static xmlEntityPtr on_entity(void *ud, const xmlChar *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

static inline struct span *row(struct xml_handle *h, size_t i)
{
	return (struct span *)h->spans.ptr + i * h->np;
}

static int add_data(struct xml_handle *h, const void *p, size_t n)
{
	int r = buf_add(&h->data, p, n);

	if (r == BUF_NOMEM)
		oom(h);
	else if (r)
		fail(h, TMERR_LIMIT, "record_too_long",
		     "too much record data buffered reading \"%s\"", in_name(h));
	return r;
}

/* Without entity replacement libxml2 hands attribute values over with each
 * "&" written as "&#38;" (no other reference can occur: no DTD); undo it. */
static int add_attr(struct xml_handle *h, const xmlChar *v, const xmlChar *end,
		    size_t *len)
{
	const xmlChar *amp;
	size_t start = h->data.len;

	while ((amp = memchr(v, '&', (size_t)(end - v)))) {
		if (add_data(h, v, (size_t)(amp - v) + 1))
			return -1;
		v = amp + 1;
		if (end - v >= 4 && !memcmp(v, "#38;", 4))
			v += 4;
	}
	if (add_data(h, v, (size_t)(end - v)))
		return -1;
	*len = h->data.len - start;
	return 0;
}

static int check_record(struct xml_handle *h)
{
	if (h->data.len - h->rec_base > h->record_cap) {
		fail(h, TMERR_LIMIT, "record_too_long",
		     "record longer than %zu bytes", h->record_cap);
		return -1;
	}
	return 0;
}

/* Move a value that is not at the end of data (text resumed after a child
 * element that had a value too) to the end. */
static int to_tail(struct xml_handle *h, struct span *sp)
{
	size_t off = sp->off, len = sp->len;

	if (off + len == h->data.len)
		return 0;
	if (buf_grow(&h->data, len + 1)) {
		oom(h);
		return -1;
	}
	memcpy(h->data.ptr + h->data.len, h->data.ptr + off, len);
	sp->off = (uint32_t)h->data.len;
	buf_setlen(&h->data, h->data.len + len);
	return check_record(h);
}

static void begin_record(struct xml_handle *h)
{
	size_t i, rowsz = h->np * sizeof(struct span);
	long line = cur_line(h);
	struct span *sp;
	int r = buf_grow(&h->spans, rowsz);

	if (!r)
		r = buf_grow(&h->lines, sizeof(long));
	if (r == BUF_NOMEM) {
		oom(h);
		return;
	}
	if (r) {
		fail(h, TMERR_LIMIT, "record_too_long",
		     "too many records in one read of \"%s\"", in_name(h));
		return;
	}
	buf_setlen(&h->spans, h->spans.len + rowsz);
	memcpy(h->lines.ptr + h->lines.len, &line, sizeof(line));
	buf_setlen(&h->lines, h->lines.len + sizeof(line));
	sp = row(h, h->nq);
	for (i = 0; i < h->np; i++) {
		sp[i].off = XML_MISSING;
		sp[i].len = 0;
	}
	h->in_rec = 1;
	h->rec_depth = h->depth;
	h->rec_base = h->data.len;
	h->nrec++;
}

/* Entering field tree node k with element frame f: take its attributes
 * and start taking its text. */
static void enter(struct xml_handle *h, struct frame *f, int k, int nattr,
		  const xmlChar **at)
{
	struct span *sp = row(h, h->nq); /* spans do not move here; data may */
	const struct pnode *nd = &h->nodes[k];
	size_t len;
	int a, i;

	for (a = nd->attr; a >= 0; a = h->attrs[a].next) {
		const struct pattr *pa = &h->attrs[a];
		struct span *v = &sp[pa->path];

		if (v->off != XML_MISSING)
			continue;
		for (i = 0; i < nattr; i++) {
			const xmlChar **x = at + i * 5;

			if (x[0] != pa->s.local || x[2] != pa->s.uri)
				continue;
			v->off = (uint32_t)h->data.len;
			if (add_attr(h, x[3], x[4], &len) || add_data(h, "", 1))
				return;
			v->len = (uint32_t)len;
			if (check_record(h))
				return;
			break;
		}
	}
	f->cap = -1;
	if (nd->text >= 0 && sp[nd->text].off == XML_MISSING) {
		sp[nd->text].off = (uint32_t)h->data.len;
		sp[nd->text].len = 0;
		f->cap = nd->text;
	}
}

static inline int same(const struct step *s, const xmlChar *local,
		       const xmlChar *uri)
{
	return s->local == local && s->uri == uri;
}

/* Whether prefix:local fits XML_MAX_NAME; names are interned, so a name
 * once measured is known by its pointer. */
static inline int short_name(struct xml_handle *h, const xmlChar *local,
			     const xmlChar *prefix)
{
	size_t slot = ((uintptr_t)local >> 4) & 63, n;

	if (h->okname[slot] == local && !prefix)
		return 1;
	n = strlen((const char *)local) + (prefix ? strlen((const char *)prefix) + 1 : 0);
	if (n > XML_MAX_NAME)
		return 0;
	if (!prefix)
		h->okname[slot] = local;
	return 1;
}

static void on_start(void *ud, const xmlChar *local, const xmlChar *prefix,
		     const xmlChar *uri, int nns, const xmlChar **ns,
		     int nattr, int ndef, const xmlChar **at)
{
	struct xml_handle *h = ud;
	struct frame *f;
	int i;

	(void)nns;
	(void)ns;
	if (h->failed)
		return;
	if (h->depth >= XML_MAX_DEPTH) {
		fail(h, TMERR_LIMIT, "too_deep",
		     "elements nested deeper than %d levels", XML_MAX_DEPTH);
		return;
	}
	f = &h->stk[h->depth++];
	f->prefix = prefix;
	f->local = local;
	f->node = -1;
	f->last = -1;
	f->cap = -1;
	h->textrun = 0;
	if (!short_name(h, local, prefix)) {
		f->local = (const xmlChar *)"…";
		f->prefix = NULL;
		fail(h, TMERR_LIMIT, "name_too_long",
		     "element name longer than %d bytes", XML_MAX_NAME);
		return;
	}
	if (nattr + ndef > XML_MAX_ATTRS) {
		fail(h, TMERR_LIMIT, "too_many_attributes",
		     "element has more than %d attributes", XML_MAX_ATTRS);
		return;
	}
	for (i = 0; i < nattr; i++) {
		const xmlChar **x = at + i * 5;

		if (!short_name(h, x[0], x[1])) {
			fail(h, TMERR_LIMIT, "name_too_long",
			     "attribute name longer than %d bytes", XML_MAX_NAME);
			return;
		}
		if ((size_t)(x[4] - x[3]) > h->field_cap) {
			fail(h, TMERR_LIMIT, "field_too_long",
			     "attribute \"%s\" longer than %zu bytes",
			     (const char *)x[0], h->field_cap);
			return;
		}
	}

	if (h->in_rec) {
		struct frame *pf = &h->stk[h->depth - 2];
		int k = -1, first, start;

		if (pf->node >= 0) {
			/* children come in order: look after the last one */
			first = h->nodes[pf->node].child;
			start = pf->last >= 0 && h->nodes[pf->last].next >= 0 ?
				h->nodes[pf->last].next : first;
			for (k = start; k >= 0;) {
				if (same(&h->nodes[k].s, local, uri))
					break;
				k = h->nodes[k].next >= 0 ? h->nodes[k].next : first;
				if (k == start)
					k = -1;
			}
			if (k >= 0)
				pf->last = k;
		}
		f->node = k;
		if (k >= 0)
			enter(h, f, k, nattr, at);
		return;
	}
	if (h->anywhere) {
		if (!same(&h->rsteps[0], local, uri))
			return;
	} else {
		if (h->rmatch != h->depth - 1 || h->depth > h->nrsteps ||
		    !same(&h->rsteps[h->depth - 1], local, uri)) {
			if (h->depth == 1)
				fail(h, TMERR_INPUT, "record_path",
				     "root element \"%s\"%s%s%s does not match the mapping's record path",
				     (const char *)local, uri ? " (namespace \"" : "",
				     uri ? (const char *)uri : "", uri ? "\")" : "");
			return;
		}
		h->rmatch = h->depth;
		if (h->depth < h->nrsteps)
			return;
	}
	begin_record(h);
	if (h->failed)
		return;
	f->node = 0;
	enter(h, f, 0, nattr, at);
}

static void end_value(struct xml_handle *h, int p)
{
	struct span *v = &row(h, h->nq)[p];

	if (v->off + v->len != h->data.len && to_tail(h, v))
		return;
	if (h->data.len + 1 < h->data.alloc)
		buf_setlen(&h->data, h->data.len + 1);
	else
		add_data(h, "", 1);
}

static void on_end(void *ud, const xmlChar *local, const xmlChar *prefix,
		   const xmlChar *uri)
{
	struct xml_handle *h = ud;
	struct frame *f;

	(void)local;
	(void)prefix;
	(void)uri;
	if (h->failed || !h->depth)
		return;
	f = &h->stk[h->depth - 1];
	h->textrun = 0;
	if (h->in_rec) {
		if (f->cap >= 0)
			end_value(h, f->cap);
		if (h->failed)
			return;
		if (h->depth == h->rec_depth) {
			h->in_rec = 0;
			h->nq++;
		}
	}
	if (h->rmatch == h->depth)
		h->rmatch--;
	h->depth--;
}

static void on_text(void *ud, const xmlChar *s, int n)
{
	struct xml_handle *h = ud;
	const struct frame *f;
	struct span *v;

	if (h->failed)
		return;
	h->textrun += (size_t)n;
	if (h->textrun > h->field_cap) {
		fail(h, TMERR_LIMIT, "field_too_long",
		     "text node longer than %zu bytes", h->field_cap);
		return;
	}
	if (!h->in_rec)
		return;
	f = &h->stk[h->depth - 1];
	if (f->cap < 0)
		return;
	v = &row(h, h->nq)[f->cap];
	if (v->off + v->len != h->data.len && to_tail(h, v))
		return;
	if (v->len + (size_t)n > h->field_cap) {
		fail(h, TMERR_LIMIT, "field_too_long",
		     "value longer than %zu bytes", h->field_cap);
		return;
	}
	if (h->data.len + (size_t)n < h->data.alloc) {
		memcpy(h->data.ptr + h->data.len, s, (size_t)n);
		buf_setlen(&h->data, h->data.len + (size_t)n);
	} else if (add_data(h, s, (size_t)n)) {
		return;
	}
	v->len += (uint32_t)n;
	if (h->data.len - h->rec_base > h->record_cap)
		check_record(h);
}

static const xmlSAXHandler sax = {
	.internalSubset = on_doctype,
	.externalSubset = on_doctype,
	.resolveEntity = on_resolve,
	.getEntity = on_entity,
	.getParameterEntity = on_entity,
	.characters = on_text,
	.ignorableWhitespace = on_text,
	.cdataBlock = on_text,
	.initialized = XML_SAX2_MAGIC,
	.startElementNs = on_start,
	.endElementNs = on_end,
	.serror = on_error,
};

/* ---- paths -------------------------------------------------------------- */

static int bad_path(struct tmerr *err, const char *path, const char *why)
{
	return tmerr_set(err, TMERR_MAPPING, "bad xml path \"%s\": %s", path, why);
}

/* Intern "prefix:local" (or "local": no namespace) of len bytes. */
static int intern_step(struct xml_handle *h, const struct adapter_opts *o,
		       const char *path, const char *s, size_t len,
		       struct step *out, struct tmerr *err)
{
	const char *colon = memchr(s, ':', len);
	xmlDictPtr d = h->ctxt->dict;
	size_t i;

	out->uri = NULL;
	if (colon) {
		size_t pl = (size_t)(colon - s);

		if (!pl || colon + 1 == s + len || memchr(colon + 1, ':', len - pl - 1))
			return bad_path(err, path, "bad name");
		for (i = 0; i < o->nns; i++)
			if (strlen(o->ns_prefixes[i]) == pl &&
			    !memcmp(o->ns_prefixes[i], s, pl))
				break;
		if (i < o->nns)
			out->uri = xmlDictLookup(d, (const xmlChar *)o->ns_uris[i], -1);
		else if (pl == 3 && !memcmp(s, "xml", 3))
			out->uri = xmlDictLookup(d, XML_XML_NAMESPACE, -1);
		else
			return tmerr_set(err, TMERR_MAPPING,
					 "undeclared namespace prefix \"%.*s\" in xml path \"%s\"",
					 (int)pl, s, path);
		if (!out->uri)
			return tmerr_set(err, TMERR_SYS, "out of memory");
		s = colon + 1;
		len -= pl + 1;
	}
	if (!len || len > XML_MAX_NAME)
		return bad_path(err, path, "empty or overlong name");
	for (i = 0; i < len; i++)
		if (strchr(" \t/@[]*", s[i]))
			return bad_path(err, path, "bad name");
	out->local = xmlDictLookup(d, (const xmlChar *)s, (int)len);
	if (!out->local)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	return 0;
}

static int compile_record(struct xml_handle *h, const struct adapter_opts *o,
			  struct tmerr *err)
{
	const char *p = o->record_path, *e;

	if (!p || p[0] != '/')
		return tmerr_set(err, TMERR_MAPPING,
				 "xml needs a record path such as \"/records/training\" or \"//training\"");
	if (p[1] == '/') {
		h->anywhere = 1;
		p += 2;
		if (strchr(p, '/'))
			return bad_path(err, o->record_path,
					"\"//\" takes one element name");
		h->nrsteps = 1;
		return intern_step(h, o, o->record_path, p, strlen(p),
				   &h->rsteps[0], err);
	}
	for (p++;; p = e + 1) {
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		if (h->nrsteps == XML_MAX_STEPS)
			return bad_path(err, o->record_path, "too many steps");
		if (*p == '@')
			return bad_path(err, o->record_path, "a record is an element");
		if (intern_step(h, o, o->record_path, p, (size_t)(e - p),
				&h->rsteps[h->nrsteps++], err))
			return -1;
		if (!*e)
			return 0;
	}
}

static int new_node(struct xml_handle *h, int parent, const struct step *s)
{
	int k = h->nnodes++;
	struct pnode *n = &h->nodes[k];

	n->s = *s;
	n->child = -1;
	n->text = -1;
	n->attr = -1;
	n->next = -1;
	if (parent >= 0) {
		int *link = &h->nodes[parent].child;

		/* in mapping order, which is usually the document's */
		while (*link >= 0)
			link = &h->nodes[*link].next;
		*link = k;
	}
	return k;
}

static int compile_field(struct xml_handle *h, const struct adapter_opts *o,
			 int pi, struct tmerr *err)
{
	const char *path = o->paths[pi], *p = path, *e;
	struct step s;
	int k = 0, c, nsteps = 0;

	if (!*p || *p == '/')
		return bad_path(err, path, "a field path is relative to the record");
	for (;; p = e + 1) {
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		if (++nsteps > XML_MAX_STEPS)
			return bad_path(err, path, "too many steps");
		if (*p == '@') {
			struct pattr *a;

			if (*e)
				return bad_path(err, path,
						"an attribute must be the last step");
			if (intern_step(h, o, path, p + 1, (size_t)(e - p - 1), &s, err))
				return -1;
			a = &h->attrs[h->nattrs];
			a->s = s;
			a->path = pi;
			a->next = h->nodes[k].attr;
			h->nodes[k].attr = h->nattrs++;
			return 0;
		}
		if (e - p == 1 && *p == '.') {
			/* "." is the record element itself */
		} else {
			if (intern_step(h, o, path, p, (size_t)(e - p), &s, err))
				return -1;
			for (c = h->nodes[k].child; c >= 0; c = h->nodes[c].next)
				if (h->nodes[c].s.local == s.local &&
				    h->nodes[c].s.uri == s.uri)
					break;
			k = c >= 0 ? c : new_node(h, k, &s);
		}
		if (!*e)
			break;
	}
	if (h->nodes[k].text < 0)
		h->nodes[k].text = pi;
	return 0;
}

/* ---- encoding ----------------------------------------------------------- */

/* The encoding pseudo-attribute of an XML declaration at s (len bytes):
 * 1 and out filled, 0 when there is none, -1 when it cannot be read. */
static int decl_encoding(const unsigned char *s, size_t len, char *out,
			 size_t outsz)
{
	const unsigned char *end, *p;
	size_t n;

	if (len < 6 || memcmp(s, "<?xml", 5) ||
	    !strchr(" \t\r\n", s[5]))
		return 0;
	end = memmem(s, len, "?>", 2);
	if (!end)
		return -1;
	p = memmem(s, (size_t)(end - s), "encoding", 8);
	if (!p)
		return 0;
	p += 8;
	while (p < end && strchr(" \t\r\n", *p))
		p++;
	if (p >= end || *p++ != '=')
		return -1;
	while (p < end && strchr(" \t\r\n", *p))
		p++;
	if (p >= end || (*p != '"' && *p != '\''))
		return -1;
	for (n = 0, s = p + 1; s + n < end && s[n] != *p; n++)
		if (n + 1 >= outsz)
			return -1;
	if (s + n >= end)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

/* 0 = UTF-8, 1 = the GB family (decoded as GB18030), -1 = not accepted. */
static int enc_family(const char *e)
{
	if (!strcasecmp(e, "utf-8") || !strcasecmp(e, "utf8"))
		return 0;
	if (!strcasecmp(e, "gb18030") || !strcasecmp(e, "gbk") ||
	    !strcasecmp(e, "gb2312"))
		return 1;
	return -1;
}

static int choose_encoding(struct xml_handle *h, const unsigned char *head,
			   size_t len, const char *want, struct tmerr *err)
{
	char decl[48];
	int r, fam = -1, wfam = want ? enc_family(want) : -1;

	if (want && wfam < 0)
		return tmerr_set(err, TMERR_MAPPING, "unsupported encoding \"%s\"",
				 want);
	if (len >= 2 && ((head[0] == 0xFE && head[1] == 0xFF) ||
			 (head[0] == 0xFF && head[1] == 0xFE) ||
			 !head[0] || !head[1]))
		return tmerr_set(err, TMERR_INPUT,
				 "\"%s\" looks like UTF-16 or UTF-32, which is not accepted (use UTF-8 or GB18030)",
				 in_name(h));
	if (len >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3)) {
		head += 3;
		len -= 3;
		fam = 0;
		if (wfam == 1)
			return tmerr_set(err, TMERR_INPUT,
					 "\"%s\" starts with a UTF-8 byte order mark but the mapping says \"%s\"",
					 in_name(h), want);
	}
	r = decl_encoding(head, len, decl, sizeof(decl));
	if (r < 0)
		return tmerr_set(err, TMERR_INPUT,
				 "cannot read the XML declaration of \"%s\"",
				 in_name(h));
	if (r > 0) {
		int dfam = enc_family(decl);

		if (dfam < 0)
			return tmerr_set(err, TMERR_INPUT,
					 "\"%s\" declares encoding \"%s\", which is not accepted (use UTF-8, GB18030 or GBK)",
					 in_name(h), decl);
		if (fam == 0 && dfam != 0)
			return tmerr_set(err, TMERR_INPUT,
					 "\"%s\" starts with a UTF-8 byte order mark but declares \"%s\"",
					 in_name(h), decl);
		if (wfam >= 0 && dfam != wfam)
			return tmerr_set(err, TMERR_INPUT,
					 "\"%s\" declares encoding \"%s\" but the mapping says \"%s\"",
					 in_name(h), decl, want);
		fam = dfam;
	}
	if (fam < 0)
		fam = wfam > 0 ? 1 : 0;
	h->gb = fam;
	return 0;
}

/* ---- driving the parser ------------------------------------------------- */

static ssize_t read_input(struct xml_handle *h, void *dst, size_t n)
{
	ssize_t r;

	do
		r = h->in->read(h->in->ctx, dst, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static void parse(struct xml_handle *h, const unsigned char *p, size_t n,
		  int last)
{
	int rc = xmlParseChunk(h->ctxt, (const char *)p, (int)n, last);

	if (rc && !h->failed) {
		if (rc == XML_ERR_INVALID_ENCODING || rc == XML_ERR_INVALID_CHAR ||
		    (rc < 0 && h->gb))
			fail(h, TMERR_INPUT, "encoding",
			     "invalid %s byte sequence in \"%s\"",
			     h->gb ? "GB18030" : "UTF-8", in_name(h));
		else
			fail(h, TMERR_INPUT, "xml", "malformed XML in \"%s\" (libxml2 error %d)",
			     in_name(h), rc);
	}
	if (last && !h->failed && h->in_rec)
		fail(h, TMERR_INPUT, "xml", "\"%s\" ends inside a record", in_name(h));
}

/* Drop delivered records, keeping the one being built at the front. */
static void compact(struct xml_handle *h)
{
	size_t i, base = h->in_rec ? h->rec_base : h->data.len;

	if (h->in_rec) {
		struct span *src = row(h, h->nq), *dst = row(h, 0);

		for (i = 0; i < h->np; i++)
			if (src[i].off != XML_MISSING)
				src[i].off -= (uint32_t)base;
		memmove(dst, src, h->np * sizeof(*dst));
		memcpy(h->lines.ptr, h->lines.ptr + h->nq * sizeof(long),
		       sizeof(long));
		memmove(h->data.ptr, h->data.ptr + base, h->data.len - base);
	}
	buf_setlen(&h->data, h->data.len - base);
	buf_setlen(&h->spans, h->in_rec ? h->np * sizeof(struct span) : 0);
	buf_setlen(&h->lines, h->in_rec ? sizeof(long) : 0);
	h->rec_base = 0;
	h->nq = h->qpos = 0;
}

static void feed(struct xml_handle *h)
{
	ssize_t r;

	compact(h);
	r = read_input(h, h->chunk, XML_CHUNK);
	if (r < 0) {
		fail(h, TMERR_INPUT, "", "cannot read \"%s\": %s", in_name(h),
		     strerror(errno));
		return;
	}
	h->done = r == 0;
	parse(h, h->chunk, (size_t)r, h->done);
}

/* ---- the adapter -------------------------------------------------------- */

static void xml_free(struct xml_handle *h)
{
	if (!h)
		return;
	if (h->ctxt)
		xmlFreeParserCtxt(h->ctxt);
	buf_release(&h->names_buf);
	buf_release(&h->data);
	buf_release(&h->spans);
	buf_release(&h->lines);
	free(h->names);
	free(h->nodes);
	free(h->attrs);
	free(h->vals);
	free(h->lens);
	free(h->dup);
	free(h->chunk);
	free(h);
}

static void xml_close(struct adapter_handle *ah)
{
	xml_free(H(ah));
}

static int setup(struct xml_handle *h, const struct adapter_opts *o,
		 struct tmerr *err)
{
	size_t i, j, off, rows;

	if (o->npaths > XML_MAX_PATHS)
		return tmerr_set(err, TMERR_MAPPING,
				 "more than %d xml paths", XML_MAX_PATHS);
	h->np = o->npaths;
	h->names = calloc(h->np + 1, sizeof(*h->names));
	h->vals = calloc(h->np + 1, sizeof(*h->vals));
	h->lens = calloc(h->np + 1, sizeof(*h->lens));
	h->nodes = calloc(h->np * XML_MAX_STEPS + 1, sizeof(*h->nodes));
	h->attrs = calloc(h->np + 1, sizeof(*h->attrs));
	h->dup = calloc(h->np + 1, sizeof(*h->dup));
	if (!h->names || !h->vals || !h->lens || !h->nodes || !h->attrs ||
	    !h->dup)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	for (i = 0; i < h->np; i++)
		if (buf_add(&h->names_buf, o->paths[i], strlen(o->paths[i]) + 1))
			return tmerr_set(err, TMERR_SYS, "out of memory");
	for (i = 0, off = 0; i < h->np; i++) {
		h->names[i] = h->names_buf.ptr + off;
		off += strlen(h->names[i]) + 1;
		h->dup[i] = -1;
		for (j = 0; j < i && h->dup[i] < 0; j++)
			if (!strcmp(h->names[i], h->names[j]))
				h->dup[i] = (int)j;
	}
	/* a record takes at least 4 input bytes ("<a/>"), so one chunk
	 * finishes at most XML_CHUNK / 4 of them, plus one begun earlier;
	 * data stays below 4 * XML_MAX_RECORD_CAP + 4 * XML_CHUNK < 4 GiB */
	rows = XML_CHUNK / 4 + 4;
	buf_init(&h->data, 4 * h->record_cap + 4 * XML_CHUNK);
	buf_init(&h->spans, 2 * rows * (h->np ? h->np : 1) * sizeof(struct span));
	buf_init(&h->lines, 2 * rows * sizeof(long));
	if (buf_grow(&h->data, XML_CHUNK) ||
	    buf_grow(&h->spans, 64 * h->np * sizeof(struct span)) ||
	    buf_grow(&h->lines, 64 * sizeof(long)))
		return tmerr_set(err, TMERR_SYS, "out of memory");

	h->ctxt = xmlCreatePushParserCtxt((xmlSAXHandlerPtr)&sax, h, NULL, 0,
					  in_name(h));
	if (!h->ctxt)
		return tmerr_set(err, TMERR_SYS, "cannot create an XML parser");
	/* no NOENT (no substitution), no DTDLOAD, no XINCLUDE, no HUGE */
	xmlCtxtUseOptions(h->ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC |
			  XML_PARSE_NOCDATA);
	h->ctxt->replaceEntities = 0;
	if (h->gb) {
		xmlCharEncodingHandlerPtr eh = xmlFindCharEncodingHandler("GB18030");

		if (!eh || xmlSwitchToEncoding(h->ctxt, eh))
			return tmerr_set(err, TMERR_SYS,
					 "cannot decode GB18030 with libxml2");
	}
	if (compile_record(h, o, err))
		return -1;
	h->nnodes = 0;
	new_node(h, -1, &h->rsteps[h->nrsteps - 1]);
	for (i = 0; i < h->np; i++)
		if (h->dup[i] < 0 && compile_field(h, o, (int)i, err))
			return -1;
	return 0;
}

static int xml_open(struct adapter_handle **ah, struct input *in,
		    const struct adapter_opts *opts, struct tmerr *err)
{
	struct adapter_opts none;
	struct xml_handle *h;
	size_t len = 0;
	ssize_t r = 1;

	*ah = NULL;
	if (!opts) {
		memset(&none, 0, sizeof(none));
		opts = &none;
	}
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, silent);
	h = calloc(1, sizeof(*h));
	if (!h)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	h->in = in;
	h->field_cap = opts->field_cap ? opts->field_cap : ADAPTER_FIELD_CAP;
	h->record_cap = opts->record_cap ? opts->record_cap : ADAPTER_RECORD_CAP;
	if (h->record_cap > XML_MAX_RECORD_CAP)
		h->record_cap = XML_MAX_RECORD_CAP;
	buf_init(&h->names_buf, (size_t)XML_MAX_PATHS * 4096);
	h->chunk = malloc(XML_CHUNK);
	if (!h->chunk) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto fail;
	}
	while (len < XML_HEAD && r > 0) {
		r = read_input(h, h->chunk + len, XML_HEAD - len);
		if (r > 0)
			len += (size_t)r;
	}
	if (r < 0) {
		tmerr_set(err, TMERR_INPUT, "cannot read \"%s\": %s", in_name(h),
			  strerror(errno));
		goto fail;
	}
	if (choose_encoding(h, h->chunk, len, opts->encoding, err)) {
		tmerr_where(err, in_name(h), 1, 0);
		goto fail;
	}
	if (setup(h, opts, err))
		goto fail;
	h->done = r == 0;
	parse(h, h->chunk, len, h->done);
	if (h->failed && h->nq == 0) {
		*err = h->err;
		goto fail;
	}
	*ah = (struct adapter_handle *)h;
	return 0;
fail:
	xml_free(h);
	return -1;
}

static int xml_next(struct adapter_handle *ah, struct record *rec,
		    struct tmerr *err)
{
	struct xml_handle *h = H(ah);
	struct span *sp;
	size_t i;

	rec->nfields = 0;
	rec->names = h->names;
	rec->vals = h->vals;
	rec->lens = h->lens;
	rec->cols = NULL;
	for (;;) {
		if (h->failed) {
			*err = h->err;
			rec->line = h->err.line;
			return ADP_FATAL;
		}
		if (h->qpos < h->nq)
			break;
		if (h->done) {
			rec->line = cur_line(h);
			return ADP_EOF;
		}
		feed(h);
	}
	sp = row(h, h->qpos);
	for (i = 0; i < h->np; i++) {
		if (h->dup[i] >= 0) {
			h->vals[i] = h->vals[h->dup[i]];
			h->lens[i] = h->lens[h->dup[i]];
			continue;
		}
		h->vals[i] = sp[i].off == XML_MISSING ? NULL : h->data.ptr + sp[i].off;
		h->lens[i] = sp[i].len;
	}
	memcpy(&rec->line, h->lines.ptr + h->qpos * sizeof(long), sizeof(long));
	rec->nfields = h->np;
	h->qpos++;
	return ADP_OK;
}

static size_t xml_names(struct adapter_handle *ah, const char *const **names)
{
	struct xml_handle *h = H(ah);

	*names = h->names;
	return h->np;
}

static int xml_probe(const unsigned char *head, size_t len, const char *name)
{
	size_t i = 0, n = name ? strlen(name) : 0;

	if (len >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && strchr(" \t\r\n", head[i]) && head[i])
		i++;
	if (i + 5 <= len && !memcmp(head + i, "<?xml", 5))
		return 90;
	if (i + 1 < len && head[i] == '<' &&
	    ((head[i + 1] | 0x20) >= 'a' && (head[i + 1] | 0x20) <= 'z'))
		return 60;
	if (n >= 4 && !strcasecmp(name + n - 4, ".xml"))
		return 40;
	return 0;
}

const struct adapter xml_adapter = {
	.name = "xml",
	.probe = xml_probe,
	.open = xml_open,
	.next = xml_next,
	.names = xml_names,
	.close = xml_close,
};
