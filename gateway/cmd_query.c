/*
 * cmd_query: read-only commands over loaded data — one teacher's record and
 * history, and the training, conflict and quality reports (docs/reports.md).
 * Each returns an exit code; personal values are masked unless
 * --show-personal. Reports hold their result in memory, capped at TAB_CAP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../etl/csvout.h"
#include "../etl/buf.h"
#include "../etl/mapping.h"
#include "../etl/mask.h"
#include "cli.h"

#define TAB_MAX_COLS 12
#define TAB_CAP (256u << 20)    /* bytes of cells in one report */
#define TEXT_CAP (1u << 20)     /* one history line */
#define LIST_MAX 5              /* records listed per category by "show" */
#define HIST_MAX 100000         /* history lines per teacher */
#define VAL_MAX 256             /* one formatted value */

/* ---- output helpers ------------------------------------------------------ */

static int is_wide(unsigned cp)
{
	return cp >= 0x1100 &&
	       (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
		(cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
		(cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
		(cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd));
}

/* Terminal columns of UTF-8 s: CJK characters take two. */
static size_t disp_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	while (*p) {
		unsigned cp;
		int n, i;

		if (*p < 0x80) {
			cp = *p;
			n = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1fu;
			n = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0fu;
			n = 3;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07u;
			n = 4;
		} else {
			p++;
			w++;
			continue;
		}
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[i] & 0x3fu);
		}
		p += i;
		w += is_wide(cp) ? 2 : 1;
	}
	return w;
}

/* s, with control characters shown as '?', then spaces up to width w. */
static void put_padded(FILE *f, const char *s, size_t w, int right)
{
	size_t dw = disp_width(s);

	if (right)
		for (; dw < w; dw++)
			fputc(' ', f);
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	if (!right)
		for (; dw < w; dw++)
			fputc(' ', f);
}

/* A report: cells kept row-major as NUL-terminated strings in one buffer. */
struct tab {
	int ncols;
	const char *const *head;
	const char *align;          /* per column: 'l' or 'r' */
	size_t width[TAB_MAX_COLS];
	struct buf cells;
	size_t ncells;
	int failed;
};

static void tab_init(struct tab *t, const char *const *head, const char *align)
{
	memset(t, 0, sizeof(*t));
	while (head[t->ncols] && t->ncols < TAB_MAX_COLS)
		t->ncols++;
	t->head = head;
	t->align = align;
	for (int i = 0; i < t->ncols; i++)
		t->width[i] = disp_width(head[i]);
	buf_init(&t->cells, TAB_CAP);
}

static void tab_cell(struct tab *t, const char *s)
{
	size_t col = t->ncells % (size_t)t->ncols, w;

	if (!s)
		s = "";
	if (t->failed || buf_add(&t->cells, s, strlen(s) + 1)) {
		t->failed = 1;
		return;
	}
	t->ncells++;
	w = disp_width(s);
	if (w > t->width[col])
		t->width[col] = w;
}

static int tab_print(struct tab *t, FILE *f, int csv, struct tmerr *err)
{
	const char *p = t->cells.ptr;
	int i;

	if (t->failed)
		return tmerr_set(err, TMERR_LIMIT, "report larger than %u MiB",
				 TAB_CAP >> 20);
	if (csv) {
		for (i = 0; i < t->ncols; i++)
			csv_put_cell(f, t->head[i], i == t->ncols - 1);
		for (size_t k = 0; k < t->ncells; k++) {
			csv_put_cell(f, p, (int)(k % (size_t)t->ncols) == t->ncols - 1);
			p += strlen(p) + 1;
		}
		return 0;
	}
	for (i = 0; i < t->ncols; i++) {
		int last = i == t->ncols - 1;

		put_padded(f, t->head[i], last && t->align[i] == 'l' ? 0 : t->width[i],
			   t->align[i] == 'r');
		fputs(last ? "\n" : "  ", f);
	}
	for (i = 0; i < t->ncols; i++) {
		for (size_t k = 0; k < t->width[i]; k++)
			fputc('-', f);
		fputs(i == t->ncols - 1 ? "\n" : "  ", f);
	}
	for (size_t k = 0; k < t->ncells; k++) {
		int col = (int)(k % (size_t)t->ncols), last = col == t->ncols - 1;

		put_padded(f, p, last && t->align[col] == 'l' ? 0 : t->width[col],
			   t->align[col] == 'r');
		fputs(last ? "\n" : "  ", f);
		p += strlen(p) + 1;
	}
	return 0;
}

static void tab_release(struct tab *t)
{
	buf_release(&t->cells);
}

/* ---- database and definitions helpers ----------------------------------- */

