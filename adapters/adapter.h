/*
 * adapter: the vtable every input format implements (CSV, XML, ...), in the
 * manner of libarchive's formats and PostgreSQL's CopyFromRoutine. The core
 * picks an adapter by name (from a mapping) or by probe, and knows no format.
 *
 * All state lives in the handle the adapter's open() allocates; close() frees
 * it. An adapter reads through a struct input and so never needs a path.
 */
#ifndef TMISGW_ADAPTER_H
#define TMISGW_ADAPTER_H

#include <stddef.h>
#include <sys/types.h>

#include "../etl/err.h"

/* A byte source. read() returns bytes read, 0 at end, -1 on error (with
 * errno set). The input is owned by whoever opened it, not by the adapter. */
struct input {
	ssize_t (*read)(void *ctx, void *dst, size_t n);
	void *ctx;
	const char *name; /* for error messages: file or archive member */
};

/* Open a plain file as an input; "-" is standard input. */
int input_open_file(struct input *in, const char *path, struct tmerr *err);
void input_close_file(struct input *in);

struct adapter_opts {
	const char *encoding;   /* "utf-8", "gb18030", "gbk"; NULL = utf-8 */
	int has_header;         /* CSV: first record names the columns */
	char delimiter;         /* CSV: default ',' */
	size_t field_cap;       /* longest field in bytes (after decoding) */
	size_t record_cap;      /* longest record in bytes */
	/* XML: the record element and the relative paths to extract. The
	 * record's names[] are then exactly these paths, in this order. */
	const char *record_path;
	const char *const *paths;
	size_t npaths;
	/* XML: namespace prefixes used in record_path and paths, and the
	 * URI each is bound to ("xml" is predefined). */
	const char *const *ns_prefixes;
	const char *const *ns_uris;
	size_t nns;
};

#define ADAPTER_FIELD_CAP (64 * 1024)
#define ADAPTER_RECORD_CAP (1024 * 1024)

/*
 * One record. Names and values are UTF-8. vals[i] == NULL means the field is
 * missing from this record; "" means present and empty. Pointers stay valid
 * until the next call to next() or close().
 */
struct record {
	long line;              /* input line where the record starts */
	size_t nfields;
	const char *const *names;
	const char *const *vals;
	const size_t *lens;
	const long *cols;       /* column number (1-based) of each field, or NULL */
};

enum adapter_rc {
	ADP_OK = 0,     /* *rec holds a record */
	ADP_EOF = 1,    /* no more records */
	ADP_BAD = 2,    /* this record is rejected; err says why; call next() again */
	ADP_FATAL = -1, /* the input cannot be read further; err says why */
};

struct adapter_handle;

struct adapter {
	const char *name;
	/* How sure (0-100) the adapter is that the input starting with head
	 * (len bytes; name may be NULL) is its format. */
	int (*probe)(const unsigned char *head, size_t len, const char *name);
	/* On success *h is a new handle and names of the header (if any) are
	 * available via next(); on failure returns -1 and fills err. */
	int (*open)(struct adapter_handle **h, struct input *in,
		    const struct adapter_opts *opts, struct tmerr *err);
	int (*next)(struct adapter_handle *h, struct record *rec,
		    struct tmerr *err);
	/* Column names (CSV header) or requested paths; valid until close. */
	size_t (*names)(struct adapter_handle *h, const char *const **names);
	void (*close)(struct adapter_handle *h);
};

/* The registry: NULL-terminated list of every adapter. */
const struct adapter *const *adapter_list(void);
const struct adapter *adapter_find(const char *name);

#endif
