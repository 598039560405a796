/*
 * client: the gateway's HTTP client (libcurl) for a partner's server
 * (docs/serve.md): resumable, retried uploads, state polling and downloads.
 *
 * A partner is configured in the home's config file:
 *   partner.ORG.url    https://host:port   (http:// only for loopback)
 *   partner.ORG.token  FILE                (mode 0600, one token)
 *   partner.ORG.ca     FILE                (optional CA bundle)
 * Functions return 0 or -1 with err filled (TMERR_USAGE for configuration,
 * TMERR_INPUT for a refusal by the server, TMERR_SYS for transport errors
 * that outlived the retries); nothing prints except the progress notes a
 * caller asks for through the log callback.
 */
#ifndef TMISGW_CLIENT_H
#define TMISGW_CLIENT_H

#include "../etl/err.h"
#include "../etl/home.h"

struct partner {
	char org[16];
	char url[1024];           /* without a trailing slash */
	char token[520];
	char ca[4096];            /* "" = the system's CA store */
	int retries;              /* attempts after the first (default 8) */
	double backoff_max;       /* seconds (default 30) */
	void (*log)(void *arg, const char *msg);  /* retries, waits; may be NULL */
	void *log_arg;
};

int partner_load(const struct gw_home *h, const char *org, struct partner *p,
		 struct tmerr *err);

/* What the server said of an upload or a package. */
struct pkg_state {
	int http;                 /* last status */
	char id[80];
	char state[24];           /* received, loading, verified, loaded, rejected, held */
	char outcome[32];
	char error[512];
	long long offset;         /* partial uploads */
	long long loaded, rejected, sequence;
};

/*
 * Upload the package file path (named SENDER-SEQ-ID.tmx, as pack writes
 * it): asks how much of it already arrived and sends the rest, resuming and
 * retrying with exponential backoff and jitter. st gets the server's answer
 * (202 received, or 200 with the earlier state for a resend).
 */
int client_push(const struct partner *p, const char *path, struct pkg_state *st,
		struct tmerr *err);

/* Poll GET /v1/packages/ID until it is loaded, rejected or held, or
 * timeout seconds pass (TMERR_SYS). */
int client_wait(const struct partner *p, const char *id, double timeout,
		struct pkg_state *st, struct tmerr *err);

/* GET path (e.g. "/v1/packages/ID/receipt") into the file out (replaced
 * whole); *http gets the status. Retried like uploads. */
int client_download(const struct partner *p, const char *path, const char *out,
		    int *http, struct tmerr *err);

/* The id in a package file name SENDER-SEQ-ID.tmx, into id; -1 if none. */
int client_package_id(const char *path, char *id, size_t n);

#endif
