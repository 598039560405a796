#include "defs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TMISGW_DATADIR
#define TMISGW_DATADIR "."
#endif

#define DEFS_MAX_LINE 4096

const char *defs_default_dir(void)
{
	const char *e = getenv("TMISGW_MAPPINGS");

	return e && *e ? e : TMISGW_DATADIR "/mappings";
}

/* A line-oriented reader for small definition files, with line numbers. */
struct lines {
	FILE *f;
	const char *path;
	long lineno;
	char buf[DEFS_MAX_LINE];
};

static int lines_open(struct lines *l, const char *path, struct tmerr *err)
{
	l->f = fopen(path, "r");
	l->path = path;
	l->lineno = 0;
	if (!l->f) {
		tmerr_where(err, path, 0, 0);
		return tmerr_set(err, TMERR_MAPPING, "cannot open \"%s\": %s",
				 path, strerror(errno));
	}
	return 0;
}

/* Next non-blank, non-comment line, newline stripped; 1 got, 0 eof, -1 err. */
static int lines_next(struct lines *l, struct tmerr *err)
{
	while (fgets(l->buf, sizeof(l->buf), l->f)) {
		size_t n = strlen(l->buf);

		l->lineno++;
		if (n == sizeof(l->buf) - 1 && l->buf[n - 1] != '\n') {
			tmerr_where(err, l->path, l->lineno, 0);
			return tmerr_set(err, TMERR_MAPPING, "line too long");
		}
		while (n && (l->buf[n - 1] == '\n' || l->buf[n - 1] == '\r'))
			l->buf[--n] = '\0';
		if (!n || l->buf[0] == '#')
			continue;
		return 1;
	}
	return 0;
}

/* Split on TABs in place; returns the number of fields (at most max). */
static int split_tabs(char *s, char **out, int max)
{
	int n = 0;

	while (n < max) {
		char *t = strchr(s, '\t');

		out[n++] = s;
		if (!t)
			break;
		*t = '\0';
		s = t + 1;
	}
	return n;
}

static char *xstrdup(const char *s, struct tmerr *err)
{
	char *p = strdup(s);

	if (!p)
		tmerr_set(err, TMERR_SYS, "out of memory");
	return p;
}

static int grow(void **arr, size_t *alloc, size_t n, size_t elem,
		struct tmerr *err)
{
	void *p;
	size_t na;

	if (n < *alloc)
		return 0;
	na = *alloc ? *alloc * 2 : 16;
	p = realloc(*arr, na * elem);
	if (!p)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	memset((char *)p + *alloc * elem, 0, (na - *alloc) * elem);
	*arr = p;
	*alloc = na;
	return 0;
}

/* ---- code sets ---------------------------------------------------------- */

static int code_cmp(const void *a, const void *b)
{
	return strcmp(((const struct code *)a)->code,
		      ((const struct code *)b)->code);
}

static int load_codeset(struct codeset *cs, const char *path, const char *name,
			struct tmerr *err)
{
	struct lines l;
	size_t alloc = 0, i;
	int rc;

