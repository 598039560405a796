#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TMISGW_VERSION "0.1.0"

static const struct opt db_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else libpq's PG* variables)" },
	{ "mappings", "DIR", "definitions directory (else $TMISGW_MAPPINGS, else the built-in one)" },
	{ NULL, NULL, NULL },
};

static const struct opt load_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "mapping", "M", "mapping file for every FILE" },
	{ "category", "C", "load every FILE with the canonical mapping of category C" },
	{ "profile", "FILE", "choose mappings by file (or bundle member) name: lines \"PATTERN MAPPING\"" },
	{ "indicators", "FILE", "a province's own indicator definitions, stored in each record's extra" },
	{ "reject-file", "F", "write rejected rows to CSV file F" },
	{ "max-reject-rate", "R", "refuse the whole load when more than R (0..1) of the rows are rejected" },
	{ "dry-run", NULL, "validate and stage everything, then roll back" },
	{ "mode", "full|delta", "full (default): a teacher's records in a file replace those stored, which become history; delta: only add and update" },
	{ "no-progress", NULL, "never draw the progress line" },
	{ "home", "DIR", "for a package (PKG.tmx): gateway home directory (else $TMISGW_HOME)" },
	{ NULL, NULL, NULL },
};

static const struct opt inspect_opts[] = {
	{ "mappings", "DIR", "definitions directory" },
	{ "raw", NULL, "print records as they are in the file: header -> value" },
	{ "mapping", "M", "print the canonical records mapping M makes, and rejects" },
	{ "category", "C", "like --mapping with the canonical mapping of C" },
	{ "indicators", "FILE", "a province's own indicator definitions" },
	{ "encoding", "E", "with --raw: utf-8 (default), gb18030 or gbk" },
	{ "limit", "N", "stop after N records" },
	{ "count", NULL, "print only one JSON line of counts: records, valid, rejected, skipped" },
	{ NULL, NULL, NULL },
};

static const struct opt sample_opts[] = {
	{ "mappings", "DIR", "definitions directory" },
	{ "teachers", "N", "number of teachers (required)" },
	{ "province", "PP", "two-digit province code (required)" },
	{ "out", "DIR", "output directory (required)" },
	{ "dirty", "RATE", "share of rows made invalid, 0..1 (default 0)" },
	{ "seed", "S", "random seed (default 1)" },
	{ NULL, NULL, NULL },
};

static const struct opt teacher_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "id-type", "T", "id_type code of ID (default 1, resident identity card)" },
	{ "show-personal", NULL, "print personal values (ID number, name, phone ...) in clear" },
	{ NULL, NULL, NULL },
};

static const struct opt training_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "cycle", "YYYY-YYYY", "five-year cycle, e.g. 2021-2025 (required)" },
	{ "scope", "DIVISION", "only schools whose code digits 3.. start with this 2-, 4- or 6-digit division" },
	{ "hours", "H", "hours required in the cycle (default 360)" },
	{ "new-hours", "H", "hours required of teachers who started work in the cycle (default 120)" },
	{ "csv", NULL, "print CSV (RFC 4180, formula-safe) instead of a table" },
	{ NULL, NULL, NULL },
};

static const struct opt conflicts_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "days", "N", "look at schools reported in the last N days (default 30)" },
	{ "show-personal", NULL, "print ID numbers in clear" },
	{ "csv", NULL, "print CSV (RFC 4180, formula-safe) instead of a table" },
	{ NULL, NULL, NULL },
};

static const struct opt quality_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "load", "ID", "the load to report on (default: the latest)" },
	{ "csv", NULL, "print CSV (RFC 4180, formula-safe) instead of a table" },
	{ NULL, NULL, NULL },
};

static const struct opt keys_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ NULL, NULL, NULL },
};

static const struct opt keys_org_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "org", "CODE", "organisation code: 000000 centre, PP0000 province, P00001 platform (required)" },
	{ NULL, NULL, NULL },
};

