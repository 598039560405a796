#include "profile.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int profile_load(struct profile **out, const char *path, struct tmerr *err)
{
	struct profile *p;
	const char *slash = strrchr(path, '/');
	char line[4096];
	long lineno = 0;
	FILE *f;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		tmerr_where(err, path, 0, 0);
		return tmerr_set(err, TMERR_MAPPING, "cannot open profile \"%s\": %s",
				 path, strerror(errno));
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		free(p);
		fclose(f);
		return tmerr_set(err, TMERR_SYS, "out of memory");
	}
	while (fgets(line, sizeof(line), f)) {
		char pat[1024], map[2048], extra[8];
		struct profile_rule *r;
		int n;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			tmerr_where(err, path, lineno, 0);
			tmerr_set(err, TMERR_MAPPING, "line too long");
			goto fail;
		}
		n = sscanf(line, " %1023s %2047s %7s", pat, map, extra);
		if (n <= 0 || pat[0] == '#')
			continue;
		if (n != 2) {
			tmerr_where(err, path, lineno, 0);
			tmerr_set(err, TMERR_MAPPING, "expected \"PATTERN MAPPING\"");
			goto fail;
		}
		r = realloc(p->rules, (p->nrules + 1) * sizeof(*r));
		if (!r) {
			tmerr_set(err, TMERR_SYS, "out of memory");
			goto fail;
		}
		p->rules = r;
		r = &p->rules[p->nrules];
		r->line = lineno;
		r->pattern = strdup(pat);
		if (map[0] == '/' || !slash)
			r->mapping = strdup(map);
		else if (asprintf(&r->mapping, "%.*s/%s", (int)(slash - path), path,
				  map) < 0)
			r->mapping = NULL;
		p->nrules++;
		if (!r->pattern || !r->mapping) {
			tmerr_set(err, TMERR_SYS, "out of memory");
			goto fail;
		}
	}
	fclose(f);
	if (!p->nrules) {
		tmerr_where(err, path, 0, 0);
		tmerr_set(err, TMERR_MAPPING, "profile has no rules");
		profile_free(p);
		return -1;
	}
	*out = p;
	return 0;
fail:
	fclose(f);
	profile_free(p);
	return -1;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		free(p->rules[i].pattern);
		free(p->rules[i].mapping);
	}
	free(p->rules);
	free(p->path);
	free(p);
}

int profile_next(const struct profile *p, const char *name, size_t *from)
{
	while (*from < p->nrules) {
		size_t i = (*from)++;

		if (!fnmatch(p->rules[i].pattern, name, 0))
			return (int)i;
	}
	return -1;
}
