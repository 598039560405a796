#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../adapters/adapter.h"
#include "../etl/check.h"
#include "../etl/dbsync.h"
#include "../etl/load.h"
#include "../etl/mapping.h"
#include "../etl/migrate.h"
#include "../etl/sample.h"
#include "cli.h"

/* --indicators FILE extends the definitions before any mapping compiles. */
static int load_indicators(struct ctx *c)
{
	const char *path = arg_get(c, "indicators");
	struct tmerr err;

	tmerr_clear(&err);
	if (!path || !defs_load_indicators(c->defs, path, &err))
		return 0;
	report_error(&err);
	return -1;
}

int exit_code_for(const struct tmerr *e)
{
	switch (e->code) {
	case TMERR_USAGE:
		return EXIT_USAGE;
	case TMERR_INPUT:
	case TMERR_MAPPING:
	case TMERR_LIMIT:
		return EXIT_INPUT;
	case TMERR_DB:
		return EXIT_DB;
	case TMERR_REJECT:
		return EXIT_REFUSED;
	default:
		return EXIT_FAIL;
	}
}

void report_error(const struct tmerr *e)
{
	char msg[2048];

	tmerr_format(e, msg, sizeof(msg));
	fprintf(stderr, "tmisgw: error: %s\n", msg);
}

void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* ---- db migrate ---------------------------------------------------------- */

