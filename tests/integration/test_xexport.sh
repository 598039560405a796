#!/bin/sh
# test_xexport: linked-platform exports (`tmisgw export`, `tmisgw import`,
# docs/profiles.md) with real gpg and PostgreSQL. The centre (000000) holds
# a sample province 41 and two teachers of 42; it exports for P00001 (the
# qualification platform) and P00002 (the training platform, province 41).
# Each package, decrypted with plain gpg and tar, holds only the profile's
# columns (no phone, nothing outside the profile), no ID number in clear,
# and P00002 only province 41. An export since N holds only the change.
# The platform imports into its own database and into files, records N,
# and refuses a replayed or gapped export; the exchange logs hold entries.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
gpg_trap || exit 1
pg_start || exit 1
C=$(gw_home centre)
P1=$(gw_home p1)
P2=$(gw_home p2)
W=$GPG_TMP/work
mkdir -p "$W"

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

# rows FILE: data records (no quoted line breaks here)
rows() { echo $(($(wc -l <"$1") - 1)); }

# open_pkg PKG HOME DIR: decrypt with plain gpg, untar into DIR
open_pkg()
{
	rm -rf "$3" && mkdir -p "$3" &&
		gpg --homedir "$2/gnupg" --batch -q --decrypt "$1" 2>/dev/null |
		(cd "$3" && tar --zstd -x)
}

# allowed_header CAT FIELD...: every column of DIR/data/CAT.csv is a listed
# field, teacher_ref or op
only_columns()
{
	_f=$1
	shift
	for _c in $(head -n 1 "$_f" | tr ',' ' '); do
		case " $* teacher_ref op " in
		*" $_c "*) ;;
		*) echo "$_c" ;;
		esac
	done
}

# clear_ids DIR: files of DIR holding any ID number of the centre in clear
clear_ids() { grep -rlF -f "$W/ids.txt" "$1"; }

ex()
{
	"$T" export --home "$C" "$@" >"$W/ex.out" 2>&1
	rc=$?
}

PDB="host=$PGHOST port=$PGPORT user=postgres dbname=platform"
imp()
{
	TMISGW_DB=$PDB "$T" import --home "$P1" "$@" >"$W/imp.out" 2>&1
	rc=$?
}
psql_p() { PGDATABASE=platform pg_sql "$1"; }

# ---- homes, keys, data ---------------------------------------------------------
"$T" keys init --home "$C" --org 000000 >/dev/null 2>&1
"$T" keys init --home "$P1" --org P00001 >/dev/null 2>&1
"$T" keys init --home "$P2" --org P00002 >/dev/null 2>&1
"$T" keys export --home "$C" >"$W/c.asc"
"$T" keys export --home "$P1" >"$W/p1.asc"
"$T" keys export --home "$P2" >"$W/p2.asc"
check "centre trusts P00001" "$T" keys trust --home "$C" --org P00001 "$W/p1.asc"
check "centre trusts P00002" "$T" keys trust --home "$C" --org P00002 "$W/p2.asc"
check "P00001 trusts the centre" "$T" keys trust --home "$P1" --org 000000 "$W/c.asc"
check "P00002 trusts the centre" "$T" keys trust --home "$P2" --org 000000 "$W/c.asc"

