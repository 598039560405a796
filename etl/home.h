/*
 * home: a gateway's home directory, where all its state lives.
 *
 *   DIR/gnupg      GNUPGHOME of the gateway's keyring (mode 0700)
 *   DIR/spool      packages being received
 *   DIR/outbox     packages and receipts to send
 *   DIR/inbox      packages received, by state
 *   DIR/config     "key value" lines, '#' comments: "org 410000"
 *   DIR/trust.tsv  the trust store (keys.h)
 *
 * The caller owns a struct gw_home and releases it with home_close(). Every
 * function returns 0 or -1 with err filled; nothing prints or exits.
 */
#ifndef TMISGW_HOME_H
#define TMISGW_HOME_H

#include <stddef.h>

#include "err.h"

struct gw_home {
	char *dir;     /* absolute */
	char *gnupg;   /* dir/gnupg */
	char *spool;
	char *outbox;
	char *inbox;
	char org[16];  /* from config, "" before keys_init */
};

/*
 * Open the home dir (NULL: $TMISGW_HOME). With create, make it and its
 * subdirectories (mode 0700) as needed; without, dir and dir/gnupg must
 * exist already (a missing spool, outbox or inbox is remade).
 * Refuses a gnupg directory that others can read or that another user owns.
 * On failure h is left empty (home_close() is still safe).
 */
int home_open(struct gw_home *h, const char *dir, int create,
	      struct tmerr *err);
void home_close(struct gw_home *h);

/*
 * Value of key in DIR/config into val (at most valsz - 1 bytes). Returns 1
 * when found, 0 when absent (val = ""), -1 on a read error or a malformed or
 * oversized file.
 */
int home_config_get(const struct gw_home *h, const char *key, char *val,
		    size_t valsz, struct tmerr *err);
/* Set key to val in DIR/config, keeping other lines; atomic (rename). */
int home_config_set(const struct gw_home *h, const char *key, const char *val,
		    struct tmerr *err);

/* Remove the directory tree at dir (a work directory under the spool):
 * depth first, links not followed; a missing dir is fine. */
void home_rm_tree(const char *dir);

/* 1 when s is an organisation code: 6 characters [0-9A-Z]. */
int home_org_valid(const char *s);

#endif
