#include <stdio.h>
#include <string.h>

#include "../etl/audit.h"
#include "../etl/xlog.h"
#include "cli.h"

int cmd_audit_verify(struct ctx *c)
{
	struct xlog_check chk;
	struct tmerr err;

	tmerr_clear(&err);
	if (xlog_verify(c->conn, &chk, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (chk.first_bad) {
		printf("exchange log NOT intact: entry %lld: %s\n", chk.first_bad, chk.why);
		printf("checked %lld entries\n", chk.entries);
		return EXIT_FAIL;
	}
	printf("exchange log intact: %lld entries, ids 1-%lld without a gap, every hash and link checked\n",
	       chk.entries, chk.last_id);
	printf("last entry %lld, hash %s (keep it elsewhere: a later verify proves nothing before it changed)\n",
	       chk.last_id, chk.last_hash);
	return EXIT_OK;
}

/* The filter options of audit list/export; limit defaults to dflt. */
static int filter_from_args(struct ctx *c, struct audit_filter *f, long dflt)
{
	static const char *const keys[] = {
		"partner", "direction", "outcome", "since", "until", "limit",
	};
	struct tmerr err;

	audit_filter_init(f);
	f->limit = dflt;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = arg_get(c, keys[i]);

		tmerr_clear(&err);
		if (v && audit_filter_set(f, keys[i], v, &err)) {
			fprintf(stderr, "tmisgw %s: option \"--%s\": %s\n",
				c->cmd->name, keys[i], err.msg);
			return -1;
		}
	}
	return 0;
}

/* Rows rendered into a small buffer and written to stdout one by one. */
struct out_state {
	struct buf b;
	int (*render)(const struct audit_row *r, struct buf *out);
	int csv;
};

static int out_cb(void *arg, const struct audit_row *r, struct tmerr *err)
{
	struct out_state *s = arg;

	if (s->csv) {
		audit_csv_row(stdout, r);
	} else {
		buf_reset(&s->b);
		if (s->render(r, &s->b) || (s->render == audit_json_row &&
					    buf_addch(&s->b, '\n')))
			return tmerr_set(err, TMERR_LIMIT, "exchange-log entry %s is too long to print",
					 r->v[AC_ID] ? r->v[AC_ID] : "?");
		fwrite(s->b.ptr, 1, s->b.len, stdout);
	}
	if (ferror(stdout))
		return tmerr_set(err, TMERR_SYS, "writing to standard output failed");
	return 0;
}

static int finish(struct out_state *s, long long n, struct tmerr *err)
{
	buf_release(&s->b);
	if (n >= 0 && (fflush(stdout) || ferror(stdout))) {
		tmerr_set(err, TMERR_SYS, "writing to standard output failed");
		n = -1;
	}
	if (n < 0) {
		report_error(err);
		return exit_code_for(err);
	}
	return EXIT_OK;
}

int cmd_audit_list(struct ctx *c)
{
	struct audit_filter f;
	struct out_state s = { BUF_INIT(16384), audit_text_row, 0 };
	struct tmerr err;
	long long n;

	if (arg_get(c, "csv") || arg_get(c, "json")) {
		fprintf(stderr, "tmisgw audit list: --csv and --json are for \"audit export\"\n");
		return EXIT_USAGE;
	}
	if (filter_from_args(c, &f, AUDIT_PAGE_DEFAULT))
		return EXIT_USAGE;
	tmerr_clear(&err);
	if (audit_text_header(&s.b) == 0)
		fwrite(s.b.ptr, 1, s.b.len, stdout);
	n = audit_query(c->conn, &f, 0, out_cb, &s, &err);
	return finish(&s, n, &err);
}

int cmd_audit_show(struct ctx *c)
{
	struct audit_filter f;
	struct out_state s = { BUF_INIT(16384), audit_show_row, 0 };
	struct tmerr err;
	long long n;

	audit_filter_init(&f);
	tmerr_clear(&err);
	if (audit_filter_set(&f, "id", c->args.pos[0], &err) || !f.id) {
		fprintf(stderr, "tmisgw audit show: %s\n",
			f.id ? err.msg : "bad id: not an entry id (a positive number)");
		return EXIT_USAGE;
	}
	f.limit = 1;
	n = audit_query(c->conn, &f, 0, out_cb, &s, &err);
	if (n == 0) {
		buf_release(&s.b);
		tmerr_set(&err, TMERR_INPUT, "no exchange-log entry %lld", f.id);
		report_error(&err);
		return EXIT_FAIL;
	}
	return finish(&s, n, &err);
}

int cmd_audit_export(struct ctx *c)
{
	struct audit_filter f;
	struct out_state s = { BUF_INIT(16384), audit_json_row, 0 };
	struct tmerr err;
	int csv = arg_get(c, "csv") != NULL, json = arg_get(c, "json") != NULL;
	long long n;

	if (csv == json) {
		fprintf(stderr, "tmisgw audit export: give exactly one of --csv and --json\n");
		return EXIT_USAGE;
	}
	if (filter_from_args(c, &f, 0))
		return EXIT_USAGE;
	s.csv = csv;
	tmerr_clear(&err);
	if (csv)
		audit_csv_header(stdout);
	n = audit_query(c->conn, &f, 1, out_cb, &s, &err);
	return finish(&s, n, &err);
}
