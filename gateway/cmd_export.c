/*
 * export and import: linked-platform exports (etl/xprofile.h,
 * docs/profiles.md). export runs at the centre, import at the platform.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../etl/home.h"
#include "../etl/xprofile.h"
#include "cli.h"

static int fail(struct tmerr *err, struct gw_home *h)
{
	report_error(err);
	home_close(h);
	return exit_code_for(err);
}

static void print_masks(const struct xprofile *p)
{
	int any = 0;

	printf("  masked    ");
	for (size_t i = 0; i < p->ncats; i++) {
		const struct xprofile_cat *pc = &p->cats[i];

		for (size_t f = 0; f < pc->cat->nfields; f++)
			if (pc->mask[f]) {
				printf(" %s.%s", pc->cat->name, pc->cat->fields[f].name);
				any = 1;
			}
	}
	printf("%s\n", any ? "" : " nothing");
	if (p->pseudonym)
		printf("  key        %s (pseudonymous, per platform)\n", XPROFILE_REF);
}

int cmd_export(struct ctx *c)
{
	const char *out = arg_get(c, "out"), *org = arg_get(c, "profile"),
		   *since_s = arg_get(c, "since");
	struct xexport_result res;
	struct xprofile p;
	struct gw_home h;
	struct tmerr err;
	long long since = 0;

	tmerr_clear(&err);
	if (c->args.npos) {
		fprintf(stderr, "tmisgw export: unexpected argument \"%s\"\n",
			c->args.pos[0]);
		return EXIT_USAGE;
	}
	if (!org || !out) {
		fprintf(stderr, "tmisgw export: --profile ORG and -o OUT are required\n");
		return EXIT_USAGE;
	}
	if (since_s) {
		char *end;

		errno = 0;
		since = strtoll(since_s, &end, 10);
		if (errno || *end || end == since_s || *since_s < '0' ||
		    *since_s > '9') {
			fprintf(stderr, "tmisgw export: bad --since \"%s\" (want a change number, 0 or more)\n",
				since_s);
			return EXIT_USAGE;
		}
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err))
		return fail(&err, &h);
	if (xprofile_load(&p, c->defs, org, &err))
		return fail(&err, &h);
	if (xprofile_export(c->conn, &h, c->defs, &p, since, out, &res, &err)) {
		manifest_free(&res.m);
		xprofile_free(&p);
		return fail(&err, &h);
	}
	printf("exported %zu file%s, %lld records, for %s%s%s%s into %s\n",
	       res.m.nfiles, res.m.nfiles == 1 ? "" : "s", res.records,
	       p.platform, *p.name ? " (" : "", p.name, *p.name ? ")" : "",
	       res.pkg.path);
	printf("  id         %s, sequence %lld\n", res.m.id, res.m.sequence);
	printf("  changes    since %lld upto %lld\n", res.since, res.upto);
	for (size_t i = 0; i < res.m.nfiles; i++)
		printf("  %-10s %s, %lld records\n", i ? "" : "files",
		       res.m.files[i].category, res.m.files[i].records);
	printf("  scope     ");
	if (!p.nprovs)
		printf(" every province");
	else
		for (size_t i = 0; i < p.nprovs; i++)
			printf(" %s%s", i ? "" : "province ", p.provs[i]);
	for (size_t i = 0; i < p.nsets; i++)
		printf("%s%s", i ? " " : ", indicator sets ", p.sets[i]);
	printf("\n");
	print_masks(&p);
	printf("  encrypted  to %u key%s of %s\n", res.pkg.nrecipients,
	       res.pkg.nrecipients == 1 ? "" : "s", res.m.recipient);
	printf("  package    %llu bytes, sha256 %s\n", res.pkg.bytes,
	       res.pkg.sha256);
	manifest_free(&res.m);
	xprofile_free(&p);
	home_close(&h);
	return EXIT_OK;
}

int cmd_import(struct ctx *c)
{
	struct ximport_opts o = { .defs = c->defs, .files_dir = arg_get(c, "files") };
	struct ximport_result *res = calloc(1, sizeof(*res));
	struct gw_home h;
	struct tmerr err;
	int rc;

	tmerr_clear(&err);
	if (!res)
		return EXIT_FAIL;
	if (home_open(&h, arg_get(c, "home"), 0, &err)) {
		free(res);
		return fail(&err, &h);
	}
	rc = xprofile_import(c->conn, &h, c->args.pos[0], &o, res, &err);
	if (res->verified)
		printf("export     %s from %s, sequence %lld, %llu bytes\n",
		       res->info.m.id, res->info.m.sender, res->info.m.sequence,
		       res->info.bytes);
	if (rc) {
		if (res->verified)
			printf("%s: nothing imported or recorded\n", res->state);
		report_error(&err);
		rc = exit_code_for(&err);
	} else {
		printf("changes    since %lld upto %lld (%s)\n", res->since, res->upto,
		       res->since ? "delta" : "snapshot: replaces what was held");
		for (size_t i = 0; i < res->ncats; i++) {
			const struct ximport_cat *ic = &res->cats[i];

			if (o.files_dir)
				printf("  %-18s %lld rows\n", ic->category, ic->records);
			else
				printf("  %-18s %lld rows: %lld upserted, %lld deleted\n",
				       ic->category, ic->records, ic->upserts,
				       ic->deletes);
		}
		if (o.files_dir)
			printf("written    %s\n", res->files);
		else
			printf("imported   %lld rows into tmis.pull_record\n",
			       res->records);
		printf("next       ask for changes since %lld\n", res->upto);
		rc = EXIT_OK;
	}
	ximport_result_free(res);
	free(res);
	home_close(&h);
	return rc;
}
