/*
 * test_bundle: zip and tar bundles written with libarchive into a private
 * mkdtemp directory (removed by each test), then listed and read; hostile
 * archives must be refused or hit a cap within bounded time and memory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../adapters/bundle.h"

/* ---- helpers ------------------------------------------------------------ */

enum { GEN_TEXT, GEN_ZEROS, GEN_CSV };

#define BLOCK (64 * 1024)

struct mem {
	const char *name;
	const char *data;        /* GEN_TEXT */
	int gen;
	unsigned long long size; /* GEN_ZEROS, GEN_CSV */
	mode_t type;             /* 0 = regular file */
	const char *link;        /* symlink target or hard link source */
	int nosize;              /* zip: streamed, size in a trailer */
};

struct tmp {
	char dir[64];
	char path[128];
};

static void tmp_setup(struct tmp *t, const char *file)
{
	strcpy(t->dir, "/tmp/test_bundle.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, file);
}

static void tmp_teardown(struct tmp *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

/* Deterministic CSV-like text that compresses about 2:1. */
static void gen_csv(unsigned char *p, size_t len, unsigned long long off,
		    uint32_t *seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		*seed = *seed * 1103515245u + 12345u;
		if ((off + i) % 64 == 63)
			p[i] = '\n';
		else if ((off + i) % 8 == 7)
			p[i] = ',';
		else
			p[i] = '0' + (*seed >> 16) % 10;
	}
}

/*
 * fmt: 'z' zip, 'g' zip with names as raw bytes (no UTF-8 flag), 't' pax
 * tar, 'c' cpio, '7' 7-Zip; filter: ARCHIVE_FILTER_*. Written in a UTF-8
 * locale, as a partner's tools would, except for 'g'.
 */
static void make_archive(const char *path, int fmt, int filter,
			 const struct mem *m, size_t n)
{
	int fast = fmt == 'Z' || fmt == 'T';

	struct archive *a = archive_write_new();
	unsigned char *block = malloc(BLOCK);
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = 0;
	size_t i;

	assert_non_null(a);
	assert_non_null(block);
	assert_non_null(utf8);
	if (fast)
		fmt = fmt == 'Z' ? 'z' : 't';
	if (fmt != 'g')
		old = uselocale(utf8);
	if (fmt == 'z' || fmt == 'g')
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	else if (fmt == 'c')
		assert_int_equal(archive_write_set_format_cpio(a), ARCHIVE_OK);
	else if (fmt == '7')
		assert_int_equal(archive_write_set_format_7zip(a), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (filter != ARCHIVE_FILTER_NONE)
		assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	if (fast) /* for the 100 MB members */
		archive_write_set_options(a, "zip:compression-level=1,zstd:compression-level=1");
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		unsigned long long size = m[i].data ? strlen(m[i].data) : m[i].size;
		unsigned long long off = 0;
		uint32_t seed = 42;

		archive_entry_copy_pathname(e, m[i].name);
		archive_entry_set_perm(e, 0644);
		if (m[i].type == AE_IFLNK) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, m[i].link);
			size = 0;
		} else if (m[i].type == AE_IFDIR) {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			size = 0;
		} else if (m[i].type) {
			archive_entry_set_filetype(e, m[i].type);
			size = 0;
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			if (m[i].link) {
				archive_entry_set_hardlink(e, m[i].link);
				size = 0;
			}
		}
		if (!m[i].nosize)
			archive_entry_set_size(e, (la_int64_t)size);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		while (off < size) {
			size_t k = size - off < BLOCK ? size - off : BLOCK;

			if (m[i].data)
				memcpy(block, m[i].data + off, k);
			else if (m[i].gen == GEN_ZEROS)
				memset(block, 0, k);
			else
				gen_csv(block, k, off, &seed);
			assert_int_equal(archive_write_data(a, block, k), (la_ssize_t)k);
			off += k;
		}
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	if (old)
		uselocale(old);
	freelocale(utf8);
	free(block);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *slurp_small(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Reads a whole member into out (capacity cap) and returns its length. */
static ssize_t read_member(const char *path, const char *member,
			   const struct bundle_limits *l, char *out, size_t cap,
			   struct tmerr *err)
{
	struct bundle *b;
	struct input in;
	size_t len = 0;
	ssize_t r;

	if (bundle_open_member(&b, path, member, l, &in, err))
		return -2;
	assert_string_not_equal(in.name, "");
	while ((r = in.read(in.ctx, out + len, cap - len > 7 ? 7 : cap - len)) > 0)
		len += (size_t)r;
	if (r < 0)
		*err = *bundle_error(b);
	bundle_close(b);
	return r < 0 ? -1 : (ssize_t)len;
}

/* Drains a member; returns bytes read before the end or the error. */
static unsigned long long drain(struct bundle *b, struct input *in, int *eno)
{
	char sink[BLOCK];
	unsigned long long total = 0;
	ssize_t r;

	*eno = 0;
	while ((r = in->read(in->ctx, sink, sizeof(sink))) > 0)
		total += (unsigned long long)r;
	if (r < 0)
		*eno = errno;
	assert_int_equal(bundle_bytes(b), total);
	return total;
}

static const struct mem three[] = {
	{ .name = "data/", .type = AE_IFDIR },
	{ .name = "teacher.csv", .data = "id,name\n1,a\n2,b\n" },
	{ .name = "data/training.csv", .data = "id,course\n1,x\n" },
	{ .name = "./教师_work.csv", .data = "id,org\n1,410000\n" },
};

static void check_three(const char *path)
{
	struct bundle_entry *e;
	struct tmerr err = { 0 };
	char out[256];
	size_t n, i;

	assert_int_equal(bundle_is(path), 1);
	assert_int_equal(bundle_list(path, NULL, &e, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].name, "teacher.csv");
	assert_string_equal(e[1].name, "data/training.csv");
	assert_string_equal(e[2].name, "教师_work.csv");
	for (i = 0; i < n; i++) {
		const char *want = three[i + 1].data;
		ssize_t len;

		assert_int_equal(e[i].size, strlen(want));
		assert_true(e[i].size_known);
		len = read_member(path, e[i].name, NULL, out, sizeof(out), &err);
		assert_int_equal(len, (ssize_t)strlen(want));
		assert_memory_equal(out, want, (size_t)len);
	}
	bundle_entries_free(e, n);
}

/* ---- tests -------------------------------------------------------------- */

static void test_zip_three(void **state)
{
	struct tmp t;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };

	(void)state;
	tmp_setup(&t, "bundle.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, three, 4);
	check_three(t.path);
	assert_int_equal(bundle_open_member(&b, t.path, "teacher.csv", NULL, &in,
					    &err), 0);
	assert_non_null(strstr(in.name, "bundle.zip:teacher.csv"));
	bundle_close(b);
	tmp_teardown(&t);
}

/* Chinese Windows writes zip names in GBK without the UTF-8 flag. */
static void test_zip_gbk_name(void **state)
{
	const struct mem m[] = {
		{ .name = "\xbd\xcc\xca\xa6.csv", .data = "id\n1\n" }, /* 教师 */
	};
	struct tmp t;
	struct bundle_entry *e;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	size_t n;

	(void)state;
	tmp_setup(&t, "b.zip");
	make_archive(t.path, 'g', ARCHIVE_FILTER_NONE, m, 1);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].name, "教师.csv");
	assert_int_equal(bundle_open_member(&b, t.path, e[0].name, NULL, &in, &err), 0);
	bundle_close(b);
	bundle_entries_free(e, n);
	tmp_teardown(&t);
}

