/*
 * defs: the data that defines the schema, read from the mappings directory
 * at run time (never compiled in):
 *   schema.tsv            canonical categories and fields, types, keys
 *   codes/<set>.tsv       national and project code sets
 *   indicators/<set>.tsv  the seven indicator sets: applicability, required
 *   change_effects.tsv    what each kind of teacher change event does
 *
 * defs_load() returns one immutable struct defs that owns everything it
 * points to; defs_free() releases it. Errors name the file and line.
 */
#ifndef TMISGW_DEFS_H
#define TMISGW_DEFS_H

#include <stddef.h>

#include "err.h"

enum ftype {
	FT_TEXT,
	FT_CODE,
	FT_DATE,       /* YYYY-MM-DD */
	FT_MONTH,      /* YYYY-MM */
	FT_YEAR,       /* YYYY */
	FT_BOOL,       /* true / false */
	FT_DECIMAL,
	FT_INT,
	FT_IDNUMBER,   /* checked per id_type (GB 11643 for 1) */
	FT_SCHOOL,     /* 10-digit school code */
	FT_CERTNO,     /* 17-digit teacher qualification certificate */
	FT_PHONE,
	FT_EMAIL,
	FT_SCHOOLYEAR, /* YYYY-YYYY, consecutive years */
};

struct code {
	char *code;
	char *label;
	int provisional;
};

struct codeset {
	char *name;
	char *label;
	char *standard;
	size_t ncodes;
	struct code *codes;   /* sorted by code */
	/* @digits N + @prefix K: any N-digit value whose first K characters
	 * are a listed code is valid (division codes). */
	int digits, prefix;
	/* @subcode N: a code of N characters whose first character is a
	 * listed code is valid (degree 201 -> 2). */
	int subcode;
};

struct field_def {
	char *name;
	char *label;
	enum ftype type;
	size_t maxlen;              /* text: characters; 0 = no limit */
	double min, max;            /* decimal, int */
	const struct codeset *codes;
	unsigned key : 1, personal : 1, future : 1;
	unsigned extra : 1;          /* provincial indicator, stored in "extra" jsonb */
	unsigned required_always : 1; /* provincial indicator marked required */
	int after;                  /* index of field this one must not precede, -1 */
};

struct category_def {
	char *name;
	int index;
	size_t nfields;
	struct field_def *fields;
	size_t nkeys;
	int *keys;                  /* indices of key fields, id_type and id_number first */
	int multi;                  /* many records per teacher (not teacher) */
};

struct indicator_set {
	char *name;
	char *label;
	unsigned char *applicable;  /* [ncats] */
	unsigned char **required;   /* [ncats][nfields] */
};

/* mappings/change_effects.tsv: what a change event does to its teacher */
struct change_effect {
	char *kind;        /* a change_kind code */
	char *status;      /* a teacher_status code, or NULL */
	int moves_school;
};

struct defs {
	char *dir;
	size_t ncats;
	struct category_def *cats;
	size_t ncodesets;
	struct codeset *codesets;
	size_t nsets;
	struct indicator_set *sets;
	size_t neffects;
	struct change_effect *effects;
	/* code sets of provincial indicator files (defs_load_indicators) */
	size_t nextra_sets;
	struct codeset *extra_sets;
	char *indicators_label;
};

/* dir: the mappings directory (NULL: $TMISGW_MAPPINGS, else the build's). */
int defs_load(struct defs **out, const char *dir, struct tmerr *err);
/*
 * Add a province's own indicators (docs/provincial-indicators.md) to d: each
 * becomes an extra field of its category, validated like core fields and
 * stored in the category's "extra" jsonb column. Code sets are looked up in
 * d, then in "codes/" beside the file. Call before compiling mappings; on
 * error d is unchanged or only partly extended and should be freed.
 */
int defs_load_indicators(struct defs *d, const char *path, struct tmerr *err);
void defs_free(struct defs *d);
const char *defs_default_dir(void);

const struct category_def *defs_category(const struct defs *d, const char *name);
int category_field(const struct category_def *c, const char *name);
const struct codeset *defs_codeset(const struct defs *d, const char *name);
const struct indicator_set *defs_set(const struct defs *d, const char *name);

/* 1 if value (len bytes) is valid in the set, honouring @digits/@subcode. */
int codeset_valid(const struct codeset *cs, const char *value, size_t len);
/* The code whose label is exactly label, or NULL. */
const char *codeset_by_label(const struct codeset *cs, const char *label);
const struct code *codeset_find(const struct codeset *cs, const char *value,
				size_t len);

#endif
