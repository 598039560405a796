#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gpgme.h>
#include <libpq-fe.h>
#include <libxml/parser.h>
#include <microhttpd.h>

#include "../etl/audit.h"
#include "../etl/buf.h"
#include "../etl/defs.h"
#include "../etl/home.h"
#include "../etl/receive.h"
#include "../etl/sha256.h"
#include "../etl/xlog.h"
#include "../etl/xprofile.h"
#include "server.h"

#define POOL_MAX 64
#define JSON_CAP (1 << 20)
#define REFUSED_LOG_PER_MIN 60

/* ---- the server's state -------------------------------------------------------- */

struct server {
	const struct srvconf *cf;
	struct gw_home home;
	struct defs *defs;
	char uploads[4200];         /* DIR/inbox/uploads: complete packages */
	volatile sig_atomic_t stop;
	pthread_mutex_t mu;         /* guards everything below */
	pthread_cond_t wake;        /* a new upload: wake a worker */
	PGconn *pool[POOL_MAX];
	int npool;
	unsigned nconn;             /* request connections, idle or in use */
	pthread_cond_t freed;       /* one came back (or went) */
	unsigned long long bytes_in, http[6], refused[5];
	time_t refused_minute;
	unsigned refused_logged;
	double proc_seconds;
	unsigned long long proc_count;
};

enum { R401, R403, R413, R429, R400 };
static const char *const refused_names[] = { "unauthenticated", "forbidden",
					     "too_large", "busy", "bad_request" };

static void db_gone(struct server *s);

/*
 * A connection for a request: an idle one, or a new one while fewer than
 * threads + 2 exist (so a flood cannot exhaust the database's connection
 * slots); at the cap, wait up to 10 s for one to come back. NULL: answer 503.
 */
static PGconn *db_get(struct server *s)
{
	PGconn *c = NULL;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	while (!s->npool && s->nconn >= s->cf->threads + 2)
		if (pthread_cond_timedwait(&s->freed, &s->mu, &until)) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
	if (s->npool)
		c = s->pool[--s->npool];
	else
		s->nconn++;
	pthread_mutex_unlock(&s->mu);
	if (c && PQstatus(c) != CONNECTION_OK) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			db_gone(s);
			return NULL;
		}
	}
	if (!c) {
		c = PQconnectdb(s->cf->db);
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			db_gone(s);
			return NULL;
		}
		PQsetClientEncoding(c, "UTF8");
	}
	return c;
}

/* One connection fewer exists: let a waiting request make its own. */
static void db_gone(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->nconn--;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->mu);
}

static void db_put(struct server *s, PGconn *c)
{
	if (!c)
		return;
	if (PQtransactionStatus(c) != PQTRANS_IDLE || PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		db_gone(s);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->npool < POOL_MAX) {
		s->pool[s->npool++] = c;
		c = NULL;
	} else {
		s->nconn--;
	}
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->mu);
	PQfinish(c);
}

static void count(struct server *s, unsigned long long *v, unsigned long long n)
{
	pthread_mutex_lock(&s->mu);
	*v += n;
	pthread_mutex_unlock(&s->mu);
}

/* ---- responses ----------------------------------------------------------------- */

struct req {
	int route;
	char who[16];              /* the partner, "operator", or "" */
	/* upload */
	int fd;
	char part[4300];
	struct sha256 sha;
	int hash_from_start;
	unsigned long long offset, total, got;
	char want_sha[65];
	char pkgid[80];
	int failed;                /* a write failed: answer 500 at the end */
};

static enum MHD_Result send_buf(struct server *s, struct MHD_Connection *c,
				unsigned code, const char *type, const char *body,
				size_t n)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(s, &s->http[code / 100 <= 5 ? code / 100 : 0], 1);
	return rc;
}

static enum MHD_Result send_json(struct server *s, struct MHD_Connection *c,
				 unsigned code, const struct buf *b)
{
	return send_buf(s, c, code, "application/json", b->ptr, b->len);
}

/* {"error": ..., "detail": ...} with the status */
static enum MHD_Result send_error(struct server *s, struct MHD_Connection *c,
				  unsigned code, const char *error,
				  const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error(struct server *s, struct MHD_Connection *c,
				  unsigned code, const char *error,
				  const char *fmt, ...)
{
	struct buf b = BUF_INIT(8192);
	char detail[600];
	va_list ap;
	enum MHD_Result rc;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	buf_addstr(&b, "{\"error\": ");
	buf_add_json(&b, error, strlen(error));
	buf_addstr(&b, ", \"detail\": ");
	buf_add_json(&b, detail, strlen(detail));
	buf_addstr(&b, "}\n");
	rc = send_json(s, c, code, &b);
	buf_release(&b);
	return rc;
}

static void client_ip(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

/*
 * A refused request: counted, and logged in the exchange log unless more
 * than REFUSED_LOG_PER_MIN were logged this minute (a flood must not fill
 * the log; the metrics still count every one).
 */
static enum MHD_Result refuse(struct server *s, struct MHD_Connection *c,
			      int why, unsigned code, const char *who,
			      const char *url, const char *error, const char *detail)
{
	time_t now = time(NULL);
	int log = 0;

	pthread_mutex_lock(&s->mu);
	s->refused[why]++;
	if (now / 60 != s->refused_minute) {
		s->refused_minute = now / 60;
		s->refused_logged = 0;
	}
	if (s->refused_logged < REFUSED_LOG_PER_MIN) {
		s->refused_logged++;
		log = 1;
	}
	pthread_mutex_unlock(&s->mu);
	if (log) {
		PGconn *db = db_get(s);
		struct xlog_entry e;
		struct tmerr err;
		char msg[400], ip[64];

		client_ip(c, ip, sizeof(ip));
		snprintf(msg, sizeof(msg), "%u %s: %s (%.100s from %s)", code, error,
			 detail, url, ip);
		xlog_entry_init(&e);
		e.direction = "in";
		e.event = "request";
		e.partner = who && *who ? who : NULL;
		e.outcome = "refused";
		e.error = msg;
		tmerr_clear(&err);
		if (db)
			xlog_append(db, &e, NULL, &err);
		db_put(s, db);
	}
	return send_error(s, c, code, error, "%s", detail);
}

/* ---- authentication ------------------------------------------------------------ */

static const char *bearer(struct MHD_Connection *c, size_t *n)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	*n = strlen(h);
	return h;
}

/* Who is asking: "" for nobody known. The browser page may carry the
 * operator's token as a cookie or a token= parameter instead. */
static void identify(struct server *s, struct MHD_Connection *c, int page,
		     char who[16])
{
	size_t n = 0;
	const char *t = bearer(c, &n), *w;

	if (!t && page) {
		t = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "tmisgw_token");
		if (!t)
			t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
		n = t ? strlen(t) : 0;
	}
	w = t ? srvconf_who(s->cf, t, n) : NULL;
	snprintf(who, 16, "%s", w ? w : "");
}

