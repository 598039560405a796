/*
 * xlog: the exchange log (spec exchange.md, docs/exchange-log.md), an
 * append-only, hash-chained table in PostgreSQL (migration 0006). The
 * database assigns each entry its id, time and hashes; this module only
 * appends, in the caller's transaction, and verifies the chain.
 *
 * Nothing here prints. Entries must never carry personal data: callers pass
 * package-level facts and error messages only, never row values.
 */
#ifndef TMISGW_XLOG_H
#define TMISGW_XLOG_H

#include <libpq-fe.h>

#include "err.h"

/* One entry; NULL strings and negative numbers are stored as NULL. */
struct xlog_entry {
	const char *direction;  /* "in", "out" or "local" */
	const char *event;      /* "package", "receipt", "pack", ... */
	const char *partner;    /* organisation code */
	const char *package_id;
	const char *kind;
	const char *sha256;
	const char *signer_fpr;
	const char *outcome;    /* required: "loaded", "rejected", "held", ... */
	const char *error;      /* cut to XLOG_ERROR_MAX bytes */
	long long sequence, bytes, loaded, rejected;
};

#define XLOG_ERROR_MAX 480

/* Zeroes e and marks every number absent (-1). */
void xlog_entry_init(struct xlog_entry *e);

struct package_info;
/* xlog_entry_init(), then a package received: direction "in", event, and,
 * when it was verified (info not NULL), info's sender, id, sequence, kind,
 * bytes, SHA-256 and signer (e points into info, which must outlive it). */
void xlog_entry_received(struct xlog_entry *e, const char *event,
			 const struct package_info *info);

/*
 * Append e in the current transaction (or as its own statement when none is
 * open). The chain lock is held until that transaction ends, so append last.
 * *id (may be NULL) gets the entry's id. -1 with err (TMERR_DB) on failure.
 */
int xlog_append(PGconn *conn, const struct xlog_entry *e, long long *id,
		struct tmerr *err);

/* What xlog_verify found. first_bad is 0 when the chain is intact. */
struct xlog_check {
	long long entries;
	long long last_id;
	char last_hash[65];
	long long first_bad;   /* id of the first entry that fails */
	char why[160];         /* what is wrong with it */
};

/*
 * Recompute every entry's hash and link, in id order, and check that ids
 * run 1, 2, 3 … without a gap. Streams the log (flat memory). Returns 0 when
 * it could read the log (inspect c->first_bad), -1 with err otherwise.
 */
int xlog_verify(PGconn *conn, struct xlog_check *c, struct tmerr *err);

#endif
