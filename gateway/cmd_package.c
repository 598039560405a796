#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../etl/export.h"
#include "../etl/home.h"
#include "../etl/package.h"
#include "../etl/receive.h"
#include "cli.h"

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

static int fail(struct tmerr *err, struct gw_home *h)
{
	report_error(err);
	home_close(h);
	return exit_code_for(err);
}

static int parse_seq(const char *s, long long *v)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || *end || *v < 1 ? -1 : 0;
}

/* pack --from-db: the sender's scope from the database (etl/export.h). */
static int pack_from_db(struct ctx *c, const char *out)
{
	const char *seq = arg_get(c, "seq");
	struct export_opts o = {
		.defs = c->defs,
		.to = arg_get(c, "to"),
		.kind = arg_get(c, "kind"),
		.categories = arg_get(c, "categories"),
		.out = out,
	};
	struct export_result res;
	struct gw_home h;
	struct tmerr err;
	char grp[50];

	tmerr_clear(&err);
	if (c->args.npos) {
		fprintf(stderr, "tmisgw pack: --from-db packs the database; FILEs (\"%s\") cannot be given with it\n",
			c->args.pos[0]);
		return EXIT_USAGE;
	}
	if (!o.to || !o.kind || !seq || !out) {
		fprintf(stderr, "tmisgw pack: --to ORG, --kind full|delta, --seq N and -o OUT are required\n");
		return EXIT_USAGE;
	}
	if (parse_seq(seq, &o.seq)) {
		fprintf(stderr, "tmisgw pack: bad --seq \"%s\" (want a whole number from 1)\n",
			seq);
		return EXIT_USAGE;
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err))
		return fail(&err, &h);
	if (export_pack(c->conn, &h, &o, &res, &err)) {
		manifest_free(&res.m);
		return fail(&err, &h);
	}
	fpr_grouped(res.pkg.signer, grp);
	printf("packed %zu file%s, %lld records, into %s\n", res.m.nfiles,
	       res.m.nfiles == 1 ? "" : "s", res.records, res.pkg.path);
	printf("  id         %s\n", res.m.id);
	printf("  sender     %s -> recipient %s, %s, sequence %lld\n",
	       res.m.sender, res.m.recipient, res.m.kind, res.m.sequence);
	printf("  scope      %s%s\n", *res.scope ? "province " : "everything",
	       res.scope);
	if (!strcmp(res.m.kind, "delta"))
		printf("  changes    since %lld upto %lld\n", res.since, res.upto);
	for (size_t i = 0; i < res.m.nfiles; i++)
		printf("  %-10s %s, %lld records\n", i ? "" : "files",
		       res.m.files[i].category, res.m.files[i].records);
	printf("  signed by  %s\n", grp);
	printf("  encrypted  to %u key%s of %s\n", res.pkg.nrecipients,
	       res.pkg.nrecipients == 1 ? "" : "s", res.m.recipient);
	printf("  package    %llu bytes, sha256 %s\n", res.pkg.bytes,
	       res.pkg.sha256);
	manifest_free(&res.m);
	home_close(&h);
	return EXIT_OK;
}

int cmd_pack(struct ctx *c)
{
	const char *out = arg_get(c, "out"), *to = arg_get(c, "to"),
		   *kind = arg_get(c, "kind"), *seq = arg_get(c, "seq");
	struct package_out res;
	struct manifest m;
	struct gw_home h;
	struct tmerr err;
	long long n, records = 0;
	char grp[50];

	tmerr_clear(&err);
	manifest_init(&m);
	if (arg_get(c, "from-db"))
		return pack_from_db(c, out);
	if (!to || !kind || !seq || !out || !c->args.npos) {
		fprintf(stderr, "tmisgw pack: --to ORG, --kind full|delta, --seq N, -o OUT and FILE... are required\n");
		return EXIT_USAGE;
	}
	if (parse_seq(seq, &n)) {
		fprintf(stderr, "tmisgw pack: bad --seq \"%s\" (want a whole number from 1)\n",
			seq);
		return EXIT_USAGE;
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    package_manifest(&h, &m, to, kind, n,
			     (const char *const *)c->args.pos,
			     (size_t)c->args.npos, &err) ||
	    package_write(&h, &m, (const char *const *)c->args.pos, out, &res,
			  &err)) {
		manifest_free(&m);
		return fail(&err, &h);
	}
	for (size_t i = 0; i < m.nfiles; i++)
		records += m.files[i].records;
	fpr_grouped(res.signer, grp);
	printf("packed %zu file%s, %lld records, into %s\n", m.nfiles,
	       m.nfiles == 1 ? "" : "s", records, res.path);
	printf("  id         %s\n", m.id);
	printf("  sender     %s -> recipient %s, %s, sequence %lld\n", m.sender,
	       m.recipient, m.kind, m.sequence);
	printf("  signed by  %s\n", grp);
	printf("  encrypted  to %u key%s of %s\n", res.nrecipients,
	       res.nrecipients == 1 ? "" : "s", m.recipient);
	printf("  package    %llu bytes, sha256 %s\n", res.bytes, res.sha256);
	manifest_free(&m);
	home_close(&h);
	return EXIT_OK;
}

