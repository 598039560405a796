/*
 * test_mapping: mapping compilation (every directive and every load-time
 * error, with file and line) and the row pipeline (sources and transforms).
 * Each test owns a fixture holding the real definitions and a temporary
 * directory for the mapping files it writes; teardown frees both.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../etl/defs.h"
#include "../../etl/mapping.h"
#include "../../etl/validate.h"

struct fx {
	struct defs *d;
	struct mapping *m;
	struct row row;
	int have_row;
	struct tmerr err;
	char dir[64];
	char path[128];
};

/* ---- helpers ------------------------------------------------------------ */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tmerr err;

	if (!f)
		return -1;
	tmerr_clear(&err);
	if (defs_load(&f->d, TMISGW_DATADIR "/mappings", &err)) {
		fprintf(stderr, "defs_load: %s\n", err.msg);
		free(f);
		return -1;
	}
	strcpy(f->dir, "/tmp/tmisgw-test-mapping.XXXXXX");
	if (!mkdtemp(f->dir)) {
		defs_free(f->d);
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
	defs_free(f->d);
	if (f->path[0])
		unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_map(struct fx *f, const char *text)
{
	FILE *fp;

	snprintf(f->path, sizeof(f->path), "%s/t.map", f->dir);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static struct mapping *load_ok(struct fx *f, const char *text)
{
	mapping_free(f->m);
	f->m = NULL;
	write_map(f, text);
	tmerr_clear(&f->err);
	if (mapping_load(&f->m, f->path, f->d, &f->err))
		fail_msg("mapping_load: %s:%ld: %s", f->err.file, f->err.line,
			 f->err.msg);
	return f->m;
}

/* The mapping must fail to load, naming its own path, line and a message
 * containing msg. */
static void load_err(struct fx *f, const char *text, long line,
		     const char *msg)
{
	struct mapping *m = NULL;

	write_map(f, text);
	tmerr_clear(&f->err);
	assert_int_equal(mapping_load(&m, f->path, f->d, &f->err), -1);
	assert_null(m);
	assert_int_equal(f->err.code, TMERR_MAPPING);
	assert_string_equal(f->err.file, f->path);
	if (f->err.line != line)
		fail_msg("expected line %ld, got %ld (%s)", line, f->err.line,
			 f->err.msg);
	if (!strstr(f->err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", f->err.msg, msg);
}

/* A fake adapter record of n columns; vals may hold NULL (missing). */
struct fake {
	const char *names[16];
	const char *vals[16];
	size_t lens[16];
	struct record rec;
};

static void fake_rec(struct fake *k, size_t n, const char *const *names,
		     const char *const *vals)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < n; i++) {
		k->names[i] = names[i];
		k->vals[i] = vals[i];
		k->lens[i] = vals[i] ? strlen(vals[i]) : 0;
	}
	k->rec.line = 7;
	k->rec.nfields = n;
	k->rec.names = k->names;
	k->rec.vals = k->vals;
	k->rec.lens = k->lens;
}

static void bind_ok(struct fx *f, const char *const *names, size_t n)
{
	tmerr_clear(&f->err);
	if (mapping_bind(f->m, names, n, "in.csv", &f->err))
		fail_msg("mapping_bind: %s", f->err.msg);
	if (!f->have_row) {
		assert_int_equal(row_init(&f->row, f->m->cat), 0);
		f->have_row = 1;
	}
}

static int fld(const struct fx *f, const char *name)
{
	int i = category_field(f->m->cat, name);

	assert_true(i >= 0);
	return i;
}

static void assert_val(const struct fx *f, const char *name, const char *want)
{
	int i = fld(f, name);

	assert_true(f->row.supplied[i]);
	if (f->row.len[i] != strlen(want) ||
	    memcmp(f->row.val[i], want, f->row.len[i]))
		fail_msg("field %s: got \"%.*s\", want \"%s\"", name,
			 (int)f->row.len[i], f->row.val[i], want);
}

/*
 * A training mapping whose keys are constants and whose field "provider"
 * comes from column "v" through the transforms xf (" | trim | upper").
 */
#define TRAINING_HEAD                          \
	"format csv\n"                         \
	"category training\n"                  \
	"field id_type const 1\n"              \
	"field id_number const 410105198003130119\n" \
	"field project const P\n"              \
	"field start_date const 2020-01-01\n"

static void xf_map(struct fx *f, const char *xf, const char *extra)
{
	char text[2048];
	static const char *const names[] = { "v" };

	snprintf(text, sizeof(text), "%sfield provider col v%s\n%s",
		 TRAINING_HEAD, xf, extra ? extra : "");
	load_ok(f, text);
	bind_ok(f, names, 1);
}

/* Run value through the bound mapping: 0 mapped, 1 rejected. */
static int xf_run(struct fx *f, const char *value)
{
	static const char *const names[] = { "v" };
	const char *vals[] = { value };
	struct fake k;
	int rc;

	fake_rec(&k, 1, names, vals);
	tmerr_clear(&f->err);
	rc = row_map(&f->row, f->m, &k.rec, &f->err);
	assert_true(rc == 0 || rc == 1);
	return rc;
}

/* xf turns in into out. */
static void xf_ok(struct fx *f, const char *xf, const char *extra,
		  const char *in, const char *out)
{
	xf_map(f, xf, extra);
	if (xf_run(f, in))
		fail_msg("\"%s\" through \"%s\" rejected: %s (%s)", in, xf,
			 f->err.msg, f->err.rule);
	assert_val(f, "provider", out);
}

/* xf rejects in under rule. */
static void xf_rej(struct fx *f, const char *xf, const char *extra,
		   const char *in, const char *rule)
{
	xf_map(f, xf, extra);
	if (!xf_run(f, in))
		fail_msg("\"%s\" through \"%s\" was accepted", in, xf);
	assert_int_equal(f->err.code, TMERR_INPUT);
	assert_string_equal(f->err.rule, rule);
	assert_string_equal(f->err.field, "provider");
	assert_string_equal(f->err.value, in);
	assert_true(f->err.msg[0] != '\0');
}

/* ---- directives --------------------------------------------------------- */

static void t_directives(void **state)
{
	struct fx *f = *state;
	struct mapping *m;
	struct adapter_opts o;

	m = load_ok(f,
		    "# a comment line\n"
		    "\n"
		    "format    csv   # trailing comment\n"
		    "encoding  gb18030\n"
		    "category  training\n"
		    "header    no\n"
		    "delimiter tab\n"
		    "record    \"/a/b c\"\n"
		    "field id_type    const 1\n"
		    "field id_number  pos 2 | trim | upper\n"
		    "field project    pos 3 | map proj keep\n"
		    "field start_date pos 4 | date YYYYMMDD \"YYYY M D\"\n"
		    "field end_date   pos 5 | date YYYY-M-D\n"
		    "field kind       pos 6 | label training_kind | default 1\n"
		    "field provider   const \"a \\\"b\\\" \\\\c\"\n"
		    "\n"
		    "map proj\n"
		    "  国培  \"国培 计划\"\n"
		    "  省培  省培计划\n"
		    "end\n");
	assert_string_equal(m->path, f->path);
	assert_string_equal(m->format, "csv");
	assert_string_equal(m->encoding, "gb18030");
	assert_ptr_equal(m->cat, defs_category(f->d, "training"));
	assert_int_equal(m->header, 0);
	assert_int_equal(m->delimiter, '\t');
	assert_string_equal(m->record, "/a/b c");
	assert_int_equal(m->nfields, 7);
	assert_int_equal(m->fields[0].src, SRC_CONST);
	assert_string_equal(m->fields[0].col, "1");
	assert_int_equal(m->fields[0].line, 9);
	assert_int_equal(m->fields[1].src, SRC_POS);
	assert_int_equal(m->fields[1].pos, 2);
	assert_int_equal(m->fields[1].nxf, 2);
	assert_int_equal(m->fields[1].xf[0].kind, XF_TRIM);
	assert_int_equal(m->fields[1].xf[1].kind, XF_UPPER);
	assert_int_equal(m->fields[2].xf[0].kind, XF_MAP);
	assert_int_equal(m->fields[2].xf[0].keep, 1);
	assert_int_equal(m->fields[3].xf[0].kind, XF_DATE);
	assert_int_equal(m->fields[3].xf[0].npats, 2);
	assert_string_equal(m->fields[3].xf[0].pats[1], "YYYY M D");
	assert_int_equal(m->fields[5].xf[0].kind, XF_LABEL);
	assert_ptr_equal(m->fields[5].xf[0].cs,
			 defs_codeset(f->d, "training_kind"));
	assert_int_equal(m->fields[5].xf[1].kind, XF_DEFAULT);
	assert_string_equal(m->fields[5].xf[1].arg, "1");
	assert_string_equal(m->fields[6].col, "a \"b\" \\c");
	assert_int_equal(m->nmaps, 1);
	assert_string_equal(m->maps[0].name, "proj");
	assert_int_equal(m->maps[0].n, 2);
	assert_int_equal(m->maps[0].line, 17);

	mapping_adapter_opts(m, &o);
	assert_string_equal(o.encoding, "gb18030");
	assert_int_equal(o.has_header, 0);
	assert_int_equal(o.delimiter, '\t');
	assert_string_equal(o.record_path, "/a/b c");
	assert_true(o.field_cap > 0 && o.record_cap >= o.field_cap);
}

static void t_defaults(void **state)
{
	struct fx *f = *state;
	struct mapping *m;
	struct adapter_opts o;

	m = load_ok(f, TRAINING_HEAD "delimiter ;\n");
	assert_int_equal(m->header, 1);
	assert_int_equal(m->delimiter, ';');
	assert_null(m->encoding);
	assert_null(m->record);
	mapping_adapter_opts(m, &o);
	assert_int_equal(o.has_header, 1);
	assert_int_equal(o.delimiter, ';');
}

/* The canonical and provincial mappings shipped in mappings/ all load. */
static void t_shipped(void **state)
{
	struct fx *f = *state;
	char path[512];

	for (size_t i = 0; i < f->d->ncats; i++) {
		struct mapping *m = NULL;

		snprintf(path, sizeof(path), "%s/mappings/canonical/%s.map",
			 TMISGW_DATADIR, f->d->cats[i].name);
		tmerr_clear(&f->err);
		if (mapping_load(&m, path, f->d, &f->err))
			fail_msg("%s:%ld: %s", f->err.file, f->err.line,
				 f->err.msg);
		assert_ptr_equal(m->cat, &f->d->cats[i]);
		mapping_free(m);
	}
	snprintf(path, sizeof(path), "%s/mappings/provinces/41/teacher.map",
		 TMISGW_DATADIR);
	tmerr_clear(&f->err);
	assert_int_equal(mapping_load(&f->m, path, f->d, &f->err), 0);
	assert_string_equal(f->m->encoding, "gb18030");
}

/* ---- load-time errors --------------------------------------------------- */

static void t_err_directive(void **state)
{
	struct fx *f = *state;

	load_err(f, "format csv\ncategory training\n\n# x\nfrobnicate yes\n", 5,
		 "unknown directive \"frobnicate\"");
	load_err(f, "format csv\ncategory nosuch\n", 2,
		 "unknown category \"nosuch\"");
	load_err(f, "format nosuch\ncategory training\n", 1,
		 "unknown format \"nosuch\"");
	load_err(f, "format csv\nencoding latin1\ncategory training\n", 2,
		 "unknown encoding \"latin1\"");
	load_err(f, "format csv\nheader maybe\n", 2, "header");
	load_err(f, "format csv\ndelimiter ab\n", 2, "bad delimiter \"ab\"");
	load_err(f, "format csv\ncategory\n", 2, "category");
}

static void t_err_field(void **state)
{
	struct fx *f = *state;

	load_err(f, TRAINING_HEAD "field nosuch col x\n", 7,
		 "unknown field \"nosuch\" in category \"training\"");
	/* a teacher field is not a training field */
	load_err(f, TRAINING_HEAD "field birth_date col x\n", 7,
		 "unknown field \"birth_date\"");
	load_err(f, TRAINING_HEAD "field kind col a\nfield hours col h\n"
		 "field kind col b\n", 9, "field \"kind\" mapped twice (first at line 7)");
	load_err(f, TRAINING_HEAD "field kind col a | label nosuch\n", 7,
		 "unknown code set \"nosuch\"");
	load_err(f, TRAINING_HEAD "field kind col a | map nosuch\n", 7,
		 "unknown map table \"nosuch\"");
	load_err(f, TRAINING_HEAD "field end_date col a | date YYYYQQ\n", 7,
		 "bad date pattern \"YYYYQQ\"");
	load_err(f, TRAINING_HEAD "field end_date col a | date YYYYMMDD YYYYMM\n",
		 7, "bad date pattern \"YYYYMM\"");
	load_err(f, TRAINING_HEAD "field end_date col a | month YYYYDD\n", 7,
		 "bad month pattern \"YYYYDD\"");
	load_err(f, TRAINING_HEAD "field end_date col a | date\n", 7,
		 "needs at least one pattern");
	load_err(f, TRAINING_HEAD "field kind col a | frob\n", 7,
		 "unknown transform \"frob\"");
	load_err(f, TRAINING_HEAD "field kind col a | trim x\n", 7,
		 "takes no argument");
	load_err(f, TRAINING_HEAD "field kind col a trim\n", 7,
		 "expected \"|\" before \"trim\"");
	load_err(f, TRAINING_HEAD "field kind col a |\n", 7,
		 "missing transform");
	load_err(f, TRAINING_HEAD "field kind col a | bool 是\n", 7, "bool");
	load_err(f, TRAINING_HEAD "field kind pos 0\n", 7,
		 "bad column position \"0\"");
	load_err(f, TRAINING_HEAD "field kind pos -3\n", 7,
		 "bad column position \"-3\"");
	load_err(f, TRAINING_HEAD "field kind pos 2x\n", 7,
		 "bad column position \"2x\"");
	load_err(f, TRAINING_HEAD "field kind row 2\n", 7,
		 "unknown source \"row\"");
	load_err(f, TRAINING_HEAD "field kind col\n", 7, "expected");
}

static void t_err_syntax(void **state)
{
	struct fx *f = *state;

	load_err(f, TRAINING_HEAD "\nfield provider col \"a b\n", 8,
		 "unclosed quote");
	load_err(f, TRAINING_HEAD "field provider col \"a\"b\n", 7,
		 "unclosed quote");
	load_err(f, TRAINING_HEAD "field kind col a | map m\n\nmap m\n  x 1\n"
		 "  y 2\n", 9, "map \"m\" has no \"end\"");
	load_err(f, TRAINING_HEAD "map m\n  x 1\n  x 2\nend\n", 7,
		 "map \"m\" lists \"x\" twice");
	load_err(f, TRAINING_HEAD "map m\n  x 1 2\nend\n", 8, "FROM TO");
	load_err(f, TRAINING_HEAD "map m\nend\nmap m\nend\n", 9,
		 "map \"m\" defined twice");
}

static void t_err_keys(void **state)
{
	struct fx *f = *state;

	/* the error names the category line: that is what needs the key */
	load_err(f, "format csv\n\ncategory training\nfield id_type const 1\n"
		 "field id_number col id\nfield project col p\n", 3,
		 "key field \"start_date\" of \"training\" is not mapped");
	load_err(f, "format csv\ncategory teacher\nfield id_type const 1\n", 2,
		 "key field \"id_number\"");
	load_err(f, "category training\n", 1, "missing \"format\"");
	load_err(f, "format csv\n", 1, "missing \"category\"");
}

/* ---- binding ------------------------------------------------------------ */

static void t_bind(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "身份证件号", "项目", "开始" };
	static const char *const vals[] = { "410105198003130119", "国培", "2024-07-01" };
	struct fake k;
	char want[256];

	load_ok(f, "format csv\ncategory training\n"
		"field id_type    const 1\n"
		"field id_number  col 身份证件号\n"
		"field project    col 项目\n"
		"field start_date col 开始\n"
		"field end_date   col 结束\n");
	tmerr_clear(&f->err);
	assert_int_equal(mapping_bind(f->m, names, 3, "in.csv", &f->err), -1);
	assert_int_equal(f->err.code, TMERR_MAPPING);
	assert_string_equal(f->err.file, f->path);
	assert_int_equal(f->err.line, 7);
	assert_non_null(strstr(f->err.msg, "\"in.csv\""));
	assert_non_null(strstr(f->err.msg, "\"结束\""));
	assert_non_null(strstr(f->err.msg, "\"end_date\""));

	/* col? with the column absent: bound, and the field is not supplied */
	load_ok(f, "format csv\ncategory training\n"
		"field id_type    const 1\n"
		"field id_number  col 身份证件号\n"
		"field project    col 项目\n"
		"field start_date col 开始\n"
		"field end_date   col? 结束\n");
	bind_ok(f, names, 3);
	assert_int_equal(f->m->fields[4].colidx, -1);
	fake_rec(&k, 3, names, vals);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
	assert_int_equal(f->row.line, 7);
	assert_false(f->row.supplied[fld(f, "end_date")]);
	assert_false(f->row.supplied[fld(f, "provider")]);
	assert_val(f, "id_type", "1");
	assert_val(f, "id_number", "410105198003130119");
	assert_val(f, "project", "国培");
	assert_val(f, "start_date", "2024-07-01");

	/* col? with the column present: supplied */
	{
		static const char *const n4[] = { "结束", "身份证件号", "项目", "开始" };
		static const char *const v4[] = { "", "410105198003130119", "国培", "2024-07-01" };

		bind_ok(f, n4, 4);
		assert_int_equal(f->m->fields[4].colidx, 0);
		fake_rec(&k, 4, n4, v4);
		assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
		assert_true(f->row.supplied[fld(f, "end_date")]);
		assert_int_equal(f->row.len[fld(f, "end_date")], 0);
		assert_val(f, "project", "国培");
	}

	/* a header match is exact: no trimming, no case folding */
	{
		static const char *const n3[] = { "身份证件号 ", "项目", "开始" };

		tmerr_clear(&f->err);
		assert_int_equal(mapping_bind(f->m, n3, 3, "x.csv", &f->err), -1);
		assert_int_equal(f->err.line, 4);
		snprintf(want, sizeof(want), "%s", "\"身份证件号\"");
		assert_non_null(strstr(f->err.msg, want));
	}
}

static void t_pos(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "", "", "", "" };
	static const char *const vals[] = { "x", " 41010519800313011x ", "国培", "20240701" };
	struct fake k;

	load_ok(f, "format csv\nheader no\ncategory training\n"
		"field id_type    const 1\n"
		"field id_number  pos 2 | trim | upper\n"
		"field project    pos 3\n"
		"field start_date pos 4 | date YYYYMMDD\n"
		"field provider   pos 9\n");
	bind_ok(f, names, 4);
	fake_rec(&k, 4, names, vals);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
	assert_val(f, "id_number", "41010519800313011X");
	assert_val(f, "project", "国培");
	assert_val(f, "start_date", "2024-07-01");
	/* beyond the record: supplied and empty */
	assert_true(f->row.supplied[fld(f, "provider")]);
	assert_int_equal(f->row.len[fld(f, "provider")], 0);

	/* with a header, a position past the header is an error */
	load_ok(f, TRAINING_HEAD "field provider pos 5\n");
	tmerr_clear(&f->err);
	assert_int_equal(mapping_bind(f->m, names, 4, "in.csv", &f->err), -1);
	assert_string_equal(f->err.file, f->path);
	assert_int_equal(f->err.line, 7);
}

