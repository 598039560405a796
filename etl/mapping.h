/*
 * mapping: a compiled mapping file (docs/mappings.md) and the row pipeline
 * that turns one adapter record into canonical values of one category.
 *
 * mapping_load() returns a mapping that owns all its memory and refers to the
 * struct defs it was compiled against (which must outlive it). Errors name
 * the mapping file and line. mapping_bind() resolves column names for one
 * input; the mapping then serves that input until the next bind.
 */
#ifndef TMISGW_MAPPING_H
#define TMISGW_MAPPING_H

#include <stddef.h>

#include "../adapters/adapter.h"
#include "buf.h"
#include "defs.h"
#include "err.h"

#define MAP_MAX_FIELDS 64
/* The pseudo-field "op" (upsert | delete) of delta inputs lives after the
 * category's fields in a row: index FIELD_OP. */
#define FIELD_OP MAP_MAX_FIELDS

enum src_kind { SRC_COL, SRC_COLOPT, SRC_POS, SRC_CONST };

enum xf_kind {
	XF_TRIM, XF_UPPER, XF_LOWER, XF_DATE, XF_MONTH, XF_BOOL, XF_MAP,
	XF_LABEL, XF_DEFAULT, XF_APPEND,
};

struct maptab {
	char *name;
	long line;
	size_t n;
	char **from, **to;  /* sorted by from */
};

struct xform {
	enum xf_kind kind;
	size_t npats;
	char **pats;        /* date / month patterns; bool: [0]=true [1]=false */
	const struct maptab *map;
	int keep;           /* map: pass values the table lacks */
	const struct codeset *cs;
	char *arg;          /* default value; append: the other column */
	int colidx;         /* append: bound column, -1 */
};

struct mfield {
	int field;          /* index in the category */
	long line;          /* mapping file line */
	enum src_kind src;
	char *col;          /* SRC_COL(OPT): header name; SRC_CONST: value */
	long pos;           /* SRC_POS: 1-based */
	int colidx;         /* bound input column, -1 = not present */
	size_t nxf;
	struct xform *xf;
};

struct mapping {
	char *path;
	char *format;
	char *encoding;
	const struct defs *defs;
	const struct category_def *cat;
	int header;
	char delimiter;
	char *record;       /* XML record path */
	size_t nns;         /* XML namespace bindings */
	char **ns_prefix, **ns_uri;
	size_t nxpaths;     /* XML: distinct col/col? paths, for the adapter */
	const char **xpaths;
	int scope;          /* "scope FIELD": a full file covers the stored teachers
			     * whose FIELD is among the file's values; -1 none */
	char *filter_col;   /* "filter COLUMN VALUE...": keep only matching rows */
	long filter_line;
	int filter_idx;     /* bound column, -1 */
	size_t nfilter;
	char **filter_vals;
	size_t nfields;
	size_t ndeclared;   /* fields from the file; the rest are bound extras */
	struct mfield *fields;
	size_t nmaps;
	struct maptab *maps;
};

int mapping_load(struct mapping **out, const char *path, const struct defs *d,
		 struct tmerr *err);
void mapping_free(struct mapping *m);
/* Resolve col/pos sources against an input's column names. A `col` the
 * input lacks is an error naming the mapping line and the input. */
int mapping_bind(struct mapping *m, const char *const *names, size_t n,
		 const char *input, struct tmerr *err);
/* Fill adapter options from the mapping (encoding, header, delimiter; for
 * XML the record path, the col/col? paths and the namespaces, which point
 * into the mapping and live as long as it). */
void mapping_adapter_opts(const struct mapping *m, struct adapter_opts *o);

/*
 * A canonical row under construction. val[i] points into the record or into
 * scratch; supplied[i] says whether the mapping supplies field i at all.
 * A supplied field of length 0 is empty (stored as NULL). Reused across
 * rows; scratch is allocated once at its cap, so values never move and a
 * hostile row is a reject, never growth.
 */
struct row {
	const struct category_def *cat;
	long line;
	const char *val[MAP_MAX_FIELDS + 1];
	size_t len[MAP_MAX_FIELDS + 1];
	unsigned char supplied[MAP_MAX_FIELDS + 1];
	struct buf scratch;
};

/* -1 when the scratch space cannot be allocated. */
int row_init(struct row *r, const struct category_def *cat);
void row_release(struct row *r);

/* Apply the mapping to one record. 0 = mapped; 1 = the row is rejected
 * (err has field, rule and a masked value); 2 = the row is not for this
 * mapping ("filter") and is skipped; -1 = internal failure. */
int row_map(struct row *r, const struct mapping *m, const struct record *rec,
	    struct tmerr *err);

/* Parse value with date pattern pat; 0 and *out filled, or -1. */
struct ymd;
int pattern_date(const char *pat, const char *v, size_t n, struct ymd *out,
		 int want_day);
/* 0 if pat is a valid date (want_day) or month pattern. */
int pattern_check(const char *pat, int want_day);

/* Mask a field's value for messages (personal fields masked). */
void field_mask_value(const struct field_def *f, const char *v, size_t n,
		      char *out, size_t outsz);

#endif
