#include "audit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csvout.h"

const char *const audit_col_name[AUDIT_NCOLS] = {
	"id", "at", "direction", "event", "partner", "package_id", "sequence",
	"kind", "bytes", "sha256", "signer_fpr", "records_loaded",
	"records_rejected", "outcome", "error", "prev_hash", "hash",
};

/* Columns written as JSON numbers. */
static int col_is_number(int i)
{
	return i == AC_ID || i == AC_SEQUENCE || i == AC_BYTES ||
	       i == AC_LOADED || i == AC_REJECTED;
}

/* The outcomes of docs/exchange-log.md, for the page's select. */
static const char *const known_outcomes[] = {
	"accepted", "accepted-with-rejects", "rejected", "refused", "held",
	"duplicate", "failed", "packed", "received", "sent", "resent",
	"exported", "imported", "written",
};

/* ---- filters ------------------------------------------------------------ */

void audit_filter_init(struct audit_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->limit = AUDIT_PAGE_DEFAULT;
}

/* A value short and harmless enough to quote back in an error: never a run
 * of digits long enough to be an ID number or a phone. */
static int quotable(const char *s)
{
	size_t n = 0, digits = 0;

	for (; *s; s++, n++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || n >= 24)
			return 0;
		if (*s >= '0' && *s <= '9')
			digits++;
	}
	return digits < 9;
}

static int bad_value(struct tmerr *err, const char *key, const char *value,
		     const char *what)
{
	if (quotable(value))
		tmerr_set(err, TMERR_USAGE, "bad %s \"%s\": %s", key, value, what);
	else
		tmerr_set(err, TMERR_USAGE, "bad %s (value not shown): %s", key, what);
	tmerr_field(err, key);
	return -1;
}

static int parse_num(const char *s, long long min, long long max,
		     long long *out)
{
	long long v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 12)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/*
 * YYYY-MM-DD, or that followed by T (or a space) HH:MM[:SS[.frac]] and an
 * optional Z or +-HH[:MM]. Sets *date_only and *zoned.
 */
static int parse_time(const char *s, struct tm *tm, int *date_only,
		      int *zoned)
{
	int y, mo, d, h = 0, mi = 0, se = 0, zh, zm;
	const char *p;

	memset(tm, 0, sizeof(*tm));
	*date_only = *zoned = 0;
	if (strlen(s) >= 40 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	p = s + 10;
	if (*p == '\0') {
		*date_only = 1;
	} else {
		if ((*p != 'T' && *p != 't' && *p != ' ') || digits(p + 1, 2, &h) ||
		    p[3] != ':' || digits(p + 4, 2, &mi))
			return -1;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &se))
				return -1;
			p += 3;
			if (*p == '.') {
				int k = 0;

				for (p++; *p >= '0' && *p <= '9'; p++)
					k++;
				if (k < 1 || k > 9)
					return -1;
			}
		}
		if (h > 23 || mi > 59 || se > 59)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			*zoned = 1;
			p++;
		} else if (*p == '+' || *p == '-') {
			*zoned = 1;
			if (digits(p + 1, 2, &zh) || zh > 14)
				return -1;
			p += 3;
			if (*p == ':')
				p++;
			if (*p) {
				if (digits(p, 2, &zm) || zm > 59)
					return -1;
				p += 2;
			}
		}
		if (*p)
			return -1;
	}
	tm->tm_year = y - 1900;
	tm->tm_mon = mo - 1;
	tm->tm_mday = d;
	tm->tm_hour = h;
	tm->tm_min = mi;
	tm->tm_sec = se;
	return 0;
}

int audit_time_norm(const char *in, int end_of_day, char *out, size_t outsz)
{
	struct tm tm, next;
	int date_only, zoned;
	time_t t;

	if (parse_time(in, &tm, &date_only, &zoned))
		return -1;
	if (date_only) {
		t = timegm(&tm) + (end_of_day ? 86400 : 0);
		if (!gmtime_r(&t, &next) ||
		    !strftime(out, outsz, "%Y-%m-%dT00:00:00Z", &next))
			return -1;
		return 0;
	}
	if ((size_t)snprintf(out, outsz, "%s%s", in, zoned ? "" : "Z") >= outsz)
		return -1;
	out[10] = 'T';
	return 0;
}

