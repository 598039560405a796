#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../etl/mask.h"

typedef void (*masker)(const char *, size_t, char *, size_t);

#define S(lit) (lit), (sizeof(lit) - 1)

static void check(masker m, const char *v, const char *want)
{
	char out[256];

	memset(out, 'Z', sizeof(out));
	m(v, strlen(v), out, sizeof(out));
	assert_string_equal(out, want);
}

static size_t u8_seqlen(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
}

/*
 * For every outsz from 0 to beyond the full length: nothing is written past
 * outsz, the result is the longest prefix of the full result that fits and
 * ends on a character boundary.
 */
static void check_sizes(masker m, const char *v, size_t n)
{
	char full[256], out[300];
	size_t sz, len, flen;

	m(v, n, full, sizeof(full));
	flen = strlen(full);
	for (sz = 0; sz <= flen + 2; sz++) {
		memset(out, 'Z', sizeof(out));
		m(v, n, out + 8, sz);
		assert_memory_equal(out, "ZZZZZZZZ", 8);
		assert_int_equal(out[8 + sz], 'Z');
		if (sz == 0) {
			assert_int_equal(out[8], 'Z');
			continue;
		}
		len = strlen(out + 8);
		assert_true(len < sz);
		assert_memory_equal(out + 8, full, len);
		if (len < flen) {
			/* the next character really did not fit */
			assert_int_not_equal((unsigned char)full[len] & 0xC0, 0x80);
			assert_true(len + u8_seqlen((unsigned char)full[len]) >= sz);
		}
	}
}

static void test_id(void **state)
{
	(void)state;
	check(mask_id, "410105199003070493", "410105********0493");
	check(mask_id, "11010519491231002X", "110105********002X");
	check(mask_id, "E12345678", "E1*****78");
	check(mask_id, "1234567", "12***67");
	check(mask_id, "123456", "******");
	check(mask_id, "12", "**");
	check(mask_id, "", "");
	/* counted in characters, never split */
	check(mask_id, "护照号码E1234567", "护照********67");
	/* 18 characters, some multibyte */
	check(mask_id, "张三李四王五12345678901X", "张三李四王五********901X");
	check_sizes(mask_id, S("410105199003070493"));
	check_sizes(mask_id, S("护照号码E1234567"));
}

static void test_id_small(void **state)
{
	char out[4];

	(void)state;
	mask_id(S("410105199003070493"), out, sizeof(out));
	assert_string_equal(out, "410");
	mask_id(S("410105199003070493"), out, 1);
	assert_string_equal(out, "");
	out[0] = 'Z';
	mask_id(S("410105199003070493"), out, 0);
	assert_int_equal(out[0], 'Z');
	/* a 3-byte character does not fit in 4 bytes after one byte */
	mask_id(S("A张三李四王五12345678901X"), out, sizeof(out));
	assert_string_equal(out, "A");
}

static void test_phone(void **state)
{
	(void)state;
	check(mask_phone, "13812345678", "138****5678");
	check(mask_phone, "+8613812345678", "+86*******5678");
	check(mask_phone, "0371-12345678", "037******5678");
	check(mask_phone, "1234567", "*****67");
	check(mask_phone, "123", "*23");
	check(mask_phone, "12", "**");
	check(mask_phone, "1", "*");
	check(mask_phone, "", "");
	check_sizes(mask_phone, S("13812345678"));
	check_sizes(mask_phone, S("电话13812345678"));
}

static void test_name(void **state)
{
	char out[8];

	(void)state;
	check(mask_name, "张三丰", "张**");
	check(mask_name, "张三", "张*");
	check(mask_name, "欧阳娜娜", "欧***");
	check(mask_name, "John Smith", "J*********");
	check(mask_name, "张", "*");
	check(mask_name, "", "");
	check_sizes(mask_name, S("欧阳娜娜"));
	check_sizes(mask_name, S("John Smith"));

	mask_name(S("张三丰"), out, 4);
	assert_string_equal(out, "张");
	mask_name(S("张三丰"), out, 3);
	assert_string_equal(out, "");
	mask_name(S("张三丰"), out, 5);
	assert_string_equal(out, "张*");
	/* 4-byte character kept whole or not at all */
	mask_name(S("\xf0\xa0\x80\x80" "a"), out, 4);
	assert_string_equal(out, "");
	mask_name(S("\xf0\xa0\x80\x80" "a"), out, 6);
	assert_string_equal(out, "\xf0\xa0\x80\x80*");
}

static void test_bad_bytes(void **state)
{
	(void)state;
	/* invalid and control bytes never pass through */
	check(mask_name, "\xff\xfe", "?*");
	check(mask_name, "\n\x01", "?*");
	check(mask_name, "\xe5\xbc", "?*");
	check(mask_name, "张\xe4\xb8", "张**");
	check(mask_id, "41\x1b" "105199003070493", "41?105********0493");
	check(mask_phone, "1381234567\x7f", "138****567?");
	check(mask_generic, "a@b\tc.cn", "a***@b?c.cn");
	check(mask_name, "\xc0\xaf", "?*");       /* overlong */
	check(mask_name, "\xed\xa0\x80", "?**");  /* surrogate */
	check_sizes(mask_name, S("\xff\xfe\xe5\xbc"));
}

static void test_generic(void **state)
{
	char out[4];

	(void)state;
	check(mask_generic, "1990-03-07", "***");
	check(mask_generic, "123456.78", "***");
	check(mask_generic, "x", "***");
	check(mask_generic, "", "");
	check(mask_generic, "zhang.san@example.edu.cn", "z***@example.edu.cn");
	check(mask_generic, "张三@例子.中国", "张***@例子.中国");
	check(mask_generic, "@example.cn", "***");
	check(mask_generic, "zhang@", "***");
	check_sizes(mask_generic, S("zhang.san@example.edu.cn"));
	check_sizes(mask_generic, S("张三@例子.中国"));
	check_sizes(mask_generic, S("1990-03-07"));

	mask_generic(S("1990-03-07"), out, sizeof(out));
	assert_string_equal(out, "***");
	mask_generic(S("zhang@example.cn"), out, sizeof(out));
	assert_string_equal(out, "z**");
	mask_generic(S("1990-03-07"), out, 3);
	assert_string_equal(out, "**");
}

static void test_teacher_key(void **state)
{
	char out[64], small[4];

	(void)state;
	mask_teacher_key("1", S("410105199003070493"), out, sizeof(out));
	assert_string_equal(out, "1:410105********0493");
	mask_teacher_key("A", S("E12345678"), out, sizeof(out));
	assert_string_equal(out, "A:E1*****78");
	mask_teacher_key(NULL, S("410105199003070493"), out, sizeof(out));
	assert_string_equal(out, ":410105********0493");
	mask_teacher_key("1", NULL, 0, out, sizeof(out));
	assert_string_equal(out, "1:");
	mask_teacher_key("1", S("410105199003070493"), out, 9);
	assert_string_equal(out, "1:410105");
	mask_teacher_key("1", S("410105199003070493"), small, sizeof(small));
	assert_string_equal(small, "1:4");
	mask_teacher_key("1", S("410105199003070493"), small, 2);
	assert_string_equal(small, "1");
	small[0] = 'Z';
	mask_teacher_key("1", S("410105199003070493"), small, 0);
	assert_int_equal(small[0], 'Z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_id_small),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_generic),
		cmocka_unit_test(test_teacher_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
