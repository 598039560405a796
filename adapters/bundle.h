/*
 * bundle: a zip or tar (plain, gzip, bzip2 or zstd) of several input files,
 * read member by member through libarchive and never extracted to disk.
 *
 * Only regular files are members. Directory entries are skipped; any other
 * entry (symlink, hard link, device, fifo, socket, sparse or encrypted file),
 * an unsafe or duplicate name, or too many entries refuses the whole bundle.
 * Sizes are checked against the headers when listing and against the bytes
 * actually decompressed when reading, so a lying header still hits the caps.
 * See docs/bundles.md.
 */
#ifndef TMISGW_BUNDLE_H
#define TMISGW_BUNDLE_H

#include <stddef.h>

#include "../etl/err.h"
#include "adapter.h"

struct bundle_limits {
	unsigned long long max_member_bytes; /* one member, decompressed */
	unsigned long long max_total_bytes;  /* all members (declared) and one handle */
	unsigned max_entries;                /* every entry, directories included */
	double max_ratio;                    /* decompressed ÷ archive bytes read */
};

#define BUNDLE_MAX_MEMBER_BYTES (8ULL << 30)
#define BUNDLE_MAX_TOTAL_BYTES (64ULL << 30)
#define BUNDLE_MAX_ENTRIES 10000
#define BUNDLE_MAX_RATIO 200.0
/* The ratio is only judged once this many bytes have been decompressed. */
#define BUNDLE_RATIO_GRACE (1ULL << 20)
/* Longest member name accepted, in bytes. */
#define BUNDLE_NAME_MAX 1024

/* Fills l with the defaults above. */
void bundle_limits_default(struct bundle_limits *l);

/*
 * 1 if path is a zip or tar (possibly compressed) by content, or is named
 * .zip/.tar/.tgz/.tar.gz/.tar.zst/.tzst/.tar.bz2 (so that a broken bundle is
 * reported as one); 0 otherwise, for "-" and for unreadable files.
 */
int bundle_is(const char *path);

struct bundle_entry {
	char *name;              /* normalised: no leading "./" */
	unsigned long long size; /* from the header; 0 when !size_known */
	int size_known;          /* 0: streamed zip entry, size in a trailer */
};

/*
 * Lists the regular-file members in archive order, checking every entry
 * (see above), declared sizes and, through compressed tar streams, the
 * expansion ratio. On success *out (NULL when there are no members) and *n
 * belong to the caller, freed with bundle_entries_free(); on failure returns
 * -1, fills err and *out is NULL. l may be NULL for the defaults.
 */
int bundle_list(const char *path, const struct bundle_limits *l,
		struct bundle_entry **out, size_t *n, struct tmerr *err);
void bundle_entries_free(struct bundle_entry *e, size_t n);

struct bundle;

/*
 * Opens member (a name as bundle_list gives it) of the bundle at path as the
 * input in, named "path:member". Entries before it are checked as in
 * bundle_list. in->read() streams the member through fixed buffers; past a
 * cap (member size, max_total_bytes, or the ratio of this handle's
 * decompressed bytes to the archive bytes it has read, once over
 * BUNDLE_RATIO_GRACE) or on a corrupt stream it returns -1 with errno EFBIG
 * or EIO, and bundle_error() says why. On success *b owns everything in
 * refers to, until bundle_close(); on failure returns -1, fills err, *b is
 * NULL and in is zeroed. l may be NULL for the defaults.
 */
int bundle_open_member(struct bundle **b, const char *path, const char *member,
		       const struct bundle_limits *l, struct input *in,
		       struct tmerr *err);
/* The error behind the last failed read (code TMERR_NONE if none). */
const struct tmerr *bundle_error(const struct bundle *b);
/* Decompressed bytes of the member handed out so far. */
unsigned long long bundle_bytes(const struct bundle *b);
/* Frees b and everything its input refers to; NULL is a no-op. */
void bundle_close(struct bundle *b);

#endif
