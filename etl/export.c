/*
 * export: pack --from-db (export.h). One transaction: lock, snapshot, COPY
 * each category into the work directory, package_write(), record the
 * package in tmis.package_out, commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "pgx.h"
#include "export.h"
#include "load.h"
#include "sha256.h"
#include "xlog.h"

#define EXPORT_SQL_CAP (1 << 20)

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

void export_scope(const char *org, char prov[3])
{
	prov[0] = '\0';
	if (strlen(org) == 6 && is_digit(org[0]) && is_digit(org[1]) &&
	    !memcmp(org + 2, "0000", 4) && memcmp(org, "00", 2)) {
		prov[0] = org[0];
		prov[1] = org[1];
		prov[2] = '\0';
	}
}

/*
 * COPY (SELECT …) of category c. Booleans go through ::text, which gives
 * true/false where COPY's own output would give t/f. Delta rows carry op
 * last; a delete row has its key and op only.
 */
static int build_copy(struct buf *q, const struct category_def *c,
		      const char *prov, int delta, long long since,
		      long long upto)
{
	const char *live = c->multi ? "current" : "reported";
	int k = 0;

	buf_addstr(q, "COPY (SELECT ");
	for (size_t i = 0; i < c->nfields; i++) {
		const struct field_def *f = &c->fields[i];

		if (f->extra)
			continue;
		buf_addstr(q, k++ ? ", " : "");
		if (delta && !f->key)
			buf_addf(q, "CASE WHEN x.%s THEN ", live);
		buf_addf(q, "x.\"%s\"%s", f->name, f->type == FT_BOOL ? "::text" : "");
		if (delta && !f->key)
			buf_addstr(q, " END");
		buf_addf(q, " AS \"%s\"", f->name);
	}
	if (delta)
		buf_addf(q, ", CASE WHEN x.%s THEN 'upsert' ELSE 'delete' END AS op",
			 live);
	buf_addf(q, " FROM tmis.\"%s\" x", c->name);
	if (*prov && c->multi)
		buf_addstr(q, " JOIN tmis.teacher t ON t.id_type = x.id_type "
			      "AND t.id_number = x.id_number");
	if (delta)
		buf_addf(q, " WHERE x.change_no > %lld AND x.change_no <= %lld",
			 since, upto);
	else
		buf_addf(q, " WHERE x.%s", live);
	if (*prov)
		buf_addf(q, " AND substr(%s.school_code, 3, 2) = '%.2s'",
			 c->multi ? "t" : "x", prov);
	/* no ORDER BY: the receiver does not care, and sorting millions of
	 * rows was a third of the export's time */
	return buf_addstr(q, ") TO STDOUT (FORMAT csv, HEADER)");
}

int export_copy(PGconn *conn, const char *sql, export_row_fn fn, void *arg,
		long long *rows, struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);
	char *chunk;
	int n, failed = 0;

	*rows = 0;
	if (PQresultStatus(r) != PGRES_COPY_OUT)
		return pgx_fail(conn, r, err, "exporting a category");
	PQclear(r);
	/* drain the whole COPY even after a failure: the connection must
	 * stay usable for the rollback */
	while ((n = PQgetCopyData(conn, &chunk, 0)) > 0) {
		if (!failed && fn(arg, chunk, (size_t)n, err))
			failed = 1;
		PQfreemem(chunk);
	}
	r = PQgetResult(conn);
	if (n == -2 || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgx_fail(conn, r, err, "exporting a category");
		while ((r = PQgetResult(conn)))
			PQclear(r);
		return -1;
	}
	*rows = atoll(PQcmdTuples(r));
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);
	return failed ? -1 : 0;
}

struct file_sink {
	FILE *f;
	const char *path;
	struct sha256 sha;     /* of what is written, for the manifest */
	unsigned long long bytes;
};

static int write_row(void *arg, const char *row, size_t n, struct tmerr *err)
{
	struct file_sink *s = arg;

	if (fwrite(row, 1, n, s->f) != n)
		return tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s",
				 s->path, strerror(errno ? errno : EIO));
	sha256_update(&s->sha, row, n);
	s->bytes += n;
	return 0;
}

