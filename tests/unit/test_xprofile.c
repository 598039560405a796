/*
 * test_xprofile: export profiles on the real mappings directory: the two
 * example profiles, every parse error (naming file and line), the export
 * header, and the row masker (masks, NULLs, quoting, the pseudonymous key,
 * malformed rows).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../etl/xprofile.h"

#define MAPPINGS TMISGW_DATADIR "/mappings"

static int setup(void **state)
{
	struct defs *d;
	struct tmerr err;

	tmerr_clear(&err);
	if (defs_load(&d, MAPPINGS, &err)) {
		fprintf(stderr, "defs_load: %s:%ld: %s\n", err.file, err.line,
			err.msg);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	defs_free(*state);
	return 0;
}

static int field_on(const struct xprofile_cat *pc, const char *name)
{
	int f = category_field(pc->cat, name);

	return f >= 0 && pc->on[f];
}

static int field_mask(const struct xprofile_cat *pc, const char *name)
{
	int f = category_field(pc->cat, name);

	return f >= 0 ? pc->mask[f] : -1;
}

static void example_p00001(void **state)
{
	const struct defs *d = *state;
	const struct xprofile_cat *t, *q;
	struct xprofile p;
	struct tmerr err;

	tmerr_clear(&err);
	assert_int_equal(xprofile_load(&p, d, "P00001", &err), 0);
	assert_string_equal(p.platform, "P00001");
	assert_non_null(strstr(p.name, "qualification"));
	assert_int_equal(p.ncats, 2);
	t = xprofile_cat(&p, "teacher");
	q = xprofile_cat(&p, "qualification");
	assert_non_null(t);
	assert_non_null(q);
	assert_null(xprofile_cat(&p, "training"));
	assert_true(field_on(t, "id_number"));
	assert_true(field_on(t, "name"));
	assert_false(field_on(t, "phone"));
	assert_false(field_on(t, "email"));
	assert_int_equal(field_mask(t, "id_number"), XMASK_ID);
	assert_int_equal(field_mask(q, "id_number"), XMASK_ID);
	assert_int_equal(field_mask(t, "birth_date"), XMASK_GENERIC);
	for (size_t i = 0; i < q->cat->nfields; i++)
		assert_true(q->on[i]);
	assert_true(p.pseudonym);
	assert_int_equal(p.nprovs, 0);
	assert_int_equal(p.nsets, 0);
	xprofile_free(&p);
}

static void example_p00002(void **state)
{
	const struct defs *d = *state;
	const struct xprofile_cat *t;
	struct xprofile p;
	struct tmerr err;
	size_t on = 0;

	tmerr_clear(&err);
	assert_int_equal(xprofile_load(&p, d, "P00002", &err), 0);
	assert_int_equal(p.ncats, 2);
	t = xprofile_cat(&p, "teacher");
	for (size_t i = 0; i < t->cat->nfields; i++)
		on += t->on[i];
	assert_int_equal(on, 4);
	assert_true(field_on(t, "school_code"));
	assert_non_null(xprofile_cat(&p, "training"));
	assert_int_equal(p.nprovs, 1);
	assert_string_equal(p.provs[0], "41");
	assert_true(p.pseudonym);
	xprofile_free(&p);
}

static void load_errors(void **state)
{
	const struct defs *d = *state;
	struct xprofile p;
	struct tmerr err;

	tmerr_clear(&err);
	assert_int_equal(xprofile_load(&p, d, "P99999", &err), -1);
	assert_int_equal(err.code, TMERR_USAGE);
	assert_non_null(strstr(err.msg, "no export profile for \"P99999\""));
	tmerr_clear(&err);
	assert_int_equal(xprofile_load(&p, d, "../x", &err), -1);
	assert_int_equal(err.code, TMERR_USAGE);
}

static void good_variants(void **state)
{
	const struct defs *d = *state;
	static const char text[] =
		"# comment\r\n"
		"\n"
		"platform P00009   # trailing comment\n"
		"name  A   platform\n"
		"category training id_type id_number project start_date hours\n"
		"category teacher id_type id_number phone email\n"
		"mask teacher.phone phone\n"
		"mask teacher.email generic\n"
		"scope province 41 42\n"
		"scope indicator_set k12 kindergarten\n";
	struct xprofile p;
	struct tmerr err;
	const struct xprofile_cat *t;

	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "x.profile", text, strlen(text),
					&err), 0);
	assert_string_equal(p.name, "A platform");
	/* defs order, not file order */
	assert_string_equal(p.cats[0].cat->name, "teacher");
	assert_string_equal(p.cats[1].cat->name, "training");
	t = xprofile_cat(&p, "teacher");
	assert_int_equal(field_mask(t, "phone"), XMASK_PHONE);
	assert_false(p.pseudonym);
	assert_int_equal(p.nprovs, 2);
	assert_int_equal(p.nsets, 2);
	assert_string_equal(p.sets[1], "kindergarten");
	xprofile_free(&p);
}

