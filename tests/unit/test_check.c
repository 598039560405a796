/*
 * test_check: row_check on canonical teacher, training, qualification and
 * teaching rows made by the canonical mappings from a fake record, with
 * "today" fixed at 2025-06-15. Each test owns a fixture (definitions,
 * mapping, row, the record's copies of its values) that teardown frees.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../etl/check.h"
#include "../../etl/defs.h"
#include "../../etl/mapping.h"

#define MAXCOLS 32

/* Valid GB 11643 numbers: male born 1980-03-13, female born 1985-07-04. */
#define ID_M "410105198003130119"
#define ID_F "410105198507040221"

struct fx {
	struct defs *d;
	struct mapping *m;
	struct row row;
	int have_row;
	struct checker ck;
	struct tmerr err;
	size_t n;
	char *names[MAXCOLS];
	char *vals[MAXCOLS];
	size_t lens[MAXCOLS];
	struct record rec;
	char vbuf[1024];
};

static const struct ymd today = { 2025, 6, 15 };

static void clear_rec(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->names[i]);
		free(f->vals[i]);
	}
	f->n = 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tmerr err;

	if (!f)
		return -1;
	tmerr_clear(&err);
	if (defs_load(&f->d, TMISGW_DATADIR "/mappings", &err)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->have_row)
		row_release(&f->row);
	mapping_free(f->m);
	clear_rec(f);
	defs_free(f->d);
	free(f);
	return 0;
}

/*
 * Map and check one canonical row of category cat given as "field=value"
 * strings (NULL-terminated). Returns row_check's result; a mapping reject
 * fails the test.
 */
static int run(struct fx *f, const char *cat, const char *const *kv)
{
	char path[512];
	int rc;

	if (!f->m || strcmp(f->m->cat->name, cat)) {
		if (f->have_row)
			row_release(&f->row);
		f->have_row = 0;
		mapping_free(f->m);
		f->m = NULL;
		snprintf(path, sizeof(path), "%s/mappings/canonical/%s.map",
			 TMISGW_DATADIR, cat);
		tmerr_clear(&f->err);
		if (mapping_load(&f->m, path, f->d, &f->err))
			fail_msg("mapping_load: %s", f->err.msg);
		assert_int_equal(row_init(&f->row, f->m->cat), 0);
		f->have_row = 1;
		assert_int_equal(checker_init(&f->ck, f->d, f->m->cat, &today), 0);
	}
	clear_rec(f);
	for (; *kv; kv++) {
		const char *eq = strchr(*kv, '=');

		assert_non_null(eq);
		assert_true(f->n < MAXCOLS);
		f->names[f->n] = strndup(*kv, (size_t)(eq - *kv));
		f->vals[f->n] = strdup(eq + 1);
		assert_non_null(f->names[f->n]);
		assert_non_null(f->vals[f->n]);
		f->lens[f->n] = strlen(eq + 1);
		f->n++;
	}
	f->rec.line = 2;
	f->rec.nfields = f->n;
	f->rec.names = (const char *const *)f->names;
	f->rec.vals = (const char *const *)f->vals;
	f->rec.lens = f->lens;
	tmerr_clear(&f->err);
	if (mapping_bind(f->m, f->rec.names, f->n, "in.csv", &f->err))
		fail_msg("mapping_bind: %s", f->err.msg);
	rc = row_map(&f->row, f->m, &f->rec, &f->err);
	if (rc)
		fail_msg("row_map rejected: %s (%s)", f->err.msg, f->err.rule);
	tmerr_clear(&f->err);
	return row_check(&f->ck, &f->row, &f->err);
}

static void ok_row(struct fx *f, const char *cat, const char *const *kv)
{
	if (run(f, cat, kv))
		fail_msg("rejected: field %s rule %s: %s (value \"%s\")",
			 f->err.field, f->err.rule, f->err.msg, f->err.value);
}

/* The row is rejected on field by rule; err.value is value. */
static void rej(struct fx *f, const char *cat, const char *const *kv,
		const char *field, const char *rule, const char *value)
{
	if (!run(f, cat, kv))
		fail_msg("accepted, expected %s on %s", rule, field);
	assert_int_equal(f->err.code, TMERR_INPUT);
	if (strcmp(f->err.field, field) || strcmp(f->err.rule, rule))
		fail_msg("got field %s rule %s (%s), expected %s %s",
			 f->err.field, f->err.rule, f->err.msg, field, rule);
	assert_true(f->err.msg[0] >= 'a' && f->err.msg[0] <= 'z');
	if (value)
		assert_string_equal(f->err.value, value);
}

