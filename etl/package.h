/*
 * package: the OpenPGP layer of an exchange package (docs/package.md,
 * spec exchange.md): a payload (payload.h) signed with this gateway's key
 * and encrypted to the recipient's, and checks 1-3 of a received one.
 *
 * Both directions stream with flat memory. Packing runs the payload writer
 * in a second thread that feeds GPGME through a pipe; verifying decrypts to
 * an unlinked spool file (DIR/spool), so that nothing of the plaintext is
 * parsed before the signature and the integrity check have passed. Every
 * function returns 0 or -1 with err filled; nothing prints. Refusals of a
 * received package are TMERR_INPUT (TMERR_LIMIT for a cap) and their
 * message starts "check N (what): ".
 */
#ifndef TMISGW_PACKAGE_H
#define TMISGW_PACKAGE_H

#include "err.h"
#include "home.h"
#include "manifest.h"
#include "payload.h"

#define PACKAGE_SCHEMA "tmis-indicators/1"
/* Decrypted payload caps: absolute, and per ciphertext byte beyond a grace
 * (catches an OpenPGP compression bomb before the payload's own caps). */
#define PACKAGE_MAX_PLAIN PAYLOAD_MAX_TOTAL_BYTES
#define PACKAGE_MAX_PLAIN_RATIO 50ULL
#define PACKAGE_PLAIN_GRACE (16ULL << 20)

/*
 * A manifest for sending the canonical CSV files paths[0..n) from this
 * gateway (h->org) to org to: new v4 UUID, created now in local time with
 * its offset, kind, sequence, schema PACKAGE_SCHEMA, and one file per path,
 * named data/<basename>, category <basename> without ".csv". Sizes, hashes
 * and counts are left to the pack. m is manifest_init'ed here; free it
 * also on failure.
 */
int package_manifest(const struct gw_home *h, struct manifest *m,
		     const char *to, const char *kind, long long seq,
		     const char *const *paths, size_t n, struct tmerr *err);

/* Now in local time with its offset, as a manifest's <created>. */
void package_now(char out[40]);

/* What package_write made. */
struct package_out {
	char path[4096];        /* the .tmx written */
	char sha256[65];        /* of the .tmx file */
	unsigned long long bytes;
	char signer[41];        /* our key */
	unsigned nrecipients;   /* keys of m->recipient encrypted to */
};

/*
 * Pack m's files (paths[i] for m->files[i], m updated by the scan), sign
 * with the home's own key and encrypt, binary, to every active trusted key
 * of m->recipient (none: TMERR_INPUT). out is the file to write, or an
 * existing directory to write <sender>-<sequence>-<id>.tmx into; the file
 * appears whole (temporary file, fsync, link) and never replaces an
 * existing one. On failure nothing is left behind.
 */
int package_write(const struct gw_home *h, struct manifest *m,
		  const char *const *paths, const char *out,
		  struct package_out *res, struct tmerr *err);

/* What checks 1-3 found. manifest is the verified one. */
struct package_info {
	struct manifest m;
	char signer_fpr[41];    /* as GPGME reports it (the signing subkey) */
	char signer_org[16];
	long long signed_at;    /* seconds since the epoch */
	char sha256[65];        /* of the .tmx file as received */
	unsigned long long bytes;
};

/*
 * Checks 1-3 of the spec on the package file at path: (1) it decrypts with
 * the home's key, is integrity-protected and carries exactly one valid
 * signature by a key keys_signer_org() accepts; (2) the manifest's sender
 * is that key's org and its recipient is this gateway; (3) payload_verify()
 * with limits l (NULL: defaults). With extract_dir, the verified payload is
 * extracted there (payload.h). info is filled on success and holds nothing
 * to free on failure; release it with package_info_free(). The spool file
 * is gone when this returns.
 */
int package_verify(const struct gw_home *h, const char *path,
		   const struct payload_limits *l, const char *extract_dir,
		   struct package_info *info, struct tmerr *err);
void package_info_free(struct package_info *info);

#endif
