/*
 * Unit tests for etl/sample.c: the generated province is valid (checked
 * here independently, and by the gateway's own row checks), unique where
 * keys say so, reproducible, and dirty at the requested rate. Runs from the
 * repository root (or with TMISGW_MAPPINGS set); temp dirs are removed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../etl/check.h"
#include "../../etl/defs.h"
#include "../../etl/sample.h"

#define NTEACH 2000
#define MAXF 64
#define PROV "41"

/* ---- helpers ------------------------------------------------------------- */

static struct defs *load_defs(void)
{
	struct defs *d = NULL;
	struct tmerr err;
	const char *env = getenv("TMISGW_MAPPINGS");

	tmerr_clear(&err);
	if (defs_load(&d, env && *env ? NULL : "mappings", &err)) {
		tmerr_clear(&err);
		if (defs_load(&d, NULL, &err))
			fail_msg("cannot load definitions: %s", err.msg);
	}
	return d;
}

static void make_opts(struct sample_opts *o, const struct defs *d,
		      const char *dir, unsigned long long seed, double dirty)
{
	memset(o, 0, sizeof(*o));
	o->teachers = NTEACH;
	o->province = PROV;
	o->out_dir = dir;
	o->dirty = dirty;
	o->seed = seed;
	o->defs = d;
	o->today_y = 2026;
	o->today_m = 11;
	o->today_d = 28;
}

static char *tmpdir(void)
{
	char *t = strdup("/tmp/tmisgw-sample-XXXXXX");

	assert_non_null(t);
	assert_non_null(mkdtemp(t));
	return t;
}

static void rmtree(char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char path[512];

	if (dp) {
		while ((e = readdir(dp))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(dp);
	}
	rmdir(dir);
	free(dir);
}

static FILE *open_cat(const char *dir, const char *cat)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.csv", dir, cat);
	f = fopen(path, "r");
	if (!f)
		fail_msg("missing \"%s\"", path);
	return f;
}

/* Splits one RFC 4180 line in place (no embedded newlines); returns n. */
static int split(char *line, char **val, size_t *len, int max)
{
	char *p = line, *w;
	int n = 0;

	line[strcspn(line, "\n")] = '\0';
	for (;;) {
		if (n == max)
			return -1;
		val[n] = w = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else if (!*p) {
					break;
				} else {
					*w++ = *p++;
				}
			}
		} else {
			while (*p && *p != ',')
				*w++ = *p++;
		}
		len[n] = (size_t)(w - val[n]);
		n++;
		if (*p != ',')
			break;
		*w = '\0';
		p++;
	}
	*w = '\0';
	return n;
}

static int col(const struct category_def *c, const char *name)
{
	size_t j;

	for (j = 0; j < c->nfields; j++)
		if (!strcmp(c->fields[j].name, name))
			return (int)j;
	fail_msg("no field \"%s\" in \"%s\"", name, c->name);
	return -1;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GB 11643-1999, written here independently of the generator. */
static int id_ok(const char *s)
{
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5,
				   8, 4, 2 };
	int i, sum = 0;

	if (strlen(s) != 18)
		return 0;
	for (i = 0; i < 17; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		sum += (s[i] - '0') * w[i];
	}
	return "10X98765432"[sum % 11] == s[17];
}

static long count_lines(const char *dir, const char *cat)
{
	FILE *f = open_cat(dir, cat);
	long n = 0;
	int c;

	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	int ca, cb, same = fa && fb;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		if (ca != cb)
			same = 0;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* ---- tests --------------------------------------------------------------- */

static void check_headers(const struct defs *d, const char *dir)
{
	char line[4096], want[4096];
	size_t i, j;

	for (i = 0; i < d->ncats; i++) {
		const struct category_def *c = &d->cats[i];
		FILE *f = open_cat(dir, c->name);
		size_t n = 0;

		for (j = 0; j < c->nfields; j++)
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%s",
					      j ? "," : "", c->fields[j].name);
		snprintf(want + n, sizeof(want) - n, "\n");
		assert_non_null(fgets(line, sizeof(line), f));
		assert_string_equal(line, want);
		fclose(f);
	}
}

struct tinfo {
	char id[19];
	char set[32];
};

static int cmptinfo(const void *a, const void *b)
{
	return strcmp(((const struct tinfo *)a)->id,
		      ((const struct tinfo *)b)->id);
}

