#!/bin/sh
# test_bundles: zip and tar.zst bundles load member by member without
# extraction; members without a mapping are skipped and named; hostile
# bundles (a zip bomb, a path escaping the archive) load nothing; delta rows
# with op=delete turn records into history and teachers into "no longer
# reported".
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
D=$(pwd)/tests/data/load
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W/b"
"$T" db migrate >/dev/null 2>&1

cp "$D/teacher.csv" "$D/training.csv" "$W/b/"
echo "free text, not data" >"$W/b/notes.txt"
python3 - "$W" <<'PY'
import sys, zipfile
w = sys.argv[1]
with zipfile.ZipFile(w + "/bundle.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for n in ("teacher.csv", "training.csv", "notes.txt"):
        z.write(w + "/b/" + n, n)
with zipfile.ZipFile(w + "/bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("teacher.csv", b"0" * (300 << 20))
with zipfile.ZipFile(w + "/escape.zip", "w") as z:
    z.writestr("../teacher.csv", open(w + "/b/teacher.csv", "rb").read())
PY
(cd "$W/b" && tar --zstd -cf "$W/bundle.tar.zst" teacher.csv training.csv)

"$T" load --no-progress "$W/bundle.zip" >"$W/o1" 2>&1
is "a zip bundle loads" "$?" 0
like "its teachers load" "$(cat "$W/o1")" 'teacher +5 +5 +0 +0 +0'
like "its training loads" "$(cat "$W/o1")" 'training +9 +4 +0 +0 +5'
like "rejects name the member" "$(cat "$W/o1")" 'bundle.zip:training.csv:7:'
like "a member without a mapping is skipped and named" "$(cat "$W/o1")" 'skipped bundle member .*bundle.zip:notes.txt'
is "nothing was extracted beside the bundle" "$(ls "$W" | grep -c '^teacher.csv$')" 0

"$T" load --no-progress "$W/bundle.tar.zst" >"$W/o2" 2>&1
is "the same data as tar.zst" "$?" 0
like "is unchanged" "$(cat "$W/o2")" 'unchanged: every row matches'

n=$(pg_sql 'select count(*) from tmis.load_run')
s=$(date +%s)
"$T" load --no-progress "$W/bomb.zip" >"$W/o3" 2>&1
rc=$?
check "a zip bomb is refused" test "$rc" -ne 0
like "with the limit that stopped it" "$(cat "$W/o3")" 'ratio|expan'
check "within bounded time" test $(($(date +%s) - s)) -lt 20
is "and nothing is recorded as loaded" \
	"$(pg_sql "select count(*) from tmis.load_run where status = 'committed'")" "$n"

"$T" load --no-progress "$W/escape.zip" >"$W/o4" 2>&1
check "a member escaping the archive is refused" test $? -ne 0
like "naming the member" "$(cat "$W/o4")" '\.\./teacher\.csv'

# ---- delta rows with op=delete ----------------------------------------------
A=410105198003130119
{
	echo "id_type,id_number,project,start_date,end_date,kind,hours,credits,provider,op"
	echo "1,$A,省培计划2023,2023-03-01,,,,,,delete"
	echo "1,$A,新项目2025,2025-03-01,2025-03-02,1,8,1,省平台,upsert"
} >"$W/training_delta.csv"
"$T" load --no-progress --mode delta --category training "$W/training_delta.csv" >"$W/o5" 2>&1
is "a delta with a delete loads" "$?" 0
like "the delete is counted" "$(cat "$W/o5")" '1 row marked deleted'
is "the deleted record is kept as history" \
	"$(pg_sql "select current from tmis.training where id_number = '$A' and project = '省培计划2023'")" f
is "the upsert is added" \
	"$(pg_sql "select count(*) from tmis.training where id_number = '$A' and current")" 2
printf 'id_type,id_number,op\n1,%s,delete\n' "$A" >"$W/teacher_delta.csv"
"$T" load --no-progress --mode delta --category teacher "$W/teacher_delta.csv" >"$W/o6" 2>&1
is "a deleted teacher is kept, marked no longer reported" \
	"$(pg_sql "select reported from tmis.teacher where id_number = '$A'")" f
printf 'id_type,id_number,op\n1,%s,remove\n' "$A" >"$W/teacher_bad.csv"
"$T" load --no-progress --mode delta --category teacher "$W/teacher_bad.csv" >"$W/o7" 2>&1
like "an unknown op is rejected" "$(cat "$W/o7")" 'op op: op is neither upsert nor delete'

done_testing
