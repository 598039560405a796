/*
 * check: the national validation rules applied to one mapped row
 * (indicators.md), normalising values in place to what COPY expects.
 *
 * A struct checker is built once per category (checker_init never fails
 * beyond returning -1 on a bad argument) and is read-only afterwards.
 */
#ifndef TMISGW_CHECK_H
#define TMISGW_CHECK_H

#include "defs.h"
#include "err.h"
#include "mapping.h"
#include "validate.h"

struct checker {
	const struct defs *defs;
	const struct category_def *cat;
	struct ymd today;
	/* fields required in every indicator set the category applies to */
	unsigned char required[MAP_MAX_FIELDS];
	int f_id_type, f_id_number, f_birth, f_gender, f_qtype, f_set;
};

int checker_init(struct checker *c, const struct defs *d,
		 const struct category_def *cat, const struct ymd *today);

/* 0 = valid (values normalised in r), 1 = rejected (err: field, rule, masked
 * value, message). */
int row_check(const struct checker *c, struct row *r, struct tmerr *err);

/* The same, on the key fields only: what a delete row must carry. */
int row_check_keys(const struct checker *c, struct row *r, struct tmerr *err);

/* Masked teacher key "1:410105********0493" of a row, into out. */
void row_teacher_key(const struct row *r, char *out, size_t outsz);

#endif