/* ---- routes ---------------------------------------------------------------------- */

enum {
	RT_NONE, RT_HEALTH, RT_METRICS, RT_UPLOAD, RT_UPLOAD_STATE, RT_PKG,
	RT_RECEIPT, RT_EXPORT, RT_AUDIT_JSON, RT_AUDIT_PAGE
};

/* /v1/packages/{id}[/receipt]: id into out */
static int pkg_path(const char *url, char *out, size_t n, int *receipt)
{
	const char *p = url + strlen("/v1/packages/");
	size_t l = strcspn(p, "/");

	if (!l || l >= n || l > 64)
		return -1;
	memcpy(out, p, l);
	out[l] = '\0';
	if (strspn(out, "0123456789abcdefABCDEF-") != l)
		return -1;
	*receipt = !strcmp(p + l, "/receipt");
	return p[l] && !*receipt ? -1 : 0;
}

static int route(const char *method, const char *url)
{
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

	if (get && !strcmp(url, "/healthz"))
		return RT_HEALTH;
	if (get && !strcmp(url, "/metrics"))
		return RT_METRICS;
	if (!strcmp(method, "POST") && !strcmp(url, "/v1/packages"))
		return RT_UPLOAD;
	if (get && !strncmp(url, "/v1/uploads/", 12))
		return RT_UPLOAD_STATE;
	if (get && !strncmp(url, "/v1/packages/", 13))
		return RT_PKG;
	if (get && !strcmp(url, "/v1/exports"))
		return RT_EXPORT;
	if (get && !strcmp(url, "/v1/audit"))
		return RT_AUDIT_JSON;
	if (get && (!strcmp(url, "/audit") || !strcmp(url, "/audit/")))
		return RT_AUDIT_PAGE;
	return RT_NONE;
}

/* ---- /healthz and /metrics ------------------------------------------------------ */

static enum MHD_Result health(struct server *s, struct MHD_Connection *c)
{
	PGconn *db = db_get(s);
	PGresult *r = db ? PQexec(db, "SELECT 1") : NULL;
	int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;

