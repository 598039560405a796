/*
 * package: sign + encrypt a payload through GPGME, and checks 1-3 of a
 * received package (package.h).
 */
#include "package.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gpgme.h>

#include "keys.h"
#include "sha256.h"

#define MAX_RECIPIENT_KEYS 16
#define PIPE_BYTES (1 << 20)

static int gerr(struct tmerr *err, enum tmerr_code code, gpgme_error_t e,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

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

/* Puts prefix in front of err's message (keeping its code). */
static int prefix(struct tmerr *err, const char *pre)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	return tmerr_set(err, err->code ? err->code : TMERR_INPUT, "%s%s", pre,
			 msg);
}

void package_now(char out[40])
{
	time_t t = time(NULL);
	struct tm tm;
	long off;
	size_t n;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
		 labs(off) / 60, labs(off) % 60);
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- the manifest of a new package ------------------------------------- */

static int valid_category(const char *s, size_t n)
{
	if (!n || n >= sizeof(((struct mfile *)0)->category))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

int package_manifest(const struct gw_home *h, struct manifest *m,
		     const char *to, const char *kind, long long seq,
		     const char *const *paths, size_t n, struct tmerr *err)
{
	manifest_init(m);
	if (!*h->org)
		return tmerr_set(err, TMERR_USAGE,
				 "gateway home \"%s\" has no organisation (\"tmisgw keys init\" sets it)",
				 h->dir);
	if (!to || !manifest_valid_org(to))
		return tmerr_set(err, TMERR_USAGE,
				 "bad recipient organisation code \"%.20s\" (want 6 characters 0-9 A-Z)",
				 to ? to : "");
	if (!strcmp(to, h->org))
		return tmerr_set(err, TMERR_USAGE,
				 "recipient \"%s\" is this gateway's own organisation", to);
	if (!kind || (strcmp(kind, "full") && strcmp(kind, "delta")))
		return tmerr_set(err, TMERR_USAGE,
				 "bad kind \"%.20s\" (want full or delta)",
				 kind ? kind : "");
	if (seq < 1)
		return tmerr_set(err, TMERR_USAGE,
				 "bad sequence number %lld (want 1 or more)", seq);
	if (!n)
		return tmerr_set(err, TMERR_USAGE, "no files to pack");
	if (manifest_uuid(m->id, err))
		return -1;
	memcpy(m->sender, h->org, sizeof(m->sender));
	snprintf(m->recipient, sizeof(m->recipient), "%s", to);
	package_now(m->created);
	snprintf(m->kind, sizeof(m->kind), "%s", kind);
	m->sequence = seq;
	snprintf(m->schema, sizeof(m->schema), "%s", PACKAGE_SCHEMA);
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/');
		size_t bl;
		char name[sizeof(((struct mfile *)0)->name)];
		struct mfile *f;

		base = base ? base + 1 : paths[i];
		bl = strlen(base);
		if (bl < 5 || (strcmp(base + bl - 4, ".csv") &&
			       strcmp(base + bl - 4, ".xml")) ||
		    !valid_category(base, bl - 4))
			return tmerr_set(err, TMERR_USAGE,
					 "cannot tell the category of \"%s\": want a canonical file named CATEGORY.csv or CATEGORY.xml",
					 paths[i]);
		snprintf(name, sizeof(name), "data/%s", base);
		for (size_t j = 0; j < m->nfiles; j++)
			if (strlen(m->files[j].category) == bl - 4 &&
			    !memcmp(m->files[j].category, base, bl - 4))
				return tmerr_set(err, TMERR_USAGE,
						 "\"%s\" is a second file of category \"%.*s\"; a package holds one file per category",
						 paths[i], (int)(bl - 4), base);
		if (manifest_find(m, name))
			return tmerr_set(err, TMERR_USAGE, "\"%s\" is given twice",
					 name);
		f = manifest_add_file(m, err);
		if (!f)
			return -1;
		memcpy(f->name, name, sizeof(f->name));
		memcpy(f->category, base, bl - 4);
		f->category[bl - 4] = '\0';
		strcpy(f->format, base + bl - 3);
		f->records = -1;
	}
	return 0;
}

/* ---- packing ------------------------------------------------------------- */

/* keys[] (NULL-terminated) gets the usable active trusted keys of org. */
static int recipient_keys(const struct gw_home *h, gpgme_ctx_t ctx,
			  const char *org, gpgme_key_t keys[MAX_RECIPIENT_KEYS + 1],
			  struct tmerr *err)
{
	struct trust_entry *t = NULL;
	size_t n, nk = 0, bound = 0, active = 0;

