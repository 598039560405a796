/*
 * bundle: zip and tar members as struct inputs, streamed by libarchive from
 * the archive file through one fixed block; nothing is written to disk.
 *
 * Both bundle_list() and bundle_open_member() walk the archive from its start
 * with the same checks (walk_next), so a member is never opened past an entry
 * that bundle_list() would have refused. Every decompressed byte this handle
 * produces, skipped or read, counts towards the ratio against the archive
 * bytes libarchive asked for.
 */
#include "bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../etl/buf.h"

#define BLOCK (64 * 1024)

/* The archive file, handed to libarchive one block at a time. */
struct src {
	int fd;
	unsigned long long raw; /* bytes given to libarchive */
	unsigned char block[BLOCK];
};

/* One pass over the entries of an archive. */
struct walk {
	struct archive *a;
	struct src *src;
	const char *path;
	const struct bundle_limits *lim;
	unsigned entries;
	unsigned long long declared; /* sum of members' header sizes */
	unsigned long long out;      /* data bytes decompressed */
	int filtered;                /* gzip/bzip2/zstd over a tar */
	struct archive_entry *e;
	locale_t utf8;               /* this thread's, while libarchive runs */
	iconv_t gb;                  /* GB18030 names from Chinese Windows */
	int toolong;                 /* name cut to BUNDLE_NAME_MAX */
	char name[BUNDLE_NAME_MAX + 1];
};

enum { WALK_ERR = -1, WALK_END = 0, WALK_MEMBER = 1 };

struct bundle {
	struct walk w;
	struct src src;
	struct bundle_limits lim;
	unsigned long long got; /* bytes of the member handed out */
	unsigned long long cap;
	int fail_errno;
	struct tmerr err;
	char name[]; /* "path:member" */
};

void bundle_limits_default(struct bundle_limits *l)
{
	l->max_member_bytes = BUNDLE_MAX_MEMBER_BYTES;
	l->max_total_bytes = BUNDLE_MAX_TOTAL_BYTES;
	l->max_entries = BUNDLE_MAX_ENTRIES;
	l->max_ratio = BUNDLE_MAX_RATIO;
}

/* ---- the archive file ---------------------------------------------------- */

static la_ssize_t src_read(struct archive *a, void *ctx, const void **buf)
{
	struct src *s = ctx;
	ssize_t r;

	do
		r = read(s->fd, s->block, sizeof(s->block));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		archive_set_error(a, errno, "read error: %s", strerror(errno));
		return ARCHIVE_FATAL;
	}
	s->raw += (unsigned long long)r;
	*buf = s->block;
	return r;
}

static la_int64_t src_skip(struct archive *a, void *ctx, la_int64_t request)
{
	struct src *s = ctx;

	(void)a;
	if (request <= 0 || lseek(s->fd, request, SEEK_CUR) < 0)
		return 0;
	return request;
}

static la_int64_t src_seek(struct archive *a, void *ctx, la_int64_t offset,
			   int whence)
{
	struct src *s = ctx;
	off_t r = lseek(s->fd, offset, whence);

	if (r < 0) {
		archive_set_error(a, errno, "seek error: %s", strerror(errno));
		return ARCHIVE_FATAL;
	}
	return r;
}

static int src_open(struct src *s, const char *path, struct tmerr *err)
{
	struct stat st;

	s->raw = 0;
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return tmerr_set(err, TMERR_INPUT, "cannot open bundle \"%s\": %s",
				 path, strerror(errno));
	if (fstat(s->fd, &st) || !S_ISREG(st.st_mode)) {
		close(s->fd);
		s->fd = -1;
		return tmerr_set(err, TMERR_INPUT,
				 "cannot read bundle \"%s\": not a regular file",
				 path);
	}
	return 0;
}

static const char *aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unexpected end or unknown error";
}

/* ---- formats ------------------------------------------------------------- */

