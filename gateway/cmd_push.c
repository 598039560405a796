#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../etl/export.h"
#include "../etl/home.h"
#include "../etl/package.h"
#include "../etl/sha256.h"
#include "../etl/xlog.h"
#include "../etl/xprofile.h"
#include "client.h"
#include "cli.h"

#define WAIT_SECONDS 3600.0

static void note(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "tmisgw: %s\n", msg);
}

static PGconn *maybe_db(struct ctx *c)
{
	const char *dsn = arg_get(c, "db");
	PGconn *db;

	if (c->conn)
		return c->conn;
	if (!dsn)
		dsn = getenv("TMISGW_DB");
	if (!dsn || !*dsn)
		return NULL;
	db = PQconnectdb(dsn);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "tmisgw: warning: cannot connect to the database; the receipt is kept but not recorded: %s",
			PQerrorMessage(db));
		PQfinish(db);
		return NULL;
	}
	return db;
}

static void log_push(PGconn *db, const struct partner *p, const char *id,
		     const char *sha, long long bytes, const struct pkg_state *st)
{
	struct xlog_entry e;
	struct tmerr err;

	if (!db)
		return;
	xlog_entry_init(&e);
	e.direction = "out";
	e.event = "upload";
	e.partner = p->org;
	e.package_id = id;
	e.bytes = bytes;
	e.sha256 = sha;
	e.outcome = st->http == 202 ? "sent" : "resent";
	tmerr_clear(&err);
	xlog_append(db, &e, NULL, &err);
}

/*
 * Fetch the receipt of package id (sha256 sha) from p, verify it (checks
 * 1-3: signed by p's key, for us; of kind receipt; naming our package and
 * its SHA-256), keep it in DIR/inbox/receipts, record it when db, print it.
 * Returns the exit code: 0 loaded, 5 rejected, else an error's.
 */