	keys[0] = NULL;
	if (keys_list(h, &t, &n, err))
		return -1;
	for (size_t i = 0; i < n && nk < MAX_RECIPIENT_KEYS; i++) {
		gpgme_key_t k = NULL;

		if (strcmp(t[i].org, org))
			continue;
		bound++;
		if (strcmp(t[i].status, "active"))
			continue;
		active++;
		if (gpgme_get_key(ctx, t[i].fpr, &k, 0))
			continue;
		if (k->revoked || k->expired || k->disabled || k->invalid ||
		    !k->can_encrypt) {
			gpgme_key_unref(k);
			continue;
		}
		keys[nk++] = k;
		keys[nk] = NULL;
	}
	free(t);
	if (nk)
		return 0;
	if (!bound)
		return tmerr_set(err, TMERR_INPUT,
				 "no key is trusted for organisation \"%s\" (\"tmisgw keys trust --org %s FILE\")",
				 org, org);
	if (!active)
		return tmerr_set(err, TMERR_INPUT,
				 "every key of organisation \"%s\" is retired", org);
	return tmerr_set(err, TMERR_INPUT,
			 "no active key of organisation \"%s\" can encrypt: expired, revoked or not in the keyring",
			 org);
}

static void unref_keys(gpgme_key_t *keys)
{
	for (; *keys; keys++)
		gpgme_key_unref(*keys);
}

/* The payload writer, run in its own thread, pushing into a pipe. */
struct feeder {
	struct manifest *m;
	const char *const *paths;
	int fd;
	int rc;
	int sink_errno;
	struct tmerr err;
};

static int pipe_sink(void *ctx, const void *buf, size_t n)
{
	struct feeder *f = ctx;

	if (write_all(f->fd, buf, n)) {
		f->sink_errno = errno;
		return -1;
	}
	return 0;
}

static void *feed(void *arg)
{
	struct feeder *f = arg;
	sigset_t s;

	/* gpg gone: a plain EPIPE, not a signal */
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	f->rc = payload_pack(f->m, f->paths, pipe_sink, f, 0, &f->err);
	close(f->fd);
	f->fd = -1;
	return NULL;
}

/* Output data: to a file, hashed and counted. */
struct outsink {
	int fd;
	int werrno;
	struct sha256 sha;
	unsigned long long bytes;
};

static ssize_t out_write(void *handle, const void *buf, size_t n)
{
	struct outsink *o = handle;

	if (write_all(o->fd, buf, n)) {
		o->werrno = errno;
		return -1;
	}
	sha256_update(&o->sha, buf, n);
	o->bytes += n;
	return (ssize_t)n;
}

/* dst: out itself, or out/<sender>-<sequence>-<id>.tmx for a directory. */
static int out_path(const char *out, const struct manifest *m, char *dst,
		    size_t dstsz, struct tmerr *err)
{
	struct stat st;
	int n;

	if (!stat(out, &st) && S_ISDIR(st.st_mode))
		n = snprintf(dst, dstsz, "%s%s%s-%lld-%s.tmx", out,
			     out[strlen(out) - 1] == '/' ? "" : "/", m->sender,
			     m->sequence, m->id);
	else
		n = snprintf(dst, dstsz, "%s", out);
	if (n < 0 || (size_t)n >= dstsz)
		return tmerr_set(err, TMERR_USAGE, "output path \"%.200s\" is too long",
				 out);
	return 0;
}

/* A temporary file next to path, 0600, for *fd; tmp gets its name. */
static int out_tmp(const char *path, char *tmp, size_t tmpsz, int *fd,
		   struct tmerr *err)
{
	const char *sl = strrchr(path, '/');
	int n;

	if (sl)
		n = snprintf(tmp, tmpsz, "%.*s/.tmisgw-pack-XXXXXX",
			     (int)(sl - path), path);
	else
		n = snprintf(tmp, tmpsz, ".tmisgw-pack-XXXXXX");
	if (n < 0 || (size_t)n >= tmpsz)
		return tmerr_set(err, TMERR_USAGE, "output path \"%.200s\" is too long",
				 path);
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0)
		return tmerr_set(err, TMERR_SYS,
				 "cannot create a temporary file next to \"%s\": %s",
				 path, strerror(errno));
	return 0;
}

