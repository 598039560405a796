/*
 * test_xml: the XML adapter over in-memory, generated and committed inputs
 * (tests/data/xml), and format xml mappings through row_map. Each test owns
 * what it opens and closes it; hostile inputs must fail within 2 s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../adapters/adapter.h"
#include "../../etl/buf.h"
#include "../../etl/check.h"
#include "../../etl/defs.h"
#include "../../etl/mapping.h"

extern const struct adapter xml_adapter;

#define DATA TMISGW_DATADIR "/tests/data/xml/"
#define NS "urn:tmis:indicators:1"

/* ---- helpers ------------------------------------------------------------ */

struct memin {
	const char *data;
	size_t len, pos;
	size_t chunk; /* most bytes per read(), 0 = no limit */
};

static ssize_t mem_read(void *ctx, void *dst, size_t n)
{
	struct memin *m = ctx;
	size_t k = m->len - m->pos;

	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	memcpy(dst, m->data + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

struct t {
	struct memin m;
	struct input in;
	struct adapter_handle *h;
	struct record rec;
	struct tmerr err;
	double t0;
};

static const char *const t_pfx[] = { "t" };
static const char *const t_uri[] = { NS };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct adapter_opts opts(const char *record, const char *const *paths,
				size_t n)
{
	struct adapter_opts o;

	memset(&o, 0, sizeof(o));
	o.record_path = record;
	o.paths = paths;
	o.npaths = n;
	o.ns_prefixes = t_pfx;
	o.ns_uris = t_uri;
	o.nns = 1;
	return o;
}

static int t_open_len(struct t *t, const char *data, size_t len, size_t chunk,
		      const struct adapter_opts *o)
{
	memset(t, 0, sizeof(*t));
	t->m.data = data;
	t->m.len = len;
	t->m.chunk = chunk;
	t->in.read = mem_read;
	t->in.ctx = &t->m;
	t->in.name = "mem.xml";
	tmerr_clear(&t->err);
	t->t0 = now_s();
	return xml_adapter.open(&t->h, &t->in, o, &t->err);
}

static int t_open(struct t *t, const char *data, const struct adapter_opts *o)
{
	return t_open_len(t, data, strlen(data), 0, o);
}

static int t_next(struct t *t)
{
	tmerr_clear(&t->err);
	return xml_adapter.next(t->h, &t->rec, &t->err);
}

static void t_close(struct t *t)
{
	if (t->h)
		xml_adapter.close(t->h);
	t->h = NULL;
}

static void assert_val(const struct record *r, size_t i, const char *want)
{
	assert_true(i < r->nfields);
	if (!want) {
		assert_null(r->vals[i]);
		return;
	}
	assert_non_null(r->vals[i]);
	assert_string_equal(r->vals[i], want);
	assert_int_equal(r->lens[i], strlen(want));
}

/* Open (and read to the end if open succeeds); expect a fatal error whose
 * message contains want, within 2 s. Returns the error for more checks. */
static struct tmerr expect_fatal(const char *data, size_t len, size_t chunk,
				 const struct adapter_opts *o, const char *want)
{
	struct t t;
	struct tmerr e;
	int rc = 0;

	if (t_open_len(&t, data, len, chunk, o) == 0) {
		while ((rc = t_next(&t)) == ADP_OK)
			;
		assert_int_equal(rc, ADP_FATAL);
	}
	assert_true(now_s() - t.t0 < 2.0);
	if (!strstr(t.err.msg, want))
		fail_msg("error \"%s\" lacks \"%s\"", t.err.msg, want);
	e = t.err;
	t_close(&t);
	return e;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct tmerr expect_file_fatal(const char *name, const char *want)
{
	static const char *const p[] = { "t:id_number", "t:project" };
	struct adapter_opts o = opts("/t:records/t:training", p, 2);
	char path[512];
	struct tmerr e;
	size_t len;
	char *data;

	snprintf(path, sizeof(path), DATA "hostile/%s", name);
	data = slurp(path, &len);
	e = expect_fatal(data, len, 0, &o, want);
	free(data);
	return e;
}

/* ---- records ------------------------------------------------------------ */

static const char *const canon_paths[] = {
	"t:id_type", "t:id_number", "t:project", "t:start_date", "t:end_date",
	"t:kind", "t:hours", "t:credits", "t:provider",
};

static void check_canonical(size_t chunk)
{
	struct adapter_opts o = opts("/t:records/t:training", canon_paths, 9);
	const char *const *names;
	struct t t;
	size_t len;
	char *data = slurp(DATA "training.xml", &len);

	assert_int_equal(t_open_len(&t, data, len, chunk, &o), 0);
	assert_int_equal(xml_adapter.names(t.h, &names), 9);
	assert_string_equal(names[1], "t:id_number");

	assert_int_equal(t_next(&t), ADP_OK);
	assert_int_equal(t.rec.nfields, 9);
	assert_int_equal(t.rec.line, 3);
	assert_string_equal(t.rec.names[2], "t:project");
	assert_val(&t.rec, 0, "1");
	assert_val(&t.rec, 1, "410105198003130119");
	assert_val(&t.rec, 2, "师德师风 & 安全教育");
	assert_val(&t.rec, 3, "2024-07-01");
	assert_val(&t.rec, 7, "");         /* present, empty */
	assert_val(&t.rec, 8, NULL);       /* absent */
	assert_null(t.rec.cols);

	assert_int_equal(t_next(&t), ADP_OK);
	assert_int_equal(t.rec.line, 13);
	assert_val(&t.rec, 2, "<信息技术> 2.0");   /* CDATA */
	assert_val(&t.rec, 4, "2024-08-02");
	assert_val(&t.rec, 5, NULL);
	assert_val(&t.rec, 8, "Henan Normal University");

	assert_int_equal(t_next(&t), ADP_OK);
	assert_int_equal(t.rec.line, 15);
	assert_val(&t.rec, 3, NULL);
	assert_int_equal(t_next(&t), ADP_EOF);
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);
	free(data);
}

static void test_canonical(void **state)
{
	(void)state;
	check_canonical(0);
}

/* One byte per read: every token and record crosses chunk boundaries. */
static void test_one_byte_reads(void **state)
{
	(void)state;
	check_canonical(1);
	check_canonical(7);
}

static void test_attributes_and_nesting(void **state)
{
	static const char *const p[] = {
		"@id", "a", "a/@x", "a/b", "a/b/c", "@missing", "d/@y",
	};
	struct adapter_opts o = opts("/r/rec", p, 7);
	struct t t;

	(void)state;
	o.nns = 0;
	assert_int_equal(t_open(&t,
		"<r><rec id='7'><a x='1 &amp; 2'>x<b>y<c>z</c></b>w</a><d y=''/></rec>"
		"<rec><a/><a x='second'>ignored</a></rec></r>", &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "7");
	assert_val(&t.rec, 1, "xw");        /* own text only */
	assert_val(&t.rec, 2, "1 & 2");
	assert_val(&t.rec, 3, "y");
	assert_val(&t.rec, 4, "z");
	assert_val(&t.rec, 5, NULL);
	assert_val(&t.rec, 6, "");
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, NULL);
	assert_val(&t.rec, 1, "");          /* first <a> wins */
	assert_val(&t.rec, 2, "second");    /* first a/@x in document order */
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);
}

static void test_namespaces(void **state)
{
	static const char *const p[] = { "t:a", "a", "t:a/@t:q", "t:a/@q", "@xml:lang" };
	struct adapter_opts o = opts("/t:r/t:rec", p, 5);
	struct t t;

	(void)state;
	/* the document's prefix differs from the mapping's: URIs decide */
	assert_int_equal(t_open(&t,
		"<x:r xmlns:x='" NS "'><x:rec xml:lang='zh'><x:a x:q='1' q='2'>in</x:a>"
		"<a xmlns=''>none</a></x:rec><other xmlns='" NS "'/>"
		"<rec xmlns='" NS "'><a>default</a></rec></x:r>", &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "in");
	assert_val(&t.rec, 1, "none");
	assert_val(&t.rec, 2, "1");
	assert_val(&t.rec, 3, "2");
	assert_val(&t.rec, 4, "zh");
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "default");
	assert_val(&t.rec, 1, NULL);
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);

	/* elements of another namespace are not the record */
	assert_int_equal(t_open(&t, "<t:r xmlns:t='" NS "'><rec><a>1</a></rec></t:r>",
				&o), 0);
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);
}