int cmd_db_migrate(struct ctx *c)
{
	struct tmerr err;
	int applied = 0, current = 0;
	long ncodes = 0;

	tmerr_clear(&err);
	if (db_migrate(c->conn, migrate_default_dir(), &applied, &current, &err) ||
	    db_sync_defs(c->conn, c->defs, &ncodes, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (applied)
		printf("migrated: %d migration%s applied, schema now at version %d\n",
		       applied, applied == 1 ? "" : "s", current);
	else
		printf("schema is up to date at version %d\n", current);
	printf("code sets: %zu sets, %ld codes; %zu indicator sets\n",
	       c->defs->ncodesets, ncodes, c->defs->nsets);
	return EXIT_OK;
}

/* ---- load ---------------------------------------------------------------- */

static void print_counts(const char *name, const struct load_counts *k)
{
	printf("  %-18s %10lld %10lld %10lld %10lld %10lld %10lld\n", name, k->read,
	       k->inserted, k->updated, k->unchanged, k->rejected, k->superseded);
}

/* An exchange package: named *.tmx (or *.tmx.asc), or ASCII-armoured
 * OpenPGP. Binary content is not sniffed: a GB18030 CSV may start with any
 * byte. */
static int is_package(const char *path)
{
	static const char armour[] = "-----BEGIN PGP MESSAGE-----";
	size_t n = strlen(path);
	char head[sizeof(armour)] = "";
	FILE *f;

	if ((n > 4 && !strcmp(path + n - 4, ".tmx")) ||
	    (n > 8 && !strcmp(path + n - 8, ".tmx.asc")))
		return 1;
	f = fopen(path, "rb");
	if (!f)
		return 0;
	n = fread(head, 1, sizeof(armour) - 1, f);
	fclose(f);
	return n == sizeof(armour) - 1 && !memcmp(head, armour, n);
}

int cmd_load(struct ctx *c)
{
	struct load_opts o;
	struct load_result *res;
	struct tmerr err;
	const char *rate = arg_get(c, "max-reject-rate"), *mode;
	int rc;

	for (int i = 0; i < c->args.npos; i++)
		if (is_package(c->args.pos[i])) {
			if (c->args.npos != 1) {
				fprintf(stderr, "tmisgw load: \"%s\" is an exchange package; load one package at a time, on its own\n",
					c->args.pos[i]);
				return EXIT_USAGE;
			}
			return cmd_load_package(c, c->args.pos[0]);
		}
	if (arg_get(c, "home")) {
		fprintf(stderr, "tmisgw load: --home is for loading a package (PKG.tmx)\n");
		return EXIT_USAGE;
	}
	tmerr_clear(&err);
	memset(&o, 0, sizeof(o));
	o.defs = c->defs;
	o.mapping = arg_get(c, "mapping");
	o.category = arg_get(c, "category");
	o.reject_file = arg_get(c, "reject-file");
	o.dry_run = arg_get(c, "dry-run") != NULL;
	mode = arg_get(c, "mode");
	if (mode && strcmp(mode, "full") && strcmp(mode, "delta")) {
		fprintf(stderr, "tmisgw load: --mode is full or delta, not \"%s\"\n", mode);
		return EXIT_USAGE;
	}
	o.delta = mode && !strcmp(mode, "delta");
	o.progress = !arg_get(c, "no-progress") && isatty(2);
	o.max_reject_rate = -1;
	o.files = (const char *const *)c->args.pos;
	o.nfiles = (size_t)c->args.npos;
	o.profile = arg_get(c, "profile");
	if (!!o.mapping + !!o.category + !!o.profile > 1) {
		fprintf(stderr, "tmisgw load: give one of --mapping, --category, --profile\n");
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
			return EXIT_USAGE;
		}
	}
	if (load_indicators(c))
		return EXIT_INPUT;
	res = calloc(1, sizeof(*res));
	if (!res)
		return EXIT_FAIL;
	rc = load_files(c->conn, &o, res, &err);
	if (res->total.read || rc == 0) {
		printf("load %lld: %s in %.2f s\n", res->load_id,
		       !strcmp(res->status, "committed") ? "committed" :
		       !strcmp(res->status, "dry_run") ? "dry run, rolled back" :
		       !strcmp(res->status, "refused") ? "refused, nothing committed" :
		       "failed, nothing committed", res->seconds);
		printf("  %-18s %10s %10s %10s %10s %10s %10s\n", "category", "read",
		       "inserted", "updated", "unchanged", "rejected", "superseded");
		for (size_t i = 0; i < c->defs->ncats && i < LOAD_MAX_CATS; i++)
			if (res->cat[i].read)
				print_counts(c->defs->cats[i].name, &res->cat[i]);
		print_counts("total", &res->total);
		if (rc == 0 && res->total.read && !res->total.inserted &&
		    !res->total.updated && !res->total.superseded && res->total.unchanged)
			printf("  unchanged: every row matches what is stored\n");
		if (res->total.deleted)
			printf("  %lld row%s marked deleted (op=delete): kept as history / no longer reported\n",
			       res->total.deleted, res->total.deleted == 1 ? "" : "s");
		if (res->total.skipped)
			printf("  %lld row%s left out by mapping filters\n", res->total.skipped,
			       res->total.skipped == 1 ? "" : "s");
		for (int i = 0; i < res->nskipped_members && i < 8; i++)
			printf("  skipped bundle member %s: no mapping serves it\n",
			       res->skipped_members[i]);
		if (res->events_applied)
			printf("  change events moved or changed the status of %lld teacher%s\n",
			       res->events_applied, res->events_applied == 1 ? "" : "s");
		for (int i = 0; i < res->nsample; i++)
			printf("  reject %s\n", res->sample[i]);
		if (res->total.rejected > res->nsample)
			printf("  ... %lld rejects in all%s\n", res->total.rejected,
			       o.reject_file ? "; see the reject file" : "");
	}
	free(res);
	if (rc) {
		report_error(&err);
		return exit_code_for(&err);
	}
	return EXIT_OK;
}

/* ---- inspect ------------------------------------------------------------- */

static void print_reject(const struct tmerr *e, long line)
{
	printf("{\"reject\":{\"line\":%ld", e->line ? e->line : line);
	if (e->col)
		printf(",\"column\":%ld", e->col);
	printf(",\"field\":");
	json_str(stdout, e->field, strlen(e->field));
	printf(",\"rule\":");
	json_str(stdout, e->rule, strlen(e->rule));
	printf(",\"value\":");
	json_str(stdout, e->value, strlen(e->value));
	printf(",\"message\":");
	json_str(stdout, e->msg, strlen(e->msg));
	printf("}}\n");
}

int cmd_inspect(struct ctx *c)
{
	const char *file = c->args.pos[0], *mpath = arg_get(c, "mapping");
	const char *cat = arg_get(c, "category"), *lim = arg_get(c, "limit");
	int raw = arg_get(c, "raw") != NULL, quiet = arg_get(c, "count") != NULL;
	long nrej = 0, nskip = 0;
	struct mapping *m = NULL;
	const struct adapter *ad;
	struct adapter_handle *h = NULL;
	struct adapter_opts ao;
	struct input in;
	struct record rec;
	struct tmerr err;
	struct checker ck;
	struct row row;
	struct ymd today;
	const char *const *names;
	size_t nnames;
	long count = 0, limit = lim ? atol(lim) : -1;
	char path[4096];
	int rc = EXIT_OK, arc;

	tmerr_clear(&err);
	if (raw == (mpath || cat)) {
		fprintf(stderr, "tmisgw inspect: give --raw, or --mapping M / --category C\n");
		return EXIT_USAGE;
	}
	if (load_indicators(c))
		return EXIT_INPUT;
	if (!raw) {
		if (load_pick_mapping(c->defs, mpath, cat, file, path, sizeof(path), &err) ||
		    mapping_load(&m, path, c->defs, &err)) {
			report_error(&err);
			return exit_code_for(&err);
		}
		mapping_adapter_opts(m, &ao);
		ad = adapter_find(m->format);
	} else {
		memset(&ao, 0, sizeof(ao));
		ao.encoding = arg_get(c, "encoding");
		ao.has_header = 1;
		ao.delimiter = ',';
		ao.field_cap = ADAPTER_FIELD_CAP;
		ao.record_cap = ADAPTER_RECORD_CAP;
		ad = adapter_find("csv");
	}
	if (input_open_file(&in, file, &err)) {
		report_error(&err);
		mapping_free(m);
		return exit_code_for(&err);
	}
	if (ad->open(&h, &in, &ao, &err)) {
		report_error(&err);
		input_close_file(&in);
		mapping_free(m);
		return EXIT_INPUT;
	}
	nnames = ad->names(h, &names);
	ymd_today(&today);
	if (m) {
		if (mapping_bind(m, names, nnames, file, &err) ||
		    row_init(&row, m->cat)) {
			report_error(&err);
			rc = EXIT_INPUT;
			goto out;
		}
		checker_init(&ck, c->defs, m->cat, &today);
	}
	while (limit < 0 || count < limit) {
		tmerr_clear(&err);
		arc = ad->next(h, &rec, &err);
		if (arc == ADP_EOF)
			break;
		if (arc == ADP_FATAL) {
			report_error(&err);
			rc = EXIT_INPUT;
			break;
		}
		count++;
		if (arc == ADP_BAD) {
			nrej++;
			if (!quiet)
				print_reject(&err, rec.line);
			continue;
		}
		if (raw) {
			fputc('{', stdout);
			for (size_t i = 0, k = 0; i < rec.nfields; i++) {
				if (!rec.vals[i])
					continue;
				if (k++)
					fputc(',', stdout);
				json_str(stdout, rec.names[i], strlen(rec.names[i]));
				fputc(':', stdout);
				json_str(stdout, rec.vals[i], rec.lens[i]);
			}
			fputs("}\n", stdout);
			continue;
		}
		arc = row_map(&row, m, &rec, &err);
		if (arc == 2) {
			nskip++;
			continue;
		}
		if (arc == 0)
			arc = row_check(&ck, &row, &err);
		if (arc) {
			nrej++;
			if (!quiet)
				print_reject(&err, rec.line);
			continue;
		}
		if (quiet)
			continue;
		printf("{\"_line\":%ld", rec.line);
		for (size_t f = 0; f < m->cat->nfields; f++) {
			if (!row.supplied[f])
				continue;
			putchar(',');
			json_str(stdout, m->cat->fields[f].name,
				 strlen(m->cat->fields[f].name));
			putchar(':');
			if (!row.len[f])
				fputs("null", stdout);
			else if (m->cat->fields[f].type == FT_BOOL)
				fputs(row.val[f][0] == 't' ? "true" : "false", stdout);
			else
				json_str(stdout, row.val[f], row.len[f]);
		}
		puts("}");
	}
	if (m)
		row_release(&row);
	if (quiet)
		printf("{\"records\":%ld,\"valid\":%ld,\"rejected\":%ld,\"skipped\":%ld}\n",
		       count, count - nrej - nskip, nrej, nskip);
out:
	ad->close(h);
	input_close_file(&in);
	mapping_free(m);
	if (fflush(stdout))
		rc = EXIT_FAIL;
	return rc;
}

/* ---- sample -------------------------------------------------------------- */

int cmd_sample(struct ctx *c)
{
	struct sample_opts o;
	struct sample_stats st;
	struct tmerr err;
	struct ymd today;
	const char *n = arg_get(c, "teachers"), *pp = arg_get(c, "province");
	const char *dirty = arg_get(c, "dirty"), *seed = arg_get(c, "seed");
	long long rows = 0, bad = 0;

	tmerr_clear(&err);
	if (!n || !pp || !arg_get(c, "out")) {
		fprintf(stderr, "tmisgw sample: --teachers, --province and --out are required\n");
		return EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	o.teachers = atol(n);
	o.province = pp;
	o.out_dir = arg_get(c, "out");
	o.dirty = dirty ? atof(dirty) : 0;
	o.seed = seed ? strtoull(seed, NULL, 10) : 1;
	o.defs = c->defs;
	ymd_today(&today);
	o.today_y = today.y;
	o.today_m = today.m;
	o.today_d = today.d;
	if (o.teachers < 1 || strlen(pp) != 2 || o.dirty < 0 || o.dirty > 1) {
		fprintf(stderr, "tmisgw sample: need --teachers >= 1, a two-digit --province and --dirty in 0..1\n");
		return EXIT_USAGE;
	}
	if (sample_write(&o, &st, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	for (size_t i = 0; i < c->defs->ncats && i < 32; i++) {
		printf("  %-18s.csv %10ld rows %8ld dirty\n", c->defs->cats[i].name,
		       st.rows[i], st.dirty_rows[i]);
		rows += st.rows[i];
		bad += st.dirty_rows[i];
	}
	printf("sample: %ld teachers, %lld rows (%lld dirty) in %s\n", o.teachers,
	       rows, bad, o.out_dir);
	return EXIT_OK;
}