check "db migrate (centre)" "$T" db migrate
"$T" sample --teachers 50 --province 41 --out "$W/s" >/dev/null 2>&1
check "load a sample province 41" "$T" load --no-progress "$W/s"/*.csv
X1=$(idno 42010219800101001)
mkdir -p "$W/x"
{
	head -n 1 tests/data/load/teacher.csv
	echo "1,$X1,王五,1,1980-01-01,156,01,13,2142010001,k12,2002-09,2003-09,01,01,false,01,13800000101,x1@school.cn"
} >"$W/x/teacher.csv"
{
	head -n 1 tests/data/load/training.csv
	echo "1,$X1,国培计划2024,2024-07-01,2024-07-10,1,40,4,湖北师范大学"
} >"$W/x/training.csv"
check "load a teacher of province 42" "$T" load --no-progress --mode delta \
	"$W/x/teacher.csv" "$W/x/training.csv"
NT=$(pg_sql "select count(*) from tmis.teacher where reported")
NQ=$(pg_sql "select count(*) from tmis.qualification where current")
T41=$(pg_sql "select count(*) from tmis.training x join tmis.teacher t using (id_type, id_number)
	where x.current and substr(t.school_code, 3, 2) = '41'")
is "51 teachers at the centre" "$NT" 51
pg_sql "select id_number from tmis.teacher" >"$W/ids.txt"
pg_sql "select phone from tmis.teacher where phone is not null" >"$W/phones.txt"

# ---- usage ------------------------------------------------------------------------
ex --profile P99999 -o "$W"
is "an unknown platform exits 2" "$rc" 2
like "and says there is no profile" "$(cat "$W/ex.out")" 'no export profile for "P99999"'
ex --profile P00001
is "export without -o exits 2" "$rc" 2
ex --profile P00001 --since 999999999 -o "$W"
is "a change number ahead of the database exits 2" "$rc" 2
like "and says so" "$(cat "$W/ex.out")" 'is ahead of this database'

# ---- P00001: the qualification platform -----------------------------------------
mkdir -p "$W/o1"
ex --profile P00001 -o "$W/o1"
is "export for P00001 exits 0" "$rc" 0
diag "$(cat "$W/ex.out")"
like "the summary names the window" "$(cat "$W/ex.out")" 'changes +since 0 upto [0-9]+'
like "and the masks" "$(cat "$W/ex.out")" 'teacher.id_number'
E1=$(ls "$W"/o1/000000-1-*.tmx 2>/dev/null)
check "the package is named sender-sequence-id" test -f "$E1"
is "the centre's spool is empty" "$(ls -A "$C/spool")" ""
check_fail "the centre cannot decrypt it (encrypted to P00001)" \
	sh -c "gpg --homedir '$C/gnupg' --batch -q --decrypt '$E1' >/dev/null 2>&1"
check_fail "P00002 cannot decrypt it" \
	sh -c "gpg --homedir '$P2/gnupg' --batch -q --decrypt '$E1' >/dev/null 2>&1"
check "P00001 decrypts it with plain gpg and tar" open_pkg "$E1" "$P1" "$W/d1"
D=$W/d1/data
is "it holds the profile's two categories" "$(ls "$D" | tr '\n' ' ')" "qualification.csv teacher.csv "
like "the manifest is of kind export" "$(cat "$W/d1/manifest.xml")" '<kind>export</kind>'
like "with its change window" "$(cat "$W/d1/manifest.xml")" '<changes since="0" upto="[0-9]+"/>'
is "teacher header: teacher_ref, the profile's fields, op" "$(head -n 1 "$D/teacher.csv")" \
	"teacher_ref,id_type,id_number,name,gender,birth_date,school_code,indicator_set,status,op"
is "no column outside the profile in teacher.csv" \
	"$(only_columns "$D/teacher.csv" id_type id_number name gender birth_date school_code indicator_set status)" ""
check_fail "no phone column anywhere" grep -rqw phone "$D"
check_fail "no email column or address anywhere" grep -rqE 'email|@school' "$D"
is "qualification.csv: all its fields" "$(head -n 1 "$D/qualification.csv")" \
	"teacher_ref,id_type,id_number,qualification_type,certificate_no,subject,issue_date,issuer,op"
is "no phone number of the centre in the payload" "$(grep -rlF -f "$W/phones.txt" "$D")" ""
is "no ID number in clear in the payload" "$(clear_ids "$W/d1")" ""
is "no ID number in clear in the raw payload either" \
	"$(gpg --homedir "$P1/gnupg" --batch -q --decrypt "$E1" 2>/dev/null | zstd -dc | grep -caF -f "$W/ids.txt")" 0
is "every id_number is masked 6+8+4" \
	"$(tail -n +2 "$D/teacher.csv" | cut -d, -f3 | grep -cvE '^[0-9]{6}\*{8}[0-9]{3}[0-9X]$')" 0
A=$(pg_sql "select id_number from tmis.teacher where substr(school_code, 3, 2) = '41' order by id_number limit 1")
AM=$(printf '%s' "$A" | sed 's/^\(......\)........\(....\)$/\1********\2/')
AMR=$(printf '%s' "$AM" | sed 's/\*/\\*/g')
check "a known teacher appears masked" grep -qF ",1,$AM," "$D/teacher.csv"
check_fail "its birth date is masked" grep -qE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$D/teacher.csv"
is "all teachers, both provinces (scope all)" "$(rows "$D/teacher.csv")" "$NT"
is "all current qualifications" "$(rows "$D/qualification.csv")" "$NQ"
is "teacher_ref is 32 hex digits and unique" \
	"$(tail -n +2 "$D/teacher.csv" | cut -d, -f1 | grep -E '^[0-9a-f]{32}$' | sort -u | wc -l)" "$NT"
