/*
 * xprofile: linked-platform export profiles and the exports built from
 * them (docs/profiles.md, spec exchange.md "Export profiles").
 *
 * At the centre, xprofile_load() reads <mappings>/profiles/ORG.profile and
 * xprofile_export() makes the platform's export package: the profile's
 * fields only, masked where it says, of records changed after change
 * number N, signed and encrypted to the platform. At the platform,
 * xprofile_import() verifies such a package and applies it to
 * tmis.pull_record (or writes its files), recording the new N.
 *
 * A struct xprofile owns its memory (xprofile_free). Every function returns
 * 0 or -1 with err filled; nothing prints. Masked values exist only in
 * masked form on disk: rows are masked in memory while COPY streams them.
 */
#ifndef TMISGW_XPROFILE_H
#define TMISGW_XPROFILE_H

#include <libpq-fe.h>

#include "buf.h"
#include "defs.h"
#include "err.h"
#include "home.h"
#include "manifest.h"
#include "package.h"

#define XPROFILE_MAX_BYTES (256 * 1024) /* longest profile file */
#define XPROFILE_MAX_LINE 4096
#define XPROFILE_MAX_PROVS 64
#define XPROFILE_MAX_SETS 32
#define XPROFILE_MAX_ROW (4 << 20)      /* longest exported row */
/* The pseudonymous teacher key column added when id_number is masked. */
#define XPROFILE_REF "teacher_ref"

enum xmask { XMASK_NONE, XMASK_ID, XMASK_PHONE, XMASK_NAME, XMASK_GENERIC };

struct xprofile_cat {
	const struct category_def *cat; /* in the defs parsed against */
	unsigned char *on;              /* [cat->nfields]: exported */
	unsigned char *mask;            /* [cat->nfields]: enum xmask */
	long line;                      /* of its "category" line */
};

struct xprofile {
	char path[4096];
	char platform[16];
	char name[200];
	size_t ncats;
	struct xprofile_cat *cats;      /* in defs order */
	size_t nprovs;                  /* 0: every province */
	char provs[XPROFILE_MAX_PROVS][3];
	size_t nsets;                   /* 0: every indicator set */
	const char *sets[XPROFILE_MAX_SETS]; /* names owned by the defs */
	int pseudonym;                  /* id_number masked: rows carry teacher_ref */
};

void xprofile_init(struct xprofile *p);
void xprofile_free(struct xprofile *p);

/*
 * Parses len bytes of profile text (file name, for errors, in name) against
 * d, which must outlive p. p is xprofile_init'ed here; on failure it holds
 * nothing to free and err names name:line (TMERR_MAPPING).
 */
int xprofile_parse(struct xprofile *p, const struct defs *d, const char *name,
		   const char *text, size_t len, struct tmerr *err);
/* xprofile_parse() of the file at path (at most XPROFILE_MAX_BYTES). */
int xprofile_read(struct xprofile *p, const struct defs *d, const char *path,
		  struct tmerr *err);
/*
 * The profile of platform org: d->dir/profiles/ORG.profile, whose
 * "platform" line must say org. A missing file is TMERR_USAGE ("no export
 * profile"), so that a server can answer 403.
 */
int xprofile_load(struct xprofile *p, const struct defs *d, const char *org,
		  struct tmerr *err);

/* The exported category of that name, or NULL. */
const struct xprofile_cat *xprofile_cat(const struct xprofile *p,
					const char *name);

/*
 * The CSV header of pc's export file, with its line end: [teacher_ref,]
 * the profile's fields in canonical order, op.
 */
int xprofile_header(const struct xprofile *p, const struct xprofile_cat *pc,
		    struct buf *out);
/*
 * The pseudonym of a teacher for platform: 32 lowercase hex digits of
 * HMAC-SHA256(secret, platform NUL id_type NUL id_number), stable for as
 * long as the centre's secret (tmis.export_secret) is.
 */
void xprofile_ref(const unsigned char secret[32], const char *platform,
		  const char *id_type, size_t tl, const char *id_number,
		  size_t nl, char out[33]);
/*
 * One row of COPY CSV output of the profile's query (the profile's fields
 * in canonical order, then op; line end optional) appended to out as the
 * export row: teacher_ref first when p->pseudonym, masked fields masked.
 * -1 with err (TMERR_INPUT) on a malformed row, TMERR_LIMIT past
 * XPROFILE_MAX_ROW. The error never quotes a value.
 */
int xprofile_row(const struct xprofile *p, const struct xprofile_cat *pc,
		 const unsigned char secret[32], const char *row, size_t n,
		 struct buf *out, struct tmerr *err);

/* ---- the centre: GET /v1/exports?since=N ------------------------------ */

struct xexport_result {
	struct manifest m;      /* of the package; manifest_free() it */
	struct package_out pkg; /* pkg.path: the .tmx written */
	long long since, upto;  /* the window exported: (since, upto] */
	long long records;      /* data rows in all files */
	long long log_id;       /* its exchange-log entry */
};

/*
 * Makes p's export of the rows changed in (since, upto], upto being the
 * current change number, in one REPEATABLE READ transaction: one CSV per
 * profile category (header only when nothing changed; since 0: live rows
 * only, all "upsert"), manifest kind "export" with <changes since upto>,
 * sequence = exports so far to the platform + 1, signed by h and encrypted
 * to p->platform's trusted keys, written to out (a file, or a directory
 * for <sender>-<seq>-<id>.tmx), and an exchange-log entry (out, export,
 * exported) committed with it. since beyond the current change number is
 * TMERR_USAGE; a platform without a trusted key TMERR_INPUT. res is filled
 * on success (free res->m also on failure); on failure no package is left.
 */
int xprofile_export(PGconn *conn, const struct gw_home *h,
		    const struct defs *d, const struct xprofile *p,
		    long long since, const char *out,
		    struct xexport_result *res, struct tmerr *err);

/* ---- the platform: pull and import ------------------------------------- */

/* The N to ask partner for next: the changes_upto last imported from it
 * (tmis.pull_state), 0 when none. */
int xprofile_pull_since(PGconn *conn, const char *partner, long long *since,
			struct tmerr *err);

struct ximport_opts {
	const struct defs *defs;
	const char *files_dir;     /* write files into files_dir/<package id>/ */
	const char *expect_sender; /* refuse any other sender; NULL: any */
};

struct ximport_cat {
	char category[64];
	long long records, upserts, deletes;
};

struct ximport_result {
	struct package_info info;  /* valid when verified */
	int verified;
	const char *state;         /* "imported", "written", "refused", "failed" */
	long long previous;        /* N recorded before */
	long long since, upto;
	long long records, upserts, deletes;
	size_t ncats;
	struct ximport_cat cats[64];
	char files[4096];          /* with files_dir: the directory written */
};

/*
 * Checks 1-3 (package_verify), kind "export" with <changes>, then in one
 * transaction: refuses a package imported before (replay) or one whose
 * since is neither the recorded N nor 0 (gap, or a stale snapshot); since
 * 0 replaces everything held from the sender. Applies each file to
 * tmis.pull_record (or writes the files), records the new N in
 * tmis.pull_state and tmis.pull_package, appends the exchange-log entry
 * (in, import), commits. Refusals are TMERR_INPUT and logged "refused".
 * Release res with ximport_result_free() whatever is returned.
 */
int xprofile_import(PGconn *conn, const struct gw_home *h, const char *path,
		    const struct ximport_opts *o, struct ximport_result *res,
		    struct tmerr *err);
void ximport_result_free(struct ximport_result *res);

#endif
