#!/bin/sh
# test_receive: `tmisgw load PKG` (checks 1-5) between a province (410000)
# and the centre (000000) with real gpg and PostgreSQL: a load with its
# signed receipt, a resend getting the same receipt and loading nothing, a
# reused id and a reused sequence refused, a sequence gap held and applied
# in order, the province's scope (out-of-province rows rejected, missing
# teachers no longer reported), deltas with deletes, a reject-rate refusal
# answered with a "rejected" receipt, refusals logged, the exchange log
# append-only and its chain intact, and kill -9 at any moment of a load
# followed by a rerun finishing exactly once.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
D=$(pwd)/tests/data/load
gpg_trap || exit 1
pg_start || exit 1
P=$(gw_home prov)
C=$(gw_home centre)
W=$GPG_TMP/work
mkdir -p "$W"

"$T" keys init --home "$P" --org 410000 >/dev/null 2>&1
"$T" keys init --home "$C" --org 000000 >/dev/null 2>&1
"$T" keys export --home "$P" >"$W/p.asc"
"$T" keys export --home "$C" >"$W/c.asc"
"$T" keys trust --home "$C" --org 410000 "$W/p.asc" >/dev/null 2>&1
"$T" keys trust --home "$P" --org 000000 "$W/c.asc" >/dev/null 2>&1
check "db migrate" "$T" db migrate

