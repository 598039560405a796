#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "buf.h"
#include "export.h"
#include "pgx.h"
#include "receive.h"
#include "sha256.h"
#include "xlog.h"

#define SQL_CAP (64 * 1024)
#define CHUNK (256 * 1024)

/* ---- files ------------------------------------------------------------------ */

/*
 * A private work directory DIR/spool/recv-PID-XXXXXX. Directories left by
 * processes that no longer exist (a kill -9) are removed first.
 */
static int work_dir(const struct gw_home *h, char *out, size_t outsz,
		    struct tmerr *err)
{
	DIR *d = opendir(h->spool);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[4096];
		long pid;

		if (sscanf(e->d_name, "recv-%ld-", &pid) != 1 || pid <= 0 ||
		    pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(p, sizeof(p), "%s/%s", h->spool, e->d_name);
		home_rm_tree(p);
	}
	if (d)
		closedir(d);
	if ((size_t)snprintf(out, outsz, "%s/recv-%ld-XXXXXX", h->spool,
			     (long)getpid()) >= outsz)
		return tmerr_set(err, TMERR_SYS, "spool path too long");
	if (!mkdtemp(out)) {
		tmerr_set(err, TMERR_SYS, "cannot make a work directory in \"%s\": %s",
			  h->spool, strerror(errno));
		*out = '\0';
		return -1;
	}
	return 0;
}

/* Copy src to dst (new file, fsynced, appears whole). */
static int copy_file(const char *src, const char *dst, struct tmerr *err)
{
	char tmp[4200], buf[64 * 1024];
	int in = -1, out = -1, rc = -1;
	ssize_t n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", dst) >= sizeof(tmp))
		return tmerr_set(err, TMERR_SYS, "path too long: \"%.200s\"", dst);
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto fail;
			off += w;
		}
	if (n < 0 || fsync(out) || close(out))
		goto fail;
	out = -1;
	if (rename(tmp, dst))
		goto fail;
	rc = 0;
	goto done;
fail:
	tmerr_set(err, TMERR_SYS, "cannot copy \"%s\" to \"%s\": %s", src, dst,
		  strerror(errno));
	unlink(tmp);
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* ---- database ---------------------------------------------------------------- */

/* A refusal's log entry, in its own transaction; a failure to log is
 * added to err's message (the refusal itself stays the error). */
static void log_refusal(PGconn *conn, const char *path,
			const struct receive_result *res, const char *outcome,
			const struct tmerr *why, struct tmerr *err)
{
	struct xlog_entry e;
	struct tmerr le;
	char msg[512], hex[65];
	long long bytes;

	tmerr_clear(&le);
	xlog_entry_received(&e, "package", res->verified ? &res->info : NULL);
	if (!res->verified) {
		/* what the uploader claimed, when it came over HTTP */
		e.partner = res->claimed_sender;
		e.package_id = res->claimed_id;
		if (sha256_file(path, hex, &bytes) == 0) {
			e.sha256 = hex;
			e.bytes = bytes;
		}
	}
	e.outcome = outcome;
	tmerr_format(why, msg, sizeof(msg));
	e.error = msg;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		pgx_rollback(conn);
	if (xlog_append(conn, &e, NULL, &le)) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n,
			 " (and it could not be logged: %s)", le.msg);
	}
}

/* ---- receipts -------------------------------------------------------------------- */

/*
 * The loader's reject file with each row's file named as in the package
 * (data/x.csv) rather than by its path in the work directory.
 */
static int receipt_rejects(const char *from, const char *xdir, const char *to,
			   struct tmerr *err)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	char *line = NULL;
	size_t cap = 0, pl = strlen(xdir);
	ssize_t n;
	int rc = -1;

	if (!out) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", to, strerror(errno));
		goto out;
	}
	if (!in) {
		/* no row was read: an empty list */
		fputs("file,line,category,teacher_key,field,rule,value,message\r\n", out);
		rc = 0;
		goto out;
	}
	while ((n = getline(&line, &cap, in)) > 0) {
		const char *p = line;
		int q = *p == '"';

		if (!strncmp(p + q, xdir, pl) && p[q + pl] == '/') {
			if (q)
				fputc('"', out);
			p += q + pl + 1;
		}
		fputs(p, out);
	}
	rc = 0;
