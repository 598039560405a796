#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "srvconf.h"

#define LINE_MAX_BYTES 8192

int srvconf_bytes(const char *s, unsigned long long *v)
{
	unsigned long long n = 0, m = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (~0ULL - 9) / 10)
			return -1;
		n = n * 10 + (unsigned)(*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': m = 1ULL << 10; p++; break;
	case 'M': case 'm': m = 1ULL << 20; p++; break;
	case 'G': case 'g': m = 1ULL << 30; p++; break;
	case 'T': case 't': m = 1ULL << 40; p++; break;
	default: return -1;
	}
	if (*p || (n && m > ~0ULL / n))
		return -1;
	*v = n * m;
	return 0;
}

static int uint_in(const char *s, unsigned lo, unsigned hi, unsigned *v)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*v = (unsigned)n;
	return 0;
}

/* "127.0.0.1:8443", "[::1]:8443" */
static int parse_listen(struct srvconf *c, const char *v)
{
	const char *colon;
	size_t hl;
	unsigned char addr[16];

	if (*v == '[') {
		const char *rb = strchr(v, ']');

		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - v - 1);
		if (hl >= sizeof(c->host))
			return -1;
		memcpy(c->host, v + 1, hl);
		c->host[hl] = '\0';
		colon = rb + 1;
		if (inet_pton(AF_INET6, c->host, addr) != 1)
			return -1;
		c->loopback = !strcmp(c->host, "::1");
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - v);
		if (hl >= sizeof(c->host))
			return -1;
		memcpy(c->host, v, hl);
		c->host[hl] = '\0';
		if (inet_pton(AF_INET, c->host, addr) != 1)
			return -1;
		c->loopback = addr[0] == 127;
	}
	return uint_in(colon + 1, 1, 65535, &c->port);
}

static int set_path(char *dst, size_t n, const char *v)
{
	return (size_t)snprintf(dst, n, "%s", v) >= n ? -1 : 0;
}

static int bad(struct tmerr *err, const char *path, long line, const char *key,
	       const char *why)
{
	tmerr_where(err, path, line, 0);
	return tmerr_set(err, TMERR_USAGE, "configuration key \"%s\": %s", key, why);
}

