/*
 * srvconf: the gateway server's configuration file and its partners' tokens
 * (docs/serve.md).
 *
 * The file is "key value" lines, '#' comments; every key is checked at start
 * and an error names the file, line and key. Tokens are files in the tokens
 * directory, one per partner (named by organisation code, or "operator"),
 * mode 0600, holding one token; only their SHA-256 is kept in memory. The
 * caller owns a struct srvconf (srvconf_free releases it); functions return
 * 0 or -1 with err filled and print nothing.
 */
#ifndef TMISGW_SRVCONF_H
#define TMISGW_SRVCONF_H

#include <stddef.h>

#include "err.h"

#define SRV_MAX_TOKENS 256
#define SRV_TOKEN_MIN 16       /* shortest token accepted */
#define SRV_TOKEN_MAX 512

struct srv_token {
	char who[16];              /* organisation code or "operator" */
	unsigned char sha[32];     /* of the token */
};

struct srvconf {
	char path[4096];           /* the configuration file */
	char host[256];            /* listen address: an IP literal */
	unsigned port;
	int loopback;              /* host is 127.0.0.0/8 or ::1 */
	char home[4096];
	char db[1024];             /* libpq connection string */
	char tokens[4096];
	char mappings[4096];       /* "" = built-in */
	char tls_cert[4096], tls_key[4096]; /* both or neither */
	unsigned long long max_upload;   /* bytes (413 beyond) */
	unsigned workers;          /* package workers in this process (0 allowed) */
	double max_reject_rate;    /* < 0: none */
	unsigned timeout;          /* seconds a connection may stay idle */
	unsigned max_connections, per_ip_connections;
	unsigned threads;          /* HTTP threads */
	size_t ntokens;
	struct srv_token tok[SRV_MAX_TOKENS];
};

/* Read and check the file at path, then read the tokens directory. */
int srvconf_load(struct srvconf *c, const char *path, struct tmerr *err);

/*
 * Who the token belongs to ("410000", "operator"), or NULL when no token
 * matches. Compares SHA-256 digests in constant time against every entry.
 */
const char *srvconf_who(const struct srvconf *c, const char *token, size_t n);

/* Parse "123", "64K", "4G" (powers of 1024) into *v; -1 when malformed. */
int srvconf_bytes(const char *s, unsigned long long *v);

#endif
