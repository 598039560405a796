#!/bin/sh
# test_reports: teacher show/history and the training, conflict and quality
# reports against hand-computed numbers on tests/data/reports (10 teachers in
# three schools, training hours chosen around the cycle's edges), masking,
# unknown teachers and formula-safe CSV.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
D=tests/data/reports
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"
crlf() { tr -d '\r'; }

# the teachers (tests/data/reports/teacher.csv) and their hours in 2021-2025:
#   school 2141010001: A1 400, A2 200 (300 more in 2020), A3 130 (new, 2022),
#                      A4 360 (kindergarten), A5 retired (not counted)
#   school 2141020005: B1 100, B2 0 (new, 2023), B3 university (not counted),
#                      B4 300 (100 more on 2020-12-31)
#   school 2142010003: C1 500 (100 more in 2026)
A1=410105198003130119
A2=410105198507040221
B1=41010519780920053X
C1=420102198708080978

check "db migrate" "$T" db migrate
check "load teachers and training" "$T" load --no-progress "$D/teacher.csv" "$D/training.csv"

# ---- report training ------------------------------------------------------
"$T" report training --cycle 2021-2025 >"$W/tr" 2>&1
is "report training exits 0" "$?" 0
like "school 2141010001: 4 teachers, 1 new, 3 met, 1 below, 25%, 272.5 h" "$(cat "$W/tr")" \
	'^school +41 +2141010001 +4 +1 +3 +1 +25\.0 +272\.5$'
like "school 2141020005: 3 teachers, 1 new, 0 met, 3 below" "$(cat "$W/tr")" \
	'^school +41 +2141020005 +3 +1 +0 +3 +100\.0 +133\.3$'
like "province 41 totals" "$(cat "$W/tr")" '^province +41 +7 +2 +3 +4 +57\.1 +212\.9$'
like "grand total" "$(cat "$W/tr")" '^total +8 +2 +4 +4 +50\.0 +248\.8$'

"$T" report training --cycle 2021-2025 --csv >"$W/tr.csv" 2>&1
is "training CSV, every cell quoted" "$(crlf <"$W/tr.csv")" '"level","province","school","teachers","new","met","below","below_pct","avg_hours"
"school","41","2141010001","4","1","3","1","25.0","272.5"
"school","41","2141020005","3","1","0","3","100.0","133.3"
"province","41","","7","2","3","4","57.1","212.9"
"school","42","2142010003","1","0","1","0","0.0","500.0"
"province","42","","1","0","1","0","0.0","500.0"
"total","","","8","2","4","4","50.0","248.8"'
is "CSV lines end in CRLF (RFC 4180)" "$(grep -c "$(printf '\r')\$" "$W/tr.csv")" 7

is "--scope 4101 keeps one school" \
	"$("$T" report training --cycle 2021-2025 --scope 4101 --csv | crlf | cut -d, -f1-7)" \
	'"level","province","school","teachers","new","met","below"
"school","41","2141010001","4","1","3","1"
"province","41","","4","1","3","1"
"total","","","4","1","3","1"'
is "--scope 42 keeps the other province" \
	"$("$T" report training --cycle 2021-2025 --scope 42 --csv | crlf | tail -n 1)" \
	'"total","","","1","0","1","0","0.0","500.0"'
is "--hours 400 --new-hours 130: 5 of 8 below" \
	"$("$T" report training --cycle 2021-2025 --hours 400 --new-hours 130 --csv | crlf | tail -n 1)" \
	'"total","","","8","2","3","5","62.5","248.8"'
is "cycle 2026-2030 counts only C1's 100 hours" \
	"$("$T" report training --cycle 2026-2030 --csv | crlf | grep '^"school","42"')" \
	'"school","42","2142010003","1","0","0","1","100.0","100.0"'
"$T" report training --cycle 2025 >/dev/null 2>&1
is "a malformed --cycle is a usage error" "$?" 2
"$T" report training --cycle 2021-2025 --scope 410 >/dev/null 2>&1
is "a 3-digit --scope is a usage error" "$?" 2

# ---- teacher show -----------------------------------------------------------
"$T" teacher show "$A2" >"$W/show" 2>&1
is "teacher show exits 0" "$?" 0
like "fields carry their Chinese label and code label" "$(cat "$W/show")" \
	'gender \(性别\) +2 \(女\)$'
