#!/bin/sh
# test_export: `tmisgw pack --from-db` against a private cluster and real gpg.
# A province (410000) packs its scope for the centre (000000): a full package
# holds only the province's teachers and their records, in canonical form
# (true/false, ISO dates) that loads again unchanged; a delta after a change
# holds exactly the changed rows with their op; a delta with nothing changed
# holds no data rows; the change-number windows chain in tmis.package_out; a
# reused sequence number, FILEs with --from-db and an unknown category are
# refused and leave nothing behind. The centre packs everything.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
gpg_trap || exit 1
pg_start || exit 1
P=$(gw_home prov)
C=$(gw_home centre)
W=$GPG_TMP/work
mkdir -p "$W"
NCATS=$(grep -v '^#' mappings/schema.tsv | cut -f1 | sort -u | wc -l)

# idno PREFIX17: PREFIX17 and its GB 11643 check character
idno()
{
	printf '%s\n' "$1" | awk '{
		split("7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2", w, " ")
		s = 0
		for (i = 1; i <= 17; i++)
			s += substr($0, i, 1) * w[i]
		print $0 substr("10X98765432", s % 11 + 1, 1)
	}'
}

# pack_db HOME ARGS...: pack --from-db, output in $W/pack.out, exit in $rc
pack_db()
{
	_h=$1
	shift
	"$T" pack --home "$_h" --from-db "$@" >"$W/pack.out" 2>&1
	rc=$?
}

# unpack_to PKG DIR HOME: unpack at HOME
unpack_to()
{
	rm -rf "$2"
	"$T" unpack --home "$3" "$1" -o "$2" >"$W/unpack.out" 2>&1
}

# rows FILE: data records of a canonical CSV (no quoted line breaks here)
rows()
{
	echo $(($(wc -l <"$1") - 1))
}