	cs->name = xstrdup(name, err);
	if (!cs->name || lines_open(&l, path, err))
		return -1;
	while ((rc = lines_next(&l, err)) == 1) {
		char *f[4];
		int nf;

		if (l.buf[0] == '@') {
			char *v = strchr(l.buf, ' ');
			char **slot = NULL;

			if (v)
				*v++ = '\0';
			if (!strcmp(l.buf, "@label"))
				slot = &cs->label;
			else if (!strcmp(l.buf, "@standard"))
				slot = &cs->standard;
			if (slot && v) {
				free(*slot);
				if (!(*slot = xstrdup(v, err)))
					goto fail;
			} else if (v && !strcmp(l.buf, "@digits")) {
				cs->digits = atoi(v);
			} else if (v && !strcmp(l.buf, "@prefix")) {
				cs->prefix = atoi(v);
			} else if (v && !strcmp(l.buf, "@subcode")) {
				cs->subcode = atoi(v);
			} else {
				tmerr_where(err, path, l.lineno, 1);
				tmerr_set(err, TMERR_MAPPING,
					  "unknown directive \"%s\"", l.buf);
				goto fail;
			}
			continue;
		}
		nf = split_tabs(l.buf, f, 4);
		if (nf < 2 || !*f[0]) {
			tmerr_where(err, path, l.lineno, 1);
			tmerr_set(err, TMERR_MAPPING,
				  "expected \"code<TAB>label\"");
			goto fail;
		}
		for (i = 0; i < cs->ncodes; i++)
			if (!strcmp(cs->codes[i].code, f[0])) {
				tmerr_where(err, path, l.lineno, 1);
				tmerr_set(err, TMERR_MAPPING,
					  "code \"%s\" listed twice", f[0]);
				goto fail;
			}
		if (grow((void **)&cs->codes, &alloc, cs->ncodes,
			 sizeof(*cs->codes), err))
			goto fail;
		cs->codes[cs->ncodes].code = xstrdup(f[0], err);
		cs->codes[cs->ncodes].label = xstrdup(f[1], err);
		cs->codes[cs->ncodes].provisional =
			nf > 2 && !strcmp(f[2], "provisional");
		if (!cs->codes[cs->ncodes].code ||
		    !cs->codes[cs->ncodes].label) {
			cs->ncodes++;
			goto fail;
		}
		cs->ncodes++;
	}
	if (rc < 0)
		goto fail;
	fclose(l.f);
	qsort(cs->codes, cs->ncodes, sizeof(*cs->codes), code_cmp);
	return 0;
fail:
	fclose(l.f);
	return -1;
}

