#include "check.h"

#include <stdio.h>
#include <string.h>

#include "mask.h"

int checker_init(struct checker *c, const struct defs *d,
		 const struct category_def *cat, const struct ymd *today)
{
	size_t s, f;
	int any = 0;

	if (cat->nfields > MAP_MAX_FIELDS)
		return -1;
	memset(c, 0, sizeof(*c));
	c->defs = d;
	c->cat = cat;
	c->today = *today;
	for (f = 0; f < cat->nfields; f++)
		c->required[f] = 1;
	for (s = 0; s < d->nsets; s++) {
		if (!d->sets[s].applicable[cat->index])
			continue;
		any = 1;
		for (f = 0; f < cat->nfields; f++)
			c->required[f] &= d->sets[s].required[cat->index][f];
	}
	if (!any)
		for (f = 0; f < cat->nfields; f++)
			c->required[f] = 0;
	for (f = 0; f < cat->nkeys; f++)
		c->required[cat->keys[f]] = 1;
	c->f_id_type = category_field(cat, "id_type");
	c->f_id_number = category_field(cat, "id_number");
	c->f_birth = category_field(cat, "birth_date");
	c->f_gender = category_field(cat, "gender");
	c->f_qtype = category_field(cat, "qualification_type");
	c->f_set = category_field(cat, "indicator_set");
	return 0;
}

static int fail(struct tmerr *err, const struct field_def *f, const char *rule,
		const char *v, size_t n, const char *msg)
{
	char masked[sizeof(err->value) * 2];

	tmerr_set(err, TMERR_INPUT, "%s", msg);
	tmerr_field(err, f->name);
	snprintf(err->rule, sizeof(err->rule), "%s", rule);
	field_mask_value(f, v, n, masked, sizeof(masked));
	tmerr_value(err, masked, strlen(masked));
	return 1;
}

/* UTF-8 characters in s (input is already valid UTF-8). */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static int parse_bool(const char *v, size_t n, const char **out)
{
	static const char *const t[] = { "true", "1", "t", "yes", "y", "是" };
	static const char *const f[] = { "false", "0", "f", "no", "n", "否" };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strlen(t[i]) == n && !strncasecmp(v, t[i], n)) {
			*out = "t";
			return 0;
		}
		if (strlen(f[i]) == n && !strncasecmp(v, f[i], n)) {
			*out = "f";
			return 0;
		}
	}
	return -1;
}

static int check_field(const struct checker *c, struct row *r, int fi,
		       struct ymd *when, struct tmerr *err)
{
	const struct field_def *f = &c->cat->fields[fi];
	const char *v = r->val[fi], *rule = NULL, *b;
	size_t n = r->len[fi];
	int y;

	switch (f->type) {
	case FT_TEXT:
		if (f->maxlen && utf8_chars(v, n) > f->maxlen)
			return fail(err, f, "too_long", v, n, "value is too long");
		return 0;
	case FT_CODE:
		if (!codeset_valid(f->codes, v, n))
			return fail(err, f, "code", v, n, "value is not in its code set");
		return 0;
	case FT_DATE:
		if (parse_date(v, n, when))
			return fail(err, f, "date", v, n,
				    "value is not a real date (YYYY-MM-DD)");
		break;
	case FT_MONTH:
		if (parse_month(v, n, when))
			return fail(err, f, "month", v, n,
				    "value is not a real month (YYYY-MM)");
		break;
	case FT_YEAR:
		if (parse_year(v, n, &y))
			return fail(err, f, "year", v, n, "value is not a year (YYYY)");
		when->y = y;
		when->m = 1;
		when->d = 1;
		break;
	case FT_BOOL:
		if (parse_bool(v, n, &b))
			return fail(err, f, "bool", v, n, "value is not a boolean");
		r->val[fi] = b;
		r->len[fi] = 1;
		return 0;
	case FT_DECIMAL:
		rule = check_decimal(v, n, f->min, f->max);
		break;
	case FT_INT:
		rule = check_int(v, n, f->min, f->max);
		break;
	case FT_IDNUMBER:
		return 0; /* checked with id_type, below */
	case FT_SCHOOL:
		rule = check_school_code(v, n);
		break;
	case FT_CERTNO:
		rule = check_certificate_no(v, n, NULL, 0, &c->today);
		break;
	case FT_PHONE:
		rule = check_phone(v, n);
		break;
	case FT_EMAIL:
		rule = check_email(v, n);
		break;
	case FT_SCHOOLYEAR:
		rule = check_school_year(v, n);
		break;
	}
	if (rule)
		return fail(err, f, rule, v, n, "value breaks rule");
	if ((f->type == FT_DATE || f->type == FT_MONTH || f->type == FT_YEAR) &&
	    !f->future) {
		struct ymd t = c->today;

		if (f->type != FT_DATE)
			t.d = 1;
		if (f->type == FT_YEAR)
			t.m = 1;
		if (ymd_cmp(when, &t) > 0)
			return fail(err, f, "future", v, n, "value lies in the future");
	}
	return 0;
}

static const char *rule_message(const char *rule)
{
	static const struct {
		const char *rule, *msg;
	} m[] = {
		{ "id_length", "id number is not 18 characters of digits and a final check character" },
		{ "id_division", "id number does not start with a valid division" },
		{ "id_birth_date", "id number holds no real past birth date" },
		{ "id_checksum", "id number check character is wrong" },
		{ "school_code", "school code is not 10 digits with a valid province" },
		{ "certificate_no", "certificate number is not 17 digits of year, province, issuer, type, sequence" },
		{ "certificate_type", "certificate number type disagrees with qualification_type" },
		{ "phone", "value is not a phone number" },
		{ "email", "value is not an e-mail address" },
		{ "school_year", "value is not a school year (YYYY-YYYY)" },
		{ "number", "value is not a non-negative decimal" },
		{ "range", "value is out of range" },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcmp(m[i].rule, rule))
			return m[i].msg;
	return "value breaks rule";
}