	PQclear(r);
	db_put(s, db);
	if (!ok)
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	return send_buf(s, c, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void prom_rows(struct buf *b, PGconn *db, const char *sql,
		      const char *metric, const char *l1, const char *l2)
{
	PGresult *r = PQexec(db, sql);

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		for (int i = 0; i < PQntuples(r); i++) {
			buf_addf(b, "%s{%s=\"%s\"", metric, l1, PQgetvalue(r, i, 0));
			if (l2)
				buf_addf(b, ",%s=\"%s\"", l2, PQgetvalue(r, i, 1));
			buf_addf(b, "} %s\n", PQgetvalue(r, i, l2 ? 2 : 1));
		}
	PQclear(r);
}

static enum MHD_Result metrics(struct server *s, struct MHD_Connection *c)
{
	struct buf b = BUF_INIT(JSON_CAP);
	PGconn *db = db_get(s);
	unsigned long long http[6], refused[5], bytes, n;
	double secs;
	enum MHD_Result rc;

	pthread_mutex_lock(&s->mu);
	memcpy(http, s->http, sizeof(http));
	memcpy(refused, s->refused, sizeof(refused));
	bytes = s->bytes_in;
	secs = s->proc_seconds;
	n = s->proc_count;
	pthread_mutex_unlock(&s->mu);
	buf_addstr(&b, "# HELP tmisgw_packages Packages uploaded to this gateway, by partner and state.\n"
		       "# TYPE tmisgw_packages gauge\n");
	if (db)
		prom_rows(&b, db, "SELECT partner, state, count(*) FROM tmis.upload "
				  "GROUP BY 1, 2 ORDER BY 1, 2", "tmisgw_packages", "partner", "state");
	buf_addstr(&b, "# HELP tmisgw_package_bytes Bytes of the packages uploaded, by partner.\n"
		       "# TYPE tmisgw_package_bytes gauge\n");
	if (db)
		prom_rows(&b, db, "SELECT partner, sum(bytes) FROM tmis.upload GROUP BY 1 ORDER BY 1",
			  "tmisgw_package_bytes", "partner", NULL);
	buf_addstr(&b, "# HELP tmisgw_rows Rows of received packages, by partner and fate.\n"
		       "# TYPE tmisgw_rows gauge\n");
	if (db) {
		prom_rows(&b, db, "SELECT sender, 'loaded', coalesce(sum(records_loaded), 0) "
				  "FROM tmis.package_in GROUP BY 1 ORDER BY 1",
			  "tmisgw_rows", "partner", "fate");
		prom_rows(&b, db, "SELECT sender, 'rejected', coalesce(sum(records_rejected), 0) "
				  "FROM tmis.package_in GROUP BY 1 ORDER BY 1",
			  "tmisgw_rows", "partner", "fate");
	}
	buf_addf(&b, "# HELP tmisgw_upload_bytes_total Request body bytes received by this process.\n"
		     "# TYPE tmisgw_upload_bytes_total counter\ntmisgw_upload_bytes_total %llu\n",
		 bytes);
	buf_addf(&b, "# HELP tmisgw_package_seconds Time workers of this process spent per package.\n"
		     "# TYPE tmisgw_package_seconds summary\ntmisgw_package_seconds_sum %.3f\n"
		     "tmisgw_package_seconds_count %llu\n", secs, n);
	buf_addstr(&b, "# HELP tmisgw_http_responses_total Responses of this process by status class.\n"
		       "# TYPE tmisgw_http_responses_total counter\n");
	for (int i = 1; i <= 5; i++)
		buf_addf(&b, "tmisgw_http_responses_total{class=\"%dxx\"} %llu\n", i, http[i]);
	buf_addstr(&b, "# HELP tmisgw_refused_requests_total Requests refused, by reason.\n"
		       "# TYPE tmisgw_refused_requests_total counter\n");
	for (int i = 0; i < 5; i++)
		buf_addf(&b, "tmisgw_refused_requests_total{reason=\"%s\"} %llu\n",
			 refused_names[i], refused[i]);
	buf_addf(&b, "# HELP tmisgw_up The database answers.\n# TYPE tmisgw_up gauge\ntmisgw_up %d\n",
		 db ? 1 : 0);
	db_put(s, db);
	rc = send_buf(s, c, 200, "text/plain; version=0.0.4; charset=utf-8", b.ptr, b.len);
	buf_release(&b);
	return rc;
}

/* ---- package state and receipts ------------------------------------------------------ */

static enum MHD_Result pkg_state(struct server *s, struct MHD_Connection *c,
				 const struct req *q, const char *id)
{
	const char *partner = strcmp(q->who, "operator") ? q->who :
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "partner");
	const char *v[2] = { partner ? partner : "", id };
	struct buf b = BUF_INIT(JSON_CAP);
	PGconn *db = db_get(s);
	PGresult *r;
	enum MHD_Result rc;

	if (!db)
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	r = PQexecParams(db,
			 "SELECT u.state, coalesce(u.outcome, p.outcome), coalesce(u.error, p.error), "
			 "u.bytes, u.sha256, to_char(u.received_at AT TIME ZONE 'UTC', "
			 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), p.sequence, p.records_loaded, "
			 "p.records_rejected, u.partner, p.receipt_id FROM tmis.upload u "
			 "LEFT JOIN tmis.package_in p ON p.sender = u.partner AND p.id = u.package_id "
			 "WHERE ($1 = '' OR u.partner = $1) AND u.package_id = $2 "
			 "ORDER BY u.id DESC LIMIT 1", 2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		db_put(s, db);
		return send_error(s, c, 503, "unavailable", "the database failed");
	}
	if (!PQntuples(r)) {
		PQclear(r);
		db_put(s, db);
		return send_error(s, c, 404, "not found", "no package \"%s\" was uploaded by %s",
				  id, *v[0] ? v[0] : "anyone");
	}
	buf_addstr(&b, "{\"id\": ");
	buf_add_json(&b, id, strlen(id));
	buf_addstr(&b, ", \"partner\": ");
	buf_add_json(&b, PQgetvalue(r, 0, 9), (size_t)PQgetlength(r, 0, 9));
	buf_addstr(&b, ", \"state\": ");
	buf_add_json(&b, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	buf_addstr(&b, ", \"outcome\": ");
	buf_add_json(&b, PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1),
		     (size_t)PQgetlength(r, 0, 1));
	buf_addstr(&b, ", \"error\": ");
	buf_add_json(&b, PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
		     (size_t)PQgetlength(r, 0, 2));
	buf_addf(&b, ", \"bytes\": %s, \"sha256\": \"%s\", \"received_at\": \"%s\"",
		 PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5));
	buf_addf(&b, ", \"sequence\": %s, \"records_loaded\": %s, \"records_rejected\": %s",
		 PQgetisnull(r, 0, 6) ? "null" : PQgetvalue(r, 0, 6),
		 PQgetisnull(r, 0, 7) ? "null" : PQgetvalue(r, 0, 7),
		 PQgetisnull(r, 0, 8) ? "null" : PQgetvalue(r, 0, 8));
	buf_addf(&b, ", \"receipt\": %s}\n", PQgetisnull(r, 0, 10) ? "false" : "true");
	PQclear(r);
	db_put(s, db);
	rc = send_json(s, c, 200, &b);
	buf_release(&b);
	return rc;
}

/* Serve the file at path (unlinked once open) as a package download. */
static enum MHD_Result send_file(struct server *s, struct MHD_Connection *c,
				 const char *path, const char *name)
{
	struct MHD_Response *r;
	struct stat st;
	char disp[300];
	enum MHD_Result rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	unlink(path);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return send_error(s, c, 500, "internal", "cannot read the file made");
	}
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, "Content-Disposition", disp);
	rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	count(s, &s->http[2], 1);
	return rc;
}

static enum MHD_Result receipt(struct server *s, struct MHD_Connection *c,
			       const struct req *q, const char *id)
{
	char tmp[4300], name[200];
	struct tmerr err;
	PGconn *db;
	int rc;

	if (!strcmp(q->who, "operator"))
		return send_error(s, c, 403, "forbidden", "receipts go to the package's sender");
	db = db_get(s);
	if (!db)
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	snprintf(tmp, sizeof(tmp), "%s/rcpt-%lx-%lx.part", s->home.spool,
		 (unsigned long)pthread_self(), (unsigned long)time(NULL));
	tmerr_clear(&err);
	rc = receive_fetch_receipt(db, q->who, id, tmp, &err);
	db_put(s, db);
	if (rc) {
		unlink(tmp);
		if (err.code == TMERR_INPUT)
			return send_error(s, c, 404, "not found",
					  "no receipt for package \"%s\" of %s (not processed yet, or unknown)",
					  id, q->who);
		return send_error(s, c, 503, "unavailable", "%s", err.msg);
	}
	snprintf(name, sizeof(name), "receipt-%s.tmx", id);
	return send_file(s, c, tmp, name);
}