static void test_tar_filters(void **state)
{
	static const struct {
		const char *file;
		int filter;
	} v[] = {
		{ "bundle.tar.zst", ARCHIVE_FILTER_ZSTD },
		{ "bundle.tgz", ARCHIVE_FILTER_GZIP },
		{ "bundle.tar", ARCHIVE_FILTER_NONE },
		{ "bundle.bin", ARCHIVE_FILTER_ZSTD }, /* detected by content */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tmp t;

		tmp_setup(&t, v[i].file);
		make_archive(t.path, 't', v[i].filter, three, 4);
		check_three(t.path);
		tmp_teardown(&t);
	}
}

static void test_not_bundle(void **state)
{
	struct tmp t;
	struct bundle_entry *e;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	size_t n;

	(void)state;
	tmp_setup(&t, "teacher.csv");
	write_file(t.path, "id,name\n1,a\n", 12);
	assert_int_equal(bundle_is(t.path), 0);
	assert_int_equal(bundle_is("-"), 0);
	assert_int_equal(bundle_is("/nonexistent/x"), 0);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
	assert_null(e);
	assert_non_null(strstr(err.msg, "not a zip or tar archive"));
	assert_int_equal(bundle_open_member(&b, t.path, "x", NULL, &in, &err), -1);
	assert_null(b);
	assert_int_equal(bundle_open_member(&b, "/nonexistent/x", "x", NULL, &in,
					    &err), -1);
	assert_non_null(strstr(err.msg, "cannot open bundle"));
	tmp_teardown(&t);
}

