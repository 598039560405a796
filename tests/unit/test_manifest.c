/*
 * test_manifest: manifest.xml written and parsed back, and every rule of
 * the parser refused with an error naming the element path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../etl/manifest.h"

static const char sha_a[] =
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char sha_b[] =
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

static void sample(struct manifest *m)
{
	struct mfile *f;
	struct tmerr err;

	manifest_init(m);
	strcpy(m->id, "9f0c6a2e-1b3d-4c5e-8f70-123456789abc");
	strcpy(m->sender, "410000");
	strcpy(m->recipient, "000000");
	strcpy(m->created, "2026-11-28T02:00:00+08:00");
	strcpy(m->kind, "full");
	m->sequence = 42;
	strcpy(m->schema, "tmis-indicators/1");
	f = manifest_add_file(m, &err);
	assert_non_null(f);
	strcpy(f->name, "data/teacher.csv");
	strcpy(f->category, "teacher");
	strcpy(f->format, "csv");
	f->records = 1000000;
	f->bytes = 241118322;
	strcpy(f->sha256, sha_a);
	f = manifest_add_file(m, &err);
	assert_non_null(f);
	strcpy(f->name, "data/training.csv");
	strcpy(f->category, "training");
	strcpy(f->format, "csv");
	f->records = 3125400;
	f->bytes = 1;
	strcpy(f->sha256, sha_b);
}

static void test_round_trip(void **state)
{
	struct manifest m, back;
	struct buf out = BUF_INIT(1 << 20);
	struct tmerr err;
	size_t i;

	(void)state;
	tmerr_clear(&err);
	sample(&m);
	assert_int_equal(manifest_write(&m, &out, &err), 0);
	assert_non_null(strstr(out.ptr, "xmlns=\"urn:tmis:exchange:1\""));
	assert_int_equal(manifest_parse(out.ptr, out.len, &back, &err), 0);
	assert_string_equal(back.id, m.id);
	assert_string_equal(back.sender, "410000");
	assert_string_equal(back.recipient, "000000");
	assert_string_equal(back.created, m.created);
	assert_string_equal(back.kind, "full");
	assert_int_equal(back.sequence, 42);
	assert_string_equal(back.schema, "tmis-indicators/1");
	assert_int_equal(back.nfiles, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(back.files[i].name, m.files[i].name);
		assert_string_equal(back.files[i].category, m.files[i].category);
		assert_string_equal(back.files[i].format, "csv");
		assert_int_equal(back.files[i].records, m.files[i].records);
		assert_int_equal(back.files[i].bytes, m.files[i].bytes);
		assert_string_equal(back.files[i].sha256, m.files[i].sha256);
	}
	assert_int_equal(back.changes_since, -1);
	assert_int_equal(back.ncounts, 0);
	assert_ptr_equal(manifest_find(&back, "data/training.csv"), &back.files[1]);
	assert_null(manifest_find(&back, "data/x.csv"));
	manifest_free(&back);
	manifest_free(&m);
	buf_release(&out);
}

static void test_receipt_and_export(void **state)
{
	struct manifest m, back;
	struct buf out = BUF_INIT(1 << 20);
	struct tmerr err;
	struct mcount *c;

	(void)state;
	sample(&m);
	strcpy(m.kind, "receipt");
	strcpy(m.original_id, "0123abcd-0000");
	strcpy(m.original_sha256, sha_b);
	strcpy(m.outcome, "accepted-with-rejects");
	c = manifest_add_count(&m, &err);
	assert_non_null(c);
	strcpy(c->name, "data/teacher.csv");
	c->received = 10, c->loaded = 8, c->rejected = 2;
	assert_int_equal(manifest_write(&m, &out, &err), 0);
	assert_int_equal(manifest_parse(out.ptr, out.len, &back, &err), 0);
	assert_string_equal(back.original_id, "0123abcd-0000");
	assert_string_equal(back.original_sha256, sha_b);
	assert_string_equal(back.outcome, "accepted-with-rejects");
	assert_int_equal(back.ncounts, 1);
	assert_string_equal(back.counts[0].name, "data/teacher.csv");
	assert_int_equal(back.counts[0].received, 10);
	assert_int_equal(back.counts[0].loaded, 8);
	assert_int_equal(back.counts[0].rejected, 2);
	manifest_free(&back);

	/* the receipt part needs kind receipt */
	strcpy(m.kind, "full");
	buf_reset(&out);
	assert_int_equal(manifest_write(&m, &out, &err), -1);
	assert_string_equal(err.path, "/package/receipt");
	assert_int_equal(out.len, 0);
	manifest_free(&m);

	sample(&m);
	strcpy(m.kind, "export");
	m.changes_since = 5;
	m.changes_upto = 900;
	assert_int_equal(manifest_write(&m, &out, &err), 0);
	assert_int_equal(manifest_parse(out.ptr, out.len, &back, &err), 0);
	assert_int_equal(back.changes_since, 5);
	assert_int_equal(back.changes_upto, 900);
	manifest_free(&back);
	manifest_free(&m);
	buf_release(&out);
}

