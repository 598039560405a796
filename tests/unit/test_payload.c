/*
 * test_payload: payloads written by payload_pack() verify and extract;
 * hostile archives written here with libarchive (or by the real tar
 * command, for interoperability) are refused by check 3 within bounded time,
 * and a refused extraction leaves nothing behind. Every test works in its
 * own mkdtemp directory, removed at the end.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../etl/payload.h"
#include "../../etl/sha256.h"

/* ---- helpers ------------------------------------------------------------ */

struct tmp {
	char dir[64];
};

static void tmp_setup(struct tmp *t)
{
	strcpy(t->dir, "/tmp/test_payload.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

static void tmp_teardown(struct tmp *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static char *path_in(const struct tmp *t, const char *name)
{
	static const size_t n = 256;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", t->dir, name);
	return p;
}

static void put_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Takes ctx bytes (a size_t), then refuses. */
static int short_sink(void *ctx, const void *buf, size_t n)
{
	size_t *left = ctx;

	(void)buf;
	if (n > *left)
		return -1;
	*left -= n;
	return 0;
}

static int file_sink(void *ctx, const void *buf, size_t n)
{
	return fwrite(buf, 1, n, ctx) == n ? 0 : -1;
}

/* Entries in a directory other than . and .. */
static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static const char csv_text[] =
	"id,name,note\n"
	"1,\"Wang\nLi\",x\n"
	"2,Zhang,\"he said \"\"hi\"\",\r\nthen left\"\r\n"
	"\n"
	"3,Liu,\r\n"
	"4,Chen,last";

static void sample_manifest(struct manifest *m, const char *kind)
{
	manifest_init(m);
	strcpy(m->id, "0c0ffee0-1234");
	strcpy(m->sender, "410000");
	strcpy(m->recipient, "000000");
	strcpy(m->created, "2026-11-28T02:00:00+08:00");
	strcpy(m->kind, kind);
	m->sequence = 1;
	strcpy(m->schema, "tmis-indicators/1");
}

static struct mfile *add(struct manifest *m, const char *name,
			 const char *category, const char *format)
{
	struct tmerr err;
	struct mfile *f = manifest_add_file(m, &err);

	assert_non_null(f);
	strcpy(f->name, name);
	strcpy(f->category, category);
	strcpy(f->format, format);
	return f;
}

/* Packs teacher.csv (csv_text) and notes.xml into pkg in t; m is kept. */
static void pack_sample(const struct tmp *t, struct manifest *m,
			const char *pkg)
{
	char *csv = path_in(t, "teacher.csv"), *xml = path_in(t, "notes.xml");
	char *out = path_in(t, pkg);
	const char *paths[2] = { csv, xml };
	struct mfile *f;
	struct tmerr err;
	FILE *o;

	put_file(csv, csv_text, strlen(csv_text));
	put_file(xml, "<notes><n/></notes>\n", 20);
	sample_manifest(m, "full");
	add(m, "data/teacher.csv", "teacher", "csv");
	f = add(m, "notes.xml", "notes", "xml");
	f->records = 1;
	o = fopen(out, "wb");
	assert_non_null(o);
	tmerr_clear(&err);
	if (payload_pack(m, paths, file_sink, o, 0, &err))
		fail_msg("pack: %s", err.msg);
	assert_int_equal(fclose(o), 0);
	free(csv);
	free(xml);
	free(out);
}

static int verify_path(const char *path, const struct payload_limits *l,
		       struct manifest *m, const char *dir, struct tmerr *err)
{
	struct input in;
	int r;

	tmerr_clear(err);
	assert_int_equal(input_open_file(&in, path, err), 0);
	r = payload_verify(&in, l, m, dir, err);
	input_close_file(&in);
	return r;
}

/* ---- hostile archives --------------------------------------------------- */

struct ent {
	const char *name;
	const char *data;           /* NULL: zeros of size bytes */
	unsigned long long size;
	mode_t type;                /* 0: regular file */
	const char *link;           /* symlink target or hard link source */
};

static void write_archive(const char *path, int filter, const struct ent *e,
			  size_t n)
{
	struct archive *a = archive_write_new();
	static const char zeros[65536];
	size_t i;

	assert_non_null(a);
	if (filter == ARCHIVE_FILTER_ZSTD)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	else if (filter == ARCHIVE_FILTER_GZIP)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();
		unsigned long long size = e[i].data ? strlen(e[i].data) : e[i].size;

		archive_entry_set_pathname(x, e[i].name);
		archive_entry_set_perm(x, 0644);
		archive_entry_set_filetype(x, e[i].type ? e[i].type : AE_IFREG);
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(x, e[i].link);
		else if (e[i].link)
			archive_entry_set_hardlink(x, e[i].link);
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(x, 0x0101);
		if (!e[i].type && !e[i].link)
			archive_entry_set_size(x, (la_int64_t)size);
		assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
		if (!e[i].type && !e[i].link) {
			if (e[i].data)
				assert_int_equal(archive_write_data(a, e[i].data, size),
						 (la_ssize_t)size);
			else
				while (size) {
					size_t k = size < sizeof(zeros) ? size : sizeof(zeros);

					assert_int_equal(archive_write_data(a, zeros, k),
							 (la_ssize_t)k);
					size -= k;
				}
		}
		archive_entry_free(x);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static const char data_a[] = "id,name\n1,a\n2,b\n";
static const char data_b[] = "id,name\n3,c\n";

/* A manifest listing data/a.csv (data_a) and b.csv (data_b); caller frees. */
static char *std_manifest(void)
{
	struct manifest m;
	struct buf out = BUF_INIT(1 << 20);
	struct tmerr err;
	struct mfile *f;

	sample_manifest(&m, "delta");
	f = add(&m, "data/a.csv", "teacher", "csv");
	f->records = 2;
	f->bytes = strlen(data_a);
	sha256_hex(data_a, strlen(data_a), f->sha256);
	f = add(&m, "b.csv", "training", "csv");
	f->records = 1;
	f->bytes = strlen(data_b);
	sha256_hex(data_b, strlen(data_b), f->sha256);
	assert_int_equal(manifest_write(&m, &out, &err), 0);
	manifest_free(&m);
	return buf_detach(&out, NULL);
}

/* Verifies an archive of ents (zstd) in t and expects an error with want. */
static void expect_refused(const struct ent *e, size_t n, const char *want)
{
	struct manifest m;
	struct tmerr err;
	struct tmp t;
	char *pkg, *dir;

	tmp_setup(&t);
	pkg = path_in(&t, "p.tar.zst");
	dir = path_in(&t, "out");
	write_archive(pkg, ARCHIVE_FILTER_ZSTD, e, n);
	if (verify_path(pkg, NULL, &m, dir, &err) != -1 ||
	    !strstr(err.msg, want) || strncmp(err.msg, "check 3 (", 9))
		fail_msg("wanted \"%s\", got \"%s\"", want, err.msg);
	assert_int_equal(m.nfiles, 0);
	assert_int_equal(count_dir(dir), -1); /* made and removed again */
	assert_int_equal(count_dir(t.dir), 1);
	free(pkg);
	free(dir);
	tmp_teardown(&t);
}

/* ---- tests -------------------------------------------------------------- */

static void test_records(void **state)
{
	static const struct { const char *text; long long want; } c[] = {
		{ "", 0 },
		{ "a,b\n", 0 },
		{ "a,b", 0 },
		{ "a,b\n1,2", 1 },
		{ "a,b\n1,2\n", 1 },
		{ "a,b\r\n1,2\r\n3,4\r\n", 2 },
		{ "a,b\r1,2\r", 1 },
		{ "a,b\n\n1,2\n\n\n", 1 },
		{ "a,b\n\"x\ny\",2\n", 1 },
		{ "a,b\n\"x\"\"\ny\",\"\r\n\"\n3,4", 2 },
	};
	struct tmerr err;
	struct tmp t;
	unsigned long long bytes;
	long long rec;
	char sha[65], want[65], *p;
	size_t i;

	(void)state;
	tmp_setup(&t);
	p = path_in(&t, "c.csv");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		put_file(p, c[i].text, strlen(c[i].text));
		assert_int_equal(payload_scan_csv(p, &rec, &bytes, sha, &err), 0);
		if (rec != c[i].want)
			fail_msg("case %zu: %lld records, want %lld", i, rec, c[i].want);
		assert_int_equal(bytes, strlen(c[i].text));
		sha256_hex(c[i].text, strlen(c[i].text), want);
		assert_string_equal(sha, want);
	}
	assert_int_equal(payload_scan_csv(t.dir, &rec, &bytes, sha, &err), -1);
	free(p);
	tmp_teardown(&t);
}

/* XML records are the root's children, counted when packing and again by
 * check 3; a DOCTYPE or malformed XML is refused. */
static void test_xml_records(void **state)
{
	static const char good[] =
		"<?xml version=\"1.0\"?>\n<r xmlns=\"urn:x\"><a/><b><c/></b>text<d></d></r>\n";
	struct manifest m, got;
	struct mfile f = { .records = -1 };
	struct tmerr err;
	struct tmp t;
	char *p, *pkg;
	FILE *o;
	const char *paths[2];

	(void)state;
	tmp_setup(&t);
	p = path_in(&t, "x.xml");
	strcpy(f.format, "xml");
	put_file(p, good, strlen(good));
	if (payload_scan(&f, p, &err))
		fail_msg("scan: %s", err.msg);
	assert_int_equal(f.records, 3);
	assert_int_equal(f.bytes, strlen(good));
	put_file(p, "<!DOCTYPE r [<!ENTITY e \"x\">]><r><a>&e;</a></r>", 45);
	f.records = -1;
	assert_int_equal(payload_scan(&f, p, &err), -1);
	assert_non_null(strstr(err.msg, "DOCTYPE"));
	put_file(p, "<r><a></r>", 10);
	f.records = -1;
	assert_int_equal(payload_scan(&f, p, &err), -1);
	assert_non_null(strstr(err.msg, "not well-formed"));

	/* a manifest that overstates an XML file's records fails check 3 */
	put_file(p, good, strlen(good));
	sample_manifest(&m, "full");
	add(&m, "data/x.xml", "training", "xml")->records = 4;
	pkg = path_in(&t, "p.tar.zst");
	o = fopen(pkg, "wb");
	assert_non_null(o);
	paths[0] = p;
	if (payload_pack(&m, paths, file_sink, o, 0, &err))
		fail_msg("pack: %s", err.msg);
	assert_int_equal(fclose(o), 0);
	assert_int_equal(verify_path(pkg, NULL, &got, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "holds 3 records; the manifest says 4"));
	manifest_free(&m);
	free(p);
	free(pkg);
	tmp_teardown(&t);
}

static void test_round_trip(void **state)
{
	struct manifest m, got;
	struct tmerr err;
	struct tmp t;
	char *pkg, *dir, *x, *y;
	FILE *f;
	char buf[256];
	size_t n;

	(void)state;
	tmp_setup(&t);
	pack_sample(&t, &m, "p.tar.zst");
	assert_int_equal(m.files[0].records, 4);
	assert_int_equal(m.files[0].bytes, strlen(csv_text));
	pkg = path_in(&t, "p.tar.zst");
	if (verify_path(pkg, NULL, &got, NULL, &err))
		fail_msg("verify: %s", err.msg);
	assert_int_equal(got.nfiles, 2);
	assert_string_equal(got.files[0].sha256, m.files[0].sha256);
	assert_int_equal(got.files[0].records, 4);
	assert_int_equal(got.files[1].records, 1);
	manifest_free(&got);

	/* extraction */
	dir = path_in(&t, "out");
	if (verify_path(pkg, NULL, &got, dir, &err))
		fail_msg("unpack: %s", err.msg);
	manifest_free(&got);
	assert_int_equal(count_dir(dir), 3); /* manifest.xml, data, notes.xml */
	x = path_in(&t, "out/data");
	assert_int_equal(count_dir(x), 1);
	free(x);
	x = path_in(&t, "out/data/teacher.csv");
	f = fopen(x, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n, strlen(csv_text));
	assert_memory_equal(buf, csv_text, n);
	free(x);
	y = path_in(&t, "out/manifest.xml");
	assert_int_equal(access(y, R_OK), 0);
	free(y);

	/* a second unpack into the same place never overwrites */
	assert_int_equal(verify_path(pkg, NULL, &got, dir, &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(count_dir(dir), 3);

	manifest_free(&m);
	free(pkg);
	free(dir);
	tmp_teardown(&t);
}

static void test_gzip_and_plain(void **state)
{
	char *man = std_manifest();
	const struct ent e[] = {
		{ "manifest.xml", man, 0, 0, NULL },
		{ "data/", NULL, 0, AE_IFDIR, NULL },
		{ "./data/a.csv", data_a, 0, 0, NULL },
		{ "b.csv", data_b, 0, 0, NULL },
	};
	struct manifest m;
	struct tmerr err;
	struct tmp t;
	char *pkg;

	(void)state;
	tmp_setup(&t);
	pkg = path_in(&t, "p.tgz");
	write_archive(pkg, ARCHIVE_FILTER_GZIP, e, 4);
	if (verify_path(pkg, NULL, &m, NULL, &err))
		fail_msg("gzip: %s", err.msg);
	manifest_free(&m);
	write_archive(pkg, ARCHIVE_FILTER_NONE, e, 4);
	assert_int_equal(verify_path(pkg, NULL, &m, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "zstd or gzip is required"));
	put_file(pkg, "not an archive at all", 21);
	assert_int_equal(verify_path(pkg, NULL, &m, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "check 3 (archive): the payload is not"));
	free(pkg);
	free(man);
	tmp_teardown(&t);
}

static void test_hostile_entries(void **state)
{
	char *man = std_manifest();
	const struct ent a = { "data/a.csv", data_a, 0, 0, NULL };
	const struct ent b = { "b.csv", data_b, 0, 0, NULL };
	const struct ent mf = { "manifest.xml", man, 0, 0, NULL };
	const struct {
		struct ent e[4];
		size_t n;
		const char *want;
	} c[] = {
		{ { mf, a, b, { "data/c.csv", data_b, 0, 0, NULL } }, 4,
		  "entry \"data/c.csv\" is not listed in the manifest" },
		{ { mf, { "data/a.csv", "id,name\n1,a\n2,bb\n", 0, 0, NULL }, b }, 3,
		  "entry \"data/a.csv\" is 17 bytes; the manifest says 16" },
		{ { mf, { "data/a.csv", "id,name\n1,a\n2,c\n", 0, 0, NULL }, b }, 3,
		  "entry \"data/a.csv\" has SHA-256" },
		{ { mf, a, b, { "../x", data_b, 0, 0, NULL } }, 4,
		  "entry \"../x\" refused: it leads out of the archive" },
		{ { mf, a, b, { "data/../../x", data_b, 0, 0, NULL } }, 4,
		  "leads out of the archive" },
		{ { mf, a, b, { "/etc/cron.d/x", data_b, 0, 0, NULL } }, 4,
		  "entry \"/etc/cron.d/x\" refused: it is an absolute path" },
		{ { mf, { "data/a.csv", NULL, 0, AE_IFLNK, "/etc/passwd" }, a, b }, 4,
		  "entry \"data/a.csv\" refused: it is a symbolic link" },
		{ { mf, a, { "b.csv", NULL, 0, 0, "data/a.csv" } }, 3,
		  "entry \"b.csv\" refused: it is a hard link" },
		{ { mf, a, b, { "data/null", NULL, 0, AE_IFCHR, NULL } }, 4,
		  "entry \"data/null\" refused: it is a device" },
		{ { mf, a, b, { "data/sub", NULL, 0, AE_IFDIR, NULL } }, 4,
		  "entry \"data/sub/\" refused: it is a directory other than data/" },
		{ { a, mf, b }, 3,
		  "check 3 (manifest): manifest.xml is not the first entry (the first is \"data/a.csv\")" },
		{ { a, b }, 2, "manifest.xml is not the first entry" },
		{ { mf, a, a, b }, 4, "entry \"data/a.csv\" appears twice" },
		{ { mf, a, b, mf }, 4, "entry \"manifest.xml\" appears twice" },
		{ { mf, a }, 2, "\"b.csv\" is listed in the manifest but not in the archive" },
		{ { mf, a, b, { "data/x y", data_b, 0, 0, NULL } }, 4,
		  "entry \"data/x y\" refused: names are" },
		{ { { "manifest.xml", "<package", 0, 0, NULL }, a, b }, 3,
		  "check 3 (manifest): malformed XML" },
		{ { { "manifest.xml", "<package xmlns=\"urn:tmis:exchange:1\"/>", 0, 0, NULL }, a, b }, 3,
		  "check 3 (manifest): /package/@version" },
		{ { { "manifest.xml", NULL, 2 << 20, 0, NULL }, a, b }, 3,
		  "check 3 (manifest): manifest.xml is 2097152 bytes, over" },
		{ { { "data/", NULL, 0, AE_IFDIR, NULL }, mf, a, b }, 4,
		  "manifest.xml is not the first entry" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		expect_refused(c[i].e, c[i].n, c[i].want);
	free(man);
}

static void test_records_mismatch(void **state)
{
	struct manifest m;
	struct buf out = BUF_INIT(1 << 20);
	struct tmerr err;
	struct mfile *f;
	const char *quoted = "id,note\n1,\"two\nlines\"\n";

	(void)state;
	sample_manifest(&m, "full");
	f = add(&m, "data/a.csv", "teacher", "csv");
	f->records = 2; /* wc -l would say so; RFC 4180 says 1 */
	f->bytes = strlen(quoted);
	sha256_hex(quoted, strlen(quoted), f->sha256);
	assert_int_equal(manifest_write(&m, &out, &err), 0);
	{
		const struct ent e[] = {
			{ "manifest.xml", out.ptr, 0, 0, NULL },
			{ "data/a.csv", quoted, 0, 0, NULL },
		};

		expect_refused(e, 2,
			       "entry \"data/a.csv\" holds 1 records; the manifest says 2");
	}
	manifest_free(&m);
	buf_release(&out);
}

/* Extraction of a later entry fails: what was extracted before goes. */
static void test_unpack_cleanup(void **state)
{
	char *man = std_manifest();
	const struct ent e[] = {
		{ "manifest.xml", man, 0, 0, NULL },
		{ "data/a.csv", data_a, 0, 0, NULL },
		{ "b.csv", "id,name\n3,d\n", 0, 0, NULL },
	};
	struct manifest m;
	struct tmerr err;
	struct tmp t;
	char *pkg, *dir;

	(void)state;
	tmp_setup(&t);
	pkg = path_in(&t, "p.tar.zst");
	dir = path_in(&t, "out");
	write_archive(pkg, ARCHIVE_FILTER_ZSTD, e, 3);
	/* the directory exists already: it stays, empty */
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(verify_path(pkg, NULL, &m, dir, &err), -1);
	assert_non_null(strstr(err.msg, "entry \"b.csv\" has SHA-256"));
	assert_int_equal(count_dir(dir), 0);
	free(pkg);
	free(dir);
	free(man);
	tmp_teardown(&t);
}

static void test_many_entries(void **state)
{
	enum { N = 100000 };
	struct manifest m;
	struct buf xml = BUF_INIT(1 << 20);
	struct payload_limits l;
	struct tmerr err;
	struct ent *e;
	struct mfile *f;
	struct tmp t;
	char *pkg, (*names)[24];
	clock_t t0;
	size_t i;

	(void)state;
	tmp_setup(&t);
	pkg = path_in(&t, "p.tar.zst");
	e = calloc(N + 1, sizeof(*e));
	names = calloc(N, sizeof(*names));
	assert_non_null(e);
	assert_non_null(names);
	sample_manifest(&m, "full");
	for (i = 0; i < 200; i++) {
		f = add(&m, "x", "teacher", "csv");
		snprintf(f->name, sizeof(f->name), "data/f%06zu.csv", i);
		f->records = 0;
		sha256_hex("", 0, f->sha256);
	}
	assert_int_equal(manifest_write(&m, &xml, &err), 0);
	e[0].name = "manifest.xml";
	e[0].data = xml.ptr;
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "data/f%06zu.csv", i);
		e[i + 1].name = names[i];
		e[i + 1].data = "";
	}
	write_archive(pkg, ARCHIVE_FILTER_ZSTD, e, N + 1);
	manifest_free(&m);

	/* the default cap, or the first unlisted entry, stops it early */
	t0 = clock();
	assert_int_equal(verify_path(pkg, NULL, &m, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "check 3 (archive)"));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);

	/* with the cap under the listed entries, the cap is what fails */
	payload_limits_default(&l);
	l.max_entries = 100;
	assert_int_equal(verify_path(pkg, &l, &m, NULL, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_non_null(strstr(err.msg, "more than 100 entries"));


	buf_release(&xml);
	free(names);
	free(e);
	free(pkg);
	tmp_teardown(&t);
}

static void test_bomb(void **state)
{
	struct manifest m;
	struct buf xml = BUF_INIT(1 << 20);
	struct tmerr err;
	struct mfile *f;
	struct ent e[2];
	struct tmp t;
	struct stat st;
	char *pkg;
	clock_t t0;

	(void)state;
	tmp_setup(&t);
	pkg = path_in(&t, "bomb.tar.zst");
	sample_manifest(&m, "full");
	f = add(&m, "data/teacher.csv", "teacher", "csv");
	f->records = 0;
	f->bytes = 200ULL << 20;
	sha256_hex("", 0, f->sha256);
	assert_int_equal(manifest_write(&m, &xml, &err), 0);
	memset(e, 0, sizeof(e));
	e[0].name = "manifest.xml";
	e[0].data = xml.ptr;
	e[1].name = "data/teacher.csv";
	e[1].size = 200ULL << 20;
	write_archive(pkg, ARCHIVE_FILTER_ZSTD, e, 2);
	assert_int_equal(stat(pkg, &st), 0);
	assert_true(st.st_size < (1 << 20));
	manifest_free(&m);

	t0 = clock();
	assert_int_equal(verify_path(pkg, NULL, &m, NULL, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_non_null(strstr(err.msg, "compression bomb"));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
	buf_release(&xml);
	free(pkg);
	tmp_teardown(&t);
}

static void test_truncated(void **state)
{
	struct manifest m;
	struct tmerr err;
	struct tmp t;
	struct stat st;
	char *pkg;

	(void)state;
	tmp_setup(&t);
	pack_sample(&t, &m, "p.tar.zst");
	manifest_free(&m);
	pkg = path_in(&t, "p.tar.zst");
	assert_int_equal(stat(pkg, &st), 0);
	assert_int_equal(truncate(pkg, st.st_size / 2), 0);
	assert_int_equal(verify_path(pkg, NULL, &m, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "check 3"));
	free(pkg);
	tmp_teardown(&t);
}

static void test_writer_errors(void **state)
{
	struct payload_writer *w;
	struct manifest m;
	struct tmerr err;
	struct tmp t;
	char *csv, *out;
	FILE *o;

	(void)state;
	tmp_setup(&t);
	csv = path_in(&t, "a.csv");
	out = path_in(&t, "p.tar.zst");
	put_file(csv, data_a, strlen(data_a));
	sample_manifest(&m, "full");
	add(&m, "data/a.csv", "teacher", "csv");
	assert_int_equal(payload_scan(&m.files[0], csv, &err), 0);
	assert_int_equal(m.files[0].records, 2);
	o = fopen(out, "wb");
	assert_non_null(o);

	/* a file missing from the payload */
	assert_int_equal(payload_writer_open(&w, file_sink, o, 0, &err), 0);
	assert_int_equal(payload_add_file(w, "data/a.csv", csv, &err), -1);
	assert_int_equal(payload_write_manifest(w, &m, &err), 0);
	assert_int_equal(payload_write_manifest(w, &m, &err), -1);
	assert_int_equal(payload_add_file(w, "data/b.csv", csv, &err), -1);
	assert_non_null(strstr(err.msg, "does not list"));
	assert_int_equal(payload_writer_close(w, &err), -1);
	assert_non_null(strstr(err.msg, "\"data/a.csv\" is listed in the manifest but was not added"));

	/* a file changed between the passes */
	put_file(csv, "id,name\n1,a\n2,c\n", 16);
	assert_int_equal(payload_writer_open(&w, file_sink, o, 0, &err), 0);
	assert_int_equal(payload_write_manifest(w, &m, &err), 0);
	assert_int_equal(payload_add_file(w, "data/a.csv", csv, &err), -1);
	assert_non_null(strstr(err.msg, "changed while packing"));
	payload_writer_abort(w);
	put_file(csv, "id,name\n1,a\n", 12);
	assert_int_equal(payload_writer_open(&w, file_sink, o, 0, &err), 0);
	assert_int_equal(payload_write_manifest(w, &m, &err), 0);
	assert_int_equal(payload_add_file(w, "data/a.csv", csv, &err), -1);
	assert_non_null(strstr(err.msg, "changed while packing"));
	payload_writer_abort(w);

	/* the sink refuses, early or at the end */
	{
		static const size_t lens[] = { 0, 100, 100000 };
		char *big = path_in(&t, "big.csv");
		FILE *b = fopen(big, "wb");
		size_t i, left;

		assert_non_null(b);
		for (i = 0; i < 200000; i++)
			fprintf(b, "%zu,%zu\n", i * 7919 % 100003, i);
		fclose(b);
		strcpy(m.files[0].name, "data/big.csv");
		m.files[0].records = -1;
		assert_int_equal(payload_scan(&m.files[0], big, &err), 0);
		for (i = 0; i < 3; i++) {
			left = lens[i];
			tmerr_clear(&err);
			if (!payload_writer_open(&w, short_sink, &left, 0, &err) &&
			    !payload_write_manifest(w, &m, &err) &&
			    !payload_add_file(w, "data/big.csv", big, &err))
				assert_int_equal(payload_writer_close(w, &err), -1);
			else
				payload_writer_abort(w);
			assert_non_null(strstr(err.msg, "refused the data"));
		}
		left = 1 << 30;
		assert_int_equal(payload_writer_open(&w, short_sink, &left, 0, &err), 0);
		assert_int_equal(payload_write_manifest(w, &m, &err), 0);
		assert_int_equal(payload_add_file(w, "data/big.csv", big, &err), 0);
		assert_int_equal(payload_writer_close(w, &err), 0);
		free(big);
	}

	/* XML needs its record count */
	strcpy(m.files[0].format, "xml");
	m.files[0].records = -1;
	assert_int_equal(payload_scan(&m.files[0], csv, &err), -1);
	fclose(o);
	manifest_free(&m);
	free(csv);
	free(out);
	tmp_teardown(&t);
}

/* ---- interoperability with GNU tar ------------------------------------- */

static int have_tar_zstd(void)
{
	return system("tar --zstd --help >/dev/null 2>&1 && zstd --version >/dev/null 2>&1") == 0;
}

static void test_tar_made(void **state)
{
	struct manifest m, got;
	struct buf xml = BUF_INIT(1 << 20);
	struct tmerr err;
	struct mfile *f;
	struct tmp t;
	char cmd[512], *p;

	(void)state;
	if (!have_tar_zstd())
		skip();
	tmp_setup(&t);
	p = path_in(&t, "data");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = path_in(&t, "data/teacher.csv");
	put_file(p, csv_text, strlen(csv_text));
	sample_manifest(&m, "full");
	f = add(&m, "data/teacher.csv", "teacher", "csv");
	assert_int_equal(payload_scan(f, p, &err), 0);
	free(p);
	assert_int_equal(manifest_write(&m, &xml, &err), 0);
	p = path_in(&t, "manifest.xml");
	put_file(p, xml.ptr, xml.len);
	free(p);

	/* GNU format, with the data/ directory entry, zstd then gzip */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && tar --zstd -cf p.tar.zst manifest.xml data && tar -czf p.tgz manifest.xml data/teacher.csv",
		 t.dir);
	assert_int_equal(system(cmd), 0);
	p = path_in(&t, "p.tar.zst");
	if (verify_path(p, NULL, &got, NULL, &err))
		fail_msg("tar --zstd: %s", err.msg);
	assert_int_equal(got.files[0].records, 4);
	manifest_free(&got);
	free(p);
	p = path_in(&t, "p.tgz");
	if (verify_path(p, NULL, &got, NULL, &err))
		fail_msg("tar -z: %s", err.msg);
	manifest_free(&got);
	free(p);
	manifest_free(&m);
	buf_release(&xml);
	tmp_teardown(&t);
}

static void test_tar_reads(void **state)
{
	struct manifest m;
	struct tmp t;
	char cmd[512], list[256];
	FILE *f;
	size_t n;

	(void)state;
	if (!have_tar_zstd())
		skip();
	tmp_setup(&t);
	pack_sample(&t, &m, "p.tar.zst");
	manifest_free(&m);
	snprintf(cmd, sizeof(cmd), "cd '%s' && tar --zstd -tf p.tar.zst", t.dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(list, 1, sizeof(list) - 1, f);
	list[n] = '\0';
	assert_int_equal(pclose(f), 0);
	assert_string_equal(list, "manifest.xml\ndata/teacher.csv\nnotes.xml\n");
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && mkdir x && tar --zstd -xf p.tar.zst -C x && cmp x/data/teacher.csv teacher.csv",
		 t.dir);
	assert_int_equal(system(cmd), 0);
	tmp_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_xml_records),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_gzip_and_plain),
		cmocka_unit_test(test_hostile_entries),
		cmocka_unit_test(test_records_mismatch),
		cmocka_unit_test(test_unpack_cleanup),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_tar_made),
		cmocka_unit_test(test_tar_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
