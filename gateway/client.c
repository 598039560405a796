#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../etl/buf.h"
#include "../etl/sha256.h"
#include "client.h"

#define RESP_CAP (1 << 20)

/* ---- configuration ----------------------------------------------------------- */

static int loopback_url(const char *u)
{
	const char *h = strstr(u, "://");
	size_t n;

	if (!h)
		return 0;
	h += 3;
	n = strcspn(h, ":/");
	if (*h == '[')
		return !strncmp(h, "[::1]", 5);
	return (n == 9 && !strncmp(h, "localhost", 9)) || !strncmp(h, "127.", 4);
}

int partner_load(const struct gw_home *h, const char *org, struct partner *p,
		 struct tmerr *err)
{
	char key[64], file[4096];
	struct stat st;
	ssize_t n;
	int fd;

	memset(p, 0, sizeof(*p));
	p->retries = 8;
	p->backoff_max = 30;
	if (!home_org_valid(org))
		return tmerr_set(err, TMERR_USAGE, "bad organisation code \"%.20s\"", org);
	snprintf(p->org, sizeof(p->org), "%s", org);
	snprintf(key, sizeof(key), "partner.%s.url", org);
	if (home_config_get(h, key, p->url, sizeof(p->url), err) <= 0)
		return err->code ? -1 :
			tmerr_set(err, TMERR_USAGE,
				  "no \"%s\" in \"%s/config\": the partner's server URL", key, h->dir);
	n = (ssize_t)strlen(p->url);
	while (n && p->url[n - 1] == '/')
		p->url[--n] = '\0';
	if (strncmp(p->url, "https://", 8) &&
	    !(strncmp(p->url, "http://", 7) == 0 && loopback_url(p->url)))
		return tmerr_set(err, TMERR_USAGE,
				 "\"%s\" is \"%s\": use https:// (plain http:// only to loopback)",
				 key, p->url);
	snprintf(key, sizeof(key), "partner.%s.ca", org);
	if (home_config_get(h, key, p->ca, sizeof(p->ca), err) < 0)
		return -1;
	snprintf(key, sizeof(key), "partner.%s.token", org);
	if (home_config_get(h, key, file, sizeof(file), err) <= 0)
		return err->code ? -1 :
			tmerr_set(err, TMERR_USAGE,
				  "no \"%s\" in \"%s/config\": the file holding our token for %s",
				  key, h->dir, org);
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return tmerr_set(err, TMERR_USAGE, "token file \"%s\": %s", file,
				 strerror(errno));
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0600) {
		close(fd);
		return tmerr_set(err, TMERR_USAGE,
				 "token file \"%s\" has mode %04o; it must be 0600", file,
				 (unsigned)(st.st_mode & 07777));
	}
	n = read(fd, p->token, sizeof(p->token) - 1);
	close(fd);
	if (n <= 0)
		return tmerr_set(err, TMERR_USAGE, "token file \"%s\" is empty", file);
	while (n && (p->token[n - 1] == '\n' || p->token[n - 1] == '\r'))
		n--;
	p->token[n] = '\0';
	if (!n || strpbrk(p->token, " \t\r\n"))
		return tmerr_set(err, TMERR_USAGE, "token file \"%s\": want one token", file);
	return 0;
}