static const char *val(struct fx *f, const char *name)
{
	int i = category_field(f->m->cat, name);

	assert_true(i >= 0);
	if (!f->row.supplied[i])
		return "<not supplied>";
	snprintf(f->vbuf, sizeof(f->vbuf), "%.*s", (int)f->row.len[i],
		 f->row.val[i]);
	return f->vbuf;
}

/* A complete, valid k12 teacher; T(...) overrides or adds fields. */
#define TEACHER_BASE                                                   \
	"id_type=1", "id_number=" ID_M, "name=张伟", "gender=1",         \
	"birth_date=1980-03-13", "nationality=156", "ethnicity=01",      \
	"political_status=13", "native_place=410105",                   \
	"school_code=2141010001", "indicator_set=k12",                  \
	"work_start_month=2002-09", "school_join_month=2003-09",         \
	"staff_source=01", "staff_category=01", "on_establishment=true", \
	"status=01", "phone=13800000011", "email=t11@school.cn"

/* Build a teacher row: base fields, with each override replacing the
 * base field of the same name. */
static int teacher(struct fx *f, const char *const *over)
{
	static const char *const base[] = { TEACHER_BASE, NULL };
	const char *kv[64];
	size_t n = 0;

	for (size_t i = 0; base[i]; i++) {
		size_t len = strchr(base[i], '=') - base[i];
		int replaced = 0;

		for (size_t j = 0; over[j]; j++)
			if (!strncmp(over[j], base[i], len + 1))
				replaced = 1;
		if (!replaced)
			kv[n++] = base[i];
	}
	for (size_t j = 0; over[j]; j++)
		kv[n++] = over[j];
	kv[n] = NULL;
	return run(f, "teacher", kv);
}

static void teacher_rej(struct fx *f, const char *field, const char *rule,
			const char *value, const char *const *over)
{
	if (!teacher(f, over))
		fail_msg("accepted, expected %s on %s", rule, field);
	if (strcmp(f->err.field, field) || strcmp(f->err.rule, rule))
		fail_msg("got %s/%s (%s), expected %s/%s", f->err.field,
			 f->err.rule, f->err.msg, field, rule);
	if (value)
		assert_string_equal(f->err.value, value);
	assert_true(f->err.msg[0] >= 'a' && f->err.msg[0] <= 'z');
}

/* TEACHER_REJ(f, field, rule, masked value or NULL, "field=value"...) */
#define TEACHER_REJ(f, fd_, rl_, vl_, ...)                              \
	do {                                                            \
		static const char *const o_[] = { __VA_ARGS__, NULL };  \
		teacher_rej(f, fd_, rl_, vl_, o_);                      \
	} while (0)

#define TEACHER_OK(f, ...)                                               \
	do {                                                             \
		static const char *const o_[] = { __VA_ARGS__, NULL };   \
		if (teacher(f, o_))                                      \
			fail_msg("rejected: %s/%s: %s", (f)->err.field,  \
				 (f)->err.rule, (f)->err.msg);           \
	} while (0)

/* ---- teacher ------------------------------------------------------------ */

static void t_teacher_valid(void **state)
{
	struct fx *f = *state;
	static const char *const none[] = { NULL };
	static const char *const keys_only[] = { "id_type=1", "id_number=" ID_F, NULL };

	assert_int_equal(teacher(f, none), 0);
	assert_string_equal(val(f, "on_establishment"), "t");
	assert_int_equal(f->row.len[category_field(f->m->cat, "on_establishment")], 1);
	assert_string_equal(val(f, "name"), "张伟");
	/* a row of only the key: everything else is not supplied */
	ok_row(f, "teacher", keys_only);
	assert_string_equal(val(f, "name"), "<not supplied>");
	/* lower-case x is upper-cased by the canonical mapping */
	TEACHER_OK(f, "id_number=41010219830722924x", "birth_date=1983-07-22",
		   "gender=2");
	assert_string_equal(val(f, "id_number"), "41010219830722924X");
	/* other id types: any plausible length */
	TEACHER_OK(f, "id_type=A", "id_number=E12345678", "birth_date=1990-01-01");
	/* optional fields empty */
	TEACHER_OK(f, "former_name=", "phone=", "email=", "marital_status=");
	/* same month for join and start is fine */
	TEACHER_OK(f, "school_join_month=2002-09");
	/* today itself is not in the future */
	TEACHER_OK(f, "school_join_month=2025-06");
}

