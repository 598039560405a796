#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../etl/validate.h"

static const struct ymd today = { 2025, 6, 15 };

#define S(lit) (lit), (sizeof(lit) - 1)

/* Independent GB 11643 check character, so tests do not trust the code. */
static void make_id(char out[19], const char *first17)
{
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5,
				   8, 4, 2 };
	int i, sum = 0;

	for (i = 0; i < 17; i++)
		sum += (first17[i] - '0') * w[i];
	memcpy(out, first17, 17);
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}

static const char *id(const char *s)
{
	return check_resident_id(s, strlen(s), &today, NULL, NULL);
}

static void test_leap(void **state)
{
	(void)state;
	assert_true(is_leap(2024));
	assert_true(is_leap(2000));
	assert_false(is_leap(1900));
	assert_false(is_leap(2023));
	assert_int_equal(days_in_month(2024, 2), 29);
	assert_int_equal(days_in_month(2023, 2), 28);
	assert_int_equal(days_in_month(2023, 4), 30);
	assert_int_equal(days_in_month(2023, 12), 31);
	assert_int_equal(days_in_month(2023, 13), 0);
	assert_int_equal(days_in_month(2023, 0), 0);
}

static void test_dates(void **state)
{
	struct ymd d;
	int y;

	(void)state;
	assert_int_equal(parse_date(S("2024-02-29"), &d), 0);
	assert_int_equal(d.y, 2024);
	assert_int_equal(d.m, 2);
	assert_int_equal(d.d, 29);
	assert_int_equal(parse_date(S("2023-02-29"), &d), -1);
	assert_int_equal(parse_date(S("2000-02-29"), &d), 0);
	assert_int_equal(parse_date(S("1900-02-29"), &d), -1);
	assert_int_equal(parse_date(S("2023-02-30"), &d), -1);
	assert_int_equal(parse_date(S("0000-00-00"), &d), -1);
	assert_int_equal(parse_date(S("2023-04-31"), &d), -1);
	assert_int_equal(parse_date(S("2023-12-31"), &d), 0);
	assert_int_equal(parse_date(S("2023-13-01"), &d), -1);
	assert_int_equal(parse_date(S("2023-00-10"), &d), -1);
	assert_int_equal(parse_date(S("2023-01-00"), &d), -1);
	assert_int_equal(parse_date(S("1899-12-31"), &d), -1);
	assert_int_equal(parse_date(S("2101-01-01"), &d), -1);
	assert_int_equal(parse_date(S("2023-1-01"), &d), -1);
	assert_int_equal(parse_date(S("2023/01/01"), &d), -1);
	assert_int_equal(parse_date(S("2023-01-01 "), &d), -1);
	assert_int_equal(parse_date(S("2023-0a-01"), &d), -1);
	assert_int_equal(parse_date(S("+023-01-01"), &d), -1);
	assert_int_equal(parse_date(S(""), &d), -1);
	/* only n bytes are read */
	assert_int_equal(parse_date("2023-01-019", 10, &d), 0);
	assert_int_equal(parse_date(S("2023-01-01"), NULL), 0);

	assert_int_equal(parse_month(S("2023-12"), &d), 0);
	assert_int_equal(d.y, 2023);
	assert_int_equal(d.m, 12);
	assert_int_equal(d.d, 1);
	assert_int_equal(parse_month(S("2023-13"), &d), -1);
	assert_int_equal(parse_month(S("2023-00"), &d), -1);
	assert_int_equal(parse_month(S("0000-01"), &d), -1);
	assert_int_equal(parse_month(S("2023-1"), &d), -1);
	assert_int_equal(parse_month(S("202312"), &d), -1);

	assert_int_equal(parse_year(S("2025"), &y), 0);
	assert_int_equal(y, 2025);
	assert_int_equal(parse_year(S("1899"), &y), -1);
	assert_int_equal(parse_year(S("2101"), &y), -1);
	assert_int_equal(parse_year(S("20a5"), &y), -1);
	assert_int_equal(parse_year(S("02025"), &y), -1);
}

static void test_ymd_cmp(void **state)
{
	struct ymd a = { 2024, 2, 29 }, b = { 2024, 3, 1 }, c = { 2023, 12, 31 };
	struct ymd t;

	(void)state;
	assert_true(ymd_cmp(&a, &b) < 0);
	assert_true(ymd_cmp(&b, &a) > 0);
	assert_true(ymd_cmp(&c, &a) < 0);
	assert_int_equal(ymd_cmp(&a, &a), 0);
	ymd_today(&t);
	assert_true(t.y >= 2024 && t.m >= 1 && t.m <= 12 && t.d >= 1 &&
		    t.d <= days_in_month(t.y, t.m));
}

