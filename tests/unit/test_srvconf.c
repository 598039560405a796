/*
 * test_srvconf: the server's configuration file (every key checked, errors
 * naming file, line and key) and its token files (mode 0600, names, hashing,
 * lookup). Each test works in its own mkdtemp directory.
 */
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

#include "../../etl/srvconf.h"

struct dir {
	char path[64];
	char conf[128];
	char tokens[128];
};

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void setup_dir(struct dir *d)
{
	char p[256];

	strcpy(d->path, "/tmp/test_srvconf.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->conf, sizeof(d->conf), "%s/serve.conf", d->path);
	snprintf(d->tokens, sizeof(d->tokens), "%s/tok", d->path);
	assert_int_equal(mkdir(d->tokens, 0700), 0);
	snprintf(p, sizeof(p), "%s/410000", d->tokens);
	put(p, "token-of-henan-0123456789\n", 0600);
	snprintf(p, sizeof(p), "%s/operator", d->tokens);
	put(p, "token-of-the-operator-xyz", 0600);
}

static void teardown_dir(struct dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

/* Write the configuration: the required keys, then extra lines. */
static void conf(const struct dir *d, const char *listen, const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "# test\nlisten %s\nhome /nonexistent/home\ndb dbname=x\ntokens %s\n%s",
		 listen, d->tokens, extra);
	put(d->conf, text, 0600);
}

static void expect_error(const struct dir *d, const char *want, long line)
{
	struct srvconf *c = calloc(1, sizeof(*c));
	struct tmerr err;

	assert_non_null(c);
	tmerr_clear(&err);
	assert_int_equal(srvconf_load(c, d->conf, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
	if (line >= 0)
		assert_int_equal(err.line, line);
	free(c);
}

static void test_good(void **state)
{
	struct srvconf *c = calloc(1, sizeof(*c));
	struct tmerr err;
	struct dir d;

	(void)state;
	assert_non_null(c);
	setup_dir(&d);
	conf(&d, "127.0.0.1:8443", "workers 3\nmax_upload 512M\ntimeout 5\nmax_reject_rate 0.05\n");
	tmerr_clear(&err);
	if (srvconf_load(c, d.conf, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(c->host, "127.0.0.1");
	assert_int_equal(c->port, 8443);
	assert_true(c->loopback);
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->max_upload, 512ULL << 20);
	assert_int_equal(c->timeout, 5);
	assert_int_equal(c->ntokens, 2);
	assert_string_equal(srvconf_who(c, "token-of-henan-0123456789", 25), "410000");
	assert_string_equal(srvconf_who(c, "token-of-the-operator-xyz", 25), "operator");
	assert_null(srvconf_who(c, "token-of-henan-012345678", 24));
	assert_null(srvconf_who(c, "", 0));
	/* IPv6 loopback */
	conf(&d, "[::1]:9000", "");
	assert_int_equal(srvconf_load(c, d.conf, &err), 0);
	assert_string_equal(c->host, "::1");
	assert_true(c->loopback);
	teardown_dir(&d);
	free(c);
}

static void test_errors(void **state)
{
	struct dir d;
	char p[256];

	(void)state;
	setup_dir(&d);
	conf(&d, "127.0.0.1:8443", "colour blue\n");
	expect_error(&d, "configuration key \"colour\": unknown key", 6);
	conf(&d, "127.0.0.1:8443", "workers many\n");
	expect_error(&d, "configuration key \"workers\": want 0 to 64", 6);
	conf(&d, "127.0.0.1:8443", "max_upload 12Q\n");
	expect_error(&d, "configuration key \"max_upload\"", 6);
	conf(&d, "localhost:8443", "");
	expect_error(&d, "configuration key \"listen\"", 2);
	conf(&d, "127.0.0.1:99999", "");
	expect_error(&d, "configuration key \"listen\"", 2);
	conf(&d, "10.0.0.5:8443", "");
	expect_error(&d, "plain HTTP is allowed on loopback only", -1);
	conf(&d, "127.0.0.1:8443", "tls_cert /etc/hostname\n");
	expect_error(&d, "tls_cert and tls_key go together", -1);
	conf(&d, "127.0.0.1:8443", "workers\n");
	expect_error(&d, "has no value", 6);
	put(d.conf, "listen 127.0.0.1:1\nhome /x\ndb x\n", 0600);
	expect_error(&d, "configuration key \"tokens\" is required", -1);

	/* token files */
	conf(&d, "127.0.0.1:8443", "");
	snprintf(p, sizeof(p), "%s/420000", d.tokens);
	put(p, "token-of-hubei-0123456789", 0644);
	expect_error(&d, "has mode 0644", -1);
	put(p, "short", 0600);
	expect_error(&d, "want one token", -1);
	put(p, "token-of-henan-0123456789", 0600);
	expect_error(&d, "repeats the token of", -1);
	unlink(p);
	snprintf(p, sizeof(p), "%s/henan", d.tokens);
	put(p, "token-of-hubei-0123456789", 0600);
	expect_error(&d, "name it by an organisation code", -1);
	teardown_dir(&d);
}

static void test_bytes(void **state)
{
	unsigned long long v;

	(void)state;
	assert_int_equal(srvconf_bytes("1024", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(srvconf_bytes("4G", &v), 0);
	assert_int_equal(v, 4ULL << 30);
	assert_int_equal(srvconf_bytes("64k", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(srvconf_bytes("", &v), -1);
	assert_int_equal(srvconf_bytes("G", &v), -1);
	assert_int_equal(srvconf_bytes("1GB", &v), -1);
	assert_int_equal(srvconf_bytes("99999999999999999999", &v), -1);
	assert_int_equal(srvconf_bytes("99999999999T", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