static void t_booleans(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "true", "t" }, { "TRUE", "t" }, { "1", "t" }, { "t", "t" },
		{ "yes", "t" },	 { "Y", "t" },	  { "false", "f" }, { "False", "f" },
		{ "0", "f" },	 { "f", "f" },	  { "no", "f" },    { "N", "f" },
	};
	char kv[3][64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *o[4] = { kv[0], kv[1], kv[2], NULL };

		snprintf(kv[0], sizeof(kv[0]), "on_establishment=%s", cases[i].in);
		snprintf(kv[1], sizeof(kv[1]), "free_normal_student=%s", cases[i].in);
		snprintf(kv[2], sizeof(kv[2]), "special_grade_teacher=%s", cases[i].in);
		if (teacher(f, o))
			fail_msg("\"%s\" rejected: %s", cases[i].in, f->err.msg);
		assert_string_equal(val(f, "on_establishment"), cases[i].out);
		assert_string_equal(val(f, "free_normal_student"), cases[i].out);
		assert_string_equal(val(f, "special_grade_teacher"), cases[i].out);
	}
	TEACHER_REJ(f, "on_establishment", "bool", "maybe", "on_establishment=maybe");
	TEACHER_REJ(f, "free_normal_student", "bool", "2", "free_normal_student=2");
	TEACHER_REJ(f, "special_grade_teacher", "bool", "tru", "special_grade_teacher=tru");
}

static void t_required(void **state)
{
	struct fx *f = *state;

	TEACHER_REJ(f, "name", "required", "", "name=");
	TEACHER_REJ(f, "gender", "required", "", "gender=");
	TEACHER_REJ(f, "school_code", "required", "", "school_code=");
	/* the key is always required */
	TEACHER_REJ(f, "id_number", "required", "", "id_number=");
	TEACHER_REJ(f, "id_type", "required", "", "id_type=");
	/* not required in any set */
	TEACHER_OK(f, "former_name=");
}

static void t_codes(void **state)
{
	struct fx *f = *state;

	TEACHER_REJ(f, "gender", "code", "3", "gender=3");
	TEACHER_REJ(f, "gender", "code", "男", "gender=男");
	TEACHER_REJ(f, "ethnicity", "code", "1", "ethnicity=1");
	TEACHER_REJ(f, "native_place", "code", "990105", "native_place=990105");
	TEACHER_REJ(f, "id_type", "code", "C", "id_type=C");
	TEACHER_REJ(f, "indicator_set", "code", "nursery", "indicator_set=nursery");
	TEACHER_OK(f, "native_place=110105", "ethnicity=98", "gender=9");
}

static void t_dates(void **state)
{
	struct fx *f = *state;

	/* birth dates are personal: the value is masked */
	TEACHER_REJ(f, "birth_date", "date", "***", "birth_date=1980-02-30");
	TEACHER_REJ(f, "birth_date", "date", "***", "birth_date=19800313");
	TEACHER_REJ(f, "birth_date", "date", "***", "birth_date=0000-00-00");
	TEACHER_REJ(f, "work_start_month", "month", "2002-13", "work_start_month=2002-13");
	TEACHER_REJ(f, "work_start_month", "month", "2002-9", "work_start_month=2002-9");
	TEACHER_REJ(f, "work_start_month", "month", "2002-09-01", "work_start_month=2002-09-01");
	TEACHER_REJ(f, "work_start_month", "future", "2025-07", "work_start_month=2025-07",
		    "school_join_month=2025-08");
	TEACHER_REJ(f, "school_join_month", "end_before_start", "2002-08",
		    "school_join_month=2002-08");
}

static void t_identity(void **state)
{
	struct fx *f = *state;

	TEACHER_REJ(f, "id_number", "id_length", NULL, "id_number=41010519800313011");
	TEACHER_REJ(f, "id_number", "id_length", NULL, "id_number=4101051980031301190");
	TEACHER_REJ(f, "id_number", "id_length", NULL, "id_number=41010519800313O119");
	TEACHER_REJ(f, "id_number", "id_division", "990105********0111",
		    "id_number=990105198003130111");
	TEACHER_REJ(f, "id_number", "id_birth_date", "410105********0112",
		    "id_number=410105198002300112");
	/* born in the future (2030) */
	{
		static const char *const kv[] = {
			"id_type=1", "id_number=410105203001010117", NULL
		};

		rej(f, "teacher", kv, "id_number", "id_birth_date",
		    "410105********0117");
	}
	TEACHER_REJ(f, "id_number", "id_checksum", "410105********0118",
		    "id_number=410105198003130118");
	TEACHER_REJ(f, "birth_date", "birth_mismatch", "***", "birth_date=1980-03-14");
	TEACHER_REJ(f, "gender", "gender_mismatch", "2", "gender=2");
	TEACHER_REJ(f, "gender", "gender_mismatch", "1", "id_number=" ID_F,
		    "birth_date=1985-07-04");
	/* unknown and unstated genders do not contradict the number */
	TEACHER_OK(f, "gender=0");
	TEACHER_OK(f, "gender=9");
	/* other id types are only checked for a plausible length */
	TEACHER_REJ(f, "id_number", "id_length", NULL, "id_type=A", "id_number=E12");
}