/* Sign and encrypt what rfd delivers to o; the caller joins the feeder. */
static int encrypt_sign(const struct gw_home *h, gpgme_ctx_t ctx,
			const char *to, int rfd, struct outsink *o,
			struct package_out *res, struct tmerr *err)
{
	gpgme_key_t rcpt[MAX_RECIPIENT_KEYS + 1], own = NULL;
	struct gpgme_data_cbs cbs = { NULL, out_write, NULL, NULL };
	gpgme_data_t plain = NULL, cipher = NULL;
	gpgme_encrypt_result_t er;
	gpgme_sign_result_t sr;
	gpgme_error_t e;
	int rc = -1, nsig = 0;

	rcpt[0] = NULL;
	if (keys_own(h, ctx, res->signer, err))
		return -1;
	e = gpgme_get_key(ctx, res->signer, &own, 1);
	if (e)
		return gerr(err, TMERR_SYS, e, "cannot use this gateway's key \"%s\"",
			    res->signer);
	if (recipient_keys(h, ctx, to, rcpt, err))
		goto out;
	for (res->nrecipients = 0; rcpt[res->nrecipients]; res->nrecipients++)
		;
	gpgme_signers_clear(ctx);
	e = gpgme_signers_add(ctx, own);
	if (!e)
		e = gpgme_data_new_from_fd(&plain, rfd);
	if (!e)
		e = gpgme_data_new_from_cbs(&cipher, &cbs, o);
	if (e) {
		gerr(err, TMERR_SYS, e, "cannot set up gpg to sign and encrypt");
		goto out;
	}
	gpgme_data_set_encoding(plain, GPGME_DATA_ENCODING_BINARY);
	gpgme_data_set_file_name(plain, "payload.tar.zst");
	gpgme_set_armor(ctx, 0);
	/* the payload is zstd already; no ALWAYS_TRUST: keys_trust certified */
	e = gpgme_op_encrypt_sign(ctx, rcpt, GPGME_ENCRYPT_NO_COMPRESS, plain,
				  cipher);
	er = gpgme_op_encrypt_result(ctx);
	sr = gpgme_op_sign_result(ctx);
	if (er && er->invalid_recipients) {
		gerr(err, TMERR_INPUT, er->invalid_recipients->reason,
		     "cannot encrypt to key \"%s\" of organisation \"%s\"",
		     er->invalid_recipients->fpr ? er->invalid_recipients->fpr : "?",
		     to);
		goto out;
	}
	if (sr && sr->invalid_signers) {
		gerr(err, TMERR_SYS, sr->invalid_signers->reason,
		     "cannot sign with this gateway's key \"%s\"", res->signer);
		goto out;
	}
	if (o->werrno) {
		tmerr_set(err, TMERR_SYS, "cannot write the package: %s",
			  strerror(o->werrno));
		goto out;
	}
	if (e) {
		gerr(err, TMERR_SYS, e, "cannot sign and encrypt the payload");
		goto out;
	}
	for (gpgme_new_signature_t s = sr ? sr->signatures : NULL; s; s = s->next)
		nsig++;
	if (nsig != 1) {
		tmerr_set(err, TMERR_SYS, "gpg made %d signatures instead of one",
			  nsig);
		goto out;
	}
	rc = 0;
out:
	gpgme_data_release(plain);
	gpgme_data_release(cipher);
	unref_keys(rcpt);
	gpgme_key_unref(own);
	return rc;
}

int package_write(const struct gw_home *h, struct manifest *m,
		  const char *const *paths, const char *out,
		  struct package_out *res, struct tmerr *err)
{
	struct outsink o = { .fd = -1 };
	struct feeder f = { .m = m, .paths = paths, .fd = -1 };
	char tmp[sizeof(res->path) + 32];
	gpgme_ctx_t ctx = NULL;
	pthread_t th;
	int p[2] = { -1, -1 }, started = 0, rc = -1, made = 0;

