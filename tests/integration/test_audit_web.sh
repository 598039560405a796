#!/bin/sh
# test_audit_web: the operators' /audit page and GET /v1/audit, served by
# `tmisgw serve` from a real PostgreSQL and looked at by headless Chromium:
# a screenshot, and DOM assertions on the dumped page (rows, a filter by
# outcome, the detail view with the hash, nothing external, no ID number).
# The browser part skips visibly only when chromium cannot be had (as root
# it tries `apt-get install -y chromium` once).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN

find_chromium()
{
	for _c in chromium chromium-browser google-chrome; do
		if command -v "$_c" >/dev/null 2>&1; then
			command -v "$_c"
			return 0
		fi
	done
	return 1
}
CHROMIUM=$(find_chromium)
if [ -z "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	diag "chromium not found; trying apt-get install -y chromium"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
		>/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
			>/dev/null 2>&1; }
	CHROMIUM=$(find_chromium)
fi

gpg_trap || exit 1
SRV_PID=
stop_all()
{
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
		SRV_PID=
	fi
	_gpg_exit
}
trap 'stop_all' EXIT
trap 'stop_all; trap - EXIT; exit 130' INT
trap 'stop_all; trap - EXIT; exit 143' TERM
pg_start || exit 1
W=$GPG_TMP/work
mkdir -p "$W"

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
add in  package 410000 9f0c1e6a-0000-4000-8000-000000000001 1 full 241118 9 5 accepted-with-rejects NULL
add out receipt 410000 9f0c1e6a-0000-4000-8000-000000000002 1 receipt 3000 NULL NULL accepted NULL
add in  package NULL NULL NULL NULL 5000 NULL NULL refused '<script>alert(1)</script> no good signature on "x.tmx"'
add in  package 420000 9f0c1e6a-0000-4000-8000-000000000003 1 delta 777 12 0 accepted NULL
add in  package 430000 NULL NULL NULL 66 NULL NULL refused 'signer 1234ABCD… is not in the trust store'
add out pack 420000 9f0c1e6a-0000-4000-8000-000000000004 2 delta 888 NULL NULL packed NULL
NENT=$(pg_sql "select count(*) from tmis.exchange_log")
H3=$(pg_sql "select hash from tmis.exchange_log where id = 3")
is "six entries" "$NENT" 6

# ---- the server ---------------------------------------------------------------------
HOME_DIR=$(gw_home centre)
check "keys init" "$T" keys init --home "$HOME_DIR" --org 000000
mkdir -m 700 "$W/tokens"
OPTOK=operator-token-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
PTOK=partner-token-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
(umask 077 && echo "$OPTOK" >"$W/tokens/operator" && echo "$PTOK" >"$W/tokens/410000")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + $$ % 20000)))
cat >"$W/serve.conf" <<CONF
listen 127.0.0.1:$PORT
home $HOME_DIR
db host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER
tokens $W/tokens
CONF
"$T" serve --config "$W/serve.conf" >"$W/serve.log" 2>&1 &
SRV_PID=$!
URL=http://127.0.0.1:$PORT
up=0
for _i in $(seq 1 100); do
	if curl -fsS "$URL/healthz" >/dev/null 2>&1; then
		up=1
		break
	fi
	kill -0 "$SRV_PID" 2>/dev/null || break
	sleep 0.2
done
if [ "$up" != 1 ]; then
	not_ok "the server answers /healthz"
	diag "$(cat "$W/serve.log")"
	done_testing
fi
ok "the server answers /healthz"

# code PATH [curl args]: the HTTP status of GET PATH
code() { _p=$1; shift; curl -s -o "$W/body" -w '%{http_code}' "$@" "$URL$_p"; }

st=$(code /v1/audit -H "Authorization: Bearer $OPTOK")
is "GET /v1/audit as the operator: 200" "$st" 200
is "a JSON array of every entry, newest first" \
	"$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a), [e["id"] for e in a])' "$W/body")" \
	"6 [6, 5, 4, 3, 2, 1]"
is "GET /v1/audit?outcome=refused&limit=1" \
	"$(code '/v1/audit?outcome=refused&limit=1' -H "Authorization: Bearer $OPTOK")$(python3 -c 'import json,sys; print([e["id"] for e in json.load(open(sys.argv[1]))])' "$W/body")" \
	"200[5]"
is "GET /v1/audit?partner=410000&direction=out" \
	"$(code '/v1/audit?partner=410000&direction=out' -H "Authorization: Bearer $OPTOK")$(python3 -c 'import json,sys; print([e["id"] for e in json.load(open(sys.argv[1]))])' "$W/body")" \
	"200[2]"
is "a bad filter: 400" "$(code '/v1/audit?direction=sideways' -H "Authorization: Bearer $OPTOK")" 400
like "the error names it" "$(cat "$W/body")" 'direction'
is "an unknown filter: 400" "$(code '/v1/audit?sort=id' -H "Authorization: Bearer $OPTOK")" 400
is "a partner's token: 403" "$(code /v1/audit -H "Authorization: Bearer $PTOK")" 403
is "no token: 401" "$(code /v1/audit)" 401
is "a wrong token: 401" "$(code /v1/audit -H "Authorization: Bearer not-a-token-at-all")" 401
is "GET /audit without a token: 401" "$(code /audit)" 401
is "GET /audit with a partner's token: 403" "$(code "/audit?token=$PTOK")" 403
is "GET /audit as the operator (bearer): 200" "$(code /audit -H "Authorization: Bearer $OPTOK")" 200
is "GET /audit?id=99: 404" "$(code "/audit?id=99&token=$OPTOK")" 404

