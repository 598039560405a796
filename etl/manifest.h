/*
 * manifest: the manifest.xml of an exchange package (docs/package.md,
 * spec exchange.md): the model, a writer and a validating parser.
 *
 * A struct manifest is caller-owned; its files and counts arrays are
 * malloc'd and freed by manifest_free(). Writer and parser apply the same
 * rules (manifest_check), so what one writes the other reads. Failures fill
 * a struct tmerr whose path names the element (e.g. "/package/file[2]/@sha256")
 * and return -1; nothing is printed.
 */
#ifndef TMISGW_MANIFEST_H
#define TMISGW_MANIFEST_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define MANIFEST_NS "urn:tmis:exchange:1"
#define MANIFEST_NAME "manifest.xml"
#define MANIFEST_MAX_BYTES (1 << 20) /* longest manifest.xml accepted */
#define MANIFEST_MAX_FILES 1000      /* <file> elements, and <count> ones */
#define MANIFEST_ID_MAX 64
#define MANIFEST_ORG_LEN 6

/* One <file>: a payload entry. records is -1 until known. */
struct mfile {
	char name[256];      /* "data/x.csv" or a root name, [A-Za-z0-9._-] */
	char category[64];   /* [a-z0-9_]+ */
	char format[8];      /* "csv" or "xml" */
	long long records;   /* data records (CSV: records minus the header) */
	unsigned long long bytes;
	char sha256[65];     /* 64 lowercase hex digits */
};

/* One <count> of a receipt: what became of one file of the original. */
struct mcount {
	char name[256];
	long long received, loaded, rejected;
};

struct manifest {
	char id[MANIFEST_ID_MAX + 1]; /* [0-9a-f-]{8,64}, e.g. a UUID */
	char sender[16], recipient[16]; /* 6 of [0-9A-Z] */
	char created[40];    /* YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm) */
	char kind[16];       /* full | delta | export | receipt */
	long long sequence;  /* >= 1 */
	char schema[64];     /* [A-Za-z0-9._/-]+, e.g. "tmis-indicators/1" */
	size_t nfiles;
	struct mfile *files;
	/* export only (optional): <changes since="N" upto="M"/>; -1 = absent */
	long long changes_since, changes_upto;
	/* receipt only (required there, refused elsewhere):
	 * <receipt of="ID" sha256="HEX" outcome="…"> <count …/>* </receipt> */
	char original_id[MANIFEST_ID_MAX + 1];
	char original_sha256[65]; /* of the .tmx file as received */
	char outcome[32];    /* accepted | accepted-with-rejects | rejected */
	size_t ncounts;
	struct mcount *counts;
};

/* Zeroes m and sets the "absent" markers (-1). */
void manifest_init(struct manifest *m);
/* Frees files and counts and re-initialises m; NULL is a no-op. */
void manifest_free(struct manifest *m);

/* Appends a zeroed file (records = -1) to m; NULL and err filled on
 * out of memory or past MANIFEST_MAX_FILES. Earlier pointers stay valid
 * only until the next call. */
struct mfile *manifest_add_file(struct manifest *m, struct tmerr *err);
struct mcount *manifest_add_count(struct manifest *m, struct tmerr *err);
/* The file named name, or NULL. */
const struct mfile *manifest_find(const struct manifest *m, const char *name);

/* Checks every rule the parser applies (fields, names, duplicates,
 * receipt-only parts). */
int manifest_check(const struct manifest *m, struct tmerr *err);

/* Appends the manifest as XML to out after manifest_check(). */
int manifest_write(const struct manifest *m, struct buf *out,
		   struct tmerr *err);

/*
 * Parses and checks n bytes of XML into m (manifest_init'ed here; on failure
 * m holds nothing to free). The input must be at most MANIFEST_MAX_BYTES,
 * must not contain a DOCTYPE or entity declaration, and is parsed with
 * libxml2 without network access, external entities or DTD loading.
 */
int manifest_parse(const char *xml, size_t n, struct manifest *m,
		   struct tmerr *err);

/* Syntax checks used above, exposed for callers: 1 if valid. */
int manifest_valid_id(const char *s);
int manifest_valid_org(const char *s);
/* data/NAME or a root NAME of [A-Za-z0-9._-], not ".", "..", "data" or
 * "manifest.xml", at most 255 bytes */
int manifest_valid_name(const char *s);
int manifest_valid_sha256(const char *s);

/* A random (version 4) UUID, lowercase with dashes, from /dev/urandom. */
int manifest_uuid(char out[37], struct tmerr *err);

#endif