struct bad {
	const char *text;
	long line;
	const char *msg;
};

static void parse_errors(void **state)
{
	const struct defs *d = *state;
	static const char hdr[] = "platform P00001\n";
	static const struct bad cases[] = {
		{ "frob x\n", 2, "unknown directive \"frob\"" },
		{ "platform P00002\n", 2, "\"platform\" is given twice" },
		{ "name a\nname b\n", 3, "\"name\" is given twice" },
		{ "name\n", 2, "\"name\" needs a text" },
		{ "category nope id_type\n", 2, "unknown category \"nope\"" },
		{ "category teacher\n", 2, "lists no fields" },
		{ "category teacher *\ncategory teacher *\n", 3,
		  "category \"teacher\" is given twice" },
		{ "category teacher id_type id_number shoe_size\n", 2,
		  "category \"teacher\" has no field \"shoe_size\"" },
		{ "category teacher id_type id_number name name\n", 2,
		  "field \"teacher.name\" is given twice" },
		{ "category teacher id_type name\n", 2,
		  "lacks its key field \"id_number\"" },
		{ "category training id_type id_number project\n", 2,
		  "lacks its key field \"start_date\"" },
		{ "category teacher * name\n", 2, "\"*\" must be the only field" },
		{ "category teacher *\nmask teacher.phone hide\n", 3,
		  "unknown mask \"hide\"" },
		{ "category teacher *\nmask teacher.phone\n", 3,
		  "want \"mask CATEGORY.FIELD" },
		{ "category teacher *\nmask phone id\n", 3,
		  "want \"mask CATEGORY.FIELD" },
		{ "category teacher id_type id_number\nmask teacher.phone phone\n", 3,
		  "\"teacher.phone\" is not exported" },
		{ "category teacher *\nmask training.id_number id\n", 3,
		  "category \"training\" is not exported" },
		{ "category qualification *\nmask qualification.certificate_no generic\n", 3,
		  "key field \"qualification.certificate_no\" cannot be masked" },
		{ "category teacher *\nmask teacher.phone phone\nmask teacher.phone generic\n", 4,
		  "masked twice" },
		{ "category teacher *\nmask *.shoe_size generic\n", 3,
		  "no exported category has a field \"shoe_size\"" },
		{ "category teacher *\nscope province 4\n", 3, "bad province \"4\"" },
		{ "category teacher *\nscope province 41 41\n", 3,
		  "province \"41\" is given twice" },
		{ "category teacher *\nscope province 41\nscope all\n", 4,
		  "the province scope is given twice" },
		{ "category teacher *\nscope indicator_set nursery\n", 3,
		  "unknown indicator set \"nursery\"" },
		{ "category teacher *\nscope indicator_set k12\nscope indicator_set k12\n", 4,
		  "the indicator_set scope is given twice" },
		{ "category teacher *\nscope everything\n", 3, "want \"scope all\"" },
		{ "", 1, "no \"category\" line" },
		{ "category teacher *\ncategory training *\nmask teacher.id_number id\n", 3,
		  "id_number is masked in some categories but not in \"training\"" },
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xprofile p;
		struct tmerr err;

		snprintf(text, sizeof(text), "%s%s", hdr, cases[i].text);
		tmerr_clear(&err);
		if (xprofile_parse(&p, d, "bad.profile", text, strlen(text), &err) != -1 ||
		    err.line != cases[i].line || !strstr(err.msg, cases[i].msg) ||
		    strcmp(err.file, "bad.profile") || err.code != TMERR_MAPPING)
			fail_msg("case %zu: got line %ld code %d \"%s\", want line %ld \"%s\"",
				 i, err.line, err.code, err.msg, cases[i].line,
				 cases[i].msg);
	}
}

