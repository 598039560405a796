/*
 * load: CSV/XML inputs -> mapping -> validation -> COPY into a staging table
 * -> merge into the unified schema, all files in ONE transaction.
 *
 * load_files() never prints except the optional progress line on stderr; it
 * returns 0 when the load committed (or a dry run finished), -1 with err set
 * otherwise, in which case nothing was committed. res is filled in both
 * cases as far as the load got.
 */
#ifndef TMISGW_LOAD_H
#define TMISGW_LOAD_H

#include <libpq-fe.h>

#include "defs.h"
#include "err.h"

#define LOAD_MAX_CATS 32

struct load_opts {
	const struct defs *defs;
	const char *mapping;        /* --mapping, or NULL */
	const char *category;       /* --category, or NULL */
	const char *profile;        /* --profile: file name -> mapping(s), or NULL */
	const char *reject_file;    /* --reject-file, or NULL */
	double max_reject_rate;     /* < 0: no limit */
	int dry_run;
	int delta;                  /* --mode delta: never supersede records */
	int progress;               /* draw progress on stderr */
	size_t nfiles;
	const char *const *files;
	/* per file: the category of files[i] (its canonical mapping), or NULL */
	const char *const *categories;
	/*
	 * A sender's province ("41"), or NULL for no limit: teacher rows must
	 * carry a school code of that province, other records and deletes
	 * must concern its teachers (rule out_of_scope), and a full teacher
	 * file marks the province's teachers it lacks no longer reported.
	 */
	const char *scope_prov;
	/*
	 * The caller has begun the transaction and ends it: load_files()
	 * neither commits nor rolls back, and a refusal is not recorded.
	 * On success res->status is "pending"; the caller must COMMIT.
	 */
	int external_txn;
};

struct load_counts {
	long long read, inserted, updated, unchanged, rejected;
	long long superseded;  /* records a full load turned into history */
	long long deleted;     /* op=delete rows applied (history / not reported) */
	long long skipped;     /* rows a mapping's filter left out (not in read) */
};

struct load_result {
	long long load_id;
	struct load_counts cat[LOAD_MAX_CATS]; /* by category index */
	struct load_counts total;
	double seconds;
	long long events_applied;   /* teachers moved or re-statused by events */
	int nskipped_members;       /* bundle members no mapping serves */
	char skipped_members[8][128];
	const char *status;         /* "committed", "dry_run", "refused", "failed" */
	/* the first few rejects, already masked, for the summary */
	int nsample;
	char sample[8][1024];
};

int load_files(PGconn *conn, const struct load_opts *o, struct load_result *res,
	       struct tmerr *err);

/* The mapping to use for a file: explicit, by category, or by file name.
 * Writes a path into out; -1 with err when none applies. */
int load_pick_mapping(const struct defs *d, const char *mapping,
		      const char *category, const char *file, char *out,
		      size_t outsz, struct tmerr *err);

#endif
