#!/bin/sh
# test_pxpt: a teacher-training platform's own XML export (PXPT interface
# version 2: default namespace, pinyin-initial element names, values in
# attributes, YYYY/M/D dates, the platform's 类别 names) loaded with
# mappings/platforms/pxpt/training.map onto the teachers of
# tests/data/load/teacher.csv: counts, a stored row normalised, kinds
# translated, the three deliberate rejects by line and rule, and an
# unchanged reload. See docs/formats.md.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
M=mappings/platforms/pxpt/training.map
X=tests/data/platforms/pxpt/training.xml
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"

check "db migrate" "$T" db migrate
check "teachers preloaded" "$T" load --no-progress tests/data/load/teacher.csv

"$T" load --no-progress --reject-file "$W/rej.csv" --mapping "$M" "$X" >"$W/out1" 2>&1
is "the platform export loads" "$?" 0
out=$(cat "$W/out1")
like "training: 23 read, 20 inserted, 3 rejected" "$out" 'training +23 +20 +0 +0 +3'
load1=$(pg_sql 'select max(id) from tmis.load_run')

is "20 training rows stored, all current" \
	"$(pg_sql 'select count(*) from tmis.training where current')" 20
is "trainings per teacher" \
	"$(pg_sql "select string_agg(right(id_number, 4)||':'||n, ' ' order by id_number)
		from (select id_number, count(*) n from tmis.training group by 1) x")" \
	"0119:5 0221:4 0574:3 0351:4 0488:4"
is "a stored row: YYYY/M/D dates, hours, credits, 国家级 → 1, provider" \
	"$(pg_sql "select start_date||'|'||end_date||'|'||kind||'|'||hours::numeric(6,1)||'|'||
		credits::numeric(6,1)||'|'||provider||'|'||src_line from tmis.training
		where id_number = '410105198003130119' and project = '国培计划（2024）骨干教师研修'")" \
	"2024-07-01|2024-07-10|1|40.0|4.0|河南师范大学|5"
is "attributes and text trimmed (id number, project, 学时)" \
	"$(pg_sql "select start_date||'|'||hours::numeric(6,1) from tmis.training
		where id_number = '410105198003130119'
		and project = '河南省中小学教师信息技术应用能力提升工程2.0'")" \
	"2023-03-01|50.0"
is "two-digit month and day, 县级 → 4" \
	"$(pg_sql "select start_date||'|'||end_date||'|'||kind from tmis.training
		where project = '金水区班主任能力提升培训'")" \
	"2022-10-15|2022-10-16|4"
is "an absent <Xf> and an empty <Xf/> both store NULL credits" \
	"$(pg_sql "select count(*) from tmis.training where credits is null")" 3
is "an entity in an attribute is decoded" \
	"$(pg_sql "select count(*) from tmis.training where project = '师德师风 & 法治教育'")" 1
is "类别 names to training_kind codes" \
	"$(pg_sql "select string_agg(kind||':'||n, ',' order by kind) from
		(select kind, count(*) n from tmis.training where current group by 1) x")" \
	"1:5,2:5,3:4,4:2,5:3,6:1"
is "total hours" "$(pg_sql 'select sum(hours)::numeric(8,1) from tmis.training')" 726.0
is "王强's 学历提升 spans three years" \
	"$(pg_sql "select kind||'|'||start_date||'|'||end_date||'|'||credits::numeric(6,1)
		from tmis.training where id_number = '410302197901010351' and kind = '6'")" \
	"6|2021-09-01|2024-06-30|12.0"

# ---- the deliberate rejects ---------------------------------------------------
is "rejects by line, field and rule" \
	"$(pg_sql "select string_agg(line||':'||coalesce(nullif(field, ''), '-')||':'||rule, ' ' order by line)
		from tmis.load_reject where load_id = $load1")" \
	"146:-:unknown_teacher 153:hours:number 160:end_date:end_before_start"
like "summary: a learner the system does not know" "$out" \
	'training\.xml:146: 1:410105\*+2034 unknown_teacher'
like "summary: negative 学时" "$out" 'training\.xml:153: .*number hours'
like "summary: end before start" "$out" 'training\.xml:160: .*end_before_start end_date'
rej=$(cat "$W/rej.csv")
like "reject file names the file, the record's line and the value" "$rej" \
	'"tests/data/platforms/pxpt/training\.xml","160","training",.*"end_date","end_before_start","2024-05-10"'
if grep -q '410105197605182034\|410302197901010351\|410105198812310574' "$W/rej.csv" "$W/out1"; then
	not_ok "no clear id number in reject file or summary"
else
	ok "no clear id number in reject file or summary"
fi

# ---- reload: nothing changes ------------------------------------------------
stamp="select max(change_no)||'/'||count(*) from tmis.training"
before=$(pg_sql "$stamp")
"$T" load --no-progress --mapping "$M" "$X" >"$W/out2" 2>&1
is "reload exits 0" "$?" 0
out=$(cat "$W/out2")
like "reload says unchanged" "$out" 'unchanged: every row matches'
like "reload: 20 unchanged, the same 3 rejects" "$out" 'training +23 +0 +0 +20 +3'
is "reload touches no row" "$(pg_sql "$stamp")" "$before"

done_testing
