#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../adapters/adapter.h"
#include "buf.h"
#include "pgx.h"
#include "check.h"
#include "csvout.h"
#include "mapping.h"
#include "../adapters/bundle.h"
#include "bloom.h"
#include "mask.h"
#include "profile.h"

/*
 * Rows go to the server in CopyData messages of about this size. The server
 * parses a message only once it has all of it, and a blocking send returns
 * only when the socket has taken the bytes, so large messages make client and
 * server take turns: 256 KiB messages kept each about half idle (1M teachers:
 * COPY 9.1 s). At 32 KiB the server parses one while the next is being built
 * (5.3 s). docs/performance.md has the measurements.
 */
#define COPY_CHUNK (32 * 1024)
#define SQL_CAP (256 * 1024)

/* ---- small helpers ------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Append s as a quoted SQL identifier (canonical names are [a-z_0-9]). */
static void add_ident(struct buf *b, const char *s)
{
	buf_addch(b, '"');
	buf_addstr(b, s);
	buf_addch(b, '"');
}

static void add_literal(PGconn *conn, struct buf *b, const char *s)
{
	char *q = PQescapeLiteral(conn, s, strlen(s));

	buf_addstr(b, q ? q : "NULL");
	PQfreemem(q);
}

/* COPY text format: escape backslash, tab, newline, carriage return. */
static int copy_add_value(struct buf *b, const char *v, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		char c = v[i], e;

		switch (c) {
		case '\\': e = '\\'; break;
		case '\t': e = 't'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		default: continue;
		}
		if (buf_add(b, v + start, i - start) || buf_addch(b, '\\') ||
		    buf_addch(b, e))
			return -1;
		start = i + 1;
	}
	return buf_add(b, v + start, n - start);
}

/* ---- rejects ------------------------------------------------------------- */

struct rejects {
	FILE *db;        /* COPY text lines for tmis.load_reject, per file */
	FILE *csv;       /* --reject-file */
	long long load_id;
	struct load_result *res;
	struct buf line;
};

/*
 * raw_type/raw_number (the unmasked teacher key, may be NULL) and school
 * travel only to a temporary table, where they find the teacher's school
 * for the quality report; what is stored is masked.
 */
static int reject_add(struct rejects *rj, const char *file, long line,
		      const char *category, const char *key,
		      const struct tmerr *e, const char *school,
		      const char *raw_type, size_t tlen,
		      const char *raw_number, size_t nlen)
{
	const char *cols[8];
	char lbuf[32];
	struct load_result *res = rj->res;

	snprintf(lbuf, sizeof(lbuf), "%ld", line);
	cols[0] = file;
	cols[1] = lbuf;
	cols[2] = category;
	cols[3] = key;
	cols[4] = e->field;
	cols[5] = e->rule[0] ? e->rule : "invalid";
	cols[6] = e->value;
	cols[7] = e->msg;
	if (rj->csv)
		for (int i = 0; i < 8; i++)
			csv_put_cell(rj->csv, cols[i], i == 7);
	buf_reset(&rj->line);
	buf_addf(&rj->line, "%lld", rj->load_id);
	for (int i = 0; i < 8; i++) {
		buf_addch(&rj->line, '\t');
		if (i == 4 && !cols[i][0])
			buf_addstr(&rj->line, "\\N");
		else
			copy_add_value(&rj->line, cols[i], strlen(cols[i]));
	}
	buf_addch(&rj->line, '\t');
	if (school && *school)
		copy_add_value(&rj->line, school, strlen(school));
	else
		buf_addstr(&rj->line, "\\N");
	buf_addch(&rj->line, '\t');
	if (raw_type && raw_number && nlen) {
		copy_add_value(&rj->line, raw_type, tlen);
		buf_addch(&rj->line, '\t');
		copy_add_value(&rj->line, raw_number, nlen);
	} else {
		buf_addstr(&rj->line, "\\N\t\\N");
	}
	buf_addch(&rj->line, '\n');
	if (fwrite(rj->line.ptr, 1, rj->line.len, rj->db) != rj->line.len)
		return -1;
	if (res->nsample < 8)
		snprintf(res->sample[res->nsample++], sizeof(res->sample[0]),
			 "%.200s:%ld: %.95s %.31s%s%.63s: %.400s%s%.79s%s", file, line, key,
			 cols[5], e->field[0] ? " " : "", e->field, e->msg,
			 e->value[0] ? " (\"" : "", e->value, e->value[0] ? "\")" : "");
	return 0;
}

/* Stream the collected rejects into tmis.load_reject and empty the file. */
static int rejects_flush(PGconn *conn, struct rejects *rj, struct tmerr *err)
{
	char chunk[65536];
	size_t n;
	PGresult *r;

	if (ftell(rj->db) <= 0)
		return 0;
	if (fflush(rj->db) || fseek(rj->db, 0, SEEK_SET))
		return tmerr_set(err, TMERR_SYS, "cannot rewind the reject spool: %s",
				 strerror(errno));
	if (pgx_exec(conn, "CREATE TEMP TABLE IF NOT EXISTS tmisgw_rej (load_id bigint, "
			  "file text, line bigint, category text, teacher_key text, "
			  "field text, rule text, value text, message text, "
			  "school_code text, raw_type text, raw_number text) ON COMMIT DROP",
		    err, "storing rejects"))
		return -1;
	r = PQexec(conn, "COPY tmisgw_rej FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return pgx_fail(conn, r, err, "storing rejects");
	PQclear(r);
	while ((n = fread(chunk, 1, sizeof(chunk), rj->db)) > 0)
		if (PQputCopyData(conn, chunk, (int)n) != 1)
			return pgx_fail(conn, NULL, err, "storing rejects");
	if (PQputCopyEnd(conn, NULL) != 1)
		return pgx_fail(conn, NULL, err, "storing rejects");
	r = PQgetResult(conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pgx_fail(conn, r, err, "storing rejects");
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);
	if (pgx_exec(conn, "INSERT INTO tmis.load_reject (load_id, file, line, category, "
			  "teacher_key, field, rule, value, message, school_code) "
			  "SELECT r.load_id, r.file, r.line, r.category, r.teacher_key, "
			  "r.field, r.rule, r.value, r.message, "
			  "COALESCE(r.school_code, t.school_code) FROM tmisgw_rej r "
			  "LEFT JOIN tmis.teacher t ON t.id_type = r.raw_type "
			  "AND t.id_number = r.raw_number", err, "storing rejects") ||
	    pgx_exec(conn, "TRUNCATE tmisgw_rej", err, "storing rejects"))
		return -1;
	if (fseek(rj->db, 0, SEEK_SET) || ftruncate(fileno(rj->db), 0))
		return tmerr_set(err, TMERR_SYS, "cannot reset the reject spool: %s",
				 strerror(errno));
	return 0;
}

/* ---- progress ------------------------------------------------------------ */

struct counting_input {
	struct input in;      /* what the adapter reads */
	struct input *inner;
	unsigned long long bytes;
};

static ssize_t counting_read(void *ctx, void *dst, size_t n)
{
	struct counting_input *ci = ctx;
	ssize_t r = ci->inner->read(ci->inner->ctx, dst, n);

	if (r > 0)
		ci->bytes += (unsigned long long)r;
	return r;
}

struct progress {
	int on;
	double start, last;
	unsigned long long total;
	const char *name;
};

static void progress_draw(struct progress *p, long long rows,
			  unsigned long long bytes, int final)
{
	double t = now_s(), el = t - p->start, rate;

	if (!p->on || (!final && t - p->last < 0.5))
		return;
	p->last = t;
	rate = el > 0 ? bytes / el / 1e6 : 0;
	fprintf(stderr, "\r\033[K  %s: %lld rows, %.1f MB/s", p->name, rows, rate);
	if (p->total && bytes && rate > 0 && !final) {
		double eta = (p->total - bytes) / 1e6 / rate;

		fprintf(stderr, ", %.0f%%, ETA %d:%02d", 100.0 * bytes / p->total,
			(int)eta / 60, (int)eta % 60);
	}
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ---- choosing a mapping -------------------------------------------------- */

int load_pick_mapping(const struct defs *d, const char *mapping,
		      const char *category, const char *file, char *out,
		      size_t outsz, struct tmerr *err)
{
	char base[256];
	const char *slash, *dot, *ext = "";

	if (mapping) {
		snprintf(out, outsz, "%s", mapping);
		return 0;
	}
	slash = strrchr(file, '/');
	slash = slash ? slash + 1 : file;
	dot = strrchr(slash, '.');
	if (dot && !strcasecmp(dot, ".xml"))
		ext = ".xml";
	if (!category) {
		snprintf(base, sizeof(base), "%s", slash);
		dot = strchr(base, '.');
		if (dot)
			base[dot - base] = '\0';
		category = base;
		if (!defs_category(d, category)) {
			tmerr_where(err, file, 0, 0);
			return tmerr_set(err, TMERR_USAGE,
					 "cannot tell the category of \"%s\" from its name; use --category or --mapping",
					 file);
		}
	} else if (!defs_category(d, category)) {
		return tmerr_set(err, TMERR_USAGE, "unknown category \"%s\"", category);
	}
	/* training.xml → canonical/training.xml.map, anything else → .map */
	snprintf(out, outsz, "%s/canonical/%s%s.map", d->dir, category, ext);
	return 0;
}

/* ---- one file ------------------------------------------------------------ */

struct file_job {
	char *path;          /* shown in messages: "file" or "bundle.zip:member" */
	const char *bundle;  /* the archive holding the input, or NULL */
	char *member;        /* its member name */
	unsigned long long size; /* for progress, 0 if unknown */
	int delta;           /* the bundle's manifest declares this member a delta */
	struct mapping *map;
	const struct category_def *cat;
	int seq;
};

/*
 * Where a file's rows wait for the server-side checks: the staging table
 * (line in _line), or — on the direct path into an empty table — the target
 * itself (line in src_line, this load's rows only).
 */
struct place {
	const char *table;   /* "tmisgw_stage" or tmis."<category>" */
	const char *line;    /* "_line" or "src_line" */
	char where[64];      /* extra condition, "" or "s.load_id = N AND " */
	int direct;
};

/* Rows deleted by a server-side rule become rejects. The statement returns
 * line, id_type, id_number and optionally a rule ("rule" or "rule:field")
 * and, for duplicates, the earlier line. */
static int server_rejects(PGconn *conn, struct rejects *rj,
			  const struct file_job *job, const char *sql,
			  const char *fixed_rule, long long *count,
			  struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);
	int i, n;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pgx_fail(conn, r, err, "checking staged rows");
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		struct tmerr e;
		char key[96], id[80];
		const char *why = PQnfields(r) > 3 ? PQgetvalue(r, i, 3) : fixed_rule;
		const char *colon = strchr(why, ':');

		tmerr_clear(&e);
		mask_id(PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2), id,
			sizeof(id));
		snprintf(key, sizeof(key), "%s:%s", PQgetvalue(r, i, 1), id);
		snprintf(e.rule, sizeof(e.rule), "%.*s",
			 colon ? (int)(colon - why) : (int)strlen(why), why);
		if (colon)
			tmerr_field(&e, colon + 1);
		if (!strcmp(e.rule, "duplicate"))
			tmerr_set(&e, TMERR_INPUT,
				  "key repeats an earlier row of this input (line %s)",
				  PQgetvalue(r, i, PQnfields(r) - 1));
		else if (!strcmp(e.rule, "unknown_teacher"))
			tmerr_set(&e, TMERR_INPUT, "no teacher with this key is loaded");
		else if (!strcmp(e.rule, "out_of_scope"))
			tmerr_set(&e, TMERR_INPUT,
				  "the teacher's school is outside the sender's province");
		else if (!strcmp(e.rule, "not_applicable"))
			tmerr_set(&e, TMERR_INPUT,
				  "category \"%s\" does not apply to the teacher's indicator set",
				  job->cat->name);
		else
			tmerr_set(&e, TMERR_INPUT,
				  "required value is missing for the teacher's indicator set");
		if (reject_add(rj, job->path, atol(PQgetvalue(r, i, 0)), job->cat->name,
			       key, &e, NULL, PQgetvalue(r, i, 1),
			       (size_t)PQgetlength(r, i, 1), PQgetvalue(r, i, 2),
			       (size_t)PQgetlength(r, i, 2))) {
			PQclear(r);
			return tmerr_set(err, TMERR_SYS, "cannot write the reject spool");
		}
	}
	*count += n;
	PQclear(r);
	return 0;
}