int client_package_id(const char *path, char *id, size_t n)
{
	const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *d1 = strchr(b, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
	const char *dot = strrchr(b, '.');
	size_t l;

	if (!d2 || !dot || strcmp(dot, ".tmx"))
		return -1;
	l = (size_t)(dot - d2 - 1);
	if (!l || l >= n || l > 64)
		return -1;
	memcpy(id, d2 + 1, l);
	id[l] = '\0';
	return strspn(id, "0123456789abcdef-") == l ? 0 : -1;
}

/* ---- one request ------------------------------------------------------------------ */

struct body {
	FILE *f;               /* upload source, positioned at the offset */
	unsigned long long left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t want = size * nmemb, n;

	if (want > b->left)
		want = (size_t)b->left;
	n = fread(dst, 1, want, b->f);
	b->left -= n;
	return n;
}

static size_t write_buf(char *src, size_t size, size_t nmemb, void *arg)
{
	return buf_add(arg, src, size * nmemb) ? 0 : size * nmemb;
}

static size_t write_file(char *src, size_t size, size_t nmemb, void *arg)
{
	return fwrite(src, size, nmemb, arg);
}

/* A flat JSON object's string or number field (our server's answers). */
static int json_field(const char *json, const char *key, char *out, size_t n)
{
	char pat[64];
	const char *p, *e;
	size_t l;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p == '"') {
		p++;
		for (e = p; *e && *e != '"'; e++)
			if (*e == '\\' && e[1])
				e++;
	} else {
		e = p + strcspn(p, ",}\n ");
	}
	l = 0;
	for (; p < e && l + 1 < n; p++) {
		if (*p == '\\' && p + 1 < e)
			p++;
		out[l++] = *p;
	}
	out[l] = '\0';
	if (!strcmp(out, "null")) {
		*out = '\0';
		return -1;
	}
	return 0;
}

static void parse_state(const char *json, struct pkg_state *st)
{
	char v[32];

	json_field(json, "id", st->id, sizeof(st->id));
	json_field(json, "state", st->state, sizeof(st->state));
	json_field(json, "outcome", st->outcome, sizeof(st->outcome));
	if (json_field(json, "error", st->error, sizeof(st->error)))
		*st->error = '\0';
	if (!json_field(json, "detail", v, sizeof(v)))
		json_field(json, "detail", st->error, sizeof(st->error));
	st->offset = json_field(json, "offset", v, sizeof(v)) ? -1 : atoll(v);
	st->loaded = json_field(json, "records_loaded", v, sizeof(v)) ? -1 : atoll(v);
	st->rejected = json_field(json, "records_rejected", v, sizeof(v)) ? -1 : atoll(v);
	st->sequence = json_field(json, "sequence", v, sizeof(v)) ? -1 : atoll(v);
}

/*
 * One HTTP request. Returns the curl result; *http the status (0 when no
 * answer). The response body goes to resp (capped) or out.
 */
static CURLcode request(const struct partner *p, const char *method,
			const char *path, struct curl_slist *extra,
			struct body *up, struct buf *resp, FILE *out, long *http)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[2200], auth[600];
	CURLcode rc;

	*http = 0;
	if (!c)
		return CURLE_OUT_OF_MEMORY;
	snprintf(url, sizeof(url), "%s%s", p->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->token);
	h = curl_slist_append(h, auth);
	for (struct curl_slist *e = extra; e; e = e->next)
		h = curl_slist_append(h, e->data);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a stalled transfer (under 1 KiB/s for 30 s) is cut and retried */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, loopback_url(p->url) ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (*p->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, p->ca);
	if (up) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, up);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)up->left);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (out) {
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_file);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	} else {
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_buf);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static int transient(CURLcode rc, long http)
{
	if (rc != CURLE_OK)
		return rc != CURLE_SSL_CACERT_BADFILE && rc != CURLE_PEER_FAILED_VERIFICATION &&
		       rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_URL_MALFORMAT &&
		       rc != CURLE_OUT_OF_MEMORY && rc != CURLE_WRITE_ERROR;
	return http == 429 || http == 500 || http == 502 || http == 503 || http == 504;
}

