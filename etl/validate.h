/*
 * validate: the national validation rules (indicators.md) on single values.
 * Pure functions over (pointer, length); no allocation, no state. Each check
 * returns NULL when the value is valid, else the rule name that failed
 * (a static string such as "id_checksum"); validate_explain() gives a short
 * lowercase explanation of a rule name (static).
 */
#ifndef TMISGW_VALIDATE_H
#define TMISGW_VALIDATE_H

#include <stddef.h>

/* A date as days; today is passed in so tests are reproducible. */
struct ymd {
	int y, m, d;
};

int is_leap(int y);
int days_in_month(int y, int m);
/* Strict canonical parsers: "YYYY-MM-DD", "YYYY-MM", "YYYY". 0 ok, -1 bad. */
int parse_date(const char *s, size_t n, struct ymd *out);
int parse_month(const char *s, size_t n, struct ymd *out); /* d = 1 */
int parse_year(const char *s, size_t n, int *out);
int ymd_cmp(const struct ymd *a, const struct ymd *b);
/* The local calendar date now (2100-12-31 if the clock is unusable). */
void ymd_today(struct ymd *out);

/* Provinces per GB/T 2260 (+66 XPCC, 71 81 82): two ASCII digits. */
int province_valid(const char *two);

/* GB 11643-1999 resident ID: 18 chars, division, birth date not after
 * today, check char. A lower-case x must be upper-cased by the caller
 * (id_normalise) before. On success *birth and *male are filled. */
const char *check_resident_id(const char *s, size_t n, const struct ymd *today,
			      struct ymd *birth, int *male);
/* Upper-cases a trailing 'x' in place; returns s. */
char *id_normalise(char *s, size_t n);
char id_check_char(const char *first17);

const char *check_school_code(const char *s, size_t n);
/* 17 digits: year, province, issuer(3), type(1) == qualification_type
 * (qtype may be NULL to skip that part), one digit, sequence(6). */
const char *check_certificate_no(const char *s, size_t n, const char *qtype,
				 size_t qlen, const struct ymd *today);
const char *check_phone(const char *s, size_t n);
const char *check_email(const char *s, size_t n);
const char *check_school_year(const char *s, size_t n);
/* Non-negative decimal, at most 12 integer and 4 fraction digits, within
 * [min, max]. */
const char *check_decimal(const char *s, size_t n, double min, double max);
const char *check_int(const char *s, size_t n, double min, double max);

/* Static lowercase explanation of a rule name; "invalid value" if unknown,
 * never NULL. Holds no personal data. */
const char *validate_explain(const char *rule);

#endif