/* A later row repeating an earlier row's key within the staging table, and
 * (direct path) a staged row repeating a key already sent to the target. */
static int dup_checks(PGconn *conn, struct rejects *rj, const struct file_job *job,
		      const char *target, long long *nrej, struct tmerr *err)
{
	const struct category_def *c = job->cat;
	struct buf sql = BUF_INIT(SQL_CAP);
	size_t k;
	int rc;

	buf_addstr(&sql, "WITH g AS (SELECT ");
	for (k = 0; k < c->nkeys; k++)
		buf_addf(&sql, "\"%s\", ", c->fields[c->keys[k]].name);
	/* the stage holds the rows in input order, so the smallest ctid is the
	 * first record even where records share a line (one-line XML) */
	buf_addstr(&sql, "min(_line) AS keep, min(ctid) AS first FROM tmisgw_stage GROUP BY ");
	for (k = 0; k < c->nkeys; k++)
		buf_addf(&sql, "%s\"%s\"", k ? ", " : "", c->fields[c->keys[k]].name);
	buf_addstr(&sql, " HAVING count(*) > 1) DELETE FROM tmisgw_stage s USING g WHERE ");
	for (k = 0; k < c->nkeys; k++)
		buf_addf(&sql, "s.\"%s\" = g.\"%s\" AND ", c->fields[c->keys[k]].name,
			 c->fields[c->keys[k]].name);
	buf_addstr(&sql, "s.ctid <> g.first RETURNING s._line, s.id_type, s.id_number, "
			 "'duplicate', g.keep");
	rc = server_rejects(conn, rj, job, sql.ptr, "duplicate", nrej, err);
	if (!rc && target) {
		buf_reset(&sql);
		buf_addf(&sql, "DELETE FROM tmisgw_stage s USING %s g WHERE ", target);
		for (k = 0; k < c->nkeys; k++)
			buf_addf(&sql, "s.\"%s\" = g.\"%s\" AND ",
				 c->fields[c->keys[k]].name, c->fields[c->keys[k]].name);
		buf_addstr(&sql, "true RETURNING s._line, s.id_type, s.id_number, "
				 "'duplicate', g.src_line");
		rc = server_rejects(conn, rj, job, sql.ptr, "duplicate", nrej, err);
	}
	buf_release(&sql);
	return rc;
}

/*
 * A column the input lacks leaves stored values alone, so it is fine for
 * rows that update; a NEW row lacking a column its indicator set requires is
 * rejected here. Nothing is generated when the input supplies every column.
 */
static int new_rows_check(PGconn *conn, const struct load_opts *o,
			  struct rejects *rj, const struct file_job *job,
			  const unsigned char *sup, const struct place *pl,
			  long long *nrej, struct tmerr *err)
{
	const struct category_def *c = job->cat;
	const struct defs *d = o->defs;
	struct buf why = BUF_INIT(SQL_CAP), sql = BUF_INIT(SQL_CAP);
	int fset = category_field(c, "indicator_set"), any = 0, rc;
	size_t s, f, k;

	if (fset >= 0 && !sup[fset]) {
		buf_addstr(&why, "'required:indicator_set'");
		any = 1;
	} else {
		buf_addstr(&why, "CASE ");
		if (fset >= 0)
			buf_addstr(&why, "s.indicator_set");
		else
			buf_addstr(&why, "(SELECT t.indicator_set FROM tmis.teacher t "
					 "WHERE t.id_type = s.id_type AND t.id_number = s.id_number)");
		for (s = 0; s < d->nsets; s++) {
			const struct indicator_set *is = &d->sets[s];

			for (f = 0; f < c->nfields; f++)
				if (!sup[f] && is->applicable[c->index] &&
				    is->required[c->index][f])
					break;
			if (f == c->nfields)
				continue;
			buf_addstr(&why, " WHEN ");
			add_literal(conn, &why, is->name);
			buf_addf(&why, " THEN 'required:%s'", c->fields[f].name);
			any = 1;
		}
		buf_addstr(&why, " END");
	}
	if (!any) {
		buf_release(&why);
		return 0;
	}
	buf_addf(&sql, "DELETE FROM %s s WHERE %s", pl->table, pl->where);
	if (!pl->direct) {
		/* on the direct path every row is new */
		buf_addf(&sql, "NOT EXISTS (SELECT 1 FROM tmis.\"%s\" x WHERE ", c->name);
		for (k = 0; k < c->nkeys; k++)
			buf_addf(&sql, "%sx.\"%s\" = s.\"%s\"", k ? " AND " : "",
				 c->fields[c->keys[k]].name, c->fields[c->keys[k]].name);
		buf_addstr(&sql, ") AND ");
	}
	buf_addf(&sql, "(%s) IS NOT NULL RETURNING s.%s, s.id_type, s.id_number, %s",
		 why.ptr, pl->line, why.ptr);
	rc = server_rejects(conn, rj, job, sql.ptr, NULL, nrej, err);
	buf_release(&why);
	buf_release(&sql);
	return rc;
}

/* Checks that need other tables: the teacher must exist, the category must
 * apply to the teacher's indicator set, and that set's required fields. */
