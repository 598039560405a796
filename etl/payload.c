/*
 * payload: tar + zstd/gzip package payloads through libarchive, streamed
 * both ways through one fixed block. The writer takes the sizes and hashes
 * of pass 1 from the manifest and re-checks them while streaming pass 2;
 * the verifier trusts nothing in a tar header it has not compared with the
 * manifest, and counts every decompressed byte against the caps.
 */
#include "payload.h"

#include <archive.h>
#include <archive_entry.h>
#include <libxml/parser.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sha256.h"

#define BLOCK (64 * 1024)
#define PATH_MAX_SHOWN 512

void payload_limits_default(struct payload_limits *l)
{
	l->max_entry_bytes = PAYLOAD_MAX_ENTRY_BYTES;
	l->max_total_bytes = PAYLOAD_MAX_TOTAL_BYTES;
	l->max_entries = PAYLOAD_MAX_ENTRIES;
	l->max_ratio = PAYLOAD_MAX_RATIO;
}

static const char *aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unexpected end or unknown error";
}

/* ---- record counting ------------------------------------------------------ */

/* Records of an RFC 4180 stream, as the CSV adapter splits them. */
struct reccount {
	long long n;
	int inq;   /* inside a quoted field */
	int inrec; /* a record has started on this line */
};

static void rc_feed(struct reccount *c, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len, *q;

	while (p < end) {
		if (c->inq) {
			q = memchr(p, '"', (size_t)(end - p));
			if (!q)
				return;
			c->inq = 0;
			p = q + 1;
			continue;
		}
		for (q = p; q < end && *q != '"' && *q != '\n' && *q != '\r'; q++)
			;
		if (q > p)
			c->inrec = 1;
		if (q == end)
			return;
		if (*q == '"') {
			c->inq = 1;
			c->inrec = 1;
		} else {
			c->n += c->inrec;
			c->inrec = 0;
		}
		p = q + 1;
	}
}

/* Data records: all records but the header. */
static long long rc_end(const struct reccount *c)
{
	long long n = c->n + (c->inrec || c->inq);

	return n > 0 ? n - 1 : 0;
}

/* ---- pass 1 --------------------------------------------------------------- */

static int open_regular(const char *path, unsigned long long *size,
			struct tmerr *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return tmerr_set(err, TMERR_INPUT, "cannot open \"%s\": %s", path,
				 strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return tmerr_set(err, TMERR_INPUT,
				 "cannot pack \"%s\": not a regular file", path);
	}
	*size = (unsigned long long)st.st_size;
	return fd;
}