static void test_hand_written(void **state)
{
	/* another prefix, comments, CDATA, blanks around text: all fine */
	static const char xml[] =
		"<?xml version='1.0'?>\n<!-- by hand -->\n"
		"<x:package xmlns:x='urn:tmis:exchange:1' id='0123abcd' version='1'>"
		"<x:sender org='P00001'/><x:recipient org='000000'/>"
		"<x:created> 2026-01-02T03:04:05.250Z </x:created>"
		"<x:kind><![CDATA[delta]]></x:kind><x:sequence>\n7\n</x:sequence>"
		"<x:schema>tmis-indicators/1</x:schema>"
		"<x:file name='rejects.csv' category='rejects' format='csv' records='0' bytes='0' "
		"sha256='e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'/>"
		"</x:package>";
	struct manifest m;
	struct tmerr err;

	(void)state;
	tmerr_clear(&err);
	assert_int_equal(manifest_parse(xml, strlen(xml), &m, &err), 0);
	assert_string_equal(m.created, "2026-01-02T03:04:05.250Z");
	assert_string_equal(m.kind, "delta");
	assert_int_equal(m.sequence, 7);
	assert_string_equal(m.files[0].name, "rejects.csv");
	manifest_free(&m);
}

static void test_uuid(void **state)
{
	char a[37], b[37];
	struct tmerr err;

	(void)state;
	assert_int_equal(manifest_uuid(a, &err), 0);
	assert_int_equal(manifest_uuid(b, &err), 0);
	assert_int_equal(strlen(a), 36);
	assert_true(manifest_valid_id(a));
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	assert_int_equal(a[8], '-');
	assert_string_not_equal(a, b);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(manifest_valid_name("data/teacher.csv"));
	assert_true(manifest_valid_name("rejects.csv"));
	assert_false(manifest_valid_name("manifest.xml"));
	assert_false(manifest_valid_name("data/"));
	assert_false(manifest_valid_name("data/.."));
	assert_false(manifest_valid_name(".."));
	assert_false(manifest_valid_name("data"));
	assert_false(manifest_valid_name("../x"));
	assert_false(manifest_valid_name("/etc/passwd"));
	assert_false(manifest_valid_name("data/sub/x.csv"));
	assert_false(manifest_valid_name("data/a b.csv"));
	assert_false(manifest_valid_name(""));
	assert_true(manifest_valid_org("41000A"));
	assert_false(manifest_valid_org("41000a"));
	assert_false(manifest_valid_org("4100000"));
	assert_false(manifest_valid_sha256(
		"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
}

/* ---- every error ------------------------------------------------------- */

static const char base[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<package xmlns=\"urn:tmis:exchange:1\" version=\"1\" id=\"9f0c6a2e-0001\">\n"
	"  <sender org=\"410000\"/>\n"
	"  <recipient org=\"000000\"/>\n"
	"  <created>2026-11-28T02:00:00+08:00</created>\n"
	"  <kind>full</kind>\n"
	"  <sequence>42</sequence>\n"
	"  <schema>tmis-indicators/1</schema>\n"
	"  <file name=\"data/teacher.csv\" category=\"teacher\" format=\"csv\" records=\"10\" bytes=\"99\" sha256=\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"/>\n"
	"</package>\n";

struct bad_case {
	const char *from, *to;  /* replace the first from by to in base */
	const char *path;       /* expected err.path, NULL: not checked */
	const char *msg;        /* expected in err.msg */
};

static const struct bad_case cases[] = {
	{ "urn:tmis:exchange:1", "urn:other", "/", "not a package" },
	{ "<package ", "<pkg ", NULL, "malformed XML" },
	{ "version=\"1\"", "version=\"2\"", "/package/@version", "not \"1\"" },
	{ "version=\"1\"", "", "/package/@version", "not \"1\"" },
	{ "id=\"9f0c6a2e-0001\"", "id=\"XYZ\"", "/package/@id", "\"XYZ\"" },
	{ "id=\"9f0c6a2e-0001\"", "id=\"9f0c\"", "/package/@id", NULL },
	{ "id=\"9f0c6a2e-0001\"", "id=\"9f0c6a2e-0001\" extra=\"1\"", "/package", "unknown attribute" },
	{ "org=\"410000\"", "org=\"41000\"", "/package/sender/@org", "organisation code" },
	{ "org=\"000000\"", "org=\"00000a\"", "/package/recipient/@org", NULL },
	{ "<sender org=\"410000\"/>", "", "/package", "lacks its sender" },
	{ "<sender org=\"410000\"/>", "<sender org=\"410000\"/><sender org=\"410000\"/>", "/package/sender", "twice" },
	{ "2026-11-28T02:00:00+08:00", "yesterday", "/package/created", "date" },
	{ "2026-11-28T02:00:00+08:00", "2026-13-28T02:00:00+08:00", "/package/created", NULL },
	{ "2026-11-28T02:00:00+08:00", "2026-11-28T02:00:00", "/package/created", NULL },
	{ "<kind>full</kind>", "<kind>weekly</kind>", "/package/kind", "weekly" },
	{ "<kind>full</kind>", "<kind><b>full</b></kind>", "/package/kind", "text only" },
	{ "<sequence>42</sequence>", "<sequence>0</sequence>", "/package/sequence", "at least 1" },
	{ "<sequence>42</sequence>", "<sequence>-3</sequence>", "/package/sequence", "whole number" },
	{ "<sequence>42</sequence>", "<sequence>99999999999999999999</sequence>", "/package/sequence", NULL },
	{ "<schema>tmis-indicators/1</schema>", "", "/package", "lacks its schema" },
	{ "<schema>tmis-indicators/1</schema>", "<schema>a b</schema>", "/package/schema", NULL },
	{ "<schema>", "<bogus/><schema>", "/package", "unknown element" },
	{ "<schema>", "<o:x xmlns:o=\"urn:o\"/><schema>", "/package", "outside" },
	{ "<schema>", "stray<schema>", "/package", "stray text" },
	{ "data/teacher.csv", "../teacher.csv", "/package/file[1]/@name", "../teacher.csv" },
	{ "data/teacher.csv", "/etc/passwd", "/package/file[1]/@name", NULL },
	{ "data/teacher.csv", "data/a b.csv", "/package/file[1]/@name", NULL },
	{ "data/teacher.csv", "data/sub/t.csv", "/package/file[1]/@name", NULL },
	{ "data/teacher.csv", "manifest.xml", "/package/file[1]/@name", NULL },
	{ "category=\"teacher\"", "category=\"Teacher!\"", "/package/file[1]/@category", NULL },
	{ "format=\"csv\"", "format=\"json\"", "/package/file[1]/@format", "json" },
	{ "records=\"10\"", "records=\"-1\"", "/package/file[1]/@records", "whole number" },
	{ "records=\"10\"", "", "/package/file[1]/@records", "missing" },
	{ "bytes=\"99\"", "bytes=\"9x\"", "/package/file[1]/@bytes", "whole number" },
	{ "sha256=\"ba", "sha256=\"BA", "/package/file[1]/@sha256", "lowercase hex" },
	{ "015ad\"", "015a\"", "/package/file[1]/@sha256", NULL },
	{ "015ad\"/>", "015ad\" mode=\"x\"/>", "/package/file[1]", "unknown attribute" },
	{ "015ad\"/>", "015ad\">text</file>", "/package/file[1]", "empty" },
	{ "</package>", "<file name=\"data/teacher.csv\" category=\"teacher\" format=\"csv\" records=\"1\" bytes=\"1\" sha256=\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"/></package>",
	  "/package/file[2]/@name", "twice" },
	{ "</package>", "<receipt of=\"0123abcd\" sha256=\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\" outcome=\"accepted\"/></package>",
	  "/package/receipt", "only allowed in a receipt" },
	{ "<kind>full</kind>", "<kind>receipt</kind>", "/package", "lacks its receipt" },
	{ "</package>", "<changes since=\"1\" upto=\"2\"/></package>", "/package/changes", "export" },
	{ "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
	  "<?xml version=\"1.0\"?><!DOCTYPE package [<!ENTITY a \"aaaa\">]>", "/", "DOCTYPE" },
	{ "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
	  "<?xml version=\"1.0\"?><!DOCTYPE package SYSTEM \"http://example.com/x.dtd\">", "/", "DOCTYPE" },
	{ "<kind>full</kind>", "<kind>&ext;</kind>", NULL, "malformed XML" },
	{ "</package>", "</package><trailing/>", NULL, "malformed XML" },
	{ "</package>\n", "", NULL, "malformed XML" },
};

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *out;

	assert_non_null(p);
	out = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, s, (size_t)(p - s));
	strcpy(out + (p - s), to);
	strcat(out, p + strlen(from));
	return out;
}

static void test_every_error(void **state)
{
	struct manifest m;
	struct tmerr err;
	size_t i;

	(void)state;
	tmerr_clear(&err);
	assert_int_equal(manifest_parse(base, strlen(base), &m, &err), 0);
	manifest_free(&m);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *xml = replace(base, cases[i].from, cases[i].to);
		int r;

		tmerr_clear(&err);
		r = manifest_parse(xml, strlen(xml), &m, &err);
		if (r != -1 ||
		    (cases[i].path && strcmp(err.path, cases[i].path)) ||
		    (cases[i].msg && !strstr(err.msg, cases[i].msg)) ||
		    strncmp(err.msg, "manifest: ", 10))
			fail_msg("case %zu (%s -> %s): rc %d, path \"%s\", msg \"%s\"",
				 i, cases[i].from, cases[i].to, r, err.path, err.msg);
		assert_int_equal(m.nfiles, 0);
		assert_null(m.files);
		free(xml);
	}
}

static void test_limits(void **state)
{
	struct manifest m;
	struct tmerr err;
	struct buf x = BUF_INIT(4 << 20);
	size_t i;
	char *big;

	(void)state;
	/* more than 1 MiB */
	big = malloc(MANIFEST_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', MANIFEST_MAX_BYTES + 1);
	assert_int_equal(manifest_parse(big, MANIFEST_MAX_BYTES + 1, &m, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	free(big);

	/* NUL bytes (UTF-16 and the like) */
	assert_int_equal(manifest_parse("<\0p\0", 4, &m, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));

	/* 1001 files */
	buf_add(&x, base, strstr(base, "  <file") - base);
	for (i = 0; i <= MANIFEST_MAX_FILES; i++)
		buf_addf(&x, "<file name=\"data/f%zu.csv\" category=\"t\" format=\"csv\" records=\"1\" bytes=\"1\" sha256=\"%s\"/>\n",
			 i, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	buf_addstr(&x, "</package>\n");
	tmerr_clear(&err);
	assert_int_equal(manifest_parse(x.ptr, x.len, &m, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	assert_string_equal(err.path, "/package/file[1001]");
	buf_release(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_receipt_and_export),
		cmocka_unit_test(test_hand_written),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
