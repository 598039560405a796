#!/bin/sh
# test_provincial: a province's own indicators (mappings/provinces/41/
# indicators.tsv) are validated like national fields, stored in the extra
# jsonb beside the core fields and queryable; a gateway without the province's
# definitions (the national side) keeps none of them.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
IND=mappings/provinces/41/indicators.tsv
F=tests/data/provincial/teacher.csv
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"
"$T" db migrate >/dev/null 2>&1

# national side first: no definitions, the columns are ignored
"$T" load --no-progress --category teacher "$F" >"$W/o0" 2>&1
is "without the definitions the file loads" "$?" 0
like "all five teachers load" "$(cat "$W/o0")" 'teacher +5 +5 '
is "and no provincial indicator is kept" "$(pg_sql "select count(*) from tmis.teacher where extra is not null")" 0

"$T" load --no-progress --indicators "$IND" --category teacher --reject-file "$W/rej.csv" "$F" >"$W/o1" 2>&1
is "with the definitions the file loads" "$?" 0
like "three teachers updated, two rejected" "$(cat "$W/o1")" 'teacher +5 +0 +3 +0 +2'
like "an out-of-range number is rejected" "$(cat "$W/rej.csv")" '"hn_rural_years","range"'
like "a code outside the province's code set is rejected" "$(cat "$W/rej.csv")" '"hn_talent_level","code"'
is "values are stored typed in extra" \
	"$(pg_sql "select extra::text from tmis.teacher where id_number = '410105198003130119'")" \
	'{"hn_rural_post": true, "hn_rural_years": 12, "hn_talent_level": "1"}'
is "an empty value is null" \
	"$(pg_sql "select extra->>'hn_talent_level' is null and extra ? 'hn_talent_level' from tmis.teacher where id_number = '410105198507040221'")" t
is "indicators can be queried" \
	"$(pg_sql "select count(*) from tmis.teacher where (extra->>'hn_rural_years')::int >= 3")" 2

"$T" load --no-progress --indicators "$IND" --category teacher "$F" >"$W/o2" 2>&1
like "reloading changes nothing" "$(cat "$W/o2")" 'teacher +5 +0 +0 +3 +2'

# a file supplying one indicator keeps the others
printf 'id_type,id_number,hn_rural_years\n1,410105198003130119,13\n' >"$W/one.csv"
"$T" load --no-progress --indicators "$IND" --category teacher "$W/one.csv" >"$W/o3" 2>&1
is "one indicator updated, the rest kept" \
	"$(pg_sql "select extra::text from tmis.teacher where id_number = '410105198003130119'")" \
	'{"hn_rural_post": true, "hn_rural_years": 13, "hn_talent_level": "1"}'

"$T" inspect --indicators "$IND" --category teacher "$F" >"$W/i1" 2>&1
like "inspect shows the indicators" "$(head -1 "$W/i1")" '"hn_rural_years":"12"'

# bad definition files name file and line
printf '@province 41\nteacher\tname\ttext(10)\toptional\n' >"$W/bad.tsv"
"$T" load --no-progress --indicators "$W/bad.tsv" --category teacher "$F" >"$W/o4" 2>&1
is "an indicator shadowing a national field is refused" "$?" 3
like "naming the file and line" "$(cat "$W/o4")" 'bad.tsv:2: indicator "name" is already a field'
printf 'teacher\tx_level\tcode(nosuch)\toptional\n' >"$W/bad2.tsv"
"$T" load --no-progress --indicators "$W/bad2.tsv" --category teacher "$F" >"$W/o5" 2>&1
like "an unknown code set is refused with file and line" "$(cat "$W/o5")" 'bad2.tsv:1: unknown code set "nosuch"'

done_testing
