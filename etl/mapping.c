#include "mapping.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "validate.h"

#define MAP_MAX_LINE 4096
#define MAP_MAX_TOKENS 64
#define ROW_SCRATCH_CAP (256 * 1024)

static const struct field_def op_def = {
	.name = "op", .label = "op", .type = FT_TEXT, .after = -1,
};

static const struct field_def *mfield_def(const struct mapping *m,
					  const struct mfield *mf)
{
	return mf->field == FIELD_OP ? &op_def : &m->cat->fields[mf->field];
}

/* ---- tokenizer ---------------------------------------------------------- */

/* Split a line into blank-separated tokens, honouring "..." with \" and \\.
 * Tokens are written in place. Returns count, or -1 on an unclosed quote. */
static int tokenize(char *s, char **tok, int max)
{
	int n = 0;

	for (;;) {
		char *o;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == max)
			return -1;
		if (*s == '"') {
			tok[n++] = o = ++s;
			while (*s && *s != '"') {
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*o++ = *s++;
			}
			if (*s != '"')
				return -1;
			s++;
			*o = '\0';
			if (*s && *s != ' ' && *s != '\t')
				return -1;
			if (*s)
				s++;
			continue;
		}
		tok[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = '\0';
	}
}

/* ---- date patterns ------------------------------------------------------ */

int pattern_check(const char *pat, int want_day)
{
	int y = 0, m = 0, d = 0;
	const char *p = pat;

	while (*p) {
		if (!strncmp(p, "YYYY", 4)) {
			y++;
			p += 4;
		} else if (*p == 'M') {
			m++;
			p += p[1] == 'M' ? 2 : 1;
		} else if (*p == 'D') {
			d++;
			p += p[1] == 'D' ? 2 : 1;
		} else if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
			return -1;
		} else {
			p++;
		}
	}
	/* a month pattern may hold a day: it is checked, then dropped */
	if (y != 1 || m != 1 || d > 1 || (want_day && d != 1))
		return -1;
	return 0;
}

static int take_digits(const char **v, const char *end, int min, int max,
		       int *out)
{
	int n = 0, x = 0;

	while (*v < end && n < max && **v >= '0' && **v <= '9') {
		x = x * 10 + (**v - '0');
		(*v)++;
		n++;
	}
	if (n < min)
		return -1;
	*out = x;
	return 0;
}