/* ---- transforms --------------------------------------------------------- */

static void t_trim(void **state)
{
	struct fx *f = *state;

	xf_ok(f, " | trim", NULL, "  a b\t ", "a b");
	xf_ok(f, " | trim", NULL, "\xe3\x80\x80张三\xe3\x80\x80 \xe3\x80\x80", "张三");
	xf_ok(f, " | trim", NULL, "\t\xe3\x80\x80 x", "x");
	xf_ok(f, " | trim", NULL, "abc", "abc");
	/* U+3000 inside is kept */
	xf_ok(f, " | trim", NULL, "a\xe3\x80\x80" "b", "a\xe3\x80\x80" "b");
	/* other characters with 0xE3 lead are not blanks */
	xf_ok(f, " | trim", NULL, "\xe3\x80\x81", "\xe3\x80\x81");
	xf_ok(f, " | trim", NULL, "  \xe3\x80\x80 ", "");
	assert_int_equal(f->row.len[fld(f, "provider")], 0);
	/* without trim, blanks are kept */
	xf_ok(f, "", NULL, " a ", " a ");
}

static void t_case(void **state)
{
	struct fx *f = *state;

	xf_ok(f, " | upper", NULL, "41010519800313011x", "41010519800313011X");
	xf_ok(f, " | upper", NULL, "aBc张z", "ABC张Z");
	xf_ok(f, " | lower", NULL, "LiMing_LY@QQ.com", "liming_ly@qq.com");
	xf_ok(f, " | lower", NULL, "already", "already");
	xf_ok(f, " | trim | upper | lower", NULL, " MiX ", "mix");
}