static void t_formats(void **state)
{
	struct fx *f = *state;

	TEACHER_REJ(f, "school_code", "school_code", "2199010001", "school_code=2199010001");
	TEACHER_REJ(f, "school_code", "school_code", "214101000", "school_code=214101000");
	TEACHER_REJ(f, "phone", "phone", NULL, "phone=12345");
	TEACHER_REJ(f, "phone", "phone", NULL, "phone=23800000011");
	TEACHER_REJ(f, "email", "email", NULL, "email=a@b");
	TEACHER_REJ(f, "email", "email", NULL, "email=no-at-sign.cn");
	TEACHER_OK(f, "phone=0371-12345678", "email=a.b@x.edu.cn");
	TEACHER_REJ(f, "name", "too_long", NULL,
		    "name=张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张");
	/* 100 characters (300 bytes) fit */
	TEACHER_OK(f, "name=张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张张");
}

/* No personal value of a rejected row appears in clear. */
static void t_masking(void **state)
{
	struct fx *f = *state;

	TEACHER_REJ(f, "id_number", "id_checksum", NULL, "id_number=410105198003130118");
	assert_null(strstr(f->err.value, "410105198003130118"));
	assert_null(strstr(f->err.msg, "410105198003130118"));
	assert_null(strstr(f->err.value, "19800313"));
	TEACHER_REJ(f, "id_number", "id_length", NULL, "id_number=4101051980031301");
	assert_null(strstr(f->err.value, "4101051980031301"));
	assert_null(strstr(f->err.value, "198003"));
	TEACHER_REJ(f, "phone", "phone", NULL, "phone=138000000111");
	assert_null(strstr(f->err.value, "138000000111"));
	assert_null(strstr(f->err.msg, "138000000111"));
	TEACHER_REJ(f, "email", "email", NULL, "email=zhangwei@@x.cn");
	assert_null(strstr(f->err.value, "zhangwei"));
	TEACHER_REJ(f, "birth_date", "birth_mismatch", NULL, "birth_date=1980-03-14");
	assert_null(strstr(f->err.value, "1980"));
	TEACHER_REJ(f, "name", "too_long", NULL,
		    "name=王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王王");
	assert_null(strstr(f->err.value, "王王"));
	/* a non-personal value is shown as it is */
	TEACHER_REJ(f, "school_code", "school_code", "2199010001", "school_code=2199010001");
}

/* ---- other categories --------------------------------------------------- */

static void t_training(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {
		"id_type=1", "id_number=" ID_M, "project=国培计划2024",
		"start_date=2024-07-01", "end_date=2024-07-10", "kind=1",
		"hours=40", "credits=4.5", "provider=河南师范大学", NULL
	};
	static const char *const planned[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2025-06-01", "end_date=2026-01-31", NULL
	};
	static const char *const future[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2025-06-16", NULL
	};
	static const char *const before[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2024-10-01", "end_date=2024-09-30", NULL
	};
	static const char *const neg[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2024-10-01", "hours=-5", NULL
	};
	static const char *const word[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2024-10-01", "credits=ten", NULL
	};
	static const char *const big[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2024-10-01", "hours=2000.5", NULL
	};
	static const char *const kind[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2024-10-01", "kind=99", NULL
	};
	static const char *const nokey[] = {
		"id_type=1", "id_number=" ID_M, "project=",
		"start_date=2024-10-01", NULL
	};
	static const char *const longer[] = {
		"id_type=1", "id_number=" ID_M, "project=P",
		"start_date=2024-10-01",
		"provider=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", NULL
	};
	static const char *const badid[] = {
		"id_type=1", "id_number=410105198003130118", "project=P",
		"start_date=2024-10-01", NULL
	};

	ok_row(f, "training", good);
	assert_string_equal(val(f, "hours"), "40");
	assert_string_equal(val(f, "credits"), "4.5");
	/* end_date may lie in the future (planned) */
	ok_row(f, "training", planned);
	rej(f, "training", future, "start_date", "future", "2025-06-16");
	rej(f, "training", before, "end_date", "end_before_start", "2024-09-30");
	rej(f, "training", neg, "hours", "number", "-5");
	rej(f, "training", word, "credits", "number", "ten");
	rej(f, "training", big, "hours", "range", "2000.5");
	rej(f, "training", kind, "kind", "code", "99");
	rej(f, "training", nokey, "project", "required", "");
	rej(f, "training", longer, "provider", "too_long", NULL);
	assert_true(strlen(f->err.value) < sizeof(f->err.value));
	rej(f, "training", badid, "id_number", "id_checksum", "410105********0118");
}

