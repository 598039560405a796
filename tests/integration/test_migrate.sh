#!/bin/sh
# test_migrate: `tmisgw db migrate` against a private cluster: creates the
# schema from etl/migrations, is idempotent, loads the code sets, serializes
# concurrent runs, and rolls a broken migration back entirely.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
pg_trap
pg_start || exit 1
WORK=$PG_DIR/work
mkdir -p "$WORK"

# Expected tables and their primary keys, from mappings/schema.tsv.
awk -F'\t' '!/^#/ && NF >= 4 && $4 ~ /(^|,)key(,|$)/ {
		if (!($1 in k)) { order[++n] = $1; k[$1] = $2 } else k[$1] = k[$1] "," $2
	} END { for (i = 1; i <= n; i++) print order[i] " " k[order[i]] }' \
	mappings/schema.tsv >"$WORK/pkeys.expected"
awk -F'\t' '!/^#/ && NF >= 4 {
		if (!($1 in c)) { order[++n] = $1; c[$1] = $2 } else c[$1] = c[$1] "," $2
	} END { for (i = 1; i <= n; i++)
		print order[i] " " c[order[i]] ",extra,load_id,change_no,updated_at,src_line" \
			(order[i] == "teacher" ? ",reported" : ",current,superseded_at,superseded_load") }' \
	mappings/schema.tsv >"$WORK/columns.expected"

check "db migrate creates the schema" "$TMISGW_BIN" db migrate
"$TMISGW_BIN" db migrate >"$WORK/second.out" 2>&1
is "second db migrate succeeds" "$?" 0
like "second db migrate reports nothing applied" "$(cat "$WORK/second.out")" \
	'(^|[^0-9])0 (migrations? )?(applied|new)|applied[ :=]+0([^0-9]|$)|[Nn]othing|[Uu]p[ -]to[ -]date'
is "17 category tables exist" "$(wc -l <"$WORK/pkeys.expected" | tr -d ' ')" 17

pg_sql "SELECT c.relname || ' ' || string_agg(a.attname, ',' ORDER BY k.ord)
	  FROM pg_index i
	  JOIN pg_class c ON c.oid = i.indrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'tmis'
	  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
	 WHERE i.indisprimary
	 GROUP BY c.relname" >"$WORK/pkeys.got" 2>&1
sort "$WORK/pkeys.got" >"$WORK/got.s"
sort "$WORK/pkeys.expected" >"$WORK/expected.s"
missing=$(comm -13 "$WORK/got.s" "$WORK/expected.s")
is "every category table has the expected primary key" "$missing" ""

pg_sql "SELECT c.relname || ' ' || string_agg(a.attname, ',' ORDER BY a.attnum)
	  FROM pg_class c
	  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'tmis'
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
	       AND NOT a.attisdropped
	 WHERE c.relkind = 'r'
	 GROUP BY c.relname" >"$WORK/columns.got" 2>&1
sort "$WORK/columns.got" >"$WORK/got.s"
sort "$WORK/columns.expected" >"$WORK/expected.s"
missing=$(comm -13 "$WORK/got.s" "$WORK/expected.s")
is "category columns follow schema.tsv order" "$missing" ""

for t in schema_migrations code_set code_value indicator_requirement \
	 load_run load_file load_reject; do
	is "table tmis.$t exists" "$(pg_sql "SELECT to_regclass('tmis.$t') IS NOT NULL")" t
done
is "sequence tmis.change_no_seq exists" \
	"$(pg_sql "SELECT to_regclass('tmis.change_no_seq') IS NOT NULL")" t
is "month columns are checked" \
	"$(pg_sql "INSERT INTO tmis.education (id_type, id_number, start_month) VALUES ('1', 'x', '2020-1')" 2>&1 | grep -c 'check constraint')" 1
is "change_no is assigned on insert" \
	"$(pg_sql "INSERT INTO tmis.certificate (id_type, id_number, name) VALUES ('1', 'x', 'c') RETURNING change_no > 0" &&
	   pg_sql "DELETE FROM tmis.certificate")" t
n=$(pg_sql "SELECT count(*) FROM tmis.code_value" 2>/dev/null)
check "code sets are loaded" test "${n:-0}" -gt 0
is "every migration file is recorded" \
	"$(pg_sql "SELECT string_agg(version::text, ',' ORDER BY version) FROM tmis.schema_migrations")" \
	"$(ls etl/migrations | sed -n 's/^0*\([0-9][0-9]*\)_.*\.sql$/\1/p' | sort -n | paste -sd, -)"

# Concurrent runs on an empty database: one applies, the other waits and
# finds nothing left to do.
pg_sql "CREATE DATABASE concurrent" >/dev/null
(
	PGDATABASE=concurrent
	TMISGW_DB="host=$PGHOST port=$PGPORT user=$PGUSER dbname=concurrent"
	export PGDATABASE TMISGW_DB
	"$TMISGW_BIN" db migrate >"$WORK/c1.out" 2>&1 &
	p1=$!
	"$TMISGW_BIN" db migrate >"$WORK/c2.out" 2>&1
	r2=$?
	wait $p1
	echo "$? $r2" >"$WORK/concurrent.rc"
)
is "two concurrent db migrate runs both succeed" "$(cat "$WORK/concurrent.rc")" "0 0"
is "concurrent runs record each migration once" \
	"$(PGDATABASE=concurrent pg_sql "SELECT count(*) = count(DISTINCT version) AND count(*) > 0 FROM tmis.schema_migrations")" t

# A broken migration: non-zero exit, names the file, changes nothing.
BROKEN=$WORK/migrations
mkdir -p "$BROKEN"
cp etl/migrations/*.sql "$BROKEN"/
cat >"$BROKEN/0999_broken.sql" <<'EOF'
CREATE TABLE tmis.broken_probe (a int);

SELEC 1;
EOF
before=$(pg_sql "SELECT string_agg(version || ' ' || applied_at, ',' ORDER BY version) FROM tmis.schema_migrations")
TMISGW_MIGRATIONS=$BROKEN "$TMISGW_BIN" db migrate >"$WORK/broken.out" 2>&1
rc=$?
check "a broken migration fails" test "$rc" -ne 0
like "the error names the broken file" "$(cat "$WORK/broken.out")" '0999_broken\.sql'
like "the error gives the server message" "$(cat "$WORK/broken.out")" 'SELEC'
is "schema_migrations is unchanged after the failure" \
	"$(pg_sql "SELECT string_agg(version || ' ' || applied_at, ',' ORDER BY version) FROM tmis.schema_migrations")" \
	"$before"
is "the broken migration's statements were rolled back" \
	"$(pg_sql "SELECT to_regclass('tmis.broken_probe') IS NULL")" t

# Fixed, it applies and is recorded.
printf 'CREATE TABLE tmis.broken_probe (a int);\n' >"$BROKEN/0999_broken.sql"
check "the fixed migration applies" env TMISGW_MIGRATIONS="$BROKEN" \
	"$TMISGW_BIN" db migrate
is "the fixed migration is recorded" \
	"$(pg_sql "SELECT count(*) FROM tmis.schema_migrations WHERE version = 999")" 1

done_testing