static int take_receipt(const struct gw_home *h, const struct partner *p,
			PGconn *db, const char *id, const char *sha)
{
	char dir[4200], keep[4200], x[4300], rdir[4200];
	struct package_info info;
	struct tmerr err;
	int http, rc;

	tmerr_clear(&err);
	snprintf(rdir, sizeof(rdir), "%s/receipts", h->inbox);
	if (mkdir(rdir, 0700) && errno != EEXIST) {
		fprintf(stderr, "tmisgw: error: cannot make \"%s\": %s\n", rdir, strerror(errno));
		return EXIT_FAIL;
	}
	if ((size_t)snprintf(keep, sizeof(keep), "%s/%s-%s.tmx", rdir, p->org, id) >= sizeof(keep)) {
		fprintf(stderr, "tmisgw: error: home path too long\n");
		return EXIT_FAIL;
	}
	snprintf(x, sizeof(x), "/v1/packages/%s/receipt", id);
	if (client_download(p, x, keep, &http, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	snprintf(dir, sizeof(dir), "%s/rcpt-%ld-XXXXXX", h->spool, (long)getpid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "tmisgw: error: cannot make a work directory: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	snprintf(x, sizeof(x), "%s/p", dir);
	if (package_verify(h, keep, NULL, x, &info, &err)) {
		home_rm_tree(dir);
		report_error(&err);
		return exit_code_for(&err);
	}
	if (strcmp(info.m.kind, "receipt") || strcmp(info.m.sender, p->org) ||
	    strcmp(info.m.original_id, id) || strcmp(info.m.original_sha256, sha)) {
		fprintf(stderr, "tmisgw: error: the receipt from %s does not answer package \"%s\" (sha256 %s): it is of kind \"%s\" for \"%s\" (sha256 %s)\n",
			p->org, id, sha, info.m.kind, info.m.original_id, info.m.original_sha256);
		package_info_free(&info);
		home_rm_tree(dir);
		return EXIT_INPUT;
	}
	receipt_print(&info, dir, 10);
	rc = strcmp(info.m.outcome, "rejected") ? EXIT_OK : EXIT_REFUSED;
	if (db) {
		long long rcv = 0, ld = 0, rj = 0;
		char a[3][24], seq[24];
		const char *v[11];
		PGresult *r;
		struct xlog_entry e;

		for (size_t i = 0; i < info.m.ncounts; i++) {
			rcv += info.m.counts[i].received;
			ld += info.m.counts[i].loaded;
			rj += info.m.counts[i].rejected;
		}
		snprintf(a[0], 24, "%lld", rcv);
		snprintf(a[1], 24, "%lld", ld);
		snprintf(a[2], 24, "%lld", rj);
		snprintf(seq, sizeof(seq), "%lld", info.m.sequence);
		v[0] = p->org;
		v[1] = id;
		v[2] = info.m.id;
		v[3] = seq;
		v[4] = info.m.outcome;
		v[5] = sha;
		v[6] = info.sha256;
		v[7] = a[0];
		v[8] = a[1];
		v[9] = a[2];
		v[10] = keep;
		r = PQexecParams(db, "INSERT INTO tmis.receipt_in (partner, package_id, receipt_id, "
				     "sequence, outcome, package_sha256, receipt_sha256, received, loaded, "
				     "rejected, path) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
				     "ON CONFLICT (partner, package_id) DO NOTHING",
				 11, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fprintf(stderr, "tmisgw: warning: the receipt was not recorded: %s",
				PQresultErrorMessage(r));
		else if (atoll(PQcmdTuples(r)) == 1) {
			/* verified above: sent by p->org, of kind receipt */
			xlog_entry_received(&e, "receipt", &info);
			e.loaded = ld;
			e.rejected = rj;
			e.outcome = info.m.outcome;
			xlog_append(db, &e, NULL, &err);
		}
		PQclear(r);
	}
	package_info_free(&info);
	home_rm_tree(dir);
	return rc;
}

/* Upload pkg to p and, unless no_wait, wait for its receipt. */
static int push_one(const struct gw_home *h, const struct partner *p, PGconn *db,
		    const char *pkg, int no_wait)
{
	struct pkg_state st;
	struct tmerr err;
	char sha[65];
	struct stat sb;

	tmerr_clear(&err);
	if (sha256_file(pkg, sha, NULL) || stat(pkg, &sb)) {
		fprintf(stderr, "tmisgw: error: cannot read \"%s\": %s\n", pkg, strerror(errno));
		return EXIT_USAGE;
	}
	if (client_push(p, pkg, &st, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	log_push(db, p, st.id, sha, (long long)sb.st_size, &st);
	printf("%s %s to %s: %s\n", st.http == 202 ? "uploaded" : "already uploaded",
	       st.id, p->org, st.state);
	if (no_wait)
		return EXIT_OK;
	if (client_wait(p, st.id, WAIT_SECONDS, &st, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (!strcmp(st.state, "held")) {
		printf("held by %s: an earlier sequence has not arrived there yet\n", p->org);
		return EXIT_HELD;
	}
	printf("%s: %s", p->org, st.state);
	if (*st.outcome)
		printf(" (%s)", st.outcome);
	if (*st.error)
		printf(": %s", st.error);
	printf("\n");
	if (!strcmp(st.state, "rejected") && !*st.outcome) {
		/* refused at checks 1-4: there is no receipt */
		return EXIT_INPUT;
	}
	return take_receipt(h, p, db, st.id, sha);
}

/*
 * The client side's start: libcurl, the home, and partner org from its
 * config (notes on stderr). 0, or an exit code after reporting the error.
 */
static int open_partner(struct ctx *c, const char *org, struct gw_home *h,
			struct partner *p)
{
	struct tmerr err;

	tmerr_clear(&err);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (home_open(h, arg_get(c, "home"), 0, &err) ||
	    partner_load(h, org, p, &err)) {
		report_error(&err);
		home_close(h);
		curl_global_cleanup();
		return exit_code_for(&err);
	}
	p->log = note;
	return 0;
}

int cmd_push(struct ctx *c)
{
	const char *to = arg_get(c, "to");
	struct partner p;
	struct gw_home h;
	PGconn *db;
	int rc;

	if (!to) {
		fprintf(stderr, "tmisgw push: --to ORG is required\n");
		return EXIT_USAGE;
	}
	rc = open_partner(c, to, &h, &p);
	if (rc)
		return rc;
	db = maybe_db(c);
	rc = push_one(&h, &p, db, c->args.pos[0], arg_get(c, "no-wait") != NULL);
	if (db && db != c->conn)
		PQfinish(db);
	home_close(&h);
	curl_global_cleanup();
	return rc;
}

/*
 * sync: one sender's stream to `to`, under a session advisory lock so two
 * syncs take turns. An unacknowledged package is pushed again (resumed or
 * resent); otherwise the next package is made (the first one full, then
 * deltas) and pushed.
 */
int cmd_sync(struct ctx *c)
{
	const char *to = arg_get(c, "to");
	const char *v[1] = { to };
	struct export_result *er = NULL;
	struct partner p;
	struct gw_home h;
	struct tmerr err;
	PGresult *r;
	char path[4200] = "";
	long long seq = 0;
	int rc = EXIT_FAIL, locked = 0;

	tmerr_clear(&err);
	if (!to) {
		fprintf(stderr, "tmisgw sync: --to ORG is required\n");
		return EXIT_USAGE;
	}
	rc = open_partner(c, to, &h, &p);
	if (rc)
		return rc;
	rc = EXIT_FAIL;
	r = PQexecParams(c->conn, "SELECT pg_advisory_lock(hashtext('tmisgw sync ' || $1))",
			 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tmisgw: error: %s", PQresultErrorMessage(r));
		PQclear(r);
		rc = EXIT_DB;
		goto out;
	}
	PQclear(r);
	locked = 1;
	r = PQexecParams(c->conn,
			 "SELECT o.sequence, o.path, (SELECT count(*) FROM tmis.receipt_in i "
			 "WHERE i.partner = o.recipient AND i.package_id = o.id) "
			 "FROM tmis.package_out o WHERE o.recipient = $1 "
			 "ORDER BY o.sequence DESC LIMIT 1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tmisgw: error: %s", PQresultErrorMessage(r));
		PQclear(r);
		rc = EXIT_DB;
		goto out;
	}
	if (PQntuples(r)) {
		seq = atoll(PQgetvalue(r, 0, 0));
		if (!strcmp(PQgetvalue(r, 0, 2), "0"))
			snprintf(path, sizeof(path), "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	if (*path) {
		printf("sequence %lld to %s has no receipt yet: sending it again\n", seq, to);
		rc = push_one(&h, &p, c->conn, path, 0);
		goto out;
	}
	er = calloc(1, sizeof(*er));
	if (!er)
		goto out;
	{
		struct export_opts eo = {
			.defs = c->defs, .to = to, .kind = seq ? "delta" : "full",
			.seq = seq + 1, .categories = arg_get(c, "categories"),
			.out = h.outbox,
		};

		if (export_pack(c->conn, &h, &eo, er, &err)) {
			manifest_free(&er->m);
			report_error(&err);
			rc = exit_code_for(&err);
			goto out;
		}
		printf("packed %s sequence %lld for %s: %lld records (changes %lld..%lld) into %s\n",
		       eo.kind, eo.seq, to, er->records, er->since, er->upto, er->pkg.path);
		snprintf(path, sizeof(path), "%s", er->pkg.path);
		manifest_free(&er->m);
	}
	rc = push_one(&h, &p, c->conn, path, 0);
out:
	if (locked) {
		r = PQexecParams(c->conn, "SELECT pg_advisory_unlock(hashtext('tmisgw sync ' || $1))",
				 1, NULL, v, NULL, NULL, 0);
		PQclear(r);
	}
	free(er);
	home_close(&h);
	curl_global_cleanup();
	return rc;
}

/*
 * pull: a linked platform fetches the export its profile allows, for the
 * changes after the last one it imported, verifies it and imports it
 * (etl/xprofile.c), or writes its files with --files.
 */
int cmd_pull(struct ctx *c)
{
	const char *from = arg_get(c, "from");
	struct ximport_opts o = { .defs = c->defs, .files_dir = arg_get(c, "files") };
	struct ximport_result *res = NULL;
	struct partner p;
	struct gw_home h;
	struct tmerr err;
	char dir[4200], path[4300], q[64];
	long long since = 0;
	int http, rc = EXIT_FAIL;

	tmerr_clear(&err);
	if (!from) {
		fprintf(stderr, "tmisgw pull: --from ORG is required\n");
		return EXIT_USAGE;
	}
	o.expect_sender = from;
	rc = open_partner(c, from, &h, &p);
	if (rc)
		return rc;
	rc = EXIT_FAIL;
	if (xprofile_pull_since(c->conn, from, &since, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/exports", h.inbox);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "tmisgw: error: cannot make \"%s\": %s\n", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s-since-%lld.tmx", dir, from, since);
	snprintf(q, sizeof(q), "/v1/exports?since=%lld", since);
	if (client_download(&p, q, path, &http, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
		goto out;
	}
	res = calloc(1, sizeof(*res));
	if (!res)
		goto out;
	if (xprofile_import(c->conn, &h, path, &o, res, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
		ximport_result_free(res);
		goto out;
	}
	printf("pulled from %s: changes %lld..%lld, %lld records (%lld upserts, %lld deletes), %s%s%s\n",
	       from, res->since, res->upto, res->records, res->upserts, res->deletes,
	       res->state, *res->files ? " into " : "", res->files);
	for (size_t i = 0; i < res->ncats; i++)
		printf("  %-20s %8lld records %8lld upserts %8lld deletes\n",
		       res->cats[i].category, res->cats[i].records, res->cats[i].upserts,
		       res->cats[i].deletes);
	ximport_result_free(res);
	unlink(path);
	rc = EXIT_OK;
out:
	free(res);
	home_close(&h);
	curl_global_cleanup();
	return rc;
}
