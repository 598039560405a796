/*
 * sample: a realistic, reproducible province of teacher data for demos,
 * tests and benchmarks, written as canonical CSV (one <category>.csv per
 * category of defs, header = canonical field names, UTF-8, LF, RFC 4180).
 *
 * The generator streams: one pass over the teachers, every category's rows
 * of a teacher written before the next teacher, memory independent of N.
 * The same options and seed always give byte-identical files. A share of
 * rows (opts.dirty) is made invalid in exactly one way each, cycling over
 * the validation rules, so a load of the sample exercises every reject.
 *
 * sample_write() returns 0, or -1 with err set (naming the file); files
 * already written may then remain, incomplete, in out_dir.
 */
#ifndef TMISGW_SAMPLE_H
#define TMISGW_SAMPLE_H

#include "defs.h"
#include "err.h"

struct sample_opts {
	long teachers;                 /* N, >= 0 */
	const char *province;          /* two digits, e.g. "41" */
	const char *out_dir;           /* created (with parents) if missing */
	double dirty;                  /* share of rows made invalid, 0..1 */
	unsigned long long seed;
	const struct defs *defs;       /* code sets, loaded from mappings/ */
	int today_y, today_m, today_d; /* "today", for reproducible ages */
};

#define SAMPLE_MAXCATS 32

/* Indexed by category_def.index; caller-owned, zeroed by sample_write. */
struct sample_stats {
	long rows[SAMPLE_MAXCATS];       /* rows written, dirty ones included */
	long dirty_rows[SAMPLE_MAXCATS]; /* rows made invalid on purpose */
};

int sample_write(const struct sample_opts *o, struct sample_stats *st,
		 struct tmerr *err);

#endif
