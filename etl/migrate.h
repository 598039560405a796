/*
 * migrate: bring the database schema up to date from numbered SQL files
 * (dir/NNNN_name.sql), all in one transaction under an advisory lock.
 * The caller owns the connection, which must be idle (not in a transaction);
 * on failure everything is rolled back, err names the file, and -1 returns.
 */
#ifndef TMISGW_MIGRATE_H
#define TMISGW_MIGRATE_H

#include <libpq-fe.h>

#include "err.h"

/* Largest migration file read (bytes). */
#define MIGRATE_MAX_FILE (4u << 20)
/* Most migration files in one directory. */
#define MIGRATE_MAX_FILES 10000
/* pg_advisory_xact_lock key ("tmis" in ASCII) held while migrating; other
 * schema-wide writers (code-set sync) take it too to serialize with us. */
#define MIGRATE_LOCK_KEY "1953327475"

/*
 * Applies every file whose version is not in tmis.schema_migrations, in
 * version order, and records it. *applied gets the number of files applied
 * (0 when already up to date), *current the highest recorded version
 * afterwards; either pointer may be NULL. Returns 0 or -1.
 */
int db_migrate(PGconn *conn, const char *dir, int *applied, int *current,
	       struct tmerr *err);

/* $TMISGW_MIGRATIONS, or the migrations directory under TMISGW_DATADIR.
 * Returns a string that is not to be freed. */
const char *migrate_default_dir(void);

#endif
