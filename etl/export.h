/*
 * export: packages made from the database (pack --from-db, docs/package.md
 * "Packing from the database"): the sender's scope as canonical CSV, full
 * or as a delta of change numbers, packed with package.h and recorded in
 * tmis.package_out, all in one REPEATABLE READ transaction.
 *
 * Rows stream from COPY straight into files of a private work directory
 * under the home's spool, removed whatever happens; memory stays flat.
 * Every function returns 0 or -1 with err filled; nothing prints. On
 * failure the transaction is rolled back and no package is left behind.
 */
#ifndef TMISGW_EXPORT_H
#define TMISGW_EXPORT_H

#include <libpq-fe.h>

#include "defs.h"
#include "err.h"
#include "home.h"
#include "manifest.h"
#include "package.h"

struct export_opts {
	const struct defs *defs;
	const char *to;          /* recipient organisation */
	const char *kind;        /* "full" or "delta" */
	long long seq;           /* sequence number in the stream to `to` */
	const char *categories;  /* comma-separated, NULL: every category */
	const char *out;         /* as package_write(): a file or a directory */
};

struct export_result {
	struct manifest m;       /* of the package written; manifest_free() it */
	struct package_out pkg;
	long long since, upto;   /* change-number window (full: 0, upto) */
	long long records;       /* data records in all files */
	char scope[3];           /* province ("41"), or "" for everything */
};

/*
 * The province an organisation exports: "PP" for PP0000 (PP not 00), ""
 * (everything) for the centre, platforms and anything else.
 */
void export_scope(const char *org, char prov[3]);

/*
 * Writes category c of scope prov ("" = all) to a new file path (mode
 * 0600, must not exist) as canonical CSV with a header: full = current
 * rows; delta = rows with since < change_no <= upto, op last. Run inside
 * the caller's transaction, with DateStyle ISO. *rows gets the data
 * records. With mf, its records, bytes and sha256 are filled from the
 * stream, so packing needs no second read. On failure the file may be left
 * for the caller to remove.
 */
int export_category(PGconn *conn, const struct category_def *c,
		    const char *prov, int delta, long long since,
		    long long upto, const char *path, long long *rows,
		    struct mfile *mf, struct tmerr *err);

/*
 * Runs sql, a COPY ... TO STDOUT, and hands each row (one CSV record with
 * its line end, as COPY sends it) to fn. After fn fails (-1, err filled)
 * the rest is drained unseen, so the connection stays usable. *rows gets
 * the rows COPY reports. Returns 0 or -1 with err filled.
 */
typedef int (*export_row_fn)(void *arg, const char *row, size_t n,
			     struct tmerr *err);
int export_copy(PGconn *conn, const char *sql, export_row_fn fn, void *arg,
		long long *rows, struct tmerr *err);

/*
 * The whole pack --from-db: checks, transaction and locks, the CSV files,
 * package_write() into o->out, the tmis.package_out row, COMMIT. res is
 * filled on success (free res->m also on failure). A sequence already
 * packed to o->to is TMERR_INPUT, an unknown category TMERR_USAGE.
 */
int export_pack(PGconn *conn, const struct gw_home *h,
		const struct export_opts *o, struct export_result *res,
		struct tmerr *err);

#endif
