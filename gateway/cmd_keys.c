#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../etl/home.h"
#include "../etl/keys.h"
#include "cli.h"

/* "ABCD 1234 ..." : ten groups of four. */
static void fpr_grouped(const char *fpr, char out[50])
{
	size_t k = 0;

	for (size_t i = 0; fpr[i] && i < 40; i++) {
		if (i && i % 4 == 0)
			out[k++] = ' ';
		out[k++] = fpr[i];
	}
	out[k] = '\0';
}

static void date_utc(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void expiry_text(gpgme_ctx_t ctx, const char *fpr, char out[48])
{
	struct key_state ks;
	struct tmerr err;
	char d[32];

	tmerr_clear(&err);
	if (keys_state(ctx, fpr, &ks, &err)) {
		strcpy(out, "?");
		return;
	}
	if (ks.missing) {
		strcpy(out, "not in keyring");
		return;
	}
	if (ks.revoked) {
		strcpy(out, "revoked");
		return;
	}
	if (!ks.expires) {
		strcpy(out, ks.expired ? "expired" : "never");
		return;
	}
	date_utc(ks.expires, d);
	snprintf(out, 48, "%s%s", d, ks.expired ? " (expired)" : "");
}

static int fail(struct tmerr *err, struct gw_home *h)
{
	report_error(err);
	home_close(h);
	return exit_code_for(err);
}

int cmd_keys_init(struct ctx *c)
{
	const char *org = arg_get(c, "org");
	struct gw_home h;
	struct tmerr err;
	gpgme_ctx_t g;
	char fpr[41], grp[50], exp[48];

	tmerr_clear(&err);
	if (!org) {
		fprintf(stderr, "tmisgw keys init: --org CODE is required\n");
		return EXIT_USAGE;
	}
	if (!home_org_valid(org)) {
		fprintf(stderr, "tmisgw keys init: bad organisation code \"%s\" (want 6 characters 0-9 A-Z)\n",
			org);
		return EXIT_USAGE;
	}
	if (home_open(&h, arg_get(c, "home"), 1, &err) ||
	    keys_init(&h, org, fpr, &err))
		return fail(&err, &h);
	fpr_grouped(fpr, grp);
	strcpy(exp, "?");
	if (!keys_ctx(&h, &g, &err)) {
		expiry_text(g, fpr, exp);
		gpgme_release(g);
	}
	printf("key created for organisation %s in %s\n", org, h.dir);
	printf("  fingerprint  %s\n  expires      %s\n", grp, exp);
	printf("give partners the output of \"tmisgw keys export\"\n");
	home_close(&h);
	return EXIT_OK;
}

int cmd_keys_export(struct ctx *c)
{
	struct gw_home h;
	struct tmerr err;

	tmerr_clear(&err);
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    keys_export(&h, stdout, &err))
		return fail(&err, &h);
	home_close(&h);
	return EXIT_OK;
}

int cmd_keys_trust(struct ctx *c)
{
	const char *org = arg_get(c, "org");
	struct gw_home h;
	struct tmerr err;
	char fpr[41], grp[50];

	tmerr_clear(&err);
	if (!org) {
		fprintf(stderr, "tmisgw keys trust: --org CODE is required\n");
		return EXIT_USAGE;
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    keys_trust(&h, org, c->args.pos[0], fpr, &err))
		return fail(&err, &h);
	fpr_grouped(fpr, grp);
	printf("trusted: organisation %s, key %s\n", org, grp);
	home_close(&h);
	return EXIT_OK;
}

int cmd_keys_retire(struct ctx *c)
{
	const char *org = arg_get(c, "org");
	struct gw_home h;
	struct tmerr err;
	char fpr[41], grp[50];

	tmerr_clear(&err);
	if (!org) {
		fprintf(stderr, "tmisgw keys retire: --org CODE is required\n");
		return EXIT_USAGE;
	}
	if (keys_fpr_norm(c->args.pos[0], fpr, &err)) {
		report_error(&err);
		return EXIT_USAGE;
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    keys_retire(&h, org, fpr, &err))
		return fail(&err, &h);
	fpr_grouped(fpr, grp);
	printf("retired: organisation %s, key %s\n", org, grp);
	home_close(&h);
	return EXIT_OK;
}

int cmd_keys_list(struct ctx *c)
{
	struct trust_entry *t = NULL;
	struct gw_home h;
	struct tmerr err;
	gpgme_ctx_t g;
	char fpr[41], grp[50], exp[48];
	size_t n;

	tmerr_clear(&err);
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    keys_list(&h, &t, &n, &err) || keys_ctx(&h, &g, &err)) {
		free(t);
		return fail(&err, &h);
	}
	if (keys_own(&h, g, fpr, &err)) {
		printf("this gateway: organisation %s, no key (\"tmisgw keys init\" makes one)\n",
		       *h.org ? h.org : "unset");
	} else {
		fpr_grouped(fpr, grp);
		expiry_text(g, fpr, exp);
		printf("this gateway: organisation %s, key %s, expires %s\n",
		       *h.org ? h.org : "unset", grp, exp);
	}
	if (!n) {
		printf("no partner keys trusted\n");
	} else {
		printf("\n%-6s  %-49s  %-7s  %-20s  %-20s  %s\n", "org", "fingerprint",
		       "status", "added", "retired", "expires");
		for (size_t i = 0; i < n; i++) {
			fpr_grouped(t[i].fpr, grp);
			expiry_text(g, t[i].fpr, exp);
			printf("%-6s  %-49s  %-7s  %-20s  %-20s  %s\n", t[i].org, grp,
			       t[i].status, t[i].added, *t[i].retired ? t[i].retired : "-",
			       exp);
		}
	}
	gpgme_release(g);
	free(t);
	home_close(&h);
	return EXIT_OK;
}