static PGresult *query(PGconn *conn, const char *sql, int n,
		       const char *const *params, struct tmerr *err)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	const char *m;

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	tmerr_set(err, TMERR_DB, "query failed: %s%s", m ? m : PQerrorMessage(conn),
		  m && strstr(m, "does not exist") ?
		  " (run \"tmisgw db migrate\")" : "");
	PQclear(r);
	return NULL;
}

static const char *cell(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Field names come from schema.tsv; refuse any that is no plain identifier. */
static int ident_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int check_idents(const struct category_def *cat, struct tmerr *err)
{
	if (!ident_ok(cat->name))
		return tmerr_set(err, TMERR_MAPPING, "category name \"%s\" is not an identifier",
				 cat->name);
	for (size_t i = 0; i < cat->nfields; i++)
		if (!ident_ok(cat->fields[i].name))
			return tmerr_set(err, TMERR_MAPPING,
					 "field name \"%s\" is not an identifier",
					 cat->fields[i].name);
	return 0;
}

static int is_key(const struct category_def *cat, size_t f)
{
	for (size_t k = 0; k < cat->nkeys; k++)
		if (cat->keys[k] == (int)f)
			return 1;
	return 0;
}

/*
 * v as shown to a reader: "-" when empty, masked when personal and not
 * show, decimals without trailing zeros, codes followed by their label.
 */
static void fmt_value(const struct field_def *f, const char *v, int show,
		      char *out, size_t outsz)
{
	const struct code *cd;
	size_t n;

	if (!v || !*v) {
		snprintf(out, outsz, "-");
		return;
	}
	n = strlen(v);
	if (f && f->personal && !show) {
		field_mask_value(f, v, n, out, outsz);
		return;
	}
	str_copy_utf8(out, outsz, v, n);
	if (!f)
		return;
	if (f->type == FT_DECIMAL && strchr(out, '.')) {
		n = strlen(out);
		while (n && out[n - 1] == '0')
			out[--n] = '\0';
		if (n && out[n - 1] == '.')
			out[--n] = '\0';
	}
	if (f->type == FT_CODE && f->codes &&
	    (cd = codeset_find(f->codes, v, strlen(v))) && cd->label && *cd->label) {
		n = strlen(out);
		snprintf(out + n, outsz - n, " (%s)", cd->label);
	}
}

static const struct field_def *field_named(const struct category_def *cat,
					   const char *name)
{
	int i = category_field(cat, name);

	return i < 0 ? NULL : &cat->fields[i];
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < lo || *out > hi ? -1 : 0;
}

static int all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* ---- teacher show / history ---------------------------------------------- */

struct who {
	char type[8];
	char number[64];
	char shown[96];   /* key as printed: masked unless --show-personal */
	int show;
	const char *params[2];
};

static int who_parse(struct ctx *c, struct who *w)
{
	const char *t = arg_get(c, "id-type"), *id = c->args.pos[0];
	size_t n = strlen(id);

	memset(w, 0, sizeof(*w));
	if (!t)
		t = "1";
	w->show = arg_get(c, "show-personal") != NULL;
	if (!*t || strlen(t) >= sizeof(w->type) || !n || n >= sizeof(w->number)) {
		fprintf(stderr, "tmisgw %s: ID and --id-type are too long or empty\n",
			c->cmd->name);
		return -1;
	}
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			fprintf(stderr, "tmisgw %s: ID holds a space or control character\n",
				c->cmd->name);
			return -1;
		}
	memcpy(w->type, t, strlen(t) + 1);
	memcpy(w->number, id, n + 1);
	if (!strcmp(w->type, "1") && w->number[n - 1] == 'x')
		w->number[n - 1] = 'X';
	if (w->show)
		snprintf(w->shown, sizeof(w->shown), "%s:%s", w->type, w->number);
	else
		mask_teacher_key(w->type, w->number, n, w->shown, sizeof(w->shown));
	w->params[0] = w->type;
	w->params[1] = w->number;
	return 0;
}

static int no_teacher(const struct who *w)
{
	char m[96];

	if (w->show)
		snprintf(m, sizeof(m), "%s", w->number);
	else
		mask_id(w->number, strlen(w->number), m, sizeof(m));
	fprintf(stderr, "tmisgw: error: no teacher \"%s\" with id_type %s\n", m, w->type);
	return EXIT_FAIL;
}

/* Appends "field1"::text, ... for fields [from, nfields) of cat selected by pick. */
static void add_cols(struct buf *sql, const struct category_def *cat,
		     const int *pick, int npick)
{
	for (int i = 0; i < npick; i++)
		buf_addf(sql, ", \"%s\"::text", cat->fields[pick[i]].name);
}