const struct code *codeset_find(const struct codeset *cs, const char *value,
				size_t len)
{
	size_t lo = 0, hi = cs->ncodes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *c = cs->codes[mid].code;
		int r = strncmp(c, value, len);

		if (r == 0 && c[len] != '\0')
			r = 1;
		if (r == 0)
			return &cs->codes[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int codeset_valid(const struct codeset *cs, const char *value, size_t len)
{
	size_t i;

	if (cs->digits > 0) {
		if (len != (size_t)cs->digits)
			return 0;
		for (i = 0; i < len; i++)
			if (value[i] < '0' || value[i] > '9')
				return 0;
		return codeset_find(cs, value, (size_t)cs->prefix) != NULL;
	}
	if (codeset_find(cs, value, len))
		return 1;
	if (cs->subcode > 0 && len == (size_t)cs->subcode) {
		for (i = 0; i < len; i++)
			if (value[i] < '0' || value[i] > '9')
				return 0;
		return codeset_find(cs, value, 1) != NULL;
	}
	return 0;
}

const char *codeset_by_label(const struct codeset *cs, const char *label)
{
	size_t i;

	for (i = 0; i < cs->ncodes; i++)
		if (!strcmp(cs->codes[i].label, label))
			return cs->codes[i].code;
	return NULL;
}

/* ---- schema ------------------------------------------------------------- */

static int parse_type(struct field_def *f, const char *t, struct defs *d,
		      const char *path, long lineno, struct tmerr *err)
{
	static const struct {
		const char *name;
		enum ftype type;
	} simple[] = {
		{ "date", FT_DATE },	   { "month", FT_MONTH },
		{ "year", FT_YEAR },	   { "bool", FT_BOOL },
		{ "idnumber", FT_IDNUMBER }, { "school", FT_SCHOOL },
		{ "certno", FT_CERTNO },   { "phone", FT_PHONE },
		{ "email", FT_EMAIL },	   { "schoolyear", FT_SCHOOLYEAR },
	};
	char arg[64];
	size_t i;

	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(t, simple[i].name)) {
			f->type = simple[i].type;
			return 0;
		}
	if (sscanf(t, "text(%zu)", &f->maxlen) == 1) {
		f->type = FT_TEXT;
		return 0;
	}
	if (sscanf(t, "decimal(%lf,%lf)", &f->min, &f->max) == 2) {
		f->type = FT_DECIMAL;
		return 0;
	}
	if (sscanf(t, "int(%lf,%lf)", &f->min, &f->max) == 2) {
		f->type = FT_INT;
		return 0;
	}
	if (sscanf(t, "code(%63[a-z_0-9])", arg) == 1) {
		f->type = FT_CODE;
		f->codes = defs_codeset(d, arg);
		if (f->codes)
			return 0;
		tmerr_where(err, path, lineno, 0);
		return tmerr_set(err, TMERR_MAPPING, "unknown code set \"%s\"",
				 arg);
	}
	tmerr_where(err, path, lineno, 0);
	return tmerr_set(err, TMERR_MAPPING, "unknown type \"%s\"", t);
}

static int load_schema(struct defs *d, const char *path, struct tmerr *err)
{
	struct lines l;
	size_t calloc_ = 0, falloc = 0;
	int rc;

	if (lines_open(&l, path, err))
		return -1;
	while ((rc = lines_next(&l, err)) == 1) {
		char *f[6], *flag, *save = NULL;
		struct category_def *c;
		struct field_def *fd;
		int nf = split_tabs(l.buf, f, 6);

		if (nf < 4) {
			tmerr_where(err, path, l.lineno, 0);
			tmerr_set(err, TMERR_MAPPING,
				  "expected \"category<TAB>field<TAB>type<TAB>flags\"");
			goto fail;
		}
		c = d->ncats ? &d->cats[d->ncats - 1] : NULL;
		if (!c || strcmp(c->name, f[0])) {
			if (defs_category(d, f[0])) {
				tmerr_where(err, path, l.lineno, 0);
				tmerr_set(err, TMERR_MAPPING,
					  "category \"%s\" is not contiguous",
					  f[0]);
				goto fail;
			}
			if (grow((void **)&d->cats, &calloc_, d->ncats,
				 sizeof(*d->cats), err))
				goto fail;
			c = &d->cats[d->ncats];
			c->index = (int)d->ncats++;
			if (!(c->name = xstrdup(f[0], err)))
				goto fail;
			c->multi = strcmp(f[0], "teacher") != 0;
			falloc = 0;
		}
		if (category_field(c, f[1]) >= 0) {
			tmerr_where(err, path, l.lineno, 0);
			tmerr_set(err, TMERR_MAPPING, "field \"%s.%s\" defined twice",
				  f[0], f[1]);
			goto fail;
		}
		if (c->nfields >= 64) {
			tmerr_where(err, path, l.lineno, 0);
			tmerr_set(err, TMERR_MAPPING, "too many fields in \"%s\"", f[0]);
			goto fail;
		}
		if (grow((void **)&c->fields, &falloc, c->nfields,
			 sizeof(*c->fields), err))
			goto fail;
		fd = &c->fields[c->nfields++];
		fd->after = -1;
		if (!(fd->name = xstrdup(f[1], err)) ||
		    !(fd->label = xstrdup(nf > 4 ? f[4] : f[1], err)))
			goto fail;
		if (parse_type(fd, f[2], d, path, l.lineno, err))
			goto fail;
		for (flag = strtok_r(f[3], ",", &save); flag;
		     flag = strtok_r(NULL, ",", &save)) {
			if (!strcmp(flag, "-"))
				continue;
			else if (!strcmp(flag, "key"))
				fd->key = 1;
			else if (!strcmp(flag, "personal"))
				fd->personal = 1;
			else if (!strcmp(flag, "future"))
				fd->future = 1;
			else if (!strncmp(flag, "after=", 6)) {
				int a = category_field(c, flag + 6);

				if (a < 0) {
					tmerr_where(err, path, l.lineno, 0);
					tmerr_set(err, TMERR_MAPPING,
						  "\"after\" names unknown earlier field \"%s\"",
						  flag + 6);
					goto fail;
				}
				fd->after = a;
			} else {
				tmerr_where(err, path, l.lineno, 0);
				tmerr_set(err, TMERR_MAPPING, "unknown flag \"%s\"",
					  flag);
				goto fail;
			}
		}
		if (fd->key) {
			int *k = realloc(c->keys, (c->nkeys + 1) * sizeof(int));

			if (!k) {
				tmerr_set(err, TMERR_SYS, "out of memory");
				goto fail;
			}
			c->keys = k;
			c->keys[c->nkeys++] = (int)(c->nfields - 1);
		}
	}
	if (rc < 0)
		goto fail;
	fclose(l.f);
	for (size_t i = 0; i < d->ncats; i++) {
		struct category_def *c = &d->cats[i];

		if (c->nkeys < 2 || strcmp(c->fields[c->keys[0]].name, "id_type") ||
		    strcmp(c->fields[c->keys[1]].name, "id_number")) {
			tmerr_where(err, path, 0, 0);
			return tmerr_set(err, TMERR_MAPPING,
					 "category \"%s\" must start its key with id_type, id_number",
					 c->name);
		}
	}
	return 0;
fail:
	fclose(l.f);
	return -1;
}

/* ---- indicator sets ----------------------------------------------------- */

static int load_set(struct defs *d, struct indicator_set *s, const char *path,
		    struct tmerr *err)
{
	struct lines l;
	size_t i;
	int rc;

	s->applicable = calloc(d->ncats, 1);
	s->required = calloc(d->ncats, sizeof(*s->required));
	if (!s->applicable || !s->required)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	for (i = 0; i < d->ncats; i++) {
		s->required[i] = calloc(d->cats[i].nfields, 1);
		if (!s->required[i])
			return tmerr_set(err, TMERR_SYS, "out of memory");
		/* key fields are always required */
		for (size_t k = 0; k < d->cats[i].nkeys; k++)
			s->required[i][d->cats[i].keys[k]] = 1;
	}
	if (lines_open(&l, path, err))
		return -1;
	while ((rc = lines_next(&l, err)) == 1) {
		const struct category_def *c;
		char *f[4];
		int nf, fi;

		if (l.buf[0] == '@') {
			char *v = strchr(l.buf, ' ');

			if (v)
				*v++ = '\0';
			if (v && !strcmp(l.buf, "@set")) {
				free(s->name);
				s->name = xstrdup(v, err);
			} else if (v && !strcmp(l.buf, "@label")) {
				free(s->label);
				s->label = xstrdup(v, err);
			} else {
				tmerr_where(err, path, l.lineno, 1);
				tmerr_set(err, TMERR_MAPPING,
					  "unknown directive \"%s\"", l.buf);
				goto fail;
			}
			continue;
		}
		nf = split_tabs(l.buf, f, 4);
		c = nf >= 3 ? defs_category(d, f[0]) : NULL;
		if (!c) {
			tmerr_where(err, path, l.lineno, 0);
			tmerr_set(err, TMERR_MAPPING, nf < 3 ?
				  "expected \"category<TAB>field<TAB>requirement\"" :
				  "unknown category \"%s\"", f[0]);
			goto fail;
		}
		if (!strcmp(f[1], "*") && !strcmp(f[2], "applicable")) {
			s->applicable[c->index] = 1;
			continue;
		}
		fi = category_field(c, f[1]);
		if (fi < 0 || strcmp(f[2], "required")) {
			tmerr_where(err, path, l.lineno, 0);
			if (fi < 0)
				tmerr_set(err, TMERR_MAPPING,
					  "unknown field \"%s.%s\"", f[0], f[1]);
			else
				tmerr_set(err, TMERR_MAPPING,
					  "unknown requirement \"%s\"", f[2]);
			goto fail;
		}
		s->required[c->index][fi] = 1;
	}
	if (rc < 0)
		goto fail;
	fclose(l.f);
	if (!s->name) {
		tmerr_where(err, path, 0, 0);
		return tmerr_set(err, TMERR_MAPPING, "missing \"@set\"");
	}
	return 0;
fail:
	fclose(l.f);
	return -1;
}

/* ---- change effects ------------------------------------------------------ */

static int load_effects(struct defs *d, const char *path, struct tmerr *err)
{
	const struct codeset *kinds = defs_codeset(d, "change_kind");
	const struct codeset *status = defs_codeset(d, "teacher_status");
	struct lines l;
	size_t alloc = 0;
	int rc;

	if (!kinds || !status) {
		tmerr_where(err, path, 0, 0);
		return tmerr_set(err, TMERR_MAPPING,
				 "code sets \"change_kind\" and \"teacher_status\" are needed");
	}
	if (lines_open(&l, path, err))
		return -1;
	while ((rc = lines_next(&l, err)) == 1) {
		struct change_effect *e;
		char *f[4];
		int nf = split_tabs(l.buf, f, 4);

		if (nf != 3 || (strcmp(f[2], "yes") && strcmp(f[2], "no"))) {
			tmerr_where(err, path, l.lineno, 0);
			tmerr_set(err, TMERR_MAPPING,
				  "expected \"kind<TAB>status|-<TAB>yes|no\"");
			goto fail;
		}
		if (!codeset_valid(kinds, f[0], strlen(f[0])) ||
		    (strcmp(f[1], "-") && !codeset_valid(status, f[1], strlen(f[1])))) {
			tmerr_where(err, path, l.lineno, 0);
			tmerr_set(err, TMERR_MAPPING, "unknown %s \"%s\"",
				  codeset_valid(kinds, f[0], strlen(f[0])) ?
				  "teacher status" : "change kind",
				  codeset_valid(kinds, f[0], strlen(f[0])) ? f[1] : f[0]);
			goto fail;
		}
		if (grow((void **)&d->effects, &alloc, d->neffects,
			 sizeof(*d->effects), err))
			goto fail;
		e = &d->effects[d->neffects++];
		e->moves_school = f[2][0] == 'y';
		if (!(e->kind = xstrdup(f[0], err)) ||
		    (strcmp(f[1], "-") && !(e->status = xstrdup(f[1], err))))
			goto fail;
	}
	if (rc < 0)
		goto fail;
	fclose(l.f);
	return 0;
fail:
	fclose(l.f);
	return -1;
}

/* ---- directory walking -------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of "*.tsv" names in dir; *names is malloc'd, caller frees. */
static int list_tsv(const char *dir, char ***names, size_t *n,
		    struct tmerr *err)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	size_t alloc = 0;

	*names = NULL;
	*n = 0;
	if (!dh) {
		tmerr_where(err, dir, 0, 0);
		return tmerr_set(err, TMERR_MAPPING, "cannot open directory \"%s\": %s",
				 dir, strerror(errno));
	}
	while ((de = readdir(dh))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".tsv"))
			continue;
		if (grow((void **)names, &alloc, *n, sizeof(char *), err) ||
		    !((*names)[*n] = xstrdup(de->d_name, err))) {
			closedir(dh);
			return -1;
		}
		(*n)++;
	}
	closedir(dh);
	qsort(*names, *n, sizeof(char *), name_cmp);
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int defs_load(struct defs **out, const char *dir, struct tmerr *err)
{
	struct defs *d;
	char path[4096];
	char **names = NULL;
	size_t n = 0, i;

	*out = NULL;
	if (!dir)
		dir = defs_default_dir();
	d = calloc(1, sizeof(*d));
	if (!d || !(d->dir = strdup(dir))) {
		free(d);
		return tmerr_set(err, TMERR_SYS, "out of memory");
	}

	snprintf(path, sizeof(path), "%s/codes", dir);
	if (list_tsv(path, &names, &n, err))
		goto fail;
	d->codesets = calloc(n ? n : 1, sizeof(*d->codesets));
	if (!d->codesets) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		char setname[256];

		snprintf(setname, sizeof(setname), "%.*s",
			 (int)(strlen(names[i]) - 4), names[i]);
		snprintf(path, sizeof(path), "%s/codes/%s", dir, names[i]);
		d->ncodesets++;
		if (load_codeset(&d->codesets[i], path, setname, err))
			goto fail;
	}
	free_names(names, n);
	names = NULL;
	n = 0;

	snprintf(path, sizeof(path), "%s/schema.tsv", dir);
	if (load_schema(d, path, err))
		goto fail;

	snprintf(path, sizeof(path), "%s/indicators", dir);
	if (list_tsv(path, &names, &n, err))
		goto fail;
	d->sets = calloc(n ? n : 1, sizeof(*d->sets));
	if (!d->sets) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/indicators/%s", dir, names[i]);
		d->nsets++;
		if (load_set(d, &d->sets[i], path, err))
			goto fail;
	}
	free_names(names, n);
	names = NULL;
	n = 0;
	snprintf(path, sizeof(path), "%s/change_effects.tsv", dir);
	if (load_effects(d, path, err))
		goto fail;
	*out = d;
	return 0;