int export_category(PGconn *conn, const struct category_def *c,
		    const char *prov, int delta, long long since,
		    long long upto, const char *path, long long *rows,
		    struct mfile *mf, struct tmerr *err)
{
	struct buf q = BUF_INIT(EXPORT_SQL_CAP);
	struct file_sink s = { .path = path };
	int fd, rc = -1;

	sha256_init(&s.sha);

	*rows = 0;
	if (build_copy(&q, c, prov, delta, since, upto)) {
		tmerr_set(err, TMERR_SYS, "out of memory building the query for \"%s\"",
			  c->name);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(s.f = fdopen(fd, "w"))) {
		tmerr_set(err, TMERR_SYS, "cannot create \"%s\": %s", path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (export_copy(conn, q.ptr, write_row, &s, rows, err))
		goto out;
	if (fflush(s.f)) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", path,
			  strerror(errno));
		goto out;
	}
	if (mf) {
		/* COPY's CSV has one record per row: the pack needs no scan */
		mf->records = *rows;
		mf->bytes = s.bytes;
		sha256_final_hex(&s.sha, mf->sha256);
	}
	rc = 0;
out:
	if (s.f && fclose(s.f) && !rc) {
		rc = tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", path,
			       strerror(errno));
	}
	buf_release(&q);
	return rc;
}

/* Marks in want[] the categories of list (NULL: all), in defs order. */
static int pick_categories(const struct defs *d, const char *list,
			   unsigned char *want, struct tmerr *err)
{
	const char *p = list;

	if (!list) {
		memset(want, 1, d->ncats);
		return 0;
	}
	memset(want, 0, d->ncats);
	for (;;) {
		size_t len = strcspn(p, ",");
		char name[64];
		const struct category_def *c;

		if (!len || len >= sizeof(name))
			return tmerr_set(err, TMERR_USAGE,
					 "bad category list \"%.100s\" (want names separated by commas)",
					 list);
		memcpy(name, p, len);
		name[len] = '\0';
		c = defs_category(d, name);
		if (!c)
			return tmerr_set(err, TMERR_USAGE, "unknown category \"%s\"",
					 name);
		if (want[c->index])
			return tmerr_set(err, TMERR_USAGE,
					 "category \"%s\" is given twice", name);
		want[c->index] = 1;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* Removes dir and whatever is in it (only plain files are put there). */
static void remove_workdir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dp = opendir(dir);

	if (dp) {
		while ((e = readdir(dp))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) < (int)sizeof(path))
				unlink(path);
		}
		closedir(dp);
	}
	rmdir(dir);
}

static int check_opts(const struct gw_home *h, const struct export_opts *o,
		      struct tmerr *err)
{
	if (!*h->org)
		return tmerr_set(err, TMERR_USAGE,
				 "gateway home \"%s\" has no organisation (\"tmisgw keys init\" sets it)",
				 h->dir);
	if (!o->to || !manifest_valid_org(o->to))
		return tmerr_set(err, TMERR_USAGE,
				 "bad recipient organisation code \"%.20s\" (want 6 characters 0-9 A-Z)",
				 o->to ? o->to : "");
	if (!strcmp(o->to, h->org))
		return tmerr_set(err, TMERR_USAGE,
				 "recipient \"%s\" is this gateway's own organisation",
				 o->to);
	if (!o->kind || (strcmp(o->kind, "full") && strcmp(o->kind, "delta")))
		return tmerr_set(err, TMERR_USAGE,
				 "bad kind \"%.20s\" (want full or delta)",
				 o->kind ? o->kind : "");
	if (o->seq < 1)
		return tmerr_set(err, TMERR_USAGE,
				 "bad sequence number %lld (want 1 or more)", o->seq);
	if (!o->out)
		return tmerr_set(err, TMERR_USAGE, "no output given");
	return 0;
}

/*
 * The categories' files, written by two connections at once: the caller's
 * (in its transaction, holding the locks) and a second one that adopts the
 * same snapshot (pg_export_snapshot), so both see exactly one state of the
 * database. Categories are taken in order from a shared counter. Without a
 * second connection (it cannot connect, or the snapshot cannot be shared)
 * the caller's connection does them all.
 */
