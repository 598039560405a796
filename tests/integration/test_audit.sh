#!/bin/sh
# test_audit: `tmisgw audit list|show|export` against a real PostgreSQL:
# entries appended with plain INSERTs (the chain trigger fills id, time and
# hashes), every filter, bad filters refused with exit 2 naming the option,
# a hostile error text kept harmless in every format, CSV that parses back
# as RFC 4180, JSON lines that parse, and an export of many entries in flat
# memory.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
W=$(mktemp -d /tmp/tmaudit.XXXXXX) || exit 1
trap 'pg_stop; rm -rf "$W"' EXIT
trap 'pg_stop; rm -rf "$W"; trap - EXIT; exit 130' INT
trap 'pg_stop; rm -rf "$W"; trap - EXIT; exit 143' TERM
pg_start || exit 1

check "db migrate" "$T" db migrate

# add DIR EVENT PARTNER PKG SEQ KIND BYTES LOADED REJECTED OUTCOME ERROR (NULL for null)
add()
{
	"$PSQL" -X -q -At -v ON_ERROR_STOP=1 \
		-v dir="$1" -v ev="$2" -v pa="$3" -v pk="$4" -v sq="$5" -v ki="$6" \
		-v by="$7" -v lo="$8" -v re="$9" -v oc="${10}" -v er="${11}" <<'SQL'
INSERT INTO tmis.exchange_log (id, at, direction, event, partner, package_id,
	sequence, kind, bytes, sha256, signer_fpr, records_loaded, records_rejected,
	outcome, error, prev_hash, hash)
VALUES (0, now(), :'dir', :'ev', nullif(:'pa', 'NULL'), nullif(:'pk', 'NULL'),
	nullif(:'sq', 'NULL')::bigint, nullif(:'ki', 'NULL'), nullif(:'by', 'NULL')::bigint,
	CASE WHEN :'pk' = 'NULL' THEN NULL ELSE repeat('ab', 32) END,
	CASE WHEN :'pk' = 'NULL' THEN NULL ELSE repeat('C0FFEE12', 5) END,
	nullif(:'lo', 'NULL')::bigint, nullif(:'re', 'NULL')::bigint,
	:'oc', nullif(:'er', 'NULL'), '', '');
SQL
}
EVIL='=HYPERLINK("x") <script>alert(1)</script> "q", a
second line'
add in  package 410000 pkg-0001 1 full 241118 9 5 accepted-with-rejects NULL
add out receipt 410000 rcpt-0001 1 receipt 3000 NULL NULL accepted NULL
add in  package NULL NULL NULL NULL 5000 NULL NULL refused "$EVIL"
add in  package 420000 pkg-0002 1 delta 777 12 0 accepted NULL
add out pack 420000 pkg-0003 2 delta 888 NULL NULL packed NULL
add in  package 410000 pkg-0004 3 full 999 NULL NULL held "sequence 2 from \"410000\" is missing"
is "six entries appended by the trigger" "$(pg_sql "select count(*) || ' ' || max(id) from tmis.exchange_log")" "6 6"

# rows: the data lines of `audit list` (without the header)
rows() { "$T" audit list "$@" | tail -n +2; }
ids() { rows "$@" | awk '{print $1}' | tr '\n' ' '; }