fail:
	free_names(names, n);
	defs_free(d);
	return -1;
}

void defs_free(struct defs *d)
{
	size_t i, j;

	if (!d)
		return;
	for (i = 0; i < d->ncodesets + d->nextra_sets; i++) {
		struct codeset *cs = i < d->ncodesets ? &d->codesets[i] :
				     &d->extra_sets[i - d->ncodesets];

		for (j = 0; j < cs->ncodes; j++) {
			free(cs->codes[j].code);
			free(cs->codes[j].label);
		}
		free(cs->codes);
		free(cs->name);
		free(cs->label);
		free(cs->standard);
	}
	free(d->codesets);
	free(d->extra_sets);
	free(d->indicators_label);
	for (i = 0; i < d->ncats; i++) {
		for (j = 0; j < d->cats[i].nfields; j++) {
			free(d->cats[i].fields[j].name);
			free(d->cats[i].fields[j].label);
		}
		free(d->cats[i].fields);
		free(d->cats[i].keys);
		free(d->cats[i].name);
	}
	for (i = 0; i < d->nsets; i++) {
		for (j = 0; d->sets[i].required && j < d->ncats; j++)
			free(d->sets[i].required[j]);
		free(d->sets[i].required);
		free(d->sets[i].applicable);
		free(d->sets[i].name);
		free(d->sets[i].label);
	}
	free(d->sets);
	for (i = 0; i < d->neffects; i++) {
		free(d->effects[i].kind);
		free(d->effects[i].status);
	}
	free(d->effects);
	free(d->cats);
	free(d->dir);
	free(d);
}