	memset(res, 0, sizeof(*res));
	tmerr_clear(&f.err);
	sha256_init(&o.sha);
	if (out_path(out, m, res->path, sizeof(res->path), err) ||
	    keys_ctx(h, &ctx, err) ||
	    out_tmp(res->path, tmp, sizeof(tmp), &o.fd, err))
		goto out;
	made = 1;
	if (pipe2(p, O_CLOEXEC)) {
		tmerr_set(err, TMERR_SYS, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES); /* fewer wake-ups; optional */
	f.fd = p[1];
	if ((errno = pthread_create(&th, NULL, feed, &f))) {
		tmerr_set(err, TMERR_SYS, "cannot start the payload writer: %s",
			  strerror(errno));
		goto out;
	}
	started = 1;
	p[1] = -1; /* the feeder closes it */
	rc = encrypt_sign(h, ctx, m->recipient, p[0], &o, res, err);
	close(p[0]); /* unblocks a feeder gpg stopped reading */
	p[0] = -1;
	pthread_join(th, NULL);
	started = 0;
	if (f.rc && !(rc && f.sink_errno == EPIPE)) {
		/* the payload's error explains more than gpg's */
		*err = f.err;
		rc = -1;
	}
	if (rc)
		goto out;
	rc = -1;
	if (fsync(o.fd) || close(o.fd)) {
		o.fd = -1;
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", res->path,
			  strerror(errno));
		goto out;
	}
	o.fd = -1;
	if (link(tmp, res->path)) {
		tmerr_set(err, errno == EEXIST ? TMERR_USAGE : TMERR_SYS,
			  "cannot create \"%s\": %s", res->path, strerror(errno));
		goto out;
	}
	sha256_final_hex(&o.sha, res->sha256);
	res->bytes = o.bytes;
	rc = 0;
out:
	if (started) {
		if (p[0] >= 0)
			close(p[0]);
		p[0] = -1;
		pthread_join(th, NULL);
	}
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (o.fd >= 0)
		close(o.fd);
	if (made)
		unlink(tmp);
	gpgme_release(ctx);
	return rc;
}

/* ---- verifying ------------------------------------------------------------ */

/* The ciphertext read by GPGME, hashed as it goes. */
struct insrc {
	int fd;
	struct sha256 sha;
	unsigned long long bytes;
};

static ssize_t in_read(void *handle, void *buf, size_t n)
{
	struct insrc *s = handle;
	ssize_t r;

	do
		r = read(s->fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		sha256_update(&s->sha, buf, (size_t)r);
		s->bytes += (unsigned long long)r;
	}
	return r;
}

/* The plaintext written by GPGME to the spool file, capped. */
struct spool {
	int fd;
	int werrno;
	int over;
	unsigned long long bytes, cap;
	const struct insrc *in;
};

static ssize_t spool_write(void *handle, const void *buf, size_t n)
{
	struct spool *s = handle;
	unsigned long long lim = s->in->bytes * PACKAGE_MAX_PLAIN_RATIO;

	if (lim < PACKAGE_PLAIN_GRACE)
		lim = PACKAGE_PLAIN_GRACE;
	if (lim > s->cap)
		lim = s->cap;
	if (s->bytes + n > lim) {
		s->over = 1;
		errno = EFBIG;
		return -1;
	}
	if (write_all(s->fd, buf, n)) {
		s->werrno = errno;
		return -1;
	}
	s->bytes += n;
	return (ssize_t)n;
}

/* 1 when the message was encrypted to a key we hold. */
static int for_us(gpgme_decrypt_result_t d)
{
	for (gpgme_recipient_t r = d ? d->recipients : NULL; r; r = r->next)
		if (gpgme_err_code(r->status) != GPG_ERR_NO_SECKEY)
			return 1;
	return 0;
}

static int check1_decrypt(gpgme_ctx_t ctx, gpgme_error_t e,
			  const struct spool *sp, struct tmerr *err)
{
	gpgme_decrypt_result_t d = gpgme_op_decrypt_result(ctx);

	if (sp->over)
		return tmerr_set(err, TMERR_LIMIT,
				 "check 1 (integrity): the decrypted payload is over %llu bytes per package byte or %llu bytes in all",
				 PACKAGE_MAX_PLAIN_RATIO, sp->cap);
	if (sp->werrno)
		return tmerr_set(err, TMERR_SYS, "cannot write the spool file: %s",
				 strerror(sp->werrno));
	/* a damaged message fails with "no data" too, after its recipients */
	if (e && (!d || !d->recipients) && gpgme_err_code(e) == GPG_ERR_NO_DATA)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): not encrypted: no OpenPGP encrypted data (a signed-only or plain message is refused)");
	if (e && (gpgme_err_code(e) == GPG_ERR_NO_SECKEY ||
		  (d && d->recipients && !for_us(d))))
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): not encrypted to this gateway's key (%s)",
				 gpgme_strerror(e));
	if (e)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (integrity): decryption failed: the file is damaged, truncated or altered (%s)",
				 gpgme_err_code(e) == GPG_ERR_NO_DATA ?
				 "unreadable OpenPGP data" : gpgme_strerror(e));
	if (!d || !for_us(d))
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): not encrypted to this gateway's key");
	if (d->legacy_cipher_nomdc)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (integrity): the message has no integrity protection (MDC)");
	if (d->unsupported_algorithm)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (integrity): unsupported cipher \"%s\"",
				 d->unsupported_algorithm);
	return 0;
}

