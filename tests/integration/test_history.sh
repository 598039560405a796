#!/bin/sh
# test_history: multi-record replace semantics (a full load supersedes what a
# teacher no longer has, keeping it as history), delta mode, rejected rows
# protecting a teacher's records, and change events applied in
# effective_date order whatever their arrival order, exactly once.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
D=tests/data/load
pg_trap
pg_start || exit 1
W=$PG_DIR/work
mkdir -p "$W"
A=410105198003130119
B=410105198507040221
C=410302197901010351

"$T" db migrate >/dev/null 2>&1
"$T" load --no-progress "$D/teacher.csv" "$D/training.csv" >/dev/null 2>&1
# force the staged path for the next loads: the table has rows now
cur() { pg_sql "select count(*) from tmis.training where id_number = '$1' and current"; }
old() { pg_sql "select count(*) from tmis.training where id_number = '$1' and not current"; }
is "teacher A starts with 2 current training records" "$(cur $A)" 2

hdr=$(head -1 "$D/training.csv")
{ echo "$hdr"; grep "^1,$A,国培计划2024" "$D/training.csv" | head -1; } >"$W/training_a.csv"
"$T" load --no-progress --category training "$W/training_a.csv" >"$W/o1" 2>&1
is "full load of A's training exits 0" "$?" 0
like "summary counts one superseded record" "$(cat "$W/o1")" 'training +1 +0 +0 +1 +0 +1'
is "A has 1 current record" "$(cur $A)" 1
is "the dropped record is kept as history" "$(old $A)" 1
is "history names the load that superseded it" \
	"$(pg_sql "select superseded_load = (select max(id) from tmis.load_run) from tmis.training where id_number = '$A' and not current")" t
is "other teachers are untouched" "$(cur $B)" 1

"$T" load --no-progress --category training "$D/training.csv" >"$W/o2" 2>&1
is "resending the full file restores the record" "$(cur $A)" 2
is "nothing left as history" "$(old $A)" 0

"$T" load --no-progress --mode delta --category training "$W/training_a.csv" >"$W/o3" 2>&1
like "delta mode supersedes nothing" "$(cat "$W/o3")" 'training +1 +0 +0 +1 +0 +0'
is "delta keeps both records current" "$(cur $A)" 2

# a rejected row protects its teacher's records from being superseded
{ echo "$hdr"; echo "1,$A,国培计划2024,2024-07-01,2024-07-10,1,-40,4,河南师范大学"; } >"$W/training_bad.csv"
"$T" load --no-progress --category training "$W/training_bad.csv" >"$W/o4" 2>&1
like "the bad row is rejected" "$(cat "$W/o4")" 'training +1 +0 +0 +0 +1 +0'
is "and A keeps both current records" "$(cur $A)" 2

# ---- change events --------------------------------------------------------
ev="id_type,id_number,kind,effective_date,from_school_code,to_school_code,note"
{
	echo "$ev"
	echo "1,$C,transfer_in,2024-09-01,2141030002,2141050003,调入新校"
	echo "1,$C,hire,2001-09-01,,2141030002,"
	echo "1,$A,retire,2025-01-01,2141010001,,"
	echo "1,410105197001010135,hire,2001-09-01,,2141010001,"
} >"$W/change_event.csv"
"$T" load --no-progress "$W/change_event.csv" >"$W/o5" 2>&1
is "change events load" "$?" 0
like "an event for an unknown teacher is rejected" "$(cat "$W/o5")" 'unknown_teacher'
like "summary says events were applied" "$(cat "$W/o5")" 'change events moved or changed the status of 2 teachers'
is "the latest transfer moves the school of record" \
	"$(pg_sql "select school_code from tmis.teacher where id_number = '$C'")" 2141050003
is "retirement changes the status" \
	"$(pg_sql "select status from tmis.teacher where id_number = '$A'")" 02
is "the previous version is kept in teacher_history" \
	"$(pg_sql "select previous->>'school_code' from tmis.teacher_history where id_number = '$C' order by id desc limit 1")" 2141030002

"$T" load --no-progress "$W/change_event.csv" >"$W/o6" 2>&1
unlike_events=$(grep -c 'change events moved' "$W/o6")
is "the same events sent twice apply once" "$unlike_events" 0
is "events are stored once" "$(pg_sql "select count(*) from tmis.change_event where id_number = '$C'")" 2

# an older event arriving later does not override the latest one
{ echo "$ev"; echo "1,$C,transfer_in,2010-03-01,2141030002,2141070007,"; } >"$W/change_event2.csv"
"$T" load --no-progress --category change_event "$W/change_event2.csv" >"$W/o7" 2>&1
is "a late, older transfer is stored" "$(pg_sql "select count(*) from tmis.change_event where id_number = '$C'")" 3
is "but the school follows the latest effective date" \
	"$(pg_sql "select school_code from tmis.teacher where id_number = '$C'")" 2141050003

done_testing