static int row_checks(PGconn *conn, const struct load_opts *o,
		      struct rejects *rj, const struct file_job *job,
		      const unsigned char *sup, const struct place *pl,
		      long long *nrej, struct tmerr *err)
{
	const struct category_def *c = job->cat;
	const struct defs *d = o->defs;
	struct buf cse = BUF_INIT(SQL_CAP), sql = BUF_INIT(SQL_CAP);
	struct buf sets = BUF_INIT(SQL_CAP);
	struct checker ck;
	struct ymd today;
	size_t s, f;
	int rc = -1;

	if (c->multi) {
		buf_addf(&sql, "DELETE FROM %s s WHERE %sNOT EXISTS "
			       "(SELECT 1 FROM tmis.teacher t WHERE t.id_type = s.id_type "
			       "AND t.id_number = s.id_number) "
			       "RETURNING s.%s, s.id_type, s.id_number",
			 pl->table, pl->where, pl->line);
		if (server_rejects(conn, rj, job, sql.ptr, "unknown_teacher", nrej, err))
			goto out;
		if (o->scope_prov) {
			buf_reset(&sql);
			buf_addf(&sql, "DELETE FROM %s s USING tmis.teacher t WHERE %s"
				       "t.id_type = s.id_type AND t.id_number = s.id_number "
				       "AND substr(t.school_code, 3, 2) IS DISTINCT FROM ",
				 pl->table, pl->where);
			add_literal(conn, &sql, o->scope_prov);
			buf_addf(&sql, " RETURNING s.%s, s.id_type, s.id_number", pl->line);
			if (server_rejects(conn, rj, job, sql.ptr, "out_of_scope", nrej, err))
				goto out;
		}
		ymd_today(&today);
		checker_init(&ck, d, c, &today);
		buf_addstr(&cse, "CASE");
		for (s = 0; s < d->nsets; s++) {
			const struct indicator_set *is = &d->sets[s];
			size_t before = cse.len;

			if (!is->applicable[c->index]) {
				buf_addstr(&cse, " WHEN t.indicator_set = ");
				add_literal(conn, &cse, is->name);
				buf_addstr(&cse, " THEN 'not_applicable'");
			}
			for (f = 0; is->applicable[c->index] && f < c->nfields; f++) {
				if (!is->required[c->index][f] || ck.required[f] ||
				    !sup[f])
					continue;
				buf_addstr(&cse, " WHEN t.indicator_set = ");
				add_literal(conn, &cse, is->name);
				buf_addf(&cse, " AND s.\"%s\" IS NULL THEN 'required:%s'",
					 c->fields[f].name, c->fields[f].name);
			}
			/* only teachers of these sets need joining */
			if (cse.len > before) {
				buf_addstr(&sets, sets.len ? ", " : "");
				add_literal(conn, &sets, is->name);
			}
		}
		if (cse.len > 4) {
			buf_addstr(&cse, " END");
			buf_reset(&sql);
			buf_addf(&sql,
				 "DELETE FROM %s s USING tmis.teacher t "
				 "WHERE %st.indicator_set IN (%s) AND t.id_type = s.id_type "
				 "AND t.id_number = s.id_number AND (%s) IS NOT NULL "
				 "RETURNING s.%s, s.id_type, s.id_number, %s",
				 pl->table, pl->where, sets.ptr, cse.ptr, pl->line, cse.ptr);
			if (server_rejects(conn, rj, job, sql.ptr, NULL, nrej, err))
				goto out;
		}
	}
	if (new_rows_check(conn, o, rj, job, sup, pl, nrej, err))
		goto out;
	rc = 0;
out:
	buf_release(&sql);
	buf_release(&cse);
	buf_release(&sets);
	return rc;
}

/* Whether any provincial indicator (stored in "extra") is supplied. */
static int extras_supplied(const struct category_def *c, const unsigned char *sup)
{
	for (size_t f = 0; f < c->nfields; f++)
		if (sup[f] && c->fields[f].extra)
			return 1;
	return 0;
}

/* Column list of the supplied fields: "a", "b", ..., then extra if any;
 * each qualified by alias (as in s."a") unless alias is "". */
static void supplied_cols(const struct category_def *c, const unsigned char *sup,
			  const char *alias, struct buf *cols)
{
	for (size_t f = 0; f < c->nfields; f++) {
		if (!sup[f] || c->fields[f].extra)
			continue;
		if (cols->len)
			buf_addstr(cols, ", ");
		buf_addstr(cols, alias);
		add_ident(cols, c->fields[f].name);
	}
	if (extras_supplied(c, sup)) {
		buf_addstr(cols, ", ");
		buf_addstr(cols, alias);
		buf_addstr(cols, "extra");
	}
}

static void json_string(struct buf *b, const char *v, size_t n)
{
	buf_addch(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == '"' || ch == '\\') {
			buf_addch(b, '\\');
			buf_addch(b, ch);
		} else if (ch < 0x20) {
			buf_addf(b, "\\u%04x", ch);
		} else {
			buf_addch(b, ch);
		}
	}
	buf_addch(b, '"');
}

/* The supplied provincial indicators of a row as one JSON object; an empty
 * value is null, so it clears what was stored. */
static void extras_json(const struct category_def *c, const unsigned char *sup,
			const struct row *r, struct buf *out)
{
	int first = 1;

	buf_addch(out, '{');
	for (size_t f = 0; f < c->nfields; f++) {
		const struct field_def *fd = &c->fields[f];

		if (!sup[f] || !fd->extra)
			continue;
		if (!first)
			buf_addch(out, ',');
		first = 0;
		json_string(out, fd->name, strlen(fd->name));
		buf_addch(out, ':');
		if (!r->len[f])
			buf_addstr(out, "null");
		else if (fd->type == FT_BOOL)
			buf_addstr(out, r->val[f][0] == 't' ? "true" : "false");
		else if (fd->type == FT_INT || fd->type == FT_DECIMAL)
			buf_add(out, r->val[f], r->len[f]);
		else
			json_string(out, r->val[f], r->len[f]);
	}
	buf_addch(out, '}');
}

/* a.key = b.key for each key column of c */
static void key_join(const struct category_def *c, char a, char b, struct buf *sql)
{
	size_t k;

	for (k = 0; k < c->nkeys; k++)
		buf_addf(sql, "%s%c.\"%s\" = %c.\"%s\"", k ? " AND " : "",
			 a, c->fields[c->keys[k]].name, b, c->fields[c->keys[k]].name);
}

/*
 * The columns a merge compares, for ROW(...): of the target (side 't') or
 * as the staged row would leave them (side 's').
 */
static void add_compared(const struct category_def *c, const unsigned char *sup,
			 char side, struct buf *sql)
{
	size_t f;

	for (f = 0; f < c->nfields; f++)
		if (sup[f] && !c->fields[f].key && !c->fields[f].extra)
			buf_addf(sql, "%c.\"%s\", ", side, c->fields[f].name);
	if (side == 't')
		buf_addstr(sql, c->multi ? "t.current" : "t.reported");
	else
		buf_addstr(sql, "true");
	if (extras_supplied(c, sup))
		buf_addstr(sql, side == 't' ? ", t.extra" :
			   ", COALESCE(t.extra, '{}') || s.extra");
}

/* Merge the staging table into the target: a plain INSERT when the target
 * is empty (direct path leftovers), else an UPDATE where something differs
 * and an INSERT of the new keys, counting both. */
static int merge_stage(PGconn *conn, const struct file_job *job,
		       const unsigned char *sup, long long load_id, int empty,
		       long long staged, struct load_counts *cnt,
		       struct tmerr *err)
{
	const struct category_def *c = job->cat;
	struct buf sql = BUF_INIT(SQL_CAP), cols = BUF_INIT(SQL_CAP);
	struct buf scols = BUF_INIT(SQL_CAP);
	long long inserted = 0, updated = 0, differ;
	size_t f, k;
	int rc = -1;

	supplied_cols(c, sup, "", &cols);
	if (empty) {
		buf_addf(&sql, "INSERT INTO tmis.\"%s\" (%s, load_id, src_line) "
			       "SELECT %s, %lld, _line FROM tmisgw_stage",
			 c->name, cols.ptr, cols.ptr, load_id);
		if (pgx_exec_rows(conn, sql.ptr, &inserted, err, "inserting staged rows"))
			goto out;
		cnt->inserted += inserted;
		rc = 0;
		goto out;
	}
	/*
	 * The target is locked against other writers (target_empty). One join
	 * picks the staged rows that are new or differ; an UPDATE and an INSERT
	 * then touch only those. INSERT ... ON CONFLICT DO UPDATE locks, and so
	 * rewrites, every unchanged row, and its per-row index probes thrash a
	 * small buffer cache: 13.8 s for a reload of 1M unchanged teachers.
	 */
	supplied_cols(c, sup, "s.", &scols);
	buf_addstr(&sql, "CREATE TEMP TABLE tmisgw_diff ON COMMIT DROP AS SELECT ");
	for (k = 0; k < c->nkeys; k++)
		buf_addf(&sql, "s.\"%s\", ", c->fields[c->keys[k]].name);
	buf_addf(&sql, "t.\"%s\" IS NULL AS _new "
		       "FROM tmisgw_stage s LEFT JOIN tmis.\"%s\" t ON ",
		 c->fields[c->keys[0]].name, c->name);
	key_join(c, 't', 's', &sql);
	buf_addf(&sql, " WHERE t.\"%s\" IS NULL OR ROW(", c->fields[c->keys[0]].name);
	add_compared(c, sup, 't', &sql);
	buf_addstr(&sql, ") IS DISTINCT FROM ROW(");
	add_compared(c, sup, 's', &sql);
	buf_addstr(&sql, ")");
	if (pgx_exec_rows(conn, sql.ptr, &differ, err, "comparing staged rows"))
		goto out;
	if (!differ)
		goto drop;