like "indicator set label" "$(cat "$W/show")" 'indicator_set \(指标集\) +k12 \(中小学\)$'
like "the ID number is masked" "$(cat "$W/show")" 'id_number \(身份证件号\) +410105\*{8}0221$'
is "no clear ID number without --show-personal" "$(grep -c "$A2" "$W/show")" 0
like "the name is masked" "$(cat "$W/show")" 'name \(姓名\) +李\*$'
like "the phone is masked" "$(cat "$W/show")" '138\*{4}0022'
is "the birth date is masked" "$(grep -c 1985-07-04 "$W/show")" 0
like "three current training records" "$(cat "$W/show")" '^  training +3$'
like "a training record is listed with its label" "$(cat "$W/show")" \
	'省培计划2023, 2023-03-01; end_date 2023-03-30, kind 2 \(省级培训\), hours 120$'
"$T" teacher show --show-personal "$A2" >"$W/show2" 2>&1
like "--show-personal prints the ID number" "$(cat "$W/show2")" "id_number .* $A2\$"
like "--show-personal prints the name" "$(cat "$W/show2")" 'name \(姓名\) +李娜$'
"$T" teacher show 410105198507040229 >"$W/unknown.out" 2>"$W/unknown.err"
is "an unknown teacher exits 1" "$?" 1
like "and says so, masked" "$(cat "$W/unknown.err")" \
	'no teacher "410105\*{8}0229" with id_type 1'
is "without the clear number" "$(grep -c 410105198507040229 "$W/unknown.err")" 0
"$T" teacher show --id-type 2 "$A1" >/dev/null 2>&1
is "the same number under another id_type is another (unknown) teacher" "$?" 1

# ---- changes: a second school, a second id_type, a transfer, a full load ----
hdr=$(head -n 1 "$D/teacher.csv")
{
	echo "$hdr"
	grep "^1,$C1," "$D/teacher.csv" | sed 's/,2142010003,/,2141010001,/'
	grep "^1,$A1," "$D/teacher.csv" | sed 's/^1,/2,/; s/,2141010001,/,2141020005,/'
} >"$W/teacher_other.csv"
check "another load reports C1 at a school of province 41, and A1 under id_type 2" \
	"$T" load --no-progress --category teacher "$W/teacher_other.csv"
{
	echo "id_type,id_number,kind,effective_date,from_school_code,to_school_code,note"
	echo "1,$B1,transfer_in,2024-09-01,2141020005,2141010001,调入"
} >"$W/change_event.csv"
check "B1's transfer is loaded as a change event" \
	"$T" load --no-progress "$W/change_event.csv"
{ head -n 1 "$D/training.csv"; grep "^1,$A2,省培" "$D/training.csv"; } >"$W/training_a2.csv"
check "a full training load keeps one of A2's three records" \
	"$T" load --no-progress --category training "$W/training_a2.csv"

# ---- teacher history ----------------------------------------------------------
"$T" teacher history "$(echo $B1 | tr X x)" >"$W/hist" 2>&1
is "teacher history exits 0 (lower-case x accepted)" "$?" 0
like "history shows the change event" "$(cat "$W/hist")" \
	'^  2024-09-01 +event transfer_in \(调入\): school 2141020005 → 2141010001 \(load 3\)$'
like "and the version it replaced, with the changed field" "$(cat "$W/hist")" \
	'load 3 changed the record of load 1: school_code 2141020005 → 2141010001$'
like "and the school now" "$(cat "$W/hist")" '^now: school 2141010001, status 01 \(在职\), stored by load 3'
like "the header key is masked" "$(cat "$W/hist")" '^history of teacher 1:410105\*{8}053X$'
is "no clear ID number in the history" "$(grep -c "$B1" "$W/hist")" 0
"$T" teacher history "$A2" >"$W/hist2" 2>&1
is "A2's history lists two superseded training records" \
	"$(grep -c 'load 4 superseded training record' "$W/hist2")" 2
like "naming the record" "$(cat "$W/hist2")" 'superseded training record 国培计划2020, 2020-07-01$'
"$T" teacher history 410105198507040229 >/dev/null 2>&1
is "history of an unknown teacher exits 1" "$?" 1

# phone change: a personal field changes; masked unless --show-personal
{ echo "$hdr"; grep "^1,$A2," "$D/teacher.csv" | sed 's/,13800000022,/,13911112222,/'; } >"$W/teacher_phone.csv"
"$T" load --no-progress --category teacher "$W/teacher_phone.csv" >/dev/null 2>&1
like "a changed personal field is shown masked" "$("$T" teacher history "$A2")" \
	'phone 138\*{4}0022 → 139\*{4}2222$'
like "and in clear with --show-personal" "$("$T" teacher history --show-personal "$A2")" \
	'phone 13800000022 → 13911112222$'

# ---- report conflicts ---------------------------------------------------------
"$T" report conflicts >"$W/cf" 2>&1
is "report conflicts exits 0" "$?" 0
like "two conflicts in the last 30 days" "$(cat "$W/cf")" 'last 30 days: 2$'
like "C1 reported at two schools in two provinces" "$(cat "$W/cf")" \
	'^school +1:420102\*{8}0978 +2141010001 +41 +2142010003 +42 +load 1 +[-0-9: ]+ +yes$'
