/*
 * dbsync: copy the data-defined code sets and indicator requirements from
 * struct defs into their tables (tmis.code_set, tmis.code_value,
 * tmis.indicator_requirement), replacing what was there, in one transaction.
 * Returns 0, or -1 with err set and nothing changed.
 */
#ifndef TMISGW_DBSYNC_H
#define TMISGW_DBSYNC_H

#include <libpq-fe.h>

#include "defs.h"
#include "err.h"

int db_sync_defs(PGconn *conn, const struct defs *d, long *ncodes,
		 struct tmerr *err);

#endif