static const struct opt pack_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "to", "ORG", "recipient organisation code (required)" },
	{ "kind", "full|delta", "package kind (required)" },
	{ "seq", "N", "sequence number in the stream to ORG, from 1 (required)" },
	{ "out", "OUT", "same as -o OUT: the .tmx file, or a directory for <sender>-<seq>-<id>.tmx" },
	{ "from-db", NULL, "pack this gateway's scope from the database instead of FILEs (full: all current records; delta: changes since the previous sequence to ORG)" },
	{ "categories", "LIST", "with --from-db: comma-separated categories (default all)" },
	{ "db", "DSN", "with --from-db: PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "with --from-db: definitions directory" },
	{ NULL, NULL, NULL },
};

static const struct opt verify_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "db", "DSN", "also run check 4 (seen before, sequence) against this database, read-only" },
	{ "mappings", "DIR", "definitions directory" },
	{ NULL, NULL, NULL },
};

static const struct opt unpack_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "out", "DIR", "same as -o DIR: a new or empty directory" },
	{ NULL, NULL, NULL },
};

static const struct opt receipt_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "rejects", "N", "print at most N rejected rows (default 20; 0 none, -1 all)" },
	{ NULL, NULL, NULL },
};

static const struct opt audit_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ NULL, NULL, NULL },
};

static const struct opt serve_opts[] = {
	{ "config", "FILE", "server configuration (docs/serve.md) (required)" },
	{ NULL, NULL, NULL },
};

static const struct opt push_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "to", "ORG", "the partner to upload to (its URL and token in the home's config) (required)" },
	{ "db", "DSN", "PostgreSQL connection string, to record the receipt (else $TMISGW_DB, else PG* variables)" },
	{ "no-wait", NULL, "upload only: do not wait for the receipt" },
	{ NULL, NULL, NULL },
};

static const struct opt pull_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "from", "ORG", "the partner to pull from (required)" },
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "files", "DIR", "write the export's files into DIR instead of loading them" },
	{ NULL, NULL, NULL },
};

static const struct opt sync_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "to", "ORG", "the partner to send the next package to (required)" },
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "categories", "LIST", "comma-separated categories (default all)" },
	{ NULL, NULL, NULL },
};

static const struct opt export_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "profile", "ORG", "the linked platform whose export profile applies (mappings/profiles/ORG.profile) (required)" },
	{ "since", "N", "records changed after change number N (default 0: everything)" },
	{ "out", "OUT", "same as -o OUT: the .tmx file, or a directory" },
	{ NULL, NULL, NULL },
};

static const struct opt import_opts[] = {
	{ "home", "DIR", "gateway home directory (else $TMISGW_HOME)" },
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "mappings", "DIR", "definitions directory" },
	{ "files", "DIR", "write the export's files into DIR instead of loading them" },
	{ NULL, NULL, NULL },
};

static const struct opt audit_list_opts[] = {
	{ "db", "DSN", "PostgreSQL connection string (else $TMISGW_DB, else PG* variables)" },
	{ "partner", "ORG", "only entries of this partner" },
	{ "direction", "in|out", "only entries of this direction" },
	{ "since", "TIME", "only entries at or after TIME (YYYY-MM-DD or ISO 8601)" },
	{ "until", "TIME", "only entries before TIME" },
	{ "outcome", "O", "only entries with this outcome (e.g. refused)" },
	{ "limit", "N", "at most N entries (default 100; 0 all)" },
	{ "csv", NULL, "audit export: CSV (RFC 4180)" },
	{ "json", NULL, "audit export: JSON lines" },
	{ NULL, NULL, NULL },
};