out=$("$T" audit list 2>&1)
is "audit list exits 0" "$?" 0
diag "$out"
like "it has a header" "$(echo "$out" | head -n 1)" '^ID +TIME \(UTC\) +DIR +PARTNER +PACKAGE'
is "all entries, newest first" "$(ids)" "6 5 4 3 2 1 "
like "a row shows its columns" "$(rows | grep '^1 ')" '^1 +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +in +410000 +pkg-0001 +1 +full +241118 +9 +5 +accepted-with-rejects'
is "the hostile error stays on one line" "$(rows | grep -c .)" 6
is "--partner" "$(ids --partner 410000)" "6 2 1 "
is "--direction out" "$(ids --direction out)" "5 2 "
is "--outcome refused" "$(ids --outcome refused)" "3 "
is "--partner and --direction together" "$(ids --partner 420000 --direction in)" "4 "
is "--limit" "$(ids --limit 2)" "6 5 "
today=$(date -u +%F)
tomorrow=$(date -u -d tomorrow +%F)
yesterday=$(date -u -d yesterday +%F)
is "--since today: all" "$(ids --since "$today")" "6 5 4 3 2 1 "
is "--since tomorrow: none" "$(ids --since "$tomorrow")" ""
is "--until today counts the whole day" "$(ids --until "$today")" "6 5 4 3 2 1 "
is "--until yesterday: none" "$(ids --until "$yesterday")" ""
t3=$(pg_sql "select to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') from tmis.exchange_log where id = 3")
is "--since an ISO 8601 time" "$(ids --since "$t3")" "6 5 4 3 "
is "--until an ISO 8601 time (before)" "$(ids --until "$t3")" "2 1 "
t3cst=$(pg_sql "select to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+08:00\"') from tmis.exchange_log where id = 3")
is "--since with a zone offset" "$(ids --since "$t3cst")" "6 5 4 3 "
is "--outcome of no entry: an empty list" "$(ids --outcome failed)" ""

# ---- bad filters ----------------------------------------------------------------
badopt()
{
	_name=$1
	shift
	_e=$("$T" audit list "$@" 2>&1 >/dev/null)
	_rc=$?
	if [ "$_rc" = 2 ] && printf '%s\n' "$_e" | grep -q -- "--$_name"; then
		ok "bad --$_name: exit 2 naming it"
	else
		not_ok "bad --$_name: exit 2 naming it"
		diag "exit $_rc: $_e"
	fi
}
badopt partner --partner 41000
badopt partner --partner "410000' OR '1'='1"
badopt direction --direction sideways
badopt since --since 2026-13-01
badopt until --until "next tuesday"
badopt outcome --outcome "x'; DROP TABLE tmis.exchange_log; --"
badopt limit --limit 10001
badopt limit --limit -5
e=$("$T" audit list --partner 110105199001011234 2>&1)
like "a long bad value is not echoed" "$e" 'value not shown'
case $e in *19900101*) not_ok "no ID number in the error" ;; *) ok "no ID number in the error" ;; esac
is "the log is untouched" "$(pg_sql "select count(*) from tmis.exchange_log")" 6
check_fail "audit list --csv is refused" "$T" audit list --csv

# ---- audit show -------------------------------------------------------------------
out=$("$T" audit show 2)
is "audit show exits 0" "$?" 0
diag "$out"
h1=$(pg_sql "select hash from tmis.exchange_log where id = 1")
h2=$(pg_sql "select hash from tmis.exchange_log where id = 2")
like "it shows the id" "$out" '^id +2$'
like "it shows the outcome" "$out" 'outcome +accepted'
like "it shows prev_hash (entry 1's hash)" "$out" "prev_hash +$h1"
like "it shows the hash" "$out" "hash +$h2"
like "null columns as -" "$out" 'records_loaded +-'
out=$("$T" audit show 3)
like "the hostile error is shown on one line, control characters as ?" "$out" 'error +=HYPERLINK\("x"\) <script>alert\(1\)</script> "q", a\?second line'
"$T" audit show 99 >/dev/null 2>"$W/err"
is "audit show of a missing entry exits 1" "$?" 1
like "it says so" "$(cat "$W/err")" 'no exchange-log entry 99'
"$T" audit show abc >/dev/null 2>&1
is "audit show abc exits 2" "$?" 2

# ---- audit export ---------------------------------------------------------------
"$T" audit export >/dev/null 2>&1
is "export needs --csv or --json" "$?" 2
"$T" audit export --csv --json >/dev/null 2>&1
is "not both" "$?" 2
"$T" audit export --csv --partner nope >/dev/null 2>&1
is "export with a bad filter exits 2" "$?" 2

