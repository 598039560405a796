/*
 * receive: a received exchange package through checks 1-5 of the spec
 * (exchange.md), exactly once and in sequence order, answered with a
 * signed receipt (docs/package.md).
 *
 * Checks 1-3 run on the file (package.h) before anything touches the
 * database. Check 4 and the load run in ONE transaction, serialised per
 * sender: the rows, the package's state (tmis.package_in), its receipt and
 * its exchange-log entries commit together or not at all, so a crash at any
 * point followed by a rerun finishes exactly once. Every refusal is logged
 * (xlog.h) in a transaction of its own. Nothing prints; every function
 * returns 0 or -1 with err filled, and leaves no temporary file behind.
 */
#ifndef TMISGW_RECEIVE_H
#define TMISGW_RECEIVE_H

#include <libpq-fe.h>

#include "defs.h"
#include "err.h"
#include "home.h"
#include "load.h"
#include "package.h"

struct receive_opts {
	const struct defs *defs;
	double max_reject_rate;  /* < 0: no limit; over it the package is rejected */
	int progress;            /* draw the loader's progress line on stderr */
	/* an upload's claims, checked with check 2 when set: the partner
	 * whose token sent it must be the sender, and the id it named the
	 * manifest's id */
	const char *expect_sender, *expect_id;
	/* called once checks 1-3 have passed, before check 4 */
	void (*on_verified)(void *arg, const struct package_info *info);
	void *arg;
};

struct receive_result {
	/*
	 * "loaded"    rows loaded (outcome accepted or accepted-with-rejects)
	 * "rejected"  check 5 refused it (reject rate, unreadable rows); it has
	 *             a receipt
	 * "held"      a sequence gap: kept until the missing ones arrive
	 * "duplicate" seen before: nothing loaded, the same receipt again
	 * "refused"   checks 1-4 failed (err says which); nothing recorded
	 *             but the log entry
	 * "failed"    the load failed for another reason (database, disk):
	 *             nothing recorded but the log entry; try again
	 */
	const char *state;
	int verified;              /* checks 1-3 passed: info is filled */
	struct package_info info;
	struct load_result load;   /* when a load ran */
	char outcome[32];          /* the receipt's, "" without one */
	long long received, loaded, rejected; /* rows */
	long long expected;        /* held: the sequence awaited first */
	char receipt[4096];        /* the receipt in the outbox, "" when none */
	char receipt_id[MANIFEST_ID_MAX + 1];
	const char *claimed_sender, *claimed_id; /* o's expect_*, for the log */
};

/*
 * Checks 1-5 on the package file at path, as described above. A package
 * that arrives ahead of its sequence is copied to DIR/inbox/held and
 * recorded as held; once it is due, receive_next_held() names it and this
 * function, called on that path, loads it and removes the copy. A refusal
 * returns -1 with err (TMERR_INPUT, message "check N (what): ..."); so does a
 * check-5 rejection (TMERR_REJECT), with res->state "rejected" and its
 * receipt written. Release res with receive_result_free().
 */
int receive_package(PGconn *conn, const struct gw_home *h, const char *path,
		    const struct receive_opts *o, struct receive_result *res,
		    struct tmerr *err);
void receive_result_free(struct receive_result *res);

/* What check 4 says of a package that passed checks 1-3. */
enum { C4_NEW, C4_GAP, C4_SEEN, C4_REFUSED };
struct check4 {
	int verdict;            /* C4_*: load now, hold, a resend, refused (err) */
	long long expected;     /* the sequence the stream expects next */
	int was_held;           /* recorded as held before */
	char held_path[4200];
	PGresult *seen;         /* C4_SEEN: its tmis.package_in row; clear it */
};

/*
 * Check 4, read-only: has this (sender, id) been seen, with the same
 * content? is its sequence used, behind, next, or ahead? A refusal is
 * verdict C4_REFUSED with err filled (TMERR_INPUT, "check 4 (...): ...");
 * -1 only for a database error. receive_package() calls it under the
 * sender's lock; verify calls it to report without loading.
 */
int receive_check4(PGconn *conn, const struct package_info *info,
		   struct check4 *c, struct tmerr *err);

/*
 * The held package of sender that is due now (its sequence is the next one
 * expected): its path into out and 1, or 0 when none is due.
 */
int receive_next_held(PGconn *conn, const char *sender, char *out,
		      size_t outsz, struct tmerr *err);

/* Write the stored receipt of (sender, id) to the file out (replaced
 * whole); TMERR_INPUT when there is none (yet). */
int receive_fetch_receipt(PGconn *conn, const char *sender, const char *id,
			  const char *out, struct tmerr *err);


#endif