/* ---- uploads --------------------------------------------------------------------- */

static int hex64(const char *v)
{
	return v && strlen(v) == 64 && strspn(v, "0123456789abcdef") == 64;
}

static int num(const char *v, unsigned long long *out)
{
	char *end;

	if (!v || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -1 : 0;
}

static void part_path(const struct server *s, const char *who, const char *sha,
		      char *out, size_t n)
{
	snprintf(out, n, "%s/up-%s-%s.part", s->home.spool, who, sha);
}

/* The state of an upload already complete, or NULL (caller frees). */
static char *upload_known(PGconn *db, const char *who, const char *sha,
			  char *id_out, size_t idn)
{
	const char *v[2] = { who, sha };
	PGresult *r = PQexecParams(db, "SELECT state, package_id FROM tmis.upload "
				       "WHERE partner = $1 AND sha256 = $2",
				   2, NULL, v, NULL, NULL, 0);
	char *st = NULL;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r)) {
		st = strdup(PQgetvalue(r, 0, 0));
		snprintf(id_out, idn, "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return st;
}

static enum MHD_Result state_json(struct server *s, struct MHD_Connection *c,
				  unsigned code, const char *id, const char *state,
				  long long offset)
{
	struct buf b = BUF_INIT(8192);
	enum MHD_Result rc;

	buf_addstr(&b, "{\"id\": ");
	buf_add_json(&b, id, strlen(id));
	buf_addstr(&b, ", \"state\": ");
	buf_add_json(&b, state, strlen(state));
	if (offset >= 0)
		buf_addf(&b, ", \"offset\": %lld", offset);
	buf_addstr(&b, "}\n");
	rc = send_json(s, c, code, &b);
	buf_release(&b);
	return rc;
}

/* GET /v1/uploads/{sha256}: how much of an upload has arrived. */
static enum MHD_Result upload_state(struct server *s, struct MHD_Connection *c,
				    const struct req *q, const char *sha)
{
	char part[4300], id[80] = "", *st;
	struct stat sb;
	PGconn *db;

	if (!hex64(sha))
		return send_error(s, c, 400, "bad request", "want /v1/uploads/SHA256 (64 lowercase hex digits)");
	db = db_get(s);
	if (!db)
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	st = upload_known(db, q->who, sha, id, sizeof(id));
	db_put(s, db);
	if (st) {
		enum MHD_Result rc = state_json(s, c, 200, id, st, -1);

		free(st);
		return rc;
	}
	part_path(s, q->who, sha, part, sizeof(part));
	return state_json(s, c, 200, "", "partial",
			  stat(part, &sb) == 0 ? (long long)sb.st_size : 0);
}

/* First call of POST /v1/packages: check the headers, open the part file. */
static enum MHD_Result upload_begin(struct server *s, struct MHD_Connection *c,
				    struct req *q, int *answered)
{
	const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Package-Id"),
		   *sha = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Upload-Sha256"),
		   *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Upload-Length"),
		   *off = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Upload-Offset"),
		   *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long clen;
	char known_id[80] = "", *st;
	struct stat sb;
	PGconn *db;

	*answered = 1;
	if (!strcmp(q->who, "operator"))
		return refuse(s, c, R403, 403, q->who, "/v1/packages", "forbidden",
			      "the operator token cannot upload packages");
	if (!id || !*id || strlen(id) > 64 || strspn(id, "0123456789abcdef-") != strlen(id) ||
	    !hex64(sha) || num(len, &q->total) || (off && num(off, &q->offset)))
		return refuse(s, c, R400, 400, q->who, "/v1/packages", "bad request",
			      "an upload needs X-Package-Id, X-Upload-Sha256 (64 lowercase hex), X-Upload-Length and optionally X-Upload-Offset");
	if (!cl || num(cl, &clen))
		return refuse(s, c, R400, 411, q->who, "/v1/packages", "length required",
			      "send Content-Length (no chunked uploads)");
	if (q->total > s->cf->max_upload)
		return refuse(s, c, R413, 413, q->who, "/v1/packages", "too large",
			      "the package is larger than this gateway accepts");
	if (q->offset > q->total || clen != q->total - q->offset)
		return refuse(s, c, R400, 400, q->who, "/v1/packages", "bad request",
			      "Content-Length must be X-Upload-Length minus X-Upload-Offset");
	snprintf(q->pkgid, sizeof(q->pkgid), "%s", id);
	snprintf(q->want_sha, sizeof(q->want_sha), "%s", sha);
	db = db_get(s);
	if (!db)
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	st = upload_known(db, q->who, sha, known_id, sizeof(known_id));
	db_put(s, db);
	if (st) {
		/* a resend: the earlier state, nothing stored again */
		enum MHD_Result rc = state_json(s, c, 200, known_id, st, -1);

		free(st);
		return rc;
	}
	part_path(s, q->who, sha, q->part, sizeof(q->part));
	q->fd = open(q->part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (q->fd < 0)
		return send_error(s, c, 500, "internal", "cannot open the spool file");
	if (flock(q->fd, LOCK_EX | LOCK_NB)) {
		close(q->fd);
		q->fd = -1;
		return send_error(s, c, 409, "conflict", "this upload is already in progress");
	}
	if (fstat(q->fd, &sb) || (unsigned long long)sb.st_size != q->offset) {
		long long have = fstat(q->fd, &sb) ? 0 : (long long)sb.st_size;

		close(q->fd);
		q->fd = -1;
		return state_json(s, c, 409, id, "partial", have);
	}
	q->hash_from_start = q->offset == 0;
	sha256_init(&q->sha);
	*answered = 0;
	return MHD_YES;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The body has arrived: fsync, check, move into the inbox, queue. */
static enum MHD_Result upload_end(struct server *s, struct MHD_Connection *c,
				  struct req *q)
{
	char hex[65], dst[4400], id[80] = "", *st;
	const char *v[5];
	char bytes[24];
	PGconn *db;
	PGresult *r;
	int fd = q->fd;

	q->fd = -1;
	if (q->failed || fsync(fd)) {
		close(fd);
		return send_error(s, c, 500, "internal", "cannot write the spool file");
	}
	close(fd);
	if (q->offset + q->got < q->total)
		return state_json(s, c, 409, q->pkgid, "partial", (long long)(q->offset + q->got));
	if (q->hash_from_start)
		sha256_final_hex(&q->sha, hex);
	else if (sha256_file(q->part, hex, NULL))
		return send_error(s, c, 500, "internal", "cannot read the spool file");
	if (strcmp(hex, q->want_sha)) {
		unlink(q->part);
		return refuse(s, c, R400, 400, q->who, "/v1/packages", "bad request",
			      "the body's SHA-256 is not X-Upload-Sha256; send it again from the start");
	}
	snprintf(dst, sizeof(dst), "%s/%s-%s.tmx", s->uploads, q->who, hex);
	if (rename(q->part, dst) || fsync_dir(s->uploads))
		return send_error(s, c, 500, "internal", "cannot move the upload into the inbox");
	db = db_get(s);
	if (!db)
		return send_error(s, c, 503, "unavailable", "the database does not answer; send it again later");
	snprintf(bytes, sizeof(bytes), "%llu", q->total);
	v[0] = q->who;
	v[1] = q->pkgid;
	v[2] = hex;
	v[3] = bytes;
	v[4] = dst;
	r = PQexecParams(db, "INSERT INTO tmis.upload (partner, package_id, sha256, bytes, path) "
			     "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (partner, sha256) DO NOTHING "
			     "RETURNING id", 5, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		db_put(s, db);
		return send_error(s, c, 503, "unavailable", "cannot record the upload; send it again later");
	}
	if (!PQntuples(r)) {
		/* raced with a concurrent identical upload */
		PQclear(r);
		st = upload_known(db, q->who, hex, id, sizeof(id));
		db_put(s, db);
		{
			enum MHD_Result rc = state_json(s, c, 200, id, st ? st : "received", -1);

			free(st);
			return rc;
		}
	}
	PQclear(r);
	{
		struct xlog_entry e;
		struct tmerr err;

		xlog_entry_init(&e);
		e.direction = "in";
		e.event = "upload";
		e.partner = q->who;
		e.package_id = q->pkgid;
		e.bytes = (long long)q->total;
		e.sha256 = hex;
		e.outcome = "received";
		tmerr_clear(&err);
		xlog_append(db, &e, NULL, &err);
	}
	PQclear(PQexec(db, "NOTIFY tmisgw_upload"));
	db_put(s, db);
	pthread_mutex_lock(&s->mu);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->mu);
	return state_json(s, c, 202, q->pkgid, "received", -1);
}

static int num(const char *v, unsigned long long *out);

/* ---- exports and the audit log ------------------------------------------------------ */

/* GET /v1/exports?since=N: the platform's export package (etl/xprofile.c) */
static enum MHD_Result export(struct server *s, struct MHD_Connection *c,
			      const char *platform)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	struct xexport_result res;
	struct xprofile p;
	struct tmerr err;
	unsigned long long since = 0;
	char dir[4300], name[300];
	enum MHD_Result rc;
	PGconn *db;

	if (v && num(v, &since))
		return send_error(s, c, 400, "bad request", "since must be a change number (0, 1, 2 ...)");
	tmerr_clear(&err);
	xprofile_init(&p);
	if (xprofile_load(&p, s->defs, platform, &err)) {
		xprofile_free(&p);
		return refuse(s, c, R403, 403, platform, "/v1/exports", "forbidden",
			      "no export profile for this partner");
	}
	snprintf(dir, sizeof(dir), "%s/exp-XXXXXX", s->home.spool);
	if (!mkdtemp(dir)) {
		xprofile_free(&p);
		return send_error(s, c, 500, "internal", "cannot make a work directory");
	}
	db = db_get(s);
	if (!db) {
		rmdir(dir);
		xprofile_free(&p);
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	}
	memset(&res, 0, sizeof(res));
	if (xprofile_export(db, &s->home, s->defs, &p, (long long)since, dir, &res, &err)) {
		db_put(s, db);
		manifest_free(&res.m);
		xprofile_free(&p);
		rmdir(dir);
		return send_error(s, c, err.code == TMERR_USAGE ? 400 :
				  err.code == TMERR_INPUT ? 409 : 503,
				  err.code == TMERR_USAGE ? "bad request" :
				  err.code == TMERR_INPUT ? "conflict" : "unavailable",
				  "%s", err.msg);
	}
	db_put(s, db);
	snprintf(name, sizeof(name), "%.200s", strrchr(res.pkg.path, '/') ?
		 strrchr(res.pkg.path, '/') + 1 : res.pkg.path);
	rc = send_file(s, c, res.pkg.path, name);
	rmdir(dir);
	manifest_free(&res.m);
	xprofile_free(&p);
	return rc;
}

struct filter_ctx {
	struct audit_filter f;
	struct tmerr err;
	int bad;
};

static enum MHD_Result filter_arg(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	struct filter_ctx *x = cls;

	(void)kind;
	if (!x->bad && audit_filter_set(&x->f, key, value ? value : "", &x->err))
		x->bad = 1;
	return MHD_YES;
}

/* GET /v1/audit (JSON) and GET /audit (the operators' page, etl/audit.c) */
static enum MHD_Result audit(struct server *s, struct MHD_Connection *c, int page)
{
	struct filter_ctx x;
	struct buf b = BUF_INIT(AUDIT_BUF_CAP);
	struct MHD_Response *r;
	enum MHD_Result rc;
	const char *tok;
	PGconn *db;
	int got;
	unsigned code = 200;

	memset(&x, 0, sizeof(x));
	audit_filter_init(&x.f);
	tmerr_clear(&x.err);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, filter_arg, &x);
	if (x.bad)
		return send_error(s, c, 400, "bad request", "%s", x.err.msg);
	db = db_get(s);
	if (!db)
		return send_error(s, c, 503, "unavailable", "the database does not answer");
	got = page ? audit_html(db, &x.f, 0, "/audit", &b, &x.err) :
		     audit_json(db, &x.f, &b, &x.err);
	db_put(s, db);
	if (got < 0) {
		buf_release(&b);
		return send_error(s, c, x.err.code == TMERR_LIMIT ? 413 : 503,
				  x.err.code == TMERR_LIMIT ? "too large" : "unavailable",
				  "%s", x.err.msg);
	}
	if (got == 1)
		code = 404;
	r = MHD_create_response_from_buffer(b.len, b.ptr, MHD_RESPMEM_MUST_COPY);
	buf_release(&b);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", page ? "text/html; charset=utf-8" :
				"application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (page) {
		MHD_add_response_header(r, "Content-Security-Policy",
					"default-src 'none'; style-src 'unsafe-inline'; "
					"img-src data:; form-action 'self'; frame-ancestors 'none'");
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
		tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
		if (tok && strlen(tok) <= SRV_TOKEN_MAX) {
			/* the browser keeps the operator's token for the next pages */
			char cookie[SRV_TOKEN_MAX + 100];

			snprintf(cookie, sizeof(cookie),
				 "tmisgw_token=%s; Path=/audit; HttpOnly; SameSite=Strict%s",
				 tok, *s->cf->tls_cert ? "; Secure" : "");
			MHD_add_response_header(r, "Set-Cookie", cookie);
		}
	}
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(s, &s->http[code / 100], 1);
	return rc;
}