/* Sleep before retry k (0-based): full jitter over an exponential window. */
static void backoff(const struct partner *p, int k, unsigned *seed,
		    const char *why)
{
	double cap = 0.5 * (double)(1u << (k < 10 ? k : 10)), d;
	char msg[300];
	struct timespec ts;

	if (cap > p->backoff_max)
		cap = p->backoff_max;
	d = cap * (0.5 + 0.5 * (double)rand_r(seed) / RAND_MAX);
	if (p->log) {
		snprintf(msg, sizeof(msg), "%s; retrying in %.1f s (attempt %d of %d)",
			 why, d, k + 2, p->retries + 1);
		p->log(p->log_arg, msg);
	}
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static void why_failed(char *out, size_t n, CURLcode rc, long http,
		       const struct buf *resp)
{
	if (rc != CURLE_OK)
		snprintf(out, n, "%s", curl_easy_strerror(rc));
	else
		snprintf(out, n, "HTTP %ld: %.200s", http, resp->len ? resp->ptr : "");
	for (char *s = out; *s; s++)
		if (*s == '\n')
			*s = ' ';
}

/* ---- push --------------------------------------------------------------------------- */

int client_push(const struct partner *p, const char *path, struct pkg_state *st,
		struct tmerr *err)
{
	struct buf resp = BUF_INIT(RESP_CAP);
	char id[80], sha[65], q[200], why[400];
	unsigned long long size;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct stat sb;
	FILE *f;
	int k = 0, rc = -1, conflicts = 0;

	memset(st, 0, sizeof(*st));
	if (client_package_id(path, id, sizeof(id)))
		return tmerr_set(err, TMERR_USAGE,
				 "cannot tell the package id from \"%s\": want SENDER-SEQ-ID.tmx as pack names it",
				 path);
	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb))
		return tmerr_set(err, TMERR_USAGE, "cannot read \"%s\": %s", path,
				 strerror(errno));
	size = (unsigned long long)sb.st_size;
	{
		char b[1 << 16];
		struct sha256 h;
		size_t n;

		sha256_init(&h);
		while ((n = fread(b, 1, sizeof(b), f)) > 0)
			sha256_update(&h, b, n);
		sha256_final_hex(&h, sha);
	}
	for (;;) {
		struct curl_slist *hd = NULL;
		struct body body;
		CURLcode cr;
		long http;

		/* what has arrived already */
		buf_reset(&resp);
		snprintf(q, sizeof(q), "/v1/uploads/%s", sha);
		cr = request(p, "GET", q, NULL, NULL, &resp, NULL, &http);
		if (cr == CURLE_OK && http == 200 && resp.len) {
			memset(st, 0, sizeof(*st));
			parse_state(resp.ptr, st);
			if (strcmp(st->state, "partial")) {
				st->http = 200;     /* complete before: a resend */
				snprintf(st->id, sizeof(st->id), "%s", id);
				rc = 0;
				break;
			}
		} else if (cr != CURLE_OK || transient(cr, http)) {
			why_failed(why, sizeof(why), cr, http, &resp);
			if (k >= p->retries) {
				tmerr_set(err, TMERR_SYS, "cannot reach %s: %s", p->url, why);
				break;
			}
			backoff(p, k++, &seed, why);
			continue;
		} else {
			why_failed(why, sizeof(why), cr, http, &resp);
			tmerr_set(err, TMERR_INPUT, "%s refused the upload: %s", p->org, why);
			break;
		}
		if (st->offset < 0 || (unsigned long long)st->offset > size)
			st->offset = 0;
		if (fseeko(f, (off_t)st->offset, SEEK_SET)) {
			tmerr_set(err, TMERR_SYS, "cannot read \"%s\"", path);
			break;
		}
		body.f = f;
		body.left = size - (unsigned long long)st->offset;
		snprintf(q, sizeof(q), "X-Package-Id: %s", id);
		hd = curl_slist_append(hd, q);
		snprintf(q, sizeof(q), "X-Upload-Sha256: %s", sha);
		hd = curl_slist_append(hd, q);
		snprintf(q, sizeof(q), "X-Upload-Length: %llu", size);
		hd = curl_slist_append(hd, q);
		snprintf(q, sizeof(q), "X-Upload-Offset: %lld", st->offset);
		hd = curl_slist_append(hd, q);
		hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
		hd = curl_slist_append(hd, "Expect:");
		if (p->log && st->offset > 0) {
			snprintf(why, sizeof(why), "resuming the upload at byte %lld of %llu",
				 st->offset, size);
			p->log(p->log_arg, why);
		}
		buf_reset(&resp);
		cr = request(p, "POST", "/v1/packages", hd, &body, &resp, NULL, &http);
		curl_slist_free_all(hd);
		memset(st, 0, sizeof(*st));
		st->http = (int)http;
		if (resp.len)
			parse_state(resp.ptr, st);
		if (cr == CURLE_OK && (http == 200 || http == 202)) {
			snprintf(st->id, sizeof(st->id), "%s", id);
			rc = 0;
			break;
		}
		if (cr == CURLE_OK && http == 409 && conflicts++ < 5)
			continue;   /* the offset moved: ask again */
		why_failed(why, sizeof(why), cr, http, &resp);
		if (!transient(cr, http)) {
			tmerr_set(err, TMERR_INPUT, "%s refused the upload: %s", p->org, why);
			break;
		}
		if (k >= p->retries) {
			tmerr_set(err, TMERR_SYS, "upload to %s failed: %s", p->url, why);
			break;
		}
		backoff(p, k++, &seed, why);
	}
	fclose(f);
	buf_release(&resp);
	return rc;
}

