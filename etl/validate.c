#include "validate.h"

#include <string.h>
#include <time.h>

#define YEAR_MIN 1900
#define YEAR_MAX 2100

/* 1 for every province code of GB/T 2260 plus 66 (XPCC), 71, 81, 82. */
static const unsigned char province_tab[100] = {
	[11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1,
	[21] = 1, [22] = 1, [23] = 1,
	[31] = 1, [32] = 1, [33] = 1, [34] = 1, [35] = 1, [36] = 1, [37] = 1,
	[41] = 1, [42] = 1, [43] = 1, [44] = 1, [45] = 1, [46] = 1,
	[50] = 1, [51] = 1, [52] = 1, [53] = 1, [54] = 1,
	[61] = 1, [62] = 1, [63] = 1, [64] = 1, [65] = 1, [66] = 1,
	[71] = 1, [81] = 1, [82] = 1,
};

static const int id_weights[17] = {
	7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
};

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Value of n ASCII digits at s, or -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m)
{
	static const unsigned char dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m < 1 || m > 12)
		return 0;
	if (m == 2 && is_leap(y))
		return 29;
	return dim[m - 1];
}

static int ymd_valid(int y, int m, int d)
{
	return y >= YEAR_MIN && y <= YEAR_MAX && d >= 1 &&
	       d <= days_in_month(y, m);
}

int parse_year(const char *s, size_t n, int *out)
{
	int y;

	if (n != 4 || (y = digits(s, 4)) < YEAR_MIN || y > YEAR_MAX)
		return -1;
	if (out)
		*out = y;
	return 0;
}

int parse_month(const char *s, size_t n, struct ymd *out)
{
	int y, m;

	if (n != 7 || s[4] != '-')
		return -1;
	y = digits(s, 4);
	m = digits(s + 5, 2);
	if (y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12)
		return -1;
	if (out) {
		out->y = y;
		out->m = m;
		out->d = 1;
	}
	return 0;
}

int parse_date(const char *s, size_t n, struct ymd *out)
{
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	y = digits(s, 4);
	m = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (m < 0 || d < 0 || !ymd_valid(y, m, d))
		return -1;
	if (out) {
		out->y = y;
		out->m = m;
		out->d = d;
	}
	return 0;
}

int ymd_cmp(const struct ymd *a, const struct ymd *b)
{
	if (a->y != b->y)
		return a->y < b->y ? -1 : 1;
	if (a->m != b->m)
		return a->m < b->m ? -1 : 1;
	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return 0;
}

void ymd_today(struct ymd *out)
{
	time_t t = time(NULL);
	struct tm tm;

	if (localtime_r(&t, &tm)) {
		out->y = tm.tm_year + 1900;
		out->m = tm.tm_mon + 1;
		out->d = tm.tm_mday;
	} else {
		out->y = YEAR_MAX;
		out->m = 12;
		out->d = 31;
	}
}

int province_valid(const char *two)
{
	int p = digits(two, 2);

	return p >= 0 && province_tab[p];
}

char id_check_char(const char *first17)
{
	int i, sum = 0;

	for (i = 0; i < 17; i++) {
		if (!is_digit(first17[i]))
			return '\0';
		sum += (first17[i] - '0') * id_weights[i];
	}
	return "10X98765432"[sum % 11];
}

char *id_normalise(char *s, size_t n)
{
	if (n > 0 && s[n - 1] == 'x')
		s[n - 1] = 'X';
	return s;
}

const char *check_resident_id(const char *s, size_t n, const struct ymd *today,
			      struct ymd *birth, int *male)
{
	struct ymd b;

	if (n != 18 || !all_digits(s, 17) || !(is_digit(s[17]) || s[17] == 'X'))
		return "id_length";
	if (!province_valid(s))
		return "id_division";
	b.y = digits(s + 6, 4);
	b.m = digits(s + 10, 2);
	b.d = digits(s + 12, 2);
	if (!ymd_valid(b.y, b.m, b.d) || (today && ymd_cmp(&b, today) > 0))
		return "id_birth_date";
	if (id_check_char(s) != s[17])
		return "id_checksum";
	if (birth)
		*birth = b;
	if (male)
		*male = (s[16] - '0') & 1;
	return NULL;
}

const char *check_school_code(const char *s, size_t n)
{
	if (n != 10 || !all_digits(s, 10) || !province_valid(s + 2))
		return "school_code";
	return NULL;
}

const char *check_certificate_no(const char *s, size_t n, const char *qtype,
				 size_t qlen, const struct ymd *today)
{
	int y, ymax = today ? today->y : YEAR_MAX;

	if (n != 17 || !all_digits(s, 17))
		return "certificate_no";
	y = digits(s, 4);
	if (y < YEAR_MIN || y > ymax || !province_valid(s + 4))
		return "certificate_no";
	if (qtype && qlen) {
		/* a code written "02" still means type 2 */
		while (qlen > 1 && qtype[0] == '0') {
			qtype++;
			qlen--;
		}
		if (qlen != 1 || qtype[0] != s[9])
			return "certificate_type";
	}
	return NULL;
}