	buf_reset(&sql);
	buf_addf(&sql, "UPDATE tmis.\"%s\" AS t SET ", c->name);
	for (f = 0; f < c->nfields; f++)
		if (sup[f] && !c->fields[f].key && !c->fields[f].extra)
			buf_addf(&sql, "\"%s\" = s.\"%s\", ",
				 c->fields[f].name, c->fields[f].name);
	/* indicators the file supplies replace theirs; others stay */
	if (extras_supplied(c, sup))
		buf_addstr(&sql, "extra = COALESCE(t.extra, '{}') || s.extra, ");
	/* a record that comes back after being superseded is current again */
	if (c->multi)
		buf_addstr(&sql, "current = true, superseded_at = NULL, "
				 "superseded_load = NULL, ");
	else
		buf_addstr(&sql, "reported = true, ");
	buf_addf(&sql, "load_id = %lld, src_line = s._line, "
		       "change_no = nextval('tmis.change_no_seq'), updated_at = now() "
		       "FROM tmisgw_stage s JOIN tmisgw_diff d ON NOT d._new AND ", load_id);
	/* by key, not _line: records of a one-line XML file share their line */
	key_join(c, 'd', 's', &sql);
	buf_addstr(&sql, " WHERE ");
	key_join(c, 't', 's', &sql);
	if (pgx_exec_rows(conn, sql.ptr, &updated, err, "updating changed records"))
		goto out;

	buf_reset(&sql);
	buf_addf(&sql, "INSERT INTO tmis.\"%s\" (%s, load_id, src_line) "
		       "SELECT %s, %lld, s._line FROM tmisgw_stage s "
		       "JOIN tmisgw_diff d ON d._new AND ",
		 c->name, cols.ptr, scols.ptr, load_id);
	key_join(c, 'd', 's', &sql);
	if (pgx_exec_rows(conn, sql.ptr, &inserted, err, "inserting new records"))
		goto out;
drop:
	if (pgx_exec(conn, "DROP TABLE tmisgw_diff", err, "dropping the comparison table"))
		goto out;
	cnt->inserted += inserted;
	cnt->updated += updated;
	cnt->unchanged += staged - inserted - updated;
	rc = 0;
out:
	buf_release(&sql);
	buf_release(&cols);
	buf_release(&scols);
	return rc;
}

/*
 * A full load of a category gives, for each teacher in the file, all of that
 * teacher's current records: stored records of those teachers that the file
 * no longer holds become history (current = false), never deleted. Teachers
 * with a rejected row in this file (tmisgw_held) keep their records as they
 * are, so a typo never retires a record.
 */
static int supersede(PGconn *conn, const struct file_job *job, long long load_id,
		     struct load_counts *cnt, struct tmerr *err)
{
	const struct category_def *c = job->cat;
	struct buf sql = BUF_INIT(SQL_CAP);
	PGresult *r;
	size_t k;

