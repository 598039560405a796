#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#ifndef TMISGW_DATADIR
#define TMISGW_DATADIR "."
#endif

struct migration {
	int version;
	char file[256]; /* NNNN_name.sql */
};

const char *migrate_default_dir(void)
{
	const char *d = getenv("TMISGW_MIGRATIONS");

	if (d && *d)
		return d;
	return TMISGW_DATADIR "/etl/migrations";
}

/*
 * Parses "NNNN_name.sql": 1 to 9 digits, '_', a name of letters, digits,
 * '_' or '-', ".sql". Returns the version (> 0) or -1.
 */
static int parse_name(const char *s)
{
	size_t nd = 0, nn = 0, len = strlen(s);
	long v = 0;

	if (len < 5 || strcmp(s + len - 4, ".sql"))
		return -1;
	len -= 4;
	while (nd < len && s[nd] >= '0' && s[nd] <= '9') {
		v = v * 10 + (s[nd] - '0');
		if (++nd > 9)
			return -1;
	}
	if (!nd || v <= 0 || nd >= len || s[nd] != '_')
		return -1;
	for (size_t i = nd + 1; i < len; i++, nn++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return -1;
	}
	return nn ? (int)v : -1;
}

static int cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Fills list with the migrations of dir, sorted by version. */
static int list_dir(const char *dir, struct buf *list, struct tmerr *err)
{
	struct migration *m;
	struct dirent *de;
	size_t n;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return tmerr_set(err, TMERR_SYS,
				 "cannot open migrations directory \"%s\": %s",
				 dir, strerror(errno));
	for (;;) {
		struct migration one;
		size_t len;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (de->d_name[0] == '.')
			continue;
		len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 4, ".sql"))
			continue;
		memset(&one, 0, sizeof(one));
		one.version = parse_name(de->d_name);
		if (one.version < 0 || len >= sizeof(one.file)) {
			closedir(d);
			tmerr_where(err, dir, 0, 0);
			return tmerr_set(err, TMERR_MAPPING,
					 "migration file name \"%.255s\" is not NNNN_name.sql",
					 de->d_name);
		}
		memcpy(one.file, de->d_name, len + 1);
		if (buf_add(list, &one, sizeof(one))) {
			closedir(d);
			return tmerr_set(err, TMERR_LIMIT,
					 "too many migration files in \"%s\"",
					 dir);
		}
	}
	if (errno) {
		int e = errno;

		closedir(d);
		return tmerr_set(err, TMERR_SYS,
				 "cannot read migrations directory \"%s\": %s",
				 dir, strerror(e));
	}
	closedir(d);

	m = (struct migration *)list->ptr;
	n = list->len / sizeof(*m);
	if (n)
		qsort(m, n, sizeof(*m), cmp_migration);
	for (size_t i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			tmerr_where(err, dir, 0, 0);
			return tmerr_set(err, TMERR_MAPPING,
					 "migrations \"%s\" and \"%s\" have the same version",
					 m[i - 1].file, m[i].file);
		}
	return 0;
}

static int read_file(const char *path, struct buf *sql, struct tmerr *err)
{
	char chunk[8192];
	size_t n;
	FILE *f;
	int rc = 0;

	buf_reset(sql);
	f = fopen(path, "rb");
	if (!f)
		return tmerr_set(err, TMERR_SYS, "cannot open migration \"%s\": %s",
				 path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (memchr(chunk, '\0', n)) {
			rc = tmerr_set(err, TMERR_MAPPING,
				       "migration \"%s\" contains a NUL byte",
				       path);
			break;
		}
		if (buf_add(sql, chunk, n)) {
			rc = tmerr_set(err, TMERR_LIMIT,
				       "migration \"%s\" is larger than %u bytes",
				       path, MIGRATE_MAX_FILE);
			break;
		}
	}
	if (!rc && ferror(f))
		rc = tmerr_set(err, TMERR_SYS, "cannot read migration \"%s\"",
			       path);
	fclose(f);
	return rc;
}

/* The server's primary message, or libpq's, without the trailing newline. */
static void db_message(PGconn *conn, const PGresult *r, char *out, size_t n)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t len;

	if (!m || !*m)
		m = PQerrorMessage(conn);
	len = strlen(m);
	while (len && (m[len - 1] == '\n' || m[len - 1] == ' '))
		len--;
	str_copy_utf8(out, n, m, len);
}

/* Maps the 1-based character position pos in sql to a line and column. */
static void position_to_line(const struct buf *sql, long pos, long *line,
			     long *col)
{
	long chars = 0;

	*line = 1;
	*col = 1;
	for (size_t i = 0; i < sql->len; i++) {
		unsigned char c = (unsigned char)sql->ptr[i];

		if ((c & 0xc0) == 0x80)
			continue;
		if (++chars >= pos)
			return;
		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int check(PGconn *conn, PGresult *r, const char *what,
		 struct tmerr *err)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	char msg[384];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
	    st == PGRES_EMPTY_QUERY)
		return 0;
	db_message(conn, r, msg, sizeof(msg));
	PQclear(r);
	return tmerr_set(err, TMERR_DB, "database migration failed at %s: %s",
			 what, msg);
}