static void t_date(void **state)
{
	struct fx *f = *state;
	const char *p = " | date YYYYMMDD YYYY-M-D YYYY年M月D日";

	xf_ok(f, p, NULL, "19800313", "1980-03-13");
	xf_ok(f, p, NULL, "1980-3-5", "1980-03-05");
	xf_ok(f, p, NULL, "1980-03-05", "1980-03-05");
	xf_ok(f, p, NULL, "1980-12-31", "1980-12-31");
	xf_ok(f, p, NULL, "1980年3月5日", "1980-03-05");
	xf_ok(f, p, NULL, "2000年02月29日", "2000-02-29");
	xf_ok(f, p, NULL, "", "");
	xf_rej(f, p, NULL, "20230230", "date");
	xf_rej(f, p, NULL, "2023-2-29", "date");
	xf_rej(f, p, NULL, "1900年2月29日", "date");
	xf_rej(f, p, NULL, "00000000", "date");
	xf_rej(f, p, NULL, "19801301", "date");
	xf_rej(f, p, NULL, "198003131", "date");
	xf_rej(f, p, NULL, "1980-03-13x", "date");
	xf_rej(f, p, NULL, "1980/03/13", "date");
	xf_rej(f, p, NULL, "1980-123-1", "date");
	/* first matching pattern wins; the order does not change the value */
	xf_ok(f, " | date YYYY.MM.DD YYYYMMDD", NULL, "20240102", "2024-01-02");
	xf_ok(f, " | trim | date YYYY.M.D", NULL, " 2024.1.2 ", "2024-01-02");
}