const struct category_def *defs_category(const struct defs *d, const char *name)
{
	for (size_t i = 0; i < d->ncats; i++)
		if (!strcmp(d->cats[i].name, name))
			return &d->cats[i];
	return NULL;
}

int category_field(const struct category_def *c, const char *name)
{
	for (size_t i = 0; i < c->nfields; i++)
		if (!strcmp(c->fields[i].name, name))
			return (int)i;
	return -1;
}

const struct codeset *defs_codeset(const struct defs *d, const char *name)
{
	for (size_t i = 0; i < d->ncodesets; i++)
		if (!strcmp(d->codesets[i].name, name))
			return &d->codesets[i];
	for (size_t i = 0; i < d->nextra_sets; i++)
		if (!strcmp(d->extra_sets[i].name, name))
			return &d->extra_sets[i];
	return NULL;
}

const struct indicator_set *defs_set(const struct defs *d, const char *name)
{
	for (size_t i = 0; i < d->nsets; i++)
		if (!strcmp(d->sets[i].name, name))
			return &d->sets[i];
	return NULL;
}

/* ---- provincial indicators ------------------------------------------------ */

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

static int add_extra_field(struct defs *d, struct category_def *c,
			   const struct field_def *proto, struct tmerr *err)
{
	struct field_def *nf;

	if (c->nfields >= 64)
		return tmerr_set(err, TMERR_MAPPING, "too many fields in \"%s\"", c->name);
	nf = realloc(c->fields, (c->nfields + 1) * sizeof(*nf));
	if (!nf)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	c->fields = nf;
	c->fields[c->nfields] = *proto;
	for (size_t s = 0; s < d->nsets; s++) {
		unsigned char *r = realloc(d->sets[s].required[c->index], c->nfields + 1);

		if (!r)
			return tmerr_set(err, TMERR_SYS, "out of memory");
		r[c->nfields] = proto->required_always && d->sets[s].applicable[c->index];
		d->sets[s].required[c->index] = r;
	}
	c->nfields++;
	return 0;
}

