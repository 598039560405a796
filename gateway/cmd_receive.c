#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../etl/home.h"
#include "../etl/receive.h"
#include "cli.h"

static void print_received(const struct receive_result *res,
			   const struct tmerr *err)
{
	const struct manifest *m = &res->info.m;
	const struct load_result *lr = &res->load;

	printf("package    %s from %s, %s, sequence %lld, %llu bytes\n", m->id,
	       m->sender, m->kind, m->sequence, res->info.bytes);
	if (!strcmp(res->state, "duplicate")) {
		printf("seen before: nothing loaded; the same receipt (%s) was sent again\n",
		       res->outcome);
	} else if (!strcmp(res->state, "held")) {
		printf("held: sequence %lld is expected first; this package is kept and applied in order once it arrives\n",
		       res->expected);
	} else if (!strcmp(res->state, "refused") || !strcmp(res->state, "failed")) {
		printf("%s: nothing loaded or recorded\n", !strcmp(res->state, "failed") ?
		       "failed, try again" : "refused");
	} else {
		printf("checks 1-4 passed; %s in %.2f s: %lld rows received, %lld loaded, %lld rejected (%s)\n",
		       !strcmp(res->state, "loaded") ? "loaded" :
		       "rejected by check 5, nothing loaded", lr->seconds,
		       res->received, res->loaded, res->rejected, res->outcome);
		if (!strcmp(res->state, "loaded") && lr->load_id)
			printf("load       %lld\n", lr->load_id);
		for (int i = 0; i < lr->nsample && i < 8; i++)
			printf("  rejected: %s\n", lr->sample[i]);
		if (!strcmp(res->state, "rejected"))
			printf("why        %s\n", err->msg);
	}
	if (*res->receipt)
		printf("receipt    %s\n", res->receipt);
}

int cmd_load_package(struct ctx *c, const char *path)
{
	const char *rate = arg_get(c, "max-reject-rate");
	struct receive_opts o = { .defs = c->defs, .max_reject_rate = -1 };
	struct receive_result *res = calloc(1, sizeof(*res));
	char next[4200], sender[16] = "";
	struct gw_home h;
	struct tmerr err;
	int rc = EXIT_OK;

	tmerr_clear(&err);
	if (!res)
		return EXIT_FAIL;
	if (arg_get(c, "mapping") || arg_get(c, "category") || arg_get(c, "profile") ||
	    arg_get(c, "mode") || arg_get(c, "dry-run") || arg_get(c, "indicators") ||
	    arg_get(c, "reject-file")) {
		fprintf(stderr, "tmisgw load: a package says its own categories and kind; --mapping, --category, --profile, --mode, --indicators, --reject-file and --dry-run do not apply (its receipt lists the rejects)\n");
		free(res);
		return EXIT_USAGE;
	}
	if (rate) {
		char *end;

		errno = 0;
		o.max_reject_rate = strtod(rate, &end);
		if (errno || *end || end == rate || o.max_reject_rate < 0 ||
		    o.max_reject_rate > 1) {
			fprintf(stderr, "tmisgw load: --max-reject-rate wants a number from 0 to 1, not \"%s\"\n",
				rate);
			free(res);
			return EXIT_USAGE;
		}
	}
	o.progress = !arg_get(c, "no-progress") && isatty(2);
	if (home_open(&h, arg_get(c, "home"), 0, &err)) {
		report_error(&err);
		free(res);
		return exit_code_for(&err);
	}
	for (;;) {
		int r = receive_package(c->conn, &h, path, &o, res, &err);

		if (res->verified || *res->state != 'r' || r == 0)
			print_received(res, &err);
		if (r) {
			if (strcmp(res->state, "rejected"))
				report_error(&err);
			rc = exit_code_for(&err);
		} else if (!strcmp(res->state, "held")) {
			rc = EXIT_HELD;
		}
		if (res->verified)
			snprintf(sender, sizeof(sender), "%s", res->info.m.sender);
		r = strcmp(res->state, "loaded") && strcmp(res->state, "rejected");
		receive_result_free(res);
		if (r)
			break;
		/* a package applied: the held ones after it may be due now */
		r = receive_next_held(c->conn, sender, next, sizeof(next), &err);
		if (r < 0) {
			report_error(&err);
			rc = exit_code_for(&err);
		}
		if (r <= 0)
			break;
		printf("\napplying the held package that is now due: %s\n", next);
		path = next;
	}
	home_close(&h);
	free(res);
	return rc;
}