/* Key fields after the teacher's two, then up to extra non-key fields. */
static int list_fields(const struct category_def *cat, int extra, int *pick)
{
	int n = 0;

	for (size_t i = 2; i < cat->nfields && n < TAB_MAX_COLS; i++)
		if (is_key(cat, i))
			pick[n++] = (int)i;
	for (size_t i = 2; i < cat->nfields && n < TAB_MAX_COLS && extra > 0; i++)
		if (!is_key(cat, i)) {
			pick[n++] = (int)i;
			extra--;
		}
	return n;
}

static int show_records(struct ctx *c, const struct who *w, struct tmerr *err)
{
	struct buf sql = BUF_INIT(1 << 16), line = BUF_INIT(TEXT_CAP);
	int rc = 0;

	puts("records (current):");
	for (size_t ci = 0; ci < c->defs->ncats && !rc; ci++) {
		const struct category_def *cat = &c->defs->cats[ci];
		int pick[TAB_MAX_COLS], npick, nkeys = 0;
		PGresult *r;
		long total;

		if (!cat->multi)
			continue;
		if (check_idents(cat, err)) {
			rc = -1;
			break;
		}
		npick = list_fields(cat, 3, pick);
		for (int i = 0; i < npick; i++)
			nkeys += is_key(cat, (size_t)pick[i]);
		buf_reset(&sql);
		buf_addstr(&sql, "SELECT count(*) OVER ()");
		add_cols(&sql, cat, pick, npick);
		buf_addf(&sql, " FROM tmis.\"%s\" WHERE id_type = $1 AND id_number = $2"
			 " AND current ORDER BY 1", cat->name);
		for (int i = 0; i < nkeys; i++)
			buf_addf(&sql, ", %d", i + 2);
		buf_addf(&sql, " LIMIT %d", LIST_MAX);
		r = query(c->conn, sql.ptr, 2, w->params, err);
		if (!r) {
			rc = -1;
			break;
		}
		total = PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : 0;
		printf("  %-18s %ld\n", cat->name, total);
		for (int row = 0; row < PQntuples(r); row++) {
			buf_reset(&line);
			for (int i = 0; i < npick; i++) {
				const struct field_def *f = &cat->fields[pick[i]];
				char v[VAL_MAX];

				fmt_value(f, cell(r, row, i + 1), w->show, v, sizeof(v));
				if (i < nkeys)
					buf_addf(&line, "%s%s", i ? ", " : "", v);
				else
					buf_addf(&line, "%s%s %s", i == nkeys ? "; " : ", ",
						 f->name, v);
			}
			printf("    - %s\n", line.ptr);
		}
		if (total > PQntuples(r))
			printf("    ... %ld more\n", total - PQntuples(r));
		PQclear(r);
	}
	buf_release(&sql);
	buf_release(&line);
	return rc;
}