"$T" audit export --csv >"$W/log.csv"
is "export --csv exits 0" "$?" 0
is "CSV lines end in CRLF" "$(head -n 1 "$W/log.csv" | tail -c 2 | od -An -tx1 | tr -d ' ')" "0d0a"
csvcheck=$(python3 - "$W/log.csv" <<'PY'
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f))
hdr, data = rows[0], rows[1:]
print(len(hdr), len(data), ' '.join(r[0] for r in data))
ev = [r for r in data if r[0] == '3'][0]
print(ev[hdr.index('error')].startswith("'=HYPERLINK"), '\n' in ev[hdr.index('error')])
print(ev[hdr.index('partner')] == '', data[0][hdr.index('hash')] == data[1][hdr.index('prev_hash')])
PY
)
diag "$csvcheck"
is "CSV: 17 columns, 6 records, oldest first; formula cell defused; chained" "$csvcheck" "17 6 1 2 3 4 5 6
True True
True True"
is "export --csv --outcome" "$("$T" audit export --csv --outcome accepted | tail -n +2 | cut -d, -f1 | tr -d '"\r' | tr '\n' ' ')" "2 4 "

"$T" audit export --json >"$W/log.jsonl"
is "export --json exits 0" "$?" 0
jcheck=$(python3 - "$W/log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]
print(len(rows), [r['id'] for r in rows])
r3 = rows[2]
print(r3['partner'] is None, r3['outcome'], r3['error'].count('\n'), r3['bytes'])
print(rows[0]['records_loaded'], rows[0]['records_rejected'], rows[0]['sha256'] == 'ab' * 32, len(rows[0]['hash']))
PY
)
diag "$jcheck"
is "JSON lines: 6 objects, oldest first, nulls, numbers, the error intact" "$jcheck" "6 [1, 2, 3, 4, 5, 6]
True refused 1 5000
9 5 True 64"
is "export --json --partner --limit" "$("$T" audit export --json --partner 410000 --limit 2 | python3 -c 'import json,sys; print([json.loads(l)["id"] for l in sys.stdin])')" "[1, 2]"

# ---- many entries: streamed, flat memory ----------------------------------------
pg_sql "INSERT INTO tmis.exchange_log (id, at, direction, event, partner, package_id, sequence, kind, bytes, outcome, error, prev_hash, hash)
	SELECT 0, now(), 'in', 'package', '430000', 'bulk-' || g, g, 'delta', g, 'accepted', repeat('e', 400), '', ''
	FROM generate_series(1, 60000) g" >/dev/null
is "60006 entries" "$(pg_sql "select count(*) from tmis.exchange_log")" 60006
# RSS of a full export against one of 10 entries: a slurp would add the ~50 MB
# of output. A small ASan quarantine keeps freed batches from counting.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
export ASAN_OPTIONS
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$W/rss0" "$T" audit export --json --limit 10 >/dev/null
	/usr/bin/time -f %M -o "$W/rss" "$T" audit export --json >"$W/big.jsonl"
	is "export --json of 60006 entries exits 0" "$?" 0
	rss0=$(tail -n 1 "$W/rss0")
	rss=$(tail -n 1 "$W/rss")
	diag "export max RSS ${rss} KiB (10 entries: ${rss0} KiB) for $(wc -c <"$W/big.jsonl") bytes"
	if [ $((rss - rss0)) -lt 25000 ]; then
		ok "memory stays flat (RSS +$((rss - rss0)) KiB)"
	else
		not_ok "memory stays flat (RSS +$((rss - rss0)) KiB)"
	fi
else
	"$T" audit export --json >"$W/big.jsonl"
	is "export --json of 60006 entries exits 0" "$?" 0
	skip "memory stays flat" "no /usr/bin/time"
fi
is "every entry exported" "$(wc -l <"$W/big.jsonl" | tr -d ' ')" 60006
is "audit list --limit 0 lists all" "$(rows --limit 0 | wc -l | tr -d ' ')" 60006
is "audit list defaults to 100" "$(rows | wc -l | tr -d ' ')" 100
check "the chain is still intact" "$T" audit verify

done_testing