static void print_summary(const struct package_info *p)
{
	const struct manifest *m = &p->m;
	char grp[50], when[32] = "?";
	time_t t = (time_t)p->signed_at;
	struct tm tm;
	int w = 4;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fpr_grouped(p->signer_fpr, grp);
	printf("package    %s\n", m->id);
	printf("sender     %s\n", m->sender);
	printf("recipient  %s\n", m->recipient);
	printf("kind       %s\n", m->kind);
	printf("sequence   %lld\n", m->sequence);
	printf("created    %s\n", m->created);
	printf("schema     %s\n", m->schema);
	printf("signed by  %s (organisation %s) at %s\n", grp, p->signer_org, when);
	printf("size       %llu bytes, sha256 %s\n", p->bytes, p->sha256);
	if (!strcmp(m->kind, "receipt"))
		printf("receipt    of %s: %s\n", m->original_id, m->outcome);
	for (size_t i = 0; i < m->nfiles; i++)
		if ((int)strlen(m->files[i].name) > w)
			w = (int)strlen(m->files[i].name);
	printf("files      %zu\n", m->nfiles);
	for (size_t i = 0; i < m->nfiles; i++)
		printf("  %-*s  %-16s %s  %lld records  %llu bytes  sha256 %s\n", w,
		       m->files[i].name, m->files[i].category, m->files[i].format,
		       m->files[i].records, m->files[i].bytes, m->files[i].sha256);
}

/* verify --db: what load would do with the package, read-only */
static int check4(PGconn *conn, const struct package_info *info)
{
	struct check4 c4;
	struct tmerr err;

	tmerr_clear(&err);
	if (receive_check4(conn, info, &c4, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	switch (c4.verdict) {
	case C4_REFUSED:
		report_error(&err);
		return EXIT_INPUT;
	case C4_SEEN:
		printf("check 4: received before (%s, %s): load would answer with the same receipt and load nothing\n",
		       PQgetvalue(c4.seen, 0, 0), PQgetvalue(c4.seen, 0, 4));
		PQclear(c4.seen);
		return EXIT_OK;
	case C4_GAP:
		printf("check 4: sequence %lld is ahead of the stream, which expects %lld next: load would hold it\n",
		       info->m.sequence, c4.expected);
		return EXIT_HELD;
	default:
		printf("check 4 passed: a new package, sequence %lld is the next expected; load would apply it\n",
		       info->m.sequence);
		return EXIT_OK;
	}
}

int cmd_verify(struct ctx *c)
{
	struct package_info info;
	struct gw_home h;
	struct tmerr err;
	int rc;

	tmerr_clear(&err);
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    package_verify(&h, c->args.pos[0], NULL, NULL, &info, &err))
		return fail(&err, &h);
	print_summary(&info);
	printf("checks 1-3 passed (signature, sender and recipient, archive)\n");
	rc = c->conn ? check4(c->conn, &info) :
		(printf("check 4 (seen before, sequence) needs the database: give --db\n"), EXIT_OK);
	package_info_free(&info);
	home_close(&h);
	return rc;
}

/* 1 when dir is missing or empty, 0 when it has entries, -1 on errors. */
static int dir_empty(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (!dp)
		return errno == ENOENT ? 1 : -1;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			break;
	closedir(dp);
	return d ? 0 : 1;
}

int cmd_unpack(struct ctx *c)
{
	const char *out = arg_get(c, "out");
	struct package_info info;
	struct gw_home h;
	struct tmerr err;
	int e;

	tmerr_clear(&err);
	if (!out || c->args.npos != 1) {
		fprintf(stderr, "tmisgw unpack: expected PKG -o DIR\n");
		return EXIT_USAGE;
	}
	e = dir_empty(out);
	if (e <= 0) {
		if (e < 0)
			fprintf(stderr, "tmisgw: error: cannot read directory \"%s\": %s\n",
				out, strerror(errno));
		else
			fprintf(stderr, "tmisgw: error: \"%s\" is not empty; unpack needs a new or empty directory\n",
				out);
		return EXIT_USAGE;
	}
	if (home_open(&h, arg_get(c, "home"), 0, &err) ||
	    package_verify(&h, c->args.pos[0], NULL, out, &info, &err))
		return fail(&err, &h);
	print_summary(&info);
	printf("checks 1-3 passed; extracted manifest.xml and %zu file%s into %s\n",
	       info.m.nfiles, info.m.nfiles == 1 ? "" : "s", out);
	package_info_free(&info);
	home_close(&h);
	return EXIT_OK;
}