struct par {
	PGconn *conn;
	const struct defs *d;
	const unsigned char *want;
	char **paths;
	struct mfile *known;     /* per category: records, bytes, sha256 */
	const char *scope;
	long long others, since, upto;
	int delta;
	pthread_mutex_t mu;
	size_t next;
	int failed;
	struct tmerr err;
};

struct par_worker {
	struct par *p;
	PGconn *conn;
	struct tmerr err;
	int rc;
};

static void *par_run(void *arg)
{
	struct par_worker *w = arg;
	struct par *p = w->p;

	for (;;) {
		size_t i;
		const struct category_def *c;

		pthread_mutex_lock(&p->mu);
		while (p->next < p->d->ncats && !p->want[p->next])
			p->next++;
		i = p->next++;
		if (p->failed)
			i = p->d->ncats;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->d->ncats)
			break;
		c = &p->d->cats[i];
		if (export_category(w->conn, c, c->multi && !p->others ? "" : p->scope,
				    p->delta, p->since, p->upto, p->paths[i],
				    &p->known[i].records, &p->known[i], &w->err)) {
			pthread_mutex_lock(&p->mu);
			p->failed = 1;
			pthread_mutex_unlock(&p->mu);
			w->rc = -1;
			break;
		}
	}
	return NULL;
}

/* A second connection in the caller's snapshot, or NULL. */
static PGconn *snapshot_twin(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn), *o;
	const char *keys[64], *vals[64];
	PGresult *r;
	PGconn *twin = NULL;
	char sql[256];
	int n = 0;

	if (!opts)
		return NULL;
	for (o = opts; o->keyword && n < 63; o++)
		if (o->val && *o->val) {
			keys[n] = o->keyword;
			vals[n++] = o->val;
		}
	keys[n] = vals[n] = NULL;
	r = PQexec(conn, "SELECT pg_export_snapshot()");
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
			 "SET TRANSACTION SNAPSHOT '%.64s'; SET LOCAL DateStyle = ISO",
			 PQgetvalue(r, 0, 0));
		twin = PQconnectdbParams(keys, vals, 0);
		if (PQstatus(twin) == CONNECTION_OK) {
			PGresult *b;

			PQsetClientEncoding(twin, PQparameterStatus(conn, "client_encoding"));
			b = PQexec(twin, sql);
			if (PQresultStatus(b) != PGRES_COMMAND_OK) {
				PQfinish(twin);
				twin = NULL;
			}
			PQclear(b);
		} else {
			PQfinish(twin);
			twin = NULL;
		}
	}
	PQclear(r);
	PQconninfoFree(opts);
	return twin;
}

static int export_parallel(struct par *p, struct tmerr *err)
{
	struct par_worker w[2];
	pthread_t th;
	int two;

	memset(w, 0, sizeof(w));
	pthread_mutex_init(&p->mu, NULL);
	p->next = 0;
	p->failed = 0;
	w[0].p = w[1].p = p;
	w[0].conn = p->conn;
	w[1].conn = snapshot_twin(p->conn);
	two = w[1].conn && !pthread_create(&th, NULL, par_run, &w[1]);
	par_run(&w[0]);
	if (two)
		pthread_join(th, NULL);
	if (w[1].conn) {
		PQclear(PQexec(w[1].conn, "ROLLBACK"));
		PQfinish(w[1].conn);
	}
	pthread_mutex_destroy(&p->mu);
	if (w[0].rc) {
		*err = w[0].err;
		return -1;
	}
	if (two && w[1].rc) {
		*err = w[1].err;
		return -1;
	}
	return 0;
}

/*
 * Everything after BEGIN: locks, the snapshot's window, the files, the
 * package and its row. paths[] gets the files made (freed by the caller).
 */