static const struct cmd commands[] = {
	{ "db migrate", cmd_db_migrate, NEEDS_DB | NEEDS_DEFS, "",
	  "create or upgrade the schema and store the code sets", db_opts, 0, 0, NULL },
	{ "load", cmd_load, NEEDS_DB | NEEDS_DEFS, "FILE...",
	  "validate FILEs (CSV, XML, or zip/tar bundles of them) and load them in one transaction; or verify and load one exchange package PKG.tmx exactly once",
	  load_opts, 1, -1, NULL },
	{ "inspect", cmd_inspect, NEEDS_DEFS, "FILE",
	  "print the records of FILE as JSON lines", inspect_opts, 1, 1, NULL },
	{ "sample", cmd_sample, NEEDS_DEFS, "",
	  "write a realistic sample province as canonical CSV", sample_opts, 0, 0, NULL },
	{ "teacher show", cmd_teacher_show, NEEDS_DB | NEEDS_DEFS, "ID",
	  "print a teacher's current record and current records per category",
	  teacher_opts, 1, 1, NULL },
	{ "teacher history", cmd_teacher_history, NEEDS_DB | NEEDS_DEFS, "ID",
	  "print a teacher's versions, change events and superseded records in time order",
	  teacher_opts, 1, 1, NULL },
	{ "report training", cmd_report_training, NEEDS_DB | NEEDS_DEFS, "",
	  "continuing-education hours per school and province against the requirement",
	  training_opts, 0, 0, NULL },
	{ "report conflicts", cmd_report_conflicts, NEEDS_DB | NEEDS_DEFS, "",
	  "teachers reported at more than one school or under two id types",
	  conflicts_opts, 0, 0, NULL },
	{ "report quality", cmd_report_quality, NEEDS_DB | NEEDS_DEFS, "",
	  "a load's rejects by rule, field, file and school", quality_opts, 0, 0, NULL },
	{ "keys init", cmd_keys_init, 0, "",
	  "make this gateway's key pair (and its home directory)", keys_org_opts, 0, 0, NULL },
	{ "keys export", cmd_keys_export, 0, "",
	  "print this gateway's public key, ASCII-armoured", keys_opts, 0, 0, NULL },
	{ "keys trust", cmd_keys_trust, 0, "FILE",
	  "bind a partner's organisation to the public key in FILE", keys_org_opts, 1, 1, NULL },
	{ "keys retire", cmd_keys_retire, 0, "FPR",
	  "retire a partner's key: no new packages are accepted from it", keys_org_opts, 1, 1, NULL },
	{ "keys list", cmd_keys_list, 0, "",
	  "show this gateway's key and the trust store's bindings", keys_opts, 0, 0, NULL },
	{ "pack", cmd_pack, 0, "-o OUT (--from-db | FILE...)",
	  "sign and encrypt canonical CSV FILEs, or the database, into an exchange package for --to",
	  pack_opts, 0, -1, "from-db" },
	{ "verify", cmd_verify, 0, "PKG",
	  "run checks 1-3 on a package (and check 4 with --db) without loading it, and print its manifest",
	  verify_opts, 1, 1, "db" },
	{ "serve", cmd_serve, 0, "",
	  "run the gateway's HTTP server and its package workers",
	  serve_opts, 0, 0, NULL },
	{ "push", cmd_push, 0, "PKG",
	  "upload a package to a partner (resuming, retrying), then fetch, verify and record its receipt",
	  push_opts, 1, 1, NULL },
	{ "pull", cmd_pull, NEEDS_DB | NEEDS_DEFS, "",
	  "fetch the changes a partner exports to this platform, verify them and load them (or write files)",
	  pull_opts, 0, 0, NULL },
	{ "sync", cmd_sync, NEEDS_DB | NEEDS_DEFS, "",
	  "pack the next delta (or the first full package) from the database and push it; safe to repeat",
	  sync_opts, 0, 0, NULL },
	{ "export", cmd_export, NEEDS_DB | NEEDS_DEFS, "-o OUT",
	  "make a linked platform's export package: its profile's fields, masked, changed since N",
	  export_opts, 0, 2, NULL },
	{ "import", cmd_import, NEEDS_DB | NEEDS_DEFS, "PKG",
	  "verify an export package and load it into this database (or write its files)",
	  import_opts, 1, 1, NULL },
	{ "audit list", cmd_audit_list, NEEDS_DB, "",
	  "list exchange-log entries, newest first, filtered",
	  audit_list_opts, 0, 0, NULL },
	{ "audit show", cmd_audit_show, NEEDS_DB, "ID",
	  "show one exchange-log entry in full",
	  audit_opts, 1, 1, NULL },
	{ "audit export", cmd_audit_export, NEEDS_DB, "",
	  "write exchange-log entries as CSV (--csv) or JSON lines (--json), oldest first",
	  audit_list_opts, 0, 0, NULL },
	{ "audit verify", cmd_audit_verify, NEEDS_DB, "",
	  "prove the exchange log unchanged: every entry's hash, link and id",
	  audit_opts, 0, 0, NULL },
	{ "receipt show", cmd_receipt_show, 0, "RCPT",
	  "verify a receipt from the recipient of one of our packages and print what was loaded",
	  receipt_opts, 1, 1, NULL },
	{ "unpack", cmd_unpack, 0, "PKG -o DIR",
	  "verify a package (checks 1-3) and extract its payload into an empty DIR",
	  unpack_opts, 1, 3, NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage_cmd(FILE *f, const struct cmd *c)
{
	size_t w = 0;

	fprintf(f, "usage: tmisgw %s [options]%s%s\n\n%s\n", c->name,
		*c->usage ? " " : "", c->usage, c->summary);
	for (const struct opt *o = c->opts; o->name; o++) {
		size_t l = strlen(o->name) + (o->arg ? strlen(o->arg) + 1 : 0);

		if (l > w)
			w = l;
	}
	if (c->opts[0].name)
		fputs("\noptions:\n", f);
	for (const struct opt *o = c->opts; o->name; o++) {
		char left[128];

		snprintf(left, sizeof(left), "%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  --%-*s  %s\n", (int)w, left, o->help);
	}
	fprintf(f, "  --%-*s  %s\n", (int)w, "help", "show this help");
}

static void usage_all(FILE *f)
{
	int w = 0;

	fputs("usage: tmisgw <command> [options] [args]\n\n"
	      "tmisgw is the data-exchange gateway of the national teacher management\n"
	      "information system: it validates teacher data and loads it exactly once.\n\n"
	      "commands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if ((int)strlen(commands[i].name) > w)
			w = (int)strlen(commands[i].name);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-*s  %s\n", w, commands[i].name, commands[i].summary);
	fputs("\n'tmisgw <command> --help' describes a command's options.\n"
	      "exit codes: 0 ok, 1 failure, 2 usage, 3 input or mapping, 4 database,\n"
	      "5 load refused by --max-reject-rate, 6 package held (sequence gap)\n", f);
}

static const struct cmd *find_cmd(int argc, char **argv, int *used)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *n = commands[i].name, *sp = strchr(n, ' ');

		if (!sp && !strcmp(argv[1], n)) {
			*used = 2;
			return &commands[i];
		}
		if (sp && argc > 2 && strlen(argv[1]) == (size_t)(sp - n) &&
		    !strncmp(argv[1], n, sp - n) && !strcmp(argv[2], sp + 1)) {
			*used = 3;
			return &commands[i];
		}
	}
	return NULL;
}

/* Index of the option named by the n bytes at name in cmd's table, or -1. */
static int opt_index(const struct cmd *cmd, const char *name, size_t n)
{
	for (int k = 0; cmd->opts[k].name; k++)
		if (strlen(cmd->opts[k].name) == n && !strncmp(cmd->opts[k].name, name, n))
			return k;
	return -1;
}

const char *arg_get(const struct ctx *c, const char *name)
{
	int k = opt_index(c->cmd, name, strlen(name));

	return k < 0 ? NULL : c->args.val[k];
}

/* Parse --opt VALUE, --opt=VALUE, flags and positionals; "--" ends options.
 * Returns 0, 1 for --help, or -1 (message printed). */
static int parse_args(struct ctx *c, int argc, char **argv)
{
	const struct cmd *cmd = c->cmd;
	int i, only_pos = 0;

	c->args.pos = calloc((size_t)argc + 1, sizeof(char *));
	if (!c->args.pos)
		return -1;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		size_t nl;
		int k;

		if (!only_pos && !strcmp(a, "-o") && (k = opt_index(cmd, "out", 3)) >= 0) {
			/* "-o FILE", what people type, for a command's --out */
			if (i + 1 >= argc || c->args.val[k]) {
				fprintf(stderr, "tmisgw %s: %s\n", cmd->name,
					c->args.val[k] ? "the output is given twice" :
							 "option \"-o\" needs a value");
				return -1;
			}
			c->args.val[k] = argv[++i];
			continue;
		}
		if (only_pos || a[0] != '-' || a[1] != '-' || !a[2]) {
			if (!only_pos && !strcmp(a, "--")) {
				only_pos = 1;
				continue;
			}
			c->args.pos[c->args.npos++] = argv[i];
			continue;
		}
		a += 2;
		if (!strcmp(a, "help"))
			return 1;
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a) : strlen(a);
		k = opt_index(cmd, a, nl);
		if (k < 0) {
			fprintf(stderr, "tmisgw %s: unknown option \"--%.*s\"\n",
				cmd->name, (int)nl, a);
			return -1;
		}
		if (!cmd->opts[k].arg) {
			if (eq) {
				fprintf(stderr, "tmisgw %s: option \"--%s\" takes no value\n",
					cmd->name, cmd->opts[k].name);
				return -1;
			}
			c->args.val[k] = "1";
		} else if (eq) {
			c->args.val[k] = eq + 1;
		} else if (i + 1 < argc) {
			c->args.val[k] = argv[++i];
		} else {
			fprintf(stderr, "tmisgw %s: option \"--%s\" needs a value %s\n",
				cmd->name, cmd->opts[k].name, cmd->opts[k].arg);
			return -1;
		}
	}
	if (c->args.npos < cmd->min_pos ||
	    (cmd->max_pos >= 0 && c->args.npos > cmd->max_pos)) {
		fprintf(stderr, "tmisgw %s: expected %s\n", cmd->name,
			*cmd->usage ? cmd->usage : "no arguments");
		return -1;
	}
	return 0;
}

