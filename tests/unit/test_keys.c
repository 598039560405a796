#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../etl/home.h"
#include "../../etl/keys.h"

/* A throw-away gateway home with a key for org, under a short /tmp path. */
struct fixture {
	char base[64];
	struct gw_home h;
	char fpr[41];
};

static void fx_open(struct fixture *fx, const char *org)
{
	char dir[128];
	struct tmerr err;

	tmerr_clear(&err);
	strcpy(fx->base, "/tmp/tmku.XXXXXX");
	assert_non_null(mkdtemp(fx->base));
	snprintf(dir, sizeof(dir), "%s/h", fx->base);
	assert_int_equal(home_open(&fx->h, dir, 1, &err), 0);
	assert_int_equal(keys_init(&fx->h, org, fx->fpr, &err), 0);
	assert_int_equal(strlen(fx->fpr), 40);
}

static void fx_close(struct fixture *fx)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "gpgconf --homedir '%s' --kill all >/dev/null 2>&1; rm -rf '%s'",
		 fx->h.gnupg, fx->base);
	assert_int_equal(system(cmd), 0);
	home_close(&fx->h);
}

/* Trust the home's own public key for org (export to a file, then trust). */
static void trust_self(struct fixture *fx, const char *org)
{
	char path[128], fpr[41];
	struct tmerr err;
	FILE *f;

	tmerr_clear(&err);
	snprintf(path, sizeof(path), "%s/self.asc", fx->base);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(keys_export(&fx->h, f, &err), 0);
	fclose(f);
	assert_int_equal(keys_trust(&fx->h, org, path, fpr, &err), 0);
	assert_string_equal(fpr, fx->fpr);
}

/* Sign a small buffer with the home's key; fpr gets what GPGME reports. */
static void sign_and_verify(gpgme_ctx_t ctx, char fpr[41])
{
	static const char text[] = "teacher data\n";
	gpgme_data_t in, sig, plain;
	gpgme_verify_result_t vr;

	assert_int_equal(gpgme_data_new_from_mem(&in, text, sizeof(text) - 1, 0), 0);
	assert_int_equal(gpgme_data_new(&sig), 0);
	assert_int_equal(gpgme_op_sign(ctx, in, sig, GPGME_SIG_MODE_NORMAL), 0);
	assert_int_equal(gpgme_data_seek(sig, 0, SEEK_SET), 0);
	assert_int_equal(gpgme_data_new(&plain), 0);
	assert_int_equal(gpgme_op_verify(ctx, sig, NULL, plain), 0);
	vr = gpgme_op_verify_result(ctx);
	assert_non_null(vr);
	assert_non_null(vr->signatures);
	assert_null(vr->signatures->next);
	/* the home's own key is ultimately trusted */
	assert_true(vr->signatures->summary & GPGME_SIGSUM_VALID);
	assert_int_equal(strlen(vr->signatures->fpr), 40);
	memcpy(fpr, vr->signatures->fpr, 41);
	gpgme_data_release(in);
	gpgme_data_release(sig);
	gpgme_data_release(plain);
}

/* Sign text with a's key and encrypt it to b's key; the result in *out. */
static void sign_encrypt(struct fixture *a, struct fixture *b, gpgme_data_t *out)
{
	static const char text[] = "teacher data\n";
	gpgme_key_t rcpt[2] = { NULL, NULL };
	struct tmerr err;
	gpgme_ctx_t ctx;
	gpgme_data_t in;

	tmerr_clear(&err);
	assert_int_equal(keys_ctx(&a->h, &ctx, &err), 0);
	assert_int_equal(gpgme_get_key(ctx, b->fpr, &rcpt[0], 0), 0);
	assert_int_equal(gpgme_data_new_from_mem(&in, text, sizeof(text) - 1, 0), 0);
	assert_int_equal(gpgme_data_new(out), 0);
	/* no GPGME_ENCRYPT_ALWAYS_TRUST: the trusted key must be valid */
	assert_int_equal(gpgme_op_encrypt_sign(ctx, rcpt, 0, in, *out), 0);
	assert_int_equal(gpgme_data_seek(*out, 0, SEEK_SET), 0);
	gpgme_key_unref(rcpt[0]);
	gpgme_data_release(in);
	gpgme_release(ctx);
}