static ssize_t read_full(int fd, void *dst, size_t n)
{
	ssize_t r;

	do
		r = read(fd, dst, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/*
 * Records of a canonical XML file: the children of its root element, counted
 * by a SAX push parser fed the same blocks as the hash. A DOCTYPE (and so any
 * entity) is refused; nothing is fetched.
 */
struct xmlcount {
	xmlParserCtxtPtr ctxt;
	long depth;
	long long n;
	int doctype;
};

static void xc_start(void *ctx, const xmlChar *l, const xmlChar *p,
		     const xmlChar *u, int nn, const xmlChar **ns, int na, int nd,
		     const xmlChar **a)
{
	struct xmlcount *x = ((xmlParserCtxtPtr)ctx)->_private;

	(void)l, (void)p, (void)u, (void)nn, (void)ns, (void)na, (void)nd, (void)a;
	if (++x->depth == 2)
		x->n++;
}

static void xc_end(void *ctx, const xmlChar *l, const xmlChar *p, const xmlChar *u)
{
	struct xmlcount *x = ((xmlParserCtxtPtr)ctx)->_private;

	(void)l, (void)p, (void)u;
	x->depth--;
}

static void xc_doctype(void *ctx, const xmlChar *name, const xmlChar *e,
		       const xmlChar *s)
{
	struct xmlcount *x = ((xmlParserCtxtPtr)ctx)->_private;

	(void)name, (void)e, (void)s;
	x->doctype = 1;
	xmlStopParser(x->ctxt);
}

static int xc_open(struct xmlcount *x)
{
	xmlSAXHandler sax;

	memset(x, 0, sizeof(*x));
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = xc_start;
	sax.endElementNs = xc_end;
	sax.internalSubset = xc_doctype;
	x->ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL);
	if (!x->ctxt)
		return -1;
	x->ctxt->_private = x;
	xmlCtxtUseOptions(x->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR |
			  XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	return 0;
}

static int xc_feed(struct xmlcount *x, const void *b, size_t n, int end)
{
	return xmlParseChunk(x->ctxt, b, (int)n, end) != 0 || x->doctype ? -1 : 0;
}

static void xc_close(struct xmlcount *x)
{
	if (x->ctxt)
		xmlFreeParserCtxt(x->ctxt);
	x->ctxt = NULL;
}

static int scan_xml(const char *path, long long *records,
		    unsigned long long *bytes, char sha[65], struct tmerr *err)
{
	unsigned long long size, got = 0;
	struct xmlcount x;
	struct sha256 h;
	unsigned char *b;
	ssize_t r;
	int fd, bad = 0;

	fd = open_regular(path, &size, err);
	if (fd < 0)
		return -1;
	b = malloc(BLOCK);
	if (!b || xc_open(&x)) {
		free(b);
		close(fd);
		return tmerr_set(err, TMERR_SYS, "out of memory reading \"%s\"", path);
	}
	sha256_init(&h);
	while ((r = read_full(fd, b, BLOCK)) > 0) {
		sha256_update(&h, b, (size_t)r);
		if (!bad && xc_feed(&x, b, (size_t)r, 0))
			bad = 1;
		got += (unsigned long long)r;
	}
	if (!bad && r == 0 && xc_feed(&x, "", 0, 1))
		bad = 1;
	if (r < 0)
		tmerr_set(err, TMERR_INPUT, "cannot read \"%s\": %s", path,
			  strerror(errno));
	else if (bad)
		tmerr_set(err, TMERR_INPUT,
			  "cannot pack \"%s\": %s", path, x.doctype ?
			  "a DOCTYPE is not allowed in canonical XML" :
			  "not well-formed XML");
	free(b);
	close(fd);
	*records = x.n;
	xc_close(&x);
	if (r < 0 || bad)
		return -1;
	*bytes = got;
	sha256_final_hex(&h, sha);
	return 0;
}

static int scan(const char *path, struct reccount *rc, long long *records,
		unsigned long long *bytes, char sha[65], struct tmerr *err)
{
	unsigned long long size, got = 0;
	struct sha256 h;
	unsigned char *b;
	ssize_t r;
	int fd;

	fd = open_regular(path, &size, err);
	if (fd < 0)
		return -1;
	b = malloc(BLOCK);
	if (!b) {
		close(fd);
		return tmerr_set(err, TMERR_SYS, "out of memory reading \"%s\"", path);
	}
	sha256_init(&h);
	while ((r = read_full(fd, b, BLOCK)) > 0) {
		sha256_update(&h, b, (size_t)r);
		if (rc)
			rc_feed(rc, b, (size_t)r);
		got += (unsigned long long)r;
	}
	if (r < 0)
		tmerr_set(err, TMERR_INPUT, "cannot read \"%s\": %s", path,
			  strerror(errno));
	free(b);
	close(fd);
	if (r < 0)
		return -1;
	if (bytes)
		*bytes = got;
	if (sha)
		sha256_final_hex(&h, sha);
	if (records && rc)
		*records = rc_end(rc);
	return 0;
}

int payload_scan_csv(const char *path, long long *records,
		     unsigned long long *bytes, char sha256[65],
		     struct tmerr *err)
{
	struct reccount rc = { 0, 0, 0 };

	return scan(path, &rc, records, bytes, sha256, err);
}

int payload_scan_file(const char *path, unsigned long long *bytes,
		      char sha256[65], struct tmerr *err)
{
	return scan(path, NULL, NULL, bytes, sha256, err);
}

int payload_scan(struct mfile *f, const char *path, struct tmerr *err)
{
	/* records, size and hash already known (made while writing the file) */
	if (f->records >= 0 && f->bytes && manifest_valid_sha256(f->sha256))
		return 0;
	if (f->records < 0 && !strcmp(f->format, "xml"))
		return scan_xml(path, &f->records, &f->bytes, f->sha256, err);
	if (f->records < 0 && strcmp(f->format, "csv"))
		return tmerr_set(err, TMERR_USAGE,
				 "cannot pack \"%s\": the record count of a %s file must be given",
				 path, f->format);
	if (f->records < 0)
		return payload_scan_csv(path, &f->records, &f->bytes, f->sha256,
					err);
	return payload_scan_file(path, &f->bytes, f->sha256, err);
}

/* ---- pass 2 --------------------------------------------------------------- */

struct payload_writer {
	struct archive *a;
	payload_sink_fn sink;
	void *ctx;
	unsigned flags;
	int state; /* 0: new, 1: manifest written, -1: failed */
	int muted; /* aborting: the sink gets nothing more */
	time_t mtime;
	struct manifest m;
	unsigned char *added;
	struct tmerr sinkerr;
	unsigned char block[BLOCK];
};

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf,
			     size_t n)
{
	struct payload_writer *w = ctx;

	if (w->muted)
		return (la_ssize_t)n;
	if (w->sink(w->ctx, buf, n)) {
		archive_set_error(a, EIO, "the package output refused the data");
		return -1;
	}
	return (la_ssize_t)n;
}

static int wfail(struct payload_writer *w, struct tmerr *err, const char *what)
{
	w->state = -1;
	return tmerr_set(err, TMERR_SYS, "cannot write the package payload (%s): %s",
			 what, aerr(w->a));
}

int payload_writer_open(struct payload_writer **wp, payload_sink_fn sink,
			void *ctx, unsigned flags, struct tmerr *err)
{
	struct payload_writer *w;

	*wp = NULL;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->a = archive_write_new())) {
		free(w);
		return tmerr_set(err, TMERR_SYS, "out of memory opening a payload");
	}
	w->sink = sink;
	w->ctx = ctx;
	w->flags = flags;
	w->mtime = time(NULL);
	manifest_init(&w->m);
	if (archive_write_add_filter_zstd(w->a) != ARCHIVE_OK) {
		wfail(w, err, "zstd");
		payload_writer_abort(w);
		return -1;
	}
	/* a second compressing thread where libzstd has them; else ignored */
	archive_write_set_filter_option(w->a, "zstd", "threads", "2");
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
		wfail(w, err, "libarchive setup");
		payload_writer_abort(w);
		return -1;
	}
	*wp = w;
	return 0;
}