static int export_txn(PGconn *conn, const struct gw_home *h,
		      const struct export_opts *o, const unsigned char *want,
		      const char *work, char **paths, struct export_result *res,
		      struct tmerr *err)
{
	const struct defs *d = o->defs;
	int delta = !strcmp(o->kind, "delta");
	struct buf q = BUF_INIT(EXPORT_SQL_CAP);
	const char *pkpaths[MANIFEST_MAX_FILES];
	struct mfile known[LOAD_MAX_CATS];
	long long others = 1;
	size_t from[MANIFEST_MAX_FILES];
	char seq[24], num[4][24], full_path[PATH_MAX];
	const char *params[10];
	size_t n = 0, first = (size_t)-1;
	PGresult *r;
	int rc = -1;

	/* one pack at a time (package_out), then no load in flight */
	buf_addstr(&q, "LOCK TABLE tmis.package_out IN SHARE ROW EXCLUSIVE MODE; "
		       "LOCK TABLE ");
	for (size_t i = 0; i < d->ncats; i++)
		buf_addf(&q, "%stmis.\"%s\"", i ? ", " : "", d->cats[i].name);
	if (buf_addstr(&q, " IN SHARE MODE; SET LOCAL DateStyle = ISO")) {
		tmerr_set(err, TMERR_SYS, "out of memory building the lock statement");
		goto out;
	}
	if (pgx_exec(conn, q.ptr, err, "locking the tables to export"))
		goto out;

	snprintf(seq, sizeof(seq), "%lld", o->seq);
	params[0] = o->to;
	params[1] = seq;
	r = PQexecParams(conn, "SELECT id FROM tmis.package_out "
			       "WHERE recipient = $1 AND sequence = $2",
			 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgx_fail(conn, r, err, "reading tmis.package_out");
		goto out;
	}
	if (PQntuples(r)) {
		tmerr_set(err, TMERR_INPUT,
			  "sequence %lld to \"%s\" was already packed as package \"%.64s\"",
			  o->seq, o->to, PQgetvalue(r, 0, 0));
		PQclear(r);
		goto out;
	}
	PQclear(r);
	res->since = 0;
	if (delta &&
	    pgx_query_ll(conn, "SELECT coalesce(max(changes_upto), 0) FROM tmis.package_out "
			   "WHERE recipient = $1 AND sequence < $2",
		     2, params, &res->since, err, "reading tmis.package_out"))
		goto out;
	if (pgx_query_ll(conn, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
			   "FROM tmis.change_no_seq",
		     0, NULL, &res->upto, err, "reading the change number"))
		goto out;
	if (res->since > res->upto)
		res->since = res->upto;

	/* When every stored teacher is of the province (the usual case at a
	 * province), the other categories need no join to find their scope. */
	if (*res->scope) {
		const char *pv[1] = { res->scope };

		if (pgx_query_ll(conn, "SELECT count(*) FROM (SELECT 1 FROM tmis.teacher "
				       "WHERE substr(school_code, 3, 2) IS DISTINCT FROM $1 "
				       "LIMIT 1) x", 1, pv, &others, err,
				 "checking the scope"))
			goto out;
	}
	for (size_t i = 0; i < d->ncats; i++) {
		const struct category_def *c = &d->cats[i];
		size_t len = strlen(work) + strlen(c->name) + 6;

		if (!want[i])
			continue;
		paths[i] = malloc(len);
		if (!paths[i]) {
			tmerr_set(err, TMERR_SYS, "out of memory");
			goto out;
		}
		snprintf(paths[i], len, "%s/%s.csv", work, c->name);
	}
	{
		struct par p = {
			.conn = conn, .d = d, .want = want, .paths = paths,
			.known = known, .scope = res->scope,
			.others = others, .delta = delta, .since = res->since,
			.upto = res->upto,
		};

		if (export_parallel(&p, err))
			goto out;
	}
	for (size_t i = 0; i < d->ncats; i++) {
		if (!want[i])
			continue;
		if (first == (size_t)-1)
			first = i;
		/* a delta leaves out what did not change; a full says
		 * "empty" with a header-only file */
		if (!delta || known[i].records) {
			from[n] = i;
			pkpaths[n++] = paths[i];
		}
	}
	if (!n && first != (size_t)-1) {
		from[n] = first;
		pkpaths[n++] = paths[first];
	}