static void t_month(void **state)
{
	struct fx *f = *state;
	const char *p = " | month YYYYMM YYYY-M YYYY年M月";

	xf_ok(f, p, NULL, "200509", "2005-09");
	xf_ok(f, p, NULL, "2005-9", "2005-09");
	xf_ok(f, p, NULL, "2005-12", "2005-12");
	xf_ok(f, p, NULL, "2005年9月", "2005-09");
	xf_ok(f, p, NULL, "2005年09月", "2005-09");
	xf_ok(f, p, NULL, "", "");
	xf_rej(f, p, NULL, "200513", "month");
	xf_rej(f, p, NULL, "2005-0", "month");
	xf_rej(f, p, NULL, "20050901", "month");
	xf_rej(f, p, NULL, "2005.09", "month");
	xf_rej(f, p, NULL, "000001", "month");
}

static void t_bool(void **state)
{
	struct fx *f = *state;

	xf_ok(f, " | bool 是 否", NULL, "是", "true");
	xf_ok(f, " | bool 是 否", NULL, "否", "false");
	xf_ok(f, " | bool 是 否", NULL, "", "");
	xf_ok(f, " | trim | bool Y N", NULL, " Y ", "true");
	xf_rej(f, " | bool 是 否", NULL, "对", "bool");
	xf_rej(f, " | bool 是 否", NULL, "是的", "bool");
	xf_rej(f, " | bool 是 否", NULL, "true", "bool");
	assert_non_null(strstr(f->err.msg, "\"是\""));
}