# pack SEQ KIND FILE...: a package from the province to the centre; prints its path
pack()
{
	_seq=$1 _kind=$2
	shift 2
	rm -rf "$W/out.$_seq" && mkdir -p "$W/out.$_seq" &&
		"$T" pack --home "$P" --to 000000 --kind "$_kind" --seq "$_seq" \
			-o "$W/out.$_seq" "$@" >/dev/null 2>"$W/pack.err" &&
		ls "$W/out.$_seq"/*.tmx
}
teachers() { pg_sql "select count(*) from tmis.teacher where reported"; }
loads() { pg_sql "select count(*) from tmis.load_run"; }
logged() { pg_sql "select count(*) from tmis.exchange_log where outcome = '$1'"; }
spool_empty() { [ -z "$(ls -A "$C/spool")" ]; }

# ---- a package, its receipt, a resend ---------------------------------------------
P1=$(pack 1 full "$D/teacher.csv" "$D/training.csv")
cp "$P1" "$W/p1.tmx"
out=$("$T" load --home "$C" --no-progress "$P1" 2>&1)
is "load PKG exits 0" "$?" 0
diag "$out"
like "it passed checks 1-4 and loaded" "$out" 'checks 1-4 passed; loaded'
like "it counts rows received, loaded and rejected" "$out" '14 rows received, 9 loaded, 5 rejected \(accepted-with-rejects\)'
like "reject samples name the package's file" "$out" "$(basename "$P1"):data/training.csv:7"
is "5 teachers loaded" "$(teachers)" 5
is "the package is recorded as loaded" \
	"$(pg_sql "select state || ' ' || outcome || ' ' || records_loaded || ' ' || records_rejected from tmis.package_in")" \
	"loaded accepted-with-rejects 9 5"
R1=$(ls "$C"/outbox/000000-1-*.tmx 2>/dev/null)
check "the receipt is in the outbox" test -f "$R1"
cp "$R1" "$W/receipt1.tmx"
check "the spool is empty after the load" spool_empty
out=$("$T" receipt show --home "$P" "$R1" 2>&1)
is "receipt show at the province exits 0" "$?" 0
diag "$out"
like "the receipt names the package" "$out" "for +package $(pg_sql "select id from tmis.package_in")"
like "the receipt carries the package's sha256" "$out" "sha256 $(sha256sum "$P1" | cut -c1-64)"
like "the receipt's outcome" "$out" 'outcome +accepted-with-rejects'
like "the receipt counts per file" "$out" 'data/training.csv +9 +4 +5'
like "the receipt lists the rejected rows, masked" "$out" '"data/training.csv","7","training","1:410302\*\*\*\*\*\*\*\*0488","end_date","end_before_start"'
unlike_id=$(printf '%s' "$out" | grep -c 410302197901010488)
is "no ID number in clear in the receipt" "$unlike_id" 0
check_fail "the centre cannot read its own receipt (encrypted to the province)" \
	"$T" receipt show --home "$C" "$R1"
check "the receipt opens with plain gpg and tar" \
	sh -c "gpg --homedir '$P/gnupg' --batch -q --decrypt '$R1' 2>/dev/null | tar --zstd -t | grep -qx data/rejects.csv"

rm -f "$R1"
n=$(loads)
out=$("$T" load --home "$C" --no-progress "$P1" 2>&1)
is "a resend exits 0" "$?" 0
like "a resend is recognised" "$out" 'seen before: nothing loaded'
is "a resend loads nothing" "$(loads)" "$n"
check "a resend gets the very same receipt again" cmp "$W/receipt1.tmx" "$R1"
is "the resend is logged" "$(logged duplicate)" 1

# ---- replays ---------------------------------------------------------------------
id1=$(pg_sql "select id from tmis.package_in where sequence = 1")
CFPR=$(gpg --homedir "$C/gnupg" --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr:/ { print $10; exit }')
mkdir -p "$W/re"
head -3 "$D/teacher.csv" >"$W/re/teacher.csv"
P1B=$(pack 1 full "$W/re/teacher.csv")
# same sequence, new id: refused as a reused sequence
out=$("$T" load --home "$C" --no-progress "$P1B" 2>&1)
is "a reused sequence number exits 3" "$?" 3
like "a reused sequence is refused by check 4" "$out" 'check 4 \(sequence\): sequence 1 from 410000 was already used'
# same id, other content: made by hand with tar and gpg
mkdir -p "$W/re/h/data"
cp "$W/re/teacher.csv" "$W/re/h/data/"
tmx_manifest 410000 000000 "$id1" 1 full "$W/re/h/data/teacher.csv" >"$W/re/h/manifest.xml"
tmx_handmade "$W/re/410000-1-same-id.tmx" "$W/re/h" "$P/gnupg" "$CFPR"
out=$("$T" load --home "$C" --no-progress "$W/re/410000-1-same-id.tmx" 2>&1)
is "a reused id with other content exits 3" "$?" 3
like "a reused id is refused by check 4" "$out" "check 4 \\(replay\\): package id \"$id1\" was received before with different content"
is "replays loaded nothing" "$(loads)" "$n"
is "both replays are logged as refused" "$(logged refused)" 2
check "the spool is empty after the refusals" spool_empty

# ---- verify --db: check 4 without loading --------------------------------------------
DSN="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER"
n=$(loads)
out=$("$T" verify --home "$C" --db "$DSN" "$W/p1.tmx" 2>&1)
is "verify --db of a package loaded before exits 0" "$?" 0
like "it says a load would answer it again" "$out" 'check 4: received before \(loaded, accepted-with-rejects\)'
out=$("$T" verify --home "$C" --db "$DSN" "$P1B" 2>&1)
is "verify --db of a reused sequence exits 3" "$?" 3
like "it names check 4" "$out" 'check 4 \(sequence\)'
P2V=$(pack 2 delta "$D/teacher.csv")
like "verify --db of the next sequence: check 4 passed" \
	"$("$T" verify --home "$C" --db "$DSN" "$P2V" 2>&1)" 'check 4 passed: a new package, sequence 2'
P9V=$(pack 9 delta "$D/teacher.csv")
"$T" verify --home "$C" --db "$DSN" "$P9V" >"$W/v9.out" 2>&1
is "verify --db of a package ahead of the stream exits 6" "$?" 6
like "it says load would hold it" "$(cat "$W/v9.out")" 'ahead of the stream, which expects 2 next'
is "verify --db loaded nothing and logged nothing" "$(loads) $(pg_sql "select count(*) from tmis.package_in")" "$n 1"
rm -rf "$W/out.2" "$W/out.9"

# ---- a sequence gap ---------------------------------------------------------------
mkdir -p "$W/t3" "$W/t2"
{ head -1 "$D/teacher.csv"; sed -n 2,3p "$D/teacher.csv"; } >"$W/t3/teacher.csv"
P3=$(pack 3 delta "$W/t3/teacher.csv")
out=$("$T" load --home "$C" --no-progress "$P3" 2>&1)
is "a package after a gap exits 6 (held)" "$?" 6
like "it says which sequence it waits for" "$out" 'held: sequence 2 is expected first'
is "it is recorded as held" "$(pg_sql "select state from tmis.package_in where sequence = 3")" held
is "the gap is logged" "$(logged held)" 1
is "nothing of it is loaded" "$(loads)" "$n"
check "the held copy is kept in the inbox" test -f "$(pg_sql "select held_path from tmis.package_in where sequence = 3")"
out=$("$T" load --home "$C" --no-progress "$P3" 2>&1)
is "the held package sent again is still held" "$?" 6
{ head -1 "$D/teacher.csv"; sed -n 4p "$D/teacher.csv"; } >"$W/t2/teacher.csv"
P2=$(pack 2 delta "$W/t2/teacher.csv")
out=$("$T" load --home "$C" --no-progress "$P2" 2>&1)
is "the missing package loads" "$?" 0
diag "$out"
like "then the held one is applied" "$out" 'applying the held package that is now due'
is "both are loaded, in order" \
	"$(pg_sql "select string_agg(sequence || ':' || state, ' ' order by sequence) from tmis.package_in")" \
	"1:loaded 2:loaded 3:loaded"
is "they loaded in sequence order" \
	"$(pg_sql "select string_agg(p.sequence::text, ' ' order by p.load_id) from tmis.package_in p where sequence > 1")" "2 3"
is "the held copy is gone" "$(ls "$C/inbox/held" | wc -l)" 0
is "every package got a receipt" "$(ls "$C"/outbox/000000-*.tmx | wc -l)" 3

# ---- scope: a province speaks for its own teachers only ---------------------------
cat >"$W/teacher.csv" <<EOF
$(head -1 "$D/teacher.csv")
$(sed -n 2,4p "$D/teacher.csv")
$(awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "school_code") c = i } NR == 5 { $c = "2142000001"; print }' "$D/teacher.csv")
EOF
# the file lists the province's teachers in full: line 6 of the original is missing
P4=$(pack 4 full "$W/teacher.csv")
out=$("$T" load --home "$C" --no-progress "$P4" 2>&1)
is "a full package with a teacher of another province loads" "$?" 0
diag "$out"
like "the other province's teacher is rejected" "$out" 'out_of_scope school_code: school is outside the sender.s province "41"'
is "the province's teacher missing from the full package is no longer reported" \
	"$(pg_sql "select count(*) from tmis.teacher where not reported")" 1
is "but not deleted" "$(pg_sql "select count(*) from tmis.teacher")" 5

# a delta deleting a training record of its own teacher, and one of a teacher it does not hold
tid=$(pg_sql "select id_number from tmis.training where current order by 1 limit 1")
tkey=$(pg_sql "select start_date || ',' || project from tmis.training where id_number = '$tid' and current order by 1 limit 1")
pg_sql "insert into tmis.teacher (id_type, id_number, name, school_code) values ('1', '42010219800101001X', 'x', '2142000009')" >/dev/null
pg_sql "insert into tmis.training (id_type, id_number, project, start_date, hours) values ('1', '42010219800101001X', 'p', '2024-01-01', 1)" >/dev/null
cat >"$W/training.csv" <<EOF
id_type,id_number,project,start_date,op
1,$tid,$(echo "$tkey" | cut -d, -f2-),$(echo "$tkey" | cut -d, -f1),delete
1,42010219800101001X,p,2024-01-01,delete
EOF
P5=$(pack 5 delta "$W/training.csv")
out=$("$T" load --home "$C" --no-progress "$P5" 2>&1)
is "a delta with deletes loads" "$?" 0
diag "$out"
is "its own record is deleted (kept as history)" \
	"$(pg_sql "select count(*) from tmis.training where id_number = '$tid' and not current")" 1
is "another province's record is not" \
	"$(pg_sql "select current from tmis.training where id_number = '42010219800101001X'")" t
like "and is rejected as out of scope" "$out" 'out_of_scope'

# ---- check 5 refuses: reject rate -----------------------------------------------------
n=$(pg_sql "select count(*) from tmis.load_run where status = 'committed'")
P6=$(pack 6 full "$D/training.csv")
out=$("$T" load --home "$C" --no-progress --max-reject-rate 0.1 "$P6" 2>&1)
is "a package over the reject rate exits 5" "$?" 5
diag "$out"
like "it is rejected by check 5" "$out" 'rejected by check 5, nothing loaded'
is "nothing of it is loaded" "$(pg_sql "select count(*) from tmis.load_run where status = 'committed'")" "$n"
is "its state is rejected" "$(pg_sql "select state || ' ' || outcome from tmis.package_in where sequence = 6")" "rejected rejected"
R6=$(ls "$C"/outbox/000000-6-*.tmx 2>/dev/null)
out=$("$T" receipt show --home "$P" "$R6" 2>&1)
like "its receipt says rejected" "$out" 'outcome +rejected'
like "its receipt lists the rejects" "$out" 'end_before_start'
like "its receipt counts nothing loaded" "$out" 'data/training.csv +9 +0 +9'
out=$("$T" load --home "$C" --no-progress "$P6" 2>&1)
is "a rejected package sent again gets its receipt again" "$?" 0
like "and is recognised" "$out" 'seen before'

# ---- check 1-3 refusals are logged --------------------------------------------------
P7=$(pack 7 full "$D/teacher.csv")
cp "$P7" "$W/flip.tmx"
printf '\001' | dd of="$W/flip.tmx" bs=1 seek=200 count=1 conv=notrunc 2>/dev/null
n=$(logged refused)
out=$("$T" load --home "$C" --no-progress "$W/flip.tmx" 2>&1)
is "a damaged package exits 3" "$?" 3
like "it names check 1" "$out" 'check 1 '
is "the refusal is logged" "$(logged refused)" $((n + 1))
is "the log entry carries the file's sha256" \
	"$(pg_sql "select sha256 from tmis.exchange_log order by id desc limit 1")" \
	"$(sha256sum "$W/flip.tmx" | cut -c1-64)"
check "the spool is empty" spool_empty
out=$("$T" load --home "$C" --no-progress "$R6" 2>&1)
is "a receipt given to load exits 3" "$?" 3
check_fail "a package among other files is a usage error" \
	"$T" load --home "$C" --no-progress "$P7" "$D/teacher.csv"
check_fail "--mode does not apply to a package" \
	"$T" load --home "$C" --no-progress --mode delta "$P7"

# ---- the exchange log ---------------------------------------------------------------------
like "the log holds no ID number" \
	"$(pg_sql "select count(*) from tmis.exchange_log where concat(partner, package_id, error) ~ '[0-9]{17}[0-9X]'")" '^0$'
check_fail "UPDATE of the log is refused" pg_sql "update tmis.exchange_log set outcome = 'x' where id = 1"
check_fail "DELETE from the log is refused" pg_sql "delete from tmis.exchange_log where id = 1"
check_fail "TRUNCATE of the log is refused" pg_sql "truncate tmis.exchange_log"
out=$("$T" audit verify 2>&1)
is "audit verify passes" "$?" 0
like "audit verify counts the entries" "$out" "$(pg_sql "select count(*) from tmis.exchange_log") entries"
pg_sql "set session_replication_role = replica; update tmis.exchange_log set records_loaded = 1 where id = 1" >/dev/null
out=$("$T" audit verify 2>&1)
is "a changed entry fails audit verify" "$?" 1
like "and is named" "$out" 'entry 1: its hash does not match'
pg_sql "set session_replication_role = replica; update tmis.exchange_log set records_loaded = 9 where id = 1" >/dev/null
check "restored, it passes" "$T" audit verify
pg_sql "set session_replication_role = replica; delete from tmis.exchange_log where id = 3" >/dev/null
out=$("$T" audit verify 2>&1)
like "a deleted entry is found" "$out" 'entry 4: an entry before it is missing'

# ---- kill -9 at any moment, then a rerun: exactly once ------------------------------
K=$GPG_TMP/kill
"$T" sample --teachers 20000 --province 41 --out "$K/s" >/dev/null 2>&1
PK=$(pack 7 full "$K/s/teacher.csv" "$K/s/training.csv")
rows=$(($(wc -l <"$K/s/teacher.csv") - 1))
for delay in 0.2 0.5 0.9 1.4 2.0 3.0; do
	"$T" load --home "$C" --no-progress "$PK" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	st=$(pg_sql "select coalesce((select state from tmis.package_in where sequence = 7), 'none')")
	cnt=$(pg_sql "select count(*) from tmis.teacher where school_code like '__41%' and load_id = (select coalesce(max(load_id), -1) from tmis.package_in where sequence = 7)")
	if { [ "$st" = none ] && [ "$cnt" = 0 ]; } || { [ "$st" = loaded ] && [ "$cnt" -gt 0 ]; }; then
		ok "kill -9 after ${delay}s leaves nothing or everything ($st)"
	else
		not_ok "kill -9 after ${delay}s leaves nothing or everything ($st, $cnt teachers)"
	fi
done
out=$("$T" load --home "$C" --no-progress "$PK" 2>&1)
is "the rerun after the kills succeeds" "$?" 0
diag "$out"
is "the package is loaded once" "$(pg_sql "select count(*) from tmis.package_in where sequence = 7 and state = 'loaded'")" 1
is "one load committed for it" \
	"$(pg_sql "select count(*) from tmis.exchange_log where sequence = 7 and event = 'package' and outcome like 'accepted%'")" 1
is "all its teachers are there" \
	"$(pg_sql "select count(*) from tmis.teacher t join tmis.package_in p on p.load_id = t.load_id where p.sequence = 7 and t.reported")" "$rows"
"$T" load --home "$C" --no-progress "$PK" >/dev/null 2>&1
is "and a further rerun loads nothing" \
	"$(pg_sql "select count(*) from tmis.exchange_log where sequence = 7 and outcome = 'duplicate'")" 1
check "the kills left no work directory behind after the rerun" spool_empty

# ---- canonical XML in a package ---------------------------------------------------------
mkdir -p "$W/x"
cp tests/data/xml/training.xml "$W/x/training.xml"
P8=$(pack 8 delta "$W/x/training.xml")
check "pack takes a canonical XML file" test -f "$P8"
like "its manifest says xml and counts its records" \
	"$("$T" verify --home "$C" "$P8" 2>&1)" 'data/training.xml +training +xml +3 records'
out=$("$T" load --home "$C" --no-progress "$P8" 2>&1)
is "a package with XML loads" "$?" 0
diag "$out"
like "its records are counted and checked (this file's rows are all invalid)" "$out" '3 rows received, 0 loaded, 3 rejected'

done_testing