static void test_member_not_found(void **state)
{
	struct tmp t;
	struct bundle *b = (struct bundle *)1;
	struct input in;
	struct tmerr err = { 0 };

	(void)state;
	tmp_setup(&t, "bundle.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, three, 4);
	assert_int_equal(bundle_open_member(&b, t.path, "nope.csv", NULL, &in,
					    &err), -1);
	assert_null(b);
	assert_null(in.read);
	assert_int_equal(err.code, TMERR_INPUT);
	assert_non_null(strstr(err.msg, "has no member \"nope.csv\""));
	/* a directory is not a member */
	assert_int_equal(bundle_open_member(&b, t.path, "data/", NULL, &in, &err), -1);
	tmp_teardown(&t);
}

/* Every refused entry refuses the listing and any member after it. */
static void expect_refused(int fmt, const struct mem *bad, const char *what)
{
	struct mem m[3] = {
		{ .name = "teacher.csv", .data = "id\n1\n" },
		*bad,
		{ .name = "after.csv", .data = "id\n2\n" },
	};
	struct tmp t;
	struct bundle_entry *e;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	size_t n;

	tmp_setup(&t, fmt == 'z' ? "b.zip" : "b.tar.gz");
	make_archive(t.path, fmt, fmt == 'z' ? ARCHIVE_FILTER_NONE : ARCHIVE_FILTER_GZIP,
		     m, 3);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
	assert_null(e);
	assert_int_equal(n, 0);
	if (!strstr(err.msg, what))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, what);
	assert_string_equal(err.file, t.path);
	tmerr_clear(&err);
	assert_int_equal(bundle_open_member(&b, t.path, "after.csv", NULL, &in,
					    &err), -1);
	assert_non_null(strstr(err.msg, what));
	/* the members before it can still be opened on their own */
	assert_int_equal(bundle_open_member(&b, t.path, "teacher.csv", NULL, &in,
					    &err), 0);
	bundle_close(b);
	tmp_teardown(&t);
}

static void test_symlink_refused(void **state)
{
	const struct mem m = { .name = "link.csv", .type = AE_IFLNK,
			       .link = "/etc/passwd" };

	(void)state;
	expect_refused('t', &m, "it is a symbolic link");
	expect_refused('z', &m, "it is a symbolic link");
}

static void test_special_refused(void **state)
{
	const struct mem hard = { .name = "hard.csv", .link = "teacher.csv" };
	const struct mem fifo = { .name = "fifo.csv", .type = AE_IFIFO };
	const struct mem chr = { .name = "dev.csv", .type = AE_IFCHR };

	(void)state;
	expect_refused('t', &hard, "it is a hard link");
	expect_refused('t', &fifo, "it is a fifo");
	expect_refused('t', &chr, "it is a device");
}