int pattern_date(const char *pat, const char *v, size_t n, struct ymd *out,
		 int want_day)
{
	const char *end = v + n, *p = pat;
	int day = 0;

	out->y = out->m = 0;
	out->d = 1;
	while (*p) {
		if (!strncmp(p, "YYYY", 4)) {
			if (take_digits(&v, end, 4, 4, &out->y))
				return -1;
			p += 4;
		} else if (*p == 'M' || *p == 'D') {
			int two = p[1] == *p, *dst = *p == 'M' ? &out->m : &out->d;

			day |= *p == 'D';
			if (take_digits(&v, end, two ? 2 : 1, 2, dst))
				return -1;
			p += two ? 2 : 1;
		} else {
			if (v >= end || *v != *p)
				return -1;
			v++;
			p++;
		}
	}
	if (v != end)
		return -1;
	if (out->y < 1 || out->m < 1 || out->m > 12 || (want_day && !day))
		return -1;
	if (out->d < 1 || out->d > days_in_month(out->y, out->m))
		return -1;
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

static int perr(struct tmerr *err, const char *path, long line,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int perr(struct tmerr *err, const char *path, long line,
		const char *fmt, ...)
{
	va_list ap;

	tmerr_where(err, path, line, 0);
	va_start(ap, fmt);
	tmerr_vset(err, TMERR_MAPPING, fmt, ap);
	va_end(ap);
	return -1;
}

static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

static const struct maptab *find_map(const struct mapping *m, const char *name)
{
	for (size_t i = 0; i < m->nmaps; i++)
		if (!strcmp(m->maps[i].name, name))
			return &m->maps[i];
	return NULL;
}

struct pending {
	char *line;   /* copy of the field line, tokenized later */
	long lineno;
};

static int pair_cmp_from(const void *a, const void *b, void *arg)
{
	char **from = arg;

	return strcmp(from[*(const size_t *)a], from[*(const size_t *)b]);
}

static int sort_map(struct maptab *t)
{
	size_t *idx = malloc(t->n * sizeof(*idx) + 1);
	char **f = malloc(t->n * sizeof(char *) + 1);
	char **o = malloc(t->n * sizeof(char *) + 1);
	size_t i;

	if (!idx || !f || !o) {
		free(idx);
		free(f);
		free(o);
		return -1;
	}
	for (i = 0; i < t->n; i++)
		idx[i] = i;
	qsort_r(idx, t->n, sizeof(*idx), pair_cmp_from, t->from);
	for (i = 0; i < t->n; i++) {
		f[i] = t->from[idx[i]];
		o[i] = t->to[idx[i]];
	}
	free(t->from);
	free(t->to);
	t->from = f;
	t->to = o;
	free(idx);
	return 0;
}

static int compile_field(struct mapping *m, char *line, long lineno,
			 struct tmerr *err)
{
	char *tok[MAP_MAX_TOKENS];
	int n = tokenize(line, tok, MAP_MAX_TOKENS), i, fi;
	struct mfield *mf;

	if (n < 0)
		return perr(err, m->path, lineno, "unclosed quote or too many tokens");
	if (n < 3 || (strcmp(tok[2], "const") && n < 4))
		return perr(err, m->path, lineno,
			    "expected \"field NAME col|col?|pos|const VALUE [| transform ...]\"");
	fi = !strcmp(tok[1], "op") ? FIELD_OP : category_field(m->cat, tok[1]);
	if (fi < 0)
		return perr(err, m->path, lineno,
			    "unknown field \"%s\" in category \"%s\"", tok[1],
			    m->cat->name);
	for (size_t k = 0; k < m->nfields; k++)
		if (m->fields[k].field == fi)
			return perr(err, m->path, lineno,
				    "field \"%s\" mapped twice (first at line %ld)",
				    tok[1], m->fields[k].line);
	mf = &m->fields[m->nfields++];
	mf->field = fi;
	mf->line = lineno;
	mf->colidx = -1;
	if (!strcmp(tok[2], "col") || !strcmp(tok[2], "col?")) {
		mf->src = tok[2][3] ? SRC_COLOPT : SRC_COL;
		if (mf->src == SRC_COLOPT && fi != FIELD_OP && m->cat->fields[fi].key)
			return perr(err, m->path, lineno,
				    "key field \"%s\" cannot come from an optional column",
				    tok[1]);
		mf->col = dupstr(tok[3]);
	} else if (!strcmp(tok[2], "pos")) {
		char *e;

		mf->src = SRC_POS;
		mf->pos = strtol(tok[3], &e, 10);
		if (*e || mf->pos < 1 || mf->pos > 100000)
			return perr(err, m->path, lineno,
				    "bad column position \"%s\"", tok[3]);
	} else if (!strcmp(tok[2], "const")) {
		mf->src = SRC_CONST;
		mf->col = dupstr(n > 3 ? tok[3] : "");
	} else {
		return perr(err, m->path, lineno, "unknown source \"%s\"", tok[2]);
	}
	if (mf->src != SRC_POS && !mf->col)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	i = mf->src == SRC_CONST && n == 3 ? 3 : 4;
	mf->xf = calloc(MAP_MAX_TOKENS, sizeof(*mf->xf));
	if (!mf->xf)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	while (i < n) {
		struct xform *x;
		const char *name;
		int a;

		if (strcmp(tok[i], "|"))
			return perr(err, m->path, lineno,
				    "expected \"|\" before \"%s\"", tok[i]);
		if (++i >= n)
			return perr(err, m->path, lineno, "missing transform after \"|\"");
		name = tok[i++];
		for (a = i; a < n && strcmp(tok[a], "|"); a++)
			;
		x = &mf->xf[mf->nxf++];
		if (!strcmp(name, "trim") || !strcmp(name, "upper") ||
		    !strcmp(name, "lower")) {
			x->kind = name[0] == 't' ? XF_TRIM :
				  name[0] == 'u' ? XF_UPPER : XF_LOWER;
			if (a != i)
				return perr(err, m->path, lineno,
					    "\"%s\" takes no argument", name);
		} else if (!strcmp(name, "date") || !strcmp(name, "month")) {
			int day = name[0] == 'd';

			x->kind = day ? XF_DATE : XF_MONTH;
			if (a == i)
				return perr(err, m->path, lineno,
					    "\"%s\" needs at least one pattern", name);
			x->npats = (size_t)(a - i);
			x->pats = calloc(x->npats, sizeof(char *));
			if (!x->pats)
				return tmerr_set(err, TMERR_SYS, "out of memory");
			for (int k = i; k < a; k++) {
				if (pattern_check(tok[k], day))
					return perr(err, m->path, lineno,
						    "bad %s pattern \"%s\"", name,
						    tok[k]);
				x->pats[k - i] = dupstr(tok[k]);
			}
		} else if (!strcmp(name, "bool")) {
			x->kind = XF_BOOL;
			if (a - i != 2)
				return perr(err, m->path, lineno,
					    "\"bool\" needs TRUE and FALSE values");
			x->npats = 2;
			x->pats = calloc(2, sizeof(char *));
			if (!x->pats)
				return tmerr_set(err, TMERR_SYS, "out of memory");
			x->pats[0] = dupstr(tok[i]);
			x->pats[1] = dupstr(tok[i + 1]);
		} else if (!strcmp(name, "map")) {
			x->kind = XF_MAP;
			if (a - i < 1 || a - i > 2 ||
			    (a - i == 2 && strcmp(tok[i + 1], "keep")))
				return perr(err, m->path, lineno,
					    "expected \"map TABLE [keep]\"");
			x->map = find_map(m, tok[i]);
			x->keep = a - i == 2;
			if (!x->map)
				return perr(err, m->path, lineno,
					    "unknown map table \"%s\"", tok[i]);
		} else if (!strcmp(name, "label")) {
			x->kind = XF_LABEL;
			if (a - i != 1)
				return perr(err, m->path, lineno,
					    "expected \"label CODESET\"");
			x->cs = defs_codeset(m->defs, tok[i]);
			if (!x->cs)
				return perr(err, m->path, lineno,
					    "unknown code set \"%s\"", tok[i]);
		} else if (!strcmp(name, "append")) {
			x->kind = XF_APPEND;
			if (a - i != 1)
				return perr(err, m->path, lineno,
					    "expected \"append COLUMN\"");
			x->arg = dupstr(tok[i]);
		} else if (!strcmp(name, "default")) {
			x->kind = XF_DEFAULT;
			if (a - i != 1)
				return perr(err, m->path, lineno,
					    "expected \"default VALUE\"");
			x->arg = dupstr(tok[i]);
		} else {
			return perr(err, m->path, lineno,
				    "unknown transform \"%s\"", name);
		}
		i = a;
	}
	return 0;
}

/* ---- XML ---------------------------------------------------------------- */

/* "namespace PREFIX URI": PREFIX may then qualify names in XML paths. */
static int add_namespace(struct mapping *m, int nt, char **tok, long lineno,
			 struct tmerr *err)
{
	char **np, **nu;
	const char *c;

	if (nt != 3)
		return perr(err, m->path, lineno, "expected \"namespace PREFIX URI\"");
	for (c = tok[1]; *c; c++)
		if (strchr(":/@[]*\"", *c))
			break;
	if (*c || !strcmp(tok[1], "xml") || !strcmp(tok[1], "xmlns"))
		return perr(err, m->path, lineno, "bad namespace prefix \"%s\"", tok[1]);
	if (!tok[2][0])
		return perr(err, m->path, lineno, "empty namespace URI");
	for (size_t i = 0; i < m->nns; i++)
		if (!strcmp(m->ns_prefix[i], tok[1]))
			return perr(err, m->path, lineno,
				    "namespace prefix \"%s\" bound twice", tok[1]);
	np = realloc(m->ns_prefix, (m->nns + 1) * sizeof(*np));
	if (np)
		m->ns_prefix = np;
	nu = np ? realloc(m->ns_uri, (m->nns + 1) * sizeof(*nu)) : NULL;
	if (nu)
		m->ns_uri = nu;
	if (!np || !nu)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	m->ns_prefix[m->nns] = dupstr(tok[1]);
	m->ns_uri[m->nns] = dupstr(tok[2]);
	m->nns++;
	if (!m->ns_prefix[m->nns - 1] || !m->ns_uri[m->nns - 1])
		return tmerr_set(err, TMERR_SYS, "out of memory");
	return 0;
}

/* Every prefix in an XML path must be bound by a namespace directive. */
static int xml_prefixes(const struct mapping *m, const char *xp, long lineno,
			struct tmerr *err)
{
	const char *p = xp;

	while (*p) {
		size_t n = strcspn(p, "/"), k;
		const char *s = p, *colon;

		if (*s == '@') {
			s++;
			n--;
		}
		colon = memchr(s, ':', n);
		if (colon) {
			size_t pl = (size_t)(colon - s);

			for (k = 0; k < m->nns; k++)
				if (strlen(m->ns_prefix[k]) == pl &&
				    !memcmp(m->ns_prefix[k], s, pl))
					break;
			if (k == m->nns && !(pl == 3 && !memcmp(s, "xml", 3)))
				return perr(err, m->path, lineno,
					    "namespace prefix \"%.*s\" in \"%s\" is not bound by a \"namespace\" line",
					    (int)pl, s, xp);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* format xml: a record path, col/col? paths only, prefixes bound; collect
 * the distinct paths the adapter is to extract. */
static int xml_paths(struct mapping *m, long catline, struct tmerr *err)
{
	if (!m->record || m->record[0] != '/')
		return perr(err, m->path, catline,
			    "format xml needs \"record /PATH\" (e.g. \"record /records/training\")");
	if (xml_prefixes(m, m->record, catline, err))
		return -1;
	m->xpaths = calloc(m->nfields + 1, sizeof(*m->xpaths));
	if (!m->xpaths)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	for (size_t i = 0; i < m->nfields; i++) {
		const struct mfield *mf = &m->fields[i];
		size_t k;

		if (mf->src == SRC_POS)
			return perr(err, m->path, mf->line,
				    "\"pos\" has no meaning for format xml; use \"col PATH\"");
		if (mf->src != SRC_COL && mf->src != SRC_COLOPT)
			continue;
		if (!mf->col[0] || mf->col[0] == '/')
			return perr(err, m->path, mf->line,
				    "xml path \"%s\" must be relative to the record element",
				    mf->col);
		if (xml_prefixes(m, mf->col, mf->line, err))
			return -1;
		for (k = 0; k < m->nxpaths; k++)
			if (!strcmp(m->xpaths[k], mf->col))
				break;
		if (k == m->nxpaths)
			m->xpaths[m->nxpaths++] = mf->col;
	}
	return 0;
}

int mapping_load(struct mapping **out, const char *path, const struct defs *d,
		 struct tmerr *err)
{
	struct mapping *m;
	struct pending *pend = NULL;
	size_t npend = 0, i;
	struct maptab *cur = NULL;
	char line[MAP_MAX_LINE];
	long lineno = 0, catline = 0;
	FILE *f;
	int rc = -1;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		tmerr_where(err, path, 0, 0);
		return tmerr_set(err, TMERR_MAPPING, "cannot open mapping \"%s\": %s",
				 path, strerror(errno));
	}
	m = calloc(1, sizeof(*m));
	pend = calloc(MAP_MAX_FIELDS + 1, sizeof(*pend));
	if (!m || !pend || !(m->path = strdup(path))) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto done;
	}
	m->defs = d;
	m->scope = -1;
	m->header = 1;
	m->delimiter = ',';
	while (fgets(line, sizeof(line), f)) {
		char *tok[MAP_MAX_TOKENS], copy[MAP_MAX_LINE];
		size_t n = strlen(line);
		int nt;

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			perr(err, path, lineno, "line too long");
			goto done;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		memcpy(copy, line, n + 1);
		nt = tokenize(line, tok, MAP_MAX_TOKENS);
		if (nt < 0) {
			perr(err, path, lineno, "unclosed quote or too many tokens");
			goto done;
		}
		if (nt == 0)
			continue;
		if (cur) {
			if (!strcmp(tok[0], "end") && nt == 1) {
				if (sort_map(cur)) {
					tmerr_set(err, TMERR_SYS, "out of memory");
					goto done;
				}
				for (i = 1; i < cur->n; i++)
					if (!strcmp(cur->from[i], cur->from[i - 1])) {
						perr(err, path, cur->line,
						     "map \"%s\" lists \"%s\" twice",
						     cur->name, cur->from[i]);
						goto done;
					}
				cur = NULL;
				continue;
			}
			if (nt != 2) {
				perr(err, path, lineno,
				     "expected \"FROM TO\" or \"end\" in map \"%s\"",
				     cur->name);
				goto done;
			}
			{
				char **nf = realloc(cur->from, (cur->n + 1) * sizeof(char *));
				char **nto;

				if (nf)
					cur->from = nf;
				nto = nf ? realloc(cur->to, (cur->n + 1) * sizeof(char *)) : NULL;
				if (!nto) {
					tmerr_set(err, TMERR_SYS, "out of memory");
					goto done;
				}
				cur->to = nto;
				cur->from[cur->n] = dupstr(tok[0]);
				cur->to[cur->n] = dupstr(tok[1]);
				cur->n++;
			}
			continue;
		}
		if (!strcmp(tok[0], "field")) {
			if (npend == MAP_MAX_FIELDS) {
				perr(err, path, lineno, "too many fields");
				goto done;
			}
			pend[npend].line = strdup(copy);
			pend[npend++].lineno = lineno;
			continue;
		}
		if (!strcmp(tok[0], "filter")) {
			if (nt < 3 || m->filter_col) {
				perr(err, path, lineno, m->filter_col ?
				     "only one \"filter\" per mapping" :
				     "expected \"filter COLUMN VALUE...\"");
				goto done;
			}
			m->filter_col = dupstr(tok[1]);
			m->filter_line = lineno;
			m->filter_vals = calloc((size_t)nt - 2, sizeof(char *));
			if (!m->filter_col || !m->filter_vals) {
				tmerr_set(err, TMERR_SYS, "out of memory");
				goto done;
			}
			for (int k = 2; k < nt; k++)
				m->filter_vals[m->nfilter++] = dupstr(tok[k]);
			continue;
		}
		if (!strcmp(tok[0], "map")) {
			struct maptab *nm;

			if (nt != 2) {
				perr(err, path, lineno, "expected \"map NAME\"");
				goto done;
			}
			if (find_map(m, tok[1])) {
				perr(err, path, lineno, "map \"%s\" defined twice", tok[1]);
				goto done;
			}
			nm = realloc(m->maps, (m->nmaps + 1) * sizeof(*nm));
			if (!nm) {
				tmerr_set(err, TMERR_SYS, "out of memory");
				goto done;
			}
			m->maps = nm;
			cur = &m->maps[m->nmaps++];
			memset(cur, 0, sizeof(*cur));
			cur->name = dupstr(tok[1]);
			cur->line = lineno;
			continue;
		}
		if (!strcmp(tok[0], "namespace")) {
			if (add_namespace(m, nt, tok, lineno, err))
				goto done;
			continue;
		}
		if (nt != 2) {
			perr(err, path, lineno, "expected \"%s VALUE\"", tok[0]);
			goto done;
		}
		if (!strcmp(tok[0], "format")) {
			free(m->format);
			m->format = dupstr(tok[1]);
			if (!adapter_find(tok[1])) {
				perr(err, path, lineno, "unknown format \"%s\"", tok[1]);
				goto done;
			}
		} else if (!strcmp(tok[0], "encoding")) {
			if (strcasecmp(tok[1], "utf-8") && strcasecmp(tok[1], "utf8") &&
			    strcasecmp(tok[1], "gb18030") && strcasecmp(tok[1], "gbk")) {
				perr(err, path, lineno, "unknown encoding \"%s\"", tok[1]);
				goto done;
			}
			free(m->encoding);
			m->encoding = dupstr(tok[1]);
		} else if (!strcmp(tok[0], "category")) {
			m->cat = defs_category(d, tok[1]);
			catline = lineno;
			if (!m->cat) {
				perr(err, path, lineno, "unknown category \"%s\"", tok[1]);
				goto done;
			}
		} else if (!strcmp(tok[0], "header")) {
			if (strcmp(tok[1], "yes") && strcmp(tok[1], "no")) {
				perr(err, path, lineno, "expected \"header yes|no\"");
				goto done;
			}
			m->header = tok[1][0] == 'y';
		} else if (!strcmp(tok[0], "delimiter")) {
			if (!strcmp(tok[1], "tab"))
				m->delimiter = '\t';
			else if (strlen(tok[1]) == 1 && (unsigned char)tok[1][0] < 0x80 &&
				 tok[1][0] != '"')
				m->delimiter = tok[1][0];
			else {
				perr(err, path, lineno, "bad delimiter \"%s\"", tok[1]);
				goto done;
			}
		} else if (!strcmp(tok[0], "scope")) {
			if (!m->cat || m->cat->multi ||
			    (m->scope = category_field(m->cat, tok[1])) < 0) {
				perr(err, path, lineno, m->cat && !m->cat->multi ?
				     "unknown scope field \"%s\"" :
				     "\"scope\" needs an earlier \"category teacher\"", tok[1]);
				goto done;
			}
		} else if (!strcmp(tok[0], "record")) {
			free(m->record);
			m->record = dupstr(tok[1]);
		} else {
			perr(err, path, lineno, "unknown directive \"%s\"", tok[0]);
			goto done;
		}
	}
	if (cur) {
		perr(err, path, cur->line, "map \"%s\" has no \"end\"", cur->name);
		goto done;
	}
	if (!m->format) {
		perr(err, path, lineno, "missing \"format\"");
		goto done;
	}
	if (!m->cat) {
		perr(err, path, lineno, "missing \"category\"");
		goto done;
	}
	m->fields = calloc(MAP_MAX_FIELDS, sizeof(*m->fields));
	if (!m->fields) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		goto done;
	}
	for (i = 0; i < npend; i++) {
		if (!pend[i].line) {
			tmerr_set(err, TMERR_SYS, "out of memory");
			goto done;
		}
		if (compile_field(m, pend[i].line, pend[i].lineno, err))
			goto done;
	}
	m->ndeclared = m->nfields;
	if (m->format && !strcmp(m->format, "xml") && xml_paths(m, catline, err))
		goto done;
	for (i = 0; i < m->cat->nkeys; i++) {
		int k = m->cat->keys[i], found = 0;

		for (size_t j = 0; j < m->nfields; j++)
			found |= m->fields[j].field == k;
		if (!found) {
			perr(err, path, catline,
			     "key field \"%s\" of \"%s\" is not mapped",
			     m->cat->fields[k].name, m->cat->name);
			goto done;
		}
	}
	rc = 0;
done:
	fclose(f);
	for (i = 0; pend && i < npend; i++)
		free(pend[i].line);
	free(pend);
	if (rc)
		mapping_free(m);
	else
		*out = m;
	return rc;
}

void mapping_free(struct mapping *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; m->fields && i < m->nfields; i++) {
		struct mfield *mf = &m->fields[i];

		for (j = 0; j < mf->nxf; j++) {
			for (size_t k = 0; k < mf->xf[j].npats; k++)
				free(mf->xf[j].pats[k]);
			free(mf->xf[j].pats);
			free(mf->xf[j].arg);
		}
		free(mf->xf);
		free(mf->col);
	}
	for (i = 0; i < m->nmaps; i++) {
		for (j = 0; j < m->maps[i].n; j++) {
			free(m->maps[i].from[j]);
			free(m->maps[i].to[j]);
		}
		free(m->maps[i].from);
		free(m->maps[i].to);
		free(m->maps[i].name);
	}
	for (i = 0; i < m->nns; i++) {
		free(m->ns_prefix[i]);
		free(m->ns_uri[i]);
	}
	free(m->ns_prefix);
	free(m->ns_uri);
	free(m->xpaths);
	free(m->maps);
	free(m->fields);
	free(m->path);
	free(m->format);
	free(m->encoding);
	free(m->record);
	for (i = 0; i < m->nfilter; i++)
		free(m->filter_vals[i]);
	free(m->filter_vals);
	free(m->filter_col);
	free(m);
}

/*
 * Provincial indicators the mapping does not name are taken from a column of
 * the same name when the input has one; the national side, which does not
 * define a province's indicators, thus ignores those columns.
 */
static int bind_extras(struct mapping *m, const char *const *names, size_t n,
		       struct tmerr *err)
{
	for (size_t f = 0; f < m->cat->nfields; f++) {
		struct mfield *mf;
		size_t i;

		if (!m->cat->fields[f].extra)
			continue;
		for (i = 0; i < m->nfields; i++)
			if (m->fields[i].field == (int)f)
				break;
		if (i < m->nfields)
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(names[i], m->cat->fields[f].name))
				break;
		if (i == n)
			continue;
		if (m->nfields == MAP_MAX_FIELDS)
			return tmerr_set(err, TMERR_MAPPING, "too many fields");
		mf = &m->fields[m->nfields];
		memset(mf, 0, sizeof(*mf));
		mf->field = (int)f;
		mf->src = SRC_COLOPT;
		mf->colidx = (int)i;
		if (!(mf->col = strdup(names[i])))
			return tmerr_set(err, TMERR_SYS, "out of memory");
		m->nfields++;
	}
	return 0;
}