out:
	free(line);
	if (in)
		fclose(in);
	if (out && fclose(out) && !rc)
		rc = tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", to,
			       strerror(errno));
	return rc;
}

/* Store the receipt file's bytes in the package's row (streamed COPY). */
static int store_receipt(PGconn *conn, const char *path, const char *sender,
			 const char *id, struct tmerr *err)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char raw[CHUNK / 2];
	char hex[CHUNK + 8];
	const char *v[2] = { sender, id };
	PGresult *r;
	size_t n;
	FILE *f;
	int rc = -1;

	if (pgx_exec(conn, "CREATE TEMP TABLE tmisgw_rcpt (body bytea) ON COMMIT DROP",
		    err, "storing the receipt"))
		return -1;
	r = PQexec(conn, "COPY tmisgw_rcpt FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return pgx_fail(conn, r, err, "storing the receipt");
	PQclear(r);
	f = fopen(path, "rb");
	if (!f) {
		PQputCopyEnd(conn, "tmisgw: no receipt");
		PQclear(PQgetResult(conn));
		return tmerr_set(err, TMERR_SYS, "cannot read \"%s\": %s", path,
				 strerror(errno));
	}
	if (PQputCopyData(conn, "\\\\x", 3) != 1)
		goto copyfail;
	while ((n = fread(raw, 1, sizeof(raw), f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			hex[2 * i] = hexd[raw[i] >> 4];
			hex[2 * i + 1] = hexd[raw[i] & 15];
		}
		if (PQputCopyData(conn, hex, (int)(2 * n)) != 1)
			goto copyfail;
	}
	fclose(f);
	f = NULL;
	if (PQputCopyData(conn, "\n", 1) != 1 || PQputCopyEnd(conn, NULL) != 1)
		goto copyfail;
	r = PQgetResult(conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pgx_fail(conn, r, err, "storing the receipt");
	PQclear(r);
	r = pgx_query(conn, "UPDATE tmis.package_in SET receipt = (SELECT body FROM tmisgw_rcpt) "
			"WHERE sender = $1 AND id = $2", 2, v, err, "storing the receipt");
	if (!r)
		return -1;
	PQclear(r);
	rc = pgx_exec(conn, "DROP TABLE tmisgw_rcpt", err, "storing the receipt");
	return rc;
copyfail:
	if (f)
		fclose(f);
	pgx_fail(conn, NULL, err, "storing the receipt");
	while ((r = PQgetResult(conn)))
		PQclear(r);
	return -1;
}

/* Write the stored receipt of (sender, id) to out, a chunk at a time. */
int receive_fetch_receipt(PGconn *conn, const char *sender, const char *id,
			 const char *out, struct tmerr *err)
{
	char tmp[4200], off[24];
	const char *v[3] = { sender, id, off };
	long long at = 1;
	FILE *f;
	int rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", out) >= sizeof(tmp))
		return tmerr_set(err, TMERR_SYS, "path too long: \"%.200s\"", out);
	f = fopen(tmp, "wb");
	if (!f)
		return tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp,
				 strerror(errno));
	for (;;) {
		PGresult *r;
		size_t n;
		unsigned char *b;

		snprintf(off, sizeof(off), "%lld", at);
		r = pgx_query(conn, "SELECT substring(receipt FROM $3::int FOR 1048576) "
				"FROM tmis.package_in WHERE sender = $1 AND id = $2 "
				"AND receipt IS NOT NULL", 3, v, err, "reading the receipt");
		if (!r)
			goto out;
		if (!PQntuples(r)) {
			PQclear(r);
			tmerr_set(err, TMERR_INPUT, "no receipt is stored for package \"%s\"", id);
			goto out;
		}
		b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &n);
		PQclear(r);
		if (!b) {
			tmerr_set(err, TMERR_SYS, "out of memory reading the receipt");
			goto out;
		}
		if (n && fwrite(b, 1, n, f) != n) {
			PQfreemem(b);
			tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp,
				  strerror(errno));
			goto out;
		}
		PQfreemem(b);
		if (n < 1048576)
			break;
		at += (long long)n;
	}
	if (fflush(f) || fsync(fileno(f))) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fclose(f) && !rc)
		rc = tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp,
			       strerror(errno));
	if (!rc && rename(tmp, out))
		rc = tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", out,
			       strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* counts for file f of the package from the load's per-category counts */
