#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../etl/bloom.h"

static uint64_t key_hash(long i)
{
	char id[32];
	int n = snprintf(id, sizeof(id), "4101051980%08ld", i);

	return bloom_hash(bloom_hash(0, "1", 1), id, (size_t)n);
}

/* A key added once is "certainly new"; added again it "may be present". */
static void t_seen_twice(void **state)
{
	struct bloom *b = bloom_new((size_t)1 << 20, 6);

	(void)state;
	assert_non_null(b);
	assert_int_equal(bloom_add(b, key_hash(1)), 0);
	assert_int_equal(bloom_add(b, key_hash(1)), 1);
	bloom_clear(b);
	assert_int_equal(bloom_add(b, key_hash(1)), 0);
	bloom_free(b);
}

/* One million distinct keys in the loader's 16 MiB filter: almost all of
 * them take the direct path (false positives only cost a staging check). */
static void t_false_positives(void **state)
{
	struct bloom *b = bloom_new((size_t)1 << 27, 6);
	long fp = 0;

	(void)state;
	assert_non_null(b);
	for (long i = 0; i < 1000000; i++)
		fp += bloom_add(b, key_hash(i));
	assert_true(fp < 1000); /* < 0.1 % */
	bloom_free(b);
}

/* Key parts are separated: ("ab", "c") and ("a", "bc") differ. */
static void t_parts(void **state)
{
	(void)state;
	assert_true(bloom_hash(bloom_hash(0, "ab", 2), "c", 1) !=
		    bloom_hash(bloom_hash(0, "a", 1), "bc", 2));
	assert_null(bloom_new(1024, 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_seen_twice),
		cmocka_unit_test(t_false_positives),
		cmocka_unit_test(t_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