static void test_names_refused(void **state)
{
	static const struct {
		const char *name, *why;
	} v[] = {
		{ "../evil.csv", "leads out of the archive" },
		{ "data/../../evil.csv", "leads out of the archive" },
		{ "data/..", "leads out of the archive" },
		{ "/etc/evil.csv", "is an absolute path" },
		{ "C:evil.csv", "is an absolute path" },
		{ "a\\b.csv", "contains a backslash" }, /* zip turns it to '/' */
		{ "bad\x01name.csv", "contains control characters" },
		{ "bad\nname.csv", "contains control characters" },
		{ "a//b.csv", "empty or \".\" component" },
		{ "a/./b.csv", "empty or \".\" component" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const struct mem m = { .name = v[i].name, .data = "x\n" };

		expect_refused('t', &m, v[i].why);
		if (!strchr(v[i].name, '\\'))
			expect_refused('z', &m, v[i].why);
	}
}

static void test_duplicate_refused(void **state)
{
	const struct mem m[] = {
		{ .name = "teacher.csv", .data = "id\n1\n" },
		{ .name = "./teacher.csv", .data = "id\n2\n" },
	};
	struct tmp t;
	struct bundle_entry *e;
	struct tmerr err = { 0 };
	size_t n;

	(void)state;
	tmp_setup(&t, "b.tar");
	make_archive(t.path, 't', ARCHIVE_FILTER_NONE, m, 2);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
	assert_non_null(strstr(err.msg, "holds \"teacher.csv\" twice"));
	tmp_teardown(&t);
}

static void test_entry_cap(void **state)
{
	const struct mem m[] = {
		{ .name = "d/", .type = AE_IFDIR },
		{ .name = "d/1.csv", .data = "1\n" },
		{ .name = "d/2.csv", .data = "2\n" },
		{ .name = "d/3.csv", .data = "3\n" },
		{ .name = "d/4.csv", .data = "4\n" },
	};
	struct bundle_limits l;
	struct tmp t;
	struct bundle_entry *e;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	size_t n;

	(void)state;
	bundle_limits_default(&l);
	l.max_entries = 4; /* the directory counts */
	tmp_setup(&t, "b.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, m, 5);
	assert_int_equal(bundle_list(t.path, &l, &e, &n, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_non_null(strstr(err.msg, "more than 4 entries"));
	assert_int_equal(bundle_open_member(&b, t.path, "d/4.csv", &l, &in, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_int_equal(bundle_open_member(&b, t.path, "d/3.csv", &l, &in, &err), 0);
	bundle_close(b);
	l.max_entries = 5;
	assert_int_equal(bundle_list(t.path, &l, &e, &n, &err), 0);
	assert_int_equal(n, 4);
	bundle_entries_free(e, n);
	tmp_teardown(&t);
}

static void test_declared_size_cap(void **state)
{
	const struct mem m[] = {
		{ .name = "small.csv", .data = "id\n1\n" },
		{ .name = "big.csv", .gen = GEN_CSV, .size = 5000 },
	};
	struct bundle_limits l;
	struct tmp t;
	struct bundle_entry *e;
	struct tmerr err = { 0 };
	size_t n;

	(void)state;
	bundle_limits_default(&l);
	l.max_member_bytes = 4096;
	tmp_setup(&t, "b.tar.zst");
	make_archive(t.path, 't', ARCHIVE_FILTER_ZSTD, m, 2);
	assert_int_equal(bundle_list(t.path, &l, &e, &n, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_non_null(strstr(err.msg, "\"big.csv\""));
	assert_non_null(strstr(err.msg, "5000 bytes"));
	l.max_member_bytes = 8192;
	l.max_total_bytes = 5000;
	assert_int_equal(bundle_list(t.path, &l, &e, &n, &err), -1);
	assert_non_null(strstr(err.msg, "holds more than 5000 bytes"));
	tmp_teardown(&t);
}

/* The cap holds on the bytes read: past it read() fails with EFBIG. */
static void expect_read_cap(const char *path, const char *member,
			    const struct bundle_limits *l)
{
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	unsigned long long got;
	int eno;

	assert_int_equal(bundle_open_member(&b, path, member, l, &in, &err), 0);
	got = drain(b, &in, &eno);
	assert_int_equal(eno, EFBIG);
	assert_true(got <= l->max_member_bytes);
	assert_int_equal(bundle_error(b)->code, TMERR_LIMIT);
	assert_non_null(strstr(bundle_error(b)->msg, "is larger than"));
	assert_non_null(strstr(bundle_error(b)->file, member));
	/* a failed input stays failed */
	assert_int_equal(in.read(in.ctx, &eno, 1), -1);
	assert_int_equal(errno, EFBIG);
	bundle_close(b);
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void test_size_cap_streamed(void **state)
{
	const struct mem m[] = {
		{ .name = "big.csv", .gen = GEN_CSV, .size = 3 << 20, .nosize = 1 },
	};
	struct bundle_limits l;
	struct tmp t;
	unsigned char *z;
	size_t len, i;

	(void)state;
	bundle_limits_default(&l);
	l.max_member_bytes = 1 << 20;
	tmp_setup(&t, "b.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, m, 1);
	/* without its central directory only the streaming reader takes it */
	z = (unsigned char *)slurp_small(t.path, &len);
	for (i = 0; i + 4 <= len && get32(z + i) != 0x02014b50; i++)
		;
	assert_true(i + 4 < len);
	write_file(t.path, z, i);
	free(z);
	expect_read_cap(t.path, "big.csv", &l);
	tmp_teardown(&t);
}

/* A zip whose headers claim 100 bytes for a 3 MiB deflated member. */
static void test_size_cap_lying_header(void **state)
{
	const struct mem m[] = {
		{ .name = "big.csv", .gen = GEN_CSV, .size = 3 << 20 },
	};
	struct bundle_limits l;
	struct tmp t;
	struct bundle_entry *e;
	struct tmerr err = { 0 };
	unsigned char *z;
	size_t len, i, n, patched = 0;

	(void)state;
	bundle_limits_default(&l);
	l.max_member_bytes = 1 << 20;
	tmp_setup(&t, "b.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, m, 1);
	z = (unsigned char *)slurp_small(t.path, &len);
	for (i = 0; i + 46 <= len; i++) {
		uint32_t sig = get32(z + i);

		if (sig == 0x04034b50 && get32(z + i + 22) == 3u << 20) {
			put32(z + i + 22, 100);
			patched++;
		} else if (sig == 0x02014b50 && get32(z + i + 24) == 3u << 20) {
			put32(z + i + 24, 100);
			patched++;
		} else if (sig == 0x08074b50 && get32(z + i + 12) == 3u << 20) {
			put32(z + i + 12, 100);
			patched++;
		}
	}
	assert_true(patched >= 2);
	write_file(t.path, z, len);
	free(z);
	assert_int_equal(bundle_list(t.path, &l, &e, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].size, 100);
	bundle_entries_free(e, n);
	expect_read_cap(t.path, "big.csv", &l);
	tmp_teardown(&t);
}

/* 50 MB of zeros deflate about 1000:1: refused early, in bounded time. */
static void test_ratio_zip(void **state)
{
	const struct mem m[] = {
		{ .name = "teacher.csv", .data = "id\n1\n" },
		{ .name = "bomb.csv", .gen = GEN_ZEROS, .size = 50 << 20 },
	};
	struct bundle_limits l;
	struct tmp t;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	unsigned long long got;
	int eno;

	(void)state;
	tmp_setup(&t, "b.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, m, 2);
	bundle_limits_default(&l);
	l.max_ratio = 10;
	assert_int_equal(bundle_open_member(&b, t.path, "bomb.csv", &l, &in, &err), 0);
	got = drain(b, &in, &eno);
	assert_int_equal(eno, EFBIG);
	assert_true(got < 4 << 20);
	assert_int_equal(bundle_error(b)->code, TMERR_LIMIT);
	assert_non_null(strstr(bundle_error(b)->msg, "compression bomb"));
	bundle_close(b);
	/* the default 200 still stops it before the end */
	assert_int_equal(bundle_open_member(&b, t.path, "bomb.csv", NULL, &in, &err), 0);
	got = drain(b, &in, &eno);
	assert_int_equal(eno, EFBIG);
	assert_true(got < 50 << 20);
	bundle_close(b);
	/* a small member is never judged by the ratio */
	assert_int_equal(bundle_open_member(&b, t.path, "teacher.csv", &l, &in, &err), 0);
	assert_int_equal(drain(b, &in, &eno), 5);
	assert_int_equal(eno, 0);
	bundle_close(b);
	tmp_teardown(&t);
}

/* Through a compressed tar, passing over a bomb is checked as well. */
static void test_ratio_tar_zst(void **state)
{
	const struct mem m[] = {
		{ .name = "bomb.csv", .gen = GEN_ZEROS, .size = 50 << 20 },
		{ .name = "teacher.csv", .data = "id\n1\n" },
	};
	struct tmp t;
	struct bundle_entry *e;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	size_t n;
	int eno;

	(void)state;
	tmp_setup(&t, "b.tar.zst");
	make_archive(t.path, 't', ARCHIVE_FILTER_ZSTD, m, 2);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_non_null(strstr(err.msg, "compression bomb"));
	assert_int_equal(bundle_open_member(&b, t.path, "teacher.csv", NULL, &in,
					    &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_int_equal(bundle_open_member(&b, t.path, "bomb.csv", NULL, &in, &err), 0);
	assert_true(drain(b, &in, &eno) < 50 << 20);
	assert_int_equal(eno, EFBIG);
	bundle_close(b);
	tmp_teardown(&t);
}

static void test_corrupt(void **state)
{
	const struct mem m[] = {
		{ .name = "teacher.csv", .gen = GEN_CSV, .size = 200000 },
		{ .name = "after.csv", .data = "id\n1\n" },
	};
	struct tmp t;
	struct bundle_entry *e;
	struct bundle *b;
	struct input in;
	struct tmerr err = { 0 };
	char *z;
	size_t len, n;
	int eno;

	(void)state;
	/* a truncated tar.gz */
	tmp_setup(&t, "b.tar.gz");
	make_archive(t.path, 't', ARCHIVE_FILTER_GZIP, m, 2);
	z = slurp_small(t.path, &len);
	write_file(t.path, z, len / 2);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
	assert_int_equal(err.code, TMERR_INPUT);
	assert_non_null(strstr(err.msg, "cannot read bundle"));
	assert_int_equal(bundle_open_member(&b, t.path, "teacher.csv", NULL, &in,
					    &err), 0);
	drain(b, &in, &eno);
	assert_int_equal(eno, EIO);
	assert_int_equal(bundle_error(b)->code, TMERR_INPUT);
	bundle_close(b);
	free(z);
	tmp_teardown(&t);

	/* a zip with damaged deflate data */
	tmp_setup(&t, "b.zip");
	make_archive(t.path, 'z', ARCHIVE_FILTER_NONE, m, 2);
	z = slurp_small(t.path, &len);
	memset(z + 2000, 0x55, 4000);
	write_file(t.path, z, len);
	free(z);
	assert_int_equal(bundle_open_member(&b, t.path, "teacher.csv", NULL, &in,
					    &err), 0);
	drain(b, &in, &eno);
	assert_int_equal(eno, EIO);
	assert_non_null(strstr(bundle_error(b)->msg, "cannot read \""));
	bundle_close(b);

	/* garbage with a bundle's name */
	write_file(t.path, "PK\x03\x04garbage garbage garbage", 27);
	assert_int_equal(bundle_is(t.path), 1);
	assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
	assert_int_equal(err.code, TMERR_INPUT);
	assert_non_null(strstr(err.msg, "cannot read bundle"));
	tmp_teardown(&t);
}

static void test_other_formats(void **state)
{
	static const struct {
		int fmt, filter;
		const char *what;
	} v[] = {
		{ 'c', ARCHIVE_FILTER_NONE, "it is a cpio archive" },
		{ 'c', ARCHIVE_FILTER_GZIP, "it is a cpio archive" },
		{ '7', ARCHIVE_FILTER_NONE, "it is a 7-Zip archive" },
	};
	const struct mem m[] = { { .name = "teacher.csv", .data = "id\n1\n" } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tmp t;
		struct bundle_entry *e;
		struct tmerr err = { 0 };
		size_t n;

		tmp_setup(&t, "b.bin");
		make_archive(t.path, v[i].fmt, v[i].filter, m, 1);
		assert_int_equal(bundle_is(t.path), 0);
		assert_int_equal(bundle_list(t.path, NULL, &e, &n, &err), -1);
		if (!strstr(err.msg, v[i].what))
			fail_msg("\"%s\" lacks \"%s\"", err.msg, v[i].what);
		tmp_teardown(&t);
	}
}

size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static size_t heap_now(void)
{
	struct mallinfo2 mi;

	if (__sanitizer_get_current_allocated_bytes)
		return __sanitizer_get_current_allocated_bytes();
	mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* Reading 100 MB allocates nothing past the fixed buffers. */
static void test_memory_flat(void **state)
{
	const struct mem m[] = {
		{ .name = "skip.csv", .gen = GEN_CSV, .size = 5 << 20 },
		{ .name = "big.csv", .gen = GEN_CSV, .size = 100 << 20 },
	};
	static const struct {
		const char *file;
		int fmt, filter;
	} v[] = {
		{ "b.tar.zst", 'T', ARCHIVE_FILTER_ZSTD },
		{ "b.zip", 'Z', ARCHIVE_FILTER_NONE },
	};
	char sink[BLOCK];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tmp t;
		struct bundle *b;
		struct input in;
		struct tmerr err = { 0 };
		unsigned long long total = 0;
		size_t base, peak = 0, before = heap_now();
		ssize_t r;

		tmp_setup(&t, v[i].file);
		make_archive(t.path, v[i].fmt, v[i].filter, m, 2);
		assert_int_equal(bundle_open_member(&b, t.path, "big.csv", NULL, &in,
						    &err), 0);
		while (total < (1 << 20) && (r = in.read(in.ctx, sink, sizeof(sink))) > 0)
			total += (unsigned long long)r;
		base = heap_now();
		while ((r = in.read(in.ctx, sink, sizeof(sink))) > 0) {
			size_t h = heap_now();

			total += (unsigned long long)r;
			if (h > peak)
				peak = h;
		}
		assert_int_equal(r, 0);
		assert_int_equal(total, 100 << 20);
		if (peak > base + (64 << 10))
			fail_msg("heap grew from %zu to %zu while reading", base, peak);
		/* the handle itself stays small, decoder state included */
		if (base > before + (16 << 20))
			fail_msg("handle holds %zu bytes", base - before);
		bundle_close(b);
		tmp_teardown(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zip_three),
		cmocka_unit_test(test_zip_gbk_name),
		cmocka_unit_test(test_tar_filters),
		cmocka_unit_test(test_not_bundle),
		cmocka_unit_test(test_member_not_found),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_special_refused),
		cmocka_unit_test(test_names_refused),
		cmocka_unit_test(test_duplicate_refused),
		cmocka_unit_test(test_entry_cap),
		cmocka_unit_test(test_declared_size_cap),
		cmocka_unit_test(test_size_cap_streamed),
		cmocka_unit_test(test_size_cap_lying_header),
		cmocka_unit_test(test_ratio_zip),
		cmocka_unit_test(test_ratio_tar_zst),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_memory_flat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