is "every row is an upsert" "$(tail -n +2 "$D/teacher.csv" | grep -cv ',upsert$')" 0
is "the export is logged at the centre" \
	"$(pg_sql "select direction || ' ' || event || ' ' || partner || ' ' || outcome || ' ' || (records_loaded = $NT + $NQ)::text
		from tmis.exchange_log where event = 'export'")" "out export P00001 exported true"
UPTO1=$(sed -n 's/.*<changes since="0" upto="\([0-9]*\)".*/\1/p' "$W/d1/manifest.xml")
is "upto is the centre's change number" "$UPTO1" "$(pg_sql "select last_value from tmis.change_no_seq")"

# ---- P00002: the training platform, province 41 -------------------------------------
mkdir -p "$W/o2"
ex --profile P00002 -o "$W/o2"
is "export for P00002 exits 0" "$rc" 0
diag "$(cat "$W/ex.out")"
like "its summary names the scope" "$(cat "$W/ex.out")" 'scope +province 41'
E2=$(ls "$W"/o2/000000-1-*.tmx 2>/dev/null)
check "P00002 decrypts it" open_pkg "$E2" "$P2" "$W/d2"
D=$W/d2/data
is "teacher header: key, name, school_code" "$(head -n 1 "$D/teacher.csv")" \
	"teacher_ref,id_type,id_number,name,school_code,op"
is "no column outside the profile in teacher.csv" \
	"$(only_columns "$D/teacher.csv" id_type id_number name school_code)" ""
is "only province-41 teachers" "$(tail -n +2 "$D/teacher.csv" | cut -d, -f5 | cut -c3-4 | sort -u)" 41
is "all 50 of them" "$(rows "$D/teacher.csv")" 50
is "only their training" "$(rows "$D/training.csv")" "$T41"
check_fail "the teacher of 42 is absent" grep -rq "王五\|420102\*" "$D"
is "no ID number in clear" "$(clear_ids "$W/d2")" ""
R1=$(grep -F ",1,$AM," "$W/d1/data/teacher.csv" | cut -d, -f1)
R2=$(grep -F ",1,$AM," "$D/teacher.csv" | cut -d, -f1)
check "teacher_ref differs per platform" test -n "$R1" -a -n "$R2" -a "$R1" != "$R2"

# ---- import at P00001, into its database ----------------------------------------------
pg_sql "create database platform" >/dev/null
check "db migrate (platform)" env TMISGW_DB="$PDB" "$T" db migrate
imp "$E1"
is "import of the first export exits 0" "$rc" 0
diag "$(cat "$W/imp.out")"
like "it says what to ask for next" "$(cat "$W/imp.out")" "next +ask for changes since $UPTO1"
is "pull_record holds every row" \
	"$(psql_p "select count(*) from tmis.pull_record where partner = '000000'")" "$((NT + NQ))"