static int write_header(struct payload_writer *w, const char *name,
			unsigned long long size, struct tmerr *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (!e) {
		w->state = -1;
		return tmerr_set(err, TMERR_SYS, "out of memory writing \"%s\"", name);
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, w->mtime, 0);
	r = archive_write_header(w->a, e);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? 0 : wfail(w, err, name);
}

static int write_data(struct payload_writer *w, const void *p, size_t n,
		      const char *name, struct tmerr *err)
{
	if (archive_write_data(w->a, p, n) != (la_ssize_t)n)
		return wfail(w, err, name);
	return 0;
}

int payload_write_manifest(struct payload_writer *w, const struct manifest *m,
			   struct tmerr *err)
{
	struct buf xml = BUF_INIT(MANIFEST_MAX_BYTES);
	int rc = -1;

	if (w->state)
		return tmerr_set(err, TMERR_USAGE,
				 "the payload manifest is written once, first");
	if (manifest_write(m, &xml, err))
		return -1;
	w->m = *m;
	w->m.files = NULL;
	w->m.counts = NULL;
	w->m.nfiles = w->m.ncounts = 0;
	w->m.files = malloc((m->nfiles ? m->nfiles : 1) * sizeof(*m->files));
	w->added = calloc(m->nfiles ? m->nfiles : 1, 1);
	if (!w->m.files || !w->added) {
		w->state = -1;
		tmerr_set(err, TMERR_SYS, "out of memory writing a payload");
		goto out;
	}
	if (m->nfiles)
		memcpy(w->m.files, m->files, m->nfiles * sizeof(*m->files));
	w->m.nfiles = m->nfiles;
	if (write_header(w, MANIFEST_NAME, xml.len, err) ||
	    write_data(w, xml.ptr, xml.len, MANIFEST_NAME, err))
		goto out;
	w->state = 1;
	rc = 0;
out:
	buf_release(&xml);
	return rc;
}

int payload_add_file(struct payload_writer *w, const char *name,
		     const char *path, struct tmerr *err)
{
	const struct mfile *f;
	unsigned long long size, got = 0;
	struct sha256 h;
	char sha[65];
	size_t i;
	ssize_t r = 0;
	int fd;

	if (w->state != 1)
		return tmerr_set(err, TMERR_USAGE,
				 "cannot add \"%s\": the payload has no manifest yet or has failed",
				 name);
	f = manifest_find(&w->m, name);
	if (!f)
		return tmerr_set(err, TMERR_USAGE,
				 "cannot add \"%s\": the manifest does not list it", name);
	i = (size_t)(f - w->m.files);
	if (w->added[i])
		return tmerr_set(err, TMERR_USAGE, "cannot add \"%s\" twice", name);
	fd = open_regular(path, &size, err);
	if (fd < 0)
		return -1;
	if (size != f->bytes) {
		close(fd);
		return tmerr_set(err, TMERR_INPUT,
				 "\"%s\" changed while packing: %llu bytes now, %llu when scanned",
				 path, size, f->bytes);
	}
	if (write_header(w, name, size, err)) {
		close(fd);
		return -1;
	}
	sha256_init(&h);
	while (got < size && (r = read_full(fd, w->block, BLOCK)) > 0) {
		if ((unsigned long long)r > size - got)
			r = (ssize_t)(size - got);
		if (!(w->flags & PAYLOAD_NO_RECHECK))
			sha256_update(&h, w->block, (size_t)r);
		if (write_data(w, w->block, (size_t)r, name, err)) {
			close(fd);
			return -1;
		}
		got += (unsigned long long)r;
	}
	if (got < size && r < 0)
		tmerr_set(err, TMERR_INPUT, "cannot read \"%s\": %s", path,
			  strerror(errno));
	close(fd);
	if (got < size) {
		w->state = -1;
		if (r == 0)
			tmerr_set(err, TMERR_INPUT,
				  "\"%s\" shrank while packing: %llu bytes, %llu when scanned",
				  path, got, size);
		return -1;
	}
	if (!(w->flags & PAYLOAD_NO_RECHECK)) {
		sha256_final_hex(&h, sha);
		if (strcmp(sha, f->sha256)) {
			w->state = -1;
			return tmerr_set(err, TMERR_INPUT,
					 "\"%s\" changed while packing: its SHA-256 differs from the scan",
					 path);
		}
	}
	w->added[i] = 1;
	return 0;
}