static void check_teachers(const struct defs *d, const char *dir,
			   struct tinfo *ti)
{
	const struct category_def *c = defs_category(d, "teacher");
	int f_id = col(c, "id_number"), f_birth = col(c, "birth_date"),
	    f_gender = col(c, "gender"), f_school = col(c, "school_code"),
	    f_phone = col(c, "phone"), f_email = col(c, "email"),
	    f_set = col(c, "indicator_set"), f_ws = col(c, "work_start_month"),
	    f_sj = col(c, "school_join_month"), f_name = col(c, "name");
	FILE *f = open_cat(dir, "teacher");
	char line[4096], *v[MAXF];
	size_t len[MAXF];
	char **ids = calloc(NTEACH, sizeof(char *));
	long n = 0, female = 0, k12 = 0;
	int i;

	assert_non_null(ids);
	assert_non_null(fgets(line, sizeof(line), f));
	while (fgets(line, sizeof(line), f)) {
		const char *id;
		char birth[11];

		assert_int_equal(split(line, v, len, MAXF), (int)c->nfields);
		assert_true(n < NTEACH);
		id = v[f_id];
		assert_true(id_ok(id));
		assert_memory_equal(id, PROV, 2);
		/* birth digits of the id = birth_date */
		snprintf(birth, sizeof(birth), "%.4s-%.2s-%.2s", id + 6,
			 id + 10, id + 12);
		assert_string_equal(birth, v[f_birth]);
		/* age 22..60 on 2026-11-28 */
		assert_true(strcmp(birth, "1965-11-28") > 0);
		assert_true(strcmp(birth, "2004-11-28") <= 0);
		/* odd sequence = male */
		assert_int_equal((id[16] - '0') % 2 ? '1' : '2', v[f_gender][0]);
		female += v[f_gender][0] == '2';
		assert_int_equal(len[f_school], 10);
		assert_memory_equal(v[f_school] + 2, PROV, 2);
		assert_int_equal(len[f_phone], 11);
		assert_int_equal(v[f_phone][0], '1');
		assert_true(v[f_phone][1] >= '3' && v[f_phone][1] <= '9');
		assert_non_null(strchr(v[f_email], '@'));
		assert_true(len[f_name] >= 6); /* two or more CJK characters */
		assert_true(strcmp(v[f_ws], v[f_sj]) <= 0);
		assert_true(strcmp(v[f_sj], "2026-11") <= 0);
		k12 += !strcmp(v[f_set], "k12");
		ids[n] = strdup(id);
		memcpy(ti[n].id, id, 19);
		snprintf(ti[n].set, sizeof(ti[n].set), "%s", v[f_set]);
		n++;
	}
	fclose(f);
	assert_int_equal(n, NTEACH);
	/* realistic mixes */
	assert_true(female > NTEACH / 2 && female < NTEACH * 9 / 10);
	assert_true(k12 > NTEACH / 2 && k12 < NTEACH);
	qsort(ids, NTEACH, sizeof(char *), cmpstr);
	for (i = 1; i < NTEACH; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	for (i = 0; i < NTEACH; i++)
		free(ids[i]);
	free(ids);
	qsort(ti, NTEACH, sizeof(*ti), cmptinfo);
}

/*
 * Per category: natural keys unique, every row's teacher exists and may
 * carry the category, every row passes the gateway's row checks, and the
 * stats count the rows of the file.
 */
static void check_rows(const struct defs *d, const char *dir,
		       const struct tinfo *ti, const struct sample_stats *st)
{
	struct ymd today = { 2026, 11, 28 };
	size_t i, k;

	for (i = 0; i < d->ncats; i++) {
		const struct category_def *c = &d->cats[i];
		FILE *f = open_cat(dir, c->name);
		char line[8192], *v[MAXF], **keys = NULL;
		size_t len[MAXF], nkeys = 0, cap = 0;
		struct checker ck;
		struct row r;
		struct tmerr err;
		long n = 0;
		int fi;

		assert_int_equal(checker_init(&ck, d, c, &today), 0);
		assert_int_equal(row_init(&r, c), 0);
		assert_non_null(fgets(line, sizeof(line), f));
		while (fgets(line, sizeof(line), f)) {
			char key[2048];
			size_t kn = 0;
			struct tinfo probe, *t;
			const struct indicator_set *s;

			assert_int_equal(split(line, v, len, MAXF),
					 (int)c->nfields);
			n++;
			for (k = 0; k < c->nkeys; k++)
				kn += (size_t)snprintf(key + kn, sizeof(key) - kn,
						       "%s\x1f", v[c->keys[k]]);
			if (nkeys == cap) {
				cap = cap ? cap * 2 : 1024;
				keys = realloc(keys, cap * sizeof(*keys));
				assert_non_null(keys);
			}
			keys[nkeys++] = strdup(key);

			snprintf(probe.id, sizeof(probe.id), "%s",
				 v[col(c, "id_number")]);
			t = bsearch(&probe, ti, NTEACH, sizeof(*ti), cmptinfo);
			if (!t)
				fail_msg("%s row %ld: unknown teacher", c->name, n);
			s = defs_set(d, t->set);
			assert_non_null(s);
			if (!s->applicable[c->index])
				fail_msg("%s row %ld: not applicable to %s",
					 c->name, n, t->set);

			for (fi = 0; fi < (int)c->nfields; fi++) {
				r.val[fi] = v[fi];
				r.len[fi] = len[fi];
				r.supplied[fi] = 1;
			}
			tmerr_clear(&err);
			if (row_check(&ck, &r, &err))
				fail_msg("%s row %ld rejected: %s %s %s", c->name,
					 n, err.field, err.rule, err.msg);
		}
		fclose(f);
		row_release(&r);
		assert_int_equal(n, st->rows[c->index]);
		assert_int_equal(st->dirty_rows[c->index], 0);
		qsort(keys, nkeys, sizeof(*keys), cmpstr);
		for (k = 0; k < nkeys; k++) {
			if (k && !strcmp(keys[k - 1], keys[k]))
				fail_msg("%s: duplicate natural key", c->name);
			if (k)
				free(keys[k - 1]);
		}
		if (nkeys)
			free(keys[nkeys - 1]);
		free(keys);
	}
}

static long rows_of(const struct defs *d, const struct sample_stats *st,
		    const char *cat)
{
	const struct category_def *c = defs_category(d, cat);

	assert_non_null(c);
	return st->rows[c->index];
}

static void test_clean_sample(void **state)
{
	struct defs *d = load_defs();
	char *dir = tmpdir();
	struct sample_opts o;
	struct sample_stats st;
	struct tmerr err;
	struct tinfo *ti = calloc(NTEACH, sizeof(*ti));

	(void)state;
	assert_non_null(ti);
	tmerr_clear(&err);
	make_opts(&o, d, dir, 1, 0);
	assert_int_equal(sample_write(&o, &st, &err), 0);
	check_headers(d, dir);
	check_teachers(d, dir, ti);
	check_rows(d, dir, ti, &st);

	assert_int_equal(rows_of(d, &st, "teacher"), NTEACH);
	assert_int_equal(rows_of(d, &st, "qualification"), NTEACH);
	assert_true(rows_of(d, &st, "training") >= 2 * NTEACH);
	assert_true(rows_of(d, &st, "pay") >= 2 * NTEACH);
	assert_true(rows_of(d, &st, "assessment") >= 2 * NTEACH);
	assert_true(rows_of(d, &st, "education") > NTEACH);
	assert_true(rows_of(d, &st, "work_history") > NTEACH);
	assert_true(rows_of(d, &st, "post_appointment") > NTEACH);
	assert_true(rows_of(d, &st, "title_appointment") > NTEACH);
	assert_true(rows_of(d, &st, "teaching") > NTEACH);
	assert_true(rows_of(d, &st, "change_event") > NTEACH);
	assert_true(rows_of(d, &st, "certificate") > NTEACH / 2);
	assert_true(rows_of(d, &st, "research_award") > NTEACH / 2);
	assert_true(rows_of(d, &st, "ethics") > 0);
	assert_true(rows_of(d, &st, "exchange_rotation") > 0);
	assert_true(rows_of(d, &st, "talent_program") > 0);
	assert_true(rows_of(d, &st, "overseas_study") > 0);
	assert_true(rows_of(d, &st, "talent_program") < NTEACH / 10);
	free(ti);
	rmtree(dir);
	defs_free(d);
}

static void test_reproducible(void **state)
{
	struct defs *d = load_defs();
	char *a = tmpdir(), *b = tmpdir(), *c = tmpdir();
	char pa[512], pb[512];
	struct sample_opts o;
	struct sample_stats st;
	struct tmerr err;
	size_t i;

	(void)state;
	tmerr_clear(&err);
	make_opts(&o, d, a, 1, 0.05);
	assert_int_equal(sample_write(&o, &st, &err), 0);
	o.out_dir = b;
	assert_int_equal(sample_write(&o, &st, &err), 0);
	make_opts(&o, d, c, 2, 0.05);
	assert_int_equal(sample_write(&o, &st, &err), 0);
	for (i = 0; i < d->ncats; i++) {
		snprintf(pa, sizeof(pa), "%s/%s.csv", a, d->cats[i].name);
		snprintf(pb, sizeof(pb), "%s/%s.csv", b, d->cats[i].name);
		if (!same_file(pa, pb))
			fail_msg("\"%s\" differs between runs", d->cats[i].name);
	}
	snprintf(pa, sizeof(pa), "%s/teacher.csv", a);
	snprintf(pb, sizeof(pb), "%s/teacher.csv", c);
	assert_false(same_file(pa, pb));
	snprintf(pa, sizeof(pa), "%s/training.csv", a);
	snprintf(pb, sizeof(pb), "%s/training.csv", c);
	assert_false(same_file(pa, pb));
	rmtree(a);
	rmtree(b);
	rmtree(c);
	defs_free(d);
}

static void test_dirty_rate(void **state)
{
	struct defs *d = load_defs();
	char *dir = tmpdir();
	struct sample_opts o;
	struct sample_stats st;
	struct tmerr err;
	long rows = 0, dirty = 0;
	size_t i;
	double rate;

	(void)state;
	tmerr_clear(&err);
	make_opts(&o, d, dir, 7, 0.05);
	assert_int_equal(sample_write(&o, &st, &err), 0);
	for (i = 0; i < d->ncats; i++) {
		int ix = d->cats[i].index;

		assert_int_equal(count_lines(dir, d->cats[i].name) - 1,
				 st.rows[ix]);
		assert_true(st.dirty_rows[ix] <= st.rows[ix]);
		rows += st.rows[ix];
		dirty += st.dirty_rows[ix];
	}
	rate = (double)dirty / (double)rows;
	assert_true(rate > 0.04 && rate < 0.06);
	/* the teacher file alone is within tolerance too */
	rate = (double)st.dirty_rows[defs_category(d, "teacher")->index] /
	       NTEACH;
	assert_true(rate > 0.03 && rate < 0.07);
	assert_int_equal(rows_of(d, &st, "teacher"), NTEACH);
	rmtree(dir);
	defs_free(d);
}

static void test_errors(void **state)
{
	struct defs *d = load_defs();
	char *dir = tmpdir();
	char file[512];
	struct sample_opts o;
	struct sample_stats st;
	struct tmerr err;
	FILE *f;

	(void)state;
	/* out_dir is a regular file */
	snprintf(file, sizeof(file), "%s/plain", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	tmerr_clear(&err);
	make_opts(&o, d, file, 1, 0);
	assert_int_equal(sample_write(&o, &st, &err), -1);
	assert_int_equal(err.code, TMERR_SYS);
	assert_non_null(strstr(err.msg, file));

	tmerr_clear(&err);
	make_opts(&o, d, dir, 1, 0);
	o.province = "99";
	assert_int_equal(sample_write(&o, &st, &err), -1);
	assert_int_equal(err.code, TMERR_USAGE);

	tmerr_clear(&err);
	make_opts(&o, d, dir, 1, 1.5);
	assert_int_equal(sample_write(&o, &st, &err), -1);
	assert_int_equal(err.code, TMERR_USAGE);

	tmerr_clear(&err);
	make_opts(&o, d, dir, 1, 0);
	o.today_m = 2;
	o.today_d = 30;
	assert_int_equal(sample_write(&o, &st, &err), -1);

	/* no teachers: headers only, in a directory created with parents */
	snprintf(file, sizeof(file), "%s/a/b", dir);
	tmerr_clear(&err);
	make_opts(&o, d, file, 1, 0);
	o.teachers = 0;
	assert_int_equal(sample_write(&o, &st, &err), 0);
	assert_int_equal(count_lines(file, "teacher"), 1);
	assert_int_equal(count_lines(file, "training"), 1);
	{
		char *sub = strdup(file), *top;

		rmtree(sub);
		snprintf(file, sizeof(file), "%s/a", dir);
		top = strdup(file);
		rmtree(top);
	}
	rmtree(dir);
	defs_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_sample),
		cmocka_unit_test(test_reproducible),
		cmocka_unit_test(test_dirty_rate),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