int cmd_teacher_show(struct ctx *c)
{
	const struct category_def *cat = &c->defs->cats[0];
	struct buf sql = BUF_INIT(1 << 16);
	struct tmerr err;
	struct who w;
	PGresult *r;
	size_t lw = 0, i;

	tmerr_clear(&err);
	if (who_parse(c, &w))
		return EXIT_USAGE;
	if (check_idents(cat, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	buf_addstr(&sql, "SELECT load_id::text, src_line::text, "
		   "to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS')");
	for (i = 0; i < cat->nfields; i++)
		buf_addf(&sql, ", \"%s\"::text", cat->fields[i].name);
	buf_addf(&sql, " FROM tmis.\"%s\" WHERE id_type = $1 AND id_number = $2",
		 cat->name);
	r = query(c->conn, sql.ptr, 2, w.params, &err);
	buf_release(&sql);
	if (!r) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (!PQntuples(r)) {
		PQclear(r);
		return no_teacher(&w);
	}
	for (i = 0; i < cat->nfields; i++) {
		size_t l = strlen(cat->fields[i].name) + 3 + disp_width(cat->fields[i].label);

		if (l > lw)
			lw = l;
	}
	printf("teacher %s\n", w.shown);
	for (i = 0; i < cat->nfields; i++) {
		const struct field_def *f = &cat->fields[i];
		char left[256], v[VAL_MAX];

		snprintf(left, sizeof(left), "%s (%s)", f->name, f->label);
		fmt_value(f, cell(r, 0, (int)i + 3), w.show, v, sizeof(v));
		fputs("  ", stdout);
		put_padded(stdout, left, lw, 0);
		printf("  %s\n", v);
	}
	printf("  stored by load %s, line %s, at %s\n",
	       PQgetisnull(r, 0, 0) ? "-" : PQgetvalue(r, 0, 0),
	       PQgetisnull(r, 0, 1) ? "-" : PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	PQclear(r);
	if (show_records(c, &w, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}

struct entry {
	char *at;        /* sortable time text */
	size_t seq;
	char *text;
};

struct entries {
	struct entry *v;
	size_t n, alloc;
};

static int entry_add(struct entries *es, const char *at, struct buf *text,
		     struct tmerr *err)
{
	struct entry *e;

	if (es->n == es->alloc) {
		size_t na = es->alloc ? es->alloc * 2 : 32;

		if (es->n >= HIST_MAX)
			return tmerr_set(err, TMERR_LIMIT,
					 "history longer than %d entries", HIST_MAX);
		e = realloc(es->v, na * sizeof(*e));
		if (!e)
			return tmerr_set(err, TMERR_SYS, "out of memory");
		es->v = e;
		es->alloc = na;
	}
	e = &es->v[es->n];
	e->at = strdup(at ? at : "");
	e->text = buf_detach(text, NULL);
	e->seq = es->n;
	if (!e->at || !e->text) {
		free(e->at);
		free(e->text);
		return tmerr_set(err, TMERR_SYS, "out of memory");
	}
	es->n++;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int r = strcmp(x->at, y->at);

	return r ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

static void entries_free(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++) {
		free(es->v[i].at);
		free(es->v[i].text);
	}
	free(es->v);
}

static const char *const version_sql =
	"WITH v AS ("
	" SELECT h.id, h.changed_at, h.load_id, h.previous AS prev,"
	"        coalesce(lead(h.previous) OVER (ORDER BY h.id),"
	"                 (SELECT to_jsonb(t) - 'extra' FROM tmis.teacher t"
	"                   WHERE t.id_type = $1 AND t.id_number = $2)) AS next"
	"   FROM tmis.teacher_history h WHERE h.id_type = $1 AND h.id_number = $2)"
	" SELECT v.id, to_char(v.changed_at, 'YYYY-MM-DD HH24:MI:SS'), v.load_id,"
	"        v.prev->>'load_id', d.k, v.prev->>d.k, v.next->>d.k"
	"   FROM v LEFT JOIN LATERAL ("
	"        SELECT k FROM jsonb_object_keys(v.prev) k"
	"         WHERE k NOT IN ('load_id', 'change_no', 'updated_at', 'src_line')"
	"           AND (v.prev->k) IS DISTINCT FROM (v.next->k)) d ON true"
	"  ORDER BY v.id, d.k";

/* One entry per teacher_history version: which fields the next one changed. */
static int hist_versions(struct ctx *c, const struct who *w,
			 struct entries *es, struct tmerr *err)
{
	const struct category_def *cat = &c->defs->cats[0];
	struct buf text = BUF_INIT(TEXT_CAP);
	PGresult *r = query(c->conn, version_sql, 2, w->params, err);
	int n, row = 0, rc = 0;

	if (!r)
		return -1;
	n = PQntuples(r);
	while (row < n && !rc) {
		const char *id = PQgetvalue(r, row, 0), *at = PQgetvalue(r, row, 1);
		int nch = 0;

		buf_reset(&text);
		buf_addf(&text, "load %s changed the record of load %s:",
			 PQgetisnull(r, row, 2) ? "-" : PQgetvalue(r, row, 2),
			 PQgetisnull(r, row, 3) ? "-" : PQgetvalue(r, row, 3));

		for (; row < n && !strcmp(PQgetvalue(r, row, 0), id); row++) {
			const struct field_def *f;
			char a[VAL_MAX], b[VAL_MAX];

			if (PQgetisnull(r, row, 4))
				continue;
			f = field_named(cat, PQgetvalue(r, row, 4));
			fmt_value(f, cell(r, row, 5), w->show, a, sizeof(a));
			fmt_value(f, cell(r, row, 6), w->show, b, sizeof(b));
			buf_addf(&text, "%s %s %s → %s", nch++ ? ";" : "",
				 PQgetvalue(r, row, 4), a, b);
		}
		if (!nch)
			buf_addstr(&text, " no canonical field changed");
		rc = entry_add(es, at, &text, err);
	}
	PQclear(r);
	buf_release(&text);
	return rc;
}

static int hist_events(struct ctx *c, const struct who *w, struct entries *es,
		       struct tmerr *err)
{
	const struct category_def *cat = defs_category(c->defs, "change_event");
	struct buf text = BUF_INIT(TEXT_CAP);
	PGresult *r;
	int rc = 0;

	if (!cat)
		return 0;
	r = query(c->conn,
		  "SELECT to_char(effective_date, 'YYYY-MM-DD'), kind, from_school_code,"
		  " to_school_code, load_id, current FROM tmis.change_event"
		  " WHERE id_type = $1 AND id_number = $2"
		  " ORDER BY effective_date, change_no", 2, w->params, err);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		char kind[VAL_MAX], from[VAL_MAX], to[VAL_MAX];

		fmt_value(field_named(cat, "kind"), cell(r, i, 1), 1, kind, sizeof(kind));
		fmt_value(NULL, cell(r, i, 2), 1, from, sizeof(from));
		fmt_value(NULL, cell(r, i, 3), 1, to, sizeof(to));
		buf_reset(&text);
		buf_addf(&text, "event %s: school %s → %s (load %s)%s", kind, from, to,
			 PQgetisnull(r, i, 4) ? "-" : PQgetvalue(r, i, 4),
			 PQgetvalue(r, i, 5)[0] == 't' ? "" : " [superseded]");
		rc = entry_add(es, PQgetvalue(r, i, 0), &text, err);
	}
	PQclear(r);
	buf_release(&text);
	return rc;
}

static int hist_superseded(struct ctx *c, const struct who *w,
			   struct entries *es, struct tmerr *err)
{
	struct buf sql = BUF_INIT(1 << 16), text = BUF_INIT(TEXT_CAP);
	int rc = 0;

	for (size_t ci = 0; ci < c->defs->ncats && !rc; ci++) {
		const struct category_def *cat = &c->defs->cats[ci];
		int pick[TAB_MAX_COLS], npick;
		PGresult *r;

		if (!cat->multi || !strcmp(cat->name, "change_event"))
			continue;
		if (check_idents(cat, err)) {
			rc = -1;
			break;
		}
		npick = list_fields(cat, 0, pick);
		buf_reset(&sql);
		buf_addstr(&sql, "SELECT to_char(superseded_at, 'YYYY-MM-DD HH24:MI:SS'),"
			   " superseded_load::text");
		add_cols(&sql, cat, pick, npick);
		buf_addf(&sql, " FROM tmis.\"%s\" WHERE id_type = $1 AND id_number = $2"
			 " AND NOT current ORDER BY superseded_at", cat->name);
		r = query(c->conn, sql.ptr, 2, w->params, err);
		if (!r) {
			rc = -1;
			break;
		}
		for (int row = 0; row < PQntuples(r) && !rc; row++) {
			buf_reset(&text);
			buf_addf(&text, "load %s superseded %s record",
				 PQgetisnull(r, row, 1) ? "-" : PQgetvalue(r, row, 1),
				 cat->name);
			for (int i = 0; i < npick; i++) {
				char v[VAL_MAX];

				fmt_value(&cat->fields[pick[i]], cell(r, row, i + 2), w->show,
					  v, sizeof(v));
				buf_addf(&text, "%s%s", i ? ", " : " ", v);
			}
			rc = entry_add(es, PQgetvalue(r, row, 0), &text, err);
		}
		PQclear(r);
	}
	buf_release(&sql);
	buf_release(&text);
	return rc;
}

int cmd_teacher_history(struct ctx *c)
{
	const struct category_def *cat = &c->defs->cats[0];
	struct entries es = { NULL, 0, 0 };
	struct tmerr err;
	struct who w;
	PGresult *r;
	char school[VAL_MAX], status[VAL_MAX];
	int rc = EXIT_OK;

	tmerr_clear(&err);
	if (who_parse(c, &w))
		return EXIT_USAGE;
	r = query(c->conn,
		  "SELECT to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS'), load_id, school_code,"
		  " status FROM tmis.teacher WHERE id_type = $1 AND id_number = $2",
		  2, w.params, &err);
	if (!r) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (!PQntuples(r)) {
		PQclear(r);
		return no_teacher(&w);
	}
	if (hist_versions(c, &w, &es, &err) || hist_events(c, &w, &es, &err) ||
	    hist_superseded(c, &w, &es, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
		goto out;
	}
	qsort(es.v, es.n, sizeof(*es.v), entry_cmp);
	printf("history of teacher %s\n", w.shown);
	for (size_t i = 0; i < es.n; i++)
		printf("  %-19s  %s\n", es.v[i].at, es.v[i].text);
	if (!es.n)
		puts("  (no changes on record)");
	fmt_value(field_named(cat, "school_code"), cell(r, 0, 2), w.show, school,
		  sizeof(school));
	fmt_value(field_named(cat, "status"), cell(r, 0, 3), w.show, status,
		  sizeof(status));
	printf("now: school %s, status %s, stored by load %s at %s\n", school, status,
	       PQgetisnull(r, 0, 1) ? "-" : PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
	if (fflush(stdout))
		rc = EXIT_FAIL;
out:
	PQclear(r);
	entries_free(&es);
	return rc;
}

/* ---- report training ----------------------------------------------------- */

static const char *const training_sql =
	"WITH t AS ("
	" SELECT coalesce(t.school_code, '') AS school,"
	"        coalesce(t.work_start_month BETWEEN $1 AND $2, false) AS new,"
	"        coalesce((SELECT sum(r.hours) FROM tmis.training r"
	"                   WHERE r.id_type = t.id_type AND r.id_number = t.id_number"
	"                     AND r.current"
	"                     AND r.start_date BETWEEN $3::date AND $4::date), 0) AS hours"
	"   FROM tmis.teacher t"
	"  WHERE t.indicator_set IN ('k12', 'kindergarten') AND t.status = $8"
	"    AND ($5 = '' OR substr(t.school_code, 3, length($5)) = $5)"
	"), x AS ("
	" SELECT *, substr(school, 3, 2) AS prov,"
	"        hours < CASE WHEN new THEN $7::numeric ELSE $6::numeric END AS below"
	"   FROM t)"
	" SELECT CASE WHEN GROUPING(school) = 0 THEN 'school'"
	"             WHEN GROUPING(prov) = 0 THEN 'province' ELSE 'total' END,"
	"        coalesce(prov, ''), coalesce(school, ''), count(*),"
	"        count(*) FILTER (WHERE new), count(*) FILTER (WHERE NOT below),"
	"        count(*) FILTER (WHERE below),"
	"        coalesce(round(100.0 * count(*) FILTER (WHERE below)"
	"                       / nullif(count(*), 0), 1), 0),"
	"        coalesce(round(avg(hours), 1), 0)"
	"   FROM x GROUP BY GROUPING SETS ((prov, school), (prov), ())"
	"  ORDER BY GROUPING(prov), prov, GROUPING(school), school";

static int parse_hours(const char *s, const char *def, char *out, size_t outsz)
{
	char *end;
	double v;

	if (!s)
		s = def;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 100000)
		return -1;
	snprintf(out, outsz, "%s", s);
	return 0;
}

int cmd_report_training(struct ctx *c)
{
	static const char *const head[] = { "level", "province", "school", "teachers",
		"new", "met", "below", "below_pct", "avg_hours", NULL };
	const char *cycle = arg_get(c, "cycle"), *scope = arg_get(c, "scope");
	const struct codeset *st = defs_codeset(c->defs, "teacher_status");
	const char *active = st ? codeset_by_label(st, "在职") : NULL;
	char m1[8], m2[8], d1[11], d2[11], hrs[32], nhrs[32];
	const char *params[8];
	struct tab t;
	struct tmerr err;
	PGresult *r;
	int y1, y2, rc = EXIT_OK;

	tmerr_clear(&err);
	if (!cycle || strlen(cycle) != 9 || cycle[4] != '-' ||
	    sscanf(cycle, "%4d-%4d", &y1, &y2) != 2 || y1 < 1900 || y2 < y1 ||
	    y2 > 9999) {
		fprintf(stderr, "tmisgw report training: --cycle wants YYYY-YYYY, e.g. 2021-2025\n");
		return EXIT_USAGE;
	}
	if (scope && !all_digits(scope, 2) && !all_digits(scope, 4) &&
	    !all_digits(scope, 6)) {
		fprintf(stderr, "tmisgw report training: --scope wants a 2-, 4- or 6-digit division prefix, not \"%s\"\n",
			scope);
		return EXIT_USAGE;
	}
	if (parse_hours(arg_get(c, "hours"), "360", hrs, sizeof(hrs)) ||
	    parse_hours(arg_get(c, "new-hours"), "120", nhrs, sizeof(nhrs))) {
		fprintf(stderr, "tmisgw report training: --hours and --new-hours want a number of hours\n");
		return EXIT_USAGE;
	}
	snprintf(m1, sizeof(m1), "%04d-01", y1);
	snprintf(m2, sizeof(m2), "%04d-12", y2);
	snprintf(d1, sizeof(d1), "%04d-01-01", y1);
	snprintf(d2, sizeof(d2), "%04d-12-31", y2);
	params[0] = m1;
	params[1] = m2;
	params[2] = d1;
	params[3] = d2;
	params[4] = scope ? scope : "";
	params[5] = hrs;
	params[6] = nhrs;
	params[7] = active ? active : "01";
	r = query(c->conn, training_sql, 8, params, &err);
	if (!r) {
		report_error(&err);
		return exit_code_for(&err);
	}
	tab_init(&t, head, "lllrrrrrr");
	for (int i = 0; i < PQntuples(r); i++)
		for (int k = 0; k < 9; k++) {
			const char *v = PQgetvalue(r, i, k);

			tab_cell(&t, k == 2 && !*v && !strcmp(PQgetvalue(r, i, 0), "school") ?
				 "(none)" : v);
		}
	PQclear(r);
	if (!arg_get(c, "csv"))
		printf("continuing education %d-%d%s%s: %s hours required, %s for teachers who started work in the cycle\n\n",
		       y1, y2, scope ? ", scope " : "", scope ? scope : "", hrs, nhrs);
	if (tab_print(&t, stdout, arg_get(c, "csv") != NULL, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
	}
	tab_release(&t);
	if (fflush(stdout))
		rc = EXIT_FAIL;
	return rc;
}

/* ---- report conflicts ---------------------------------------------------- */

static const char *const conflicts_sql =
	"WITH seen AS ("
	" SELECT h.id_type, h.id_number, h.previous->>'school_code' AS school,"
	"        h.previous->>'load_id' AS load_id, max(h.changed_at) AS last_seen"
	"   FROM tmis.teacher_history h"
	"  WHERE h.changed_at >= now() - make_interval(days => $1::int)"
	"  GROUP BY 1, 2, 3, 4)"
	" SELECT 'school', c.id_type, c.id_number, c.school_code, s.school,"
	"        'load ' || coalesce(s.load_id, '-'),"
	"        to_char(s.last_seen, 'YYYY-MM-DD HH24:MI:SS'), '', ''"
	"   FROM seen s JOIN tmis.teacher c USING (id_type, id_number)"
	"  WHERE s.school IS NOT NULL AND s.school IS DISTINCT FROM c.school_code"
	"    AND s.load_id IS DISTINCT FROM c.load_id::text"
	"    AND NOT EXISTS (SELECT 1 FROM tmis.change_event e"
	"                      JOIN tmis.change_kind_effect k ON k.kind = e.kind"
	"                     WHERE e.id_type = c.id_type AND e.id_number = c.id_number"
	"                       AND e.current AND k.moves_school"
	"                       AND e.to_school_code = c.school_code)"
	"    AND NOT EXISTS (SELECT 1 FROM tmis.exchange_rotation x"
	"                     WHERE x.id_type = c.id_type AND x.id_number = c.id_number"
	"                       AND x.current AND x.personnel_transferred"
	"                       AND x.to_school_code = c.school_code)"
	" UNION ALL"
	" SELECT 'id_type', a.id_type, a.id_number, a.school_code, b.school_code,"
	"        '', to_char(b.updated_at, 'YYYY-MM-DD HH24:MI:SS'), b.id_type, b.id_number"
	"   FROM tmis.teacher a JOIN tmis.teacher b"
	"     ON b.id_number = a.id_number AND b.id_type > a.id_type"
	" ORDER BY 3, 2, 1, 5";

int cmd_report_conflicts(struct ctx *c)
{
	static const char *const head[] = { "kind", "teacher", "school", "province",
		"other_school", "other_province", "reported_by", "seen_at",
		"cross_province", NULL };
	const char *days = arg_get(c, "days");
	int show = arg_get(c, "show-personal") != NULL, csv = arg_get(c, "csv") != NULL;
	const char *params[1];
	struct tab t;
	struct tmerr err;
	PGresult *r;
	long nd = 30;
	int rc = EXIT_OK, n;
	char dbuf[24];

	tmerr_clear(&err);
	if (days && parse_long(days, 0, 36500, &nd)) {
		fprintf(stderr, "tmisgw report conflicts: --days wants a number of days from 0 to 36500, not \"%s\"\n",
			days);
		return EXIT_USAGE;
	}
	snprintf(dbuf, sizeof(dbuf), "%ld", nd);
	params[0] = dbuf;
	r = query(c->conn, conflicts_sql, 1, params, &err);
	if (!r) {
		report_error(&err);
		return exit_code_for(&err);
	}
	n = PQntuples(r);
	tab_init(&t, head, "lllllllll");
	for (int i = 0; i < n; i++) {
		const char *kind = PQgetvalue(r, i, 0), *s1 = cell(r, i, 3), *s2 = cell(r, i, 4);
		char key[96], other[96], p1[3] = "", p2[3] = "";

		if (show)
			snprintf(key, sizeof(key), "%s:%s", PQgetvalue(r, i, 1),
				 PQgetvalue(r, i, 2));
		else
			mask_teacher_key(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
					 (size_t)PQgetlength(r, i, 2), key, sizeof(key));
		if (!strcmp(kind, "id_type")) {
			if (show)
				snprintf(other, sizeof(other), "%s:%s", PQgetvalue(r, i, 7),
					 PQgetvalue(r, i, 8));
			else
				mask_teacher_key(PQgetvalue(r, i, 7), PQgetvalue(r, i, 8),
						 (size_t)PQgetlength(r, i, 8), other,
						 sizeof(other));
		} else {
			snprintf(other, sizeof(other), "%s", PQgetvalue(r, i, 5));
		}
		if (s1 && strlen(s1) >= 4)
			memcpy(p1, s1 + 2, 2);
		if (s2 && strlen(s2) >= 4)
			memcpy(p2, s2 + 2, 2);
		tab_cell(&t, kind);
		tab_cell(&t, key);
		tab_cell(&t, s1);
		tab_cell(&t, p1);
		tab_cell(&t, s2);
		tab_cell(&t, p2);
		tab_cell(&t, other);
		tab_cell(&t, PQgetvalue(r, i, 6));
		tab_cell(&t, *p1 && *p2 && strcmp(p1, p2) ? "yes" : "no");
	}
	PQclear(r);
	if (!csv)
		printf("teachers reported at more than one school (一人多岗), last %ld days: %d\n\n",
		       nd, n);
	if (tab_print(&t, stdout, csv, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
	}
	tab_release(&t);
	if (fflush(stdout))
		rc = EXIT_FAIL;
	return rc;
}

/* ---- report quality ------------------------------------------------------ */

static const char *const quality_sql =
	"SELECT d, v, n, round(100.0 * n / sum(n) OVER (PARTITION BY d), 1) FROM ("
	" SELECT 'rule' AS d, rule AS v, count(*) AS n FROM tmis.load_reject"
	"  WHERE load_id = $1 GROUP BY 2"
	" UNION ALL"
	" SELECT 'field', coalesce(nullif(field, ''), '(row)'), count(*)"
	"   FROM tmis.load_reject WHERE load_id = $1 GROUP BY 2"
	" UNION ALL"
	" SELECT 'file', coalesce(file, '') || ' [' || coalesce(category, '?') || ']',"
	"        count(*) FROM tmis.load_reject WHERE load_id = $1 GROUP BY 2"
	" UNION ALL"
	" SELECT 'school', coalesce(school_code, '(not recorded)'), count(*)"
	"   FROM tmis.load_reject WHERE load_id = $1 GROUP BY 2) x"
	" ORDER BY array_position(ARRAY['rule', 'field', 'file', 'school'], d),"
	"          n DESC, v";

int cmd_report_quality(struct ctx *c)
{
	static const char *const head[] = { "dimension", "value", "rejects", "pct", NULL };
	const char *load = arg_get(c, "load");
	int csv = arg_get(c, "csv") != NULL;
	const char *params[1];
	struct tab t;
	struct tmerr err;
	PGresult *r;
	long id;
	int rc = EXIT_OK;
	char idbuf[24];

	tmerr_clear(&err);
	if (load && parse_long(load, 1, 0x7fffffffL, &id)) {
		fprintf(stderr, "tmisgw report quality: --load wants a load number, not \"%s\"\n",
			load);
		return EXIT_USAGE;
	}
	params[0] = load;
	r = query(c->conn, load ?
		  "SELECT id, status, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS'),"
		  " coalesce(rows_read, 0), coalesce(rejected, 0)"
		  " FROM tmis.load_run WHERE id = $1::bigint" :
		  "SELECT id, status, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS'),"
		  " coalesce(rows_read, 0), coalesce(rejected, 0)"
		  " FROM tmis.load_run ORDER BY id DESC LIMIT 1",
		  load ? 1 : 0, params, &err);
	if (!r) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (!PQntuples(r)) {
		if (load)
			fprintf(stderr, "tmisgw: error: no load %s\n", load);
		else
			fprintf(stderr, "tmisgw: error: no load on record\n");
		PQclear(r);
		return EXIT_FAIL;
	}
	if (!csv) {
		long long read = atoll(PQgetvalue(r, 0, 3)), rej = atoll(PQgetvalue(r, 0, 4));

		printf("load %s (%s, started %s): %lld rows read, %lld rejected (%.1f%%)\n\n",
		       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		       read, rej, read ? 100.0 * (double)rej / (double)read : 0.0);
	}
	snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	params[0] = idbuf;
	r = query(c->conn, quality_sql, 1, params, &err);
	if (!r) {
		report_error(&err);
		return exit_code_for(&err);
	}
	tab_init(&t, head, "llrr");
	for (int i = 0; i < PQntuples(r); i++)
		for (int k = 0; k < 4; k++)
			tab_cell(&t, PQgetvalue(r, i, k));
	if (!PQntuples(r) && !csv)
		puts("no rejects");
	else if (tab_print(&t, stdout, csv, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
	}
	PQclear(r);
	tab_release(&t);
	if (fflush(stdout))
		rc = EXIT_FAIL;
	return rc;
}