/* Decrypt and verify in b's home; returns the summary, fpr what signed. */
static unsigned decrypt_verify(struct fixture *b, gpgme_data_t msg, char fpr[41])
{
	gpgme_verify_result_t vr;
	struct tmerr err;
	gpgme_ctx_t ctx;
	gpgme_data_t plain;
	unsigned sum;

	tmerr_clear(&err);
	assert_int_equal(keys_ctx(&b->h, &ctx, &err), 0);
	assert_int_equal(gpgme_data_new(&plain), 0);
	assert_int_equal(gpgme_op_decrypt_verify(ctx, msg, plain), 0);
	vr = gpgme_op_verify_result(ctx);
	assert_non_null(vr);
	assert_non_null(vr->signatures);
	assert_null(vr->signatures->next);
	sum = vr->signatures->summary;
	memcpy(fpr, vr->signatures->fpr, 41);
	gpgme_data_release(plain);
	gpgme_release(ctx);
	return sum;
}

static void export_to(struct fixture *fx, char path[128])
{
	struct tmerr err;
	FILE *f;

	tmerr_clear(&err);
	snprintf(path, 128, "%s/pub.asc", fx->base);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(keys_export(&fx->h, f, &err), 0);
	assert_int_equal(fclose(f), 0);
}

static int signer(struct fixture *fx, const char *fpr, char org[16],
		  struct tmerr *err)
{
	gpgme_ctx_t ctx;
	int r;

	tmerr_clear(err);
	assert_int_equal(keys_ctx(&fx->h, &ctx, err), 0);
	r = keys_signer_org(&fx->h, ctx, fpr, org, err);
	gpgme_release(ctx);
	return r;
}

/* Unknown, then trusted, then retired. */
static void t_signer_org(void **state)
{
	struct fixture fx;
	struct tmerr err;
	gpgme_ctx_t ctx;
	char sfpr[41], org[16], lower[41];

	(void)state;
	fx_open(&fx, "410000");
	tmerr_clear(&err);
	assert_int_equal(keys_ctx(&fx.h, &ctx, &err), 0);
	sign_and_verify(ctx, sfpr);
	gpgme_release(ctx);
	assert_string_equal(sfpr, fx.fpr);

	assert_int_equal(signer(&fx, sfpr, org, &err), -1);
	assert_non_null(strstr(err.msg, "unknown signer"));
	assert_string_equal(org, "");

	trust_self(&fx, "410000");
	assert_int_equal(signer(&fx, sfpr, org, &err), 0);
	assert_string_equal(org, "410000");
	for (int i = 0; i < 41; i++)
		lower[i] = (char)(sfpr[i] >= 'A' && sfpr[i] <= 'F' ? sfpr[i] + 32 : sfpr[i]);
	assert_int_equal(signer(&fx, lower, org, &err), 0);
	assert_string_equal(org, "410000");

	/* short key IDs are never accepted */
	assert_int_equal(signer(&fx, sfpr + 24, org, &err), -1);
	assert_non_null(strstr(err.msg, "unknown signer"));
	assert_int_equal(signer(&fx, "0123456789ABCDEF0123456789ABCDEF01234567", org,
				&err), -1);
	assert_non_null(strstr(err.msg, "unknown signer"));

	assert_int_equal(keys_retire(&fx.h, "410000", sfpr, &err), 0);
	assert_int_equal(signer(&fx, sfpr, org, &err), -1);
	assert_non_null(strstr(err.msg, "retired"));
	assert_int_equal(err.code, TMERR_INPUT);
	fx_close(&fx);
}

