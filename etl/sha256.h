/*
 * sha256: a self-contained, streaming SHA-256 (FIPS 180-4) for package
 * manifests and the exchange log. The caller owns the context (no
 * allocation); no call can fail.
 */
#ifndef TMISGW_SHA256_H
#define TMISGW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

struct sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	unsigned char blk[64];
	size_t nblk;           /* bytes waiting in blk */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
/* Writes the digest; c must be re-initialised before further use. */
void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN]);
/* As sha256_final, as 64 lowercase hex digits and a NUL. */
void sha256_final_hex(struct sha256 *c, char out[SHA256_HEX_LEN + 1]);
/* One-shot digest of a buffer as lowercase hex. */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);
/* The SHA-256 of the file at path in hex, and its size (bytes may be
 * NULL); -1 with errno set when it cannot be read. */
int sha256_file(const char *path, char out[SHA256_HEX_LEN + 1],
		long long *bytes);

#endif