static void t_qualification(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {
		"id_type=1", "id_number=" ID_M, "qualification_type=3",
		"certificate_no=20104100131000001", "subject=数学",
		"issue_date=2010-06-30", "issuer=郑州市教育局", NULL
	};
	static const char *const padded[] = {
		"id_type=1", "id_number=" ID_M, "qualification_type=3",
		"certificate_no=20104100131000001", NULL
	};
	static const char *const short_no[] = {
		"id_type=1", "id_number=" ID_M, "qualification_type=3",
		"certificate_no=2010410013100000", NULL
	};
	static const char *const province[] = {
		"id_type=1", "id_number=" ID_M,
		"certificate_no=20109900131000001", NULL
	};
	static const char *const year[] = {
		"id_type=1", "id_number=" ID_M,
		"certificate_no=20304100131000001", NULL
	};
	static const char *const type[] = {
		"id_type=1", "id_number=" ID_M, "qualification_type=2",
		"certificate_no=20104100131000001", NULL
	};
	static const char *const qtype[] = {
		"id_type=1", "id_number=" ID_M, "qualification_type=8",
		"certificate_no=20104100181000001", NULL
	};

	ok_row(f, "qualification", good);
	ok_row(f, "qualification", padded);
	rej(f, "qualification", short_no, "certificate_no", "certificate_no",
	    "2010410013100000");
	rej(f, "qualification", province, "certificate_no", "certificate_no", NULL);
	rej(f, "qualification", year, "certificate_no", "certificate_no", NULL);
	rej(f, "qualification", type, "certificate_no", "certificate_type",
	    "20104100131000001");
	rej(f, "qualification", qtype, "qualification_type", "code", "8");
}

static void t_teaching(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {
		"id_type=1", "id_number=" ID_M, "school_year=2024-2025",
		"term=2", "subject=语文", "grade=七年级", "weekly_hours=12.5", NULL
	};
	static const char *const gap[] = {
		"id_type=1", "id_number=" ID_M, "school_year=2024-2026",
		"term=1", "subject=语文", NULL
	};
	static const char *const shape[] = {
		"id_type=1", "id_number=" ID_M, "school_year=2024/2025",
		"term=1", "subject=语文", NULL
	};
	static const char *const term[] = {
		"id_type=1", "id_number=" ID_M, "school_year=2024-2025",
		"term=3", "subject=语文", NULL
	};
	static const char *const hours[] = {
		"id_type=1", "id_number=" ID_M, "school_year=2024-2025",
		"term=1", "subject=语文", "weekly_hours=81", NULL
	};

	ok_row(f, "teaching", good);
	rej(f, "teaching", gap, "school_year", "school_year", "2024-2026");
	rej(f, "teaching", shape, "school_year", "school_year", "2024/2025");
	rej(f, "teaching", term, "term", "range", "3");
	rej(f, "teaching", hours, "weekly_hours", "range", "81");
}

/* The teacher's own indicator set decides what is required. */
static void t_indicator_set(void **state)
{
	struct fx *f = *state;

	/* political_status is required for k12 but not for kindergarten */
	TEACHER_REJ(f, "political_status", "required", "", "political_status=");
	TEACHER_OK(f, "political_status=", "indicator_set=kindergarten");
}

static void t_teacher_key(void **state)
{
	struct fx *f = *state;
	static const char *const none[] = { NULL };
	char key[64];

	assert_int_equal(teacher(f, none), 0);
	row_teacher_key(&f->row, key, sizeof(key));
	assert_string_equal(key, "1:410105********0119");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(t_teacher_valid),
		T(t_booleans),
		T(t_required),
		T(t_codes),
		T(t_dates),
		T(t_identity),
		T(t_formats),
		T(t_masking),
		T(t_training),
		T(t_qualification),
		T(t_teaching),
		T(t_indicator_set),
		T(t_teacher_key),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
