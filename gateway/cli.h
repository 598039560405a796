/*
 * cli: the command table (as in git.c) and declarative option parsing. Each
 * command declares its options as data; --help is generated from them. Only
 * the CLI prints and exits: commands return an exit code (docs/exit-codes.md).
 */
#ifndef TMISGW_CLI_H
#define TMISGW_CLI_H

#include <libpq-fe.h>

#include "../etl/defs.h"
#include "../etl/err.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,     /* anything not below */
	EXIT_USAGE = 2,    /* bad command line */
	EXIT_INPUT = 3,    /* unreadable input or a wrong mapping/definition */
	EXIT_DB = 4,       /* database error or lost connection */
	EXIT_REFUSED = 5,  /* load refused: reject rate over the limit */
	EXIT_HELD = 6,     /* package held: an earlier sequence is missing */
};

#define CLI_MAX_OPTS 16

struct opt {
	const char *name;     /* long name without "--" */
	const char *arg;      /* argument placeholder, NULL for a flag */
	const char *help;
};

struct args {
	const char *val[CLI_MAX_OPTS]; /* by option index; flags get "1" */
	int npos;
	char **pos;
};

struct ctx {
	const struct cmd *cmd;
	struct args args;
	PGconn *conn;          /* set when the command NEEDS_DB */
	struct defs *defs;     /* set when the command NEEDS_DEFS */
	unsigned flags;        /* the command's flags, or as db_when made them */
};

enum { NEEDS_DB = 1, NEEDS_DEFS = 2 };

struct cmd {
	const char *name;      /* "load", or "db migrate" */
	int (*fn)(struct ctx *c);
	unsigned flags;
	const char *usage;     /* positional part of the synopsis */
	const char *summary;
	const struct opt *opts;  /* terminated by { NULL } */
	int min_pos, max_pos;  /* positional argument count; max -1 = any */
	const char *db_when;   /* needs the database (and defs) only when this
				* option is given, e.g. "from-db" */
};

/* Value of option name, or NULL when not given. */
const char *arg_get(const struct ctx *c, const char *name);
int exit_code_for(const struct tmerr *e);
/* Print "tmisgw: error: <formatted err>" on stderr. */
void report_error(const struct tmerr *e);
/* Print s as a JSON string (quoted, escaped) to f. */
void json_str(FILE *f, const char *s, size_t n);

int cmd_db_migrate(struct ctx *c);
int cmd_load(struct ctx *c);
int cmd_inspect(struct ctx *c);
int cmd_sample(struct ctx *c);
/* gateway/cmd_query.c: read-only views and reports (docs/reports.md) */
int cmd_teacher_show(struct ctx *c);
int cmd_teacher_history(struct ctx *c);
int cmd_report_training(struct ctx *c);
int cmd_report_conflicts(struct ctx *c);
int cmd_report_quality(struct ctx *c);
/* gateway/cmd_keys.c: the gateway's key pair and trust store (docs/keys.md) */
int cmd_keys_init(struct ctx *c);
int cmd_keys_export(struct ctx *c);
int cmd_keys_trust(struct ctx *c);
int cmd_keys_retire(struct ctx *c);
int cmd_keys_list(struct ctx *c);
/* gateway/cmd_package.c: OpenPGP exchange packages (docs/package.md) */
int cmd_pack(struct ctx *c);
int cmd_verify(struct ctx *c);
int cmd_unpack(struct ctx *c);
/* gateway/cmd_receive.c: packages in, receipts (docs/package.md) */
int cmd_load_package(struct ctx *c, const char *path);
int cmd_receipt_show(struct ctx *c);
struct package_info;
void receipt_print(const struct package_info *info, const char *dir,
		   long long max);
/* gateway/cmd_audit.c: the exchange log (docs/exchange-log.md) */
int cmd_audit_verify(struct ctx *c);
int cmd_audit_list(struct ctx *c);
int cmd_audit_show(struct ctx *c);
int cmd_audit_export(struct ctx *c);
/* gateway/cmd_serve.c and cmd_push.c: the HTTP server and client (docs/serve.md) */
int cmd_serve(struct ctx *c);
int cmd_push(struct ctx *c);
int cmd_pull(struct ctx *c);
int cmd_sync(struct ctx *c);
/* gateway/cmd_export.c: linked-platform exports (docs/profiles.md) */
int cmd_export(struct ctx *c);
int cmd_import(struct ctx *c);

#endif
