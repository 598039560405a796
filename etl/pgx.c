#include <stdlib.h>
#include <string.h>

#include "pgx.h"

int pgx_fail(PGconn *conn, PGresult *r, struct tmerr *err, const char *what)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!m || !*m)
		m = PQerrorMessage(conn);
	if (PQstatus(conn) == CONNECTION_BAD)
		tmerr_set(err, TMERR_DB, "lost the database connection while %s: %s",
			  what, m);
	else
		tmerr_set(err, TMERR_DB, "database error while %s: %s", what, m);
	/* libpq messages end in a newline */
	for (size_t n = strlen(err->msg); n && err->msg[n - 1] == '\n'; n--)
		err->msg[n - 1] = '\0';
	PQclear(r);
	return -1;
}

int pgx_exec_rows(PGconn *conn, const char *sql, long long *rows,
		  struct tmerr *err, const char *what)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return pgx_fail(conn, r, err, what);
	if (rows)
		*rows = atoll(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

int pgx_exec(PGconn *conn, const char *sql, struct tmerr *err, const char *what)
{
	return pgx_exec_rows(conn, sql, NULL, err, what);
}

PGresult *pgx_query(PGconn *conn, const char *sql, int n,
		    const char *const *v, struct tmerr *err, const char *what)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		pgx_fail(conn, r, err, what);
		return NULL;
	}
	return r;
}

int pgx_query_ll(PGconn *conn, const char *sql, int n, const char *const *v,
		 long long *out, struct tmerr *err, const char *what)
{
	PGresult *r = pgx_query(conn, sql, n, v, err, what);

	if (!r)
		return -1;
	if (PQntuples(r) != 1 || PQnfields(r) != 1) {
		PQclear(r);
		return tmerr_set(err, TMERR_DB, "unexpected answer while %s", what);
	}
	*out = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

void pgx_rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}