static int read_tokens(struct srvconf *c, struct tmerr *err)
{
	DIR *d = opendir(c->tokens);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return tmerr_set(err, TMERR_USAGE,
				 "configuration key \"tokens\": cannot open \"%s\": %s",
				 c->tokens, strerror(errno));
	while (!rc && (e = readdir(d))) {
		char p[4400], tok[SRV_TOKEN_MAX + 2];
		struct stat st;
		ssize_t n;
		int fd;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", c->tokens, e->d_name);
		if (strcmp(e->d_name, "operator") &&
		    (strlen(e->d_name) != 6 ||
		     strspn(e->d_name, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 6)) {
			rc = tmerr_set(err, TMERR_USAGE,
				       "token file \"%s\": name it by an organisation code (6 of 0-9 A-Z) or \"operator\"",
				       p);
			break;
		}
		fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			rc = tmerr_set(err, TMERR_USAGE, "token file \"%s\": %s", p,
				       strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		if (!S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0600) {
			close(fd);
			rc = tmerr_set(err, TMERR_USAGE,
				       "token file \"%s\" has mode %04o; it must be a regular file of mode 0600",
				       p, (unsigned)(st.st_mode & 07777));
			break;
		}
		n = read(fd, tok, sizeof(tok) - 1);
		close(fd);
		if (n < 0) {
			rc = tmerr_set(err, TMERR_USAGE, "token file \"%s\": %s", p,
				       strerror(errno));
			break;
		}
		len = (size_t)n;
		while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
			len--;
		if (len < SRV_TOKEN_MIN || len > SRV_TOKEN_MAX ||
		    strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") < len) {
			rc = tmerr_set(err, TMERR_USAGE,
				       "token file \"%s\": want one token of %d to %d printable characters",
				       p, SRV_TOKEN_MIN, SRV_TOKEN_MAX);
			break;
		}
		if (c->ntokens == SRV_MAX_TOKENS) {
			rc = tmerr_set(err, TMERR_LIMIT, "more than %d token files in \"%s\"",
				       SRV_MAX_TOKENS, c->tokens);
			break;
		}
		for (size_t i = 0; i < c->ntokens; i++) {
			struct sha256 s;
			unsigned char h[32];

			sha256_init(&s);
			sha256_update(&s, tok, len);
			sha256_final(&s, h);
			if (!memcmp(h, c->tok[i].sha, 32)) {
				rc = tmerr_set(err, TMERR_USAGE,
					       "token file \"%s\" repeats the token of \"%s\"",
					       p, c->tok[i].who);
				break;
			}
		}
		if (rc)
			break;
		{
			struct srv_token *t = &c->tok[c->ntokens++];
			struct sha256 s;

			snprintf(t->who, sizeof(t->who), "%.15s", e->d_name);
			sha256_init(&s);
			sha256_update(&s, tok, len);
			sha256_final(&s, t->sha);
		}
		memset(tok, 0, sizeof(tok));
	}
	closedir(d);
	if (!rc && !c->ntokens)
		rc = tmerr_set(err, TMERR_USAGE,
			       "configuration key \"tokens\": \"%s\" holds no token file",
			       c->tokens);
	return rc;
}

int srvconf_load(struct srvconf *c, const char *path, struct tmerr *err)
{
	FILE *f;
	char line[LINE_MAX_BYTES];
	long ln = 0;
	int rc = -1;
	unsigned seen = 0;
	enum { K_LISTEN = 1, K_HOME = 2, K_DB = 4, K_TOKENS = 8 };

	memset(c, 0, sizeof(*c));
	c->max_upload = 4ULL << 30;
	c->workers = 1;
	c->max_reject_rate = -1;
	c->timeout = 30;
	c->max_connections = 128;
	c->per_ip_connections = 48;
	c->threads = 4;
	if (set_path(c->path, sizeof(c->path), path))
		return tmerr_set(err, TMERR_USAGE, "configuration path too long");
	f = fopen(path, "r");
	if (!f)
		return tmerr_set(err, TMERR_USAGE, "cannot read configuration \"%s\": %s",
				 path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *e;
		size_t n = strlen(line);

		ln++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			bad(err, path, ln, "?", "line too long");
			goto out;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
			     line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		k = line + strspn(line, " \t");
		if (!*k || *k == '#')
			continue;
		e = k + strcspn(k, " \t");
		v = e + strspn(e, " \t");
		*e = '\0';
		if (!*v) {
			bad(err, path, ln, k, "has no value");
			goto out;
		}
		if (!strcmp(k, "listen")) {
			if (parse_listen(c, v)) {
				bad(err, path, ln, k, "want ADDRESS:PORT with an IP address, e.g. 127.0.0.1:8443 or [::1]:8443");
				goto out;
			}
			seen |= K_LISTEN;
		} else if (!strcmp(k, "home")) {
			if (set_path(c->home, sizeof(c->home), v)) {
				bad(err, path, ln, k, "path too long");
				goto out;
			}
			seen |= K_HOME;
		} else if (!strcmp(k, "db")) {
			if (set_path(c->db, sizeof(c->db), v)) {
				bad(err, path, ln, k, "too long");
				goto out;
			}
			seen |= K_DB;
		} else if (!strcmp(k, "tokens")) {
			if (set_path(c->tokens, sizeof(c->tokens), v)) {
				bad(err, path, ln, k, "path too long");
				goto out;
			}
			seen |= K_TOKENS;
		} else if (!strcmp(k, "mappings")) {
			if (set_path(c->mappings, sizeof(c->mappings), v)) {
				bad(err, path, ln, k, "path too long");
				goto out;
			}
		} else if (!strcmp(k, "tls_cert") || !strcmp(k, "tls_key")) {
			char *dst = k[4] == 'c' ? c->tls_cert : c->tls_key;

			if (set_path(dst, sizeof(c->tls_cert), v) || access(v, R_OK)) {
				bad(err, path, ln, k, "cannot read that file");
				goto out;
			}
		} else if (!strcmp(k, "max_upload")) {
			if (srvconf_bytes(v, &c->max_upload) || c->max_upload < 1024) {
				bad(err, path, ln, k, "want a size of at least 1K, e.g. 512M or 4G");
				goto out;
			}
		} else if (!strcmp(k, "workers")) {
			if (uint_in(v, 0, 64, &c->workers)) {
				bad(err, path, ln, k, "want 0 to 64");
				goto out;
			}
		} else if (!strcmp(k, "threads")) {
			if (uint_in(v, 1, 64, &c->threads)) {
				bad(err, path, ln, k, "want 1 to 64");
				goto out;
			}
		} else if (!strcmp(k, "timeout")) {
			if (uint_in(v, 1, 3600, &c->timeout)) {
				bad(err, path, ln, k, "want 1 to 3600 seconds");
				goto out;
			}
		} else if (!strcmp(k, "max_connections")) {
			if (uint_in(v, 1, 10000, &c->max_connections)) {
				bad(err, path, ln, k, "want 1 to 10000");
				goto out;
			}
		} else if (!strcmp(k, "per_ip_connections")) {
			if (uint_in(v, 1, 10000, &c->per_ip_connections)) {
				bad(err, path, ln, k, "want 1 to 10000");
				goto out;
			}
		} else if (!strcmp(k, "max_reject_rate")) {
			char *end;

			errno = 0;
			c->max_reject_rate = strtod(v, &end);
			if (errno || *end || c->max_reject_rate < 0 ||
			    c->max_reject_rate > 1) {
				bad(err, path, ln, k, "want a number from 0 to 1");
				goto out;
			}
		} else {
			bad(err, path, ln, k, "unknown key (see docs/serve.md)");
			goto out;
		}
	}
	if (ferror(f)) {
		tmerr_set(err, TMERR_USAGE, "cannot read configuration \"%s\"", path);
		goto out;
	}
	{
		static const char *const names[] = { "listen", "home", "db", "tokens" };

		for (unsigned i = 0; i < 4; i++)
			if (!(seen & (1u << i))) {
				tmerr_where(err, path, 0, 0);
				tmerr_set(err, TMERR_USAGE, "configuration key \"%s\" is required",
					  names[i]);
				goto out;
			}
	}
	if (!*c->tls_cert != !*c->tls_key) {
		bad(err, path, 0, *c->tls_cert ? "tls_key" : "tls_cert",
		    "tls_cert and tls_key go together");
		goto out;
	}
	if (!*c->tls_cert && !c->loopback) {
		bad(err, path, 0, "listen",
		    "plain HTTP is allowed on loopback only; give tls_cert and tls_key to listen elsewhere");
		goto out;
	}
	if (c->per_ip_connections > c->max_connections)
		c->per_ip_connections = c->max_connections;
	rc = read_tokens(c, err);
out:
	fclose(f);
	return rc;
}

const char *srvconf_who(const struct srvconf *c, const char *token, size_t n)
{
	struct sha256 s;
	unsigned char h[32];
	const char *who = NULL;

	if (!n || n > SRV_TOKEN_MAX)
		return NULL;
	sha256_init(&s);
	sha256_update(&s, token, n);
	sha256_final(&s, h);
	for (size_t i = 0; i < c->ntokens; i++) {
		unsigned char d = 0;

		for (int k = 0; k < 32; k++)
			d |= (unsigned char)(h[k] ^ c->tok[i].sha[k]);
		if (!d)
			who = c->tok[i].who;
	}
	return who;
}