int mapping_bind(struct mapping *m, const char *const *names, size_t n,
		 const char *input, struct tmerr *err)
{
	m->filter_idx = -1;
	for (size_t k = 0; m->filter_col && k < n; k++)
		if (!strcmp(names[k], m->filter_col))
			m->filter_idx = (int)k;
	if (m->filter_col && m->filter_idx < 0) {
		tmerr_where(err, m->path, m->filter_line, 0);
		return tmerr_set(err, TMERR_MAPPING,
				 "input \"%s\" has no column \"%s\" (needed for the filter)",
				 input, m->filter_col);
	}
	while (m->nfields > m->ndeclared) {
		struct mfield *mf = &m->fields[--m->nfields];

		free(mf->col);
		free(mf->xf);
		memset(mf, 0, sizeof(*mf));
	}
	for (size_t i = 0; i < m->nfields; i++) {
		struct mfield *mf = &m->fields[i];

		mf->colidx = -1;
		if (mf->src == SRC_POS) {
			if ((size_t)mf->pos <= n || !m->header)
				mf->colidx = (int)mf->pos - 1;
		} else if (mf->src == SRC_COL || mf->src == SRC_COLOPT) {
			for (size_t k = 0; k < n; k++)
				if (!strcmp(names[k], mf->col)) {
					mf->colidx = (int)k;
					break;
				}
		} else {
			continue;
		}
		if (mf->colidx < 0 && mf->src != SRC_COLOPT) {
			tmerr_where(err, m->path, mf->line, 0);
			return tmerr_set(err, TMERR_MAPPING,
					 "input \"%s\" has no column \"%s\" (needed for field \"%s\")",
					 input, mf->src == SRC_POS ? "position" : mf->col,
					 mfield_def(m, mf)->name);
		}
		for (size_t x = 0; x < mf->nxf; x++) {
			struct xform *xf = &mf->xf[x];

			if (xf->kind != XF_APPEND)
				continue;
			xf->colidx = -1;
			for (size_t k = 0; k < n; k++)
				if (!strcmp(names[k], xf->arg))
					xf->colidx = (int)k;
			if (xf->colidx < 0) {
				tmerr_where(err, m->path, mf->line, 0);
				return tmerr_set(err, TMERR_MAPPING,
						 "input \"%s\" has no column \"%s\" (needed by append)",
						 input, xf->arg);
			}
		}
	}
	return bind_extras(m, names, n, err);
}