/* GPGME reports the signing subkey; it maps to the bound primary key. */
static void t_signing_subkey(void **state)
{
	struct fixture fx;
	struct tmerr err;
	gpgme_ctx_t ctx;
	gpgme_key_t key;
	char sfpr[41], org[16];

	(void)state;
	fx_open(&fx, "P00001");
	tmerr_clear(&err);
	assert_int_equal(keys_ctx(&fx.h, &ctx, &err), 0);
	assert_int_equal(gpgme_get_key(ctx, fx.fpr, &key, 1), 0);
	assert_int_equal(gpgme_op_createsubkey(ctx, key, "ed25519", 0, 86400,
					       GPGME_CREATE_SIGN | GPGME_CREATE_NOPASSWD), 0);
	gpgme_key_unref(key);
	sign_and_verify(ctx, sfpr);
	gpgme_release(ctx);
	assert_string_not_equal(sfpr, fx.fpr);

	trust_self(&fx, "P00001");
	assert_int_equal(signer(&fx, sfpr, org, &err), 0);
	assert_string_equal(org, "P00001");
	fx_close(&fx);
}

static void t_expired(void **state)
{
	struct fixture fx;
	struct tmerr err;
	gpgme_ctx_t ctx;
	gpgme_key_t key;
	char org[16];

	(void)state;
	fx_open(&fx, "420000");
	trust_self(&fx, "420000");
	assert_int_equal(signer(&fx, fx.fpr, org, &err), 0);
	assert_int_equal(keys_ctx(&fx.h, &ctx, &err), 0);
	assert_int_equal(gpgme_get_key(ctx, fx.fpr, &key, 1), 0);
	assert_int_equal(gpgme_op_setexpire(ctx, key, 1, NULL, 0), 0);
	gpgme_key_unref(key);
	gpgme_release(ctx);
	sleep(2);
	assert_int_equal(signer(&fx, fx.fpr, org, &err), -1);
	assert_non_null(strstr(err.msg, "has expired"));
	assert_string_equal(org, "");
	fx_close(&fx);
}

/* Import the revocation certificate gpg wrote when the key was made. */
static void t_revoked(void **state)
{
	struct fixture fx;
	struct tmerr err;
	gpgme_ctx_t ctx;
	gpgme_data_t d;
	char path[256], line[256], org[16];
	char *cert = NULL;
	size_t len = 0;
	FILE *f, *m;

	(void)state;
	fx_open(&fx, "430000");
	trust_self(&fx, "430000");
	snprintf(path, sizeof(path), "%s/openpgp-revocs.d/%s.rev", fx.h.gnupg, fx.fpr);
	f = fopen(path, "r");
	assert_non_null(f);
	m = open_memstream(&cert, &len);
	assert_non_null(m);
	while (fgets(line, sizeof(line), f))
		fputs(line[0] == ':' && line[1] == '-' ? line + 1 : line, m);
	fclose(f);
	fclose(m);
	tmerr_clear(&err);
	assert_int_equal(keys_ctx(&fx.h, &ctx, &err), 0);
	assert_int_equal(gpgme_data_new_from_mem(&d, cert, len, 0), 0);
	assert_int_equal(gpgme_op_import(ctx, d), 0);
	gpgme_data_release(d);
	gpgme_release(ctx);
	free(cert);
	assert_int_equal(signer(&fx, fx.fpr, org, &err), -1);
	assert_non_null(strstr(err.msg, "revoked"));
	fx_close(&fx);
}

/*
 * Province and centre: a partner key becomes valid in gpg's eyes only
 * through keys_trust, and keys_signer_org names its org.
 */