	if (package_manifest(h, &res->m, o->to, o->kind, o->seq, pkpaths, n,
			     err))
		goto out;
	for (size_t i = 0; i < res->m.nfiles; i++) {
		res->m.files[i].records = known[from[i]].records;
		res->m.files[i].bytes = known[from[i]].bytes;
		memcpy(res->m.files[i].sha256, known[from[i]].sha256,
		       sizeof(res->m.files[i].sha256));
	}
	if (package_write(h, &res->m, pkpaths, o->out, &res->pkg, err))
		goto out;
	for (size_t i = 0; i < res->m.nfiles; i++)
		res->records += res->m.files[i].records;

	if (!realpath(res->pkg.path, full_path))
		snprintf(full_path, sizeof(full_path), "%s", res->pkg.path);
	snprintf(num[0], sizeof(num[0]), "%lld", res->since);
	snprintf(num[1], sizeof(num[1]), "%lld", res->upto);
	snprintf(num[2], sizeof(num[2]), "%llu", res->pkg.bytes);
	snprintf(num[3], sizeof(num[3]), "%lld", res->records);
	params[2] = res->m.id;
	params[3] = o->kind;
	params[4] = num[0];
	params[5] = num[1];
	params[6] = res->pkg.sha256;
	params[7] = num[2];
	params[8] = num[3];
	params[9] = full_path;
	r = PQexecParams(conn, "INSERT INTO tmis.package_out (recipient, sequence, "
			       "id, kind, changes_since, changes_upto, sha256, bytes, "
			       "records, path) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
			 10, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgx_fail(conn, r, err, "recording the package in tmis.package_out");
		goto unlink_pkg;
	}
	PQclear(r);
	{
		struct xlog_entry e;

		xlog_entry_init(&e);
		e.direction = "out";
		e.event = "pack";
		e.partner = o->to;
		e.package_id = res->m.id;
		e.sequence = o->seq;
		e.kind = o->kind;
		e.bytes = (long long)res->pkg.bytes;
		e.sha256 = res->pkg.sha256;
		e.signer_fpr = res->pkg.signer;
		e.loaded = res->records;
		e.outcome = "packed";
		if (xlog_append(conn, &e, NULL, err))
			goto unlink_pkg;
	}
	if (pgx_exec(conn, "COMMIT", err, "committing the package record"))
		goto unlink_pkg;
	rc = 0;
	goto out;
unlink_pkg:
	unlink(res->pkg.path);
out:
	buf_release(&q);
	return rc;
}

int export_pack(PGconn *conn, const struct gw_home *h,
		const struct export_opts *o, struct export_result *res,
		struct tmerr *err)
{
	const struct defs *d = o->defs;
	unsigned char *want = NULL;
	char **paths = NULL;
	char work[PATH_MAX];
	int rc = -1, began = 0, made = 0;

	memset(res, 0, sizeof(*res));
	manifest_init(&res->m);
	if (check_opts(h, o, err))
		return -1;
	if (!d->ncats || d->ncats > MANIFEST_MAX_FILES)
		return tmerr_set(err, TMERR_MAPPING,
				 "the definitions hold %zu categories", d->ncats);
	want = malloc(d->ncats);
	paths = calloc(d->ncats, sizeof(*paths));
	if (!want || !paths) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto out;
	}
	if (pick_categories(d, o->categories, want, err))
		goto out;
	export_scope(h->org, res->scope);

	if (snprintf(work, sizeof(work), "%s/export.XXXXXX", h->spool) >=
	    (int)sizeof(work) || !mkdtemp(work)) {
		tmerr_set(err, TMERR_SYS, "cannot make a work directory in \"%s\": %s",
			  h->spool, strerror(errno));
		goto out;
	}
	made = 1;
	if (pgx_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", err,
		    "starting the export transaction"))
		goto out;
	began = 1;
	if (export_txn(conn, h, o, want, work, paths, res, err))
		goto out;
	began = 0;
	rc = 0;
out:
	if (began) {
		PGresult *r = PQexec(conn, "ROLLBACK");

		PQclear(r);
	}
	if (made)
		remove_workdir(work);
	if (paths)
		for (size_t i = 0; i < d->ncats; i++)
			free(paths[i]);
	free(paths);
	free(want);
	return rc;
}