static int check1_signature(const struct gw_home *h, gpgme_ctx_t ctx,
			    struct package_info *info, struct tmerr *err)
{
	gpgme_verify_result_t v = gpgme_op_verify_result(ctx);
	gpgme_signature_t s;
	const char *fpr;
	int n = 0;

	for (s = v ? v->signatures : NULL; s; s = s->next)
		n++;
	if (!n)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): the package is encrypted but not signed");
	if (n > 1)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): the package carries %d signatures; exactly one is required",
				 n);
	s = v->signatures;
	fpr = s->fpr ? s->fpr : "";
	if (gpgme_err_code(s->status) == GPG_ERR_BAD_SIGNATURE ||
	    (s->summary & GPGME_SIGSUM_RED && !(s->summary &
		(GPGME_SIGSUM_KEY_REVOKED | GPGME_SIGSUM_KEY_EXPIRED |
		 GPGME_SIGSUM_SIG_EXPIRED))))
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): bad signature by \"%.40s\"", fpr);
	if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): unknown signer \"%.40s\": not in the trust store",
				 fpr);
	/* the trust store's verdict names the reason best (retired, ...) */
	if (keys_signer_org(h, ctx, fpr, info->signer_org, err))
		return prefix(err, "check 1 (signature): ");
	if (!(s->summary & GPGME_SIGSUM_VALID) || (s->summary & GPGME_SIGSUM_RED) ||
	    s->status)
		return tmerr_set(err, TMERR_INPUT,
				 "check 1 (signature): the signature by \"%.40s\" is not valid (summary 0x%x, %s)",
				 fpr, (unsigned)s->summary, gpgme_strerror(s->status));
	snprintf(info->signer_fpr, sizeof(info->signer_fpr), "%s", fpr);
	info->signed_at = (long long)s->timestamp;
	return 0;
}

static int check2(const struct gw_home *h, const struct manifest *m,
		  const struct package_info *info, struct tmerr *err)
{
	if (strcmp(m->sender, info->signer_org))
		return tmerr_set(err, TMERR_INPUT,
				 "check 2 (sender): the manifest's sender \"%s\" is not the signer's organisation \"%s\"",
				 m->sender, info->signer_org);
	if (strcmp(m->recipient, h->org))
		return tmerr_set(err, TMERR_INPUT,
				 "check 2 (recipient): the package is for \"%s\", not this gateway (\"%s\")",
				 m->recipient, h->org);
	return 0;
}

/*
 * The manifest (the payload's first entry) from the spool file, so that
 * check 2 runs before check 3. Returns 0 with m filled, or -1 when it is not
 * readable as one: then check 3 finds and reports why.
 */
static int peek_manifest(int fd, struct manifest *m)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct tmerr ignored;
	const char *name;
	char *xml = NULL;
	la_int64_t size;
	size_t got = 0;
	int rc = -1;

	manifest_init(m);
	if (!a || lseek(fd, 0, SEEK_SET))
		goto out;
	if (archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK)
		goto out;
	name = archive_entry_pathname(e);
	if (name && !strncmp(name, "./", 2))
		name += 2;
	size = archive_entry_size(e);
	if (!name || strcmp(name, MANIFEST_NAME) ||
	    archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e) ||
	    size < 0 || size > MANIFEST_MAX_BYTES)
		goto out;
	xml = malloc((size_t)size + 1);
	if (!xml)
		goto out;
	while (got < (size_t)size) {
		la_ssize_t r = archive_read_data(a, xml + got, (size_t)size - got);

		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	tmerr_clear(&ignored);
	rc = manifest_parse(xml, got, m, &ignored);
out:
	free(xml);
	if (a)
		archive_read_free(a);
	return rc;
}

struct fdin {
	int fd;
};

