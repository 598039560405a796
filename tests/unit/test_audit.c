/* test_audit: exchange-log filters and renderers (etl/audit.c), no database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../etl/audit.h"

static int set(struct audit_filter *f, const char *k, const char *v,
	       struct tmerr *err)
{
	tmerr_clear(err);
	return audit_filter_set(f, k, v, err);
}

static void test_filter_good(void **state)
{
	struct audit_filter f;
	struct tmerr err;

	(void)state;
	audit_filter_init(&f);
	assert_int_equal(f.limit, AUDIT_PAGE_DEFAULT);
	assert_int_equal(set(&f, "partner", "410000", &err), 0);
	assert_string_equal(f.partner, "410000");
	assert_int_equal(set(&f, "partner", "P00001", &err), 0);
	assert_int_equal(set(&f, "direction", "local", &err), 0);
	assert_int_equal(set(&f, "outcome", "accepted-with-rejects", &err), 0);
	assert_int_equal(set(&f, "since", "2026-02-29", &err), -1); /* not a leap year */
	assert_int_equal(set(&f, "since", "2028-02-29", &err), 0);
	assert_int_equal(set(&f, "until", "2026-11-28T02:00:00+08:00", &err), 0);
	assert_int_equal(set(&f, "until", "2026-11-28T02:00Z", &err), 0);
	assert_int_equal(set(&f, "until", "2026-11-28 02:00:00.123456", &err), 0);
	assert_int_equal(set(&f, "limit", "0", &err), 0);
	assert_int_equal(f.limit, 0);
	assert_int_equal(set(&f, "limit", "10000", &err), 0);
	assert_int_equal(set(&f, "offset", "200", &err), 0);
	assert_int_equal(f.offset, 200);
	assert_int_equal(set(&f, "before", "77", &err), 0);
	assert_int_equal(f.before_id, 77);
	assert_int_equal(set(&f, "id", "5", &err), 0);
	assert_int_equal(f.id, 5);
	assert_int_equal(set(&f, "token", "whatever", &err), 0);
	/* an empty form field clears */
	assert_int_equal(set(&f, "partner", "", &err), 0);
	assert_string_equal(f.partner, "");
	assert_int_equal(set(&f, "limit", "", &err), 0);
	assert_int_equal(f.limit, AUDIT_PAGE_DEFAULT);
}

static void test_filter_bad(void **state)
{
	static const char *const bad[][2] = {
		{ "partner", "41000" }, { "partner", "410000x" }, { "partner", "41000a" },
		{ "partner", "'; DROP TABLE x; --" }, { "direction", "IN" },
		{ "direction", "sideways" }, { "outcome", "Refused" },
		{ "outcome", "x' OR '1'='1" }, { "outcome", "-x" },
		{ "since", "2026-13-01" }, { "since", "2026-04-31" }, { "since", "yesterday" },
		{ "since", "2026-01-01T24:00" }, { "since", "2026-01-01T10:00+0800x" },
		{ "until", "2026-01-01T10:00:00.1234567890" }, { "until", "20260101" },
		{ "limit", "10001" }, { "limit", "-1" }, { "limit", "1e3" }, { "limit", "99999999999999" },
		{ "offset", "x" }, { "before", "0" }, { "id", "-5" }, { "id", "0" },
	};
	struct audit_filter f;
	struct tmerr err;

	(void)state;
	audit_filter_init(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(set(&f, bad[i][0], bad[i][1], &err), -1);
		assert_int_equal(err.code, TMERR_USAGE);
		assert_string_equal(err.field, bad[i][0]);
		assert_non_null(strstr(err.msg, bad[i][0]));
	}
	assert_string_equal(f.partner, "");
	assert_int_equal(f.limit, AUDIT_PAGE_DEFAULT);
	assert_int_equal(set(&f, "sort", "id", &err), -1);
	assert_non_null(strstr(err.msg, "unknown filter \"sort\""));
	/* a long value, e.g. an ID number typed by mistake, is never echoed */
	assert_int_equal(set(&f, "partner", "110105199001011234", &err), -1);
	assert_null(strstr(err.msg, "1990"));
	assert_non_null(strstr(err.msg, "not shown"));
}