void payload_writer_abort(struct payload_writer *w)
{
	if (!w)
		return;
	if (w->a) {
		/* close, not archive_write_fail(): only close frees the
		 * client's block (libarchive 3.6) */
		w->muted = 1;
		archive_write_close(w->a);
		archive_write_free(w->a);
	}
	free(w->m.files);
	free(w->added);
	free(w);
}

int payload_writer_close(struct payload_writer *w, struct tmerr *err)
{
	size_t i;
	int rc = 0;

	if (w->state != 1) {
		rc = tmerr_set(err, TMERR_USAGE,
			       "cannot finish the payload: %s",
			       w->state ? "an earlier write failed" : "it has no manifest");
	}
	for (i = 0; !rc && i < w->m.nfiles; i++)
		if (!w->added[i])
			rc = tmerr_set(err, TMERR_USAGE,
				       "cannot finish the payload: \"%s\" is listed in the manifest but was not added",
				       w->m.files[i].name);
	if (!rc && archive_write_close(w->a) != ARCHIVE_OK)
		rc = wfail(w, err, "end of archive");
	if (rc) {
		payload_writer_abort(w);
		return -1;
	}
	archive_write_free(w->a);
	w->a = NULL;
	payload_writer_abort(w);
	return 0;
}

int payload_pack(struct manifest *m, const char *const *paths,
		 payload_sink_fn sink, void *ctx, unsigned flags,
		 struct tmerr *err)
{
	struct payload_writer *w;
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (payload_scan(&m->files[i], paths[i], err))
			return -1;
	if (payload_writer_open(&w, sink, ctx, flags, err))
		return -1;
	if (payload_write_manifest(w, m, err))
		goto fail;
	for (i = 0; i < m->nfiles; i++)
		if (payload_add_file(w, m->files[i].name, paths[i], err))
			goto fail;
	return payload_writer_close(w, err);
fail:
	payload_writer_abort(w);
	return -1;
}

/* ---- verifying ------------------------------------------------------------ */

struct verifier {
	struct input *in;
	struct payload_limits lim;
	struct archive *a;
	unsigned long long raw;      /* compressed bytes handed to libarchive */
	unsigned long long out;      /* entry bytes decompressed */
	unsigned long long declared; /* sum of header sizes */
	unsigned entries;
	int in_eof;
	int dir_seen;
	struct manifest *m;
	unsigned char *seen;         /* per manifest file */
	/* extraction */
	const char *dir;
	int dfd, datafd;             /* extract_dir and its data/, or -1 */
	int made_dir, made_data;
	int tmpfd, tmpat;            /* temporary file and its directory */
	char tmpname[64];
	unsigned char *done;         /* per manifest file: linked into place */
	int manifest_done;
	char name[260];              /* current entry, printable */
	unsigned char block[BLOCK];
};

static la_ssize_t in_read(struct archive *a, void *ctx, const void **buf)
{
	struct verifier *v = ctx;
	ssize_t r;

	if (v->in_eof)
		return 0;
	r = v->in->read(v->in->ctx, v->block, sizeof(v->block));
	if (r < 0) {
		int e = errno ? errno : EIO;

		archive_set_error(a, e, "read error: %s", strerror(e));
		return ARCHIVE_FATAL;
	}
	if (r == 0)
		v->in_eof = 1;
	v->raw += (unsigned long long)r;
	*buf = v->block;
	return r;
}

/* A printable form of an untrusted name for messages. */
static void show_name(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
	}
	dst[i] = '\0';
	if (src[i] && n > 4)
		memcpy(dst + n - 4, "...", 4);
}