static int run(PGconn *conn, const char *sql, struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);

	if (check(conn, r, "setup", err))
		return -1;
	PQclear(r);
	return 0;
}

/* Runs one migration file and records it. */
static int apply(PGconn *conn, const char *dir, const struct migration *m,
		 struct buf *path, struct buf *sql, struct tmerr *err)
{
	const char *params[2];
	char version[16], name[256], msg[384];
	const char *pos;
	PGresult *r;
	size_t len;

	buf_reset(path);
	if (buf_addf(path, "%s/%s", dir, m->file))
		return tmerr_set(err, TMERR_LIMIT,
				 "migration path \"%s/%s\" is too long", dir,
				 m->file);
	if (read_file(path->ptr, sql, err))
		return -1;

	r = PQexec(conn, sql->ptr);
	if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK &&
		   PQresultStatus(r) != PGRES_TUPLES_OK &&
		   PQresultStatus(r) != PGRES_EMPTY_QUERY)) {
		long line = 0, col = 0;

		db_message(conn, r, msg, sizeof(msg));
		pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
		if (pos && atol(pos) > 0)
			position_to_line(sql, atol(pos), &line, &col);
		PQclear(r);
		tmerr_where(err, path->ptr, line, col);
		return tmerr_set(err, TMERR_DB, "migration \"%s\" failed: %s",
				 m->file, msg);
	}
	PQclear(r);

	snprintf(version, sizeof(version), "%d", m->version);
	len = strlen(m->file) - 4;
	memcpy(name, m->file, len);
	name[len] = '\0';
	params[0] = version;
	params[1] = strchr(name, '_') + 1;
	r = PQexecParams(conn,
			 "INSERT INTO tmis.schema_migrations (version, name) "
			 "VALUES ($1::int, $2)",
			 2, NULL, params, NULL, NULL, 0);
	if (check(conn, r, "recording the migration", err)) {
		tmerr_where(err, path->ptr, 0, 0);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* Versions already recorded, ascending, into done (an int array). */
static int recorded(PGconn *conn, struct buf *done, int *max,
		    struct tmerr *err)
{
	PGresult *r = PQexec(conn, "SELECT version FROM tmis.schema_migrations "
				   "ORDER BY version");
	int n;

	if (check(conn, r, "reading tmis.schema_migrations", err))
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		int v = atoi(PQgetvalue(r, i, 0));

		if (buf_add(done, &v, sizeof(v))) {
			PQclear(r);
			return tmerr_set(err, TMERR_LIMIT,
					 "too many rows in tmis.schema_migrations");
		}
		if (v > *max)
			*max = v;
	}
	PQclear(r);
	return 0;
}

static int is_done(const struct buf *done, int version)
{
	const int *v = (const int *)done->ptr;
	size_t lo = 0, hi = done->len / sizeof(int);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == version)
			return 1;
		if (v[mid] < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int db_migrate(PGconn *conn, const char *dir, int *applied, int *current,
	       struct tmerr *err)
{
	struct buf list = BUF_INIT(MIGRATE_MAX_FILES * sizeof(struct migration));
	struct buf done = BUF_INIT(MIGRATE_MAX_FILES * 4 * sizeof(int));
	struct buf path = BUF_INIT(4096);
	struct buf sql = BUF_INIT(MIGRATE_MAX_FILE);
	const struct migration *m;
	int n_applied = 0, max = 0, rc = -1, in_tx = 0;
	size_t n;

	if (applied)
		*applied = 0;
	if (!dir)
		dir = migrate_default_dir();
	if (list_dir(dir, &list, err))
		goto out;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		tmerr_set(err, TMERR_DB,
			  "database migration needs an idle connection");
		goto out;
	}
	if (run(conn, "BEGIN", err))
		goto out;
	in_tx = 1;
	if (run(conn, "SET LOCAL client_encoding = 'UTF8'", err) ||
	    run(conn, "SET LOCAL client_min_messages = warning", err) ||
	    run(conn, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", err) ||
	    run(conn, "CREATE SCHEMA IF NOT EXISTS tmis", err) ||
	    run(conn, "CREATE TABLE IF NOT EXISTS tmis.schema_migrations ("
		      "version int PRIMARY KEY, name text NOT NULL, "
		      "applied_at timestamptz NOT NULL DEFAULT now())", err) ||
	    recorded(conn, &done, &max, err))
		goto out;

	m = (const struct migration *)list.ptr;
	n = list.len / sizeof(*m);
	for (size_t i = 0; i < n; i++) {
		if (is_done(&done, m[i].version))
			continue;
		if (apply(conn, dir, &m[i], &path, &sql, err))
			goto out;
		n_applied++;
		if (m[i].version > max)
			max = m[i].version;
	}
	in_tx = 0; /* a failed COMMIT has already ended the transaction */
	if (run(conn, "COMMIT", err))
		goto out;
	if (applied)
		*applied = n_applied;
	if (current)
		*current = max;
	rc = 0;
out:
	if (in_tx)
		PQclear(PQexec(conn, "ROLLBACK"));
	buf_release(&list);
	buf_release(&done);
	buf_release(&path);
	buf_release(&sql);
	return rc;
}