static ssize_t fd_read(void *ctx, void *dst, size_t n)
{
	struct fdin *f = ctx;
	ssize_t r;

	do
		r = read(f->fd, dst, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int check3(int fd, const char *path, const struct payload_limits *l,
		  const char *extract_dir, struct manifest *m, struct tmerr *err)
{
	struct fdin f = { fd };
	struct input in = { fd_read, &f, path };

	if (lseek(fd, 0, SEEK_SET))
		return tmerr_set(err, TMERR_SYS, "cannot rewind the spool file: %s",
				 strerror(errno));
	return payload_verify(&in, l, m, extract_dir, err);
}

int package_verify(const struct gw_home *h, const char *path,
		   const struct payload_limits *l, const char *extract_dir,
		   struct package_info *info, struct tmerr *err)
{
	struct gpgme_data_cbs incbs = { in_read, NULL, NULL, NULL };
	struct gpgme_data_cbs outcbs = { NULL, spool_write, NULL, NULL };
	struct insrc src = { .fd = -1 };
	struct spool sp = { .fd = -1, .cap = PACKAGE_MAX_PLAIN, .in = &src };
	gpgme_data_t cipher = NULL, plain = NULL;
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t e;
	struct manifest pm;
	struct stat st;
	char tmpl[4096], own[41], block[65536];
	int rc = -1, peeked;

	memset(info, 0, sizeof(*info));
	manifest_init(&info->m);
	manifest_init(&pm);
	sha256_init(&src.sha);
	if (!*h->org)
		return tmerr_set(err, TMERR_USAGE,
				 "gateway home \"%s\" has no organisation (\"tmisgw keys init\" sets it)",
				 h->dir);
	src.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0)
		return tmerr_set(err, TMERR_INPUT, "cannot open \"%s\": %s", path,
				 strerror(errno));
	if (fstat(src.fd, &st) || !S_ISREG(st.st_mode)) {
		tmerr_set(err, TMERR_INPUT, "\"%s\" is not a regular file", path);
		goto out;
	}
	if ((size_t)snprintf(tmpl, sizeof(tmpl), "%s/.verify-XXXXXX", h->spool) >=
	    sizeof(tmpl)) {
		tmerr_set(err, TMERR_USAGE, "spool path \"%.200s\" is too long", h->spool);
		goto out;
	}
	sp.fd = mkostemp(tmpl, O_CLOEXEC);
	if (sp.fd < 0) {
		tmerr_set(err, TMERR_SYS, "cannot create a spool file in \"%s\": %s",
			  h->spool, strerror(errno));
		goto out;
	}
	unlink(tmpl); /* anonymous from here: nothing to clean up, ever */
	if (keys_ctx(h, &ctx, err) || keys_own(h, ctx, own, err))
		goto out;
	e = gpgme_data_new_from_cbs(&cipher, &incbs, &src);
	if (!e)
		e = gpgme_data_new_from_cbs(&plain, &outcbs, &sp);
	if (e) {
		gerr(err, TMERR_SYS, e, "cannot set up gpg to decrypt");
		goto out;
	}
	/* check 1: all of the message, its MDC and signature, before any use */
	e = gpgme_op_decrypt_verify(ctx, cipher, plain);
	if (check1_decrypt(ctx, e, &sp, err) ||
	    check1_signature(h, ctx, info, err))
		goto out;
	for (ssize_t r; (r = in_read(&src, block, sizeof(block))) != 0;)
		if (r < 0) {
			tmerr_set(err, TMERR_INPUT, "cannot read \"%s\": %s", path,
				  strerror(errno));
			goto out;
		}
	sha256_final_hex(&src.sha, info->sha256);
	info->bytes = src.bytes;
	/* check 2 on the manifest alone, then check 3 over everything */
	peeked = !peek_manifest(sp.fd, &pm);
	if (peeked && check2(h, &pm, info, err))
		goto out;
	/* unpeekable: check 3 says why, before anything is extracted */
	if (!peeked && extract_dir &&
	    (check3(sp.fd, path, l, NULL, &pm, err) || check2(h, &pm, info, err)))
		goto out;
	if (check3(sp.fd, path, l, extract_dir, &info->m, err))
		goto out;
	if (!peeked && !extract_dir && check2(h, &info->m, info, err))
		goto out;
	rc = 0;
out:
	manifest_free(&pm);
	gpgme_data_release(cipher);
	gpgme_data_release(plain);
	gpgme_release(ctx);
	if (sp.fd >= 0)
		close(sp.fd);
	if (src.fd >= 0)
		close(src.fd);
	if (rc) {
		manifest_free(&info->m);
		if (!err->file[0])
			tmerr_where(err, path, 0, 0);
	}
	return rc;
}

void package_info_free(struct package_info *info)
{
	if (info)
		manifest_free(&info->m);
}