void mapping_adapter_opts(const struct mapping *m, struct adapter_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->encoding = m->encoding;
	o->has_header = m->header;
	o->delimiter = m->delimiter;
	o->field_cap = ADAPTER_FIELD_CAP;
	o->record_cap = ADAPTER_RECORD_CAP;
	o->record_path = m->record;
	if (m->format && !strcmp(m->format, "xml")) {
		o->paths = m->xpaths;
		o->npaths = m->nxpaths;
		o->ns_prefixes = (const char *const *)m->ns_prefix;
		o->ns_uris = (const char *const *)m->ns_uri;
		o->nns = m->nns;
	}
}

/* ---- row pipeline ------------------------------------------------------- */

int row_init(struct row *r, const struct category_def *cat)
{
	memset(r, 0, sizeof(*r));
	r->cat = cat;
	buf_init(&r->scratch, ROW_SCRATCH_CAP);
	/* full size up front: values point into scratch and must not move */
	return buf_grow(&r->scratch, ROW_SCRATCH_CAP) ? -1 : 0;
}

void row_release(struct row *r)
{
	buf_release(&r->scratch);
}

void field_mask_value(const struct field_def *f, const char *v, size_t n,
		      char *out, size_t outsz)
{
	if (!f->personal) {
		str_copy_utf8(out, outsz, v, n);
		return;
	}
	switch (f->type) {
	case FT_IDNUMBER:
		mask_id(v, n, out, outsz);
		break;
	case FT_PHONE:
		mask_phone(v, n, out, outsz);
		break;
	case FT_TEXT:
		mask_name(v, n, out, outsz);
		break;
	default:
		mask_generic(v, n, out, outsz);
	}
}