static void parse_errors_whole(void **state)
{
	const struct defs *d = *state;
	struct xprofile p;
	struct tmerr err;
	char *big;

	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "np.profile", "category teacher *\n",
					19, &err), -1);
	assert_non_null(strstr(err.msg, "no \"platform\" line"));
	assert_string_equal(err.file, "np.profile");
	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "bp.profile", "platform p1\n", 12,
					&err), -1);
	assert_non_null(strstr(err.msg, "want \"platform ORG\""));
	assert_int_equal(err.line, 1);
	big = malloc(XPROFILE_MAX_LINE + 100);
	assert_non_null(big);
	memset(big, 'a', XPROFILE_MAX_LINE + 99);
	big[XPROFILE_MAX_LINE + 99] = '\n';
	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "long.profile", big,
					XPROFILE_MAX_LINE + 100, &err), -1);
	assert_non_null(strstr(err.msg, "line is longer than"));
	assert_int_equal(err.line, 1);
	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "huge.profile", big,
					XPROFILE_MAX_BYTES + 1, &err), -1);
	assert_int_equal(err.code, TMERR_LIMIT);
	free(big);
}

static const unsigned char secret[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static void header_and_rows(void **state)
{
	const struct defs *d = *state;
	static const char text[] =
		"platform P00003\n"
		"category teacher id_type id_number name phone\n"
		"mask *.id_number id\n"
		"mask teacher.phone phone\n"
		"mask teacher.name name\n";
	const struct xprofile_cat *t;
	struct buf out = BUF_INIT(1 << 20);
	struct xprofile p;
	struct tmerr err;
	char ref[33], ref2[33], want[256];

	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "x", text, strlen(text), &err), 0);
	t = xprofile_cat(&p, "teacher");
	assert_int_equal(xprofile_header(&p, t, &out), 0);
	assert_string_equal(out.ptr, "teacher_ref,id_type,id_number,name,phone,op\n");

	buf_reset(&out);
	{
		static const char row[] = "1,410105199001010493,张三丰,13812345678,upsert\n";

		assert_int_equal(xprofile_row(&p, t, secret, row, strlen(row),
					      &out, &err), 0);
	}
	xprofile_ref(secret, "P00003", "1", 1, "410105199001010493", 18, ref);
	assert_int_equal(strlen(ref), 32);
	snprintf(want, sizeof(want),
		 "%s,1,410105********0493,张**,138****5678,upsert\n", ref);
	assert_string_equal(out.ptr, want);
	assert_null(strstr(out.ptr, "410105199001010493"));

	/* NULLs stay NULL, a delete keeps its key (masked) */
	buf_reset(&out);
	assert_int_equal(xprofile_row(&p, t, secret,
				      "1,410105199001010493,,,delete", 29, &out,
				      &err), 0);
	snprintf(want, sizeof(want), "%s,1,410105********0493,,,delete\n", ref);
	assert_string_equal(out.ptr, want);

	/* the reference depends on the platform, the type and the secret */
	xprofile_ref(secret, "P00004", "1", 1, "410105199001010493", 18, ref2);
	assert_string_not_equal(ref, ref2);
	xprofile_ref(secret, "P00003", "Z", 1, "410105199001010493", 18, ref2);
	assert_string_not_equal(ref, ref2);
	{
		unsigned char other[32] = { 9 };

		xprofile_ref(other, "P00003", "1", 1, "410105199001010493", 18, ref2);
		assert_string_not_equal(ref, ref2);
	}

	/* malformed rows: the error quotes no value */
	buf_reset(&out);
	assert_int_equal(xprofile_row(&p, t, secret, "1,410105199001010493,upsert",
				      27, &out, &err), -1);
	assert_null(strstr(err.msg, "4101"));
	assert_int_equal(xprofile_row(&p, t, secret,
				      "1,\"410105199001010493,a,b,upsert", 32, &out,
				      &err), -1);
	assert_int_equal(xprofile_row(&p, t, secret, "1,4\"1,a,b,upsert", 16,
				      &out, &err), -1);
	/* a row past the output's cap is an error, never a cut row */
	{
		struct buf small = BUF_INIT(70);

		assert_int_equal(xprofile_row(&p, t, secret,
					      "1,410105199001010493,,,upsert", 29,
					      &small, &err), 0);
		buf_reset(&small);
		assert_int_equal(xprofile_row(&p, t, secret,
					      "1,410105199001010493,张三丰,13812345678,upsert",
					      strlen("1,410105199001010493,张三丰,13812345678,upsert"),
					      &small, &err), -1);
		assert_int_equal(err.code, TMERR_LIMIT);
		buf_release(&small);
	}
	buf_release(&out);
	xprofile_free(&p);
}