static PGconn *connect_db(const char *dsn, struct tmerr *err)
{
	PGconn *conn;

	if (!dsn)
		dsn = getenv("TMISGW_DB");
	conn = PQconnectdb(dsn ? dsn : "");
	if (PQstatus(conn) != CONNECTION_OK) {
		tmerr_set(err, TMERR_DB, "cannot connect to the database: %s",
			  PQerrorMessage(conn));
		for (size_t n = strlen(err->msg); n && err->msg[n - 1] == '\n'; n--)
			err->msg[n - 1] = '\0';
		PQfinish(conn);
		return NULL;
	}
	PQsetClientEncoding(conn, "UTF8");
	return conn;
}

int main(int argc, char **argv)
{
	struct ctx c;
	struct tmerr err;
	int used, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage_all(stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("tmisgw %s\n", TMISGW_VERSION);
		return EXIT_OK;
	}
	memset(&c, 0, sizeof(c));
	tmerr_clear(&err);
	c.cmd = find_cmd(argc, argv, &used);
	if (!c.cmd) {
		fprintf(stderr, "tmisgw: unknown command \"%s\"\n\n", argv[1]);
		usage_all(stderr);
		return EXIT_USAGE;
	}
	rc = parse_args(&c, argc - used, argv + used);
	if (rc) {
		if (rc > 0)
			usage_cmd(stdout, c.cmd);
		else
			fprintf(stderr, "try \"tmisgw %s --help\"\n", c.cmd->name);
		free(c.args.pos);
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	}
	if (c.cmd->db_when && arg_get(&c, c.cmd->db_when))
		c.flags = NEEDS_DB | NEEDS_DEFS;
	else
		c.flags = c.cmd->flags;
	if ((c.flags & NEEDS_DEFS) &&
	    defs_load(&c.defs, arg_get(&c, "mappings"), &err)) {
		report_error(&err);
		free(c.args.pos);
		return exit_code_for(&err);
	}
	if (c.flags & NEEDS_DB) {
		c.conn = connect_db(arg_get(&c, "db"), &err);
		if (!c.conn) {
			report_error(&err);
			defs_free(c.defs);
			free(c.args.pos);
			return EXIT_DB;
		}
	}
	rc = c.cmd->fn(&c);
	if (c.conn)
		PQfinish(c.conn);
	defs_free(c.defs);
	free(c.args.pos);
	return rc;
}
