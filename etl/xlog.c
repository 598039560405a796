#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "package.h"
#include "sha256.h"
#include "xlog.h"

void xlog_entry_init(struct xlog_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->sequence = e->bytes = e->loaded = e->rejected = -1;
}

void xlog_entry_received(struct xlog_entry *e, const char *event,
			 const struct package_info *info)
{
	xlog_entry_init(e);
	e->direction = "in";
	e->event = event;
	if (!info)
		return;
	e->partner = info->m.sender;
	e->package_id = info->m.id;
	e->sequence = info->m.sequence;
	e->kind = info->m.kind;
	e->bytes = (long long)info->bytes;
	e->sha256 = info->sha256;
	e->signer_fpr = info->signer_fpr;
}

static int db_error(PGconn *conn, PGresult *r, struct tmerr *err,
		    const char *what)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
	size_t n = strlen(m);

	while (n && m[n - 1] == '\n')
		n--;
	tmerr_set(err, TMERR_DB, "%s failed: %.*s", what, (int)n, m);
	PQclear(r);
	return -1;
}

int xlog_append(PGconn *conn, const struct xlog_entry *e, long long *id,
		struct tmerr *err)
{
	char num[4][24], error[XLOG_ERROR_MAX + 1];
	const long long nums[4] = { e->sequence, e->bytes, e->loaded, e->rejected };
	const char *v[13];
	PGresult *r;

	for (int i = 0; i < 4; i++)
		snprintf(num[i], sizeof(num[i]), "%lld", nums[i]);
	if (e->error)
		str_copy_utf8(error, sizeof(error), e->error, strlen(e->error));
	v[0] = e->direction;
	v[1] = e->event;
	v[2] = e->partner && *e->partner ? e->partner : NULL;
	v[3] = e->package_id && *e->package_id ? e->package_id : NULL;
	v[4] = nums[0] >= 0 ? num[0] : NULL;
	v[5] = e->kind && *e->kind ? e->kind : NULL;
	v[6] = nums[1] >= 0 ? num[1] : NULL;
	v[7] = e->sha256 && *e->sha256 ? e->sha256 : NULL;
	v[8] = e->signer_fpr && *e->signer_fpr ? e->signer_fpr : NULL;
	v[9] = nums[2] >= 0 ? num[2] : NULL;
	v[10] = nums[3] >= 0 ? num[3] : NULL;
	v[11] = e->outcome;
	v[12] = e->error && *e->error ? error : NULL;
	r = PQexecParams(conn,
			 "INSERT INTO tmis.exchange_log (id, at, direction, event, "
			 "partner, package_id, sequence, kind, bytes, sha256, signer_fpr, "
			 "records_loaded, records_rejected, outcome, error, prev_hash, hash) "
			 "VALUES (0, now(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
			 "$12, $13, '', '') RETURNING id",
			 13, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_error(conn, r, err, "writing the exchange log");
	if (id)
		*id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int exec(PGconn *conn, const char *sql, struct tmerr *err)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return db_error(conn, r, err, "reading the exchange log");
	PQclear(r);
	return 0;
}

static void bad(struct xlog_check *c, long long id, const char *why)
{
	if (c->first_bad)
		return;
	c->first_bad = id;
	snprintf(c->why, sizeof(c->why), "%s", why);
}

int xlog_verify(PGconn *conn, struct xlog_check *c, struct tmerr *err)
{
	char prev[65];
	long long want = 1;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	memset(prev, '0', 64);
	prev[64] = '\0';
	if (exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) ||
	    exec(conn, "DECLARE tmisgw_xlog NO SCROLL CURSOR FOR SELECT id, prev_hash, "
		       "hash, tmis.exchange_log_text(e) FROM tmis.exchange_log e "
		       "ORDER BY id", err))
		goto out;
	for (;;) {
		PGresult *r = PQexec(conn, "FETCH 5000 FROM tmisgw_xlog");
		int n;

		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			db_error(conn, r, err, "reading the exchange log");
			goto out;
		}
		n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			long long id = atoll(PQgetvalue(r, i, 0));
			const char *ph = PQgetvalue(r, i, 1), *h = PQgetvalue(r, i, 2);
			char mine[65];
			struct sha256 s;

			sha256_init(&s);
			sha256_update(&s, PQgetvalue(r, i, 3),
				      (size_t)PQgetlength(r, i, 3));
			sha256_final_hex(&s, mine);
			if (id != want)
				bad(c, id, id > want ? "an entry before it is missing (ids must run without a gap)" :
					   "its id repeats or runs backwards");
			if (strcmp(ph, prev))
				bad(c, id, "its prev_hash is not the previous entry's hash (an entry was removed, inserted or changed)");
			if (strcmp(h, mine))
				bad(c, id, "its hash does not match its contents (the entry was changed)");
			snprintf(prev, sizeof(prev), "%s", h);
			want = id + 1;
			c->entries++;
			c->last_id = id;
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	snprintf(c->last_hash, sizeof(c->last_hash), "%s", prev);
	rc = 0;
out:
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}