int client_wait(const struct partner *p, const char *id, double timeout,
		struct pkg_state *st, struct tmerr *err)
{
	struct buf resp = BUF_INIT(RESP_CAP);
	struct timespec t0, now;
	char q[200], why[400];
	double delay = 0.2;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(q, sizeof(q), "/v1/packages/%s", id);
	for (;;) {
		CURLcode cr;
		long http;

		buf_reset(&resp);
		cr = request(p, "GET", q, NULL, NULL, &resp, NULL, &http);
		memset(st, 0, sizeof(*st));
		st->http = (int)http;
		if (cr == CURLE_OK && http == 200 && resp.len) {
			parse_state(resp.ptr, st);
			if (!strcmp(st->state, "loaded") || !strcmp(st->state, "rejected") ||
			    !strcmp(st->state, "held")) {
				rc = 0;
				break;
			}
		} else if (cr == CURLE_OK && !transient(cr, http)) {
			why_failed(why, sizeof(why), cr, http, &resp);
			tmerr_set(err, TMERR_INPUT, "%s: %s", p->org, why);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) > timeout) {
			tmerr_set(err, TMERR_SYS,
				  "package \"%s\" is still \"%s\" at %s after %.0f s; ask again later",
				  id, *st->state ? st->state : "unknown", p->org, timeout);
			break;
		}
		{
			struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };

			nanosleep(&ts, NULL);
		}
		/* a package's state is one cheap query: poll at most every second */
		if (delay < 1)
			delay *= 1.5;
	}
	buf_release(&resp);
	return rc;
}

int client_download(const struct partner *p, const char *path, const char *out,
		    int *http_out, struct tmerr *err)
{
	struct buf resp = BUF_INIT(RESP_CAP);
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	char tmp[4200], why[400];
	int k = 0, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", out) >= sizeof(tmp))
		return tmerr_set(err, TMERR_USAGE, "path too long: \"%.200s\"", out);
	for (;;) {
		FILE *f = fopen(tmp, "wb");
		CURLcode cr;
		long http;

		if (!f) {
			tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
			break;
		}
		cr = request(p, "GET", path, NULL, NULL, NULL, f, &http);
		*http_out = (int)http;
		if (fflush(f) || fsync(fileno(f)) || fclose(f)) {
			tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
			break;
		}
		if (cr == CURLE_OK && http == 200) {
			if (rename(tmp, out))
				tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", out,
					  strerror(errno));
			else
				rc = 0;
			break;
		}
		/* an error body went to the file: read it for the message */
		buf_reset(&resp);
		f = fopen(tmp, "rb");
		if (f) {
			char b[600];
			size_t n = fread(b, 1, sizeof(b) - 1, f);

			fclose(f);
			buf_add(&resp, b, n);
		}
		why_failed(why, sizeof(why), cr, http, &resp);
		if (!transient(cr, http)) {
			tmerr_set(err, TMERR_INPUT, "%s: %s", p->org, why);
			break;
		}
		if (k >= p->retries) {
			tmerr_set(err, TMERR_SYS, "download from %s failed: %s", p->url, why);
			break;
		}
		backoff(p, k++, &seed, why);
	}
	unlink(tmp);
	buf_release(&resp);
	return rc;
}