static void quoting(void **state)
{
	const struct defs *d = *state;
	static const char text[] =
		"platform P00003\n"
		"category training id_type id_number project start_date provider\n";
	static const char row[] =
		"1,410105199001010493,\"Reading, \"\"deep\"\"\",2024-03-01,\"\"\n";
	const struct xprofile_cat *t;
	struct buf out = BUF_INIT(1 << 20);
	struct xprofile p;
	struct tmerr err;

	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "x", text, strlen(text), &err), 0);
	t = xprofile_cat(&p, "training");
	assert_false(p.pseudonym);
	/* the row lacks its op: malformed */
	assert_int_equal(xprofile_row(&p, t, secret, row, strlen(row), &out, &err), -1);
	buf_reset(&out);
	{
		static const char row2[] =
			"1,410105199001010493,\"Reading, \"\"deep\"\"\",2024-03-01,\"\",upsert\n";

		assert_int_equal(xprofile_row(&p, t, secret, row2, strlen(row2),
					      &out, &err), 0);
		/* nothing masked: the row as COPY wrote it */
		assert_string_equal(out.ptr, row2);
	}
	buf_release(&out);
	xprofile_free(&p);
}

static void masked_quoting(void **state)
{
	const struct defs *d = *state;
	static const char text[] =
		"platform P00003\n"
		"category training id_type id_number project start_date provider\n"
		"mask *.id_number id\n"
		"mask training.provider generic\n";
	static const char row[] =
		"1,410105199001010493,x,2024-03-01,\"a,b@c.cn\",upsert\n";
	const struct xprofile_cat *t;
	struct buf out = BUF_INIT(1 << 20);
	struct xprofile p;
	struct tmerr err;

	tmerr_clear(&err);
	assert_int_equal(xprofile_parse(&p, d, "x", text, strlen(text), &err), 0);
	t = xprofile_cat(&p, "training");
	assert_int_equal(xprofile_row(&p, t, secret, row, strlen(row), &out, &err), 0);
	assert_non_null(strstr(out.ptr, ",1,410105********0493,x,2024-03-01,"));
	assert_null(strstr(out.ptr, "a,b@"));
	assert_non_null(strstr(out.ptr, ",upsert\n"));
	buf_release(&out);
	xprofile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(example_p00001, setup, teardown),
		cmocka_unit_test_setup_teardown(example_p00002, setup, teardown),
		cmocka_unit_test_setup_teardown(load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(good_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(parse_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(parse_errors_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(header_and_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(masked_quoting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