/* ---- the handler -------------------------------------------------------------------- */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *data,
			       size_t *size, void **con_cls)
{
	struct server *s = cls;
	struct req *q = *con_cls;
	char id[80];
	int rcpt, answered;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		q->fd = -1;
		*con_cls = q;
		q->route = route(method, url);
		if (q->route == RT_NONE)
			return send_error(s, c, 404, "not found", "no such endpoint: %s %.200s",
					  method, url);
		if (q->route == RT_HEALTH)
			return health(s, c);
		identify(s, c, q->route == RT_AUDIT_PAGE, q->who);
		if (!*q->who)
			return refuse(s, c, R401, 401, NULL, url, "unauthenticated",
				      "send Authorization: Bearer TOKEN");
		switch (q->route) {
		case RT_METRICS:
		case RT_AUDIT_JSON:
		case RT_AUDIT_PAGE:
			if (strcmp(q->who, "operator"))
				return refuse(s, c, R403, 403, q->who, url, "forbidden",
					      "this endpoint is for the operator");
			if (q->route == RT_METRICS)
				return metrics(s, c);
			return audit(s, c, q->route == RT_AUDIT_PAGE);
		case RT_UPLOAD:
			return upload_begin(s, c, q, &answered) == MHD_NO ? MHD_NO : MHD_YES;
		case RT_UPLOAD_STATE:
			return upload_state(s, c, q, url + strlen("/v1/uploads/"));
		case RT_PKG:
			if (pkg_path(url, id, sizeof(id), &rcpt))
				return send_error(s, c, 404, "not found", "want /v1/packages/ID or /v1/packages/ID/receipt");
			return rcpt ? receipt(s, c, q, id) : pkg_state(s, c, q, id);
		case RT_EXPORT:
			if (!strcmp(q->who, "operator"))
				return refuse(s, c, R403, 403, q->who, url, "forbidden",
					      "exports go to linked platforms");
			return export(s, c, q->who);
		}
		return MHD_NO;
	}
	/* POST /v1/packages: body chunks, then the end */
	if (q->route != RT_UPLOAD || q->fd < 0) {
		*size = 0;
		return MHD_YES;
	}
	if (*size) {
		size_t n = *size;

		if (q->got + n > q->total - q->offset) {
			q->failed = 1;
		} else if (!q->failed) {
			const char *p = data;
			size_t left = n;

			while (left) {
				ssize_t w = write(q->fd, p, left);

				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0) {
					q->failed = 1;
					break;
				}
				p += w;
				left -= (size_t)w;
			}
			if (q->hash_from_start)
				sha256_update(&q->sha, data, n);
			q->got += n;
			count(s, &s->bytes_in, n);
		}
		*size = 0;
		return MHD_YES;
	}
	return upload_end(s, c, q);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!q)
		return;
	if (q->fd >= 0) {
		/* an interrupted upload: what arrived stays for a resume */
		fsync(q->fd);
		close(q->fd);
	}
	free(q);
	*con_cls = NULL;
}