static void file_counts(const struct receive_opts *o, const struct mfile *f,
			const struct load_result *lr, int loaded,
			struct mcount *c)
{
	const struct category_def *cd = defs_category(o->defs, f->category);
	const struct load_counts *lc = cd ? &lr->cat[cd->index] : NULL;

	snprintf(c->name, sizeof(c->name), "%s", f->name);
	c->received = f->records;
	c->rejected = lc ? lc->rejected : 0;
	if (c->rejected > c->received)
		c->rejected = c->received;
	c->loaded = loaded ? c->received - c->rejected : 0;
	if (!loaded)
		c->rejected = c->received;
}

/*
 * Make the receipt for the package in res (outcome and counts set) into
 * rdir: data/rejects.csv from the loader's reject file, signed by us and
 * encrypted to the sender. *out gets the .tmx written.
 */
static int make_receipt(const struct gw_home *h, const struct receive_opts *o,
			struct receive_result *res, const char *xdir,
			const char *rejfile, const char *rdir, int loaded,
			struct package_out *po, struct tmerr *err)
{
	const struct manifest *pm = &res->info.m;
	struct manifest m;
	char rej[4200];
	const char *paths[1] = { rej };
	struct mfile *f;
	int rc = -1;

	manifest_init(&m);
	snprintf(rej, sizeof(rej), "%s/rejects.csv", rdir);
	if (receipt_rejects(rejfile, xdir, rej, err) || manifest_uuid(m.id, err))
		goto out;
	snprintf(res->receipt_id, sizeof(res->receipt_id), "%s", m.id);
	snprintf(m.sender, sizeof(m.sender), "%s", h->org);
	snprintf(m.recipient, sizeof(m.recipient), "%s", pm->sender);
	package_now(m.created);
	snprintf(m.kind, sizeof(m.kind), "receipt");
	m.sequence = pm->sequence;
	snprintf(m.schema, sizeof(m.schema), "%s", PACKAGE_SCHEMA);
	f = manifest_add_file(&m, err);
	if (!f)
		goto out;
	snprintf(f->name, sizeof(f->name), "data/rejects.csv");
	snprintf(f->category, sizeof(f->category), "rejects");
	snprintf(f->format, sizeof(f->format), "csv");
	f->records = -1;
	snprintf(m.original_id, sizeof(m.original_id), "%s", pm->id);
	snprintf(m.original_sha256, sizeof(m.original_sha256), "%s", res->info.sha256);
	snprintf(m.outcome, sizeof(m.outcome), "%s", res->outcome);
	for (size_t i = 0; i < pm->nfiles; i++) {
		struct mcount *c = manifest_add_count(&m, err);

		if (!c)
			goto out;
		file_counts(o, &pm->files[i], &res->load, loaded, c);
	}
	rc = package_write(h, &m, paths, rdir, po, err);
out:
	manifest_free(&m);
	return rc;
}

/*
 * The load's records name files by their place in the work directory:
 * name them "PKG:data/x.csv" instead, in the load's tables and the summary.
 */
