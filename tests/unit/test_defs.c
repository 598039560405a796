/*
 * test_defs: the definitions loader on the real mappings directory, the
 * code-set lookups, the indicator sets, and load errors on a temporary copy
 * of the directory (each test copies, breaks one file, and removes the copy).
 */
#include <dirent.h>
#include <ftw.h>
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

#include "../../etl/defs.h"

#define MAPPINGS TMISGW_DATADIR "/mappings"

static int setup_real(void **state)
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

static int teardown_real(void **state)
{
	defs_free(*state);
	return 0;
}

/* ---- a scratch copy of the mappings directory --------------------------- */

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	assert_false(ferror(in));
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void copy_tree(const char *from, const char *to)
{
	DIR *dh = opendir(from);
	struct dirent *de;

	assert_non_null(dh);
	if (mkdir(to, 0700))
		assert_true(access(to, F_OK) == 0);
	while ((de = readdir(dh))) {
		char a[1024], b[1024];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
		assert_int_equal(stat(a, &st), 0);
		if (S_ISDIR(st.st_mode))
			copy_tree(a, b);
		else
			copy_file(a, b);
	}
	closedir(dh);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_copy(void **state)
{
	char *dir = malloc(64);

	if (!dir)
		return -1;
	strcpy(dir, "/tmp/tmisgw-test-defs.XXXXXX");
	if (!mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	copy_tree(MAPPINGS, dir);
	*state = dir;
	return 0;
}

static int teardown_copy(void **state)
{
	char *dir = *state;

	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return 0;
}

/* Append text to dir/rel; returns the line number of its first line. */
static long append(const char *dir, const char *rel, const char *text)
{
	char path[1024];
	FILE *f;
	long lines = 0;
	int c, last = '\n';

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "r+");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF) {
		lines += c == '\n';
		last = c;
	}
	if (last != '\n') {
		fputc('\n', f);
		lines++;
	}
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return lines + 1;
}

/* Replace the first line of dir/rel equal to old by new; returns its line
 * number. */
static long replace_line(const char *dir, const char *rel, const char *old,
			 const char *new)
{
	char path[1024], tmp[1100], line[4096];
	FILE *in, *out;
	long n = 0, at = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	in = fopen(path, "r");
	out = fopen(tmp, "w");
	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in)) {
		size_t len = strlen(line);

		n++;
		if (!at && len && line[len - 1] == '\n' &&
		    len - 1 == strlen(old) && !strncmp(line, old, len - 1)) {
			fprintf(out, "%s\n", new);
			at = n;
			continue;
		}
		fputs(line, out);
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(rename(tmp, path), 0);
	assert_true(at > 0);
	return at;
}

