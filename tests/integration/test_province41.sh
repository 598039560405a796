#!/bin/sh
# test_province41: the whole Henan (41) provincial export (teacher, 学习经历,
# 专业技术职务聘任, 国内培训; GB18030, local names and date styles) loaded in
# one call through mappings/provinces/41/henan.profile: counts, local values
# translated to codes, dates normalised, records attached to the stored
# teachers, the deliberate rejects by rule, and an unchanged reload.
# The expected numbers are documented in tests/data/province41/README.md.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
P=mappings/provinces/41/henan.profile
D=tests/data/province41
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"

check "db migrate" "$T" db migrate

# Runs SQL over the current rows of a category table.
cur()
{
	pg_sql "select $1 from tmis.$2 where current${3:+ and $3}"
}

# ---- the whole export, one call ---------------------------------------------
"$T" load --no-progress --reject-file "$W/rej.csv" --profile "$P" "$D"/*.csv \
	>"$W/out1" 2>&1
is "profile load exits 0" "$?" 0
out=$(cat "$W/out1")
like "teacher: 33 read, 30 inserted, 3 rejected" "$out" 'teacher +33 +30 +0 +0 +3'
like "education: 53 read, 50 inserted, 3 rejected" "$out" 'education +53 +50 +0 +0 +3'
like "title_appointment: 63 read, 60 inserted, 3 rejected" "$out" 'title_appointment +63 +60 +0 +0 +3'
like "training: 60 read, 57 inserted, 3 rejected" "$out" 'training +60 +57 +0 +0 +3'
load1=$(pg_sql 'select max(id) from tmis.load_run')
is "load_run records the totals" \
	"$(pg_sql "select status||','||rows_read||','||inserted||','||rejected from tmis.load_run where id = $load1")" \
	"committed,209,197,12"

is "50 education rows stored" "$(cur 'count(*)' education)" 50
is "60 title appointments stored" "$(cur 'count(*)' title_appointment)" 60
is "57 training rows stored" "$(cur 'count(*)' training)" 57
orphans=$(pg_sql "select count(*) from (
	select id_type, id_number from tmis.education union all
	select id_type, id_number from tmis.title_appointment union all
	select id_type, id_number from tmis.training) r
	where not exists (select 1 from tmis.teacher t
		where t.id_type = r.id_type and t.id_number = r.id_number)")
is "every record attaches to a stored teacher" "$orphans" 0
is "teachers with education / titles / training" \
	"$(pg_sql "select (select count(distinct id_number) from tmis.education)||'/'||
		(select count(distinct id_number) from tmis.title_appointment)||'/'||
		(select count(distinct id_number) from tmis.training)")" "30/27/29"

# ---- education: local 学历/学位/学习方式 names, month styles ----------------
is "张建国: 本科 (YYYYMM) then 教育学硕士 (map) by 非全日制" \
	"$(cur "string_agg(edu_level||'/'||degree||'/'||degree_country||'/'||study_mode||'/'||start_month||'/'||end_month, ' ' order by start_month)" \
		education "id_number = '410105197203153919'")" \
	"21/4/156/1/1989-09/1993-07 14/304/156/2/2005-09/2008-06"
is "王芳: 大专 with 无 degree stores NULL; 自学考试 is 5 (YYYY-M)" \
	"$(cur "string_agg(edu_level||'/'||coalesce(degree,'-')||'/'||coalesce(degree_country,'-')||'/'||study_mode||'/'||start_month, ' ' order by start_month)" \
		education "id_number = '41010219830722924X'")" \
	"31/-/-/1/2001-09 21/4/156/5/2005-03"
is "张丽: 中师, 大专 函授, 本科 函授 (YYYY.MM)" \
	"$(cur "string_agg(edu_level||'/'||study_mode||'/'||end_month, ' ' order by start_month)" \
		education "id_number = '410182197908306789'")" \
	"41/1/1999-07 31/3/2004-07 21/3/2008-12"
is "杨帆: a British master's, not a normal major" \
	"$(cur "degree||'/'||degree_country||'/'||is_normal_major::text" education \
		"id_number = '420102199502284873' and start_month = '2017-09'")" "3/826/false"
is "刘洋: lower-case x upper-cased, YYYY年M月 months" \
	"$(cur "string_agg(start_month||'/'||end_month, ' ' order by start_month)" \
		education "id_number = '41010519930925061X'")" \
	"2012-09/2016-06 2018-09/2021-06"
is "学历 codes across the file" \
	"$(pg_sql "select string_agg(edu_level||':'||n, ',' order by edu_level) from
		(select edu_level, count(*) n from tmis.education where current group by 1) x")" \
	"14:10,21:26,31:10,41:4"

# ---- titles: current and pre-2015 names --------------------------------------
is "张建国: 中学二级/一级/高级 then 正高级, open-ended" \
	"$(cur "string_agg(title||'/'||start_month||'/'||coalesce(end_month,''), ' ' order by start_month)" \
		title_appointment "id_number = '410105197203153919'")" \
	"064/1994-08/1999-07 063/1999-08/2005-07 062/2005-08/2017-12 061/2018-01/"
is "高洁: 幼儿园一级/高级 then 一级教师 (YYYY.MM)" \
	"$(cur "string_agg(title||'/'||start_month, ' ' order by start_month)" \
		title_appointment "id_number = '410182198406116728'")" \
	"064/2007-09 063/2013-09 063/2017-01"
is "胡玉兰: 小学高级教师 until retirement" \
	"$(cur "title||'/'||end_month" title_appointment \
		"id_number = '411102196702187387' and start_month = '1995-09'")" "063/2022-02"
is "title codes across the file" \
	"$(pg_sql "select string_agg(title||':'||n, ',' order by title) from
		(select title, count(*) n from tmis.title_appointment where current group by 1) x")" \
	"061:2,062:9,063:22,064:27"

# ---- training: date styles, kinds, hours ------------------------------------
is "张建国: 140 hours in three trainings" \
	"$(cur "sum(hours)::numeric(8,1)||'/'||count(*)" training "id_number = '410105197203153919'")" \
	"140.0/3"
is "dates from YYYY-M-D, YYYYMMDD, YYYY/M/D" \
	"$(cur "string_agg(start_date||'/'||end_date||'/'||kind, ' ' order by start_date)" \
		training "id_number = '410105197203153919'")" \
	"2019-10-08/2019-10-17/1 2021-03-01/2021-06-30/2 2022-07-20/2022-08-31/1"
is "dates from YYYY年M月D日 and YYYY.M.D; a decimal 学时" \
	"$(cur "string_agg(start_date||'/'||end_date||'/'||kind||'/'||hours::numeric(8,1)||'/'||credits::numeric(8,1), ' ' order by start_date)" \
		training "id_number = '41010219830722924X'")" \
	"2021-07-12/2021-07-16/3/24.0/2.0 2022-03-02/2022-06-29/5/12.5/0.5"
is "an empty 学分 stores NULL" \
	"$(cur "coalesce(credits::text,'NULL')||'/'||kind" training "id_number = '410702199706111027'")" "NULL/9"
is "a quoted comma in a GB18030 field survives" \
	"$(cur 'count(*)' training "project = '校本研修：作业设计,分层与评价'")" 1
is "培训类别 codes across the file" \
	"$(pg_sql "select string_agg(kind||':'||n, ',' order by kind) from
		(select kind, count(*) n from tmis.training where current group by 1) x")" \
	"1:11,2:18,3:16,4:8,5:2,9:2"
is "total hours" "$(cur 'sum(hours)::numeric(10,1)' training)" "2162.5"

# ---- the deliberate rejects ---------------------------------------------------
is "rejects by category, line and rule" \
	"$(pg_sql "select string_agg(category||':'||line||':'||rule, ' ' order by category, line)
		from tmis.load_reject where load_id = $load1")" \
	"education:27:month education:29:code education:41:end_before_start teacher:12:id_checksum teacher:23:gender_mismatch teacher:34:code title_appointment:6:code title_appointment:39:end_before_start title_appointment:61:month training:27:number training:58:end_before_start training:61:date"
rej=$(cat "$W/rej.csv")
like "reject file: a month that does not exist" "$rej" 'education\.csv","27",.*"month","2011\.13"'
like "reject file: an unknown 学历 name" "$rej" 'education\.csv","29",.*"edu_level","code","专升本"'
like "reject file: graduation before enrolment" "$rej" 'education\.csv","41",.*"end_before_start"'
like "reject file: 特级教师 is no title" "$rej" 'title_appointment\.csv","6",.*"title","code","特级教师"'
like "reject file: a negative 学时" "$rej" 'training\.csv","27",.*"hours","number"'
like "reject file: 2023-2-30" "$rej" 'training\.csv","61",.*"start_date","date","2023-2-30"'
if grep -q '411502198207049236\|420102199502284873\|350102199003042265' "$W/rej.csv" "$W/out1"; then
	not_ok "no clear id number in reject file or summary"
else
	ok "no clear id number in reject file or summary"
fi

# ---- reload: nothing changes ------------------------------------------------
stamp="select (select max(change_no) from tmis.teacher)||'/'||
	(select max(change_no) from tmis.education)||'/'||
	(select max(change_no) from tmis.title_appointment)||'/'||
	(select max(change_no) from tmis.training)||'/'||
	(select count(*) from tmis.training)"
before=$(pg_sql "$stamp")
"$T" load --no-progress --profile "$P" "$D"/*.csv >"$W/out2" 2>&1
is "reload exits 0" "$?" 0
out=$(cat "$W/out2")
like "reload says unchanged" "$out" 'unchanged: every row matches'
like "reload: teacher unchanged" "$out" 'teacher +33 +0 +0 +30 +3'
like "reload: education unchanged" "$out" 'education +53 +0 +0 +50 +3'
like "reload: title_appointment unchanged" "$out" 'title_appointment +63 +0 +0 +60 +3'
like "reload: training unchanged" "$out" 'training +60 +0 +0 +57 +3'
is "reload touches no row" "$(pg_sql "$stamp")" "$before"

done_testing