static void t_partner(void **state)
{
	struct fixture p, c;
	struct tmerr err;
	gpgme_data_t msg;
	char ppub[128], cpub[128], fpr[41], sfpr[41], org[16];

	(void)state;
	tmerr_clear(&err);
	fx_open(&p, "410000");
	fx_open(&c, "000000");
	export_to(&p, ppub);
	export_to(&c, cpub);
	assert_int_equal(keys_trust(&p.h, "000000", cpub, fpr, &err), 0);
	assert_string_equal(fpr, c.fpr);

	/* the centre has not trusted the province yet: signer unknown */
	sign_encrypt(&p, &c, &msg);
	decrypt_verify(&c, msg, sfpr);
	gpgme_data_release(msg);
	assert_string_equal(sfpr, p.fpr);
	assert_int_equal(signer(&c, sfpr, org, &err), -1);
	assert_non_null(strstr(err.msg, "unknown signer"));

	assert_int_equal(keys_trust(&c.h, "410000", ppub, fpr, &err), 0);
	sign_encrypt(&p, &c, &msg);
	assert_true(decrypt_verify(&c, msg, sfpr) & GPGME_SIGSUM_VALID);
	gpgme_data_release(msg);
	assert_int_equal(signer(&c, sfpr, org, &err), 0);
	assert_string_equal(org, "410000");
	/* trusting again is harmless */
	assert_int_equal(keys_trust(&c.h, "410000", ppub, fpr, &err), 0);
	assert_int_equal(signer(&c, sfpr, org, &err), 0);
	fx_close(&p);
	fx_close(&c);
}

static void t_home(void **state)
{
	struct fixture fx;
	struct tmerr err;
	struct gw_home h;
	struct trust_entry *t;
	char val[32], path[128], fpr[41];
	size_t n;
	FILE *f;

	(void)state;
	tmerr_clear(&err);
	unsetenv("TMISGW_HOME");
	assert_int_equal(home_open(&h, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "no gateway home"));
	home_close(&h);
	assert_int_equal(home_open(&h, "/nonexistent/tmisgw", 0, &err), -1);
	home_close(&h);

	assert_true(home_org_valid("000000"));
	assert_true(home_org_valid("P00001"));
	assert_false(home_org_valid("41000"));
	assert_false(home_org_valid("4100000"));
	assert_false(home_org_valid("p00001"));

	fx_open(&fx, "410000");
	assert_string_equal(fx.h.org, "");  /* opened before keys_init */
	assert_int_equal(home_open(&h, fx.h.dir, 0, &err), 0);
	assert_string_equal(h.org, "410000");
	home_close(&h);
	assert_int_equal(home_config_set(&fx.h, "listen", "127.0.0.1:8443", &err), 0);
	assert_int_equal(home_config_get(&fx.h, "listen", val, sizeof(val), &err), 1);
	assert_string_equal(val, "127.0.0.1:8443");
	assert_int_equal(home_config_get(&fx.h, "org", val, sizeof(val), &err), 1);
	assert_string_equal(val, "410000");
	assert_int_equal(home_config_get(&fx.h, "none", val, sizeof(val), &err), 0);
	assert_int_equal(keys_init(&fx.h, "410000", fpr, &err), -1);
	assert_non_null(strstr(err.msg, "already has a key"));

	assert_int_equal(keys_list(&fx.h, &t, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(keys_retire(&fx.h, "410000", fx.fpr, &err), -1);
	assert_non_null(strstr(err.msg, "no key"));
	trust_self(&fx, "410000");
	assert_int_equal(keys_list(&fx.h, &t, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].org, "410000");
	assert_string_equal(t[0].fpr, fx.fpr);
	assert_string_equal(t[0].status, "active");
	assert_string_equal(t[0].retired, "");
	free(t);

	/* a damaged store is an error naming the line, never half-read */
	snprintf(path, sizeof(path), "%s/trust.tsv", fx.h.dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("410000\tABCD\tactive\t2026-01-01T00:00:00Z\t\n", f);
	fclose(f);
	assert_int_equal(keys_list(&fx.h, &t, &n, &err), -1);
	assert_non_null(strstr(err.msg, "malformed trust store"));
	assert_int_equal(err.line, 3);
	assert_null(t);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_home),
		cmocka_unit_test(t_signer_org),
		cmocka_unit_test(t_partner),
		cmocka_unit_test(t_signing_subkey),
		cmocka_unit_test(t_expired),
		cmocka_unit_test(t_revoked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