/* ---- extraction ---- */

static int open_dir_at(int at, const char *name, int *made, struct tmerr *err,
		       const char *shown)
{
	int fd;

	*made = 0;
	if (mkdirat(at, name, 0755) == 0)
		*made = 1;
	else if (errno != EEXIST)
		return tmerr_set(err, TMERR_SYS, "cannot create directory \"%s\": %s",
				 shown, strerror(errno));
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		tmerr_set(err, TMERR_SYS, "cannot open directory \"%s\": %s", shown,
			  strerror(errno));
		if (*made)
			unlinkat(at, name, AT_REMOVEDIR);
		*made = 0;
	}
	return fd;
}

/* The directory an entry goes to and its base name. */
static int entry_dir(struct verifier *v, const char *name, const char **base,
		     struct tmerr *err)
{
	if (strncmp(name, "data/", 5)) {
		*base = name;
		return v->dfd;
	}
	*base = name + 5;
	if (v->datafd < 0) {
		char shown[PATH_MAX_SHOWN];

		snprintf(shown, sizeof(shown), "%s/data", v->dir);
		v->datafd = open_dir_at(v->dfd, "data", &v->made_data, err, shown);
	}
	return v->datafd;
}

static int tmp_open(struct verifier *v, const char *name, struct tmerr *err)
{
	const char *base;
	int at = entry_dir(v, name, &base, err), i;

	if (at < 0)
		return -1;
	for (i = 0; i < 100; i++) {
		snprintf(v->tmpname, sizeof(v->tmpname), ".tmisgw-unpack.%ld.%u.%d",
			 (long)getpid(), v->entries, i);
		v->tmpfd = openat(at, v->tmpname,
				  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				  0644);
		if (v->tmpfd >= 0 || errno != EEXIST)
			break;
	}
	if (v->tmpfd < 0)
		return tmerr_set(err, TMERR_SYS,
				 "cannot create a temporary file in \"%s\": %s",
				 v->dir, strerror(errno));
	v->tmpat = at;
	return 0;
}

static void tmp_discard(struct verifier *v)
{
	if (v->tmpfd < 0)
		return;
	close(v->tmpfd);
	unlinkat(v->tmpat, v->tmpname, 0);
	v->tmpfd = -1;
}

static int tmp_write(struct verifier *v, const void *p, size_t n,
		     struct tmerr *err)
{
	const char *c = p;
	ssize_t r;