int defs_load_indicators(struct defs *d, const char *path, struct tmerr *err)
{
	char dir[2048], cpath[2200];
	char **names = NULL;
	const char *slash = strrchr(path, '/');
	struct lines l;
	size_t n = 0, i;
	DIR *dh;
	int rc;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
		 slash ? path : ".");
	snprintf(cpath, sizeof(cpath), "%s/codes", dir);
	if ((dh = opendir(cpath))) {
		closedir(dh);
		if (list_tsv(cpath, &names, &n, err))
			return -1;
		d->extra_sets = calloc(n ? n : 1, sizeof(*d->extra_sets));
		if (!d->extra_sets) {
			free_names(names, n);
			return tmerr_set(err, TMERR_SYS, "out of memory");
		}
		for (i = 0; i < n; i++) {
			char setname[256], file[2600];

			snprintf(setname, sizeof(setname), "%.*s",
				 (int)(strlen(names[i]) - 4), names[i]);
			snprintf(file, sizeof(file), "%s/%s", cpath, names[i]);
			if (defs_codeset(d, setname)) {
				tmerr_where(err, file, 0, 0);
				tmerr_set(err, TMERR_MAPPING,
					  "code set \"%s\" is already defined", setname);
				free_names(names, n);
				return -1;
			}
			d->nextra_sets++;
			if (load_codeset(&d->extra_sets[i], file, setname, err)) {
				free_names(names, n);
				return -1;
			}
		}
		free_names(names, n);
	}
	if (lines_open(&l, path, err))
		return -1;
	while ((rc = lines_next(&l, err)) == 1) {
		struct field_def fd;
		struct category_def *c;
		char *f[6];
		int nf;

		if (l.buf[0] == '@') {
			char *v = strchr(l.buf, ' ');

			if (v)
				*v++ = '\0';
			if (v && !strcmp(l.buf, "@label")) {
				free(d->indicators_label);
				d->indicators_label = xstrdup(v, err);
			} else if (!v || strcmp(l.buf, "@province")) {
				tmerr_where(err, path, l.lineno, 1);
				tmerr_set(err, TMERR_MAPPING, "unknown directive \"%s\"", l.buf);
				goto fail;
			}
			continue;
		}
		nf = split_tabs(l.buf, f, 6);
		tmerr_where(err, path, l.lineno, 0);
		if (nf < 4) {
			tmerr_set(err, TMERR_MAPPING,
				  "expected \"category<TAB>name<TAB>type<TAB>required|optional[<TAB>label]\"");
			goto fail;
		}
		c = (struct category_def *)defs_category(d, f[0]);
		if (!c) {
			tmerr_set(err, TMERR_MAPPING, "unknown category \"%s\"", f[0]);
			goto fail;
		}
		if (!valid_name(f[1]) || category_field(c, f[1]) >= 0) {
			tmerr_set(err, TMERR_MAPPING, category_field(c, f[1]) >= 0 ?
				  "indicator \"%s\" is already a field of the category" :
				  "indicator name \"%s\" is not [a-z][a-z0-9_]*", f[1]);
			goto fail;
		}
		if (strcmp(f[3], "required") && strcmp(f[3], "optional")) {
			tmerr_set(err, TMERR_MAPPING, "expected required or optional, not \"%s\"",
				  f[3]);
			goto fail;
		}
		memset(&fd, 0, sizeof(fd));
		fd.after = -1;
		fd.extra = 1;
		fd.required_always = f[3][0] == 'r';
		if (parse_type(&fd, f[2], d, path, l.lineno, err))
			goto fail;
		if (fd.type == FT_IDNUMBER || fd.type == FT_CERTNO) {
			tmerr_set(err, TMERR_MAPPING, "type \"%s\" is not available to indicators",
				  f[2]);
			goto fail;
		}
		fd.name = xstrdup(f[1], err);
		fd.label = xstrdup(nf > 4 ? f[4] : f[1], err);
		if (!fd.name || !fd.label || add_extra_field(d, c, &fd, err)) {
			free(fd.name);
			free(fd.label);
			goto fail;
		}
	}
	if (rc < 0)
		goto fail;
	fclose(l.f);
	tmerr_clear(err);
	return 0;
fail:
	fclose(l.f);
	return -1;
}
