/*
 * keys: the gateway's OpenPGP key pair and its trust store, through GPGME.
 *
 * The keyring in DIR/gnupg (home.h) is only a cache of keys; who is trusted
 * for which organisation is decided by DIR/trust.tsv alone, which binds an
 * organisation code to full 40-hex primary-key fingerprints (never short key
 * IDs). Fingerprints given to and returned by these functions are 40 upper-
 * case hex digits. Every function returns 0 or -1 with err filled: TMERR_USAGE
 * for a bad argument, TMERR_INPUT for a refused key or binding, TMERR_LIMIT
 * for an oversized file, TMERR_SYS for gpg or OS failures. Nothing prints.
 *
 * The secret key has no passphrase: it is protected by the permissions of
 * the home directory (0700). Production would keep it in an agent or HSM.
 */
#ifndef TMISGW_KEYS_H
#define TMISGW_KEYS_H

#include <stdio.h>

#include <gpgme.h>

#include "err.h"
#include "home.h"

/* Days a key made by keys_init is valid. */
#define KEYS_VALID_DAYS 730

/*
 * A new GPGME context bound to the home's keyring (OpenPGP, homedir
 * h->gnupg), calling gpgme_check_version() first. Trust model "pgp": the
 * home's own key is ultimately trusted and keys_trust() certifies partner
 * keys with a local signature, so GPGME reports summary VALID for good
 * signatures by trusted, unexpired, unrevoked keys and encrypts to them
 * without ALWAYS_TRUST. Which org a key speaks for, and retirement, are
 * keys_signer_org()'s to decide. Pinentry is never asked (a passphrase need
 * is an error). The caller releases *ctx with gpgme_release().
 */
int keys_ctx(const struct gw_home *h, gpgme_ctx_t *ctx, struct tmerr *err);

/*
 * Make this gateway's key pair: an ed25519 primary key for signing and
 * certifying, a cv25519 encryption subkey, user ID "tmisgw <ORG>", no
 * passphrase, expiring in KEYS_VALID_DAYS. Writes "org ORG" to DIR/config.
 * Fails if the home already has a secret key. fpr gets the new key's
 * fingerprint.
 */
int keys_init(const struct gw_home *h, const char *org, char fpr[41],
	      struct tmerr *err);

/* This gateway's own key: the fingerprint of the one secret key in the home. */
int keys_own(const struct gw_home *h, gpgme_ctx_t ctx, char fpr[41],
	     struct tmerr *err);

/* Write this gateway's public key, ASCII-armoured and minimal, to out. */
int keys_export(const struct gw_home *h, FILE *out, struct tmerr *err);

/*
 * Import the partner key in keyfile (at most 1 MiB; it must hold exactly one
 * public key, able to sign and to encrypt, neither expired nor revoked; a
 * secret key is refused before anything is imported), certify it locally
 * with the home's own key (so the home needs keys_init() first), and bind
 * org to its fingerprint, status active, in the trust store. More than one
 * key per org is allowed (rollover); one key for two orgs is refused, and so
 * is trusting a retired binding again. Trusting an active binding again only
 * refreshes the key in the keyring (e.g. a new expiry date). fpr gets the
 * fingerprint.
 */
int keys_trust(const struct gw_home *h, const char *org, const char *keyfile,
	       char fpr[41], struct tmerr *err);

/*
 * Retire the binding org -> fpr (status retired, with the time); fpr may be
 * grouped with spaces. An unknown binding is an error; retiring a retired
 * binding again changes nothing. The key stays in the keyring (old receipts
 * still verify); keys_signer_org() refuses it.
 */
int keys_retire(const struct gw_home *h, const char *org, const char *fpr,
		struct tmerr *err);

/* One trust-store binding. Times are ISO 8601 UTC, retired "" when active. */
struct trust_entry {
	char org[16];
	char fpr[41];
	char status[12];   /* "active" or "retired" */
	char added[32];
	char retired[32];
};

/*
 * All bindings in file order into a malloc'd array (*out, *n; NULL and 0
 * when the store is empty). The caller frees *out.
 */
int keys_list(const struct gw_home *h, struct trust_entry **out, size_t *n,
	      struct tmerr *err);

/*
 * For verification: the organisation that sig_fpr (the fingerprint a GPGME
 * signature reports: the primary key's, or the signing subkey's) is bound
 * to. The key must be in the keyring, its primary fingerprint bound to an
 * org with status active, and neither the primary key nor the signing
 * subkey expired or revoked. Returns 0 and fills org, or -1 with err (code
 * TMERR_INPUT) naming why: unknown signer, retired, expired or revoked.
 */
int keys_signer_org(const struct gw_home *h, gpgme_ctx_t ctx,
		    const char *sig_fpr, char org[16], struct tmerr *err);

/* What the keyring says about a key (for listings). */
struct key_state {
	long long expires;  /* primary key expiry, seconds since epoch; 0 never */
	int missing;        /* not in the keyring */
	int expired;
	int revoked;
};

/* Look fpr up in the keyring; a missing key is not an error (ks->missing). */
int keys_state(gpgme_ctx_t ctx, const char *fpr, struct key_state *ks,
	       struct tmerr *err);

/*
 * Normalise a fingerprint as typed: spaces dropped, hex upper-cased. Returns
 * 0, or -1 (TMERR_USAGE) unless it is exactly 40 hex digits.
 */
int keys_fpr_norm(const char *in, char out[41], struct tmerr *err);

#endif