static void test_entities_and_text(void **state)
{
	static const char *const p[] = { "v", "w" };
	struct adapter_opts o = opts("//rec", p, 2);
	struct t t;

	(void)state;
	o.nns = 0;
	assert_int_equal(t_open(&t,
		"<?xml version='1.0'?>\n<!-- c -->\n<?pi x?>\n<root><g><rec>"
		"<v>&lt;&gt;&amp;&quot;&apos;&#x4E2D;&#25991;<!-- c -->!</v>"
		"<w>  a\tb\r\nc  </w></rec></g><rec><v>2</v></rec></root>", &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_int_equal(t.rec.line, 4);
	assert_val(&t.rec, 0, "<>&\"'中文!");
	assert_val(&t.rec, 1, "  a\tb\nc  ");
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "2");
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);
}

static void test_repeated_path_and_no_paths(void **state)
{
	static const char *const p[] = { "a", "b", "a" };
	struct adapter_opts o = opts("/r/x", p, 3);
	struct t t;

	(void)state;
	o.nns = 0;
	assert_int_equal(t_open(&t, "<r><x><a>1</a></x><x/></r>", &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "1");
	assert_val(&t.rec, 1, NULL);
	assert_val(&t.rec, 2, "1");
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 2, NULL);
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);

	/* "." is the record's own text; "//" records are not nested */
	{
		static const char *const q[] = { ".", "@k" };
		struct adapter_opts o2 = opts("//x", q, 2);

		o2.nns = 0;
		assert_int_equal(t_open(&t, "<r><x k='1'>top<x k='2'>in</x></x><y><x>2</x></y></r>",
					&o2), 0);
		assert_int_equal(t_next(&t), ADP_OK);
		assert_val(&t.rec, 0, "top");
		assert_val(&t.rec, 1, "1");
		assert_int_equal(t_next(&t), ADP_OK);
		assert_val(&t.rec, 0, "2");
		assert_val(&t.rec, 1, NULL);
		assert_int_equal(t_next(&t), ADP_EOF);
		t_close(&t);
	}

	o.npaths = 0;
	assert_int_equal(t_open(&t, "<r><x/><x/></r>", &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_int_equal(t.rec.nfields, 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);
}

/* Many small records: the queue of one chunk's records, drained and
 * compacted while a record spans the chunk boundary. */
static void test_many_records(void **state)
{
	static const char *const p[] = { "@n", "v" };
	struct adapter_opts o = opts("/r/x", p, 2);
	struct buf b = BUF_INIT(8 << 20);
	struct t t;
	long i;

	(void)state;
	o.nns = 0;
	buf_addstr(&b, "<r>\n");
	for (i = 0; i < 50000; i++)
		buf_addf(&b, "<x n='%ld'><v>%ld</v></x>%s", i, i * 7,
			 i % 3 ? "" : "\n");
	buf_addstr(&b, "</r>\n");
	assert_int_equal(t_open_len(&t, b.ptr, b.len, 0, &o), 0);
	for (i = 0; i < 50000; i++) {
		char want[32];

		assert_int_equal(t_next(&t), ADP_OK);
		snprintf(want, sizeof(want), "%ld", i);
		assert_val(&t.rec, 0, want);
		snprintf(want, sizeof(want), "%ld", i * 7);
		assert_val(&t.rec, 1, want);
		assert_int_equal(t.rec.line, 2 + (i + 2) / 3);
	}
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);
	buf_release(&b);
}