static void t_map(void **state)
{
	struct fx *f = *state;
	const char *tab = "map m\n  党员 01\n  团员 03\n  \"a b\" \"c d\"\n  群众 13\nend\n";

	xf_ok(f, " | map m", tab, "党员", "01");
	xf_ok(f, " | map m", tab, "群众", "13");
	xf_ok(f, " | map m", tab, "a b", "c d");
	xf_ok(f, " | map m", tab, "", "");
	xf_rej(f, " | map m", tab, "民盟", "map");
	assert_non_null(strstr(f->err.msg, "\"m\""));
	/* prefixes and extensions of an entry are not entries */
	xf_rej(f, " | map m", tab, "党", "map");
	xf_rej(f, " | map m", tab, "党员员", "map");
	xf_ok(f, " | map m keep", tab, "团员", "03");
	xf_ok(f, " | map m keep", tab, "民盟", "民盟");
	/* a table may be defined after its use */
	xf_ok(f, " | map m keep | label political", tab, "民盟盟员", "05");
	xf_ok(f, " | map m keep | label political", tab, "团员", "03");
}

static void t_label(void **state)
{
	struct fx *f = *state;

	xf_ok(f, " | label ethnicity", NULL, "汉族", "01");
	xf_ok(f, " | label ethnicity", NULL, "03", "03");
	xf_ok(f, " | label ethnicity", NULL, "外国血统中国籍人士", "98");
	xf_ok(f, " | label ethnicity", NULL, "", "");
	xf_ok(f, " | label gender", NULL, "女", "2");
	xf_ok(f, " | label division", NULL, "410105", "410105");
	xf_ok(f, " | label degree", NULL, "201", "201");
	xf_rej(f, " | label ethnicity", NULL, "穿青人", "code");
	assert_non_null(strstr(f->err.msg, "\"ethnicity\""));
	xf_rej(f, " | label ethnicity", NULL, "汉", "code");
	xf_rej(f, " | label ethnicity", NULL, "99", "code");
}