static int check_row(const struct checker *c, struct row *r, struct tmerr *err,
		     int keys_only);

int row_check(const struct checker *c, struct row *r, struct tmerr *err)
{
	return check_row(c, r, err, 0);
}

int row_check_keys(const struct checker *c, struct row *r, struct tmerr *err)
{
	return check_row(c, r, err, 1);
}

static int check_row(const struct checker *c, struct row *r, struct tmerr *err,
		     int keys_only)
{
	const struct category_def *cat = c->cat;
	const unsigned char *req = c->required;
	struct ymd when[MAP_MAX_FIELDS];
	unsigned char have[MAP_MAX_FIELDS] = { 0 };
	size_t fi;
	int rc;

	/* the teacher's own indicator set decides what it must carry */
	if (!keys_only && c->f_set >= 0 && r->supplied[c->f_set] && r->len[c->f_set]) {
		char name[64];
		const struct indicator_set *s;

		str_copy_utf8(name, sizeof(name), r->val[c->f_set], r->len[c->f_set]);
		s = defs_set(c->defs, name);
		if (!s)
			return fail(err, &cat->fields[c->f_set], "code",
				    r->val[c->f_set], r->len[c->f_set],
				    "value is not in its code set");
		req = s->required[cat->index];
	}
	for (fi = 0; fi < cat->nfields; fi++) {
		if (keys_only && !cat->fields[fi].key)
			continue;
		have[fi] = r->supplied[fi] && r->len[fi] > 0;
		if (!have[fi]) {
			/* a column the input lacks keeps the stored value; new
			 * rows lacking it are caught when staged (load.c) */
			if (req[fi] && r->supplied[fi])
				return fail(err, &cat->fields[fi], "required", "", 0,
					    "required value is missing");
			continue;
		}
		rc = check_field(c, r, (int)fi, &when[fi], err);
		if (rc) {
			if (err->msg[0] == 'v' && !strcmp(err->msg, "value breaks rule"))
				snprintf(err->msg, sizeof(err->msg), "%s",
					 rule_message(err->rule));
			return rc;
		}
	}
	/* identity */
	if (have[c->f_id_number] && r->len[c->f_id_type] == 1 &&
	    r->val[c->f_id_type][0] == '1') {
		const struct field_def *f = &cat->fields[c->f_id_number];
		const char *v = r->val[c->f_id_number], *rule;
		size_t n = r->len[c->f_id_number];
		struct ymd birth;
		int male;

		if (n == 18 && v[17] == 'x')
			return fail(err, f, "id_length", v, n,
				    "id number has a lower-case x (map it with \"| upper\")");
		rule = check_resident_id(v, n, &c->today, &birth, &male);
		if (rule)
			return fail(err, f, rule, v, n, rule_message(rule));
		if (keys_only)
			return 0;
		if (c->f_birth >= 0 && have[c->f_birth] &&
		    ymd_cmp(&when[c->f_birth], &birth))
			return fail(err, &cat->fields[c->f_birth], "birth_mismatch",
				    r->val[c->f_birth], r->len[c->f_birth],
				    "birth date disagrees with the id number");
		if (c->f_gender >= 0 && have[c->f_gender] &&
		    r->len[c->f_gender] == 1 &&
		    (r->val[c->f_gender][0] == '1' || r->val[c->f_gender][0] == '2') &&
		    (r->val[c->f_gender][0] == '1') != male)
			return fail(err, &cat->fields[c->f_gender], "gender_mismatch",
				    r->val[c->f_gender], r->len[c->f_gender],
				    "gender disagrees with the id number");
	} else if (have[c->f_id_number]) {
		const struct field_def *f = &cat->fields[c->f_id_number];

		if (r->len[c->f_id_number] < 4 || r->len[c->f_id_number] > 40)
			return fail(err, f, "id_length", r->val[c->f_id_number],
				    r->len[c->f_id_number],
				    "id number length is implausible");
	}
	/* certificate type agrees with qualification type */
	for (fi = 0; !keys_only && fi < cat->nfields; fi++) {
		const struct field_def *f = &cat->fields[fi];

		if (f->type == FT_CERTNO && have[fi] && c->f_qtype >= 0 &&
		    have[c->f_qtype] &&
		    check_certificate_no(r->val[fi], r->len[fi], r->val[c->f_qtype],
					 r->len[c->f_qtype], &c->today))
			return fail(err, f, "certificate_type", r->val[fi], r->len[fi],
				    rule_message("certificate_type"));
		if (f->after >= 0 && have[fi] && have[f->after] &&
		    ymd_cmp(&when[fi], &when[f->after]) < 0)
			return fail(err, f, "end_before_start", r->val[fi], r->len[fi],
				    "value lies before its start");
	}
	return 0;
}

void row_teacher_key(const struct row *r, char *out, size_t outsz)
{
	char t[8] = "?", id[80] = "";
	int ft = category_field(r->cat, "id_type");
	int fn = category_field(r->cat, "id_number");

	if (ft >= 0 && r->supplied[ft])
		str_copy_utf8(t, sizeof(t), r->val[ft], r->len[ft]);
	if (fn >= 0 && r->supplied[fn])
		mask_id(r->val[fn], r->len[fn], id, sizeof(id));
	snprintf(out, outsz, "%s:%s", t, id);
}