static int reject(struct tmerr *err, const struct field_def *f, const char *rule,
		  const char *v, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int reject(struct tmerr *err, const struct field_def *f, const char *rule,
		  const char *v, size_t n, const char *fmt, ...)
{
	char masked[sizeof(err->value) * 2];
	va_list ap;

	va_start(ap, fmt);
	tmerr_vset(err, TMERR_INPUT, fmt, ap);
	va_end(ap);
	tmerr_field(err, f->name);
	snprintf(err->rule, sizeof(err->rule), "%s", rule);
	field_mask_value(f, v, n, masked, sizeof(masked));
	tmerr_value(err, masked, strlen(masked));
	return 1;
}

static int is_blank_at(const char *s, size_t n, size_t *w)
{
	if (n >= 1 && (s[0] == ' ' || s[0] == '\t')) {
		*w = 1;
		return 1;
	}
	if (n >= 3 && (unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
	    (unsigned char)s[2] == 0x80) {
		*w = 3;
		return 1;
	}
	return 0;
}

/* Trailing ideographic space needs a backwards look at 3 bytes. */
static size_t trim_end(const char *s, size_t n)
{
	for (;;) {
		if (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		else if (n >= 3 && (unsigned char)s[n - 3] == 0xE3 &&
			 (unsigned char)s[n - 2] == 0x80 &&
			 (unsigned char)s[n - 1] == 0x80)
			n -= 3;
		else
			return n;
	}
}

static const char *map_lookup(const struct maptab *t, const char *v, size_t n)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strncmp(t->from[mid], v, n);

		if (r == 0 && t->from[mid][n])
			r = 1;
		if (r == 0)
			return t->to[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Store len bytes as the field's new value in scratch. Offsets are kept,
 * since scratch may move; row_map fixes pointers at the end. */
static int put_scratch(struct row *r, int fi, const char *v, size_t n,
		       size_t *off)
{
	if (buf_add(&r->scratch, v, n) || buf_addch(&r->scratch, '\0'))
		return -1;
	*off = r->scratch.len - n - 1;
	r->len[fi] = n;
	return 0;
}

int row_map(struct row *r, const struct mapping *m, const struct record *rec,
	    struct tmerr *err)
{
	size_t offs[MAP_MAX_FIELDS + 1];
	char tmp[32];

	r->line = rec->line;
	buf_reset(&r->scratch);
	memset(r->supplied, 0, sizeof(r->supplied));
	if (m->filter_col) {
		const char *v = (size_t)m->filter_idx < rec->nfields ?
				rec->vals[m->filter_idx] : NULL;
		size_t k;

		for (k = 0; v && k < m->nfilter; k++)
			if (strlen(m->filter_vals[k]) == rec->lens[m->filter_idx] &&
			    !memcmp(m->filter_vals[k], v, rec->lens[m->filter_idx]))
				break;
		if (!v || k == m->nfilter)
			return 2;
	}
	for (size_t i = 0; i < m->nfields; i++) {
		const struct mfield *mf = &m->fields[i];
		const struct field_def *fd = mfield_def(m, mf);
		int fi = mf->field;
		const char *v;
		size_t n;

		if (mf->src == SRC_CONST) {
			v = mf->col;
			n = strlen(v);
		} else if (mf->colidx < 0) {
			continue; /* optional column absent: not supplied */
		} else if ((size_t)mf->colidx >= rec->nfields ||
			   !rec->vals[mf->colidx]) {
			v = "";
			n = 0;
		} else {
			v = rec->vals[mf->colidx];
			n = rec->lens[mf->colidx];
		}
		r->supplied[fi] = 1;
		for (size_t k = 0; k < mf->nxf; k++) {
			const struct xform *x = &mf->xf[k];
			const char *o;
			size_t w;

			switch (x->kind) {
			case XF_TRIM:
				while (n && is_blank_at(v, n, &w)) {
					v += w;
					n -= w;
				}
				n = trim_end(v, n);
				break;
			case XF_UPPER:
			case XF_LOWER: {
				int need = 0;

				for (size_t j = 0; j < n && !need; j++)
					need = x->kind == XF_UPPER ?
						(v[j] >= 'a' && v[j] <= 'z') :
						(v[j] >= 'A' && v[j] <= 'Z');
				if (!need)
					break;
				if (put_scratch(r, fi, v, n, &offs[fi]))
					return reject(err, fd, "field_too_long", v, n,
						      "value too long");
				for (size_t j = 0; j < n; j++) {
					char *c = r->scratch.ptr + offs[fi] + j;

					if (x->kind == XF_UPPER && *c >= 'a' && *c <= 'z')
						*c -= 32;
					else if (x->kind == XF_LOWER && *c >= 'A' && *c <= 'Z')
						*c += 32;
				}
				v = r->scratch.ptr + offs[fi];
				break;
			}
			case XF_DATE:
			case XF_MONTH: {
				struct ymd t;
				size_t p;

				if (!n)
					break;
				for (p = 0; p < x->npats; p++)
					if (!pattern_date(x->pats[p], v, n, &t,
							  x->kind == XF_DATE))
						break;
				if (p == x->npats)
					return reject(err, fd,
						      x->kind == XF_DATE ? "date" : "month",
						      v, n,
						      "value matches no %s pattern of the mapping",
						      x->kind == XF_DATE ? "date" : "month");
				if (x->kind == XF_DATE)
					snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d",
						 t.y, t.m, t.d);
				else
					snprintf(tmp, sizeof(tmp), "%04d-%02d", t.y, t.m);
				if (put_scratch(r, fi, tmp, strlen(tmp), &offs[fi]))
					return reject(err, fd, "field_too_long", v, n,
						      "value too long");
				v = r->scratch.ptr + offs[fi];
				n = strlen(tmp);
				break;
			}
			case XF_BOOL:
				if (!n)
					break;
				if (strlen(x->pats[0]) == n && !memcmp(v, x->pats[0], n))
					v = "true", n = 4;
				else if (strlen(x->pats[1]) == n &&
					 !memcmp(v, x->pats[1], n))
					v = "false", n = 5;
				else
					return reject(err, fd, "bool", v, n,
						      "value is neither \"%s\" nor \"%s\"",
						      x->pats[0], x->pats[1]);
				break;
			case XF_MAP:
				if (!n)
					break;
				o = map_lookup(x->map, v, n);
				if (o) {
					v = o;
					n = strlen(o);
					} else if (!x->keep) {
					return reject(err, fd, "map", v, n,
						      "value not in map \"%s\"",
						      x->map->name);
				}
				break;
			case XF_LABEL:
				if (!n || codeset_valid(x->cs, v, n))
					break;
				if (put_scratch(r, fi, v, n, &offs[fi]))
					return reject(err, fd, "field_too_long", v, n,
						      "value too long");
				o = codeset_by_label(x->cs, r->scratch.ptr + offs[fi]);
				buf_setlen(&r->scratch, offs[fi]);
				if (!o)
					return reject(err, fd, "code", v, n,
						      "value is neither a code nor a label of \"%s\"",
						      x->cs->name);
				v = o;
				n = strlen(o);
				break;
			case XF_DEFAULT:
				if (!n) {
					v = x->arg;
					n = strlen(v);
					}
				break;
			case XF_APPEND: {
				const char *w = (size_t)x->colidx < rec->nfields ?
						rec->vals[x->colidx] : NULL;
				size_t wn = w ? rec->lens[x->colidx] : 0, start;

				if (!wn)
					break;
				start = r->scratch.len;
				if (buf_add(&r->scratch, v, n) ||
				    buf_add(&r->scratch, w, wn) ||
				    buf_addch(&r->scratch, '\0'))
					return reject(err, fd, "field_too_long", v, n,
						      "value too long");
				v = r->scratch.ptr + start;
				n += wn;
				break;
			}
			}
		}
		r->val[fi] = v;
		r->len[fi] = n;
	}
	return 0;
}