static int set_str(char *dst, size_t n, const char *v)
{
	if (strlen(v) >= n)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int audit_filter_set(struct audit_filter *f, const char *key,
		     const char *v, struct tmerr *err)
{
	long long n;
	char tmp[40];

	if (!strcmp(key, "token"))
		return 0;
	if (!strcmp(key, "partner")) {
		if (*v && (strlen(v) != 6 || strspn(v, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 6))
			return bad_value(err, key, v, "not an organisation code (6 characters 0-9 A-Z)");
		return set_str(f->partner, sizeof(f->partner), v);
	}
	if (!strcmp(key, "direction")) {
		if (*v && strcmp(v, "in") && strcmp(v, "out") && strcmp(v, "local"))
			return bad_value(err, key, v, "not in, out or local");
		return set_str(f->direction, sizeof(f->direction), v);
	}
	if (!strcmp(key, "outcome")) {
		size_t len = strlen(v);

		if (*v && (len >= sizeof(f->outcome) || v[0] < 'a' || v[0] > 'z' ||
			   strspn(v, "abcdefghijklmnopqrstuvwxyz-") != len))
			return bad_value(err, key, v, "not an outcome (lowercase letters and '-', e.g. refused)");
		return set_str(f->outcome, sizeof(f->outcome), v);
	}
	if (!strcmp(key, "since") || !strcmp(key, "until")) {
		char *dst = key[0] == 's' ? f->since : f->until;

		if (*v && audit_time_norm(v, 0, tmp, sizeof(tmp)))
			return bad_value(err, key, v, "not a date (YYYY-MM-DD) or ISO 8601 time (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])");
		return set_str(dst, sizeof(f->since), v);
	}
	if (!strcmp(key, "limit")) {
		if (!*v) {
			f->limit = AUDIT_PAGE_DEFAULT;
			return 0;
		}
		if (parse_num(v, 0, AUDIT_LIMIT_MAX, &n))
			return bad_value(err, key, v, "not a number from 0 to 10000");
		f->limit = (long)n;
		return 0;
	}
	if (!strcmp(key, "offset") || !strcmp(key, "before") || !strcmp(key, "id")) {
		long long *dst = key[0] == 'o' ? &f->offset :
				 key[0] == 'b' ? &f->before_id : &f->id;

		if (!*v) {
			*dst = 0;
			return 0;
		}
		if (parse_num(v, key[0] == 'o' ? 0 : 1, AUDIT_OFFSET_MAX, &n))
			return bad_value(err, key, v, key[0] == 'o' ?
					 "not a number from 0 to 1000000000" :
					 "not an entry id (a positive number)");
		*dst = n;
		return 0;
	}
	if (quotable(key))
		tmerr_set(err, TMERR_USAGE, "unknown filter \"%s\" (known: partner, direction, outcome, since, until, limit, offset, before, id)", key);
	else
		tmerr_set(err, TMERR_USAGE, "unknown filter (name not shown)");
	tmerr_field(err, "filter");
	return -1;
}

/* ---- the query ------------------------------------------------------------ */

static const char select_sql[] =
	"SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
	"direction, event, partner, package_id, sequence, kind, bytes, sha256, "
	"signer_fpr, records_loaded, records_rejected, outcome, error, prev_hash, hash "
	"FROM tmis.exchange_log "
	"WHERE ($1::text IS NULL OR partner = $1::text) "
	"AND ($2::text IS NULL OR direction = $2::text) "
	"AND ($3::text IS NULL OR outcome = $3::text) "
	"AND ($4::timestamptz IS NULL OR at >= $4::timestamptz) "
	"AND ($5::timestamptz IS NULL OR at < $5::timestamptz) "
	"AND ($6::bigint IS NULL OR id < $6::bigint) "
	"AND ($7::bigint IS NULL OR id = $7::bigint) ";

static int db_error(PGconn *conn, PGresult *r, struct tmerr *err,
		    const char *what)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
	size_t n = strlen(m);

	if (!n)
		m = PQerrorMessage(conn), n = strlen(m);
	while (n && m[n - 1] == '\n')
		n--;
	tmerr_set(err, TMERR_DB, "%s failed: %.*s", what, (int)n, m);
	PQclear(r);
	return -1;
}

static int exec_ok(PGconn *conn, const char *sql, struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return db_error(conn, r, err, "reading the exchange log");
	PQclear(r);
	return 0;
}

long long audit_query(PGconn *conn, const struct audit_filter *f,
		      int oldest_first, audit_row_fn fn, void *arg,
		      struct tmerr *err)
{
	char since[40], until[40], before[24], id[24], limit[24], offset[24];
	const char *v[9];
	struct buf sql = BUF_INIT(4096);
	int own = PQtransactionStatus(conn) == PQTRANS_IDLE;
	long long count = 0;
	PGresult *r;

	if (PQtransactionStatus(conn) != PQTRANS_IDLE &&
	    PQtransactionStatus(conn) != PQTRANS_INTRANS)
		return tmerr_set(err, TMERR_DB, "reading the exchange log failed: the connection is not ready");
	v[0] = *f->partner ? f->partner : NULL;
	v[1] = *f->direction ? f->direction : NULL;
	v[2] = *f->outcome ? f->outcome : NULL;
	v[3] = v[4] = NULL;
	if (*f->since) {
		if (audit_time_norm(f->since, 0, since, sizeof(since)))
			return tmerr_set(err, TMERR_USAGE, "bad since: not a date or ISO 8601 time");
		v[3] = since;
	}
	if (*f->until) {
		if (audit_time_norm(f->until, 1, until, sizeof(until)))
			return tmerr_set(err, TMERR_USAGE, "bad until: not a date or ISO 8601 time");
		v[4] = until;
	}
	snprintf(before, sizeof(before), "%lld", f->before_id);
	snprintf(id, sizeof(id), "%lld", f->id);
	snprintf(limit, sizeof(limit), "%ld", f->limit);
	snprintf(offset, sizeof(offset), "%lld", f->offset);
	v[5] = f->before_id > 0 ? before : NULL;
	v[6] = f->id > 0 ? id : NULL;
	v[7] = f->limit > 0 ? limit : NULL;
	v[8] = offset;
	if (buf_addstr(&sql, "DECLARE tmisgw_audit NO SCROLL CURSOR FOR ") ||
	    buf_addstr(&sql, select_sql) ||
	    buf_addstr(&sql, oldest_first ? "ORDER BY id" : "ORDER BY id DESC") ||
	    buf_addstr(&sql, " LIMIT $8::bigint OFFSET $9::bigint")) {
		buf_release(&sql);
		return tmerr_set(err, TMERR_SYS, "building the exchange-log query failed");
	}
	if (own && exec_ok(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) {
		buf_release(&sql);
		return -1;
	}
	r = PQexecParams(conn, sql.ptr, 9, NULL, v, NULL, NULL, 0);
	buf_release(&sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		db_error(conn, r, err, "reading the exchange log");
		goto fail;
	}
	PQclear(r);
	for (;;) {
		int n;

		r = PQexec(conn, "FETCH 1000 FROM tmisgw_audit");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			db_error(conn, r, err, "reading the exchange log");
			goto fail;
		}
		n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			struct audit_row row;

			for (int c = 0; c < AUDIT_NCOLS; c++)
				row.v[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
			if (fn(arg, &row, err)) {
				PQclear(r);
				goto fail;
			}
			count++;
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	if (own ? exec_ok(conn, "COMMIT", err) :
		  exec_ok(conn, "CLOSE tmisgw_audit", err))
		return -1;
	return count;
fail:
	if (own)
		PQclear(PQexec(conn, "ROLLBACK"));
	else if (PQtransactionStatus(conn) == PQTRANS_INTRANS)
		PQclear(PQexec(conn, "CLOSE tmisgw_audit"));
	return -1;
}

/* ---- text, CSV, JSON ---------------------------------------------------- */

/* s cut to at most max bytes on a UTF-8 boundary (marked "…"), control
 * characters (C0, DEL, C1) as '?', into out. */
static int add_clean(struct buf *out, const char *s, size_t max)
{
	size_t n = strlen(s), k = n, start = out->len;
	int rc = 0;

	if (k > max) {
		k = max;
		while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
	}
	for (size_t i = 0; i < k && !rc; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			rc = buf_addch(out, '?');
		else if (c == 0xc2 && i + 1 < k && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f) {
			rc = buf_addch(out, '?');
			i++;
		} else {
			rc = buf_addch(out, c);
		}
	}
	if (!rc && k < n)
		rc = buf_addstr(out, "…");
	if (rc)
		buf_setlen(out, start);
	return rc;
}

static int text_cell(struct buf *out, const char *s, int width, int right,
		     size_t max)
{
	size_t start = out->len, w;
	int rc;

	if (right) {
		/* numbers: pad first, they are ASCII */
		size_t n = s ? strlen(s) : 1;

		for (w = n; w < (size_t)width; w++)
			if (buf_addch(out, ' '))
				return BUF_TOOBIG;
	}
	rc = add_clean(out, s ? s : "-", max);
	if (rc)
		return rc;
	if (!right) {
		w = 0;
		for (size_t i = start; i < out->len; i++)
			if (((unsigned char)out->ptr[i] & 0xC0) != 0x80)
				w++;
		for (; w < (size_t)width; w++)
			if (buf_addch(out, ' '))
				return BUF_TOOBIG;
	}
	return buf_addch(out, ' ');
}

int audit_text_header(struct buf *out)
{
	return buf_addf(out, "%-7s %-20s %-5s %-7s %-36s %5s %-8s %12s %8s %8s %-21s %s\n",
			"ID", "TIME (UTC)", "DIR", "PARTNER", "PACKAGE", "SEQ",
			"KIND", "BYTES", "LOADED", "REJECTED", "OUTCOME", "ERROR");
}

int audit_text_row(const struct audit_row *r, struct buf *out)
{
	char at[24];
	size_t start = out->len;
	int rc;

	snprintf(at, sizeof(at), "%.19sZ", r->v[AC_AT] ? r->v[AC_AT] : "");
	rc = text_cell(out, r->v[AC_ID], 7, 0, 20) ||
	     text_cell(out, at, 20, 0, 24) ||
	     text_cell(out, r->v[AC_DIRECTION], 5, 0, 8) ||
	     text_cell(out, r->v[AC_PARTNER], 7, 0, 16) ||
	     text_cell(out, r->v[AC_PACKAGE_ID], 36, 0, 48) ||
	     text_cell(out, r->v[AC_SEQUENCE], 5, 1, 20) ||
	     text_cell(out, r->v[AC_KIND], 8, 0, 16) ||
	     text_cell(out, r->v[AC_BYTES], 12, 1, 20) ||
	     text_cell(out, r->v[AC_LOADED], 8, 1, 20) ||
	     text_cell(out, r->v[AC_REJECTED], 8, 1, 20) ||
	     text_cell(out, r->v[AC_OUTCOME], 21, 0, 32) ||
	     add_clean(out, r->v[AC_ERROR] ? r->v[AC_ERROR] : "", 60) ||
	     buf_addch(out, '\n');
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

int audit_show_row(const struct audit_row *r, struct buf *out)
{
	size_t start = out->len;

	for (int i = 0; i < AUDIT_NCOLS; i++) {
		if (buf_addf(out, "%-17s ", audit_col_name[i]) ||
		    add_clean(out, r->v[i] ? r->v[i] : "-", 4096) ||
		    buf_addch(out, '\n')) {
			buf_setlen(out, start);
			return BUF_TOOBIG;
		}
	}
	return 0;
}

int audit_json_str(struct buf *out, const char *s)
{
	size_t start = out->len;
	int rc = buf_addch(out, '"');

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc = buf_addch(out, '\\') || buf_addch(out, c);
		else if (c == '\n')
			rc = buf_addstr(out, "\\n");
		else if (c == '\r')
			rc = buf_addstr(out, "\\r");
		else if (c == '\t')
			rc = buf_addstr(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			rc = buf_addf(out, "\\u%04x", c);
		else if (c == '<')
			rc = buf_addstr(out, "\\u003c");
		else
			rc = buf_addch(out, c);
	}
	if (!rc)
		rc = buf_addch(out, '"');
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

int audit_json_row(const struct audit_row *r, struct buf *out)
{
	size_t start = out->len;
	int rc = buf_addch(out, '{');

	for (int i = 0; i < AUDIT_NCOLS && !rc; i++) {
		rc = buf_addf(out, "%s\"%s\":", i ? "," : "", audit_col_name[i]);
		if (rc)
			break;
		if (!r->v[i])
			rc = buf_addstr(out, "null");
		else if (col_is_number(i) && r->v[i][0] &&
			 strspn(r->v[i], "-0123456789") == strlen(r->v[i]))
			rc = buf_addstr(out, r->v[i]);
		else
			rc = audit_json_str(out, r->v[i]);
	}
	if (!rc)
		rc = buf_addch(out, '}');
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

void audit_csv_header(FILE *f)
{
	for (int i = 0; i < AUDIT_NCOLS; i++)
		csv_put_cell(f, audit_col_name[i], i == AUDIT_NCOLS - 1);
}

void audit_csv_row(FILE *f, const struct audit_row *r)
{
	for (int i = 0; i < AUDIT_NCOLS; i++)
		csv_put_cell(f, r->v[i] ? r->v[i] : "", i == AUDIT_NCOLS - 1);
}

/* ---- HTML ---------------------------------------------------------------- */

int audit_html_escape(struct buf *out, const char *s)
{
	size_t start = out->len;
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': rc = buf_addstr(out, "&amp;"); break;
		case '<': rc = buf_addstr(out, "&lt;"); break;
		case '>': rc = buf_addstr(out, "&gt;"); break;
		case '"': rc = buf_addstr(out, "&quot;"); break;
		case '\'': rc = buf_addstr(out, "&#39;"); break;
		case '\n':
		case '\t':
			rc = buf_addch(out, ' ');
			break;
		default:
			if (c >= 0x20 && c != 0x7f)
				rc = buf_addch(out, c);
		}
	}
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

int audit_url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len;
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~:", c))
			rc = buf_addch(out, c);
		else
			rc = buf_addch(out, '%') || buf_addch(out, hex[c >> 4]) ||
			     buf_addch(out, hex[c & 15]);
	}
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

static int query_pair(struct buf *out, const char *key, const char *value)
{
	if (!*value)
		return 0;
	return (out->len && buf_addch(out, '&')) || buf_addstr(out, key) ||
	       buf_addch(out, '=') || audit_url_escape(out, value);
}

int audit_filter_query(const struct audit_filter *f, long long offset,
		       struct buf *out)
{
	char limit[24] = "", off[24] = "", before[24] = "";
	struct buf q = BUF_INIT(1024);
	int rc;

	if (f->limit != AUDIT_PAGE_DEFAULT)
		snprintf(limit, sizeof(limit), "%ld", f->limit);
	if (offset > 0)
		snprintf(off, sizeof(off), "%lld", offset);
	if (f->before_id > 0)
		snprintf(before, sizeof(before), "%lld", f->before_id);
	rc = query_pair(&q, "partner", f->partner) ||
	     query_pair(&q, "direction", f->direction) ||
	     query_pair(&q, "outcome", f->outcome) ||
	     query_pair(&q, "since", f->since) ||
	     query_pair(&q, "until", f->until) ||
	     query_pair(&q, "before", before) ||
	     query_pair(&q, "limit", limit) ||
	     query_pair(&q, "offset", off) ||
	     buf_add(out, q.ptr, q.len);
	buf_release(&q);
	return rc ? BUF_TOOBIG : 0;
}

/* href="base?query" (escaped), query from f and offset; bare base when empty */
static int add_href(struct buf *out, const struct audit_page *p,
		    long long offset)
{
	struct buf q = BUF_INIT(1024);
	int rc;

	rc = audit_filter_query(p->filter, offset, &q) ||
	     buf_addstr(out, "href=\"") ||
	     audit_html_escape(out, p->base_path) ||
	     (q.len && (buf_addch(out, '?') || audit_html_escape(out, q.ptr))) ||
	     buf_addch(out, '"');
	buf_release(&q);
	return rc ? BUF_TOOBIG : 0;
}

static int add_detail_href(struct buf *out, const struct audit_page *p,
			   const char *id)
{
	return buf_addstr(out, "href=\"") || audit_html_escape(out, p->base_path) ||
	       buf_addstr(out, "?id=") || audit_html_escape(out, id) ||
	       buf_addch(out, '"');
}

/* class-safe form of an outcome: [a-z0-9-], others as '_' */
static int add_class(struct buf *out, const char *prefix, const char *v)
{
	int rc = buf_addstr(out, prefix);

	for (; v && *v && !rc; v++) {
		char c = *v;

		rc = buf_addch(out, (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				    c == '-' ? c : '_');
	}
	return rc;
}

static const char page_css[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#1b1f23;background:#fff}"
	"h1{font-size:1.4em;margin:0 0 .4em}"
	"a{color:#0645ad}"
	"code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}"
	"#chain{padding:.5em .8em;border-radius:4px;margin:.5em 0 1em}"
	".chain-ok{background:#e6f4ea;border:1px solid #8ac79b}"
	".chain-bad{background:#fde7e9;border:1px solid #d9534f;font-weight:bold}"
	".chain-unknown{background:#fff4e5;border:1px solid #e0a040}"
	"#filters{display:flex;flex-wrap:wrap;gap:.6em 1em;align-items:flex-end;"
	"padding:.7em;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px}"
	"#filters label{display:flex;flex-direction:column;font-size:.85em;color:#444}"
	"#filters input,#filters select,#filters button{font:inherit;padding:.2em .4em}"
	"table{border-collapse:collapse;margin-top:1em;width:100%}"
	"#detail{width:auto}"
	"th,td{border-bottom:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}"
	"th{background:#f6f8fa;font-weight:600;white-space:nowrap}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"td.package,td.at{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;white-space:nowrap}"
	"td.error{max-width:28em;color:#57606a}"
	"#detail td{word-break:break-all;max-width:60em}"
	"#detail th{text-align:right}"
	".outcome{font-weight:600;white-space:nowrap}"
	".outcome-accepted .outcome{color:#1a7f37}"
	".outcome-accepted-with-rejects .outcome{color:#9a6700}"
	".outcome-rejected .outcome,.outcome-refused .outcome,.outcome-failed .outcome{color:#cf222e}"
	".outcome-held .outcome,.outcome-duplicate .outcome{color:#6e40c9}"
	".outcome-packed .outcome{color:#0969da}"
	"tr.outcome-refused,tr.outcome-rejected,tr.outcome-failed{background:#fff8f8}"
	".null{color:#8c959f}"
	"#pages{margin-top:1em;display:flex;gap:1.5em}"
	"#summary{color:#57606a}";

int audit_html_begin(const struct audit_page *p, const char *title,
		     struct buf *out)
{
	const struct xlog_check *c = p->chain;
	int rc;

	rc = buf_addstr(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
			"<meta name=\"referrer\" content=\"no-referrer\">"
			"<title>") ||
	     audit_html_escape(out, title) ||
	     buf_addstr(out, " — tmisgw</title><style>") ||
	     buf_addstr(out, page_css) ||
	     buf_addstr(out, "</style></head>\n<body>\n<h1>") ||
	     audit_html_escape(out, title) ||
	     buf_addstr(out, "</h1>\n");
	if (rc)
		return BUF_TOOBIG;
	if (!c)
		rc = buf_addstr(out, "<p id=\"chain\" class=\"chain-unknown\">Chain not checked: ") ||
		     audit_html_escape(out, p->chain_err ? p->chain_err : "verification did not run") ||
		     buf_addstr(out, "</p>\n");
	else if (c->first_bad) {
		char id[24];

		snprintf(id, sizeof(id), "%lld", c->first_bad);
		rc = buf_addf(out, "<p id=\"chain\" class=\"chain-bad\" data-first-bad=\"%lld\">"
			      "Chain NOT intact: entry <a ", c->first_bad) ||
		     add_detail_href(out, p, id) ||
		     buf_addf(out, ">%lld</a>: ", c->first_bad) ||
		     audit_html_escape(out, c->why) ||
		     buf_addf(out, " (%lld entries checked)</p>\n", c->entries);
	} else if (!c->entries)
		rc = buf_addstr(out, "<p id=\"chain\" class=\"chain-ok\">Chain intact: the log is empty.</p>\n");
	else
		rc = buf_addf(out, "<p id=\"chain\" class=\"chain-ok\">Chain intact: %lld entries, "
			      "ids 1–%lld without a gap; last hash <code>", c->entries, c->last_id) ||
		     audit_html_escape(out, c->last_hash) ||
		     buf_addstr(out, "</code></p>\n");
	return rc ? BUF_TOOBIG : 0;
}

static int add_option(struct buf *out, const char *value, const char *label,
		      const char *current)
{
	return buf_addstr(out, "<option value=\"") || audit_html_escape(out, value) ||
	       buf_addstr(out, !strcmp(value, current) ? "\" selected>" : "\">") ||
	       audit_html_escape(out, label) || buf_addstr(out, "</option>");
}

static int add_input(struct buf *out, const char *label, const char *name,
		     const char *value, const char *extra)
{
	int date = !strcmp(extra, "date");

	return buf_addf(out, "<label>%s <input name=\"%s\" id=\"f-%s\" type=\"%s\"",
			label, name, name,
			date && (!*value || strlen(value) == 10) ? "date" : "text") ||
	       (!date && buf_addf(out, " %s", extra)) ||
	       buf_addstr(out, " value=\"") || audit_html_escape(out, value) ||
	       buf_addstr(out, "\"></label>\n");
}

int audit_html_filters(const struct audit_page *p, struct buf *out)
{
	const struct audit_filter *f = p->filter;
	static const char *const dirs[] = { "in", "out", "local" };
	size_t nk = sizeof(known_outcomes) / sizeof(known_outcomes[0]);
	int known = !*f->outcome, rc;
	char limit[24];

	snprintf(limit, sizeof(limit), "%ld", f->limit ? f->limit : AUDIT_PAGE_DEFAULT);
	rc = buf_addstr(out, "<form id=\"filters\" method=\"get\" action=\"") ||
	     audit_html_escape(out, p->base_path) ||
	     buf_addstr(out, "\">\n") ||
	     add_input(out, "Partner", "partner", f->partner,
		       "maxlength=\"6\" size=\"7\" pattern=\"[0-9A-Z]{6}\" placeholder=\"410000\"") ||
	     buf_addstr(out, "<label>Direction <select name=\"direction\" id=\"f-direction\">") ||
	     add_option(out, "", "any", f->direction);
	for (size_t i = 0; i < 3 && !rc; i++)
		rc = add_option(out, dirs[i], dirs[i], f->direction);
	rc = rc || buf_addstr(out, "</select></label>\n") ||
	     add_input(out, "From (UTC)", "since", f->since, "date") ||
	     add_input(out, "To (UTC, inclusive)", "until", f->until, "date") ||
	     buf_addstr(out, "<label>Outcome <select name=\"outcome\" id=\"f-outcome\">") ||
	     add_option(out, "", "any", f->outcome);
	for (size_t i = 0; i < nk && !rc; i++) {
		rc = add_option(out, known_outcomes[i], known_outcomes[i], f->outcome);
		if (!strcmp(known_outcomes[i], f->outcome))
			known = 1;
	}
	if (!known && !rc)
		rc = add_option(out, f->outcome, f->outcome, f->outcome);
	rc = rc || buf_addstr(out, "</select></label>\n") ||
	     add_input(out, "Per page", "limit", limit,
		       "inputmode=\"numeric\" size=\"5\" pattern=\"[0-9]{1,5}\"") ||
	     buf_addstr(out, "<button type=\"submit\">Filter</button> <a id=\"clear\" href=\"") ||
	     audit_html_escape(out, p->base_path) ||
	     buf_addstr(out, "\">clear</a>\n</form>\n");
	return rc ? BUF_TOOBIG : 0;
}

int audit_html_table_begin(struct buf *out)
{
	return buf_addstr(out, "<table id=\"entries\"><thead><tr>"
			  "<th>id</th><th>time (UTC)</th><th>dir</th><th>partner</th>"
			  "<th>package</th><th>seq</th><th>kind</th><th>bytes</th>"
			  "<th>loaded / rejected</th><th>outcome</th><th>error</th>"
			  "</tr></thead>\n<tbody>\n");
}

static int td(struct buf *out, const char *cls, const char *v)
{
	return buf_addf(out, "<td class=\"%s\">", cls) ||
	       (v ? audit_html_escape(out, v) : buf_addstr(out, "<span class=\"null\">–</span>")) ||
	       buf_addstr(out, "</td>");
}

int audit_html_row(const struct audit_page *p, const struct audit_row *r,
		   struct buf *out)
{
	const char *id = r->v[AC_ID] ? r->v[AC_ID] : "";
	char at[24];
	size_t start = out->len;
	struct buf err = BUF_INIT(256);
	int rc;

	snprintf(at, sizeof(at), "%.19sZ", r->v[AC_AT] ? r->v[AC_AT] : "");
	rc = add_class(out, "<tr class=\"entry outcome-", r->v[AC_OUTCOME]) ||
	     add_class(out, " dir-", r->v[AC_DIRECTION]) ||
	     buf_addstr(out, "\" id=\"entry-") || audit_html_escape(out, id) ||
	     buf_addstr(out, "\" data-id=\"") || audit_html_escape(out, id) ||
	     buf_addstr(out, "\"><td class=\"id num\"><a ") ||
	     add_detail_href(out, p, id) || buf_addch(out, '>') ||
	     audit_html_escape(out, id) || buf_addstr(out, "</a></td>") ||
	     td(out, "at", at) ||
	     td(out, "direction", r->v[AC_DIRECTION]) ||
	     td(out, "partner", r->v[AC_PARTNER]) ||
	     td(out, "package", r->v[AC_PACKAGE_ID]) ||
	     td(out, "sequence num", r->v[AC_SEQUENCE]) ||
	     td(out, "kind", r->v[AC_KIND]) ||
	     td(out, "bytes num", r->v[AC_BYTES]) ||
	     buf_addstr(out, "<td class=\"records num\">") ||
	     ((r->v[AC_LOADED] || r->v[AC_REJECTED]) &&
	      (audit_html_escape(out, r->v[AC_LOADED] ? r->v[AC_LOADED] : "–") ||
	       buf_addstr(out, " / ") ||
	       audit_html_escape(out, r->v[AC_REJECTED] ? r->v[AC_REJECTED] : "–"))) ||
	     buf_addstr(out, "</td>") ||
	     td(out, "outcome", r->v[AC_OUTCOME]);
	if (!rc && r->v[AC_ERROR]) {
		rc = add_clean(&err, r->v[AC_ERROR], 100) ||
		     buf_addstr(out, "<td class=\"error\" title=\"") ||
		     audit_html_escape(out, r->v[AC_ERROR]) ||
		     buf_addstr(out, "\">") || audit_html_escape(out, err.ptr) ||
		     buf_addstr(out, "</td>");
	} else if (!rc) {
		rc = buf_addstr(out, "<td class=\"error\"></td>");
	}
	rc = rc || buf_addstr(out, "</tr>\n");
	buf_release(&err);
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

int audit_html_table_end(const struct audit_page *p, long shown, int more,
			 struct buf *out)
{
	const struct audit_filter *f = p->filter;
	long limit = f->limit ? f->limit : AUDIT_PAGE_DEFAULT;
	int rc;

	rc = buf_addstr(out, "</tbody></table>\n");
	if (!rc && shown)
		rc = buf_addf(out, "<p id=\"summary\" data-count=\"%ld\">Entries %lld–%lld, newest first.</p>\n",
			      shown, f->offset + 1, f->offset + shown);
	else if (!rc)
		rc = buf_addstr(out, "<p id=\"summary\" data-count=\"0\">No entries match.</p>\n");
	rc = rc || buf_addstr(out, "<nav id=\"pages\">");
	if (!rc && f->offset > 0)
		rc = buf_addstr(out, "<a id=\"newer\" rel=\"prev\" ") ||
		     add_href(out, p, f->offset > limit ? f->offset - limit : 0) ||
		     buf_addstr(out, ">← newer</a>");
	if (!rc && more)
		rc = buf_addstr(out, "<a id=\"older\" rel=\"next\" ") ||
		     add_href(out, p, f->offset + limit) ||
		     buf_addstr(out, ">older →</a>");
	rc = rc || buf_addstr(out, "</nav>\n");
	return rc ? BUF_TOOBIG : 0;
}

int audit_html_detail(const struct audit_page *p, const struct audit_row *r,
		      struct buf *out)
{
	size_t start = out->len;
	int rc;

	rc = buf_addstr(out, "<p><a id=\"back\" ") || add_href(out, p, p->filter->offset) ||
	     buf_addstr(out, ">← all entries</a></p>\n") ||
	     add_class(out, "<table id=\"detail\" class=\"outcome-", r->v[AC_OUTCOME]) ||
	     buf_addstr(out, "\"><tbody>\n");
	for (int i = 0; i < AUDIT_NCOLS && !rc; i++) {
		int mono = i == AC_SHA256 || i == AC_SIGNER_FPR || i == AC_PREV_HASH ||
			   i == AC_HASH || i == AC_PACKAGE_ID || i == AC_AT;

		rc = buf_addf(out, "<tr id=\"f-%s\"><th>%s</th><td class=\"%s%s\">",
			      audit_col_name[i], audit_col_name[i], audit_col_name[i],
			      i == AC_OUTCOME ? " outcome" : "") ||
		     (mono && r->v[i] && buf_addstr(out, "<code>")) ||
		     (r->v[i] ? audit_html_escape(out, r->v[i]) :
				buf_addstr(out, "<span class=\"null\">–</span>")) ||
		     (mono && r->v[i] && buf_addstr(out, "</code>")) ||
		     buf_addstr(out, "</td></tr>\n");
	}
	rc = rc || buf_addstr(out, "</tbody></table>\n");
	if (rc) {
		buf_setlen(out, start);
		return BUF_TOOBIG;
	}
	return 0;
}

int audit_html_end(struct buf *out)
{
	return buf_addstr(out, "<footer><p class=\"null\">tmisgw exchange log · "
			  "times in UTC · tmisgw audit verify checks the chain</p>"
			  "</footer>\n</body></html>\n");
}

/* ---- GET /v1/audit and GET /audit ----------------------------------------- */

static int full(struct tmerr *err)
{
	return tmerr_set(err, TMERR_LIMIT, "the exchange-log answer is over its size limit (use a smaller limit)");
}

struct json_state {
	struct buf *out;
	long n;
};

static int json_cb(void *arg, const struct audit_row *r, struct tmerr *err)
{
	struct json_state *s = arg;

	if ((s->n && buf_addstr(s->out, ",\n")) || audit_json_row(r, s->out))
		return full(err);
	s->n++;
	return 0;
}

int audit_json(PGconn *conn, const struct audit_filter *f, struct buf *out,
	       struct tmerr *err)
{
	struct audit_filter q = *f;
	struct json_state s = { out, 0 };
	size_t start = out->len;

	if (!q.limit)
		q.limit = AUDIT_PAGE_DEFAULT;
	if (buf_addch(out, '['))
		return full(err);
	if (audit_query(conn, &q, 0, json_cb, &s, err) < 0 ||
	    buf_addstr(out, "]\n")) {
		if (err->code == TMERR_NONE)
			full(err);
		buf_setlen(out, start);
		return -1;
	}
	return 0;
}

struct html_state {
	const struct audit_page *p;
	struct buf *out;
	long limit, n;
	int more, found;
};

static int html_cb(void *arg, const struct audit_row *r, struct tmerr *err)
{
	struct html_state *s = arg;

	if (s->n >= s->limit) {
		s->more = 1;
		return 0;
	}
	if (audit_html_row(s->p, r, s->out))
		return full(err);
	s->n++;
	return 0;
}

static int detail_cb(void *arg, const struct audit_row *r, struct tmerr *err)
{
	struct html_state *s = arg;

	if (audit_html_detail(s->p, r, s->out))
		return full(err);
	s->found = 1;
	return 0;
}

int audit_html(PGconn *conn, const struct audit_filter *f,
	       long long detail_id, const char *base_path, struct buf *out,
	       struct tmerr *err)
{
	struct audit_filter q = *f, list = *f;
	struct xlog_check chk;
	struct tmerr verr;
	struct audit_page p = { &list, base_path && *base_path ? base_path : "/audit",
				&chk, NULL };
	struct html_state s = { &p, out, 0, 0, 0, 0 };
	size_t start = out->len;
	char title[48];

	if (!list.limit)
		list.limit = AUDIT_PAGE_DEFAULT;
	list.id = 0;
	if (detail_id <= 0)
		detail_id = f->id;
	tmerr_clear(&verr);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		p.chain = NULL;
		p.chain_err = "the connection is inside a transaction";
	} else if (xlog_verify(conn, &chk, &verr)) {
		p.chain = NULL;
		p.chain_err = verr.msg;
	}
	if (detail_id > 0) {
		audit_filter_init(&q);
		q.id = detail_id;
		q.limit = 1;
		snprintf(title, sizeof(title), "Exchange log entry %lld", detail_id);
		if (audit_html_begin(&p, title, out))
			goto toobig;
		if (audit_query(conn, &q, 0, detail_cb, &s, err) < 0)
			goto fail;
		if (!s.found &&
		    (buf_addf(out, "<p id=\"notfound\">There is no entry %lld. <a ", detail_id) ||
		     add_href(out, &p, list.offset) || buf_addstr(out, ">All entries</a></p>\n")))
			goto toobig;
		if (audit_html_end(out))
			goto toobig;
		return s.found ? 0 : 1;
	}
	q.limit = list.limit + 1;
	q.id = 0;
	s.limit = list.limit;
	if (audit_html_begin(&p, "Exchange log", out) ||
	    audit_html_filters(&p, out) || audit_html_table_begin(out))
		goto toobig;
	if (audit_query(conn, &q, 0, html_cb, &s, err) < 0)
		goto fail;
	if (audit_html_table_end(&p, s.n, s.more, out) || audit_html_end(out))
		goto toobig;
	return 0;
toobig:
	full(err);
fail:
	buf_setlen(out, start);
	return -1;
}