static void t_default_const(void **state)
{
	struct fx *f = *state;

	xf_ok(f, " | default 9", NULL, "", "9");
	xf_ok(f, " | default 9", NULL, "3", "3");
	xf_ok(f, " | trim | default 居民身份证 | label id_type", NULL, "  ", "1");
	xf_ok(f, " | trim | default 居民身份证 | label id_type", NULL, "护照", "A");
	xf_ok(f, " | default \"x y\"", NULL, "", "x y");
}

static void t_const(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "v" };
	static const char *const vals[] = { "ignored" };
	struct fake k;

	load_ok(f, "format csv\ncategory training\n"
		"field id_type    const 居民身份证 | label id_type\n"
		"field id_number  const 41010519800313011x | upper\n"
		"field project    const \"国培 计划\"\n"
		"field start_date const 2024年7月1日 | date YYYY年M月D日\n"
		"field provider   const\n"
		"field kind       const \"\" | default 2\n");
	bind_ok(f, names, 1);
	fake_rec(&k, 1, names, vals);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
	assert_val(f, "id_type", "1");
	assert_val(f, "id_number", "41010519800313011X");
	assert_val(f, "project", "国培 计划");
	assert_val(f, "start_date", "2024-07-01");
	assert_val(f, "provider", "");
	assert_val(f, "kind", "2");
	assert_false(f->row.supplied[fld(f, "end_date")]);
}