	buf_addf(&sql, "WITH t AS (SELECT DISTINCT id_type, id_number FROM tmisgw_stage "
		       "EXCEPT SELECT id_type, id_number FROM tmisgw_held) "
		       "UPDATE tmis.\"%s\" x SET current = false, superseded_at = now(), "
		       "superseded_load = %lld, change_no = nextval('tmis.change_no_seq') "
		       "FROM t WHERE x.id_type = t.id_type AND x.id_number = t.id_number "
		       "AND x.current AND NOT EXISTS (SELECT 1 FROM tmisgw_stage s WHERE ",
		 c->name, load_id);
	for (k = 0; k < c->nkeys; k++)
		buf_addf(&sql, "%ss.\"%s\" = x.\"%s\"", k ? " AND " : "",
			 c->fields[c->keys[k]].name, c->fields[c->keys[k]].name);
	buf_addstr(&sql, ")");
	r = PQexec(conn, sql.ptr);
	buf_release(&sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pgx_fail(conn, r, err, "superseding replaced records");
	cnt->superseded += atoll(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/*
 * A full teacher file with "scope FIELD" (e.g. school_code) is the complete
 * list of the teachers of every FIELD value it holds: stored teachers of
 * those values that it lacks are marked no longer reported, never deleted.
 */
static int unreport(PGconn *conn, const struct file_job *job, const char *prov,
		    long long load_id, struct load_counts *cnt, struct tmerr *err)
{
	struct buf sql = BUF_INIT(SQL_CAP);
	PGresult *r;

	buf_addf(&sql, "UPDATE tmis.\"%s\" x SET reported = false, load_id = %lld, "
		       "change_no = nextval('tmis.change_no_seq'), updated_at = now() "
		       "WHERE x.reported AND ", job->cat->name, load_id);
	if (job->map->scope >= 0) {
		const char *f = job->cat->fields[job->map->scope].name;

		buf_addf(&sql, "x.\"%s\" IN (SELECT \"%s\" FROM tmisgw_stage) ", f, f);
	} else {
		/* a package's full teacher file: the sender's whole province */
		buf_addstr(&sql, "substr(x.school_code, 3, 2) = ");
		add_literal(conn, &sql, prov);
	}
	buf_addstr(&sql, " AND NOT EXISTS (SELECT 1 FROM tmisgw_stage s WHERE s.id_type = x.id_type "
		       "AND s.id_number = x.id_number) AND NOT EXISTS (SELECT 1 FROM tmisgw_held h "
		       "WHERE h.id_type = x.id_type AND h.id_number = x.id_number)");
	r = PQexec(conn, sql.ptr);
	buf_release(&sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pgx_fail(conn, r, err, "marking teachers no longer reported");
	cnt->superseded += atoll(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

static int put_copy(PGconn *conn, const char *data, size_t n, struct tmerr *err)
{
	if (PQputCopyData(conn, data, (int)n) != 1)
		return pgx_fail(conn, NULL, err, "sending rows");
	return 0;
}

static int start_copy(PGconn *conn, const char *sql, struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COPY_IN)
		return pgx_fail(conn, r, err, "starting COPY");
	PQclear(r);
	return 0;
}

static int end_copy(PGconn *conn, long long *rows, struct tmerr *err)
{
	PGresult *r;

	if (PQputCopyEnd(conn, NULL) != 1)
		return pgx_fail(conn, NULL, err, "finishing COPY");
	r = PQgetResult(conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pgx_fail(conn, r, err, "loading rows");
	if (rows)
		*rows = atoll(PQcmdTuples(r));
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);
	return 0;
}

/* Send a spool file (COPY text lines) as the data of a COPY already begun. */
static int copy_spool(PGconn *conn, FILE *f, struct tmerr *err)
{
	char chunk[65536];
	size_t n;

	if (fflush(f) || fseek(f, 0, SEEK_SET))
		return tmerr_set(err, TMERR_SYS, "cannot read the row spool: %s",
				 strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (put_copy(conn, chunk, n, err))
			return -1;
	return 0;
}

/* Lock the target against other writers until commit and tell whether it
 * is empty, which allows the direct path. */
static int target_empty(PGconn *conn, const struct category_def *c, int *empty,
			struct tmerr *err)
{
	char sql[256];
	PGresult *r;

	snprintf(sql, sizeof(sql),
		 "LOCK TABLE tmis.\"%s\" IN SHARE ROW EXCLUSIVE MODE", c->name);
	if (pgx_exec(conn, sql, err, "locking the target table"))
		return -1;
	snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM tmis.\"%s\")", c->name);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pgx_fail(conn, r, err, "inspecting the target table");
	*empty = PQgetvalue(r, 0, 0)[0] == 'f';
	PQclear(r);
	return 0;
}

/* The row's own school code (teacher rows), for the reject record. */
static const char *row_school(const struct row *r, const struct checker *ck,
			      char *out, size_t outsz)
{
	int f = category_field(ck->cat, "school_code");

	if (f < 0 || !r->supplied[f] || !r->len[f])
		return NULL;
	str_copy_utf8(out, outsz, r->val[f], r->len[f]);
	return out;
}

/* A teacher row of a package must place the teacher in the sender's
 * province: digits 3-4 of its school code. */
static int scope_check(const struct category_def *c, const struct row *r,
		       const char *prov, struct tmerr *e)
{
	int f = category_field(c, "school_code");

	if (f < 0)
		return 0;
	if (r->supplied[f] && r->len[f] >= 4 && !memcmp(r->val[f] + 2, prov, 2))
		return 0;
	snprintf(e->rule, sizeof(e->rule), "out_of_scope");
	tmerr_field(e, "school_code");
	if (!r->supplied[f] || !r->len[f])
		return tmerr_set(e, TMERR_INPUT,
				 "school_code is needed to place the teacher in the sender's province \"%s\"",
				 prov), 1;
	tmerr_value(e, r->val[f], r->len[f]);
	tmerr_set(e, TMERR_INPUT,
		  "school is outside the sender's province \"%s\"", prov);
	return 1;
}

/* Remember the teacher of a rejected row (when its key fields made it
 * through mapping) so a full load does not supersede that teacher's records. */
static int hold_teacher(FILE *held, const struct row *r, const struct checker *ck)
{
	struct buf b = BUF_INIT(1024);
	int rc = 0;

	if (!r->supplied[ck->f_id_type] || !r->supplied[ck->f_id_number] ||
	    !r->len[ck->f_id_number])
		return 0;
	copy_add_value(&b, r->val[ck->f_id_type], r->len[ck->f_id_type]);
	buf_addch(&b, '\t');
	copy_add_value(&b, r->val[ck->f_id_number], r->len[ck->f_id_number]);
	if (buf_addch(&b, '\n') == 0 && fwrite(b.ptr, 1, b.len, held) != b.len)
		rc = -1;
	buf_release(&b);
	return rc;
}

/* A delete row's input line and key fields, as a COPY text line. */
static int write_keys(FILE *f, const struct category_def *c, const struct row *r,
		      long line)
{
	struct buf b = BUF_INIT(ADAPTER_RECORD_CAP);
	int rc = 0;

	buf_addf(&b, "%ld", line);
	for (size_t k = 0; k < c->nkeys; k++) {
		buf_addch(&b, '\t');
		copy_add_value(&b, r->val[c->keys[k]], r->len[c->keys[k]]);
	}
	if (buf_addch(&b, '\n') || fwrite(b.ptr, 1, b.len, f) != b.len)
		rc = -1;
	buf_release(&b);
	return rc;
}

/*
 * Rows with op = delete (delta inputs, OneRoster "tobedeleted") never delete:
 * a teacher is marked no longer reported, a record becomes history, as a
 * full load would do to what it no longer holds.
 */
static int apply_deletes(PGconn *conn, const struct load_opts *o,
			 struct rejects *rj, const struct file_job *job, FILE *del,
			 long long load_id, struct load_counts *cnt,
			 struct tmerr *err)
{
	const struct category_def *c = job->cat;
	struct buf sql = BUF_INIT(SQL_CAP), keys = BUF_INIT(SQL_CAP);
	PGresult *r;
	size_t k;
	int rc = -1;

	for (k = 0; k < c->nkeys; k++) {
		if (k)
			buf_addstr(&keys, ", ");
		add_ident(&keys, c->fields[c->keys[k]].name);
	}
	buf_addf(&sql, "CREATE TEMP TABLE tmisgw_del ON COMMIT DROP AS SELECT "
		       "NULL::bigint AS _line, %s FROM tmis.\"%s\" WITH NO DATA",
		 keys.ptr, c->name);
	if (pgx_exec(conn, sql.ptr, err, "creating the delete table"))
		goto out;
	buf_reset(&sql);
	buf_addf(&sql, "COPY tmisgw_del (_line, %s) FROM STDIN", keys.ptr);
	if (start_copy(conn, sql.ptr, err))
		goto out;
	if (copy_spool(conn, del, err)) {
		PQputCopyEnd(conn, "tmisgw: load aborted");
		while ((r = PQgetResult(conn)))
			PQclear(r);
		goto out;
	}
	if (end_copy(conn, NULL, err))
		goto out;
	if (o->scope_prov) {
		/* a sender deletes only its own province's records */
		buf_reset(&sql);
		buf_addstr(&sql, "DELETE FROM tmisgw_del d WHERE NOT EXISTS (SELECT 1 "
				 "FROM tmis.teacher t WHERE t.id_type = d.id_type AND "
				 "t.id_number = d.id_number AND substr(t.school_code, 3, 2) = ");
		add_literal(conn, &sql, o->scope_prov);
		buf_addstr(&sql, ") RETURNING d._line, d.id_type, d.id_number");
		if (server_rejects(conn, rj, job, sql.ptr, "out_of_scope",
				   &cnt->rejected, err))
			goto out;
	}
	buf_reset(&sql);
	if (c->multi)
		buf_addf(&sql, "UPDATE tmis.\"%s\" x SET current = false, superseded_at = now(), "
			       "superseded_load = %lld, ", c->name, load_id);
	else
		buf_addf(&sql, "UPDATE tmis.\"%s\" x SET reported = false, load_id = %lld, ",
			 c->name, load_id);
	buf_addstr(&sql, "change_no = nextval('tmis.change_no_seq'), updated_at = now() "
			 "FROM tmisgw_del d WHERE ");
	for (k = 0; k < c->nkeys; k++)
		buf_addf(&sql, "x.\"%s\" = d.\"%s\" AND ", c->fields[c->keys[k]].name,
			 c->fields[c->keys[k]].name);
	buf_addstr(&sql, c->multi ? "x.current" : "x.reported");
	r = PQexec(conn, sql.ptr);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgx_fail(conn, r, err, "applying deletes");
		goto out;
	}
	cnt->deleted += atoll(PQcmdTuples(r));
	PQclear(r);
	rc = pgx_exec(conn, "DROP TABLE tmisgw_del", err, "dropping the delete table");
out:
	buf_release(&sql);
	buf_release(&keys);
	return rc;
}

/*
 * A large first load builds the target's indexes once, by sorting, after
 * the rows are in, rather than growing them a row at a time (pg_restore and
 * pgloader do the same). The definitions are read from the catalog, dropped,
 * and replayed by restore_indexes() in the same transaction; the unique ones
 * then prove there was no duplicate. Holds ACCESS EXCLUSIVE until commit.
 */
static int defer_indexes(PGconn *conn, const char *target, struct buf *restore,
			 struct tmerr *err)
{
	struct buf sql = BUF_INIT(SQL_CAP);
	PGresult *r;
	int i, n;

	buf_addf(&sql,
		 "SELECT CASE WHEN con.oid IS NULL THEN pg_get_indexdef(i.indexrelid) "
		 "ELSE format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', i.indrelid::regclass, "
		 "con.conname, pg_get_constraintdef(con.oid)) END, "
		 "CASE WHEN con.oid IS NULL THEN format('DROP INDEX %%s', i.indexrelid::regclass) "
		 "ELSE format('ALTER TABLE %%s DROP CONSTRAINT %%I', i.indrelid::regclass, "
		 "con.conname) END "
		 "FROM pg_index i LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid "
		 "AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u') "
		 "WHERE i.indrelid = '%s'::regclass", target);
	r = PQexec(conn, sql.ptr);
	buf_release(&sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pgx_fail(conn, r, err, "reading the target's indexes");
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		if (buf_addstr(restore, PQgetvalue(r, i, 0)) || buf_addstr(restore, ";\n")) {
			PQclear(r);
			return tmerr_set(err, TMERR_LIMIT, "index definitions too long");
		}
		if (pgx_exec(conn, PQgetvalue(r, i, 1), err, "deferring an index")) {
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	return 0;
}

static int restore_indexes(PGconn *conn, struct buf *restore, struct tmerr *err)
{
	if (!restore->len)
		return 0;
	if (pgx_exec(conn, restore->ptr, err, "building the target's indexes"))
		return -1;
	buf_reset(restore);
	return 0;
}

/* Inputs from this size on defer index building in a first load. */
#define DEFER_INDEX_BYTES (4u << 20)

static unsigned long long input_size(const struct file_job *job)
{
	struct stat st;

	if (job->bundle)
		return job->size;
	return stat(job->path, &st) == 0 && S_ISREG(st.st_mode) ?
	       (unsigned long long)st.st_size : 0;
}

#define BLOOM_BITS ((size_t)1 << 27) /* 16 MiB */
#define BLOOM_K 6

/*
 * One file. Rows are mapped and checked on the client, then:
 *  - staged path: all rows COPY into a temp staging table; duplicates and
 *    cross-table checks run there; one merge writes the target.
 *  - direct path (the target is empty, as in a first load): rows whose key a
 *    fixed-size Bloom filter has certainly not seen COPY straight into the
 *    target, with their line in src_line; the few that may repeat a key
 *    wait in a spool, are staged afterwards and checked against the target.
 *    Cross-table checks then run on this load's rows in the target.
 */
static int load_one(PGconn *conn, const struct load_opts *o, struct rejects *rj,
		    struct file_job *job, struct load_result *res,
		    struct tmerr *err)
{
	const struct category_def *c = job->cat;
	const struct adapter *ad = adapter_find(job->map->format);
	struct load_counts *cnt = &res->cat[c->index], fc = { 0 };
	struct counting_input ci = { 0 };
	struct input in;
	struct adapter_opts ao;
	struct adapter_handle *h = NULL;
	const char *const *names;
	size_t nnames, f, k;
	unsigned char sup[MAP_MAX_FIELDS + 1] = { 0 };
	struct buf sql = BUF_INIT(SQL_CAP), cols = BUF_INIT(SQL_CAP);
	struct buf copy = BUF_INIT(COPY_CHUNK + ADAPTER_RECORD_CAP * 2);
	struct buf line = BUF_INIT(ADAPTER_RECORD_CAP * 2);
	struct buf json = BUF_INIT(ADAPTER_RECORD_CAP * 2);
	struct buf restore = BUF_INIT(SQL_CAP);
	struct checker ck;
	struct row row;
	struct record rec;
	struct ymd today;
	struct progress pg = { 0 };
	struct place pl = { 0 };
	struct load_counts spooled = { 0 };
	struct bloom *bloom = NULL;
	FILE *spool = NULL, *held = NULL, *del = NULL;
	struct bundle *bun = NULL;
	long long ndel = 0;
	struct stat st;
	char target[96], tail[48];
	long long staged = 0, nrej = 0, copied = 0;
	int rc = -1, arc, copying = 0, empty = 0, has_extras;
	PGresult *r;

	ymd_today(&today);
	if (row_init(&row, c))
		return tmerr_set(err, TMERR_SYS, "out of memory");
	checker_init(&ck, o->defs, c, &today);
	if (job->bundle) {
		struct bundle_limits lim;

		bundle_limits_default(&lim);
		if (bundle_open_member(&bun, job->bundle, job->member, &lim, &in, err)) {
			row_release(&row);
			return -1;
		}
	} else if (input_open_file(&in, job->path, err)) {
		row_release(&row);
		return -1;
	}
	ci.inner = &in;
	ci.in.read = counting_read;
	ci.in.ctx = &ci;
	ci.in.name = in.name;
	mapping_adapter_opts(job->map, &ao);
	if (ad->open(&h, &ci.in, &ao, err)) {
		if (bun && bundle_error(bun)->code)
			*err = *bundle_error(bun);
		goto out;
	}
	nnames = ad->names(h, &names);
	if (mapping_bind(job->map, names, nnames, job->path, err))
		goto out;
	for (f = 0; f < job->map->nfields; f++) {
		const struct mfield *mf = &job->map->fields[f];

		if (mf->src == SRC_CONST || mf->colidx >= 0)
			sup[mf->field] = 1;
	}
	supplied_cols(c, sup, "", &cols);
	has_extras = extras_supplied(c, sup);
	snprintf(target, sizeof(target), "tmis.\"%s\"", c->name);
	if (target_empty(conn, c, &empty, err))
		goto out;
	if ((c->multi || job->map->scope >= 0 || o->scope_prov) && !empty &&
	    !o->delta && !job->delta) {
		held = tmpfile();
		if (!held) {
			tmerr_set(err, TMERR_SYS, "cannot create a spool file: %s",
				  strerror(errno));
			goto out;
		}
	}
	if (empty) {
		bloom = bloom_new(BLOOM_BITS, BLOOM_K);
		spool = tmpfile();
		if (!bloom || !spool) {
			tmerr_set(err, TMERR_SYS, "cannot set up the direct load: %s",
				  strerror(errno));
			goto out;
		}
		if (input_size(job) >= DEFER_INDEX_BYTES &&
		    defer_indexes(conn, target, &restore, err))
			goto out;
	}

	/* stage: same column types as the target, no indexes, no WAL */
	buf_addf(&sql, "CREATE TEMP TABLE tmisgw_stage ON COMMIT DROP AS SELECT "
		       "NULL::bigint AS _line, %s FROM %s WITH NO DATA",
		 cols.ptr, target);
	if (pgx_exec(conn, sql.ptr, err, "creating the staging table"))
		goto out;
	buf_reset(&sql);
	if (empty)
		buf_addf(&sql, "COPY %s (%s, load_id, src_line) FROM STDIN", target,
			 cols.ptr);
	else
		buf_addf(&sql, "COPY tmisgw_stage (_line, %s) FROM STDIN", cols.ptr);
	if (start_copy(conn, sql.ptr, err))
		goto out;
	copying = 1;
	snprintf(tail, sizeof(tail), "\t%lld\t", res->load_id);

	pg.on = o->progress;
	pg.start = pg.last = now_s();
	pg.name = job->path;
	if (job->bundle)
		pg.total = job->size;
	else if (stat(job->path, &st) == 0 && S_ISREG(st.st_mode))
		pg.total = (unsigned long long)st.st_size;

	for (;;) {
		struct tmerr e;
		char key[96], school[16];
		uint64_t hk = 0;

		tmerr_clear(&e);
		arc = ad->next(h, &rec, &e);
		if (arc == ADP_EOF)
			break;
		if (arc == ADP_FATAL) {
			/* a bundle limit says more than the adapter's read error */
			*err = bun && bundle_error(bun)->code ? *bundle_error(bun) : e;
			goto out;
		}
		fc.read++;
		if ((fc.read & 0xffff) == 0)
			progress_draw(&pg, fc.read, ci.bytes, 0);
		if (arc == ADP_BAD) {
			if (reject_add(rj, job->path, e.line ? e.line : rec.line, c->name,
				       "", &e, NULL, NULL, 0, NULL, 0))
				goto spoolerr;
			fc.rejected++;
			continue;
		}
		arc = row_map(&row, job->map, &rec, &e);
		if (arc == 2) {
			/* not a row for this mapping (filter) */
			fc.read--;
			fc.skipped++;
			continue;
		}
		if (arc == 0 && row.supplied[FIELD_OP] && row.len[FIELD_OP] &&
		    !(row.len[FIELD_OP] == 6 && !memcmp(row.val[FIELD_OP], "upsert", 6))) {
			if (row.len[FIELD_OP] != 6 || memcmp(row.val[FIELD_OP], "delete", 6)) {
				tmerr_set(&e, TMERR_INPUT, "op is neither upsert nor delete");
				snprintf(e.rule, sizeof(e.rule), "op");
				tmerr_field(&e, "op");
				tmerr_value(&e, row.val[FIELD_OP], row.len[FIELD_OP]);
				arc = 1;
			} else if ((arc = row_check_keys(&ck, &row, &e)) == 0) {
				if (!del && !(del = tmpfile()))
					goto spoolerr;
				if (write_keys(del, c, &row, rec.line))
					goto spoolerr;
				ndel++;
				continue;
			}
		} else if (arc == 0) {
			arc = row_check(&ck, &row, &e);
			if (arc == 0 && o->scope_prov && !c->multi)
				arc = scope_check(c, &row, o->scope_prov, &e);
		}
		if (arc < 0) {
			tmerr_set(err, TMERR_SYS, "out of memory mapping a row");
			goto out;
		}
		if (arc) {
			row_teacher_key(&row, key, sizeof(key));
			if (reject_add(rj, job->path, rec.line, c->name, key, &e,
				       row_school(&row, &ck, school, sizeof(school)),
				       row.supplied[ck.f_id_type] ? row.val[ck.f_id_type] : NULL,
				       row.len[ck.f_id_type],
				       row.supplied[ck.f_id_number] ? row.val[ck.f_id_number] : NULL,
				       row.len[ck.f_id_number]))
				goto spoolerr;
			if (held && hold_teacher(held, &row, &ck))
				goto spoolerr;
			fc.rejected++;
			continue;
		}
		buf_reset(&line);
		for (f = 0; f < c->nfields; f++) {
			if (!sup[f] || c->fields[f].extra)
				continue;
			if (line.len)
				buf_addch(&line, '\t');
			if (row.len[f] == 0)
				buf_add(&line, "\\N", 2);
			else
				copy_add_value(&line, row.val[f], row.len[f]);
		}
		if (has_extras) {
			buf_reset(&json);
			extras_json(c, sup, &row, &json);
			buf_addch(&line, '\t');
			copy_add_value(&line, json.ptr, json.len);
		}
		if (empty)
			for (k = 0; k < c->nkeys; k++)
				hk = bloom_hash(hk, row.val[c->keys[k]], row.len[c->keys[k]]);
		if (empty && bloom_add(bloom, hk)) {
			/* may repeat an earlier key: decide on the server */
			if (fprintf(spool, "%ld\t", rec.line) < 0 ||
			    fwrite(line.ptr, 1, line.len, spool) != line.len ||
			    fputc('\n', spool) == EOF)
				goto spoolerr;
		} else {
			if (!empty)
				buf_addf(&copy, "%ld\t", rec.line);
			buf_add(&copy, line.ptr, line.len);
			if (empty) {
				buf_addstr(&copy, tail);
				buf_addf(&copy, "%ld", rec.line);
			}
			if (buf_addch(&copy, '\n')) {
				tmerr_set(err, TMERR_LIMIT,
					  "row at line %ld is too large to send", rec.line);
				goto out;
			}
			copied++;
		}
		staged++;
		if (copy.len >= COPY_CHUNK) {
			if (put_copy(conn, copy.ptr, copy.len, err))
				goto out;
			buf_reset(&copy);
		}
	}
	progress_draw(&pg, fc.read, ci.bytes, 1);
	if (copy.len && put_copy(conn, copy.ptr, copy.len, err))
		goto out;
	copying = 0;
	if (end_copy(conn, NULL, err))
		goto out;

	/* fresh rows have no statistics yet; without them the joins below can
	 * get nested-loop plans that are quadratic in practice. A first load
	 * of teachers joins nothing big (autovacuum analyzes it later). */
	if (staged > 1000 && (c->multi || !empty)) {
		buf_reset(&sql);
		buf_addf(&sql, "ANALYZE %s", empty ? target : "tmisgw_stage");
		if (pgx_exec(conn, sql.ptr, err, "analyzing the loaded rows"))
			goto out;
	}
	if (empty) {
		/* indexes first: the unique keys prove the copied rows distinct,
		 * and the few checks below then probe them */
		if (restore_indexes(conn, &restore, err))
			goto out;
		/* the rows that may repeat a key go through the staging table */
		pl.table = target;
		pl.line = "src_line";
		pl.direct = 1;
		snprintf(pl.where, sizeof(pl.where), "s.load_id = %lld AND ",
			 res->load_id);
		if (staged > copied) {
			buf_reset(&sql);
			buf_addf(&sql, "COPY tmisgw_stage (_line, %s) FROM STDIN", cols.ptr);
			if (start_copy(conn, sql.ptr, err))
				goto out;
			copying = 1;
			if (copy_spool(conn, spool, err))
				goto out;
			copying = 0;
			if (end_copy(conn, NULL, err))
				goto out;
			if (dup_checks(conn, rj, job, target, &nrej, err) ||
			    merge_stage(conn, job, sup, res->load_id, 1, 0, &spooled, err))
				goto out;
		}
		if (row_checks(conn, o, rj, job, sup, &pl, &nrej, err))
			goto out;
		/* every reject found on the server removed a row sent */
		fc.inserted = staged - nrej;
	} else {
		pl.table = "tmisgw_stage";
		pl.line = "_line";
		if (dup_checks(conn, rj, job, NULL, &nrej, err) ||
		    row_checks(conn, o, rj, job, sup, &pl, &nrej, err))
			goto out;
		if (merge_stage(conn, job, sup, res->load_id, 0, staged - nrej, &fc, err))
			goto out;
		if (held) {
			if (pgx_exec(conn, "CREATE TEMP TABLE tmisgw_held (id_type text, "
					  "id_number text) ON COMMIT DROP", err,
				    "creating the held-keys table") ||
			    start_copy(conn, "COPY tmisgw_held FROM STDIN", err))
				goto out;
			copying = 1;
			if (copy_spool(conn, held, err))
				goto out;
			copying = 0;
			if (end_copy(conn, NULL, err) ||
			    (c->multi ? supersede(conn, job, res->load_id, &fc, err) :
			     unreport(conn, job, o->scope_prov, res->load_id, &fc, err)) ||
			    pgx_exec(conn, "DROP TABLE tmisgw_held", err,
				    "dropping the held-keys table"))
				goto out;
		}
	}
	fc.rejected += nrej;
	if (ndel && apply_deletes(conn, o, rj, job, del, res->load_id, &fc, err))
		goto out;
	if (restore_indexes(conn, &restore, err))
		goto out;
	if (rejects_flush(conn, rj, err))
		goto out;
	if (pgx_exec(conn, "DROP TABLE tmisgw_stage", err, "dropping the staging table"))
		goto out;
	buf_reset(&sql);
	buf_addf(&sql, "INSERT INTO tmis.load_file (load_id, seq, file, category, "
		       "mapping, rows_read, inserted, updated, unchanged, rejected) "
		       "VALUES (%lld, %d, ", res->load_id, job->seq);
	add_literal(conn, &sql, job->path);
	buf_addstr(&sql, ", ");
	add_literal(conn, &sql, c->name);
	buf_addstr(&sql, ", ");
	add_literal(conn, &sql, job->map->path);
	buf_addf(&sql, ", %lld, %lld, %lld, %lld, %lld)", fc.read, fc.inserted,
		 fc.updated, fc.unchanged, fc.rejected);
	if (pgx_exec(conn, sql.ptr, err, "recording the file"))
		goto out;
	rc = 0;
	goto out;
spoolerr:
	tmerr_set(err, TMERR_SYS, "cannot write a spool file: %s", strerror(errno));
out:
	if (copying) {
		/* abandon the COPY; the transaction is rolled back by the caller */
		PQputCopyEnd(conn, "tmisgw: load aborted");
		while ((r = PQgetResult(conn)))
			PQclear(r);
	}
	cnt->read += fc.read;
	cnt->inserted += fc.inserted;
	cnt->updated += fc.updated;
	cnt->unchanged += fc.unchanged;
	cnt->rejected += fc.rejected;
	cnt->superseded += fc.superseded;
	cnt->deleted += fc.deleted;
	cnt->skipped += fc.skipped;
	if (h)
		ad->close(h);
	if (bun)
		bundle_close(bun);
	else
		input_close_file(&in);
	row_release(&row);
	bloom_free(bloom);
	if (spool)
		fclose(spool);
	if (held)
		fclose(held);
	if (del)
		fclose(del);
	buf_release(&sql);
	buf_release(&cols);
	buf_release(&copy);
	buf_release(&line);
	buf_release(&json);
	buf_release(&restore);
	return rc;
}

/*
 * A OneRoster-style bundle says per file whether it is a full snapshot or a
 * delta: manifest.csv rows "file.users,bulk|delta|absent". Returns 1 when
 * the manifest declares member name (users.csv -> file.users) a delta.
 */
static int manifest_delta(const char *bundle, const char *name)
{
	const struct adapter *ad = adapter_find("csv");
	struct adapter_handle *h = NULL;
	struct adapter_opts ao = { 0 };
	struct bundle *b = NULL;
	struct record rec;
	struct input in;
	struct tmerr e;
	char want[256];
	const char *dot = strrchr(name, '.');
	int delta = 0;

	snprintf(want, sizeof(want), "file.%.*s", dot ? (int)(dot - name) : (int)strlen(name),
		 name);
	tmerr_clear(&e);
	if (bundle_open_member(&b, bundle, "manifest.csv", NULL, &in, &e))
		return 0;
	ao.has_header = 1;
	ao.delimiter = ',';
	ao.field_cap = 4096;
	ao.record_cap = 65536;
	if (!ad->open(&h, &in, &ao, &e)) {
		while (ad->next(h, &rec, &e) != ADP_EOF) {
			if (rec.nfields >= 2 && rec.vals[0] && rec.vals[1] &&
			    !strcmp(rec.vals[0], want))
				delta = !strcmp(rec.vals[1], "delta");
			tmerr_clear(&e);
		}
		ad->close(h);
	}
	bundle_close(b);
	return delta;
}

/* The jobs for one input (a file, or a member of bundle): one per mapping
 * that serves it. A bundle member nothing serves is skipped and noted. */
static int add_jobs(const struct load_opts *o, const struct profile *prof,
		    size_t fileno, const char *bundle, const char *name,
		    unsigned long long size,
		    struct file_job **jobs, size_t *njobs, struct load_result *res,
		    struct tmerr *err)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char path[4096];
	size_t from = 0;
	int found = 0;

	for (;;) {
		struct file_job *j, *nj;
		int ri = -1;

		if (prof) {
			ri = profile_next(prof, base, &from);
			if (ri < 0)
				break;
			snprintf(path, sizeof(path), "%s", prof->rules[ri].mapping);
		} else {
			if (found)
				break;
			if (load_pick_mapping(o->defs, o->mapping,
					      o->categories && o->categories[fileno] ?
					      o->categories[fileno] : o->category,
					      base, path, sizeof(path), err)) {
				if (!bundle)
					return -1;
				break;
			}
		}
		nj = realloc(*jobs, (*njobs + 1) * sizeof(**jobs));
		if (!nj)
			return tmerr_set(err, TMERR_SYS, "out of memory");
		*jobs = nj;
		j = &nj[*njobs];
		memset(j, 0, sizeof(*j));
		j->seq = (int)*njobs + 1;
		j->bundle = bundle;
		j->size = size;
		j->delta = bundle && manifest_delta(bundle, base);
		if (bundle) {
			j->member = strdup(name);
			if (asprintf(&j->path, "%s:%s", bundle, name) < 0)
				j->path = NULL;
		} else {
			j->path = strdup(name);
		}
		(*njobs)++;
		if (!j->path || (bundle && !j->member))
			return tmerr_set(err, TMERR_SYS, "out of memory");
		if (mapping_load(&j->map, path, o->defs, err))
			return -1;
		j->cat = j->map->cat;
		found = 1;
	}
	if (found)
		return 0;
	if (!bundle) {
		tmerr_where(err, name, 0, 0);
		return tmerr_set(err, TMERR_USAGE, "no rule of profile \"%s\" matches \"%s\"",
				 prof->path, base);
	}
	tmerr_clear(err);
	if (res->nskipped_members < 8)
		snprintf(res->skipped_members[res->nskipped_members], 128, "%s:%s",
			 bundle, name);
	res->nskipped_members++;
	return 0;
}

static int job_cmp(const void *a, const void *b)
{
	const struct file_job *x = a, *y = b;

	if (x->cat->index != y->cat->index)
		return x->cat->index - y->cat->index;
	return x->seq - y->seq;
}

static void record_refusal(PGconn *conn, const struct load_opts *o,
			   struct load_result *res, const char *status,
			   const char *note)
{
	struct buf sql = BUF_INIT(SQL_CAP);
	PGresult *r;

	buf_addf(&sql, "INSERT INTO tmis.load_run (status, files, rows_read, "
		       "rejected, duration_ms, max_reject_rate, note, finished_at) "
		       "VALUES ('%s', ARRAY[", status);
	for (size_t i = 0; i < o->nfiles; i++) {
		if (i)
			buf_addstr(&sql, ", ");
		add_literal(conn, &sql, o->files[i]);
	}
	buf_addf(&sql, "]::text[], %lld, %lld, %lld, %s, ", res->total.read,
		 res->total.rejected, (long long)(res->seconds * 1000),
		 o->max_reject_rate >= 0 ? "NULL" : "NULL");
	add_literal(conn, &sql, note);
	buf_addstr(&sql, ", now()) RETURNING id");
	r = PQexec(conn, sql.ptr);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		res->load_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	buf_release(&sql);
}

int load_files(PGconn *conn, const struct load_opts *o, struct load_result *res,
	       struct tmerr *err)
{
	struct file_job *jobs = NULL;
	struct profile *prof = NULL;
	struct rejects rj = { 0 };
	struct buf sql = BUF_INIT(SQL_CAP);
	double t0 = now_s();
	size_t i, njobs = 0;
	int rc = -1, in_tx = 0;
	PGresult *r;

	memset(res, 0, sizeof(*res));
	res->status = "failed";
	rj.res = res;
	buf_init(&rj.line, 64 * 1024);
	if (o->profile && profile_load(&prof, o->profile, err))
		goto out;
	/* mappings first: a wrong mapping fails before anything is sent */
	for (i = 0; i < o->nfiles; i++) {
		const char *f = o->files[i];

		if (bundle_is(f)) {
			struct bundle_limits lim;
			struct bundle_entry *ents;
			size_t nents;

			bundle_limits_default(&lim);
			if (bundle_list(f, &lim, &ents, &nents, err))
				goto out;
			for (size_t e = 0; e < nents; e++)
				if (add_jobs(o, prof, i, f, ents[e].name, ents[e].size,
					     &jobs, &njobs, res, err)) {
					bundle_entries_free(ents, nents);
					goto out;
				}
			bundle_entries_free(ents, nents);
		} else if (add_jobs(o, prof, i, NULL, f, 0, &jobs, &njobs, res, err)) {
			goto out;
		}
	}
	if (!njobs) {
		tmerr_set(err, TMERR_USAGE, "nothing to load: no input has a mapping");
		goto out;
	}
	/* teachers before the records that refer to them */
	qsort(jobs, njobs, sizeof(*jobs), job_cmp);
	rj.db = tmpfile();
	if (!rj.db) {
		tmerr_set(err, TMERR_SYS, "cannot create the reject spool: %s",
			  strerror(errno));
		goto out;
	}
	if (o->reject_file) {
		rj.csv = fopen(o->reject_file, "w");
		if (!rj.csv) {
			tmerr_set(err, TMERR_USAGE, "cannot write reject file \"%s\": %s",
				  o->reject_file, strerror(errno));
			goto out;
		}
		fputs("file,line,category,teacher_key,field,rule,value,message\r\n", rj.csv);
	}
	/* staging lives in temp tables: give them room before the first one */
	if (pgx_exec(conn, "SET client_min_messages = warning", err,
		    "configuring the session") ||
	    pgx_exec(conn, "SET temp_buffers = '256MB'", err, "configuring the session") ||
	    pgx_exec(conn, "SET work_mem = '256MB'", err, "configuring the session") ||
	    pgx_exec(conn, "SET maintenance_work_mem = '256MB'", err,
		    "configuring the session") ||
	    (!o->external_txn &&
	     pgx_exec(conn, "BEGIN", err, "starting the load transaction")))
		goto out;
	in_tx = !o->external_txn;
	buf_addstr(&sql, "INSERT INTO tmis.load_run (status, files, max_reject_rate) "
			 "VALUES ('committed', ARRAY[");
	for (i = 0; i < o->nfiles; i++) {
		if (i)
			buf_addstr(&sql, ", ");
		add_literal(conn, &sql, o->files[i]);
	}
	buf_addstr(&sql, "]::text[], ");
	if (o->max_reject_rate >= 0)
		buf_addf(&sql, "%g", o->max_reject_rate);
	else
		buf_addstr(&sql, "NULL");
	buf_addstr(&sql, ") RETURNING id");
	r = PQexec(conn, sql.ptr);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgx_fail(conn, r, err, "recording the load");
		goto out;
	}
	res->load_id = rj.load_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);

	for (i = 0; i < njobs; i++)
		if (load_one(conn, o, &rj, &jobs[i], res, err))
			goto out;
	for (i = 0; i < njobs; i++)
		if (!strcmp(jobs[i].cat->name, "change_event"))
			break;
	if (i < njobs) {
		/* events move schools and statuses in effective_date order */
		buf_reset(&sql);
		buf_addf(&sql, "SELECT tmis.apply_change_events(%lld)", res->load_id);
		r = PQexec(conn, sql.ptr);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			pgx_fail(conn, r, err, "applying change events");
			goto out;
		}
		res->events_applied = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	for (i = 0; i < LOAD_MAX_CATS; i++) {
		res->total.read += res->cat[i].read;
		res->total.inserted += res->cat[i].inserted;
		res->total.updated += res->cat[i].updated;
		res->total.unchanged += res->cat[i].unchanged;
		res->total.rejected += res->cat[i].rejected;
		res->total.superseded += res->cat[i].superseded;
		res->total.deleted += res->cat[i].deleted;
		res->total.skipped += res->cat[i].skipped;
	}
	res->seconds = now_s() - t0;
	if (o->max_reject_rate >= 0 && res->total.read > 0 &&
	    (double)res->total.rejected / (double)res->total.read > o->max_reject_rate) {
		if (in_tx)
			pgx_exec(conn, "ROLLBACK", err, "rolling back");
		in_tx = 0;
		res->status = "refused";
		tmerr_set(err, TMERR_REJECT,
			  "load refused: %lld of %lld rows rejected (%.2f%%), over --max-reject-rate %g; nothing was committed",
			  res->total.rejected, res->total.read,
			  100.0 * res->total.rejected / res->total.read,
			  o->max_reject_rate);
		if (!o->dry_run && !o->external_txn)
			record_refusal(conn, o, res, "refused", err->msg);
		goto out;
	}
	buf_reset(&sql);
	buf_addf(&sql, "UPDATE tmis.load_run SET finished_at = now(), rows_read = %lld, "
		       "inserted = %lld, updated = %lld, unchanged = %lld, rejected = %lld, "
		       "duration_ms = %lld%s WHERE id = %lld",
		 res->total.read, res->total.inserted, res->total.updated,
		 res->total.unchanged, res->total.rejected,
		 (long long)(res->seconds * 1000),
		 o->dry_run ? ", status = 'dry_run'" : "", res->load_id);
	if (pgx_exec(conn, sql.ptr, err, "recording the load"))
		goto out;
	if (o->external_txn) {
		res->status = "pending";
		rc = 0;
		goto out;
	}
	if (pgx_exec(conn, o->dry_run ? "ROLLBACK" : "COMMIT", err,
		    "committing the load"))
		goto out;
	in_tx = 0;
	res->status = o->dry_run ? "dry_run" : "committed";
	rc = 0;
out:
	if (in_tx) {
		r = PQexec(conn, "ROLLBACK");
		PQclear(r);
	}
	res->seconds = now_s() - t0;
	if (rj.csv && fclose(rj.csv) && rc == 0)
		rc = tmerr_set(err, TMERR_SYS, "cannot write reject file \"%s\": %s",
			       o->reject_file, strerror(errno));
	if (rj.db)
		fclose(rj.db);
	buf_release(&rj.line);
	buf_release(&sql);
	for (i = 0; i < njobs; i++) {
		mapping_free(jobs[i].map);
		free(jobs[i].path);
		free(jobs[i].member);
	}
	free(jobs);
	profile_free(prof);
	return rc;
}