	while (n) {
		r = write(v->tmpfd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return tmerr_set(err, TMERR_SYS,
					 "cannot write \"%s\" into \"%s\": %s",
					 v->name, v->dir, strerror(errno));
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Links the finished temporary file into place, never over a file. */
static int tmp_commit(struct verifier *v, const char *name, struct tmerr *err)
{
	const char *base = strncmp(name, "data/", 5) ? name : name + 5;
	int r = close(v->tmpfd);

	v->tmpfd = -1;
	if (r == 0)
		r = linkat(v->tmpat, v->tmpname, v->tmpat, base, 0);
	if (r)
		tmerr_set(err, TMERR_SYS, "cannot extract \"%s\" into \"%s\": %s",
			  name, v->dir,
			  errno == EEXIST ? "it already exists" : strerror(errno));
	unlinkat(v->tmpat, v->tmpname, 0);
	return r ? -1 : 0;
}

/* Removes everything this run extracted. */
static void extract_undo(struct verifier *v)
{
	size_t i;

	tmp_discard(v);
	for (i = 0; v->done && i < v->m->nfiles; i++)
		if (v->done[i]) {
			const char *n = v->m->files[i].name;

			if (strncmp(n, "data/", 5))
				unlinkat(v->dfd, n, 0);
			else if (v->datafd >= 0)
				unlinkat(v->datafd, n + 5, 0);
		}
	if (v->manifest_done)
		unlinkat(v->dfd, MANIFEST_NAME, 0);
	if (v->made_data)
		unlinkat(v->dfd, "data", AT_REMOVEDIR);
	if (v->made_dir)
		rmdir(v->dir);
}

/* ---- checks ---- */

__attribute__((format(printf, 4, 5)))
static int fail3(struct tmerr *err, enum tmerr_code code, const char *what,
		 const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tmerr_set(err, code, "check 3 (%s): %s", what, msg);
}

/* Re-labels an error of manifest_parse() as check 3. */
static int manifest_fail(struct tmerr *err)
{
	char msg[sizeof(err->msg)];
	const char *m = err->msg;

	if (!strncmp(m, "manifest: ", 10))
		m += 10;
	snprintf(msg, sizeof(msg), "check 3 (manifest): %.480s", m);
	memcpy(err->msg, msg, sizeof(msg));
	return -1;
}

static int ratio_check(struct verifier *v, struct tmerr *err)
{
	unsigned long long dec = (unsigned long long)archive_filter_bytes(v->a, 0);

	if (dec < v->out)
		dec = v->out;
	if (dec <= PAYLOAD_RATIO_GRACE ||
	    (double)dec <= v->lim.max_ratio * (double)v->raw)
		return 0;
	return fail3(err, TMERR_LIMIT, "archive",
		     "the payload expands more than %g times (%llu bytes out of %llu read, at \"%s\"): refused as a compression bomb",
		     v->lim.max_ratio, dec, v->raw, v->name);
}

static const char *type_name(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "a hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return archive_entry_sparse_count(e) > 0 ? "a sparse file" : NULL;
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFCHR:
	case AE_IFBLK:
		return "a device";
	case AE_IFIFO:
		return "a fifo";
	case AE_IFSOCK:
		return "a socket";
	case AE_IFDIR:
		return "a directory other than data/";
	default:
		return "not a regular file";
	}
}

static int has_dotdot(const char *n)
{
	for (;;) {
		size_t len = strcspn(n, "/");

		if (len == 2 && n[0] == '.' && n[1] == '.')
			return 1;
		if (!n[len])
			return 0;
		n += len + 1;
	}
}

/* One entry's data: hashed, counted, capped and perhaps written out. */
struct sink_state {
	struct sha256 h;
	struct reccount rc;
	int csv;
	struct xmlcount *xml; /* an XML entry's records are counted too */
	int xml_bad;
	struct buf *keep; /* the manifest is kept in memory */
};

static int read_entry(struct verifier *v, struct sink_state *s,
		      unsigned long long size, struct tmerr *err)
{
	unsigned long long got = 0;
	const void *p;
	size_t len;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(v->a, &p, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return fail3(err, TMERR_INPUT, "archive",
				     "cannot read entry \"%s\": %s", v->name,
				     aerr(v->a));
		if (off < 0 || (unsigned long long)off != got)
			return fail3(err, TMERR_INPUT, "archive",
				     "entry \"%s\" has holes", v->name);
		got += len;
		v->out += len;
		if (got > size)
			return fail3(err, TMERR_INPUT, "archive",
				     "entry \"%s\" is longer than its header says",
				     v->name);
		if (v->out > v->lim.max_total_bytes)
			return fail3(err, TMERR_LIMIT, "archive",
				     "the payload holds more than %llu bytes",
				     v->lim.max_total_bytes);
		if (ratio_check(v, err))
			return -1;
		if (s->keep) {
			if (buf_add(s->keep, p, len))
				return fail3(err, TMERR_LIMIT, "manifest",
					     "manifest.xml is larger than %d bytes",
					     MANIFEST_MAX_BYTES);
			continue;
		}
		sha256_update(&s->h, p, len);
		if (s->csv)
			rc_feed(&s->rc, p, len);
		if (s->xml && !s->xml_bad && xc_feed(s->xml, p, len, 0))
			s->xml_bad = 1;
		if (v->tmpfd >= 0 && tmp_write(v, p, len, err))
			return -1;
	}
	if (got != size)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" is truncated (%llu of %llu bytes)",
			     v->name, got, size);
	return 0;
}

static int do_manifest(struct verifier *v, unsigned long long size,
		       struct tmerr *err)
{
	struct buf xml = BUF_INIT(MANIFEST_MAX_BYTES);
	struct sink_state s;
	size_t n;
	int rc = -1;

	if (size > MANIFEST_MAX_BYTES)
		return fail3(err, TMERR_LIMIT, "manifest",
			     "manifest.xml is %llu bytes, over the %d-byte limit",
			     size, MANIFEST_MAX_BYTES);
	memset(&s, 0, sizeof(s));
	s.keep = &xml;
	if (read_entry(v, &s, size, err))
		goto out;
	if (manifest_parse(xml.ptr, xml.len, v->m, err)) {
		manifest_fail(err);
		goto out;
	}
	n = v->m->nfiles ? v->m->nfiles : 1;
	v->seen = calloc(n, 1);
	v->done = calloc(n, 1);
	if (!v->seen || !v->done) {
		tmerr_set(err, TMERR_SYS, "out of memory verifying a payload");
		goto out;
	}
	if (v->dfd >= 0) {
		if (tmp_open(v, MANIFEST_NAME, err) ||
		    tmp_write(v, xml.ptr, xml.len, err) ||
		    tmp_commit(v, MANIFEST_NAME, err))
			goto out;
		v->manifest_done = 1;
	}
	rc = 0;
out:
	buf_release(&xml);
	return rc;
}

static int do_file(struct verifier *v, const char *n, unsigned long long size,
		   struct tmerr *err)
{
	const struct mfile *f = manifest_find(v->m, n);
	struct sink_state s;
	struct xmlcount xc;
	char sha[65];
	size_t i;

