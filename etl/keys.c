#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define KEYFILE_MAX (1024 * 1024)
#define TRUST_MAX (4 * 1024 * 1024)
#define TRUST_LINE_MAX 256
#define TRUST_ENTRIES_MAX 10000

/* Set err to the message plus GPGME's reason. */
__attribute__((format(printf, 4, 5)))
static int gerr(struct tmerr *err, enum tmerr_code code, gpgme_error_t e,
		const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tmerr_set(err, code, "%s: %s", msg, gpgme_strerror(e));
}

int keys_fpr_norm(const char *in, char out[41], struct tmerr *err)
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		char c = *p;

		if (c == ' ')
			continue;
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (n == 40 || !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
			n = 41;
			break;
		}
		out[n++] = c;
	}
	if (n != 40) {
		out[0] = '\0';
		tmerr_set(err, TMERR_USAGE,
			  "not a full fingerprint: \"%.60s\" (want 40 hex digits)", in);
		return -1;
	}
	out[40] = '\0';
	return 0;
}

static void now_iso(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- GPGME context -------------------------------------------------------- */

int keys_ctx(const struct gw_home *h, gpgme_ctx_t *ctx, struct tmerr *err)
{
	gpgme_error_t e;

	*ctx = NULL;
	gpgme_check_version(NULL);
	e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
	if (e)
		return gerr(err, TMERR_SYS, e, "gpg (the OpenPGP engine) is not usable");
	e = gpgme_new(ctx);
	if (!e)
		e = gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP);
	if (!e)
		e = gpgme_ctx_set_engine_info(*ctx, GPGME_PROTOCOL_OpenPGP, NULL,
					      h->gnupg);
	if (!e)
		e = gpgme_set_pinentry_mode(*ctx, GPGME_PINENTRY_MODE_ERROR);
	if (!e)
		e = gpgme_set_ctx_flag(*ctx, "trust-model", "pgp");
	if (e) {
		gpgme_release(*ctx);
		*ctx = NULL;
		return gerr(err, TMERR_SYS, e, "cannot set up gpg for keyring \"%s\"",
			    h->gnupg);
	}
	gpgme_set_offline(*ctx, 1);
	return 0;
}