static int name_files(PGconn *conn, const char *xdir, const char *pkg,
		      struct receive_result *res, struct tmerr *err)
{
	const char *base = strrchr(pkg, '/') ? strrchr(pkg, '/') + 1 : pkg;
	char from[4200], to[4200], id[24];
	const char *v[3] = { from, to, id };
	size_t fl;
	PGresult *r;

	snprintf(from, sizeof(from), "%s/", xdir);
	snprintf(to, sizeof(to), "%s:", base);
	snprintf(id, sizeof(id), "%lld", res->load.load_id);
	r = pgx_query(conn, "WITH a AS (UPDATE tmis.load_file SET file = replace(file, $1, $2) "
			"WHERE load_id = $3::bigint RETURNING 1), b AS (UPDATE tmis.load_reject "
			"SET file = replace(file, $1, $2) WHERE load_id = $3::bigint RETURNING 1) "
			"UPDATE tmis.load_run SET files = (SELECT array_agg(replace(f, $1, $2)) "
			"FROM unnest(files) f) WHERE id = $3::bigint",
		  3, v, err, "naming the package's files");
	if (!r)
		return -1;
	PQclear(r);
	fl = strlen(from);
	for (int i = 0; i < res->load.nsample && i < 8; i++) {
		char *s = res->load.sample[i], tmp[sizeof(res->load.sample[i])];

		if (strncmp(s, from, fl))
			continue;
		snprintf(tmp, sizeof(tmp), "%.200s%.800s", to, s + fl);
		memcpy(s, tmp, sizeof(tmp));
	}
	return 0;
}

/* ---- check 4 and 5 ------------------------------------------------------------------ */

static int outbox_receipt(const struct gw_home *h, const struct receive_result *res,
			  char *out, size_t outsz)
{
	return (size_t)snprintf(out, outsz, "%s/%s-%lld-%s.tmx", h->outbox, h->org,
				res->info.m.sequence, res->receipt_id) >= outsz ? -1 : 0;
}

/* A resend: log it and put the stored receipt in the outbox again. */
static int duplicate(PGconn *conn, const struct gw_home *h,
		     struct receive_result *res, PGresult *row, struct tmerr *err)
{
	const struct manifest *m = &res->info.m;
	struct xlog_entry e;

	res->state = "duplicate";
	snprintf(res->outcome, sizeof(res->outcome), "%s", PQgetvalue(row, 0, 4));
	snprintf(res->receipt_id, sizeof(res->receipt_id), "%s", PQgetvalue(row, 0, 5));
	res->loaded = atoll(PQgetvalue(row, 0, 6));
	res->rejected = atoll(PQgetvalue(row, 0, 7));
	xlog_entry_received(&e, "package", &res->info);
	e.outcome = "duplicate";
	e.error = "resend of a package already answered: nothing loaded, the same receipt sent again";
	if (xlog_append(conn, &e, NULL, err) ||
	    pgx_exec(conn, "COMMIT", err, "committing"))
		return -1;
	if (outbox_receipt(h, res, res->receipt, sizeof(res->receipt)))
		return tmerr_set(err, TMERR_SYS, "outbox path too long");
	return receive_fetch_receipt(conn, m->sender, m->id, res->receipt, err);
}

int receive_check4(PGconn *conn, const struct package_info *info,
		   struct check4 *c, struct tmerr *err)
{
	const struct manifest *m = &info->m;
	char seqs[24];
	const char *v[3] = { m->sender, m->id, seqs };
	PGresult *r;