/* ---- workers ------------------------------------------------------------------------ */

struct worker {
	struct server *s;
	pthread_t th;
	int n;
	PGconn *claim;      /* the claim connection: identifies this worker */
	long long upload;   /* the upload being processed */
};

static int wexec(PGconn *db, const char *sql, int n, const char *const *v)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, v, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_TUPLES_OK;

	PQclear(r);
	return ok ? 0 : -1;
}

static void on_verified(void *arg, const struct package_info *info)
{
	struct worker *w = arg;
	char id[24];
	const char *v[1] = { id };

	(void)info;
	snprintf(id, sizeof(id), "%lld", w->upload);
	wexec(w->claim, "UPDATE tmis.upload SET state = 'verified' WHERE id = $1 "
			"AND state = 'loading'", 1, v);
}

/* Claim the oldest upload waiting (or abandoned by a dead worker). */
static int claim(struct worker *w, char *partner, char *pkgid, char *path,
		 size_t pathsz)
{
	PGresult *r;
	int got = 0;

	if (wexec(w->claim, "BEGIN", 0, NULL))
		return -1;
	r = PQexec(w->claim,
		   "SELECT id, partner, package_id, path FROM tmis.upload u "
		   "WHERE state = 'received' OR (state IN ('loading', 'verified') AND NOT EXISTS "
		   "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = u.worker_pid "
		   "AND a.backend_start = u.worker_start)) "
		   "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		PQclear(PQexec(w->claim, "ROLLBACK"));
		return -1;
	}
	if (PQntuples(r)) {
		const char *v[1];

		w->upload = atoll(PQgetvalue(r, 0, 0));
		snprintf(partner, 16, "%s", PQgetvalue(r, 0, 1));
		snprintf(pkgid, 80, "%s", PQgetvalue(r, 0, 2));
		snprintf(path, pathsz, "%s", PQgetvalue(r, 0, 3));
		v[0] = PQgetvalue(r, 0, 0);
		if (wexec(w->claim, "UPDATE tmis.upload SET state = 'loading', started_at = now(), "
				    "attempts = attempts + 1, worker_pid = pg_backend_pid(), "
				    "worker_start = (SELECT backend_start FROM pg_stat_activity "
				    "WHERE pid = pg_backend_pid()) WHERE id = $1", 1, v)) {
			PQclear(r);
			PQclear(PQexec(w->claim, "ROLLBACK"));
			return -1;
		}
		got = 1;
	}
	PQclear(r);
	if (wexec(w->claim, "COMMIT", 0, NULL))
		return -1;
	return got;
}