like "A1's number under two id types" "$(cat "$W/cf")" \
	'^id_type +1:410105\*{8}0119 +2141010001 +41 +2141020005 +41 +2:410105\*{8}0119 +[-0-9: ]+ +no$'
is "B1's move is explained by its change event" "$(grep -c '053X' "$W/cf")" 0
is "no clear ID numbers" "$(grep -c -e "$C1" -e "$A1" "$W/cf")" 0
is "CSV with --show-personal" \
	"$("$T" report conflicts --csv --show-personal | crlf | cut -d, -f1-7,9)" \
	"\"kind\",\"teacher\",\"school\",\"province\",\"other_school\",\"other_province\",\"reported_by\",\"cross_province\"
\"id_type\",\"1:$A1\",\"2141010001\",\"41\",\"2141020005\",\"41\",\"2:$A1\",\"no\"
\"school\",\"1:$C1\",\"2141010001\",\"41\",\"2142010003\",\"42\",\"load 1\",\"yes\""
like "--days 0 leaves only the id_type conflict" "$("$T" report conflicts --days 0)" 'last 0 days: 1$'
"$T" report conflicts --days -1 >/dev/null 2>&1
is "a negative --days is a usage error" "$?" 2

# ---- report quality -----------------------------------------------------------
(
	cd "$W" || exit 1
	{
		echo "$hdr"
		grep "^1,$A1," "$OLDPWD/$D/teacher.csv" | sed 's/,1,1980-03-13,/,3,1980-03-13,/'
		grep "^1,$A2," "$OLDPWD/$D/teacher.csv" | sed 's/,2141010001,/,2199010001,/'
		grep "^1,410105199902100241," "$OLDPWD/$D/teacher.csv" | sed 's/0241,/0242,/'
		grep "^1,410105198805120318," "$OLDPWD/$D/teacher.csv" | sed 's/,1,1988-05-12,/,7,1988-05-12,/'
	} >"=bad.csv"
	"$T" load --no-progress --category teacher "=bad.csv" >bad.out 2>&1
)
like "a file of four bad rows is loaded with rejects" "$(cat "$W/bad.out")" 'teacher +4 +0 +0 +0 +4 +0'
"$T" report quality >"$W/q" 2>&1
is "report quality exits 0" "$?" 0
like "it reports the latest load" "$(cat "$W/q")" '^load 6 \(committed, .*\): 4 rows read, 4 rejected \(100\.0%\)$'
like "by rule" "$(cat "$W/q")" '^rule +code +2 +50\.0$'
like "by rule, checksum" "$(cat "$W/q")" '^rule +id_checksum +1 +25\.0$'
like "by field" "$(cat "$W/q")" '^field +gender +2 +50\.0$'
like "by file and category" "$(cat "$W/q")" '^file +=bad\.csv \[teacher\] +4 +100\.0$'
like "by school: the rejected rows' own schools" "$(cat "$W/q")" '^school +2141010001 +3 +75\.0$'
like "by school: even an invalid school code is shown" "$(cat "$W/q")" '^school +2199010001 +1 +25\.0$'
pg_sql "update tmis.load_reject set school_code = NULL where load_id = 6 and line = 3" >/dev/null
"$T" report quality --csv >"$W/q.csv" 2>&1
is "quality CSV, by school where recorded, file name made formula-safe" "$(crlf <"$W/q.csv")" \
'"dimension","value","rejects","pct"
"rule","code","2","50.0"
"rule","id_checksum","1","25.0"
"rule","school_code","1","25.0"
"field","gender","2","50.0"
"field","id_number","1","25.0"
"field","school_code","1","25.0"
"file","'"'"'=bad.csv [teacher]","4","100.0"
"school","2141010001","3","75.0"
"school","(not recorded)","1","25.0"'
is "no CSV cell starts with a formula character" "$(grep -c '"[=+@-]' "$W/q.csv")" 0
like "--load 1 has no rejects" "$("$T" report quality --load 1)" '^no rejects$'
"$T" report quality --load 99 >/dev/null 2>"$W/q99"
is "an unknown load exits 1" "$?" 1
like "and says so" "$(cat "$W/q99")" 'no load 99'
"$T" report quality --load abc >/dev/null 2>&1
is "a non-numeric --load is a usage error" "$?" 2

# ---- help --------------------------------------------------------------------
like "help is generated for the new commands" "$("$T" report training --help)" '--cycle YYYY-YYYY'
like "the command list names them" "$("$T" --help)" 'teacher history'

done_testing