static void test_province(void **state)
{
	static const char *good[] = { "11", "15", "21", "23", "31", "37", "41",
				      "46", "50", "54", "61", "65", "66", "71",
				      "81", "82" };
	static const char *bad[] = { "00", "10", "16", "20", "24", "30", "38",
				     "40", "47", "49", "55", "60", "67", "70",
				     "80", "83", "99", "1a", "a1" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(province_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(province_valid(bad[i]));
}

static void test_id_valid(void **state)
{
	char buf[19];
	struct ymd b;
	int male = -1;

	(void)state;
	assert_int_equal(id_check_char("11010519491231002"), 'X');
	assert_int_equal(id_check_char("44052418800101001"), '4');
	assert_int_equal(id_check_char("4105011990030704a"), '\0');

	assert_null(check_resident_id(S("11010519491231002X"), &today, &b,
				      &male));
	assert_int_equal(b.y, 1949);
	assert_int_equal(b.m, 12);
	assert_int_equal(b.d, 31);
	assert_int_equal(male, 0);

	make_id(buf, "41010519900307049");
	assert_null(check_resident_id(buf, 18, &today, &b, &male));
	assert_int_equal(male, 1);
	assert_int_equal(b.y, 1990);

	/* leap day births */
	make_id(buf, "11010520000229001");
	assert_null(id(buf));
	make_id(buf, "11010519000228001");
	assert_null(id(buf));
	/* XPCC and Hong Kong codes */
	make_id(buf, "66000019800101123");
	assert_null(id(buf));
	make_id(buf, "81000019800101123");
	assert_null(id(buf));
	/* born today is fine */
	make_id(buf, "11010520250615001");
	assert_null(id(buf));
	/* no "today": no future check */
	make_id(buf, "11010520990101001");
	assert_null(check_resident_id(buf, 18, NULL, NULL, NULL));
}

static void test_id_fail(void **state)
{
	char buf[19];
	char low[] = "11010519491231002x";

	(void)state;
	/* length and characters */
	assert_string_equal(id(""), "id_length");
	assert_string_equal(id("11010519491231002"), "id_length");
	assert_string_equal(id("11010519491231002X1"), "id_length");
	assert_string_equal(id("1101051949123100XX"), "id_length");
	assert_string_equal(id("11010519491231A02X"), "id_length");
	assert_string_equal(id("11010519491231002x"), "id_length");
	assert_string_equal(id("110105 9491231002X"), "id_length");

	/* lower-case x is accepted after normalising */
	assert_ptr_equal(id_normalise(low, 18), low);
	assert_string_equal(low, "11010519491231002X");
	assert_null(id(low));
	assert_ptr_equal(id_normalise(low, 0), low);

	/* division */
	make_id(buf, "00010519491231002");
	assert_string_equal(id(buf), "id_division");
	make_id(buf, "99010519491231002");
	assert_string_equal(id(buf), "id_division");
	make_id(buf, "16010519491231002");
	assert_string_equal(id(buf), "id_division");

	/* birth date */
	make_id(buf, "11010520230229001");
	assert_string_equal(id(buf), "id_birth_date");
	make_id(buf, "11010519001301001");
	assert_string_equal(id(buf), "id_birth_date");
	make_id(buf, "11010519490230001");
	assert_string_equal(id(buf), "id_birth_date");
	make_id(buf, "11010500000000001");
	assert_string_equal(id(buf), "id_birth_date");
	make_id(buf, "11010520250616001"); /* tomorrow */
	assert_string_equal(id(buf), "id_birth_date");
	make_id(buf, "11010520300101001");
	assert_string_equal(id(buf), "id_birth_date");
	/* check character right, but born before 1900 */
	assert_string_equal(id("440524188001010014"), "id_birth_date");

	/* checksum */
	assert_string_equal(id("110105194912310021"), "id_checksum");
	assert_string_equal(id("410105199003070490"), "id_checksum");
	make_id(buf, "41010519900307049");
	buf[15] = buf[15] == '9' ? '8' : '9';
	assert_string_equal(id(buf), "id_checksum");
}

static void test_school_code(void **state)
{
	(void)state;
	assert_null(check_school_code(S("3141010501")));
	assert_null(check_school_code(S("0066000001")));
	assert_string_equal(check_school_code(S("3199010501")), "school_code");
	assert_string_equal(check_school_code(S("31410105")), "school_code");
	assert_string_equal(check_school_code(S("31410105011")), "school_code");
	assert_string_equal(check_school_code(S("314101050A")), "school_code");
	assert_string_equal(check_school_code(S("")), "school_code");
}

static void test_certificate(void **state)
{
	(void)state;
	assert_null(check_certificate_no(S("20144100121012345"), NULL, 0, &today));
	assert_null(check_certificate_no(S("20144100121012345"), S("2"), &today));
	assert_null(check_certificate_no(S("20144100121012345"), S("02"), &today));
	assert_null(check_certificate_no(S("20256610071000001"), S("7"), &today));
	assert_string_equal(check_certificate_no(S("20144100121012345"), S("3"),
						 &today), "certificate_type");
	assert_string_equal(check_certificate_no(S("20144100121012345"), S("22"),
						 &today), "certificate_type");
	/* year */
	assert_string_equal(check_certificate_no(S("20264100121012345"), NULL, 0,
						 &today), "certificate_no");
	assert_string_equal(check_certificate_no(S("18994100121012345"), NULL, 0,
						 &today), "certificate_no");
	/* province */
	assert_string_equal(check_certificate_no(S("20149900121012345"), NULL, 0,
						 &today), "certificate_no");
	/* length and characters */
	assert_string_equal(check_certificate_no(S("2014410012101234"), NULL, 0,
						 &today), "certificate_no");
	assert_string_equal(check_certificate_no(S("201441001210123456"), NULL, 0,
						 &today), "certificate_no");
	assert_string_equal(check_certificate_no(S("2014410012101234X"), NULL, 0,
						 &today), "certificate_no");
	/* syntax is reported before the type */
	assert_string_equal(check_certificate_no(S("2014410012101234X"), S("3"),
						 &today), "certificate_no");
}

static void test_phone(void **state)
{
	static const char *good[] = {
		"13812345678", "19912345678", "+8613812345678", "8613812345678",
		"+86 13812345678", "+86-13812345678", "0371-12345678",
		"037112345678", "010-12345678", "01012345678", "0371-1234567",
		"010-1234567",
	};
	static const char *bad[] = {
		"", "1381234567", "138123456789", "12812345678", "10812345678",
		"23812345678", "1381234567a", "+8713812345678", "+86",
		"+860371-12345678", "0371-123456", "0371-123456789",
		"03711-12345678", "01-12345678", "0012345678", "0371--1234567",
		"0371-1234-567", "138 1234 5678", "+13812345678", "0371123",
		"86-0371-12345678",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(check_phone(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *r = check_phone(bad[i], strlen(bad[i]));

		if (!r)
			fail_msg("phone accepted: %s", bad[i]);
		assert_string_equal(r, "phone");
	}
}

static void test_email(void **state)
{
	static const char *good[] = {
		"a@b.cn", "zhang.san@example.edu.cn", "x+tag@mail-1.example.com",
		"O'Neil@Example.COM", "user_1@163.com",
	};
	static const char *bad[] = {
		"", "a", "@b.cn", "a@", "a@b", "a@@b.cn", "a@b@c.cn", "a@.cn",
		"a@b..cn", "a@b.cn.", "a@-b.cn", "a@b-.cn", "a b@c.cn",
		".a@b.cn", "a.@b.cn", "a..b@c.cn", "a@b.c", "a@b_c.cn",
		"张@b.cn", "a@例子.cn", "a@b.cn\n",
	};
	char big[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (check_email(good[i], strlen(good[i])))
			fail_msg("email rejected: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *r = check_email(bad[i], strlen(bad[i]));

		if (!r)
			fail_msg("email accepted: %s", bad[i]);
		assert_string_equal(r, "email");
	}
	/* over 254 */
	memset(big, 'a', sizeof(big));
	memcpy(big, "x@", 2);
	memcpy(big + 250, ".cn", 3);
	assert_string_equal(check_email(big, 253), "email"); /* label > 63 */
	/* local part over 64 */
	memset(big, 'a', 70);
	memcpy(big + 65, "@b.cn", 5);
	assert_string_equal(check_email(big, 70), "email");
	memcpy(big + 64, "@b.cn", 5);
	assert_null(check_email(big, 69));
	memset(big, 'a', sizeof(big));
	for (i = 5; i < 260; i += 10)
		big[i] = '.';
	big[1] = '@';
	assert_null(check_email(big, 254));
	assert_string_equal(check_email(big, 255), "email");
}

static void test_school_year(void **state)
{
	(void)state;
	assert_null(check_school_year(S("2025-2026")));
	assert_null(check_school_year(S("1999-2000")));
	assert_string_equal(check_school_year(S("2025-2027")), "school_year");
	assert_string_equal(check_school_year(S("2025-2025")), "school_year");
	assert_string_equal(check_school_year(S("2026-2025")), "school_year");
	assert_string_equal(check_school_year(S("2025/2026")), "school_year");
	assert_string_equal(check_school_year(S("2025-26")), "school_year");
	assert_string_equal(check_school_year(S("1899-1900")), "school_year");
	assert_string_equal(check_school_year(S("2100-2101")), "school_year");
	assert_string_equal(check_school_year(S("")), "school_year");
}

static void test_decimal(void **state)
{
	(void)state;
	assert_null(check_decimal(S("0"), 0, 100));
	assert_null(check_decimal(S("12.5"), 0, 100));
	assert_null(check_decimal(S("12.3456"), 0, 100));
	assert_null(check_decimal(S(".5"), 0, 100));
	assert_null(check_decimal(S("5."), 0, 100));
	assert_null(check_decimal(S("100"), 0, 100));
	assert_null(check_decimal(S("100.0000"), 0, 100));
	assert_null(check_decimal(S("999999999999.9999"), 0, 1e13));
	assert_null(check_decimal(S("007"), 0, 100));
	assert_string_equal(check_decimal(S("100.0001"), 0, 100), "range");
	assert_string_equal(check_decimal(S("0.5"), 1, 100), "range");
	assert_string_equal(check_decimal(S("360.5"), 0, 360), "range");
	assert_string_equal(check_decimal(S("-1"), 0, 100), "number");
	assert_string_equal(check_decimal(S("+1"), 0, 100), "number");
	assert_string_equal(check_decimal(S("1e5"), 0, 1e9), "number");
	assert_string_equal(check_decimal(S("12.34567"), 0, 100), "number");
	assert_string_equal(check_decimal(S("1.2.3"), 0, 100), "number");
	assert_string_equal(check_decimal(S("."), 0, 100), "number");
	assert_string_equal(check_decimal(S(""), 0, 100), "number");
	assert_string_equal(check_decimal(S(" 1"), 0, 100), "number");
	assert_string_equal(check_decimal(S("1,5"), 0, 100), "number");
	assert_string_equal(check_decimal(S("nan"), 0, 100), "number");
	assert_string_equal(check_decimal(S("inf"), 0, 100), "number");
	assert_string_equal(check_decimal(S("1234567890123"), 0, 1e20), "number");
	assert_string_equal(check_decimal(S("99999999999999999999999"), 0, 1e30),
			    "number");
}

static void test_int(void **state)
{
	(void)state;
	assert_null(check_int(S("0"), 0, 10));
	assert_null(check_int(S("10"), 0, 10));
	assert_null(check_int(S("2"), 1, 2));
	assert_string_equal(check_int(S("11"), 0, 10), "range");
	assert_string_equal(check_int(S("0"), 1, 2), "range");
	assert_string_equal(check_int(S("3"), 1, 2), "range");
	assert_string_equal(check_int(S("-1"), 0, 10), "number");
	assert_string_equal(check_int(S("+1"), 0, 10), "number");
	assert_string_equal(check_int(S("1.0"), 0, 10), "number");
	assert_string_equal(check_int(S("1e1"), 0, 100), "number");
	assert_string_equal(check_int(S(""), 0, 10), "number");
	assert_string_equal(check_int(S("99999999999999999999"), 0, 1e30),
			    "number");
}

static void test_explain(void **state)
{
	(void)state;
	assert_string_equal(validate_explain("id_checksum"),
			    "id number check character is wrong");
	assert_string_equal(validate_explain("no_such_rule"), "invalid value");
	assert_string_equal(validate_explain(NULL), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leap),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_ymd_cmp),
		cmocka_unit_test(test_province),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_id_fail),
		cmocka_unit_test(test_school_code),
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_school_year),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_explain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