static void finish(struct worker *w, const char *state, const char *outcome,
		   const char *error)
{
	char id[24];
	const char *v[4] = { id, state, outcome && *outcome ? outcome : NULL, error };

	snprintf(id, sizeof(id), "%lld", w->upload);
	wexec(w->claim, "UPDATE tmis.upload SET state = $2, outcome = $3, error = $4, "
			"finished_at = CASE WHEN $2 IN ('loaded', 'rejected') THEN now() END, "
			"worker_pid = NULL WHERE id = $1", 4, v);
}

/* Uploads of held packages that the receive loop has applied since. */
static void held_done(struct worker *w)
{
	wexec(w->claim, "UPDATE tmis.upload u SET state = p.state, outcome = p.outcome, "
			"finished_at = now() FROM tmis.package_in p WHERE u.state = 'held' "
			"AND u.partner = p.sender AND u.package_id = p.id AND p.state <> 'held'",
	      0, NULL);
}

static void process(struct worker *w, PGconn *work, const char *partner,
		    const char *pkgid, const char *path)
{
	struct server *s = w->s;
	struct receive_opts o = {
		.defs = s->defs, .max_reject_rate = s->cf->max_reject_rate,
		.expect_sender = partner, .expect_id = pkgid,
		.on_verified = on_verified, .arg = w,
	};
	struct receive_result *res = calloc(1, sizeof(*res));
	struct tmerr err;
	struct timespec t0, t1;
	char next[4300], msg[600];
	int rc;

	if (!res)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tmerr_clear(&err);
	rc = receive_package(work, &s->home, path, &o, res, &err);
	tmerr_format(&err, msg, sizeof(msg));
	if (!strcmp(res->state, "failed") || (rc && err.code == TMERR_DB) ||
	    (rc && err.code == TMERR_SYS)) {
		/* not the package's fault: back in the queue, retried */
		finish(w, "received", NULL, msg);
		receive_result_free(res);
		free(res);
		sleep(1);
		return;
	}
	if (!strcmp(res->state, "duplicate")) {
		PGresult *r;
		const char *v[2] = { partner, pkgid };

		r = PQexecParams(work, "SELECT state, outcome FROM tmis.package_in "
				       "WHERE sender = $1 AND id = $2", 2, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r))
			finish(w, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), NULL);
		PQclear(r);
	} else if (!strcmp(res->state, "refused")) {
		finish(w, "rejected", NULL, msg);   /* checks 1-4: no receipt */
	} else {
		finish(w, res->state, res->outcome, rc ? msg : NULL);
	}
	/* a package applied: held ones after it may be due now; their uploads
	 * follow their package_in rows (finish) */
	o.expect_sender = o.expect_id = NULL;
	o.on_verified = NULL;
	while (!strcmp(res->state, "loaded") || !strcmp(res->state, "rejected")) {
		receive_result_free(res);
		if (receive_next_held(work, partner, next, sizeof(next), &err) <= 0)
			break;
		receive_package(work, &s->home, next, &o, res, &err);
	}
	held_done(w);
	receive_result_free(res);
	free(res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_mutex_lock(&s->mu);
	s->proc_seconds += (double)(t1.tv_sec - t0.tv_sec) +
			   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	s->proc_count++;
	pthread_mutex_unlock(&s->mu);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->s;
	PGconn *work = NULL;

	while (!s->stop) {
		char partner[16], pkgid[80], path[4300];
		int got;

		if (!w->claim || PQstatus(w->claim) != CONNECTION_OK) {
			PQfinish(w->claim);
			w->claim = PQconnectdb(s->cf->db);
			if (PQstatus(w->claim) != CONNECTION_OK ||
			    wexec(w->claim, "LISTEN tmisgw_upload", 0, NULL)) {
				PQfinish(w->claim);
				w->claim = NULL;
				sleep(1);
				continue;
			}
		}
		if (!work || PQstatus(work) != CONNECTION_OK) {
			PQfinish(work);
			work = PQconnectdb(s->cf->db);
			if (PQstatus(work) != CONNECTION_OK) {
				PQfinish(work);
				work = NULL;
				sleep(1);
				continue;
			}
			PQsetClientEncoding(work, "UTF8");
		}
		got = claim(w, partner, pkgid, path, sizeof(path));
		if (got < 0) {
			PQreset(w->claim);
			sleep(1);
			continue;
		}
		if (got) {
			process(w, work, partner, pkgid, path);
			continue;
		}
		/* nothing to do: wait for a NOTIFY (or a second) */
		{
			struct pollfd p = { .fd = PQsocket(w->claim), .events = POLLIN };
			PGnotify *nt;

			poll(&p, 1, 1000);
			PQconsumeInput(w->claim);
			while ((nt = PQnotifies(w->claim)))
				PQfreemem(nt);
		}
	}
	PQfinish(work);
	PQfinish(w->claim);
	w->claim = NULL;
	return NULL;
}

