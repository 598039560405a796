/*
 * audit: reading the exchange log (docs/exchange-log.md) for people and
 * programs: validated filters, a parameterised query streamed through a
 * cursor, and renderers (text table, key: value, CSV, JSON lines, a JSON
 * array for GET /v1/audit and the operators' HTML page for GET /audit).
 *
 * Nothing here prints or exits; errors go to struct tmerr. Buffers are the
 * caller's, with the caller's cap: a full buffer is TMERR_LIMIT. Filter
 * values are never put into SQL text, only passed as parameters.
 */
#ifndef TMISGW_AUDIT_H
#define TMISGW_AUDIT_H

#include <stdio.h>

#include <libpq-fe.h>

#include "buf.h"
#include "err.h"
#include "xlog.h"

#define AUDIT_LIMIT_MAX 10000
#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_OFFSET_MAX 1000000000LL
/* A cap for the buffer given to audit_json()/audit_html(): enough for
 * AUDIT_LIMIT_MAX entries with every error at its longest, escaped. */
#define AUDIT_BUF_CAP (64u << 20)

/*
 * What to list. Strings are "" when not set; every value was checked by
 * audit_filter_set(), so a filled filter is safe to echo into a page.
 */
struct audit_filter {
	char partner[8];      /* organisation code, 6 of [0-9A-Z] */
	char direction[8];    /* in, out or local */
	char outcome[33];     /* [a-z][a-z-]*, e.g. refused */
	char since[40];       /* YYYY-MM-DD or ISO 8601; at or after (UTC days) */
	char until[40];       /* before; a bare date counts its whole day */
	long limit;           /* 0..AUDIT_LIMIT_MAX; 0 = all (the web: default) */
	long long offset;     /* entries skipped, 0..AUDIT_OFFSET_MAX */
	long long before_id;  /* only ids below this; 0 = no bound */
	long long id;         /* only this entry; 0 = any (the page's detail view) */
};

/* Empty filter, limit AUDIT_PAGE_DEFAULT. */
void audit_filter_init(struct audit_filter *f);

/*
 * Set one filter from a (key, value) pair as given on a command line or in a
 * query string (already percent-decoded). Keys: partner, direction,
 * outcome, since, until, limit, offset, before, id; "token" is ignored (the
 * server authenticates). An empty value clears the key (a submitted form
 * sends every field). -1 with err (TMERR_USAGE, err->field = the key) for an
 * unknown key or a bad value; the message never quotes a long value.
 */
int audit_filter_set(struct audit_filter *f, const char *key,
		     const char *value, struct tmerr *err);

/*
 * Normalise a checked since/until value into a timestamptz literal in out
 * (>= 40 bytes): a bare date becomes its midnight UTC, or with end_of_day
 * the next day's midnight; a time without a zone is taken as UTC. -1 when
 * the value is not a valid date or ISO 8601 time.
 */
int audit_time_norm(const char *in, int end_of_day, char *out, size_t outsz);

/* The log's columns, in table order. */
enum audit_col {
	AC_ID, AC_AT, AC_DIRECTION, AC_EVENT, AC_PARTNER, AC_PACKAGE_ID,
	AC_SEQUENCE, AC_KIND, AC_BYTES, AC_SHA256, AC_SIGNER_FPR, AC_LOADED,
	AC_REJECTED, AC_OUTCOME, AC_ERROR, AC_PREV_HASH, AC_HASH, AUDIT_NCOLS
};
extern const char *const audit_col_name[AUDIT_NCOLS];

/* One entry as text; v[i] is NULL for SQL NULL. at is UTC, microseconds,
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ". Valid only during the callback. */
struct audit_row {
	const char *v[AUDIT_NCOLS];
};

/* Called once per entry; a non-zero return (with err set) stops the query. */
typedef int (*audit_row_fn)(void *arg, const struct audit_row *r,
			    struct tmerr *err);

/*
 * Run the filtered query, newest first (or oldest first), through a cursor
 * fetching a batch at a time, so memory stays flat for any number of
 * entries. limit 0 means all. Uses its own read-only transaction when the
 * connection is idle, else the open one. Returns the number of entries, or
 * -1 with err (TMERR_DB, or what fn set).
 */
long long audit_query(PGconn *conn, const struct audit_filter *f,
		      int oldest_first, audit_row_fn fn, void *arg,
		      struct tmerr *err);

/* ---- renderers; each returns 0 or a BUF_* error (buffer full) ---------- */

/* audit list: a fixed-width table line (control characters shown as '?',
 * the error cut to 60 bytes), and its header line. */
int audit_text_header(struct buf *out);
int audit_text_row(const struct audit_row *r, struct buf *out);
/* audit show: "name: value" lines, every column. */
int audit_show_row(const struct audit_row *r, struct buf *out);
/* One JSON object (no newline): numbers as numbers, NULL as null. */
int audit_json_row(const struct audit_row *r, struct buf *out);
/* CSV (RFC 4180, csvout): header, then one record per entry. */
void audit_csv_header(FILE *f);
void audit_csv_row(FILE *f, const struct audit_row *r);

/* Escapers: HTML text/attribute (& < > " ' escaped, control characters
 * dropped), JSON string with its quotes, URL query component. */
int audit_html_escape(struct buf *out, const char *s);
int audit_json_str(struct buf *out, const char *s);
int audit_url_escape(struct buf *out, const char *s);

/* The query string for f (without '?'), with offset replaced by offset. */
int audit_filter_query(const struct audit_filter *f, long long offset,
		       struct buf *out);

/*
 * The page's parts, for audit_html() and for tests without a database.
 * chain is xlog_verify()'s result, or NULL when it could not run (then
 * chain_err says why). base_path is where the page is served ("/audit").
 */
struct audit_page {
	const struct audit_filter *filter;
	const char *base_path;
	const struct xlog_check *chain;
	const char *chain_err;
};
int audit_html_begin(const struct audit_page *p, const char *title,
		     struct buf *out);
int audit_html_filters(const struct audit_page *p, struct buf *out);
int audit_html_table_begin(struct buf *out);
int audit_html_row(const struct audit_page *p, const struct audit_row *r,
		   struct buf *out);
/* Close the table; shown = rows on this page; more = an older page exists. */
int audit_html_table_end(const struct audit_page *p, long shown, int more,
			 struct buf *out);
int audit_html_detail(const struct audit_page *p, const struct audit_row *r,
		      struct buf *out);
int audit_html_end(struct buf *out);

/*
 * GET /v1/audit: a JSON array of the entries f selects, newest first, at
 * most f->limit (0: AUDIT_PAGE_DEFAULT) from f->offset. Appends to out.
 * -1 with err (TMERR_DB, or TMERR_LIMIT when out is full).
 */
int audit_json(PGconn *conn, const struct audit_filter *f, struct buf *out,
	       struct tmerr *err);

/*
 * GET /audit: one self-contained HTML document (inline CSS, no script, no
 * external reference): the chain status, the filter form and a page of
 * entries with newer/older links; or, when detail_id (else f->id) is > 0,
 * that entry's every column. Appends to out. Returns 0, 1 when the detail
 * entry does not exist (out holds a page saying so: send it as 404), or -1
 * with err (TMERR_DB; TMERR_LIMIT when out is full).
 */
int audit_html(PGconn *conn, const struct audit_filter *f,
	       long long detail_id, const char *base_path, struct buf *out,
	       struct tmerr *err);

#endif