static void test_gb18030(void **state)
{
	static const char *const p[] = { "t:project" };
	struct adapter_opts o = opts("/t:records/t:training", p, 1);
	struct t t;
	size_t len;
	char *data = slurp(DATA "gb18030.xml", &len);

	(void)state;
	assert_int_equal(t_open_len(&t, data, len, 3, &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "培训");
	assert_int_equal(t_next(&t), ADP_EOF);
	t_close(&t);

	/* an undeclared GB18030 file read as the mapping says */
	free(data);
	data = slurp(DATA "hostile/gb18030_undeclared.xml", &len);
	o.encoding = "gb18030";
	assert_int_equal(t_open_len(&t, data, len, 0, &o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "培训");
	t_close(&t);
	free(data);

	/* a declaration contradicting the mapping */
	o.encoding = "utf-8";
	data = slurp(DATA "gb18030.xml", &len);
	expect_fatal(data, len, 0, &o, "declares encoding \"GB18030\" but the mapping says");
	free(data);
}

static void test_bom(void **state)
{
	static const char *const p[] = { "v" };
	struct adapter_opts o = opts("/r", p, 1);
	struct t t;

	(void)state;
	o.nns = 0;
	assert_int_equal(t_open(&t, "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8'?><r><v>1</v></r>",
				&o), 0);
	assert_int_equal(t_next(&t), ADP_OK);
	assert_val(&t.rec, 0, "1");
	t_close(&t);
}

/* ---- hostile and malformed input ---------------------------------------- */

static void test_doctype_refused(void **state)
{
	struct tmerr e;

	(void)state;
	e = expect_file_fatal("billion_laughs.xml",
			      "document type declarations are not accepted");
	assert_string_equal(e.rule, "doctype");
	assert_int_equal(e.line, 2);
	assert_string_equal(e.file, "mem.xml");
	expect_file_fatal("xxe_file.xml", "document type declarations are not accepted");
	expect_file_fatal("xxe_http.xml", "document type declarations are not accepted");
	expect_file_fatal("xxe_dtd.xml", "document type declarations are not accepted");
	/* with the DTD refused, nothing of /etc/passwd is ever read */
	e = expect_file_fatal("undeclared_entity.xml", "entity 'xxe' not defined");
	assert_string_equal(e.path, "/records/training[1]/id_number");
	assert_int_equal(e.line, 3);
}

static void test_doctype_chunked(void **state)
{
	static const char *const p[] = { "v" };
	struct adapter_opts o = opts("/r", p, 1);
	size_t len;
	char *data = slurp(DATA "hostile/billion_laughs.xml", &len);

	(void)state;
	expect_fatal(data, len, 1, &o, "document type declarations are not accepted");
	free(data);
}

static void test_deep_nesting(void **state)
{
	static const char *const p[] = { "v" };
	struct adapter_opts o = opts("/r", p, 1);
	size_t n = 100000, i;
	char *data = malloc(n * 7 + 1);
	struct tmerr e;

	(void)state;
	o.nns = 0;
	assert_non_null(data);
	for (i = 0; i < n; i++)
		memcpy(data + 3 * i, "<r>", 3);
	for (i = 0; i < n; i++)
		memcpy(data + 3 * n + 4 * i, "</r>", 4);
	e = expect_fatal(data, 7 * n, 0, &o, "deeper than 256");
	assert_string_equal(e.rule, "too_deep");
	assert_int_equal(strncmp(e.path, "/r[1]/r/r/r", 11), 0);
	free(data);
}

static void test_text_over_cap(void **state)
{
	static const char *const p[] = { "v" };
	struct adapter_opts o = opts("/r/x", p, 1);
	size_t n = 200000;
	char *data = malloc(n + 64);
	struct tmerr e;
	int k;

	(void)state;
	o.nns = 0;
	assert_non_null(data);
	/* a captured value, then text nobody asked for: both capped */
	for (k = 0; k < 2; k++) {
		const char *open = k ? "<r><x><w>" : "<r>\n<x><v>";
		const char *close = k ? "</w></x></r>" : "</v></x></r>";
		size_t len = strlen(open);

		memcpy(data, open, len);
		memset(data + len, 'a', n);
		len += n;
		memcpy(data + len, close, strlen(close));
		len += strlen(close);
		e = expect_fatal(data, len, 0, &o, "text node longer than 65536 bytes");
		assert_string_equal(e.rule, "field_too_long");
		assert_string_equal(e.path, k ? "/r/x[1]/w" : "/r/x[1]/v");
	}
	/* a smaller cap from the options */
	o.field_cap = 10;
	expect_fatal("<r><x><v>0123456789A</v></x></r>", 32, 0, &o,
		     "longer than 10 bytes");
	/* a value made of several text nodes */
	expect_fatal("<r><x><v>012345<b/>6789A</v></x></r>", 36, 0, &o,
		     "value longer than 10 bytes");
	free(data);
}

static void test_record_cap(void **state)
{
	static const char *const p[] = { "a", "b", "c" };
	struct adapter_opts o = opts("/r/x", p, 3);

	(void)state;
	o.nns = 0;
	o.record_cap = 16;
	expect_fatal("<r><x><a>123456</a><b>123456</b><c>123456</c></x></r>", 54, 0, &o,
		     "record longer than 16 bytes");
}

static void test_attribute_limits(void **state)
{
	static const char *const p[] = { "@a" };
	struct adapter_opts o = opts("/r", p, 1);
	struct buf b = BUF_INIT(1 << 20);
	int i;

	(void)state;
	o.nns = 0;
	buf_addstr(&b, "<r");
	for (i = 0; i < 300; i++)
		buf_addf(&b, " a%d='1'", i);
	buf_addstr(&b, "/>");
	expect_fatal(b.ptr, b.len, 0, &o, "more than 256 attributes");
	buf_reset(&b);
	buf_addstr(&b, "<r a='");
	for (i = 0; i < 70000; i++)
		buf_addch(&b, 'v');
	buf_addstr(&b, "'/>");
	expect_fatal(b.ptr, b.len, 0, &o, "attribute \"a\" longer than 65536 bytes");
	buf_reset(&b);
	buf_addstr(&b, "<r><");
	for (i = 0; i < 300; i++)
		buf_addch(&b, 'n');
	buf_addstr(&b, "/></r>");
	expect_fatal(b.ptr, b.len, 0, &o, "element name longer than 256 bytes");
	buf_release(&b);
}

static void test_encodings_refused(void **state)
{
	struct tmerr e;

	(void)state;
	e = expect_file_fatal("invalid_utf8.xml", "invalid UTF-8");
	assert_string_equal(e.rule, "encoding");
	assert_int_equal(e.line, 3);
	assert_string_equal(e.path, "/records/training[1]/project");
	expect_file_fatal("gb18030_as_utf8.xml", "invalid UTF-8");
	expect_file_fatal("gb18030_undeclared.xml", "invalid UTF-8");
	expect_file_fatal("latin1_lie.xml",
			  "declares encoding \"ISO-8859-1\", which is not accepted");
	expect_file_fatal("utf16_lie.xml",
			  "declares encoding \"UTF-16\", which is not accepted");
	e = expect_file_fatal("utf16_bom.xml", "UTF-16 or UTF-32");
	assert_int_equal(e.line, 1);
	/* a GB18030 file whose bytes are not GB18030 */
	{
		static const char *const p[] = { "v" };
		struct adapter_opts o = opts("/r", p, 1);
		const char bad[] = "<?xml version='1.0' encoding='GBK'?><r><v>\x81\x20</v></r>";

		o.nns = 0;
		expect_fatal(bad, sizeof(bad) - 1, 0, &o, "GB18030");
	}
}

static void test_malformed(void **state)
{
	static const char *const p[] = { "v" };
	struct adapter_opts o = opts("/r/x", p, 1);
	struct tmerr e;

	(void)state;
	o.nns = 0;
	e = expect_fatal("<r>\n<x><v>1</v></x>\n<x><v>2</w></x></r>", 38, 0, &o,
			 "malformed XML");
	assert_int_equal(e.line, 3);
	assert_string_equal(e.path, "/r/x[2]/v");
	expect_fatal("<r><x><v>1</v></x>", 19, 0, &o, "malformed XML");
	expect_fatal("", 0, 0, &o, "malformed XML");
	expect_fatal("not xml", 7, 0, &o, "malformed XML");
	expect_fatal("<r><x><u:v/></x></r>", 20, 0, &o, "malformed XML");
	expect_fatal("<r/><r/>", 8, 0, &o, "malformed XML");
	/* the root is not the record path's: a namespace slip, say */
	e = expect_fatal("<r xmlns='urn:x'><x/></r>", 25, 0, &o,
			 "root element \"r\" (namespace \"urn:x\") does not match");
	assert_string_equal(e.rule, "record_path");
}

static void test_bad_options(void **state)
{
	static const char *const bad[] = { "/abs", "a//b", "@a/b", "u:a", "a[1]", "" };
	static const char *const ok[] = { "a" };
	struct adapter_opts o;
	struct t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		o = opts("/r", bad + i, 1);
		assert_int_equal(t_open(&t, "<r/>", &o), -1);
		assert_int_equal(t.err.code, TMERR_MAPPING);
	}
	o = opts(NULL, ok, 1);
	assert_int_equal(t_open(&t, "<r/>", &o), -1);
	assert_non_null(strstr(t.err.msg, "record path"));
	o = opts("/u:r", ok, 1);
	assert_int_equal(t_open(&t, "<r/>", &o), -1);
	assert_non_null(strstr(t.err.msg, "undeclared namespace prefix \"u\""));
}

static void test_probe(void **state)
{
	(void)state;
	assert_true(xml_adapter.probe((const unsigned char *)"<?xml version='1.0'?>", 21,
				      NULL) > 50);
	assert_true(xml_adapter.probe((const unsigned char *)"\xEF\xBB\xBF <records>", 13,
				      NULL) > 50);
	assert_int_equal(xml_adapter.probe((const unsigned char *)"a,b,c\n", 6, "x.csv"), 0);
	assert_ptr_equal(adapter_find("xml"), &xml_adapter);
}

/* ---- mappings ----------------------------------------------------------- */

struct mfx {
	struct defs *d;
	struct mapping *m;
	struct tmerr err;
};

static void map_load(struct mfx *f, const char *path)
{
	tmerr_clear(&f->err);
	if (defs_load(&f->d, TMISGW_DATADIR "/mappings", &f->err))
		fail_msg("defs_load: %s", f->err.msg);
	if (mapping_load(&f->m, path, f->d, &f->err))
		fail_msg("mapping_load %s: %s", path, f->err.msg);
}

static void map_free(struct mfx *f)
{
	mapping_free(f->m);
	defs_free(f->d);
}

/* Drive a file through open → names → bind → next → row_map → row_check,
 * as etl/load.c does; return the rows' field f values joined by "|". */
static void run_mapping(struct mfx *f, const char *file, const char *field,
			char *out, size_t outsz, int *nrej)
{
	struct adapter_opts ao;
	struct adapter_handle *h;
	const struct adapter *ad;
	const char *const *names;
	struct checker ck;
	struct ymd today;
	struct input in;
	struct record rec;
	struct row row;
	size_t nn;
	int rc, fi = category_field(f->m->cat, field);

	out[0] = '\0';
	*nrej = 0;
	ad = adapter_find(f->m->format);
	assert_ptr_equal(ad, &xml_adapter);
	mapping_adapter_opts(f->m, &ao);
	assert_int_equal(input_open_file(&in, file, &f->err), 0);
	assert_int_equal(ad->open(&h, &in, &ao, &f->err), 0);
	nn = ad->names(h, &names);
	assert_int_equal(mapping_bind(f->m, names, nn, file, &f->err), 0);
	assert_int_equal(row_init(&row, f->m->cat), 0);
	ymd_today(&today);
	assert_int_equal(checker_init(&ck, f->d, f->m->cat, &today), 0);
	while ((rc = ad->next(h, &rec, &f->err)) == ADP_OK) {
		if (row_map(&row, f->m, &rec, &f->err) ||
		    row_check(&ck, &row, &f->err)) {
			++*nrej;
			continue;
		}
		snprintf(out + strlen(out), outsz - strlen(out), "%s%ld:%.*s",
			 out[0] ? "|" : "", row.line, (int)row.len[fi], row.val[fi]);
	}
	assert_int_equal(rc, ADP_EOF);
	row_release(&row);
	ad->close(h);
	input_close_file(&in);
}

static void test_mapping_canonical(void **state)
{
	struct mfx f;
	char out[512];
	int nrej;

	(void)state;
	map_load(&f, TMISGW_DATADIR "/mappings/canonical/training.xml.map");
	assert_string_equal(f.m->format, "xml");
	assert_int_equal(f.m->nns, 1);
	assert_int_equal(f.m->nxpaths, 10); /* with t:op */
	run_mapping(&f, DATA "training.xml", "id_number", out, sizeof(out), &nrej);
	assert_string_equal(out, "3:410105198003130119|13:11010519491231002X");
	assert_int_equal(nrej, 1);
	run_mapping(&f, DATA "training.xml", "project", out, sizeof(out), &nrej);
	assert_string_equal(out, "3:师德师风 & 安全教育|13:<信息技术> 2.0");
	map_free(&f);
}

static void test_mapping_platform(void **state)
{
	struct mfx f;
	char out[512];
	int nrej;

	(void)state;
	map_load(&f, DATA "platform.xml.map");
	run_mapping(&f, DATA "platform.xml", "id_number", out, sizeof(out), &nrej);
	assert_int_equal(nrej, 0);
	assert_string_equal(out, "4:11010519491231002X|10:410105198003130127");
	run_mapping(&f, DATA "platform.xml", "start_date", out, sizeof(out), &nrej);
	assert_string_equal(out, "4:2024-07-01|10:2024-08-01");
	run_mapping(&f, DATA "platform.xml", "project", out, sizeof(out), &nrej);
	assert_string_equal(out, "4:师德 & 安全|10:信息技术");
	run_mapping(&f, DATA "platform.xml", "kind", out, sizeof(out), &nrej);
	assert_string_equal(out, "4:2|10:");
	map_free(&f);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_mapping_errors(void **state)
{
	static const struct {
		const char *text, *want;
		long line;
	} cases[] = {
		{ "format xml\ncategory training\nrecord /r/x\n"
		  "field id_type col a\nfield id_number col u:b\n"
		  "field project col c\nfield start_date col d\n",
		  "namespace prefix \"u\" in \"u:b\" is not bound", 5 },
		{ "format xml\ncategory training\n"
		  "field id_type col a\nfield id_number col b\n"
		  "field project col c\nfield start_date col d\n",
		  "format xml needs \"record /PATH\"", 2 },
		{ "format xml\ncategory training\nrecord /r/x\n"
		  "field id_type pos 1\nfield id_number col b\n"
		  "field project col c\nfield start_date col d\n",
		  "\"pos\" has no meaning for format xml", 4 },
		{ "format xml\ncategory training\nnamespace t urn:a\nnamespace t urn:b\n",
		  "namespace prefix \"t\" bound twice", 4 },
		{ "format xml\nnamespace t\n", "expected \"namespace PREFIX URI\"", 2 },
		{ "format xml\nnamespace a:b urn:x\n", "bad namespace prefix", 2 },
		{ "format xml\ncategory training\nrecord /r/x\n"
		  "field id_type col a\nfield id_number col /b\n"
		  "field project col c\nfield start_date col d\n",
		  "must be relative to the record element", 5 },
	};
	char dir[] = "/tmp/tmisgw-test-xml.XXXXXX", path[64];
	struct defs *d;
	struct mapping *m;
	struct tmerr err;
	size_t i;

	(void)state;
	tmerr_clear(&err);
	assert_int_equal(defs_load(&d, TMISGW_DATADIR "/mappings", &err), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.map", dir);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		write_file(path, cases[i].text);
		tmerr_clear(&err);
		assert_int_equal(mapping_load(&m, path, d, &err), -1);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].want);
		assert_int_equal(err.line, cases[i].line);
		assert_int_equal(err.code, TMERR_MAPPING);
	}
	unlink(path);
	rmdir(dir);
	defs_free(d);
}