/* 0 and fpr of the one secret key (fpr "" when there is none), or -1. */
static int own_key(gpgme_ctx_t ctx, char fpr[41], int *count, struct tmerr *err)
{
	gpgme_error_t e;
	gpgme_key_t key;

	fpr[0] = '\0';
	*count = 0;
	e = gpgme_op_keylist_start(ctx, NULL, 1);
	while (!e) {
		e = gpgme_op_keylist_next(ctx, &key);
		if (e)
			break;
		if (!*count && key->subkeys && key->subkeys->fpr &&
		    strlen(key->subkeys->fpr) == 40)
			memcpy(fpr, key->subkeys->fpr, 41);
		(*count)++;
		gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(ctx);
	if (gpgme_err_code(e) != GPG_ERR_EOF)
		return gerr(err, TMERR_SYS, e, "cannot list the gateway's secret keys");
	return 0;
}

int keys_own(const struct gw_home *h, gpgme_ctx_t ctx, char fpr[41],
	     struct tmerr *err)
{
	int n;

	if (own_key(ctx, fpr, &n, err))
		return -1;
	if (n == 0)
		return tmerr_set(err, TMERR_USAGE,
				 "gateway home \"%s\" has no key (\"tmisgw keys init\" makes one)",
				 h->dir);
	if (n > 1)
		return tmerr_set(err, TMERR_INPUT,
				 "gateway home \"%s\" has %d secret keys; it must have one",
				 h->dir, n);
	return 0;
}

int keys_init(const struct gw_home *h, const char *org, char fpr[41],
	      struct tmerr *err)
{
	unsigned long expires = (unsigned long)KEYS_VALID_DAYS * 86400;
	gpgme_genkey_result_t res;
	gpgme_key_t key = NULL;
	gpgme_ctx_t ctx;
	gpgme_error_t e;
	char uid[32], old[41];
	int n;

	fpr[0] = '\0';
	if (!home_org_valid(org))
		return tmerr_set(err, TMERR_USAGE,
				 "bad organisation code \"%.20s\" (want 6 characters 0-9 A-Z)",
				 org);
	if (keys_ctx(h, &ctx, err))
		return -1;
	if (own_key(ctx, old, &n, err))
		goto fail;
	if (n) {
		tmerr_set(err, TMERR_INPUT, "gateway home \"%s\" already has a key \"%s\"",
			  h->dir, old);
		goto fail;
	}
	snprintf(uid, sizeof(uid), "tmisgw <%s>", org);
	e = gpgme_op_createkey(ctx, uid, "ed25519", 0, expires, NULL,
			       GPGME_CREATE_SIGN | GPGME_CREATE_CERT |
			       GPGME_CREATE_NOPASSWD);
	res = e ? NULL : gpgme_op_genkey_result(ctx);
	if (e || !res || !res->fpr || strlen(res->fpr) != 40) {
		gerr(err, TMERR_SYS, e, "cannot create the key of \"%s\"", org);
		goto fail;
	}
	memcpy(fpr, res->fpr, 41);
	e = gpgme_get_key(ctx, fpr, &key, 1);
	if (!e)
		e = gpgme_op_createsubkey(ctx, key, "cv25519", 0, expires,
					  GPGME_CREATE_ENCR | GPGME_CREATE_NOPASSWD);
	if (e) {
		gerr(err, TMERR_SYS, e, "cannot create the encryption subkey of \"%s\"",
		     fpr);
		goto undo;
	}
	if (home_config_set(h, "org", org, err))
		goto undo;
	gpgme_key_unref(key);
	gpgme_release(ctx);
	return 0;
undo:
	/* a half-made key would block the next keys_init */
	if (key)
		gpgme_op_delete_ext(ctx, key, GPGME_DELETE_ALLOW_SECRET |
				    GPGME_DELETE_FORCE);
	gpgme_key_unref(key);
fail:
	gpgme_release(ctx);
	fpr[0] = '\0';
	return -1;
}

int keys_export(const struct gw_home *h, FILE *out, struct tmerr *err)
{
	gpgme_ctx_t ctx;
	gpgme_data_t d = NULL;
	gpgme_error_t e;
	char fpr[41];

	if (keys_ctx(h, &ctx, err))
		return -1;
	if (keys_own(h, ctx, fpr, err))
		goto fail;
	gpgme_set_armor(ctx, 1);
	e = gpgme_data_new_from_stream(&d, out);
	if (!e)
		e = gpgme_op_export(ctx, fpr, GPGME_EXPORT_MODE_MINIMAL, d);
	if (e) {
		gerr(err, TMERR_SYS, e, "cannot export key \"%s\"", fpr);
		goto fail;
	}
	if (fflush(out) || ferror(out)) {
		tmerr_set(err, TMERR_SYS, "cannot write the exported key: %s",
			  strerror(errno));
		goto fail;
	}
	gpgme_data_release(d);
	gpgme_release(ctx);
	return 0;
fail:
	gpgme_data_release(d);
	gpgme_release(ctx);
	return -1;
}

/* ---- the trust store ------------------------------------------------------ */

struct store {
	struct trust_entry *e;
	size_t n, alloc;
};

static int store_add(struct store *s, struct tmerr *err)
{
	if (s->n == TRUST_ENTRIES_MAX)
		return tmerr_set(err, TMERR_LIMIT, "trust store holds more than %d bindings",
				 TRUST_ENTRIES_MAX);
	if (s->n == s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 16;
		struct trust_entry *ne = realloc(s->e, na * sizeof(*ne));

		if (!ne)
			return tmerr_set(err, TMERR_SYS, "out of memory");
		s->e = ne;
		s->alloc = na;
	}
	memset(&s->e[s->n], 0, sizeof(s->e[0]));
	s->n++;
	return 0;
}

/* Copy a field of len bytes into dst; -1 when it does not fit. */
static int field(char *dst, size_t dsz, const char *src, size_t len)
{
	if (len >= dsz)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int entry_parse(struct trust_entry *t, const char *p, size_t len)
{
	const char *f[6];
	size_t l[6], nf = 0;
	const char *end = p + len, *s = p;
	char norm[41];
	struct tmerr dummy;

	for (const char *q = p; nf < 6; q++) {
		if (q == end || *q == '\t') {
			f[nf] = s;
			l[nf++] = (size_t)(q - s);
			s = q + 1;
			if (q == end)
				break;
		}
	}
	if (nf != 5 || field(t->org, sizeof(t->org), f[0], l[0]) ||
	    field(t->fpr, sizeof(t->fpr), f[1], l[1]) ||
	    field(t->status, sizeof(t->status), f[2], l[2]) ||
	    field(t->added, sizeof(t->added), f[3], l[3]) ||
	    field(t->retired, sizeof(t->retired), f[4], l[4]))
		return -1;
	if (!home_org_valid(t->org) || keys_fpr_norm(t->fpr, norm, &dummy) ||
	    strcmp(norm, t->fpr) || !*t->added)
		return -1;
	if (!strcmp(t->status, "active"))
		return *t->retired ? -1 : 0;
	if (!strcmp(t->status, "retired"))
		return *t->retired ? 0 : -1;
	return -1;
}

static void trust_path(const struct gw_home *h, char *out, size_t n,
		       const char *suffix)
{
	snprintf(out, n, "%s/trust%s", h->dir, suffix);
}

static int store_read(const struct gw_home *h, struct store *s,
		      struct tmerr *err)
{
	struct buf b = BUF_INIT(TRUST_MAX);
	char path[PATH_MAX], chunk[8192];
	const char *p, *end;
	long line = 0;
	FILE *f;
	size_t n;

	memset(s, 0, sizeof(*s));
	trust_path(h, path, sizeof(path), ".tsv");
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 :
			tmerr_set(err, TMERR_SYS, "cannot open \"%s\": %s", path,
				  strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n)) {
			fclose(f);
			buf_release(&b);
			return tmerr_set(err, TMERR_LIMIT, "trust store \"%s\" is too large",
					 path);
		}
	if (ferror(f)) {
		fclose(f);
		buf_release(&b);
		return tmerr_set(err, TMERR_SYS, "cannot read \"%s\"", path);
	}
	fclose(f);
	end = b.ptr + b.len;
	for (p = b.ptr; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		line++;
		if (len && *p != '#') {
			int bad = len > TRUST_LINE_MAX;

			if (!bad && store_add(s, err))
				goto fail;
			if (bad || entry_parse(&s->e[s->n - 1], p, len)) {
				tmerr_set(err, TMERR_INPUT, "malformed trust store \"%s\"", path);
				goto fail;
			}
		}
		p = nl ? nl + 1 : end;
	}
	buf_release(&b);
	return 0;
fail:
	tmerr_where(err, NULL, line, 0);
	free(s->e);
	memset(s, 0, sizeof(*s));
	buf_release(&b);
	return -1;
}

static int store_write(const struct gw_home *h, const struct store *s,
		       struct tmerr *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int fd;

	trust_path(h, path, sizeof(path), ".tsv");
	trust_path(h, tmp, sizeof(tmp), ".tsv.tmp");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fputs("# tmisgw trust store: org\tfingerprint\tstatus\tadded\tretired\n", f);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s\t%s\t%s\t%s\t%s\n", s->e[i].org, s->e[i].fpr,
			s->e[i].status, s->e[i].added, s->e[i].retired);
	if (fflush(f) || ferror(f) || fsync(fd)) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) || rename(tmp, path)) {
		tmerr_set(err, TMERR_SYS, "cannot replace \"%s\": %s", path,
			  strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Take the trust store's write lock; returns the lock's fd or -1. */
static int store_lock(const struct gw_home *h, struct tmerr *err)
{
	char path[PATH_MAX];
	int fd;

	trust_path(h, path, sizeof(path), ".lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		tmerr_set(err, TMERR_SYS, "cannot lock \"%s\": %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int keys_list(const struct gw_home *h, struct trust_entry **out, size_t *n,
	      struct tmerr *err)
{
	struct store s;

	*out = NULL;
	*n = 0;
	if (store_read(h, &s, err))
		return -1;
	*out = s.e;
	*n = s.n;
	return 0;
}

/* ---- trusting and retiring ------------------------------------------------ */

static int read_keyfile(const char *path, struct buf *b, struct tmerr *err)
{
	char chunk[8192];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return tmerr_set(err, TMERR_INPUT, "cannot open key file \"%s\": %s",
				 path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(b, chunk, n)) {
			fclose(f);
			return tmerr_set(err, TMERR_LIMIT,
					 "key file \"%s\" is larger than 1 MiB", path);
		}
	if (ferror(f)) {
		fclose(f);
		return tmerr_set(err, TMERR_INPUT, "cannot read key file \"%s\"", path);
	}
	fclose(f);
	return 0;
}

/* Check the keys held in d without importing them: exactly one public key. */
static int check_keyfile(gpgme_ctx_t ctx, gpgme_data_t d, const char *path,
			 char fpr[41], struct tmerr *err)
{
	gpgme_key_t key, first = NULL;
	gpgme_error_t e;
	int n = 0, secret = 0;

	e = gpgme_op_keylist_from_data_start(ctx, d, 0);
	while (!e) {
		e = gpgme_op_keylist_next(ctx, &key);
		if (e)
			break;
		n++;
		if (key->secret)
			secret = 1;
		if (!first)
			first = key;
		else
			gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(ctx);
	if (gpgme_err_code(e) != GPG_ERR_EOF) {
		gpgme_key_unref(first);
		return gerr(err, TMERR_INPUT, e, "cannot read the keys in \"%s\"", path);
	}
	if (secret) {
		tmerr_set(err, TMERR_INPUT,
			  "key file \"%s\" holds a secret key: give the partner's public key only",
			  path);
	} else if (n != 1) {
		tmerr_set(err, TMERR_INPUT,
			  "key file \"%s\" holds %d keys: give exactly one public key",
			  path, n);
	} else if (!first->subkeys || !first->subkeys->fpr ||
		   keys_fpr_norm(first->subkeys->fpr, fpr, err)) {
		tmerr_set(err, TMERR_INPUT, "key in \"%s\" has no full fingerprint", path);
	} else if (first->revoked) {
		tmerr_set(err, TMERR_INPUT, "key \"%s\" in \"%s\" is revoked", fpr, path);
	} else if (first->expired) {
		tmerr_set(err, TMERR_INPUT, "key \"%s\" in \"%s\" has expired", fpr, path);
	} else if (!first->can_sign || !first->can_encrypt) {
		tmerr_set(err, TMERR_INPUT,
			  "key \"%s\" in \"%s\" cannot %s: a partner key must sign and encrypt",
			  fpr, path, first->can_sign ? "encrypt" : "sign");
	} else {
		gpgme_key_unref(first);
		return 0;
	}
	gpgme_key_unref(first);
	return -1;
}

static int import_key(gpgme_ctx_t ctx, gpgme_data_t d, const char *fpr,
		      const char *path, struct tmerr *err)
{
	gpgme_import_result_t r;
	gpgme_import_status_t st;
	gpgme_error_t e;
	int found = 0;

	if (gpgme_data_seek(d, 0, SEEK_SET) < 0)
		return tmerr_set(err, TMERR_SYS, "cannot rewind key file \"%s\"", path);
	e = gpgme_op_import(ctx, d);
	if (e)
		return gerr(err, TMERR_INPUT, e, "cannot import key file \"%s\"", path);
	r = gpgme_op_import_result(ctx);
	if (!r || r->secret_read)
		return tmerr_set(err, TMERR_INPUT, "key file \"%s\" was not imported",
				 path);
	for (st = r->imports; st; st = st->next) {
		if (st->result)
			return gerr(err, TMERR_INPUT, st->result,
				    "cannot import key \"%s\" from \"%s\"",
				    st->fpr ? st->fpr : "?", path);
		if (st->fpr && !strcasecmp(st->fpr, fpr))
			found = 1;
	}
	if (!found)
		return tmerr_set(err, TMERR_INPUT, "key \"%s\" from \"%s\" was not imported",
				 fpr, path);
	return 0;
}

/*
 * Certify the imported key with a local signature of our own key, so that
 * gpg counts it fully valid (VALID signatures, encryption without prompts).
 */
static int certify(gpgme_ctx_t ctx, const char *own, const char *fpr,
		   struct tmerr *err)
{
	gpgme_keylist_mode_t mode = gpgme_get_keylist_mode(ctx);
	gpgme_key_t key = NULL, me = NULL;
	gpgme_error_t e;
	int signed_by_us = 0;

	gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCAL |
			       GPGME_KEYLIST_MODE_SIGS);
	e = gpgme_get_key(ctx, fpr, &key, 0);
	gpgme_set_keylist_mode(ctx, mode);
	if (e)
		return gerr(err, TMERR_SYS, e, "cannot look up key \"%s\"", fpr);
	for (gpgme_user_id_t u = key->uids; u; u = u->next)
		for (gpgme_key_sig_t sg = u->signatures; sg; sg = sg->next)
			if (sg->keyid && !strcasecmp(sg->keyid, own + 24) &&
			    !sg->revoked && !sg->expired && !sg->invalid)
				signed_by_us = 1;
	if (signed_by_us) {
		gpgme_key_unref(key);
		return 0;
	}
	e = gpgme_get_key(ctx, own, &me, 1);
	if (!e) {
		gpgme_signers_clear(ctx);
		e = gpgme_signers_add(ctx, me);
	}
	if (!e)
		e = gpgme_op_keysign(ctx, key, NULL, 0,
				     GPGME_KEYSIGN_LOCAL | GPGME_KEYSIGN_NOEXPIRE);
	gpgme_signers_clear(ctx);
	gpgme_key_unref(me);
	gpgme_key_unref(key);
	if (e)
		return gerr(err, TMERR_SYS, e, "cannot certify key \"%s\"", fpr);
	return 0;
}

int keys_trust(const struct gw_home *h, const char *org, const char *keyfile,
	       char fpr[41], struct tmerr *err)
{
	struct buf b = BUF_INIT(KEYFILE_MAX);
	struct store s = { NULL, 0, 0 };
	char own[41];
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t d = NULL;
	gpgme_error_t e;
	int lock = -1, found = 0, rc = -1;

	fpr[0] = '\0';
	if (!home_org_valid(org))
		return tmerr_set(err, TMERR_USAGE,
				 "bad organisation code \"%.20s\" (want 6 characters 0-9 A-Z)",
				 org);
	if (read_keyfile(keyfile, &b, err) || keys_ctx(h, &ctx, err))
		goto out;
	e = gpgme_data_new_from_mem(&d, b.ptr, b.len, 0);
	if (e) {
		gerr(err, TMERR_SYS, e, "cannot read key file \"%s\"", keyfile);
		goto out;
	}
	if (keys_own(h, ctx, own, err) ||
	    check_keyfile(ctx, d, keyfile, fpr, err))
		goto out;
	lock = store_lock(h, err);
	if (lock < 0 || store_read(h, &s, err))
		goto out;
	for (size_t i = 0; i < s.n; i++) {
		if (strcmp(s.e[i].fpr, fpr))
			continue;
		if (strcmp(s.e[i].org, org)) {
			tmerr_set(err, TMERR_INPUT,
				  "key \"%s\" is already bound to organisation \"%s\"",
				  fpr, s.e[i].org);
			goto out;
		}
		if (strcmp(s.e[i].status, "active")) {
			tmerr_set(err, TMERR_INPUT,
				  "key \"%s\" of organisation \"%s\" was retired on %s and is not trusted again",
				  fpr, org, s.e[i].retired);
			goto out;
		}
		found = 1;
	}
	if (import_key(ctx, d, fpr, keyfile, err) ||
	    certify(ctx, own, fpr, err))
		goto out;
	if (!found) {
		struct trust_entry *t;

		if (store_add(&s, err))
			goto out;
		t = &s.e[s.n - 1];
		memcpy(t->org, org, 7);
		memcpy(t->fpr, fpr, 41);
		strcpy(t->status, "active");
		now_iso(t->added);
		if (store_write(h, &s, err))
			goto out;
	}
	rc = 0;
out:
	if (rc)
		fpr[0] = '\0';
	if (lock >= 0)
		close(lock);
	free(s.e);
	gpgme_data_release(d);
	gpgme_release(ctx);
	buf_release(&b);
	return rc;
}

int keys_retire(const struct gw_home *h, const char *org, const char *fpr_in,
		struct tmerr *err)
{
	struct store s = { NULL, 0, 0 };
	struct trust_entry *t = NULL;
	char fpr[41];
	int lock, rc = -1;

	if (keys_fpr_norm(fpr_in, fpr, err))
		return -1;
	if (!home_org_valid(org))
		return tmerr_set(err, TMERR_USAGE,
				 "bad organisation code \"%.20s\" (want 6 characters 0-9 A-Z)",
				 org);
	lock = store_lock(h, err);
	if (lock < 0)
		return -1;
	if (store_read(h, &s, err))
		goto out;
	for (size_t i = 0; i < s.n && !t; i++)
		if (!strcmp(s.e[i].org, org) && !strcmp(s.e[i].fpr, fpr))
			t = &s.e[i];
	if (!t) {
		tmerr_set(err, TMERR_INPUT,
			  "no key \"%s\" is bound to organisation \"%s\"", fpr, org);
		goto out;
	}
	if (!strcmp(t->status, "active")) {
		strcpy(t->status, "retired");
		now_iso(t->retired);
		if (store_write(h, &s, err))
			goto out;
	}
	rc = 0;
out:
	close(lock);
	free(s.e);
	return rc;
}

/* ---- verification --------------------------------------------------------- */

int keys_state(gpgme_ctx_t ctx, const char *fpr, struct key_state *ks,
	       struct tmerr *err)
{
	gpgme_key_t key = NULL;
	gpgme_error_t e;

	memset(ks, 0, sizeof(*ks));
	e = gpgme_get_key(ctx, fpr, &key, 0);
	if (gpgme_err_code(e) == GPG_ERR_EOF) {
		ks->missing = 1;
		return 0;
	}
	if (e)
		return gerr(err, TMERR_SYS, e, "cannot look up key \"%s\"", fpr);
	ks->revoked = key->revoked || (key->subkeys && key->subkeys->revoked);
	ks->expired = key->expired || (key->subkeys && key->subkeys->expired);
	ks->expires = key->subkeys ? (long long)key->subkeys->expires : 0;
	gpgme_key_unref(key);
	return 0;
}

int keys_signer_org(const struct gw_home *h, gpgme_ctx_t ctx,
		    const char *sig_fpr, char org[16], struct tmerr *err)
{
	struct store s = { NULL, 0, 0 };
	gpgme_key_t key = NULL;
	gpgme_subkey_t sk, signer = NULL;
	const struct trust_entry *bound = NULL;
	gpgme_error_t e;
	char fpr[41], primary[41];
	time_t now = time(NULL);
	int rc = -1;

	org[0] = '\0';
	if (!sig_fpr || keys_fpr_norm(sig_fpr, fpr, err)) {
		tmerr_set(err, TMERR_INPUT, "unknown signer \"%.40s\": no full fingerprint",
			  sig_fpr ? sig_fpr : "");
		return -1;
	}
	e = gpgme_get_key(ctx, fpr, &key, 0);
	if (gpgme_err_code(e) == GPG_ERR_EOF)
		return tmerr_set(err, TMERR_INPUT,
				 "unknown signer \"%s\": key not in the keyring", fpr);
	if (e)
		return gerr(err, TMERR_SYS, e, "cannot look up signer key \"%s\"", fpr);
	for (sk = key->subkeys; sk; sk = sk->next)
		if (sk->fpr && !strcasecmp(sk->fpr, fpr))
			signer = sk;
	if (!key->subkeys || !signer ||
	    keys_fpr_norm(key->subkeys->fpr, primary, err)) {
		tmerr_set(err, TMERR_INPUT,
			  "unknown signer \"%s\": no such key or subkey", fpr);
		goto out;
	}
	if (store_read(h, &s, err))
		goto out;
	for (size_t i = 0; i < s.n; i++) {
		if (strcmp(s.e[i].fpr, primary))
			continue;
		if (bound && strcmp(bound->org, s.e[i].org)) {
			tmerr_set(err, TMERR_INPUT,
				  "signer key \"%s\" is bound to two organisations, \"%s\" and \"%s\"",
				  primary, bound->org, s.e[i].org);
			goto out;
		}
		if (!bound || !strcmp(s.e[i].status, "active"))
			bound = &s.e[i];
	}
	if (!bound) {
		tmerr_set(err, TMERR_INPUT,
			  "unknown signer \"%s\": not in the trust store", primary);
		goto out;
	}
	if (strcmp(bound->status, "active")) {
		tmerr_set(err, TMERR_INPUT,
			  "signer key \"%s\" of organisation \"%s\" is retired (since %s)",
			  primary, bound->org, bound->retired);
		goto out;
	}
	if (key->revoked || key->subkeys->revoked || signer->revoked) {
		tmerr_set(err, TMERR_INPUT,
			  "signer key \"%s\" of organisation \"%s\" is revoked",
			  primary, bound->org);
		goto out;
	}
	if (key->expired || key->subkeys->expired || signer->expired ||
	    (key->subkeys->expires > 0 && key->subkeys->expires <= now) ||
	    (signer->expires > 0 && signer->expires <= now)) {
		tmerr_set(err, TMERR_INPUT,
			  "signer key \"%s\" of organisation \"%s\" has expired",
			  primary, bound->org);
		goto out;
	}
	if (key->disabled || key->invalid || signer->invalid || !signer->can_sign) {
		tmerr_set(err, TMERR_INPUT,
			  "signer key \"%s\" of organisation \"%s\" is not usable for signing",
			  primary, bound->org);
		goto out;
	}
	memcpy(org, bound->org, strlen(bound->org) + 1);
	rc = 0;
out:
	free(s.e);
	gpgme_key_unref(key);
	return rc;
}