static void test_time_norm(void **state)
{
	char out[40];

	(void)state;
	assert_int_equal(audit_time_norm("2026-11-28", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-28T00:00:00Z");
	assert_int_equal(audit_time_norm("2026-11-28", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-29T00:00:00Z");
	assert_int_equal(audit_time_norm("2026-12-31", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "2027-01-01T00:00:00Z");
	assert_int_equal(audit_time_norm("2026-11-28 02:00", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-28T02:00Z");
	assert_int_equal(audit_time_norm("2026-11-28T02:00:00+08:00", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-28T02:00:00+08:00");
	assert_int_equal(audit_time_norm("2026-11-28T", 0, out, sizeof(out)), -1);
}

static void fill_row(struct audit_row *r)
{
	memset(r, 0, sizeof(*r));
	r->v[AC_ID] = "42";
	r->v[AC_AT] = "2026-11-28T02:00:01.123456Z";
	r->v[AC_DIRECTION] = "in";
	r->v[AC_EVENT] = "package";
	r->v[AC_PARTNER] = "410000";
	r->v[AC_PACKAGE_ID] = "9f0c1e6a-0000-4000-8000-000000000001";
	r->v[AC_SEQUENCE] = "7";
	r->v[AC_KIND] = "full";
	r->v[AC_BYTES] = "1024";
	r->v[AC_SHA256] = "ab12";
	r->v[AC_SIGNER_FPR] = NULL;
	r->v[AC_LOADED] = "9";
	r->v[AC_REJECTED] = "5";
	r->v[AC_OUTCOME] = "refused";
	r->v[AC_ERROR] = "=cmd|' /C calc'!A0 <script>alert(\"x\")</script>\n\x1b[31m & more";
	r->v[AC_PREV_HASH] = "0000";
	r->v[AC_HASH] = "ffff";
}

static void test_text(void **state)
{
	struct buf b = BUF_INIT(1 << 16);
	struct audit_row r;

	(void)state;
	fill_row(&r);
	assert_int_equal(audit_text_header(&b), 0);
	assert_non_null(strstr(b.ptr, "OUTCOME"));
	buf_reset(&b);
	assert_int_equal(audit_text_row(&r, &b), 0);
	assert_non_null(strstr(b.ptr, "42 "));
	assert_non_null(strstr(b.ptr, "2026-11-28T02:00:01Z"));
	assert_non_null(strstr(b.ptr, "refused"));
	/* no terminal escapes, one line */
	assert_null(strchr(b.ptr, '\x1b'));
	assert_ptr_equal(strchr(b.ptr, '\n'), b.ptr + b.len - 1);
	buf_reset(&b);
	assert_int_equal(audit_show_row(&r, &b), 0);
	assert_non_null(strstr(b.ptr, "hash              ffff\n"));
	assert_non_null(strstr(b.ptr, "signer_fpr        -\n"));
	assert_null(strchr(b.ptr, '\x1b'));
	buf_release(&b);
}

static void test_json(void **state)
{
	struct buf b = BUF_INIT(1 << 16);
	struct audit_row r;

	(void)state;
	fill_row(&r);
	assert_int_equal(audit_json_row(&r, &b), 0);
	assert_non_null(strstr(b.ptr, "{\"id\":42,\"at\":\"2026-11-28T02:00:01.123456Z\""));
	assert_non_null(strstr(b.ptr, "\"signer_fpr\":null"));
	assert_non_null(strstr(b.ptr, "\"records_rejected\":5"));
	assert_non_null(strstr(b.ptr, "\\\"x\\\")\\u003c/script>\\n\\u001b[31m"));
	assert_null(strchr(b.ptr, '\n'));
	/* a full buffer leaves it unchanged */
	{
		struct buf small = BUF_INIT(40);

		assert_int_not_equal(audit_json_row(&r, &small), 0);
		assert_int_equal(small.len, 0);
		buf_release(&small);
	}
	buf_release(&b);
}

static void test_escape(void **state)
{
	struct buf b = BUF_INIT(1024);

	(void)state;
	assert_int_equal(audit_html_escape(&b, "<a href='x'>\"&\"</a>\x01"), 0);
	assert_string_equal(b.ptr, "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
	buf_reset(&b);
	assert_int_equal(audit_url_escape(&b, "2026-01-01T10:00+08:00 &x=1"), 0);
	assert_string_equal(b.ptr, "2026-01-01T10:00%2B08:00%20%26x%3D1");
	buf_release(&b);
}

static void test_filter_query(void **state)
{
	struct audit_filter f;
	struct tmerr err;
	struct buf b = BUF_INIT(1024);

	(void)state;
	audit_filter_init(&f);
	assert_int_equal(audit_filter_query(&f, 0, &b), 0);
	assert_string_equal(b.ptr, "");
	set(&f, "partner", "410000", &err);
	set(&f, "since", "2026-01-01T00:00+08:00", &err);
	set(&f, "limit", "20", &err);
	assert_int_equal(audit_filter_query(&f, 40, &b), 0);
	assert_string_equal(b.ptr, "partner=410000&since=2026-01-01T00:00%2B08:00&limit=20&offset=40");
	buf_release(&b);
}

static void test_html(void **state)
{
	struct audit_filter f;
	struct tmerr err;
	struct xlog_check chk;
	struct audit_page p = { &f, "/audit", &chk, NULL };
	struct buf b = BUF_INIT(1 << 20);
	struct audit_row r;

	(void)state;
	audit_filter_init(&f);
	set(&f, "outcome", "refused", &err);
	set(&f, "limit", "1", &err);
	set(&f, "offset", "1", &err);
	memset(&chk, 0, sizeof(chk));
	chk.entries = 3;
	chk.first_bad = 2;
	snprintf(chk.why, sizeof(chk.why), "its hash does not match <its contents>");
	fill_row(&r);
	assert_int_equal(audit_html_begin(&p, "Exchange log", &b), 0);
	assert_int_equal(audit_html_filters(&p, &b), 0);
	assert_int_equal(audit_html_table_begin(&b), 0);
	assert_int_equal(audit_html_row(&p, &r, &b), 0);
	assert_int_equal(audit_html_table_end(&p, 1, 1, &b), 0);
	assert_int_equal(audit_html_end(&b), 0);
	assert_non_null(strstr(b.ptr, "<!DOCTYPE html>"));
	assert_non_null(strstr(b.ptr, "class=\"chain-bad\" data-first-bad=\"2\""));
	assert_non_null(strstr(b.ptr, "&lt;its contents&gt;"));
	assert_non_null(strstr(b.ptr, "<form id=\"filters\""));
	assert_non_null(strstr(b.ptr, "<option value=\"refused\" selected>"));
	assert_non_null(strstr(b.ptr, "<table id=\"entries\">"));
	assert_non_null(strstr(b.ptr, "<tr class=\"entry outcome-refused dir-in\" id=\"entry-42\""));
	assert_non_null(strstr(b.ptr, "href=\"/audit?id=42\""));
	assert_non_null(strstr(b.ptr, "&lt;script&gt;alert(&quot;x&quot;)"));
	assert_null(strstr(b.ptr, "<script"));
	assert_null(strchr(b.ptr, '\x1b'));
	assert_null(strstr(b.ptr, "http:"));
	assert_null(strstr(b.ptr, "https:"));
	assert_null(strstr(b.ptr, "<link"));
	assert_null(strstr(b.ptr, "url("));
	/* newer and older links keep the filters */
	assert_non_null(strstr(b.ptr, "id=\"newer\" rel=\"prev\" href=\"/audit?outcome=refused&amp;limit=1\""));
	assert_non_null(strstr(b.ptr, "id=\"older\" rel=\"next\" href=\"/audit?outcome=refused&amp;limit=1&amp;offset=2\""));
	buf_reset(&b);
	assert_int_equal(audit_html_detail(&p, &r, &b), 0);
	assert_non_null(strstr(b.ptr, "<tr id=\"f-hash\"><th>hash</th><td class=\"hash\"><code>ffff</code>"));
	assert_non_null(strstr(b.ptr, "<tr id=\"f-prev_hash\">"));
	assert_non_null(strstr(b.ptr, "<tr id=\"f-signer_fpr\"><th>signer_fpr</th><td class=\"signer_fpr\"><span class=\"null\">"));
	/* a hostile base path is escaped */
	buf_reset(&b);
	p.base_path = "/a\"><script>";
	assert_int_equal(audit_html_filters(&p, &b), 0);
	assert_null(strstr(b.ptr, "<script"));
	/* chain not checked */
	buf_reset(&b);
	p.chain = NULL;
	p.chain_err = "reading the exchange log failed";
	assert_int_equal(audit_html_begin(&p, "x", &b), 0);
	assert_non_null(strstr(b.ptr, "chain-unknown"));
	buf_release(&b);
}

static void test_html_full(void **state)
{
	struct audit_filter f;
	struct audit_page p = { &f, "/audit", NULL, NULL };
	struct buf b = BUF_INIT(200);
	struct audit_row r;

	(void)state;
	audit_filter_init(&f);
	fill_row(&r);
	assert_int_equal(audit_html_begin(&p, "Exchange log", &b), BUF_TOOBIG);
	buf_reset(&b);
	assert_int_not_equal(audit_html_row(&p, &r, &b), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_good),
		cmocka_unit_test(test_filter_bad),
		cmocka_unit_test(test_time_norm),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_filter_query),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_html_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
