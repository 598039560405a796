/*
 * test_csv: the CSV adapter over in-memory and generated inputs; each test
 * owns what it opens and closes it.
 */
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../adapters/adapter.h"

extern const struct adapter csv_adapter;

/* ---- helpers ------------------------------------------------------------ */

struct memin {
	const char *data;
	size_t len, pos;
	size_t chunk; /* most bytes per read(), 0 = no limit */
};

static ssize_t mem_read(void *ctx, void *dst, size_t n)
{
	struct memin *m = ctx;
	size_t k = m->len - m->pos;

	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	memcpy(dst, m->data + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static void mem_input(struct input *in, struct memin *m, const char *data,
		      size_t len, size_t chunk)
{
	m->data = data;
	m->len = len;
	m->pos = 0;
	m->chunk = chunk;
	in->read = mem_read;
	in->ctx = m;
	in->name = "mem.csv";
}

struct t {
	struct memin m;
	struct input in;
	struct adapter_handle *h;
	struct record rec;
	struct tmerr err;
};

static struct adapter_opts opts_hdr(void)
{
	struct adapter_opts o;

	memset(&o, 0, sizeof(o));
	o.has_header = 1;
	return o;
}

static int t_open_len(struct t *t, const char *data, size_t len, size_t chunk,
		      const struct adapter_opts *o)
{
	memset(t, 0, sizeof(*t));
	mem_input(&t->in, &t->m, data, len, chunk);
	return csv_adapter.open(&t->h, &t->in, o, &t->err);
}

static void t_open(struct t *t, const char *data, const struct adapter_opts *o)
{
	int rc = t_open_len(t, data, strlen(data), 0, o);

	if (rc)
		fail_msg("open failed: %s", t->err.msg);
	assert_non_null(t->h);
}

static int t_next(struct t *t)
{
	tmerr_clear(&t->err);
	return csv_adapter.next(t->h, &t->rec, &t->err);
}

static void t_close(struct t *t)
{
	csv_adapter.close(t->h);
	t->h = NULL;
}

static void expect_ok(struct t *t, long line, size_t n, ...)
{
	va_list ap;
	size_t i;
	int rc = t_next(t);

	if (rc != ADP_OK)
		fail_msg("expected record at line %ld, got rc %d (%s line %ld rule %s)",
			 line, rc, t->err.msg, t->err.line, t->err.rule);
	assert_int_equal(t->rec.line, line);
	assert_int_equal(t->rec.nfields, n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);

		assert_non_null(t->rec.vals[i]);
		assert_string_equal(t->rec.vals[i], want);
		assert_int_equal(t->rec.lens[i], strlen(want));
	}
	va_end(ap);
}

static void expect_bad(struct t *t, const char *rule, long line, long col)
{
	int rc = t_next(t);

	if (rc != ADP_BAD)
		fail_msg("expected reject \"%s\" at line %ld, got rc %d", rule,
			 line, rc);
	assert_string_equal(t->err.rule, rule);
	assert_int_equal(t->err.line, line);
	if (col)
		assert_int_equal(t->err.col, col);
	assert_string_equal(t->err.file, "mem.csv");
	assert_true(t->err.msg[0] >= 'a' && t->err.msg[0] <= 'z');
	assert_int_equal(t->err.code, TMERR_INPUT);
	assert_string_equal(t->err.value, "");
}

static void expect_eof(struct t *t)
{
	assert_int_equal(t_next(t), ADP_EOF);
	assert_int_equal(t_next(t), ADP_EOF);
}

/* Convert UTF-8 text to enc; the caller frees. */
static char *to_enc(const char *enc, const char *utf8, size_t *outlen)
{
	iconv_t cd = iconv_open(enc, "UTF-8");
	size_t il = strlen(utf8), ol = il * 4 + 4;
	char *out = malloc(ol), *ob = out, *ib = (char *)utf8;

	assert_true(cd != (iconv_t)-1);
	assert_non_null(out);
	assert_true(iconv(cd, &ib, &il, &ob, &ol) != (size_t)-1);
	iconv_close(cd);
	*outlen = (size_t)(ob - out);
	return out;
}

/* ---- tests -------------------------------------------------------------- */

static void test_bom(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *const *names;
	struct t t;

	(void)state;
	t_open(&t, "\xEF\xBB\xBFname,code\nx,1\n", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 2);
	assert_string_equal(names[0], "name");
	assert_string_equal(names[1], "code");
	expect_ok(&t, 2, 2, "x", "1");
	assert_string_equal(t.rec.names[0], "name");
	expect_eof(&t);
	t_close(&t);

	t_open(&t, "name,code\nx,1\n", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 2);
	assert_string_equal(names[0], "name");
	expect_ok(&t, 2, 2, "x", "1");
	expect_eof(&t);
	t_close(&t);

	/* a BOM-only file is empty; a BOM cut short is data */
	t_open(&t, "\xEF\xBB\xBF", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 0);
	expect_eof(&t);
	t_close(&t);
}

static void test_gb18030(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *const *names;
	struct t t;
	/* "姓名,性别\n张三,男\n" with a 4-byte character (U+20000) */
	const char *utf = "姓名,性别\n张三\xF0\xA0\x80\x80,男\n";
	size_t len, chunk;
	char *gb = to_enc("GB18030", utf, &len);

	(void)state;
	assert_memory_equal(gb, "\xd0\xd5\xc3\xfb", 4);
	o.encoding = "gb18030";
	for (chunk = 0; chunk < 6; chunk++) {
		assert_int_equal(t_open_len(&t, gb, len, chunk, &o), 0);
		assert_int_equal(csv_adapter.names(t.h, &names), 2);
		assert_string_equal(names[0], "姓名");
		assert_string_equal(names[1], "性别");
		expect_ok(&t, 2, 2, "张三\xF0\xA0\x80\x80", "男");
		/* columns count characters */
		assert_int_equal(t.rec.cols[0], 1);
		assert_int_equal(t.rec.cols[1], 5);
		expect_eof(&t);
		t_close(&t);
	}
	free(gb);

	/* a GB18030 BOM (84 31 95 33) decodes to U+FEFF and is skipped */
	o.encoding = "GB18030";
	assert_int_equal(t_open_len(&t, "\x84\x31\x95\x33" "a\n1\n", 8, 1, &o), 0);
	assert_int_equal(csv_adapter.names(t.h, &names), 1);
	assert_string_equal(names[0], "a");
	expect_ok(&t, 2, 1, "1");
	t_close(&t);
}

static void test_gbk(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *const *names;
	struct t t;
	size_t len;
	char *gb = to_enc("GBK", "教师,学校\r\n\"李,四\",第一中学\r\n", &len);

	(void)state;
	o.encoding = "gbk";
	assert_int_equal(t_open_len(&t, gb, len, 3, &o), 0);
	assert_int_equal(csv_adapter.names(t.h, &names), 2);
	assert_string_equal(names[0], "教师");
	expect_ok(&t, 2, 2, "李,四", "第一中学");
	expect_eof(&t);
	t_close(&t);
	free(gb);

	o.encoding = "latin-9";
	assert_int_equal(t_open_len(&t, "a\n", 2, 0, &o), -1);
	assert_null(t.h);
	assert_int_equal(t.err.code, TMERR_MAPPING);
}

static void test_chunk_split(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *data = "\xEF\xBB\xBF名,b\r\n\"多\r\n行\",\xE2\x82\xAC\r"
			   "\xF0\x9F\x98\x80,\"\"\"q\"\"\"\r\nlast,x";
	size_t chunk;
	struct t t;

	(void)state;
	for (chunk = 1; chunk <= 9; chunk++) {
		assert_int_equal(t_open_len(&t, data, strlen(data), chunk, &o), 0);
		expect_ok(&t, 2, 2, "多\r\n行", "\xE2\x82\xAC");
		expect_ok(&t, 4, 2, "\xF0\x9F\x98\x80", "\"q\"");
		assert_int_equal(t.rec.cols[1], 3);
		expect_ok(&t, 5, 2, "last", "x");
		expect_eof(&t);
		t_close(&t);
	}
}

static void test_line_endings(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	t_open(&t, "a,b\r\n1,2\r\n3,4\r\n", &o);
	expect_ok(&t, 2, 2, "1", "2");
	expect_ok(&t, 3, 2, "3", "4");
	expect_eof(&t);
	t_close(&t);

	t_open(&t, "a,b\r1,2\r3,4\r", &o);
	expect_ok(&t, 2, 2, "1", "2");
	expect_ok(&t, 3, 2, "3", "4");
	expect_eof(&t);
	t_close(&t);

	t_open(&t, "a,b\n1,2\r\n3,4\r5,6\n\r\n7,8", &o);
	expect_ok(&t, 2, 2, "1", "2");
	expect_ok(&t, 3, 2, "3", "4");
	expect_ok(&t, 4, 2, "5", "6");
	expect_ok(&t, 6, 2, "7", "8");
	expect_eof(&t);
	t_close(&t);
}

static void test_quoted(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	t_open(&t, "a,b,c\n"
		   "\"x,y\",\"he said \"\"hi\"\"\",\"line1\nline2\r\nline3\"\n"
		   "\"\",\"\"\"\",z\n"
		   "next,\"\",\"\n\"\n"
		   "after,1,2\n", &o);
	expect_ok(&t, 2, 3, "x,y", "he said \"hi\"", "line1\nline2\r\nline3");
	assert_int_equal(t.rec.cols[0], 1);
	assert_int_equal(t.rec.cols[1], 7);
	expect_ok(&t, 5, 3, "", "\"", "z");
	expect_ok(&t, 6, 3, "next", "", "\n");
	expect_ok(&t, 8, 3, "after", "1", "2");
	expect_eof(&t);
	t_close(&t);
}

static void test_empty_vs_missing(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	t_open(&t, "a,b,c\n1,,3\n,,\n1,2\n", &o);
	expect_ok(&t, 2, 3, "1", "", "3");
	assert_non_null(t.rec.vals[1]);
	assert_int_equal(t.rec.lens[1], 0);
	expect_ok(&t, 3, 3, "", "", "");
	expect_bad(&t, "ragged", 4, 4);
	expect_eof(&t);
	t_close(&t);
}

static void test_ragged(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	t_open(&t, "a,b,c\n1,2\n1,2,3,4,5\n\"q\nq\",2\nok,2,3\n", &o);
	expect_bad(&t, "ragged", 2, 4);
	assert_true(strstr(t.err.msg, "2 fields") != NULL);
	expect_bad(&t, "ragged", 3, 7);
	expect_bad(&t, "ragged", 5, 0);
	expect_ok(&t, 6, 3, "ok", "2", "3");
	expect_eof(&t);
	t_close(&t);
}

static void test_unclosed_quote(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;
	char big[400];
	size_t i, n = 0;

	(void)state;
	t_open(&t, "a,b\n1,2\n3,\"open\n4,5\n6,7\n", &o);
	expect_ok(&t, 2, 2, "1", "2");
	expect_bad(&t, "unclosed_quote", 3, 3);
	expect_eof(&t);
	t_close(&t);

	/* a small field cap stops the runaway quote; parsing resumes */
	n += (size_t)sprintf(big + n, "a,b\n1,\"open\n");
	for (i = 0; i < 20; i++)
		n += (size_t)sprintf(big + n, "%zu,x\n", i);
	o.field_cap = 16;
	t_open(&t, big, &o);
	expect_bad(&t, "unclosed_quote", 2, 3);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_true(t.rec.line > 2 && t.rec.line < 8);
	n = 1;
	while (t_next(&t) == ADP_OK)
		if (!strcmp(t.rec.vals[0], "19"))
			n = 19;
	assert_int_equal(n, 19);
	t_close(&t);
}

static void test_bad_quote(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	t_open(&t, "a,b\nab\"c,d\n\"x\"y,z\n\"x\" ,z\n1,2\n", &o);
	expect_bad(&t, "bad_quote", 2, 3);
	expect_bad(&t, "bad_quote", 3, 4);
	assert_string_equal(t.err.field, "a");
	expect_bad(&t, "bad_quote", 4, 4);
	expect_ok(&t, 5, 2, "1", "2");
	expect_eof(&t);
	t_close(&t);
}

static void test_nul_byte(void **state)
{
	struct adapter_opts o = opts_hdr();
	static const char data[] = "a,b\n1,x\0y\n\"\0\",2\n3,4\n";
	struct t t;

	(void)state;
	assert_int_equal(t_open_len(&t, data, sizeof(data) - 1, 0, &o), 0);
	expect_bad(&t, "nul_byte", 2, 4);
	assert_string_equal(t.err.field, "b");
	expect_bad(&t, "nul_byte", 3, 2);
	expect_ok(&t, 4, 2, "3", "4");
	expect_eof(&t);
	t_close(&t);
}

static void test_invalid_utf8(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *data = "a,b\n"
			   "\xC0\xAF,1\n"          /* overlong '/' */
			   "x,\x80\n"              /* lone continuation */
			   "\xE0\x80\xAF,1\n"      /* overlong 3-byte */
			   "\xED\xA0\x80,1\n"      /* surrogate */
			   "\xF4\x90\x80\x80,1\n"  /* above U+10FFFF */
			   "\"\xE4\xB8\",1\n"      /* truncated in quotes */
			   "\xE4\xB8\xAD\xFF,1\n"  /* 0xFF */
			   "中,文\n"
			   "\xE4\xB8";             /* cut by EOF */
	size_t chunk;
	struct t t;

	(void)state;
	for (chunk = 0; chunk < 4; chunk++) {
		assert_int_equal(t_open_len(&t, data, strlen(data), chunk, &o), 0);
		expect_bad(&t, "encoding", 2, 1);
		expect_bad(&t, "encoding", 3, 3);
		expect_bad(&t, "encoding", 4, 1);
		expect_bad(&t, "encoding", 5, 1);
		expect_bad(&t, "encoding", 6, 1);
		expect_bad(&t, "encoding", 7, 2);
		expect_bad(&t, "encoding", 8, 2);
		expect_ok(&t, 9, 2, "中", "文");
		expect_bad(&t, "encoding", 10, 1);
		expect_eof(&t);
		t_close(&t);
	}
}

static void test_invalid_gb18030(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *const *names;
	struct t t;
	/* 0x81 0x20 and 0xFF are not GB18030 */
	static const char data[] = "\xd0\xd5\xc3\xfb,b\n"
				   "\xd5\xc5\x81 ,1\n"
				   "\xff,2\n"
				   "\xd5\xc5,3\n"
				   "\xd5";
	size_t chunk;

	(void)state;
	o.encoding = "gb18030";
	for (chunk = 0; chunk < 4; chunk++) {
		assert_int_equal(t_open_len(&t, data, sizeof(data) - 1, chunk, &o), 0);
		assert_int_equal(csv_adapter.names(t.h, &names), 2);
		assert_string_equal(names[0], "姓名");
		expect_bad(&t, "encoding", 2, 2);
		assert_true(strstr(t.err.msg, "GB18030") != NULL);
		expect_bad(&t, "encoding", 3, 1);
		expect_ok(&t, 4, 2, "张", "3");
		expect_bad(&t, "encoding", 5, 1);
		expect_eof(&t);
		t_close(&t);
	}

	/* a bad header makes open fail */
	assert_int_equal(t_open_len(&t, "\xff\xfe,b\n1,2\n", 9, 0, &o), -1);
	assert_null(t.h);
	assert_string_equal(t.err.rule, "encoding");
	assert_int_equal(t.err.line, 1);
}

static void test_field_cap(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	o.field_cap = 5;
	t_open(&t, "a,b\n12345,1\n123456,1\n1,\"abcdef\"\n\"ab\"\"cd\",2\n"
		   "x,\"abcdef\nnext\"\n7,8\n", &o);
	expect_ok(&t, 2, 2, "12345", "1");
	expect_bad(&t, "field_too_long", 3, 1);
	expect_bad(&t, "field_too_long", 4, 3);
	expect_ok(&t, 5, 2, "ab\"cd", "2");
	expect_bad(&t, "field_too_long", 6, 3);
	/* resynchronised at the line break after the cap: "next"" is noise */
	expect_bad(&t, "bad_quote", 7, 5);
	expect_ok(&t, 8, 2, "7", "8");
	expect_eof(&t);
	t_close(&t);
}

static void test_record_cap(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	o.record_cap = 12;
	t_open(&t, "a,b,c\n123,456,78\n1234,5678,90\n\"1234\",\"56789\",\"012\"\n1,2,3\n", &o);
	expect_ok(&t, 2, 3, "123", "456", "78");
	expect_bad(&t, "record_too_long", 3, 1);
	expect_bad(&t, "record_too_long", 4, 1);
	expect_ok(&t, 5, 3, "1", "2", "3");
	expect_eof(&t);
	t_close(&t);

	/* too many fields for the header itself */
	{
		char *wide = malloc(5000 * 2 + 2);
		size_t i;

		for (i = 0; i < 5000; i++) {
			wide[2 * i] = 'x';
			wide[2 * i + 1] = ',';
		}
		wide[2 * 5000 - 1] = '\n';
		wide[2 * 5000] = '\0';
		o.record_cap = 0;
		assert_int_equal(t_open_len(&t, wide, strlen(wide), 0, &o), -1);
		assert_string_equal(t.err.rule, "record_too_long");
		free(wide);
	}
}

/* A generated input: rows made on the fly, never held in memory. */
struct gen {
	size_t rows, made;
	char row[128];
	size_t rowlen, off;
	int long_field;
};

static ssize_t gen_read(void *ctx, void *dst, size_t n)
{
	struct gen *g = ctx;
	char *d = dst;
	size_t done = 0;

	while (done < n) {
		if (g->off == g->rowlen) {
			if (g->made == g->rows)
				break;
			g->made++;
			if (g->made == 1)
				g->rowlen = (size_t)snprintf(g->row, sizeof(g->row),
							     "id,name,school,note,date\n");
			else
				g->rowlen = (size_t)snprintf(g->row, sizeof(g->row),
							     "%zu,张老师%zu,4101000%zu,\"a, \"\"b\"\"\",2020-01-%02zu\r\n",
							     g->made, g->made % 97,
							     g->made % 10, g->made % 28 + 1);
			g->off = 0;
		}
		{
			size_t k = g->rowlen - g->off;

			if (k > n - done)
				k = n - done;
			memcpy(d + done, g->row + g->off, k);
			g->off += k;
			done += k;
		}
	}
	return (ssize_t)done;
}

static void test_memory_flat(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct gen g;
	struct input in = { gen_read, &g, "gen.csv" };
	struct adapter_handle *h;
	struct record rec;
	struct tmerr err;
	size_t rows = 0;
	int rc;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.rows = 900000; /* about 50 MB */
	tmerr_clear(&err);
	assert_int_equal(csv_adapter.open(&h, &in, &o, &err), 0);
	while ((rc = csv_adapter.next(h, &rec, &err)) == ADP_OK) {
		assert_int_equal(rec.nfields, 5);
		rows++;
	}
	assert_int_equal(rc, ADP_EOF);
	assert_int_equal(rows, g.rows - 1);
	assert_string_equal(rec.names[3], "note");
	csv_adapter.close(h);
}

static void test_no_header(void **state)
{
	struct adapter_opts o;
	const char *const *names;
	struct t t;

	(void)state;
	memset(&o, 0, sizeof(o));
	t_open(&t, "\n1,2,3\n4,5\n6,7,8\n", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 3);
	assert_string_equal(names[0], "1");
	assert_string_equal(names[2], "3");
	expect_ok(&t, 2, 3, "1", "2", "3");
	assert_string_equal(t.rec.names[1], "2");
	expect_bad(&t, "ragged", 3, 4);
	expect_ok(&t, 4, 3, "6", "7", "8");
	expect_eof(&t);
	t_close(&t);

	/* a rejected first record still sizes the names */
	t_open(&t, "1,\x80\n3,4\n", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 2);
	expect_bad(&t, "encoding", 1, 3);
	expect_ok(&t, 2, 2, "3", "4");
	expect_eof(&t);
	t_close(&t);
}

static void test_empty_file(void **state)
{
	struct adapter_opts o = opts_hdr();
	const char *const *names;
	struct t t;

	(void)state;
	t_open(&t, "", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 0);
	expect_eof(&t);
	t_close(&t);

	o.has_header = 0;
	t_open(&t, "\r\n\n\r", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 0);
	expect_eof(&t);
	t_close(&t);

	/* header only */
	o.has_header = 1;
	t_open(&t, "a,b\n", &o);
	assert_int_equal(csv_adapter.names(t.h, &names), 2);
	expect_eof(&t);
	t_close(&t);
}

static void test_final_record(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	t_open(&t, "a,b\n1,2", &o);
	expect_ok(&t, 2, 2, "1", "2");
	expect_eof(&t);
	t_close(&t);

	t_open(&t, "a,b\n1,", &o);
	expect_ok(&t, 2, 2, "1", "");
	expect_eof(&t);
	t_close(&t);

	t_open(&t, "a,b\n1,\"x\"", &o);
	expect_ok(&t, 2, 2, "1", "x");
	expect_eof(&t);
	t_close(&t);
}

static void test_blank_lines_and_delimiter(void **state)
{
	struct adapter_opts o = opts_hdr();
	struct t t;

	(void)state;
	o.delimiter = '\t';
	t_open(&t, "\n\na\tb\n\n1,2\t3\r\n\r\n\n4\t\n", &o);
	expect_ok(&t, 5, 2, "1,2", "3");
	expect_ok(&t, 8, 2, "4", "");
	expect_eof(&t);
	t_close(&t);

	o.delimiter = ';';
	t_open(&t, "a;b\n\"x;y\";\"\"\n", &o);
	expect_ok(&t, 2, 2, "x;y", "");
	expect_eof(&t);
	t_close(&t);

	o.delimiter = '"';
	assert_int_equal(t_open_len(&t, "a\n", 2, 0, &o), -1);
}

static void test_probe(void **state)
{
	(void)state;
	assert_int_equal(csv_adapter.probe((const unsigned char *)"<?xml", 5,
					   "x.csv"), 0);
	assert_int_equal(csv_adapter.probe((const unsigned char *)
					   "\xEF\xBB\xBF \n<a>", 8, NULL), 0);
	assert_int_equal(csv_adapter.probe((const unsigned char *)"a,b\n1,2", 7,
					   NULL), 50);
	assert_int_equal(csv_adapter.probe((const unsigned char *)"abc", 3,
					   "t.TXT"), 50);
	assert_int_equal(csv_adapter.probe((const unsigned char *)"abc", 3,
					   "t.bin"), 0);
}

static void test_registry_and_file(void **state)
{
	char path[] = "/tmp/test_csv_XXXXXX";
	struct adapter_opts o = opts_hdr();
	struct adapter_handle *h;
	struct record rec;
	struct tmerr err;
	struct input in;
	int fd;

	(void)state;
	assert_ptr_equal(adapter_find("csv"), &csv_adapter);
	assert_null(adapter_find("nope"));
	assert_ptr_equal(adapter_list()[0], &csv_adapter);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a,b\n1,2\n", 8), 8);
	close(fd);
	tmerr_clear(&err);
	assert_int_equal(input_open_file(&in, path, &err), 0);
	assert_string_equal(in.name, path);
	assert_int_equal(csv_adapter.open(&h, &in, &o, &err), 0);
	assert_int_equal(csv_adapter.next(h, &rec, &err), ADP_OK);
	assert_string_equal(rec.vals[1], "2");
	assert_int_equal(csv_adapter.next(h, &rec, &err), ADP_EOF);
	csv_adapter.close(h);
	input_close_file(&in);
	unlink(path);

	assert_int_equal(input_open_file(&in, path, &err), -1);
	assert_int_equal(err.code, TMERR_INPUT);
	assert_true(strstr(err.msg, path) != NULL);
	assert_int_equal(input_open_file(&in, "/tmp", &err), -1);
	assert_int_equal(input_open_file(&in, "-", &err), 0);
	assert_string_equal(in.name, "<stdin>");
	input_close_file(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_gb18030),
		cmocka_unit_test(test_gbk),
		cmocka_unit_test(test_chunk_split),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_empty_vs_missing),
		cmocka_unit_test(test_ragged),
		cmocka_unit_test(test_unclosed_quote),
		cmocka_unit_test(test_bad_quote),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_invalid_gb18030),
		cmocka_unit_test(test_field_cap),
		cmocka_unit_test(test_record_cap),
		cmocka_unit_test(test_memory_flat),
		cmocka_unit_test(test_no_header),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_final_record),
		cmocka_unit_test(test_blank_lines_and_delimiter),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_registry_and_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