	if (!strcmp(n, MANIFEST_NAME))
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"manifest.xml\" appears twice");
	if (!manifest_valid_name(n))
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" refused: names are data/NAME or NAME, of [A-Za-z0-9._-]",
			     v->name);
	if (!f)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" is not listed in the manifest", v->name);
	i = (size_t)(f - v->m->files);
	if (v->seen[i]++)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" appears twice", v->name);
	if (size != f->bytes)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" is %llu bytes; the manifest says %llu",
			     v->name, size, f->bytes);
	memset(&s, 0, sizeof(s));
	sha256_init(&s.h);
	s.csv = !strcmp(f->format, "csv");
	if (!strcmp(f->format, "xml")) {
		if (xc_open(&xc))
			return tmerr_set(err, TMERR_SYS, "out of memory verifying a payload");
		s.xml = &xc;
	}
	if ((v->dfd >= 0 && tmp_open(v, n, err)) || read_entry(v, &s, size, err)) {
		if (s.xml)
			xc_close(&xc);
		return -1;
	}
	if (s.xml) {
		if (!s.xml_bad && xc_feed(&xc, "", 0, 1))
			s.xml_bad = 1;
		xc_close(&xc);
		if (s.xml_bad)
			return fail3(err, TMERR_INPUT, "archive",
				     "entry \"%s\" is not well-formed XML%s", v->name,
				     xc.doctype ? " (a DOCTYPE is not allowed)" : "");
		if (xc.n != f->records)
			return fail3(err, TMERR_INPUT, "archive",
				     "entry \"%s\" holds %lld records; the manifest says %lld",
				     v->name, xc.n, f->records);
	}
	sha256_final_hex(&s.h, sha);
	if (strcmp(sha, f->sha256))
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" has SHA-256 %s; the manifest says %s",
			     v->name, sha, f->sha256);
	if (s.csv && rc_end(&s.rc) != f->records)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" holds %lld records; the manifest says %lld",
			     v->name, rc_end(&s.rc), f->records);
	if (v->dfd >= 0) {
		if (tmp_commit(v, n, err))
			return -1;
		v->done[i] = 1;
	}
	return 0;
}

/* One header: 1 when an entry was checked, 0 at the end, -1 on failure. */
static int next_entry(struct verifier *v, struct tmerr *err)
{
	struct archive_entry *e;
	unsigned long long size;
	const char *n, *why;
	int r;

	r = archive_read_next_header(v->a, &e);
	if (r == ARCHIVE_EOF)
		return v->entries ? 0 :
		       fail3(err, TMERR_INPUT, "manifest",
			     "manifest.xml is missing: the archive is empty");
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		if (!v->entries)
			return fail3(err, TMERR_INPUT, "archive",
				     "the payload is not a tar.zst or tar.gz archive: %s",
				     aerr(v->a));
		return fail3(err, TMERR_INPUT, "archive",
			     "cannot read the entry after \"%s\": %s", v->name,
			     aerr(v->a));
	}
	if (!v->entries) {
		int code = archive_filter_code(v->a, 0);

		if (archive_filter_count(v->a) != 2 ||
		    (code != ARCHIVE_FILTER_ZSTD && code != ARCHIVE_FILTER_GZIP))
			return fail3(err, TMERR_INPUT, "archive",
				     "the payload tar is compressed with \"%s\"; zstd or gzip is required",
				     archive_filter_name(v->a, 0));
	}
	if (++v->entries > v->lim.max_entries)
		return fail3(err, TMERR_LIMIT, "archive",
			     "the payload has more than %u entries",
			     v->lim.max_entries);
	if (ratio_check(v, err))
		return -1;
	n = archive_entry_pathname(e);
	if (!n)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry %u has no readable name", v->entries);
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	show_name(v->name, sizeof(v->name), n);
	if (v->entries == 1 && strcmp(n, MANIFEST_NAME))
		return fail3(err, TMERR_INPUT, "manifest",
			     "manifest.xml is not the first entry (the first is \"%s\"): it is missing or out of place",
			     v->name);
	if (n[0] == '/')
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" refused: it is an absolute path", v->name);
	if (has_dotdot(n))
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" refused: it leads out of the archive (\"..\")",
			     v->name);
	why = type_name(e);
	if (why && archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e) &&
	    v->entries > 1 && (!strcmp(n, "data") || !strcmp(n, "data/"))) {
		if (v->dir_seen++)
			return fail3(err, TMERR_INPUT, "archive",
				     "entry \"%s\" appears twice", v->name);
		return 1;
	}
	if (why)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" refused: it is %s; only regular files are allowed",
			     v->name, why);
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
		return fail3(err, TMERR_INPUT, "archive",
			     "entry \"%s\" has no size", v->name);
	size = (unsigned long long)archive_entry_size(e);
	if (size > v->lim.max_entry_bytes)
		return fail3(err, TMERR_LIMIT, "archive",
			     "entry \"%s\" is %llu bytes, over the %llu-byte limit",
			     v->name, size, v->lim.max_entry_bytes);
	v->declared += size;
	if (v->declared > v->lim.max_total_bytes)
		return fail3(err, TMERR_LIMIT, "archive",
			     "the payload holds more than %llu bytes",
			     v->lim.max_total_bytes);
	if (v->entries == 1)
		return do_manifest(v, size, err) ? -1 : 1;
	return do_file(v, n, size, err) ? -1 : 1;
}