/* ---- start and stop ---------------------------------------------------------------------- */

/* The one piece of process state: where SIGINT/SIGTERM raise the stop flag. */
static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_flag)
		*stop_flag = 1;
}

static char *slurp(const char *path, struct tmerr *err)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT(1 << 20);
	char chunk[8192];
	size_t n;

	if (!f) {
		tmerr_set(err, TMERR_USAGE, "cannot read \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n)) {
			fclose(f);
			buf_release(&b);
			tmerr_set(err, TMERR_LIMIT, "\"%s\" is larger than 1 MiB", path);
			return NULL;
		}
	fclose(f);
	return buf_detach(&b, NULL);
}

int server_run(const struct srvconf *cf, struct tmerr *err)
{
	struct server *s = calloc(1, sizeof(*s));
	struct worker *w = NULL;
	struct MHD_Daemon *d = NULL;
	struct sockaddr_storage ss;
	char *cert = NULL, *key = NULL;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct sigaction sa;
	int rc = -1;

	if (!s)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	s->cf = cf;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->freed, NULL);
	gpgme_check_version(NULL);
	xmlInitParser();
	if (home_open(&s->home, cf->home, 0, err) ||
	    defs_load(&s->defs, *cf->mappings ? cf->mappings : NULL, err))
		goto out;
	snprintf(s->uploads, sizeof(s->uploads), "%s/uploads", s->home.inbox);
	if (mkdir(s->uploads, 0700) && errno != EEXIST) {
		tmerr_set(err, TMERR_SYS, "cannot make \"%s\": %s", s->uploads, strerror(errno));
		goto out;
	}
	{
		PGconn *db = db_get(s);

		if (!db) {
			tmerr_set(err, TMERR_DB, "configuration key \"db\": cannot connect to the database");
			goto out;
		}
		db_put(s, db);
	}
	memset(&ss, 0, sizeof(ss));
	if (strchr(cf->host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)cf->port);
		inet_pton(AF_INET6, cf->host, &a->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)cf->port);
		inet_pton(AF_INET, cf->host, &a->sin_addr);
	}
	if (*cf->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			tmerr_set(err, TMERR_USAGE, "configuration key \"tls_cert\": this libmicrohttpd has no TLS");
			goto out;
		}
		cert = slurp(cf->tls_cert, err);
		key = cert ? slurp(cf->tls_key, err) : NULL;
		if (!key)
			goto out;
		flags |= MHD_USE_TLS;
	}
	signal(SIGPIPE, SIG_IGN);
	stop_flag = &s->stop;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	d = MHD_start_daemon(flags, (uint16_t)cf->port, NULL, NULL, handler, s,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_THREAD_POOL_SIZE, cf->threads,
			     MHD_OPTION_CONNECTION_TIMEOUT, cf->timeout,
			     MHD_OPTION_CONNECTION_LIMIT, cf->max_connections,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, cf->per_ip_connections,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
			     MHD_OPTION_NOTIFY_COMPLETED, completed, s,
			     cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_END);
	if (!d) {
		tmerr_set(err, TMERR_SYS, "configuration key \"listen\": cannot listen on %s port %u",
			  cf->host, cf->port);
		goto out;
	}
	w = calloc(cf->workers ? cf->workers : 1, sizeof(*w));
	if (!w) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < cf->workers; i++) {
		w[i].s = s;
		w[i].n = (int)i;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i])) {
			tmerr_set(err, TMERR_SYS, "cannot start worker %u", i);
			s->stop = 1;
			for (unsigned k = 0; k < i; k++)
				pthread_join(w[k].th, NULL);
			goto out;
		}
	}
	fprintf(stderr, "tmisgw serve: listening on %s://%s%s%s:%u as %s, %u worker%s\n",
		cert ? "https" : "http", strchr(cf->host, ':') ? "[" : "", cf->host,
		strchr(cf->host, ':') ? "]" : "", cf->port, s->home.org, cf->workers,
		cf->workers == 1 ? "" : "s");
	while (!s->stop)
		pause();
	fprintf(stderr, "tmisgw serve: stopping\n");
	MHD_stop_daemon(d);
	d = NULL;
	for (unsigned i = 0; i < cf->workers; i++)
		pthread_join(w[i].th, NULL);
	rc = 0;
out:
	if (d)
		MHD_stop_daemon(d);
	stop_flag = NULL;
	free(w);
	free(cert);
	free(key);
	for (int i = 0; i < s->npool; i++)
		PQfinish(s->pool[i]);
	defs_free(s->defs);
	home_close(&s->home);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->freed);
	free(s);
	return rc;
}