# ---- headless Chromium ------------------------------------------------------------
if [ -z "$CHROMIUM" ]; then
	skip "audit page in headless Chromium" "chromium is not installed and could not be installed"
	done_testing
fi
diag "using $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
chrome()
{
	timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --no-first-run --user-data-dir="$W/chrome" \
		--window-size=1280,900 "$@" 2>>"$W/chrome.log"
}
PAGE="$URL/audit?token=$OPTOK"

rm -f "$W/audit.png"
chrome --screenshot="$W/audit.png" "$PAGE" >/dev/null
if [ -f "$W/audit.png" ] && [ "$(wc -c <"$W/audit.png")" -gt 10000 ] &&
   [ "$(head -c 8 "$W/audit.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
	ok "screenshot: a PNG of $(wc -c <"$W/audit.png") bytes"
else
	not_ok "screenshot: a non-trivial PNG"
	diag "$(tail -n 20 "$W/chrome.log")"
fi
mkdir -p build/test-logs 2>/dev/null && cp "$W/audit.png" build/test-logs/audit-page.png 2>/dev/null &&
	diag "screenshot kept in build/test-logs/audit-page.png"

chrome --dump-dom "$PAGE" >"$W/list.html"
dom=$(cat "$W/list.html")
like "the DOM has the filter form" "$dom" '<form id="filters"'
like "the DOM has the entries table" "$dom" '<table id="entries">'
# the server logs the refused requests above: count what the log holds now
NENT=$(pg_sql "select count(*) from tmis.exchange_log")
is "the table has a row per entry" "$(grep -o '<tr class="entry ' "$W/list.html" | wc -l | tr -d ' ')" "$NENT"
like "the chain status says intact" "$dom" "<p id=\"chain\" class=\"chain-ok\">Chain intact: $NENT entries"
like "each row links to its detail view" "$dom" 'href="/audit\?id=3"'
like "the outcome is a class" "$dom" '<tr class="entry outcome-refused dir-in" id="entry-5"'
like "the hostile error is text" "$dom" '&lt;script&gt;alert\(1\)&lt;/script&gt;'

chrome --dump-dom "$URL/audit?outcome=refused&token=$OPTOK" >"$W/refused.html"
is "filtered by outcome: the refused rows" "$(grep -o '<tr class="entry [^"]*"' "$W/refused.html" | wc -l | tr -d ' ')" \
	"$(pg_sql "select count(*) from tmis.exchange_log where outcome = 'refused'")"
is "...all refused" "$(grep -o '<tr class="entry [^"]*"' "$W/refused.html" | grep -vc 'outcome-refused')" 0
like "the outcome select keeps the choice" "$(cat "$W/refused.html")" '<option value="refused" selected="?"?>'

chrome --dump-dom "$URL/audit?limit=2&offset=2&token=$OPTOK" >"$W/page2.html"
is "paging: limit 2 offset 2" "$(grep -o 'id="entry-[0-9]*"' "$W/page2.html" | tr '\n' ' ')" \
	"$(pg_sql "select string_agg('id=\"entry-' || id || '\"', ' ' order by id desc) || ' ' from (select id from tmis.exchange_log order by id desc limit 2 offset 2) x")"
like "a newer link" "$(cat "$W/page2.html")" 'id="newer"'
like "an older link" "$(cat "$W/page2.html")" 'id="older"'

chrome --dump-dom "$URL/audit?id=3&token=$OPTOK" >"$W/detail.html"
det=$(cat "$W/detail.html")
like "the detail view shows the hash" "$det" "<tr id=\"f-hash\"><th>hash</th><td class=\"hash\"><code>$H3</code>"
like "...and prev_hash, sha256, signer" "$det" 'id="f-prev_hash".*|id="f-sha256"'
for f in id at direction event partner package_id sequence kind bytes sha256 signer_fpr records_loaded records_rejected outcome error prev_hash hash; do
	case $det in
	*"id=\"f-$f\""*) ;;
	*) missing="$missing $f" ;;
	esac
done
is "the detail view lists every column" "${missing:-}" ""

for p in list refused page2 detail; do
	cat "$W/$p.html"
done >"$W/all.html"
bad=$(grep -Eio '<script|<link|<img|<iframe|<object|@import|url\(|https?://' "$W/all.html" | sort -u | tr '\n' ' ')
is "no script, no external reference in any page" "$bad" ""
# an ID number: 17 digits and a digit or X, not inside a longer hex run
idn=$(sed -E 's/[0-9a-fA-F]{40,}//g' "$W/all.html" | grep -Eo '(^|[^0-9A-Za-z])[0-9]{17}[0-9Xx]([^0-9A-Za-z]|$)' | head -n 1)
is "no 18-digit ID number anywhere" "$idn" ""

kill "$SRV_PID" 2>/dev/null
wait "$SRV_PID" 2>/dev/null
SRV_PID=
done_testing