/* Reads what follows the archive, so the whole stream is consumed. */
static int drain(struct verifier *v, struct tmerr *err)
{
	unsigned long long extra = 0;
	ssize_t r;

	while (!v->in_eof) {
		r = v->in->read(v->in->ctx, v->block, sizeof(v->block));
		if (r < 0)
			return fail3(err, TMERR_INPUT, "archive",
				     "cannot read past the end of the archive: %s",
				     strerror(errno));
		if (r == 0)
			break;
		extra += (unsigned long long)r;
		if (extra > PAYLOAD_MAX_TRAILER)
			return fail3(err, TMERR_INPUT, "archive",
				     "more than %llu bytes follow the end of the archive",
				     PAYLOAD_MAX_TRAILER);
	}
	return 0;
}

static int walk(struct verifier *v, struct tmerr *err)
{
	size_t i;
	int r;

	v->a = archive_read_new();
	if (!v->a)
		return tmerr_set(err, TMERR_SYS, "out of memory verifying a payload");
	/* built-in decoders only: never an external program */
	if (archive_read_support_filter_zstd(v->a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(v->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(v->a) != ARCHIVE_OK)
		return tmerr_set(err, TMERR_SYS,
				 "cannot verify payloads: libarchive lacks tar, zstd or gzip support");
	if (archive_read_open(v->a, v, NULL, in_read, NULL) != ARCHIVE_OK)
		return fail3(err, TMERR_INPUT, "archive",
			     "the payload is not a tar.zst or tar.gz archive: %s",
			     aerr(v->a));
	while ((r = next_entry(v, err)) == 1)
		;
	if (r < 0)
		return -1;
	for (i = 0; i < v->m->nfiles; i++)
		if (!v->seen[i])
			return fail3(err, TMERR_INPUT, "archive",
				     "\"%s\" is listed in the manifest but not in the archive",
				     v->m->files[i].name);
	return drain(v, err);
}

int payload_verify(struct input *in, const struct payload_limits *l,
		   struct manifest *m, const char *extract_dir,
		   struct tmerr *err)
{
	struct verifier *v;
	int rc = -1;

	manifest_init(m);
	v = calloc(1, sizeof(*v));
	if (!v)
		return tmerr_set(err, TMERR_SYS, "out of memory verifying a payload");
	v->in = in;
	if (l)
		v->lim = *l;
	else
		payload_limits_default(&v->lim);
	v->m = m;
	v->dir = extract_dir;
	v->dfd = v->datafd = v->tmpfd = -1;
	if (extract_dir) {
		if (mkdir(extract_dir, 0755) == 0)
			v->made_dir = 1;
		else if (errno != EEXIST) {
			tmerr_set(err, TMERR_SYS, "cannot create directory \"%s\": %s",
				  extract_dir, strerror(errno));
			goto out;
		}
		v->dfd = open(extract_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (v->dfd < 0) {
			tmerr_set(err, TMERR_SYS, "cannot open directory \"%s\": %s",
				  extract_dir, strerror(errno));
			goto out;
		}
	}
	rc = walk(v, err);
out:
	if (v->a)
		archive_read_free(v->a);
	if (rc) {
		if (extract_dir)
			extract_undo(v);
		manifest_free(m);
		if (!err->file[0] && in->name)
			tmerr_where(err, in->name, 0, 0);
	}
	tmp_discard(v);
	if (v->datafd >= 0)
		close(v->datafd);
	if (v->dfd >= 0)
		close(v->dfd);
	free(v->seen);
	free(v->done);
	free(v);
	return rc;
}