is "pull_state holds the new N" "$(psql_p "select changes_upto from tmis.pull_state where partner = '000000'")" "$UPTO1"
is "the records keep the masked id" \
	"$(psql_p "select data->>'id_number' from tmis.pull_record where category = 'teacher' and data->>'teacher_ref' = '$R1'")" "$AM"
is "no phone in the platform's records" "$(psql_p "select count(*) from tmis.pull_record where data ? 'phone'")" 0
is "nothing loaded into the platform's own teacher tables" "$(psql_p "select count(*) from tmis.teacher")" 0
is "the import is logged" \
	"$(psql_p "select direction || ' ' || event || ' ' || partner || ' ' || outcome from tmis.exchange_log")" \
	"in import 000000 imported"
is "the platform's spool is empty" "$(ls -A "$P1/spool")" ""

imp "$E1"
is "the same export again exits 3" "$rc" 3
like "a replay is refused" "$(cat "$W/imp.out")" 'check 4 \(replay\)'
is "and logged as refused" "$(psql_p "select count(*) from tmis.exchange_log where outcome = 'refused'")" 1

imp "$E2"
is "an export for P00002 does not open at P00001" "$rc" 3
like "check 1 refuses it" "$(cat "$W/imp.out")" 'check 1'

# ---- a change, and an export since N -------------------------------------------------
Q=$(pg_sql "select id_type || ',' || id_number || ',' || certificate_no from tmis.qualification
	where current and id_number <> '$A' order by id_number limit 1")
QID=$(echo "$Q" | cut -d, -f2)
QMR=$(printf '%s' "$QID" | sed 's/^\(......\)........\(....\)$/\1\\*\\*\\*\\*\\*\\*\\*\\*\2/')
mkdir -p "$W/c"
{
	printf 'id_type,id_number,name,phone,op\n'
	printf '1,%s,新名字,13900000000,upsert\n' "$A"
} >"$W/c/teacher.csv"
{
	printf 'id_type,id_number,certificate_no,op\n'
	printf '%s,delete\n' "$Q"
} >"$W/c/qualification.csv"
check "the centre loads a change (a name, a deleted qualification)" \
	"$T" load --no-progress --mode delta "$W/c/teacher.csv" "$W/c/qualification.csv"
mkdir -p "$W/o3"
ex --profile P00001 --since "$UPTO1" -o "$W/o3"
is "export since N exits 0" "$rc" 0
diag "$(cat "$W/ex.out")"
E3=$(ls "$W"/o3/000000-2-*.tmx 2>/dev/null)
check "it is the platform's second export (sequence 2)" test -f "$E3"
check "it decrypts" open_pkg "$E3" "$P1" "$W/d3"
D=$W/d3/data
is "one teacher row: the change" "$(rows "$D/teacher.csv")" 1
like "the new name, masked id, upsert" "$(tail -n 1 "$D/teacher.csv")" "^$R1,1,$AMR,新名字,.*,upsert$"
check_fail "the phone change is not exported" grep -rq 13900000000 "$D"
is "one qualification row" "$(rows "$D/qualification.csv")" 1
like "the delete: key (masked) and op only" "$(tail -n 1 "$D/qualification.csv")" "^[0-9a-f]{32},1,$QMR,,[0-9]{17},,,,delete$"
is "no ID number in clear" "$(clear_ids "$W/d3")" ""

imp "$E3"
is "import of the delta exits 0" "$rc" 0
diag "$(cat "$W/imp.out")"
is "the name is updated at the platform" \
	"$(psql_p "select data->>'name' from tmis.pull_record where category = 'teacher' and data->>'teacher_ref' = '$R1'")" "新名字"
is "the qualification is deleted at the platform" \
	"$(psql_p "select count(*) from tmis.pull_record where category = 'qualification'")" "$((NQ - 1))"
UPTO3=$(sed -n 's/.*upto="\([0-9]*\)".*/\1/p' "$W/d3/manifest.xml")
is "pull_state moved to the new N" "$(psql_p "select changes_upto from tmis.pull_state")" "$UPTO3"

# a gap: an export since an N the platform never had
{
	printf 'id_type,id_number,name,op\n'
	printf '1,%s,又一个名字,upsert\n' "$A"
} >"$W/c/teacher.csv"
check "the centre loads another change" "$T" load --no-progress --mode delta "$W/c/teacher.csv"
mkdir -p "$W/o4"
ex --profile P00001 --since "$((UPTO3 + 1))" -o "$W/o4"
is "an export with a later since exits 0 at the centre" "$rc" 0
E4=$(ls "$W"/o4/*.tmx 2>/dev/null)
imp "$E4"
is "a gapped export exits 3 at the platform" "$rc" 3
like "it is refused as a gap" "$(cat "$W/imp.out")" "check 4 \\(changes\\).*a gap \\(pull again from $UPTO3\\)"
is "nothing recorded" "$(psql_p "select changes_upto from tmis.pull_state")" "$UPTO3"
# an old window again: a replay of changes already applied
mkdir -p "$W/o5"
ex --profile P00001 --since "$UPTO1" -o "$W/o5"
imp "$(ls "$W"/o5/*.tmx)"
is "an export of a window already applied exits 3" "$rc" 3
like "it is refused as a replay" "$(cat "$W/imp.out")" 'check 4 \(changes\).*a replay'
is "both refusals are logged" "$(psql_p "select count(*) from tmis.exchange_log where outcome = 'refused'")" 4

# ---- import into files -------------------------------------------------------------
mkdir -p "$W/o6" "$W/files"
ex --profile P00001 --since "$UPTO3" -o "$W/o6"
E6=$(ls "$W"/o6/*.tmx)
imp --files "$W/files" "$E6"
is "import --files exits 0" "$rc" 0
diag "$(cat "$W/imp.out")"
FD=$(ls -d "$W"/files/*/ 2>/dev/null | head -n 1)
is "the files are in DIR/<package id>" "$(ls "$FD" | tr '\n' ' ')" "manifest.xml qualification.csv teacher.csv "
like "they hold the change" "$(tail -n 1 "$FD/teacher.csv")" ",又一个名字,"
is "no ID number in clear in them" "$(clear_ids "$FD")" ""
is "--files still records the new N" "$(psql_p "select changes_upto from tmis.pull_state")" \
	"$(sed -n 's/.*upto="\([0-9]*\)".*/\1/p' "$FD/manifest.xml")"
is "and leaves the records alone" "$(psql_p "select data->>'name' from tmis.pull_record where data->>'teacher_ref' = '$R1' and category = 'teacher'")" "新名字"
imp --files "$W/files" "$E6"
is "a replay into files is refused" "$rc" 3
is "and writes nothing" "$(ls "$W/files" | wc -l)" 1

# ---- a full snapshot again: since 0 replaces ---------------------------------------
mkdir -p "$W/o7"
ex --profile P00001 -o "$W/o7"
diag "$(cat "$W/ex.out")"
imp "$(ls "$W"/o7/*.tmx)"
is "a new snapshot (since 0) is accepted" "$rc" 0
is "it replaces the records" "$(psql_p "select count(*) from tmis.pull_record")" "$((NT + NQ - 1))"
is "with the latest name" "$(psql_p "select data->>'name' from tmis.pull_record where data->>'teacher_ref' = '$R1' and category = 'teacher'")" "又一个名字"
imp "$E1"
is "the old snapshot is still refused" "$rc" 3

# ---- logs ---------------------------------------------------------------------------
is "every export is logged at the centre" \
	"$(pg_sql "select count(*) from tmis.exchange_log where event = 'export' and outcome = 'exported'")" 7
check "the centre's exchange log chain is intact" "$T" audit verify
check "the platform's exchange log chain is intact" env TMISGW_DB="$PDB" "$T" audit verify
is "no ID number in either log" \
	"$(pg_sql "select count(*) from tmis.exchange_log where error ~ '[0-9]{17}'")$(psql_p "select count(*) from tmis.exchange_log where error ~ '[0-9]{17}'")" 00

done_testing
