#include "dbsync.h"

#include <string.h>

#include "buf.h"

static int fail(PGconn *conn, PGresult *r, struct tmerr *err)
{
	tmerr_set(err, TMERR_DB, "cannot store code sets: %s",
		  r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
	for (size_t n = strlen(err->msg); n && err->msg[n - 1] == '\n'; n--)
		err->msg[n - 1] = '\0';
	PQclear(r);
	r = PQexec(conn, "ROLLBACK");
	PQclear(r);
	return -1;
}

static int run(PGconn *conn, const char *sql, struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return fail(conn, r, err);
	PQclear(r);
	return 0;
}

/* One COPY from a buffer of text-format lines. */
static int copy_in(PGconn *conn, const char *sql, const struct buf *b,
		   struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COPY_IN)
		return fail(conn, r, err);
	PQclear(r);
	if (PQputCopyData(conn, b->ptr, (int)b->len) != 1 ||
	    PQputCopyEnd(conn, NULL) != 1)
		return fail(conn, NULL, err);
	r = PQgetResult(conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return fail(conn, r, err);
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);
	return 0;
}

/* Definition files hold no tabs or newlines in values (they are TSV). */
static void add_cell(struct buf *b, const char *s, int last)
{
	if (!s)
		buf_addstr(b, "\\N");
	else
		for (; *s; s++) {
			if (*s == '\\')
				buf_addch(b, '\\');
			buf_addch(b, *s);
		}
	buf_addch(b, last ? '\n' : '\t');
}

int db_sync_defs(PGconn *conn, const struct defs *d, long *ncodes,
		 struct tmerr *err)
{
	struct buf sets = BUF_INIT(1 << 20), vals = BUF_INIT(16 << 20),
		   reqs = BUF_INIT(4 << 20), effs = BUF_INIT(1 << 20);
	int rc = -1;

	*ncodes = 0;
	for (size_t i = 0; i < d->ncodesets; i++) {
		const struct codeset *cs = &d->codesets[i];

		add_cell(&sets, cs->name, 0);
		add_cell(&sets, cs->label, 0);
		add_cell(&sets, cs->standard, 1);
		for (size_t k = 0; k < cs->ncodes; k++) {
			add_cell(&vals, cs->name, 0);
			add_cell(&vals, cs->codes[k].code, 0);
			add_cell(&vals, cs->codes[k].label, 0);
			add_cell(&vals, cs->codes[k].provisional ? "t" : "f", 1);
			(*ncodes)++;
		}
	}
	for (size_t s = 0; s < d->nsets; s++)
		for (size_t c = 0; c < d->ncats; c++) {
			if (!d->sets[s].applicable[c])
				continue;
			add_cell(&reqs, d->sets[s].name, 0);
			add_cell(&reqs, d->cats[c].name, 0);
			add_cell(&reqs, "*", 0);
			add_cell(&reqs, "applicable", 1);
			for (size_t f = 0; f < d->cats[c].nfields; f++) {
				if (!d->sets[s].required[c][f])
					continue;
				add_cell(&reqs, d->sets[s].name, 0);
				add_cell(&reqs, d->cats[c].name, 0);
				add_cell(&reqs, d->cats[c].fields[f].name, 0);
				add_cell(&reqs, "required", 1);
			}
		}
	for (size_t i = 0; i < d->neffects; i++) {
		add_cell(&effs, d->effects[i].kind, 0);
		add_cell(&effs, d->effects[i].status, 0);
		add_cell(&effs, d->effects[i].moves_school ? "t" : "f", 1);
	}
	if (sets.len >= sets.cap || vals.len >= vals.cap || reqs.len >= reqs.cap) {
		tmerr_set(err, TMERR_LIMIT, "code sets are too large to store");
		goto out;
	}
	/* concurrent migrate runs replace the sets one after the other */
	if (run(conn, "BEGIN", err) ||
	    run(conn, "LOCK TABLE tmis.code_set IN EXCLUSIVE MODE", err) ||
	    run(conn, "DELETE FROM tmis.indicator_requirement", err) ||
	    run(conn, "DELETE FROM tmis.change_kind_effect", err) ||
	    run(conn, "DELETE FROM tmis.code_value", err) ||
	    run(conn, "DELETE FROM tmis.code_set", err) ||
	    copy_in(conn, "COPY tmis.code_set (name, label, standard) FROM STDIN",
		    &sets, err) ||
	    copy_in(conn, "COPY tmis.code_value (set_name, code, label, provisional) FROM STDIN",
		    &vals, err) ||
	    copy_in(conn, "COPY tmis.indicator_requirement (set_name, category, field, requirement) FROM STDIN",
		    &reqs, err) ||
	    copy_in(conn, "COPY tmis.change_kind_effect (kind, status, moves_school) FROM STDIN",
		    &effs, err) ||
	    run(conn, "COMMIT", err))
		goto out;
	rc = 0;
out:
	buf_release(&sets);
	buf_release(&vals);
	buf_release(&reqs);
	buf_release(&effs);
	return rc;
}