/* Every category has a canonical XML mapping that loads. */
static void test_mapping_all_canonical(void **state)
{
	struct defs *d;
	struct mapping *m;
	struct tmerr err;
	char path[512];
	size_t i, nxml;

	(void)state;
	tmerr_clear(&err);
	assert_int_equal(defs_load(&d, TMISGW_DATADIR "/mappings", &err), 0);
	assert_true(d->ncats >= 17);
	for (i = 0; i < d->ncats; i++) {
		snprintf(path, sizeof(path), TMISGW_DATADIR "/mappings/canonical/%s.xml.map",
			 d->cats[i].name);
		if (mapping_load(&m, path, d, &err))
			fail_msg("%s: %s", path, err.msg);
		nxml = m->nfields;
		mapping_free(m);
		/* the same fields as the canonical CSV mapping */
		snprintf(path, sizeof(path), TMISGW_DATADIR "/mappings/canonical/%s.map",
			 d->cats[i].name);
		if (mapping_load(&m, path, d, &err))
			fail_msg("%s: %s", path, err.msg);
		assert_int_equal(nxml, m->nfields);
		mapping_free(m);
	}
	defs_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_one_byte_reads),
		cmocka_unit_test(test_attributes_and_nesting),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_entities_and_text),
		cmocka_unit_test(test_repeated_path_and_no_paths),
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_gb18030),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_doctype_chunked),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_text_over_cap),
		cmocka_unit_test(test_record_cap),
		cmocka_unit_test(test_attribute_limits),
		cmocka_unit_test(test_encodings_refused),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_mapping_canonical),
		cmocka_unit_test(test_mapping_platform),
		cmocka_unit_test(test_mapping_errors),
		cmocka_unit_test(test_mapping_all_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
