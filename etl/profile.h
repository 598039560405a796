/*
 * profile: which mapping(s) serve which input file, as data. A profile file
 * holds lines "PATTERN MAPPING": a shell glob on the base name of an input
 * file (or bundle member) and a mapping path relative to the profile's own
 * directory. An input may match several lines (one XML file holding several
 * record kinds); each match becomes one job.
 *
 * profile_load() returns a profile owning its memory (profile_free), or -1
 * with err naming the file and line.
 */
#ifndef TMISGW_PROFILE_H
#define TMISGW_PROFILE_H

#include <stddef.h>

#include "err.h"

struct profile_rule {
	char *pattern;
	char *mapping;   /* resolved against the profile's directory */
	long line;
};

struct profile {
	char *path;
	size_t nrules;
	struct profile_rule *rules;
};

int profile_load(struct profile **out, const char *path, struct tmerr *err);
void profile_free(struct profile *p);
/* Index of the first rule at or after *from whose pattern matches name
 * (a base name), advancing *from past it; -1 when none is left. */
int profile_next(const struct profile *p, const char *name, size_t *from);

#endif
