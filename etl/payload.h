/*
 * payload: the tar + zstd (or gzip) archive inside an exchange package,
 * written and verified as a stream through libarchive (docs/package.md).
 *
 * Writing is two passes over each data file: payload_scan_*() hashes and
 * counts it, the manifest is written as the first entry, then
 * payload_add_file() streams the file again (a tar header needs the size
 * up front anyway) and checks it did not change. Verifying reads the
 * decrypted stream once, checks every entry against the manifest and the
 * limits, and optionally extracts with rename-on-success. Memory is fixed
 * (one 64 KiB block, the manifest) whatever the payload size. Every
 * function fills err and returns -1 on failure; nothing is printed.
 */
#ifndef TMISGW_PAYLOAD_H
#define TMISGW_PAYLOAD_H

#include <stddef.h>

#include "../adapters/adapter.h"
#include "err.h"
#include "manifest.h"

struct payload_limits {
	unsigned long long max_entry_bytes; /* one entry, decompressed */
	unsigned long long max_total_bytes; /* all entries, decompressed */
	unsigned max_entries;               /* tar headers, directories included */
	double max_ratio;                   /* decompressed ÷ compressed bytes read */
};

#define PAYLOAD_MAX_ENTRY_BYTES (16ULL << 30)
#define PAYLOAD_MAX_TOTAL_BYTES (64ULL << 30)
#define PAYLOAD_MAX_ENTRIES 10000
#define PAYLOAD_MAX_RATIO 200.0
/* The ratio is only judged once this many bytes have been decompressed. */
#define PAYLOAD_RATIO_GRACE (1ULL << 20)
/* Input allowed after the end of the archive, read and discarded. */
#define PAYLOAD_MAX_TRAILER (1ULL << 20)

void payload_limits_default(struct payload_limits *l);

/* ---- pass 1: scanning ---------------------------------------------------- */

/*
 * Reads the file at path once: its size, SHA-256 (64 lowercase hex) and,
 * for CSV, its records: RFC 4180 records outside quotes (a quoted line
 * break does not end one; blank lines are not records; CR, LF and CRLF end
 * lines) minus the header. Either output pointer may be NULL.
 */
int payload_scan_csv(const char *path, long long *records,
		     unsigned long long *bytes, char sha256[65],
		     struct tmerr *err);
/* Size and SHA-256 only. */
int payload_scan_file(const char *path, unsigned long long *bytes,
		      char sha256[65], struct tmerr *err);
/*
 * Fills f->bytes and f->sha256 from path, and f->records too when it is
 * negative and f->format is "csv" (other formats must set records first).
 */
int payload_scan(struct mfile *f, const char *path, struct tmerr *err);

/* ---- pass 2: writing ----------------------------------------------------- */

/* Receives the compressed archive; returns 0, or -1 to abort the write. */
typedef int (*payload_sink_fn)(void *ctx, const void *buf, size_t n);

/* Skip the second SHA-256 in payload_add_file (sizes are still checked). */
#define PAYLOAD_NO_RECHECK 1u

struct payload_writer;

/* A pax (restricted) tar, zstd-compressed, to sink. flags: PAYLOAD_*. */
int payload_writer_open(struct payload_writer **w, payload_sink_fn sink,
			void *ctx, unsigned flags, struct tmerr *err);
/* Writes manifest.xml as the first entry; m (checked, complete) is
 * remembered for the payload_add_file() checks. Once only. */
int payload_write_manifest(struct payload_writer *w, const struct manifest *m,
			   struct tmerr *err);
/*
 * Streams the file at path as entry name, which the manifest must list;
 * fails if its size or (unless PAYLOAD_NO_RECHECK) SHA-256 differs from the
 * manifest's. After a failure the archive is unusable: abort it.
 */
int payload_add_file(struct payload_writer *w, const char *name,
		     const char *path, struct tmerr *err);
/* Ends the archive (every manifest file must have been added), flushes
 * the sink and frees w, also on failure. */
int payload_writer_close(struct payload_writer *w, struct tmerr *err);
/* Frees w without ending the archive; NULL is a no-op. */
void payload_writer_abort(struct payload_writer *w);

/*
 * Both passes: payload_scan() of m->files[i] from paths[i] for every file,
 * then the whole archive to sink. m is updated with what the scan found.
 */
int payload_pack(struct manifest *m, const char *const *paths,
		 payload_sink_fn sink, void *ctx, unsigned flags,
		 struct tmerr *err);

/* ---- verifying ----------------------------------------------------------- */

/*
 * Reads in to its end as a tar.zst or tar.gz payload and runs check 3 of
 * the spec: manifest.xml first and valid, then only regular files (or a
 * "data/" directory) that the manifest lists, each once, each of the listed
 * size, SHA-256 and (CSV) record count, every listed file present, within
 * the limits l (NULL: defaults). Errors start "check 3 (manifest): " or
 * "check 3 (archive): " and name the entry.
 *
 * With extract_dir (created if missing), each verified entry is written
 * there (data/ files under extract_dir/data) through a temporary name and
 * linked into place once it verifies, never over an existing file; on
 * failure everything written, directories made included, is removed.
 *
 * On success m holds the manifest (manifest_free() it); on failure m holds
 * nothing to free.
 */
int payload_verify(struct input *in, const struct payload_limits *l,
		   struct manifest *m, const char *extract_dir,
		   struct tmerr *err);

#endif
