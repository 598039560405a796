#!/bin/sh
# test_oneroster: a OneRoster 1.1-style zip (manifest.csv, orgs.csv, users.csv)
# through mappings/oneroster: only role=teacher rows count, a bulk users.csv
# is the full list of its schools' teachers (absent ones are marked no longer
# reported), a delta only changes what it lists, and status=tobedeleted marks
# a teacher no longer reported. Nothing is ever deleted.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
P=mappings/oneroster/oneroster.profile
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"
for m in bulk delta; do
	python3 - "tests/data/oneroster/$m" "$W/$m.zip" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for n in sorted(os.listdir(src)):
        z.write(os.path.join(src, n), n)
PY
done
"$T" db migrate >/dev/null 2>&1
"$T" load --no-progress tests/data/load/teacher.csv >/dev/null 2>&1
rep() { pg_sql "select reported from tmis.teacher where id_number = '$1'"; }

"$T" load --no-progress --profile "$P" "$W/bulk.zip" >"$W/o1" 2>&1
is "the bulk bundle loads" "$?" 0
like "users: 3 teacher rows, 2 updated, 1 rejected, 1 no longer reported" "$(cat "$W/o1")" \
	'teacher +3 +0 +2 +0 +1 +1'
like "the student row is left out" "$(cat "$W/o1")" '1 row left out by mapping filters'
like "orgs.csv and manifest.csv are skipped" "$(cat "$W/o1")" 'skipped bundle member .*bulk.zip:orgs.csv'
like "a teacher the centre does not know cannot be registered from OneRoster" "$(cat "$W/o1")" \
	'required'
is "names are family + given name" \
	"$(pg_sql "select name from tmis.teacher where id_number = '410105198003130119'")" 张伟
is "e-mail lower-cased, phone updated" \
	"$(pg_sql "select email||' '||phone from tmis.teacher where id_number = '410105198003130119'")" \
	"zhang.wei@school.cn 13911112222"
is "a teacher of the bulk's school missing from it is no longer reported" "$(rep 410105198812310574)" f
is "teachers of other schools are untouched" "$(rep 410302197901010351)" t

"$T" load --no-progress --profile "$P" "$W/delta.zip" >"$W/o2" 2>&1
is "the delta bundle loads" "$?" 0
like "tobedeleted is applied as a delete" "$(cat "$W/o2")" '1 row marked deleted'
is "the tobedeleted teacher is kept, no longer reported" "$(rep 410105198507040221)" f
is "a teacher the delta lists is reported again" "$(rep 410105198812310574)" t
is "and moved to the school the delta gives" \
	"$(pg_sql "select school_code from tmis.teacher where id_number = '410105198812310574'")" 2141030002
is "a delta marks no one else" "$(rep 410105198003130119)" t
is "nothing was deleted" "$(pg_sql 'select count(*) from tmis.teacher')" 5

done_testing