# expected TABLE WHERE COLS: the rows psql gives for the columns COLS (the
# package's header), booleans spelt true/false, sorted
expected()
{
	_sel=
	for _c in $(echo "$3" | tr ',' ' '); do
		_t=$(pg_sql "select data_type from information_schema.columns
			where table_schema = 'tmis' and table_name = '$1' and column_name = '$_c'")
		if [ "$_t" = boolean ]; then
			_e="case when x.$_c then 'true' when not x.$_c then 'false' end"
		else
			_e="x.$_c"
		fi
		_sel="${_sel:+$_sel, }$_e"
	done
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "set datestyle = iso" \
		-c "copy (select $_sel from tmis.$1 x $2) to stdout (format csv)" | LC_ALL=C sort
}

# same_rows DESC CSV TABLE WHERE: the file's data rows are exactly the query's
same_rows()
{
	expected "$3" "$4" "$(head -n 1 "$2")" >"$W/exp.csv"
	tail -n +2 "$2" | LC_ALL=C sort >"$W/got.csv"
	if [ -s "$W/exp.csv" ] && cmp -s "$W/exp.csv" "$W/got.csv"; then
		ok "$1"
	else
		not_ok "$1"
		diag "$(diff "$W/exp.csv" "$W/got.csv" | head -n 10)"
	fi
}

nothing_left()
{
	[ -z "$(ls -A "$P/spool")" ] && [ -z "$(ls -A "$W/$1")" ]
}

# ---- homes, keys, data ---------------------------------------------------------
"$T" keys init --home "$P" --org 410000 >/dev/null 2>&1
"$T" keys init --home "$C" --org 000000 >/dev/null 2>&1
"$T" keys export --home "$P" >"$W/p.asc"
"$T" keys export --home "$C" >"$W/c.asc"
check "centre trusts the province" "$T" keys trust --home "$C" --org 410000 "$W/p.asc"
check "province trusts the centre" "$T" keys trust --home "$P" --org 000000 "$W/c.asc"

check "db migrate" "$T" db migrate
"$T" sample --teachers 50 --province 41 --out "$W/s" >/dev/null 2>&1
check "load a sample province 41" "$T" load --no-progress "$W/s"/*.csv

# two teachers of province 42, with training, to be left out by 410000
X1=$(idno 42010219800101001)
X2=$(idno 42010219850505002)
mkdir -p "$W/x"
hdr=$(head -n 1 tests/data/load/teacher.csv)
{
	echo "$hdr"
	echo "1,$X1,王五,1,1980-01-01,156,01,13,2142010001,k12,2002-09,2003-09,01,01,false,01,13800000101,x1@school.cn"
	echo "1,$X2,赵六,2,1985-05-05,156,01,13,2142010001,k12,2007-09,2008-09,01,01,true,01,13800000102,x2@school.cn"
} >"$W/x/teacher.csv"
{
	head -n 1 tests/data/load/training.csv
	echo "1,$X1,国培计划2024,2024-07-01,2024-07-10,1,40,4,湖北师范大学"
	echo "1,$X2,国培计划2024,2024-07-01,2024-07-10,1,40,4,湖北师范大学"
} >"$W/x/training.csv"
check "load two teachers of province 42" "$T" load --no-progress --mode delta \
	"$W/x/teacher.csv" "$W/x/training.csv"
N41=$(pg_sql "select count(*) from tmis.teacher where reported and substr(school_code, 3, 2) = '41'")
T41=$(pg_sql "select count(*) from tmis.training x join tmis.teacher t using (id_type, id_number)
	where x.current and substr(t.school_code, 3, 2) = '41'")
is "the sample has 50 teachers of 41" "$N41" 50
is "and 2 more of 42" "$(pg_sql "select count(*) from tmis.teacher")" 52

# ---- full ----------------------------------------------------------------------
mkdir -p "$W/out"
pack_db "$P" --to 000000 --kind full --seq 1 -o "$W/out"
is "full pack from the database exits 0" "$rc" 0
diag "$(cat "$W/pack.out")"
like "summary names the scope" "$(cat "$W/pack.out")" 'scope +province 41'
like "summary counts the files" "$(cat "$W/pack.out")" "packed $NCATS files"
FULL=$(ls "$W"/out/410000-1-*.tmx 2>/dev/null)
check "the package is there" test -f "$FULL"
check "the centre unpacks it" unpack_to "$FULL" "$W/u1" "$C"
U=$W/u1/data
is "full holds every category, empty ones too" "$(ls "$U" | wc -l)" "$NCATS"
is "teacher.csv holds the 50 teachers of 41" "$(rows "$U/teacher.csv")" 50
is "training.csv holds their current training" "$(rows "$U/training.csv")" "$T41"
check_fail "no teacher of 42 in teacher.csv" grep -q "$X1\|$X2\|,2142" "$U/teacher.csv"
check_fail "no training of 42" grep -q "$X1\|$X2" "$U/training.csv"
same_rows "teacher rows equal the database's" "$U/teacher.csv" teacher \
	"where reported and substr(school_code, 3, 2) = '41'"
same_rows "training rows equal the database's" "$U/training.csv" training \
	"join tmis.teacher t using (id_type, id_number) where x.current and substr(t.school_code, 3, 2) = '41'"
is "teacher header is the canonical field list" "$(head -n 1 "$U/teacher.csv")" \
	"$(awk -F'\t' '$1 == "teacher" { printf "%s%s", n++ ? "," : "", $2 } END { print "" }' mappings/schema.tsv)"
check_fail "a full has no op column" grep -q ',op$' "$U/teacher.csv"
col=$(head -n 1 "$U/teacher.csv" | tr ',' '\n' | grep -n '^on_establishment$' | cut -d: -f1)
is "booleans are true/false" \
	"$(tail -n +2 "$U/teacher.csv" | cut -d, -f"$col" | sort -u | grep -v '^$' | tr '\n' ' ')" "false true "
col=$(head -n 1 "$U/teacher.csv" | tr ',' '\n' | grep -n '^birth_date$' | cut -d: -f1)
is "dates are YYYY-MM-DD" \
	"$(tail -n +2 "$U/teacher.csv" | cut -d, -f"$col" | grep -cv '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]$')" 0
is "an empty category is a header-only file" "$(for f in "$U"/*.csv; do
	[ "$(rows "$f")" -gt 0 ] || [ "$(head -n 1 "$f" | cut -c1-16)" = "id_type,id_numbe" ] || echo "$f"; done)" ""
is "spool is empty after the pack" "$(ls -A "$P/spool")" ""
UPTO1=$(pg_sql "select changes_upto from tmis.package_out where recipient = '000000' and sequence = 1")
is "package_out records the full" \
	"$(pg_sql "select kind, changes_since, changes_upto = (select last_value from tmis.change_no_seq), records > 50, path like '%/410000-1-%.tmx' from tmis.package_out where sequence = 1")" \
	"full|0|t|t|t"

# the full loads again, unchanged, into an empty database
pg_sql "create database centre" >/dev/null
CDB="host=$PGHOST port=$PGPORT user=postgres dbname=centre"
TMISGW_DB=$CDB "$T" db migrate >/dev/null 2>&1
TMISGW_DB=$CDB "$T" load --no-progress "$U"/*.csv >"$W/reload.out" 2>&1
is "the full package's files load at the centre" "$?" 0
q="select md5(string_agg(t::text, '|' order by id_type, id_number)) from
	(select id_type, id_number, name, gender, birth_date, school_code, work_start_month,
		on_establishment, free_normal_student, status, phone from tmis.teacher
	 where substr(school_code, 3, 2) = '41') t"
is "and the teachers are the same there" "$(PGDATABASE=centre pg_sql "$q")" "$(pg_sql "$q")"
q="select md5(string_agg(t::text, '|' order by id_number, project, start_date)) from
	(select x.id_number, project, start_date, end_date, kind, hours, credits, provider
	 from tmis.training x join tmis.teacher t using (id_type, id_number)
	 where x.current and substr(t.school_code, 3, 2) = '41') t"
is "and their training too" "$(PGDATABASE=centre pg_sql "$q")" "$(pg_sql "$q")"

# ---- delta after a change ----------------------------------------------------------
A=$(tail -n +2 "$U/teacher.csv" | head -n 1 | cut -d, -f2)
TR=$(pg_sql "select id_type || ',' || id_number || ',' || project || ',' || start_date
	from tmis.training x where current and id_number <> '$A'
	  and id_number not in ('$X1', '$X2') order by id_number, project limit 1")
TRID=$(echo "$TR" | cut -d, -f2)
mkdir -p "$W/d"
col=$(head -n 1 "$U/teacher.csv" | tr ',' '\n' | grep -n '^phone$' | cut -d: -f1)
{
	printf '%s,op\n' "$(head -n 1 "$U/teacher.csv")"
	grep "^1,$A," "$U/teacher.csv" | awk -F, -v OFS=, -v c="$col" '{ $c = "13900000000"; print $0 ",upsert" }'
} >"$W/d/teacher.csv"
{
	echo "id_type,id_number,project,start_date,op"
	echo "$TR,delete"
	# a change in province 42 is not the province's to send
	echo "1,$X1,国培计划2024,2024-07-01,delete"
} >"$W/d/training.csv"
"$T" load --no-progress --mode delta "$W/d/teacher.csv" "$W/d/training.csv" >"$W/dl.out" 2>&1
is "delta load (update one teacher, delete two training records) exits 0" "$?" 0
is "the training record is history now" \
	"$(pg_sql "select count(*) from tmis.training where not current")" 2

pack_db "$P" --to 000000 --kind delta --seq 2 -o "$W/out"
is "delta pack exits 0" "$rc" 0
diag "$(cat "$W/pack.out")"
like "delta summary names its window" "$(cat "$W/pack.out")" "changes +since $UPTO1 upto [0-9]+"
DELTA=$(ls "$W"/out/410000-2-*.tmx 2>/dev/null)
check "the centre unpacks the delta" unpack_to "$DELTA" "$W/u2" "$C"
U=$W/u2/data
is "the delta holds the changed categories only" "$(ls "$U" | tr '\n' ' ')" "teacher.csv training.csv "
is "one teacher row" "$(rows "$U/teacher.csv")" 1
like "op is the last column" "$(head -n 1 "$U/teacher.csv")" ',email,op$'
like "the teacher row is the update, op upsert" "$(tail -n 1 "$U/teacher.csv")" "^1,$A,.*,13900000000,.*,upsert$"
is "one training row" "$(rows "$U/training.csv")" 1
is "it is the deleted record: key and op only" "$(tail -n 1 "$U/training.csv")" "$TR,,,,,,delete"
check_fail "nothing of province 42 in the delta" grep -q "$X1" "$U/training.csv"
is "package_out chains the windows" \
	"$(pg_sql "select changes_since = $UPTO1, changes_upto > changes_since, records from tmis.package_out where sequence = 2")" \
	"t|t|2"

TMISGW_DB=$CDB "$T" load --no-progress --mode delta "$U"/*.csv >"$W/reload2.out" 2>&1
is "the delta loads at the centre" "$?" 0
is "and applies the update there" \
	"$(PGDATABASE=centre pg_sql "select phone from tmis.teacher where id_number = '$A'")" 13900000000
is "and the delete" \
	"$(PGDATABASE=centre pg_sql "select current from tmis.training where id_number = '$TRID' and project || ',' || start_date = '$(echo "$TR" | cut -d, -f3-)'")" f

# ---- delta with nothing changed ------------------------------------------------------
pack_db "$P" --to 000000 --kind delta --seq 3 -o "$W/out"
is "an empty delta packs" "$rc" 0
like "and says 0 records" "$(cat "$W/pack.out")" 'packed 1 file, 0 records'
check "the centre unpacks it" unpack_to "$(ls "$W"/out/410000-3-*.tmx)" "$W/u3" "$C"
is "it holds no data rows" "$(cat "$W"/u3/data/*.csv | grep -vc '^id_type,')" 0
is "its window is empty" \
	"$(pg_sql "select changes_since = changes_upto from tmis.package_out where sequence = 3")" t

# ---- refusals ---------------------------------------------------------------------------
mkdir -p "$W/r"
pack_db "$P" --to 000000 --kind delta --seq 2 -o "$W/r"
is "a reused sequence number is refused (exit 3)" "$rc" 3
like "naming the package that has it" "$(cat "$W/pack.out")" \
	"sequence 2 to \"000000\" was already packed as package \"[0-9a-f-]+\""
check "and leaves nothing in the output directory or the spool" nothing_left r
is "nothing is recorded" "$(pg_sql "select count(*) from tmis.package_out")" 3

pack_db "$P" --to 000000 --kind full --seq 9 -o "$W/r" "$W/d/teacher.csv"
is "--from-db with FILEs is a usage error" "$rc" 2
pack_db "$P" --to 000000 --kind full --seq 9 --categories teacher,nosuch -o "$W/r"
is "an unknown category is a usage error" "$rc" 2
like "naming it" "$(cat "$W/pack.out")" 'unknown category "nosuch"'
pack_db "$P" --to 420000 --kind full --seq 1 -o "$W/r"
is "a recipient without a key is refused" "$rc" 3
check "none of them leaves a file" nothing_left r
is "nor a package_out row" "$(pg_sql "select count(*) from tmis.package_out")" 3

# ---- categories, and the centre's scope ---------------------------------------------------
pack_db "$P" --to 000000 --kind full --seq 4 --categories training,teacher -o "$W/four.tmx"
is "--categories limits a full" "$rc" 0
check "the centre unpacks it" unpack_to "$W/four.tmx" "$W/u4" "$C"
is "to those categories" "$(ls "$W/u4/data" | tr '\n' ' ')" "teacher.csv training.csv "

pack_db "$C" --to 410000 --kind full --seq 1 --categories teacher -o "$W/centre.tmx"
is "the centre packs from the database" "$rc" 0
like "its scope is everything" "$(cat "$W/pack.out")" 'scope +everything'
check "the province unpacks it" unpack_to "$W/centre.tmx" "$W/u5" "$P"
is "it holds every reported teacher" "$(rows "$W/u5/data/teacher.csv")" \
	"$(pg_sql "select count(*) from tmis.teacher where reported")"
check "province 42 included" grep -q "$X1" "$W/u5/data/teacher.csv"

# ---- a load in flight: the pack waits for it, then sends all of it ---------------------------
NA=$(pg_sql "select count(*) from tmis.training where id_number = '$A' and current")
check "teacher A has current training to change" test "$NA" -gt 0
"$PSQL" -X -q -v ON_ERROR_STOP=1 >"$W/inflight.out" 2>&1 <<SQL &
BEGIN;
LOCK TABLE tmis.training IN SHARE ROW EXCLUSIVE MODE;
UPDATE tmis.training SET provider = 'in flight', change_no = nextval('tmis.change_no_seq')
 WHERE id_number = '$A' AND current;
SELECT pg_sleep(3);
COMMIT;
SQL
LOADER=$!
sleep 1
pack_db "$P" --to 000000 --kind delta --seq 5 -o "$W/five.tmx"
wait "$LOADER"
is "a delta packed during a load exits 0" "$rc" 0
check "the centre unpacks it" unpack_to "$W/five.tmx" "$W/u6" "$C"
is "it holds every row the load changed" \
	"$(grep -c ",in flight,upsert\$" "$W/u6/data/training.csv" 2>/dev/null)" "$NA"
pack_db "$P" --to 000000 --kind delta --seq 6 -o "$W/six.tmx"
check "the next delta unpacks" unpack_to "$W/six.tmx" "$W/u7" "$C"
is "and does not send them again" "$(cat "$W"/u7/data/*.csv | grep -vc '^id_type,')" 0

done_testing
