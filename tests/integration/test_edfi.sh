#!/bin/sh
# test_edfi: an Ed-Fi-style InterchangeStaffAssociation XML file (namespace
# http://ed-fi.org/0220) loaded through mappings/platforms/edfi/edfi.profile,
# which turns the one file into three jobs: Staff → teacher (updates of
# registered teachers only), StaffEducationOrganizationAssignmentAssociation
# → post_appointment, Credential → qualification. Checks the stored rows, the
# deliberate rejects (an unregistered new hire, an assignment ending before
# it begins, a certificate number whose type disagrees) and an unchanged
# reload. See docs/formats.md.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
P=mappings/platforms/edfi/edfi.profile
X=tests/data/platforms/edfi/InterchangeStaffAssociation.xml
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"

check "db migrate" "$T" db migrate
check "teachers preloaded" "$T" load --no-progress tests/data/load/teacher.csv

"$T" load --no-progress --reject-file "$W/rej.csv" --profile "$P" "$X" >"$W/out1" 2>&1
is "the interchange loads" "$?" 0
out=$(cat "$W/out1")
like "teacher: 6 read, 4 updated, 1 unchanged, 1 rejected" "$out" 'teacher +6 +0 +4 +1 +1'
like "post_appointment: 10 read, 8 inserted, 2 rejected" "$out" 'post_appointment +10 +8 +0 +0 +2'
like "qualification: 6 read, 5 inserted, 1 rejected" "$out" 'qualification +6 +5 +0 +0 +1'
load1=$(pg_sql 'select max(id) from tmis.load_run')

# ---- Staff → teacher ----------------------------------------------------------
t() { pg_sql "select $1 from tmis.teacher where id_number = '$2'"; }
is "e-mail updated, trimmed and lower-cased" \
	"$(t "email||' '||phone" 410105198003130119)" "zhang.wei@jinshui.edu.cn 13911112222"
is "a landline is a phone" "$(t phone 410302197901010351)" "0379-63212345"
is "what Ed-Fi lacks is left alone (name, ethnicity, school, indicator set)" \
	"$(t "name||' '||ethnicity||' '||school_code||' '||indicator_set" 410105198507040221)" \
	"李娜 01 2141010001 k12"
is "Sex and BirthDate agree with the stored values" \
	"$(t "gender||' '||birth_date" 410302199202290488)" "2 1992-02-29"
is "the unregistered new hire is not registered" \
	"$(pg_sql "select count(*) from tmis.teacher")" 5

# ---- assignments → post_appointment --------------------------------------------
is "8 appointments stored" "$(pg_sql 'select count(*) from tmis.post_appointment where current')" 8
is "张伟: 专技十二级 then 专业技术岗位十级, BeginDate/EndDate to months" \
	"$(pg_sql "select string_agg(post_category||'/'||post_grade||'/'||start_month||'/'||coalesce(end_month, ''), ' ' order by start_month)
		from tmis.post_appointment where id_number = '410105198003130119'")" \
	"1/112/2003-09/2012-08 1/110/2012-09/"
is "王强: Teacher then Principal (管理八级)" \
	"$(pg_sql "select string_agg(post_category||'/'||post_grade||'/'||start_month||'/'||coalesce(end_month, ''), ' ' order by start_month)
		from tmis.post_appointment where id_number = '410302197901010351'")" \
	"1/110/2002-09/2015-12 2/208/2016-01/"
is "岗位等级 codes across the file" \
	"$(pg_sql "select string_agg(post_grade||':'||n, ',' order by post_grade) from
		(select post_grade, count(*) n from tmis.post_appointment group by 1) x")" \
	"110:2,111:2,112:3,208:1"
is "the line of each record is kept" \
	"$(pg_sql "select src_line from tmis.post_appointment where id_number = '410302199202290488'")" 213

# ---- Credential → qualification --------------------------------------------------
is "5 qualifications stored" "$(pg_sql 'select count(*) from tmis.qualification where current')" 5
is "张伟: Junior Secondary → 3, subject, date, HA → 河南省" \
	"$(pg_sql "select qualification_type||'|'||certificate_no||'|'||subject||'|'||issue_date||'|'||issuer
		from tmis.qualification where id_number = '410105198003130119'")" \
	"3|20024101031000127|数学|2002-07-20|河南省"
is "a Chinese type name (小学教师资格) and a label (初级中学)" \
	"$(pg_sql "select string_agg(qualification_type, ',' order by id_number) from tmis.qualification
		where id_number in ('410105198507040221', '410302199202290488')")" "2,3"
is "赵敏's certificate was issued in 湖北 (HB)" \
	"$(pg_sql "select issuer from tmis.qualification where id_number = '410302199202290488'")" 湖北省
is "陈杰 keeps only his valid certificate" \
	"$(pg_sql "select string_agg(certificate_no, ',') from tmis.qualification where id_number = '410105198812310574'")" \
	20104101031002233

# ---- the deliberate rejects ---------------------------------------------------
is "rejects by category, line, field and rule" \
	"$(pg_sql "select string_agg(category||':'||line||':'||coalesce(nullif(field, ''), '-')||':'||rule, ' ' order by line)
		from tmis.load_reject where load_id = $load1")" \
	"teacher:107:indicator_set:required post_appointment:242:end_month:end_before_start post_appointment:258:-:unknown_teacher qualification:360:certificate_no:certificate_type"
like "summary: a Staff the centre does not know cannot be registered" "$out" \
	'InterchangeStaffAssociation\.xml:107: 1:410105\*+2637 required'
like "summary: its assignment has no teacher" "$out" \
	'InterchangeStaffAssociation\.xml:258: .*unknown_teacher'
rej=$(cat "$W/rej.csv")
like "reject file: end before start" "$rej" \
	'InterchangeStaffAssociation\.xml","242","post_appointment",.*"end_month","end_before_start","2023-08"'
like "reject file: certificate type" "$rej" \
	'"360","qualification",.*"certificate_no","certificate_type","20194101041000856"'
if grep -q '410105199008152637\|410105198812310574' "$W/rej.csv" "$W/out1"; then
	not_ok "no clear id number in reject file or summary"
else
	ok "no clear id number in reject file or summary"
fi

# ---- reload: nothing changes ------------------------------------------------
stamp="select (select max(change_no) from tmis.teacher)||'/'||
	(select max(change_no) from tmis.post_appointment)||'/'||
	(select max(change_no) from tmis.qualification)||'/'||
	(select count(*) from tmis.post_appointment)||'/'||
	(select count(*) from tmis.qualification)"
before=$(pg_sql "$stamp")
"$T" load --no-progress --profile "$P" "$X" >"$W/out2" 2>&1
is "reload exits 0" "$?" 0
out=$(cat "$W/out2")
like "reload says unchanged" "$out" 'unchanged: every row matches'
like "reload: teacher unchanged" "$out" 'teacher +6 +0 +0 +5 +1'
like "reload: post_appointment unchanged" "$out" 'post_appointment +10 +0 +0 +8 +2'
like "reload: qualification unchanged" "$out" 'qualification +6 +0 +0 +5 +1'
is "reload touches no row" "$(pg_sql "$stamp")" "$before"

done_testing