	memset(c, 0, sizeof(*c));
	snprintf(seqs, sizeof(seqs), "%lld", m->sequence);
	r = pgx_query(conn, "SELECT state, sha256, sequence, held_path, coalesce(outcome, ''), "
			"coalesce(receipt_id, ''), coalesce(records_loaded, 0), "
			"coalesce(records_rejected, 0) FROM tmis.package_in "
			"WHERE sender = $1 AND id = $2", 2, v, err, "looking the package up");
	if (!r)
		return -1;
	if (PQntuples(r)) {
		if (strcmp(PQgetvalue(r, 0, 1), info->sha256)) {
			tmerr_set(err, TMERR_INPUT,
				  "check 4 (replay): package id \"%s\" was received before with different content (sequence %lld from %s); refused",
				  m->id, atoll(PQgetvalue(r, 0, 2)), m->sender);
			PQclear(r);
			c->verdict = C4_REFUSED;
			return 0;
		}
		if (strcmp(PQgetvalue(r, 0, 0), "held")) {
			c->verdict = C4_SEEN;
			c->seen = r;
			return 0;
		}
		c->was_held = 1;
		snprintf(c->held_path, sizeof(c->held_path), "%s", PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	r = pgx_query(conn, "SELECT id FROM tmis.package_in WHERE sender = $1 AND sequence = $3 "
			"AND id <> $2", 3, v, err, "looking the sequence up");
	if (!r)
		return -1;
	if (PQntuples(r)) {
		tmerr_set(err, TMERR_INPUT,
			  "check 4 (sequence): sequence %lld from %s was already used by package \"%s\"; refused",
			  m->sequence, m->sender, PQgetvalue(r, 0, 0));
		PQclear(r);
		c->verdict = C4_REFUSED;
		return 0;
	}
	PQclear(r);
	if (pgx_query_ll(conn, "SELECT coalesce(max(sequence), 0) + 1 FROM tmis.package_in "
			 "WHERE sender = $1 AND state <> 'held'", 1, v, &c->expected, err,
			 "reading the sender's stream"))
		return -1;
	if (m->sequence < c->expected) {
		tmerr_set(err, TMERR_INPUT,
			  "check 4 (sequence): sequence %lld from %s is behind the stream, which expects %lld next; refused",
			  m->sequence, m->sender, c->expected);
		c->verdict = C4_REFUSED;
		return 0;
	}
	c->verdict = m->sequence > c->expected ? C4_GAP : C4_NEW;
	return 0;
}

int receive_package(PGconn *conn, const struct gw_home *h, const char *path,
		    const struct receive_opts *o, struct receive_result *res,
		    struct tmerr *err)
{
	const struct manifest *m = &res->info.m;
	char xdir[4096] = "", rdir[4096] = "", rejfile[4200], prov[3], seqs[24],
	     held[4200] = "", ldid[24], nloaded[24], nrej[24];
	const char **files = NULL, **cats = NULL;
	const char *v[12];
	struct load_opts lo;
	struct package_out po;
	struct xlog_entry e;
	PGresult *r = NULL;
	int rc = -1, loaded_ok = 0, refused_check = 1;
	struct check4 c4 = { 0 };

	memset(res, 0, sizeof(*res));
	manifest_init(&res->info.m);
	res->state = "refused";
	res->claimed_sender = o->expect_sender;
	res->claimed_id = o->expect_id;
	tmerr_clear(err);

	/* a local mistake (a mistyped path) is not a received package */
	if (access(path, R_OK))
		return tmerr_set(err, TMERR_USAGE, "cannot read \"%s\": %s", path,
				 strerror(errno));
	/* checks 1-3, into a private work directory */
	if (work_dir(h, xdir, sizeof(xdir), err))
		goto out;
	snprintf(rejfile, sizeof(rejfile), "%s/rejects list.csv", xdir);
	{
		char pdir[4200];

		snprintf(pdir, sizeof(pdir), "%s/p", xdir);
		if (package_verify(h, path, NULL, pdir, &res->info, err))
			goto refused;
		res->verified = 1;
		snprintf(xdir + strlen(xdir), sizeof(xdir) - strlen(xdir), "/p");
	}
	if (o->expect_sender && strcmp(m->sender, o->expect_sender)) {
		tmerr_set(err, TMERR_INPUT,
			  "check 2 (sender): the package was uploaded with the token of \"%s\" but is sent by \"%s\"",
			  o->expect_sender, m->sender);
		goto refused;
	}
	if (o->expect_id && strcmp(m->id, o->expect_id)) {
		tmerr_set(err, TMERR_INPUT,
			  "check 2 (id): the upload named package \"%.64s\" but its manifest says \"%s\"",
			  o->expect_id, m->id);
		goto refused;
	}
	if (o->on_verified)
		o->on_verified(o->arg, &res->info);
	if (strcmp(m->kind, "full") && strcmp(m->kind, "delta")) {
		tmerr_set(err, TMERR_INPUT,
			  "check 4 (kind): a package of kind \"%s\" is not loaded here%s",
			  m->kind, !strcmp(m->kind, "receipt") ?
			  " (read receipts with \"tmisgw receipt show\")" : "");
		goto refused;
	}
	for (size_t i = 0; i < m->nfiles; i++)
		if (!defs_category(o->defs, m->files[i].category)) {
			tmerr_set(err, TMERR_INPUT,
				  "check 5 (schema): file \"%s\" has category \"%s\", which the schema does not define",
				  m->files[i].name, m->files[i].category);
			goto refused;
		}
	for (size_t i = 0; i < m->nfiles; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->files[i].category, m->files[j].category)) {
				tmerr_set(err, TMERR_INPUT,
					  "check 4 (files): \"%s\" and \"%s\" are both of category \"%s\"; a package holds one file per category",
					  m->files[j].name, m->files[i].name,
					  m->files[i].category);
				goto refused;
			}

	/* check 4, serialised per sender until commit */
	snprintf(seqs, sizeof(seqs), "%lld", m->sequence);
	v[0] = m->sender;
	v[1] = m->id;
	v[2] = seqs;
	if (pgx_exec(conn, "BEGIN", err, "starting the package transaction"))
		goto out;
	r = pgx_query(conn, "SELECT pg_advisory_xact_lock(hashtext('tmisgw package_in ' || $1))",
		  1, v, err, "locking the sender's stream");
	if (!r)
		goto out;
	PQclear(r);
	r = NULL;
	if (receive_check4(conn, &res->info, &c4, err))
		goto out;
	if (c4.verdict == C4_REFUSED)
		goto refused;
	if (c4.verdict == C4_SEEN) {
		rc = duplicate(conn, h, res, c4.seen, err);
		PQclear(c4.seen);
		goto out;
	}
	res->expected = c4.expected;
	snprintf(nloaded, sizeof(nloaded), "%llu", res->info.bytes);
	v[3] = m->recipient;
	v[4] = m->kind;
	v[5] = res->info.sha256;
	v[6] = nloaded;
	v[7] = res->info.signer_fpr;
	if (c4.verdict == C4_GAP) {
		/* a gap: keep it until the ones before it have arrived */
		char msg[160];

		res->state = "held";
		if (!c4.was_held) {
			if ((size_t)snprintf(held, sizeof(held), "%s/held", h->inbox) >= sizeof(held) ||
			    (mkdir(held, 0700) && errno != EEXIST)) {
				tmerr_set(err, TMERR_SYS, "cannot make \"%s\": %s", held,
					  strerror(errno));
				goto out;
			}
			snprintf(held + strlen(held), sizeof(held) - strlen(held),
				 "/%s-%lld-%s.tmx", m->sender, m->sequence, m->id);
			if (copy_file(path, held, err))
				goto out;
			v[8] = held;
			r = pgx_query(conn, "INSERT INTO tmis.package_in (sender, id, sequence, "
					"recipient, kind, sha256, bytes, signer_fpr, state, held_path) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'held', $9)",
				  9, v, err, "recording the held package");
			if (!r)
				goto out;
			PQclear(r);
			r = NULL;
		}
		snprintf(msg, sizeof(msg),
			 "sequence gap: sequence %lld arrived while %lld is expected next; held",
			 m->sequence, c4.expected);
		xlog_entry_received(&e, "package", &res->info);
		e.outcome = "held";
		e.error = msg;
		if (xlog_append(conn, &e, NULL, err) ||
		    pgx_exec(conn, "COMMIT", err, "committing the held package"))
			goto out;
		*held = '\0';
		rc = 0;
		goto out;
	}

	/* check 5: load, in this transaction; a refusal rolls back to here */
	refused_check = 0;
	files = calloc(m->nfiles + 1, sizeof(*files));
	cats = calloc(m->nfiles + 1, sizeof(*cats));
	if (!files || !cats) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		char *p;

		if (asprintf(&p, "%s/%s", xdir, m->files[i].name) < 0) {
			tmerr_set(err, TMERR_SYS, "out of memory");
			goto out;
		}
		files[i] = p;
		cats[i] = m->files[i].category;
	}
	memset(&lo, 0, sizeof(lo));
	lo.defs = o->defs;
	lo.max_reject_rate = o->max_reject_rate;
	lo.delta = !strcmp(m->kind, "delta");
	lo.progress = o->progress;
	lo.nfiles = m->nfiles;
	lo.files = files;
	lo.categories = cats;
	lo.reject_file = rejfile;
	export_scope(m->sender, prov);
	lo.scope_prov = *prov ? prov : NULL;
	lo.external_txn = 1;
	if (pgx_exec(conn, "SAVEPOINT tmisgw_load", err, "starting the load"))
		goto out;
	if (m->nfiles && load_files(conn, &lo, &res->load, err)) {
		struct tmerr why = *err;

		if (why.code == TMERR_DB || why.code == TMERR_SYS) {
			/* not the package's fault: nothing recorded, retry later */
			res->state = "failed";
			log_refusal(conn, path, res, "failed", &why, err);
			goto out;
		}
		/* check 5 refused the package (reject rate, unreadable rows):
		 * it is answered, nothing loaded */
		if (pgx_exec(conn, "ROLLBACK TO SAVEPOINT tmisgw_load", err,
			    "rolling the load back"))
			goto out;
		*err = why;
		res->state = "rejected";
		snprintf(res->outcome, sizeof(res->outcome), "rejected");
	} else {
		loaded_ok = 1;
		res->state = "loaded";
		if (m->nfiles && name_files(conn, xdir, path, res, err))
			goto out;
		snprintf(res->outcome, sizeof(res->outcome), "%s",
			 res->load.total.rejected ? "accepted-with-rejects" : "accepted");
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		struct mcount c;

		file_counts(o, &m->files[i], &res->load, loaded_ok, &c);
		res->received += c.received;
		res->loaded += c.loaded;
		res->rejected += c.rejected;
	}