static const struct {
	size_t off, len;
	const char *magic;
	const char *what;
} magics[] = {
	{ 0, 6, "7z\xbc\xaf\x27\x1c", "7-Zip" },
	{ 0, 6, "Rar!\x1a\x07", "RAR" },
	{ 0, 6, "070707", "cpio" },
	{ 0, 6, "070701", "cpio" },
	{ 0, 6, "070702", "cpio" },
	{ 0, 2, "\xc7\x71", "cpio" },
	{ 0, 2, "\x71\xc7", "cpio" },
	{ 0, 4, "MSCF", "CAB" },
	{ 0, 4, "xar!", "XAR" },
	{ 0, 8, "!<arch>\n", "ar" },
	{ 2, 3, "-lh", "LHA" },
};

/*
 * Names the format of an archive libarchive did not take, looking at the
 * first bytes after any compression; NULL if it is none we know.
 */
static const char *sniff_format(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct tmerr dummy;
	struct src *s;
	unsigned char head[64];
	const char *what = NULL;
	la_ssize_t got = 0;
	size_t i;

	s = malloc(sizeof(*s));
	if (!a || !s || src_open(s, path, &dummy)) {
		archive_read_free(a);
		free(s);
		return NULL;
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	if (archive_read_open(a, s, NULL, src_read, NULL) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK)
		got = archive_read_data(a, head, sizeof(head));
	for (i = 0; got > 0 && i < sizeof(magics) / sizeof(magics[0]); i++)
		if ((size_t)got >= magics[i].off + magics[i].len &&
		    !memcmp(head + magics[i].off, magics[i].magic, magics[i].len)) {
			what = magics[i].what;
			break;
		}
	archive_read_free(a);
	close(s->fd);
	free(s);
	return what;
}

static struct archive *archive_open(struct src *s, const char *path,
				    struct tmerr *err)
{
	struct archive *a = archive_read_new();

	if (!a)
		return tmerr_set(err, TMERR_SYS, "out of memory opening \"%s\"",
				 path), NULL;
	/* Built-in decoders only: never an external program. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK) {
		tmerr_set(err, TMERR_SYS,
			  "cannot read bundle \"%s\": libarchive lacks zip, tar, gzip, bzip2 or zstd support",
			  path);
		archive_read_free(a);
		return NULL;
	}
	/* zip names without the UTF-8 flag: Windows' OEM code page, in China
	 * GBK, of which GB18030 is the superset */
	archive_read_set_format_option(a, "zip", "hdrcharset", "GB18030");
	archive_read_set_callback_data(a, s);
	archive_read_set_read_callback(a, src_read);
	archive_read_set_skip_callback(a, src_skip);
	archive_read_set_seek_callback(a, src_seek);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		const char *what = sniff_format(path);

		if (what)
			tmerr_set(err, TMERR_INPUT,
				  "cannot read bundle \"%s\": it is a %s archive; only zip and tar (plain, gzip, bzip2, zstd) are supported",
				  path, what);
		else
			tmerr_set(err, TMERR_INPUT,
				  "cannot read bundle \"%s\": not a zip or tar archive (%s)",
				  path, aerr(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int walk_start(struct walk *w, struct src *s, const char *path,
		      const struct bundle_limits *l, struct tmerr *err)
{
	locale_t old = 0;

	memset(w, 0, sizeof(*w));
	w->src = s;
	w->path = path;
	w->lim = l;
	w->gb = (iconv_t)-1;
	s->fd = -1;
	/*
	 * libarchive converts names to the current locale's charset and gives
	 * up on UTF-8 names in the C locale: let it see UTF-8, in this thread
	 * only and only while it runs.
	 */
	w->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (src_open(s, path, err))
		return -1;
	if (w->utf8)
		old = uselocale(w->utf8);
	w->a = archive_open(s, path, err);
	if (old)
		uselocale(old);
	return w->a ? 0 : -1;
}

static void walk_end(struct walk *w)
{
	if (w->a)
		archive_read_free(w->a);
	w->a = NULL;
	if (w->src && w->src->fd >= 0)
		close(w->src->fd);
	if (w->src)
		w->src->fd = -1;
	if (w->utf8)
		freelocale(w->utf8);
	w->utf8 = 0;
	if (w->gb != (iconv_t)-1)
		iconv_close(w->gb);
	w->gb = (iconv_t)-1;
}

/* ---- checks -------------------------------------------------------------- */

static int ratio_ok(const struct walk *w)
{
	return w->out <= BUNDLE_RATIO_GRACE ||
	       (double)w->out <= w->lim->max_ratio * (double)w->src->raw;
}

static int ratio_fail(const struct walk *w, struct tmerr *err)
{
	return tmerr_set(err, TMERR_LIMIT,
			 "bundle \"%s\" expands more than %g times (%llu bytes out of %llu read): refused as a compression bomb",
			 w->path, w->lim->max_ratio, w->out, w->src->raw);
}

static int utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		while (n--) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (*s++ & 0x3f);
		}
		if ((c == 0xe0 && cp < 0x800) || (c == 0xf0 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

/* NULL if the name is safe, else why not (the name is then not quoted). */
static const char *name_problem(const char *n, int *quote)
{
	const unsigned char *p;
	const char *c;

	*quote = 0;
	if (!utf8_valid((const unsigned char *)n))
		return "is not valid UTF-8";
	for (p = (const unsigned char *)n; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "contains control characters";
	*quote = 1;
	if (!*n)
		return "is empty";
	if (n[0] == '/' || (n[0] && n[1] == ':'))
		return "is an absolute path";
	if (strchr(n, '\\'))
		return "contains a backslash";
	for (c = n;; c = strchr(c, '/') + 1) {
		size_t len = strcspn(c, "/");

		if (len == 2 && !memcmp(c, "..", 2))
			return "leads out of the archive (\"..\")";
		if (len == 0 || (len == 1 && c[0] == '.'))
			return "has an empty or \".\" component";
		if (!c[len])
			break;
	}
	return NULL;
}

static const char *type_name(struct archive_entry *e)
{
	switch (archive_entry_filetype(e)) {
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFCHR:
	case AE_IFBLK:
		return "a device";
	case AE_IFIFO:
		return "a fifo";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "not a regular file";
	}
}

/* zip members may be stored, deflated, bzip2'd or zstd'd, nothing else */
static const char *zip_method_problem(struct archive *a)
{
	static const char *const ok[] = { "uncompressed", "deflation", "bzip2",
					  "zstd" };
	const char *f = archive_format_name(a), *p, *q;
	size_t i;

	if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_ZIP)
		return NULL;
	p = f ? strchr(f, '(') : NULL;
	q = p ? strchr(p, ')') : NULL;
	if (!q)
		return f ? f : "unknown";
	p++;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if ((size_t)(q - p) == strlen(ok[i]) && !memcmp(p, ok[i], q - p))
			return NULL;
	return f;
}

/* Re-reads w->name as GB18030, leaving it as it was if that fails too. */
static void gb_to_utf8(struct walk *w)
{
	char out[BUNDLE_NAME_MAX + 1], *ip = w->name, *op = out;
	size_t il = strlen(w->name), ol = sizeof(out) - 1;

	if (w->gb == (iconv_t)-1)
		w->gb = iconv_open("UTF-8", "GB18030");
	if (w->gb == (iconv_t)-1)
		return;
	iconv(w->gb, NULL, NULL, NULL, NULL);
	if (iconv(w->gb, &ip, &il, &op, &ol) == (size_t)-1 ||
	    iconv(w->gb, NULL, NULL, &op, &ol) == (size_t)-1)
		return;
	*op = '\0';
	memcpy(w->name, out, (size_t)(op - out) + 1);
}

static int header_fail(struct walk *w, struct tmerr *err)
{
	return tmerr_set(err, TMERR_INPUT,
			 "cannot read bundle \"%s\": corrupt after entry %u: %s",
			 w->path, w->entries, aerr(w->a));
}

/*
 * Reads the next header; on ARCHIVE_OK the entry's name (UTF-8 if it can be
 * made so, else raw bytes; NULL if none) is copied, cut, into w->name.
 */
static int read_header(struct walk *w, struct archive_entry **e, int *named)
{
	locale_t old = w->utf8 ? uselocale(w->utf8) : 0;
	const char *n = NULL;
	int r;

	r = archive_read_next_header(w->a, e);
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
		r = ARCHIVE_OK;
		n = archive_entry_pathname_utf8(*e);
		if (!n)
			n = archive_entry_pathname(*e);
	}
	if (old)
		uselocale(old);
	*named = n != NULL;
	if (!n)
		return r;
	w->toolong = strlen(n) > BUNDLE_NAME_MAX;
	str_copy_utf8(w->name, sizeof(w->name), n, strlen(n));
	if (!w->toolong && !utf8_valid((const unsigned char *)w->name))
		gb_to_utf8(w);
	return r;
}

/*
 * Next regular-file member: WALK_MEMBER with w->name and w->e set, WALK_END,
 * or WALK_ERR with err filled. Directories are passed over.
 */
static int walk_next(struct walk *w, struct tmerr *err)
{
	for (;;) {
		struct archive_entry *e;
		const char *n, *why;
		int r, quote, named;

		r = read_header(w, &e, &named);
		if (r == ARCHIVE_EOF)
			return WALK_END;
		if (r != ARCHIVE_OK)
			return header_fail(w, err), WALK_ERR;
		w->filtered = archive_filter_count(w->a) > 1;
		if (++w->entries > w->lim->max_entries)
			return tmerr_set(err, TMERR_LIMIT,
					 "bundle \"%s\" has more than %u entries",
					 w->path, w->lim->max_entries), WALK_ERR;
		n = w->name;
		if (!named)
			return tmerr_set(err, TMERR_INPUT,
					 "entry %u of bundle \"%s\" has no readable name",
					 w->entries, w->path), WALK_ERR;
		while (n[0] == '.' && n[1] == '/')
			n += 2;
		if (archive_entry_filetype(e) == AE_IFDIR)
			continue;
		if (w->toolong)
			return tmerr_set(err, TMERR_INPUT,
					 "entry %u of bundle \"%s\" refused: its name is longer than %d bytes",
					 w->entries, w->path, BUNDLE_NAME_MAX), WALK_ERR;
		why = name_problem(n, &quote);
		if (why && quote)
			return tmerr_set(err, TMERR_INPUT,
					 "entry \"%.200s\" of bundle \"%s\" refused: its name %s",
					 n, w->path, why), WALK_ERR;
		if (why)
			return tmerr_set(err, TMERR_INPUT,
					 "entry %u of bundle \"%s\" refused: its name %s",
					 w->entries, w->path, why), WALK_ERR;
		if (archive_entry_hardlink(e))
			why = "a hard link";
		else if (archive_entry_filetype(e) != AE_IFREG)
			why = type_name(e);
		else if (archive_entry_sparse_count(e) > 0)
			why = "a sparse file";
		else if (archive_entry_is_encrypted(e))
			why = "encrypted";
		if (why)
			return tmerr_set(err, TMERR_INPUT,
					 "entry \"%s\" of bundle \"%s\" refused: it is %s; only regular files are allowed",
					 n, w->path, why), WALK_ERR;
		why = zip_method_problem(w->a);
		if (why)
			return tmerr_set(err, TMERR_INPUT,
					 "entry \"%s\" of bundle \"%s\" refused: unsupported compression \"%s\"",
					 n, w->path, why), WALK_ERR;
		if (archive_entry_size_is_set(e)) {
			unsigned long long sz = (unsigned long long)archive_entry_size(e);

			if (sz > w->lim->max_member_bytes)
				return tmerr_set(err, TMERR_LIMIT,
						 "entry \"%s\" of bundle \"%s\" is %llu bytes, over the %llu-byte limit",
						 n, w->path, sz,
						 w->lim->max_member_bytes), WALK_ERR;
			w->declared += sz;
			if (w->declared > w->lim->max_total_bytes)
				return tmerr_set(err, TMERR_LIMIT,
						 "bundle \"%s\" holds more than %llu bytes",
						 w->path, w->lim->max_total_bytes), WALK_ERR;
		}
		memmove(w->name, n, strlen(n) + 1);
		w->e = e;
		return WALK_MEMBER;
	}
}

/*
 * Passes over the current member's data. Where that means decompressing
 * (a compressed tar, or a zip entry of unknown size) it goes block by block
 * so that the ratio is checked; otherwise libarchive seeks.
 */
static int walk_skip(struct walk *w, struct tmerr *err)
{
	const void *p;
	size_t len;
	la_int64_t off;
	int r;

	if (!w->filtered && archive_entry_size_is_set(w->e)) {
		if (archive_read_data_skip(w->a) != ARCHIVE_OK)
			return tmerr_set(err, TMERR_INPUT,
					 "cannot read bundle \"%s\" at \"%s\": %s",
					 w->path, w->name,
					 aerr(w->a));
		return 0;
	}
	for (;;) {
		r = archive_read_data_block(w->a, &p, &len, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return tmerr_set(err, TMERR_INPUT,
					 "cannot read bundle \"%s\" at \"%s\": %s",
					 w->path, w->name,
					 aerr(w->a));
		w->out += len;
		if (!ratio_ok(w))
			return ratio_fail(w, err);
	}
}

/* ---- listing ------------------------------------------------------------- */

static int entry_cmp(const void *x, const void *y)
{
	const struct bundle_entry *a = *(const struct bundle_entry *const *)x;
	const struct bundle_entry *b = *(const struct bundle_entry *const *)y;

	return strcmp(a->name, b->name);
}

/* Refuses two members of one name: which one to load would be a guess. */
static int check_duplicates(const char *path, struct bundle_entry *e, size_t n,
			    struct tmerr *err)
{
	const struct bundle_entry **v;
	size_t i;
	int rc = 0;

	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return tmerr_set(err, TMERR_SYS, "out of memory listing \"%s\"", path);
	for (i = 0; i < n; i++)
		v[i] = &e[i];
	qsort(v, n, sizeof(*v), entry_cmp);
	for (i = 1; i < n; i++)
		if (!strcmp(v[i - 1]->name, v[i]->name)) {
			rc = tmerr_set(err, TMERR_INPUT,
				       "bundle \"%s\" holds \"%s\" twice",
				       path, v[i]->name);
			break;
		}
	free(v);
	return rc;
}

void bundle_entries_free(struct bundle_entry *e, size_t n)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

int bundle_list(const char *path, const struct bundle_limits *l,
		struct bundle_entry **out, size_t *n, struct tmerr *err)
{
	struct bundle_limits def;
	struct buf list;
	struct walk *w;
	struct src *s;
	size_t cnt = 0;
	int r = WALK_ERR;

	*out = NULL;
	*n = 0;
	if (!l) {
		bundle_limits_default(&def);
		l = &def;
	}
	w = malloc(sizeof(*w));
	s = malloc(sizeof(*s));
	if (!w || !s) {
		free(w);
		free(s);
		return tmerr_set(err, TMERR_SYS, "out of memory listing \"%s\"", path);
	}
	buf_init(&list, (size_t)l->max_entries * sizeof(struct bundle_entry));
	if (walk_start(w, s, path, l, err))
		goto out;
	while ((r = walk_next(w, err)) == WALK_MEMBER) {
		struct bundle_entry be;

		be.name = strdup(w->name);
		be.size_known = archive_entry_size_is_set(w->e);
		be.size = be.size_known ? (unsigned long long)archive_entry_size(w->e) : 0;
		if (!be.name || buf_add(&list, &be, sizeof(be))) {
			free(be.name);
			r = tmerr_set(err, TMERR_SYS, "out of memory listing \"%s\"", path);
			break;
		}
		cnt++;
		if (walk_skip(w, err)) {
			r = WALK_ERR;
			break;
		}
	}
	if (r == WALK_END && !check_duplicates(path, (struct bundle_entry *)list.ptr,
					       cnt, err)) {
		if (cnt) {
			*out = (struct bundle_entry *)buf_detach(&list, NULL);
			if (!*out)
				r = tmerr_set(err, TMERR_SYS, "out of memory listing \"%s\"",
					      path);
		}
		*n = *out ? cnt : 0;
	} else {
		r = WALK_ERR;
	}
out:
	walk_end(w);
	if (r == WALK_ERR) {
		bundle_entries_free((struct bundle_entry *)(list.alloc ? list.ptr : NULL), cnt);
		buf_init(&list, 0);
	}
	buf_release(&list);
	free(w);
	free(s);
	if (r != WALK_ERR)
		return 0;
	tmerr_where(err, path, 0, 0);
	return -1;
}

/* ---- one member ---------------------------------------------------------- */

static ssize_t bundle_read(void *ctx, void *dst, size_t n)
{
	struct bundle *b = ctx;
	struct walk *w = &b->w;
	la_ssize_t r;

	if (b->fail_errno) {
		errno = b->fail_errno;
		return -1;
	}
	r = archive_read_data(w->a, dst, n);
	if (r < 0) {
		tmerr_set(&b->err, TMERR_INPUT, "cannot read \"%s\": %s", b->name,
			  aerr(w->a));
		b->fail_errno = EIO;
	} else {
		w->out += (unsigned long long)r;
		if (b->got + (unsigned long long)r > b->cap)
			tmerr_set(&b->err, TMERR_LIMIT,
				  "\"%s\" is larger than %llu bytes", b->name,
				  b->cap);
		else if (!ratio_ok(w))
			ratio_fail(w, &b->err);
		else
			return b->got += (unsigned long long)r, r;
		b->fail_errno = EFBIG;
	}
	tmerr_where(&b->err, b->name, 0, 0);
	errno = b->fail_errno;
	return -1;
}

int bundle_open_member(struct bundle **bp, const char *path, const char *member,
		       const struct bundle_limits *l, struct input *in,
		       struct tmerr *err)
{
	size_t plen = strlen(path), mlen = strlen(member);
	struct bundle *b;
	int r;

	*bp = NULL;
	memset(in, 0, sizeof(*in));
	b = calloc(1, sizeof(*b) + plen + mlen + 2);
	if (!b)
		return tmerr_set(err, TMERR_SYS, "out of memory opening \"%s\"", path);
	memcpy(b->name, path, plen);
	b->name[plen] = ':';
	memcpy(b->name + plen + 1, member, mlen + 1);
	if (l)
		b->lim = *l;
	else
		bundle_limits_default(&b->lim);
	b->cap = b->lim.max_member_bytes < b->lim.max_total_bytes ?
		 b->lim.max_member_bytes : b->lim.max_total_bytes;
	if (walk_start(&b->w, &b->src, path, &b->lim, err)) {
		bundle_close(b);
		return -1;
	}
	while ((r = walk_next(&b->w, err)) == WALK_MEMBER) {
		if (!strcmp(b->w.name, member))
			break;
		if (walk_skip(&b->w, err)) {
			r = WALK_ERR;
			break;
		}
	}
	if (r != WALK_MEMBER) {
		if (r == WALK_END)
			tmerr_set(err, TMERR_INPUT, "bundle \"%s\" has no member \"%s\"",
				  path, member);
		tmerr_where(err, path, 0, 0);
		bundle_close(b);
		return -1;
	}
	in->read = bundle_read;
	in->ctx = b;
	in->name = b->name;
	*bp = b;
	return 0;
}

const struct tmerr *bundle_error(const struct bundle *b)
{
	return &b->err;
}

unsigned long long bundle_bytes(const struct bundle *b)
{
	return b->got;
}

void bundle_close(struct bundle *b)
{
	if (!b)
		return;
	walk_end(&b->w);
	free(b);
}

/* ---- detection ----------------------------------------------------------- */

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n > k && !strcasecmp(s + n - k, suf);
}

int bundle_is(const char *path)
{
	static const char *const exts[] = { ".zip", ".tar", ".tgz", ".tar.gz",
					    ".tar.zst", ".tzst", ".tar.bz2",
					    ".tbz2" };
	struct archive_entry *e;
	struct tmerr err;
	struct src *s;
	struct archive *a;
	size_t i;
	int r = 0;

	if (!strcmp(path, "-"))
		return 0;
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (has_suffix(path, exts[i]))
			return 1;
	s = malloc(sizeof(*s));
	if (!s || src_open(s, path, &err)) {
		free(s);
		return 0;
	}
	a = archive_open(s, path, &err);
	if (a) {
		int h = archive_read_next_header(a, &e);

		r = h == ARCHIVE_OK || h == ARCHIVE_WARN;
		archive_read_free(a);
	}
	close(s->fd);
	free(s);
	return r;
}