/* ---- receipt show ------------------------------------------------------------ */

/*
 * Print a verified receipt: who answered, for which package, the outcome,
 * the counts per file and up to max (-1 all) rejected rows from
 * DIR/p/data/rejects.csv.
 */
void receipt_print(const struct package_info *ip, const char *dir, long long max)
{
	const struct package_info info = *ip;
	char rej[4300], *line = NULL;
	long long shown = 0;
	size_t cap = 0;
	FILE *f;

	printf("receipt    %s from %s (signed by %s), sequence %lld\n", info.m.id,
	       info.m.sender, info.signer_fpr, info.m.sequence);
	printf("for        package %s, sha256 %s\n", info.m.original_id,
	       info.m.original_sha256);
	printf("outcome    %s\n", info.m.outcome);
	printf("  %-32s %10s %10s %10s\n", "file", "received", "loaded", "rejected");
	{
		size_t empty = 0;

		for (size_t i = 0; i < info.m.ncounts; i++) {
			if (!info.m.counts[i].received) {
				empty++;
				continue;
			}
			printf("  %-32s %10lld %10lld %10lld\n", info.m.counts[i].name,
			       info.m.counts[i].received, info.m.counts[i].loaded,
			       info.m.counts[i].rejected);
		}
		if (empty)
			printf("  (and %zu file%s without records)\n", empty,
			       empty == 1 ? "" : "s");
	}
	snprintf(rej, sizeof(rej), "%s/p/data/rejects.csv", dir);
	f = fopen(rej, "r");
	if (f) {
		long long n = 0;

		while (getline(&line, &cap, f) > 0) {
			if (n++ == 0)
				continue;
			if (max < 0 || shown < max) {
				fputs("  ", stdout);
				fputs(line, stdout);
				shown++;
			}
		}
		fclose(f);
		free(line);
		if (n > 1)
			printf("rejects    %lld line%s in data/rejects.csv%s\n", n - 1,
			       n == 2 ? "" : "s",
			       shown < n - 1 ? " (more with --rejects -1, or unpack the receipt)" : "");
	}
}

int cmd_receipt_show(struct ctx *c)
{
	const char *lim = arg_get(c, "rejects");
	struct package_info info;
	struct gw_home h;
	struct tmerr err;
	char dir[4200], rej[4300];
	long long max = 20;
	int rc = EXIT_OK;

	tmerr_clear(&err);
	if (lim) {
		char *end;

		max = strtoll(lim, &end, 10);
		if (*end || end == lim || max < -1) {
			fprintf(stderr, "tmisgw receipt show: --rejects wants a number from -1, not \"%s\"\n",
				lim);
			return EXIT_USAGE;
		}
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	snprintf(dir, sizeof(dir), "%s/rcpt-%ld-XXXXXX", h.spool, (long)getpid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "tmisgw: error: cannot make a work directory in \"%s\": %s\n",
			h.spool, strerror(errno));
		home_close(&h);
		return EXIT_FAIL;
	}
	snprintf(rej, sizeof(rej), "%s/p", dir);
	if (package_verify(&h, c->args.pos[0], NULL, rej, &info, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
		goto out;
	}
	if (strcmp(info.m.kind, "receipt")) {
		fprintf(stderr, "tmisgw: error: \"%s\" is a package of kind \"%s\", not a receipt\n",
			c->args.pos[0], info.m.kind);
		package_info_free(&info);
		rc = EXIT_INPUT;
		goto out;
	}
	receipt_print(&info, dir, max);
	package_info_free(&info);
out:
	home_rm_tree(dir);
	home_close(&h);
	return rc;
}