/* Mobile: 1[3-9] and nine more digits. */
static int is_mobile(const char *s, size_t n)
{
	return n == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' &&
	       all_digits(s, 11);
}

/* Landline: area code 0 + 2-3 digits (not 00), optional '-', 7-8 digits. */
static int is_landline(const char *s, size_t n)
{
	size_t dash;

	if (n < 3 || s[0] != '0' || s[1] == '0')
		return 0;
	for (dash = 0; dash < n && s[dash] != '-'; dash++)
		;
	if (dash == n)
		return n >= 10 && n <= 12 && all_digits(s, n);
	return (dash == 3 || dash == 4) && all_digits(s, dash) &&
	       n - dash - 1 >= 7 && n - dash - 1 <= 8 &&
	       all_digits(s + dash + 1, n - dash - 1);
}

const char *check_phone(const char *s, size_t n)
{
	if (is_mobile(s, n) || is_landline(s, n))
		return NULL;
	if (n > 0 && s[0] == '+') {
		s++;
		n--;
		if (n < 2 || s[0] != '8' || s[1] != '6')
			return "phone";
	}
	if (n >= 2 && s[0] == '8' && s[1] == '6') {
		s += 2;
		n -= 2;
		if (n > 0 && (s[0] == ' ' || s[0] == '-')) {
			s++;
			n--;
		}
		if (is_mobile(s, n))
			return NULL;
	}
	return "phone";
}

static int email_local_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '/': case '=': case '?': case '^':
	case '_': case '`': case '{': case '|': case '}': case '~':
	case '.': case '-':
		return 1;
	}
	return 0;
}

static int label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || c == '-';
}

const char *check_email(const char *s, size_t n)
{
	size_t at, i, lab, labels = 0;

	if (n == 0 || n > 254)
		return "email";
	for (at = 0; at < n && s[at] != '@'; at++)
		if (!email_local_char((unsigned char)s[at]))
			return "email";
	if (at == 0 || at == n || at > 64 || s[0] == '.' || s[at - 1] == '.')
		return "email";
	for (i = 1; i < at; i++)
		if (s[i] == '.' && s[i - 1] == '.')
			return "email";
	/* domain: dot-separated labels of [A-Za-z0-9-], no edge hyphens */
	for (i = at + 1; ; i++) {
		lab = i;
		while (i < n && label_char((unsigned char)s[i]))
			i++;
		if (i == lab || i - lab > 63 || s[lab] == '-' || s[i - 1] == '-')
			return "email";
		labels++;
		if (i == n)
			break;
		if (s[i] != '.')
			return "email";
	}
	if (labels < 2 || i - lab < 2)
		return "email";
	return NULL;
}

const char *check_school_year(const char *s, size_t n)
{
	int a, b;

	if (n != 9 || s[4] != '-' || parse_year(s, 4, &a) ||
	    parse_year(s + 5, 4, &b) || b != a + 1)
		return "school_year";
	return NULL;
}

const char *check_decimal(const char *s, size_t n, double min, double max)
{
	static const double scale[5] = { 1, 10, 100, 1000, 10000 };
	size_t i = 0, ni, nf;
	long long ip = 0, fp = 0;
	double v;

	while (i < n && is_digit(s[i])) {
		if (i == 12)
			return "number";
		ip = ip * 10 + (s[i++] - '0');
	}
	ni = i;
	if (i < n && s[i] == '.')
		i++;
	nf = 0;
	while (i < n && is_digit(s[i]) && nf < 4) {
		fp = fp * 10 + (s[i++] - '0');
		nf++;
	}
	if (i != n || ni + nf == 0)
		return "number";
	v = (double)ip + (double)fp / scale[nf];
	if (v < min || v > max)
		return "range";
	return NULL;
}

const char *check_int(const char *s, size_t n, double min, double max)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > 15)
		return "number";
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return "number";
		v = v * 10 + (s[i] - '0');
	}
	if ((double)v < min || (double)v > max)
		return "range";
	return NULL;
}

const char *validate_explain(const char *rule)
{
	static const struct {
		const char *rule, *why;
	} tab[] = {
		{ "id_length", "id number is not 17 digits and a digit or X" },
		{ "id_division", "id number has no valid province code" },
		{ "id_birth_date", "id number has an impossible or future birth date" },
		{ "id_checksum", "id number check character is wrong" },
		{ "school_code", "school code is not 10 digits with a valid province" },
		{ "certificate_no", "certificate number is not year, province and 11 digits" },
		{ "certificate_type", "certificate number type digit differs from qualification type" },
		{ "phone", "not a mobile or landline phone number" },
		{ "email", "not an email address" },
		{ "school_year", "school year is not YYYY-YYYY of consecutive years" },
		{ "number", "not a non-negative decimal number" },
		{ "range", "number out of range" },
	};
	size_t i;

	if (!rule)
		return "";
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(tab[i].rule, rule))
			return tab[i].why;
	return "invalid value";
}