/* Supplied and empty vs not supplied, over several rows on one struct row. */
static void t_empty_vs_missing(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "id", "p", "s", "e", "h" };
	static const char *const v1[] = { "410105198003130119", "P", "2024-01-01", "2024-01-05", "12" };
	static const char *const v2[] = { "410105198003130119", "Q", "2024-02-01", "", "" };
	static const char *const v3[] = { "410105198003130119", "R", "2024-03-01", NULL, NULL };
	struct fake k;
	int e, h, c;

	load_ok(f, "format csv\ncategory training\n"
		"field id_type    const 1\n"
		"field id_number  col id\n"
		"field project    col p\n"
		"field start_date col s\n"
		"field end_date   col e | date YYYY-MM-DD\n"
		"field hours      col h | default 0\n"
		"field credits    col? c\n");
	bind_ok(f, names, 5);
	e = fld(f, "end_date");
	h = fld(f, "hours");
	c = fld(f, "credits");

	fake_rec(&k, 5, names, v1);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
	assert_val(f, "end_date", "2024-01-05");
	assert_val(f, "hours", "12");
	assert_false(f->row.supplied[c]);

	fake_rec(&k, 5, names, v2);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
	assert_val(f, "project", "Q");
	assert_true(f->row.supplied[e]);
	assert_int_equal(f->row.len[e], 0);
	assert_val(f, "hours", "0");
	assert_false(f->row.supplied[c]);

	/* a record missing trailing columns: those fields are empty */
	fake_rec(&k, 3, names, v3);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 0);
	assert_val(f, "project", "R");
	assert_true(f->row.supplied[e]);
	assert_int_equal(f->row.len[e], 0);
	assert_val(f, "hours", "0");
	(void)h;
}

/* A personal field's rejected value is masked in the error. */
static void t_reject_masked(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "id", "b", "t" };
	static const char *const vals[] = { "410105198003130119", "19800230", "13812345678" };
	static const char *const vals2[] = { "410105198003130119", "19800313", "a13812345678" };
	struct fake k;

	load_ok(f, "format csv\ncategory teacher\n"
		"field id_type    const 1\n"
		"field id_number  col id\n"
		"field birth_date col b | date YYYYMMDD\n"
		"field phone      col t | map ph\n"
		"map ph\nend\n");
	bind_ok(f, names, 3);
	fake_rec(&k, 3, names, vals);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 1);
	assert_string_equal(f->err.field, "birth_date");
	assert_string_equal(f->err.rule, "date");
	assert_null(strstr(f->err.value, "1980"));
	assert_null(strstr(f->err.msg, "1980"));

	fake_rec(&k, 3, names, vals2);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 1);
	assert_string_equal(f->err.field, "phone");
	assert_string_equal(f->err.rule, "map");
	assert_null(strstr(f->err.value, "13812345678"));
	assert_null(strstr(f->err.msg, "13812345678"));
}

/* A hostile value larger than the scratch space is a reject, not growth. */
static void t_huge_value(void **state)
{
	struct fx *f = *state;
	size_t n = 300 * 1024;
	char *big = malloc(n + 1);

	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	xf_map(f, " | upper", NULL);
	assert_int_equal(xf_run(f, big), 1);
	assert_string_equal(f->err.field, "provider");
	assert_true(strlen(f->err.value) < sizeof(f->err.value));
	free(big);
}

/* Scratch used up by earlier fields: later transforms reject the row (with
 * field and rule), never fail without saying why. */
static void t_scratch_full(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "a", "b", "c", "d" };
	const char *vals[4];
	char *a = malloc(131000 + 1), *b = malloc(131138 + 1);
	struct fake k;

	assert_non_null(a);
	assert_non_null(b);
	memset(a, 'a', 131000);
	a[131000] = '\0';
	memset(b, 'b', 131138);
	b[131138] = '\0';
	load_ok(f, "format csv\ncategory training\n"
		"field id_type    const 1\n"
		"field id_number  const 410105198003130119\n"
		"field start_date const 2020-01-01\n"
		"field project    col a | upper\n"
		"field provider   col b | upper\n"
		"field end_date   col c | date YYYYMMDD\n"
		"field kind       col d | label training_kind\n");
	bind_ok(f, names, 4);
	vals[0] = a;
	vals[1] = b;
	vals[2] = "20240101";
	vals[3] = "";
	fake_rec(&k, 4, names, vals);
	tmerr_clear(&f->err);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 1);
	assert_string_equal(f->err.field, "end_date");
	assert_true(f->err.rule[0] != '\0');

	vals[2] = "";
	vals[3] = "no such label";
	fake_rec(&k, 4, names, vals);
	tmerr_clear(&f->err);
	assert_int_equal(row_map(&f->row, f->m, &k.rec, &f->err), 1);
	assert_string_equal(f->err.field, "kind");
	assert_true(f->err.rule[0] != '\0');
	free(a);
	free(b);
}