	/* the receipt, then the package's row and log entries: all or nothing */
	if ((size_t)snprintf(rdir, sizeof(rdir), "%.4000s/../r", xdir) >= sizeof(rdir) ||
	    mkdir(rdir, 0700)) {
		tmerr_set(err, TMERR_SYS, "cannot make \"%s\": %s", rdir, strerror(errno));
		*rdir = '\0';
		goto out;
	}
	{
		struct tmerr why = *err;

		tmerr_clear(err);
		if (make_receipt(h, o, res, xdir, rejfile, rdir,
				 loaded_ok, &po, err))
			goto out;
		if (!loaded_ok)
			*err = why;
	}
	snprintf(ldid, sizeof(ldid), "%lld", res->load.load_id);
	snprintf(nrej, sizeof(nrej), "%lld", res->rejected);
	{
		char nl[24];

		snprintf(nl, sizeof(nl), "%lld", res->loaded);
		v[8] = res->state;
		v[9] = res->outcome;
		v[10] = nl;
		v[11] = nrej;
		{
			const char *w[16];

			memcpy(w, v, sizeof(v));
			w[12] = loaded_ok && res->load.load_id ? ldid : NULL;
			w[13] = res->receipt_id;
			w[14] = po.sha256;
			w[15] = loaded_ok ? NULL : err->msg;
			r = pgx_query(conn,
				  c4.was_held ?
				  "UPDATE tmis.package_in SET state = $9, outcome = $10, "
				  "records_loaded = $11, records_rejected = $12, load_id = $13, "
				  "receipt_id = $14, receipt_sha256 = $15, error = $16, "
				  "finished_at = now(), held_path = NULL WHERE sender = $1 AND id = $2 "
				  "AND sequence = $3 AND recipient = $4 AND kind = $5 AND sha256 = $6 "
				  "AND bytes = $7 AND signer_fpr = $8" :
				  "INSERT INTO tmis.package_in (sender, id, sequence, recipient, kind, "
				  "sha256, bytes, signer_fpr, state, outcome, records_loaded, "
				  "records_rejected, load_id, receipt_id, receipt_sha256, error, "
				  "finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
				  "$12, $13, $14, $15, $16, now())",
				  16, w, err, "recording the package");
		}
		if (!r)
			goto out;
		PQclear(r);
		r = NULL;
	}
	if (store_receipt(conn, po.path, m->sender, m->id, err))
		goto out;
	xlog_entry_received(&e, "package", &res->info);
	e.loaded = res->loaded;
	e.rejected = res->rejected;
	e.outcome = res->outcome;
	e.error = loaded_ok ? NULL : err->msg;
	{
		struct tmerr why = *err;

		if (xlog_append(conn, &e, NULL, err))
			goto out;
		xlog_entry_init(&e);
		e.direction = "out";
		e.event = "receipt";
		e.partner = m->sender;
		e.package_id = res->receipt_id;
		e.sequence = m->sequence;
		e.kind = "receipt";
		e.bytes = (long long)po.bytes;
		e.sha256 = po.sha256;
		e.outcome = res->outcome;
		if (xlog_append(conn, &e, NULL, err) ||
		    pgx_exec(conn, "COMMIT", err, "committing the package"))
			goto out;
		*err = why;
	}
	/* committed: the receipt goes to the outbox (a resend restores it) */
	if (outbox_receipt(h, res, res->receipt, sizeof(res->receipt)) ||
	    rename(po.path, res->receipt)) {
		tmerr_set(err, TMERR_SYS, "cannot put the receipt into \"%s\": %s",
			  h->outbox, strerror(errno));
		*res->receipt = '\0';
		goto out;
	}
	if (c4.was_held && *c4.held_path)
		unlink(c4.held_path);
	rc = loaded_ok ? 0 : -1;
	goto out;

refused:
	if (refused_check) {
		struct tmerr why = *err;

		log_refusal(conn, path, res, "refused", &why, err);
	}
out:
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		pgx_rollback(conn);
	PQclear(r);
	if (*held)
		unlink(held);
	if (files)
		for (size_t i = 0; i < m->nfiles; i++)
			free((char *)files[i]);
	free(files);
	free(cats);
	if (*xdir) {
		char *slash = strrchr(xdir, '/');

		/* xdir may end in "/p": remove the whole work directory */
		if (slash && !strcmp(slash, "/p"))
			*slash = '\0';
		home_rm_tree(xdir);
	}
	return rc;
}

void receive_result_free(struct receive_result *res)
{
	if (res->verified)
		package_info_free(&res->info);
	else
		manifest_free(&res->info.m);
	res->verified = 0;
}

int receive_next_held(PGconn *conn, const char *sender, char *out,
		      size_t outsz, struct tmerr *err)
{
	const char *v[1] = { sender };
	PGresult *r;
	int found = 0;

	r = pgx_query(conn, "SELECT held_path FROM tmis.package_in h WHERE sender = $1 "
			"AND state = 'held' AND sequence = (SELECT coalesce(max(sequence), 0) + 1 "
			"FROM tmis.package_in WHERE sender = $1 AND state <> 'held')",
		  1, v, err, "looking for held packages");
	if (!r)
		return -1;
	if (PQntuples(r) && !PQgetisnull(r, 0, 0)) {
		snprintf(out, outsz, "%s", PQgetvalue(r, 0, 0));
		found = 1;
	}
	PQclear(r);
	return found;
}