/* defs_load on dir fails naming dir/rel and line, message holding msg. */
static void load_fails(const char *dir, const char *rel, long line,
		       const char *msg)
{
	struct defs *d = NULL;
	struct tmerr err;
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	tmerr_clear(&err);
	assert_int_equal(defs_load(&d, dir, &err), -1);
	assert_null(d);
	assert_int_equal(err.code, TMERR_MAPPING);
	assert_string_equal(err.file, path);
	if (err.line != line)
		fail_msg("expected line %ld, got %ld (%s)", line, err.line,
			 err.msg);
	if (!strstr(err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
}

/* ---- the real definitions ----------------------------------------------- */

static void t_counts(void **state)
{
	const struct defs *d = *state;
	static const char *const cats[] = {
		"teacher", "education", "work_history", "post_appointment",
		"title_appointment", "pay", "assessment", "qualification",
		"ethics", "teaching", "research_award", "talent_program",
		"training", "overseas_study", "certificate",
		"exchange_rotation", "change_event",
	};
	static const char *const sets[] = {
		"k12", "kindergarten", "secondary_vocational",
		"higher_vocational", "university", "special_education", "other",
	};

	assert_int_equal(d->ncats, 17);
	assert_int_equal(d->ncodesets, 26);
	assert_int_equal(d->nsets, 7);
	for (size_t i = 0; i < 17; i++) {
		const struct category_def *c = defs_category(d, cats[i]);

		if (!c)
			fail_msg("no category \"%s\"", cats[i]);
		assert_int_equal(c->index, (int)(c - d->cats));
		assert_int_equal(c->multi, strcmp(cats[i], "teacher") != 0);
		assert_true(c->nkeys >= 2);
		assert_string_equal(c->fields[c->keys[0]].name, "id_type");
		assert_string_equal(c->fields[c->keys[1]].name, "id_number");
	}
	for (size_t i = 0; i < 7; i++)
		if (!defs_set(d, sets[i]))
			fail_msg("no indicator set \"%s\"", sets[i]);
	assert_null(defs_category(d, "nosuch"));
	assert_null(defs_codeset(d, "nosuch"));
	assert_null(defs_set(d, "nosuch"));
	assert_string_equal(defs_set(d, "kindergarten")->label, "幼儿园");
	assert_string_equal(d->dir, MAPPINGS);
}

static void t_fields(void **state)
{
	const struct defs *d = *state;
	const struct category_def *t = defs_category(d, "training");
	const struct category_def *te = defs_category(d, "teacher");
	const struct category_def *ce = defs_category(d, "change_event");
	static const char *const keys[] = {
		"id_type", "id_number", "project", "start_date",
	};
	const struct field_def *f;
	int i;

	assert_int_equal(t->nkeys, 4);
	for (size_t k = 0; k < 4; k++)
		assert_string_equal(t->fields[t->keys[k]].name, keys[k]);
	assert_int_equal(te->nkeys, 2);
	assert_int_equal(ce->nkeys, 4);
	assert_string_equal(ce->fields[ce->keys[2]].name, "kind");
	assert_string_equal(ce->fields[ce->keys[3]].name, "effective_date");

	i = category_field(t, "end_date");
	assert_true(i >= 0);
	f = &t->fields[i];
	assert_int_equal(f->type, FT_DATE);
	assert_true(f->future);
	assert_int_equal(f->after, category_field(t, "start_date"));
	f = &t->fields[category_field(t, "hours")];
	assert_int_equal(f->type, FT_DECIMAL);
	assert_true(f->min == 0 && f->max == 2000);
	f = &t->fields[category_field(t, "kind")];
	assert_int_equal(f->type, FT_CODE);
	assert_ptr_equal(f->codes, defs_codeset(d, "training_kind"));

	f = &te->fields[category_field(te, "id_number")];
	assert_int_equal(f->type, FT_IDNUMBER);
	assert_true(f->key && f->personal);
	f = &te->fields[category_field(te, "name")];
	assert_int_equal(f->type, FT_TEXT);
	assert_int_equal(f->maxlen, 100);
	assert_true(f->personal);
	assert_string_equal(f->label, "姓名");
	assert_int_equal(te->fields[category_field(te, "phone")].type, FT_PHONE);
	assert_int_equal(te->fields[category_field(te, "email")].type, FT_EMAIL);
	assert_int_equal(te->fields[category_field(te, "school_code")].type,
			 FT_SCHOOL);
	assert_int_equal(te->fields[category_field(te, "on_establishment")].type,
			 FT_BOOL);
	assert_int_equal(category_field(te, "nosuch"), -1);
	assert_int_equal(category_field(t, "birth_date"), -1);
}

static void t_codesets(void **state)
{
	const struct defs *d = *state;
	const struct codeset *g = defs_codeset(d, "gender");
	const struct codeset *dv = defs_codeset(d, "division");
	const struct codeset *dg = defs_codeset(d, "degree");
	const struct codeset *el = defs_codeset(d, "edu_level");
	const struct codeset *it = defs_codeset(d, "id_type");

	assert_non_null(g);
	assert_string_equal(g->standard, "GB/T 2261.1-2003");
	assert_int_equal(g->ncodes, 4);
	for (size_t i = 1; i < g->ncodes; i++)
		assert_true(strcmp(g->codes[i - 1].code, g->codes[i].code) < 0);
	assert_true(codeset_valid(g, "1", 1));
	assert_true(codeset_valid(g, "2", 1));
	assert_true(codeset_valid(g, "0", 1));
	assert_true(codeset_valid(g, "9", 1));
	assert_false(codeset_valid(g, "3", 1));
	assert_false(codeset_valid(g, "", 0));
	assert_false(codeset_valid(g, "12", 2));
	/* length counts: "1" of "12" is valid */
	assert_true(codeset_valid(g, "12", 1));

	assert_int_equal(dv->digits, 6);
	assert_int_equal(dv->prefix, 2);
	assert_true(codeset_valid(dv, "410105", 6));
	assert_true(codeset_valid(dv, "110000", 6));
	assert_true(codeset_valid(dv, "660100", 6));
	assert_false(codeset_valid(dv, "990105", 6));
	assert_false(codeset_valid(dv, "41010", 5));
	assert_false(codeset_valid(dv, "4101050", 7));
	assert_false(codeset_valid(dv, "41010a", 6));
	assert_false(codeset_valid(dv, "41", 2));

	assert_int_equal(dg->subcode, 3);
	assert_true(codeset_valid(dg, "2", 1));
	assert_true(codeset_valid(dg, "201", 3));
	assert_true(codeset_valid(dg, "299", 3));
	assert_true(codeset_valid(dg, "412", 3));
	assert_false(codeset_valid(dg, "5", 1));
	assert_false(codeset_valid(dg, "501", 3));
	assert_false(codeset_valid(dg, "20", 2));
	assert_false(codeset_valid(dg, "2011", 4));
	assert_false(codeset_valid(dg, "2a1", 3));

	assert_true(codeset_valid(el, "21", 2));
	assert_true(codeset_valid(el, "10", 2));
	assert_true(codeset_valid(el, "90", 2));
	assert_false(codeset_valid(el, "2", 1));
	assert_false(codeset_valid(el, "72", 2));
	assert_false(codeset_valid(el, "211", 3));

	assert_true(codeset_valid(it, "A", 1));
	assert_false(codeset_valid(it, "a", 1));
	assert_non_null(codeset_find(it, "Z", 1));
	assert_string_equal(codeset_find(it, "1", 1)->label, "居民身份证");
	assert_null(codeset_find(it, "C", 1));
}

static void t_labels(void **state)
{
	const struct defs *d = *state;

	assert_string_equal(codeset_by_label(defs_codeset(d, "gender"), "男"), "1");
	assert_string_equal(codeset_by_label(defs_codeset(d, "gender"), "女"), "2");
	assert_string_equal(codeset_by_label(defs_codeset(d, "ethnicity"), "汉族"), "01");
	assert_string_equal(codeset_by_label(defs_codeset(d, "ethnicity"), "蒙古族"), "02");
	assert_string_equal(codeset_by_label(defs_codeset(d, "id_type"), "护照"), "A");
	assert_string_equal(codeset_by_label(defs_codeset(d, "political"), "群众"), "13");
	assert_string_equal(codeset_by_label(defs_codeset(d, "indicator_set"), "幼儿园"),
			    "kindergarten");
	assert_null(codeset_by_label(defs_codeset(d, "ethnicity"), "汉"));
	assert_null(codeset_by_label(defs_codeset(d, "ethnicity"), "01"));
	assert_null(codeset_by_label(defs_codeset(d, "gender"), ""));
}

static void t_sets(void **state)
{
	const struct defs *d = *state;
	int teaching = defs_category(d, "teaching")->index;
	int rot = defs_category(d, "exchange_rotation")->index;
	const struct indicator_set *kg = defs_set(d, "kindergarten");
	const struct indicator_set *k12 = defs_set(d, "k12");
	const struct category_def *te = defs_category(d, "teacher");
	const struct category_def *tr = defs_category(d, "training");

	assert_false(kg->applicable[teaching]);
	assert_false(kg->applicable[rot]);
	for (size_t c = 0; c < d->ncats; c++) {
		if ((int)c != teaching && (int)c != rot &&
		    !kg->applicable[c])
			fail_msg("kindergarten lacks \"%s\"", d->cats[c].name);
	}
	for (size_t s = 0; s < d->nsets; s++) {
		const struct indicator_set *is = &d->sets[s];
		int k = !strcmp(is->name, "k12");

		if (is->applicable[rot] != k)
			fail_msg("exchange_rotation applicability of \"%s\" is %d",
				 is->name, is->applicable[rot]);
		assert_true(is->applicable[te->index]);
		if (strcmp(is->name, "kindergarten"))
			assert_true(is->applicable[teaching]);
		/* key fields are required everywhere */
		for (size_t c = 0; c < d->ncats; c++)
			for (size_t i = 0; i < d->cats[c].nkeys; i++)
				assert_true(is->required[c][d->cats[c].keys[i]]);
	}
	assert_true(k12->applicable[rot]);
	assert_true(k12->required[te->index][category_field(te, "name")]);
	assert_false(k12->required[te->index][category_field(te, "former_name")]);
	assert_true(k12->required[tr->index][category_field(tr, "hours")]);
	assert_false(k12->required[tr->index][category_field(tr, "credits")]);
}

/* ---- load errors on a copy ---------------------------------------------- */

static void t_copy_loads(void **state)
{
	struct defs *d = NULL;
	struct tmerr err;

	tmerr_clear(&err);
	assert_int_equal(defs_load(&d, *state, &err), 0);
	assert_int_equal(d->ncats, 17);
	defs_free(d);
}

static void t_dup_code(void **state)
{
	const char *dir = *state;
	long line = append(dir, "codes/gender.tsv", "# again\n2\t女性\n");

	load_fails(dir, "codes/gender.tsv", line + 1, "code \"2\" listed twice");
}

static void t_bad_code_line(void **state)
{
	const char *dir = *state;
	long line = append(dir, "codes/gender.tsv", "7\n");

	load_fails(dir, "codes/gender.tsv", line, "code<TAB>label");
}

static void t_bad_code_directive(void **state)
{
	const char *dir = *state;
	long line = append(dir, "codes/health.tsv", "@colour blue\n");

	load_fails(dir, "codes/health.tsv", line, "unknown directive \"@colour\"");
}

static void t_schema_codeset(void **state)
{
	const char *dir = *state;
	long line = replace_line(dir, "schema.tsv",
				 "teacher\tgender\tcode(gender)\t-\t性别",
				 "teacher\tgender\tcode(sex)\t-\t性别");

	load_fails(dir, "schema.tsv", line, "unknown code set \"sex\"");
}

static void t_schema_type(void **state)
{
	const char *dir = *state;
	long line = replace_line(dir, "schema.tsv",
				 "teacher\tgender\tcode(gender)\t-\t性别",
				 "teacher\tgender\tcolour\t-\t性别");

	load_fails(dir, "schema.tsv", line, "unknown type \"colour\"");
}

static void t_schema_twice(void **state)
{
	const char *dir = *state;
	long line = replace_line(dir, "schema.tsv",
				 "teacher\tgender\tcode(gender)\t-\t性别",
				 "teacher\tname\tcode(gender)\t-\t性别");

	load_fails(dir, "schema.tsv", line, "field \"teacher.name\" defined twice");
}

static void t_schema_flag(void **state)
{
	const char *dir = *state;
	long line = replace_line(dir, "schema.tsv",
				 "teacher\tgender\tcode(gender)\t-\t性别",
				 "teacher\tgender\tcode(gender)\tsecret\t性别");

	load_fails(dir, "schema.tsv", line, "unknown flag \"secret\"");
}

static void t_indicator_field(void **state)
{
	const char *dir = *state;
	long line = append(dir, "indicators/k12.tsv", "teacher\tshoe_size\trequired\n");

	load_fails(dir, "indicators/k12.tsv", line,
		   "unknown field \"teacher.shoe_size\"");
}

static void t_indicator_category(void **state)
{
	const char *dir = *state;
	long line = append(dir, "indicators/other.tsv", "\n# x\nholiday\t*\tapplicable\n");

	load_fails(dir, "indicators/other.tsv", line + 2,
		   "unknown category \"holiday\"");
}

static void t_indicator_requirement(void **state)
{
	const char *dir = *state;
	long line = append(dir, "indicators/k12.tsv", "teacher\tname\toptional\n");

	load_fails(dir, "indicators/k12.tsv", line,
		   "unknown requirement \"optional\"");
}

static void t_missing_dir(void **state)
{
	struct defs *d = NULL;
	struct tmerr err;
	char path[1024];

	snprintf(path, sizeof(path), "%s/nosuch", (const char *)*state);
	tmerr_clear(&err);
	assert_int_equal(defs_load(&d, path, &err), -1);
	assert_null(d);
	assert_int_equal(err.code, TMERR_MAPPING);
	assert_non_null(strstr(err.msg, "nosuch"));
}

int main(void)
{
#define R(f) cmocka_unit_test_setup_teardown(f, setup_real, teardown_real)
#define C(f) cmocka_unit_test_setup_teardown(f, setup_copy, teardown_copy)
	const struct CMUnitTest tests[] = {
		R(t_counts),
		R(t_fields),
		R(t_codesets),
		R(t_labels),
		R(t_sets),
		C(t_copy_loads),
		C(t_dup_code),
		C(t_bad_code_line),
		C(t_bad_code_directive),
		C(t_schema_codeset),
		C(t_schema_type),
		C(t_schema_twice),
		C(t_schema_flag),
		C(t_indicator_field),
		C(t_indicator_category),
		C(t_indicator_requirement),
		C(t_missing_dir),
	};
#undef R
#undef C

	return cmocka_run_group_tests(tests, NULL, NULL);
}