/* ---- patterns directly -------------------------------------------------- */

static void t_pattern_check(void **state)
{
	(void)state;
	assert_int_equal(pattern_check("YYYYMMDD", 1), 0);
	assert_int_equal(pattern_check("YYYY-M-D", 1), 0);
	assert_int_equal(pattern_check("YYYY年M月D日", 1), 0);
	assert_int_equal(pattern_check("YYYY.MM.DD", 1), 0);
	assert_int_equal(pattern_check("DD/MM/YYYY", 1), 0);
	assert_int_equal(pattern_check("YYYYMM", 0), 0);
	assert_int_equal(pattern_check("YYYY-M", 0), 0);
	assert_int_equal(pattern_check("YYYY年M月", 0), 0);
	assert_int_equal(pattern_check("YYYY.MM", 0), 0);

	assert_int_equal(pattern_check("YYYYMM", 1), -1);
	assert_int_equal(pattern_check("YYYYMMDD", 0), 0); /* the day is checked, then dropped */
	assert_int_equal(pattern_check("YYYYDD", 0), -1);
	assert_int_equal(pattern_check("YYYYQQ", 1), -1);
	assert_int_equal(pattern_check("YYYYQQ", 0), -1);
	assert_int_equal(pattern_check("YYYYMMDDhh", 1), -1);
	assert_int_equal(pattern_check("YYMMDD", 1), -1);
	assert_int_equal(pattern_check("YYYYYMMDD", 1), -1);
	assert_int_equal(pattern_check("YYYY-MM-DD-DD", 1), -1);
	assert_int_equal(pattern_check("YYYYYYYYMMDD", 1), -1);
	assert_int_equal(pattern_check("MMDD", 1), -1);
	assert_int_equal(pattern_check("", 1), -1);
	assert_int_equal(pattern_check("yyyymmdd", 1), -1);
}

static void t_pattern_date(void **state)
{
	struct ymd t;

	(void)state;
	assert_int_equal(pattern_date("YYYYMMDD", "19800313", 8, &t, 1), 0);
	assert_int_equal(t.y, 1980);
	assert_int_equal(t.m, 3);
	assert_int_equal(t.d, 13);
	assert_int_equal(pattern_date("YYYY-M-D", "2024-2-29", 9, &t, 1), 0);
	assert_int_equal(t.m, 2);
	assert_int_equal(t.d, 29);
	assert_int_equal(pattern_date("DD/MM/YYYY", "31/12/1999", 10, &t, 1), 0);
	assert_int_equal(t.y, 1999);
	assert_int_equal(t.d, 31);
	assert_int_equal(pattern_date("YYYYMM", "200509", 6, &t, 0), 0);
	assert_int_equal(t.y, 2005);
	assert_int_equal(t.m, 9);
	assert_int_equal(t.d, 1);
	/* the length bounds the parse: no reading past n */
	assert_int_equal(pattern_date("YYYYMMDD", "1980031399", 8, &t, 1), 0);
	assert_int_equal(t.d, 13);

	assert_int_equal(pattern_date("YYYY-M-D", "2023-2-29", 9, &t, 1), -1);
	assert_int_equal(pattern_date("YYYYMMDD", "1980313", 7, &t, 1), -1);
	assert_int_equal(pattern_date("YYYYMMDD", "198003131", 9, &t, 1), -1);
	assert_int_equal(pattern_date("YYYYMMDD", "19800300", 8, &t, 1), -1);
	assert_int_equal(pattern_date("YYYYMMDD", "00000101", 8, &t, 1), -1);
	assert_int_equal(pattern_date("YYYYMM", "200500", 6, &t, 0), -1);
	assert_int_equal(pattern_date("YYYY-M", "2005-", 5, &t, 0), -1);
	assert_int_equal(pattern_date("YYYY-M", "2005-+1", 7, &t, 0), -1);
	assert_int_equal(pattern_date("YYYY-M", "", 0, &t, 0), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(t_directives),
		T(t_defaults),
		T(t_shipped),
		T(t_err_directive),
		T(t_err_field),
		T(t_err_syntax),
		T(t_err_keys),
		T(t_bind),
		T(t_pos),
		T(t_trim),
		T(t_case),
		T(t_date),
		T(t_month),
		T(t_bool),
		T(t_map),
		T(t_label),
		T(t_default_const),
		T(t_const),
		T(t_empty_vs_missing),
		T(t_reject_masked),
		T(t_huge_value),
		T(t_scratch_full),
		T(t_pattern_check),
		T(t_pattern_date),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
