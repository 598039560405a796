/*
 * pgx: the few libpq steps every database module repeats, with errors in
 * a struct tmerr (TMERR_DB, "database error while WHAT: ..." or "lost the
 * database connection while WHAT: ..."). Nothing prints. A PGresult handed
 * to pgx_fail() is cleared by it.
 */
#ifndef TMISGW_PGX_H
#define TMISGW_PGX_H

#include <libpq-fe.h>

#include "err.h"

/* Fill err from r (or the connection) and clear r; returns -1. */
int pgx_fail(PGconn *conn, PGresult *r, struct tmerr *err, const char *what);

/* Run sql (no parameters); 0, or -1 with err. */
int pgx_exec(PGconn *conn, const char *sql, struct tmerr *err, const char *what);

/* pgx_exec, and the number of rows the command wrote (or returned) in
 * *rows when rows is not NULL. */
int pgx_exec_rows(PGconn *conn, const char *sql, long long *rows,
		  struct tmerr *err, const char *what);

/* Run sql with n text parameters; the result (caller clears it), or NULL
 * with err. */
PGresult *pgx_query(PGconn *conn, const char *sql, int n,
		    const char *const *v, struct tmerr *err, const char *what);

/* The one value of a one-row, one-column query, as a number. */
int pgx_query_ll(PGconn *conn, const char *sql, int n, const char *const *v,
		 long long *out, struct tmerr *err, const char *what);

/* ROLLBACK, ignoring any error (the caller is already failing). */
void pgx_rollback(PGconn *conn);

#endif
