#!/bin/sh
# test_serve: the gateway server (`tmisgw serve`) and client (`push`, `sync`)
# over real HTTP on loopback, with real gpg and PostgreSQL (the province and
# the centre each in their own database of one private cluster):
# configuration checks, tokens (401/403), uploads answered 202 and resends
# 200, receipts fetched, verified and recorded, sync full then delta, two
# syncs at once, a size limit (413), an interrupted upload resumed, a
# package sent with another partner's token, kill -9 of the server while it
# processes, a PostgreSQL restart, a slow client cut by the timeout, TLS.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
gpg_trap || exit 1
pg_start || exit 1
P=$(gw_home prov)
C=$(gw_home centre)
X=$(gw_home other)
W=$GPG_TMP/w
mkdir -p "$W/tok" "$W/ptok"
PORT=$((20000 + $$ % 20000))
URL=http://127.0.0.1:$PORT
SP=

SP2=
stop_server()
{
	[ -n "$SP" ] && kill "$SP" 2>/dev/null && wait "$SP" 2>/dev/null
	SP=
}
trap 'stop_server; [ -n "$SP2" ] && kill "$SP2" 2>/dev/null; _gpg_exit' EXIT

for g in "$P:410000" "$C:000000" "$X:420000"; do
	"$T" keys init --home "${g%%:*}" --org "${g##*:}" >/dev/null 2>&1
	"$T" keys export --home "${g%%:*}" >"$W/${g##*:}.asc"
done
"$T" keys trust --home "$C" --org 410000 "$W/410000.asc" >/dev/null 2>&1
"$T" keys trust --home "$C" --org 420000 "$W/420000.asc" >/dev/null 2>&1
"$T" keys trust --home "$P" --org 000000 "$W/000000.asc" >/dev/null 2>&1
"$T" keys trust --home "$X" --org 000000 "$W/000000.asc" >/dev/null 2>&1

pg_sql "create database centre" >/dev/null
DBP="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER"
DBC="host=$PGHOST port=$PGPORT dbname=centre user=$PGUSER"
csql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d centre -c "$1"; }
"$T" db migrate --db "$DBP" >/dev/null 2>&1
check "db migrate at the centre" "$T" db migrate --db "$DBC"

printf 'tok-province-41-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$W/tok/410000"
printf 'tok-province-42-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$W/tok/420000"
printf 'tok-operator-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$W/tok/operator"
chmod 600 "$W"/tok/*
cp "$W/tok/410000" "$W/ptok/000000"
chmod 600 "$W/ptok/000000"
OPT=$(cat "$W/tok/operator")
PT=$(cat "$W/tok/410000")
printf 'partner.000000.url %s\npartner.000000.token %s\n' "$URL" "$W/ptok/000000" >>"$P/config"

conf()
{
	cat <<EOF
# test server
listen 127.0.0.1:$PORT
home $C
db $DBC
tokens $W/tok
workers 2
timeout 3
max_upload 8M
EOF
}
conf >"$W/serve.conf"

start_server()
{
	"$T" serve --config "$W/serve.conf" 2>>"$W/serve.log" &
	SP=$!
	_i=0
	while [ $_i -lt 50 ]; do
		curl -fsS "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ---- configuration -----------------------------------------------------------------
{ conf | grep -v '^tokens'; } >"$W/bad1.conf"
out=$("$T" serve --config "$W/bad1.conf" 2>&1)
is "a missing key exits 2" "$?" 2
like "and is named" "$out" 'configuration key "tokens" is required'
{ conf; echo "colour blue"; } >"$W/bad2.conf"
like "an unknown key is named with its line" "$("$T" serve --config "$W/bad2.conf" 2>&1)" 'bad2.conf:9: configuration key "colour": unknown key'
{ conf | sed 's/^listen .*/listen 10.1.2.3:8443/'; } >"$W/bad3.conf"
like "plain HTTP off loopback is refused" "$("$T" serve --config "$W/bad3.conf" 2>&1)" 'plain HTTP is allowed on loopback only'
{ conf | sed 's/^workers .*/workers many/'; } >"$W/bad4.conf"
like "a bad value is named" "$("$T" serve --config "$W/bad4.conf" 2>&1)" 'configuration key "workers": want 0 to 64'
chmod 644 "$W/tok/420000"
like "a token file readable by others is refused" "$("$T" serve --config "$W/serve.conf" 2>&1)" 'tok/420000" has mode 0644; it must be'
chmod 600 "$W/tok/420000"

check "the server starts" start_server
is "GET /healthz" "$(curl -sS "$URL/healthz")" ok
is "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/packages/abc")" 401
is "a wrong token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope-nope-nope-nope' "$URL/v1/packages/abc")" 401
is "a partner on /metrics: 403" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PT" "$URL/metrics")" 403
like "the 401 has a JSON body" "$(curl -s "$URL/v1/packages/abc")" '"error": "unauthenticated", "detail":'
like "the refusals are logged" "$(csql "select count(*) from tmis.exchange_log where event = 'request' and outcome = 'refused'")" '^[3-9]$'

# ---- push: a package and its receipt ---------------------------------------------------
"$T" sample --teachers 300 --province 41 --out "$W/s" >/dev/null 2>&1
"$T" load --db "$DBP" --no-progress "$W/s/teacher.csv" "$W/s/training.csv" >/dev/null 2>&1
mkdir -p "$W/out1"
"$T" pack --home "$P" --to 000000 --kind full --seq 1 -o "$W/out1" "$W/s/teacher.csv" >/dev/null 2>&1
PKG=$(ls "$W"/out1/*.tmx)
ID=$(basename "$PKG" .tmx | cut -d- -f3-)
out=$("$T" push --home "$P" --db "$DBP" --to 000000 "$PKG" 2>&1)
is "push exits 0" "$?" 0
diag "$out"
like "it was uploaded" "$out" "uploaded $ID to 000000: received"
like "it waited for the load" "$out" '000000: loaded \(accepted\)'
like "it verified and printed the receipt" "$out" 'outcome +accepted'
is "the centre loaded 300 teachers" "$(csql "select count(*) from tmis.teacher")" 300
is "the receipt is recorded at the province" \
	"$(pg_sql "select outcome || ' ' || loaded from tmis.receipt_in where package_id = '$ID'")" "accepted 300"
check "the receipt is kept" test -f "$P/inbox/receipts/000000-$ID.tmx"
is "GET /v1/packages/ID says loaded" \
	"$(curl -s -H "Authorization: Bearer $PT" "$URL/v1/packages/$ID" | sed 's/.*"state": "\([a-z]*\)".*/\1/')" loaded
is "another partner cannot see it" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$W/tok/420000")" "$URL/v1/packages/$ID")" 404
is "the upload was fsynced into the inbox" "$(ls "$C/inbox/uploads" | wc -l)" 1
out=$("$T" push --home "$P" --db "$DBP" --to 000000 "$PKG" 2>&1)
is "pushing it again exits 0" "$?" 0
like "a resend is recognised without sending it" "$out" "already uploaded $ID to 000000: loaded"
is "nothing was loaded twice" "$(csql "select count(*) from tmis.package_in")" 1

# rename_first NAME: the province renames its first teacher through a delta load
rename_first()
{
	awk -F, -v OFS=, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "name") c = i; print; next }
		NR == 2 { $c = n; print; exit }' "$W/s/teacher.csv" >"$W/rename/teacher.csv"
	"$T" load --db "$DBP" --no-progress --mode delta "$W/rename/teacher.csv" >/dev/null 2>&1
}
mkdir -p "$W/rename"

# ---- sync: full, then delta; twice at once ----------------------------------------------
csql "truncate tmis.package_in, tmis.upload" >/dev/null
csql "set client_min_messages = warning; truncate tmis.teacher, tmis.training cascade" >/dev/null
pg_sql "truncate tmis.receipt_in" >/dev/null
out=$("$T" sync --home "$P" --db "$DBP" --to 000000 2>&1)
is "the first sync exits 0" "$?" 0
diag "$out"
like "it packs a full package, sequence 1" "$out" 'packed full sequence 1 for 000000'
is "the centre holds the province's teachers" "$(csql "select count(*) from tmis.teacher")" 300
is "and their training" "$(csql "select count(*) from tmis.training")" "$(pg_sql "select count(*) from tmis.training")"
rename_first '测试'
out=$("$T" sync --home "$P" --db "$DBP" --to 000000 2>&1)
is "the second sync exits 0" "$?" 0
like "it packs a delta with the one change" "$out" 'packed delta sequence 2 for 000000: 1 records'
is "the change reached the centre" "$(csql "select count(*) from tmis.teacher where name = '测试'")" 1
"$T" sync --home "$P" --db "$DBP" --to 000000 >"$W/s1.out" 2>&1 &
s1=$!
"$T" sync --home "$P" --db "$DBP" --to 000000 >"$W/s2.out" 2>&1
r2=$?
wait $s1
r1=$?
is "two syncs at once both succeed" "$r1 $r2" "0 0"
is "they sent sequences 3 and 4, each loaded once" \
	"$(csql "select string_agg(sequence || ':' || state, ' ' order by sequence) from tmis.package_in where sequence > 2")" "3:loaded 4:loaded"

# a sync after a failure: the server is down, the package waits, the next sync resends it
stop_server
rename_first '测试二'
"$T" sync --home "$P" --db "$DBP" --to 000000 >"$W/s3.out" 2>&1 &
s3=$!
sleep 3
kill $s3 2>/dev/null
wait $s3 2>/dev/null
like "a sync while the centre is down retries" "$(cat "$W/s3.out")" 'retrying in'
check "the server starts again" start_server
out=$("$T" sync --home "$P" --db "$DBP" --to 000000 2>&1)
is "the next sync succeeds" "$?" 0
like "it resends the unacknowledged package first" "$out" 'sequence 5 to 000000 has no receipt yet: sending it again'
is "the change reached the centre once" "$(csql "select count(*) from tmis.teacher where name = '测试二'")" 1

# ---- refusals ------------------------------------------------------------------------------
head -c $((9 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
mv "$W/big.bin" "$W/410000-9-0f5e2a7c-3b1d-4e8f-9a6b-000000000009.tmx"
out=$("$T" push --home "$P" --to 000000 --no-wait "$W/410000-9-0f5e2a7c-3b1d-4e8f-9a6b-000000000009.tmx" 2>&1)
is "an upload over max_upload fails" "$?" 3
like "with 413" "$out" 'HTTP 413'
# another province's package sent with this province's token
mkdir -p "$W/outx"
"$T" pack --home "$X" --to 000000 --kind full --seq 1 -o "$W/outx" "$W/s/teacher.csv" >/dev/null 2>&1
out=$("$T" push --home "$P" --to 000000 "$(ls "$W"/outx/*.tmx)" 2>&1)
is "a package sent with another partner's token is rejected" "$?" 3
like "by check 2" "$out" 'check 2 \(sender\): the package was uploaded with the token of "410000" but is sent by "420000"'

# ---- an interrupted upload resumes ------------------------------------------------------
mkdir -p "$W/s2"
"$T" sample --teachers 20000 --province 41 --seed 7 --out "$W/s2" >/dev/null 2>&1
mkdir -p "$W/out2"
"$T" pack --home "$P" --to 000000 --kind delta --seq 6 -o "$W/out2" "$W/s2/teacher.csv" >/dev/null 2>&1
PK2=$(ls "$W"/out2/*.tmx)
ID2=$(basename "$PK2" .tmx | cut -d- -f3-)
SHA2=$(sha256sum "$PK2" | cut -c1-64)
LEN2=$(stat -c %s "$PK2")
curl -s -o /dev/null --limit-rate 200k --max-time 1 -X POST -H "Authorization: Bearer $PT" \
	-H "X-Package-Id: $ID2" -H "X-Upload-Sha256: $SHA2" -H "X-Upload-Length: $LEN2" \
	-H 'Expect:' --data-binary "@$PK2" "$URL/v1/packages"
sleep 0.5
off=$(curl -s -H "Authorization: Bearer $PT" "$URL/v1/uploads/$SHA2" | sed 's/.*"offset": \([0-9]*\).*/\1/')
if [ "$off" -gt 0 ] && [ "$off" -lt "$LEN2" ]; then ok "the cut upload left $off of $LEN2 bytes"; else not_ok "the cut upload left part of the bytes ($off of $LEN2)"; fi
out=$("$T" push --home "$P" --db "$DBP" --to 000000 "$PK2" 2>&1)
is "push resumes it" "$?" 0
like "from where it was cut" "$out" "resuming the upload at byte $off of $LEN2"
is "the resumed package arrived whole and loaded" "$(csql "select state from tmis.upload where package_id = '$ID2'")" loaded

# ---- kill -9 while processing, then a restart -----------------------------------------------
mkdir -p "$W/out3"
"$T" pack --home "$P" --to 000000 --kind delta --seq 7 -o "$W/out3" "$W/s2/teacher.csv" >/dev/null 2>&1
PK3=$(ls "$W"/out3/*.tmx)
ID3=$(basename "$PK3" .tmx | cut -d- -f3-)
"$T" push --home "$P" --to 000000 --no-wait "$PK3" >/dev/null 2>&1
i=0
while [ "$(csql "select state from tmis.upload where package_id = '$ID3'")" = received ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -9 "$SP"
wait "$SP" 2>/dev/null
SP=
st=$(csql "select state from tmis.upload where package_id = '$ID3'")
diag "state after kill -9: $st"
check "the server starts after kill -9" start_server
out=$("$T" push --home "$P" --db "$DBP" --to 000000 "$PK3" 2>&1)
is "the package completes after the restart" "$?" 0
is "it was loaded exactly once" "$(csql "select count(*) from tmis.package_in where id = '$ID3' and state = 'loaded'")" 1
is "one load entry in the log" "$(csql "select count(*) from tmis.exchange_log where package_id = '$ID3' and event = 'package' and outcome like 'accepted%'")" 1

# ---- PostgreSQL restarts while a package is processed -----------------------------------------
mkdir -p "$W/out4"
"$T" pack --home "$P" --to 000000 --kind delta --seq 8 -o "$W/out4" "$W/s2/teacher.csv" >/dev/null 2>&1
PK4=$(ls "$W"/out4/*.tmx)
ID4=$(basename "$PK4" .tmx | cut -d- -f3-)
"$T" push --home "$P" --to 000000 --no-wait "$PK4" >/dev/null 2>&1
i=0
while [ "$(csql "select state from tmis.upload where package_id = '$ID4'")" = received ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
diag "state when PostgreSQL restarts: $(csql "select state from tmis.upload where package_id = '$ID4'")"
pg_restart >/dev/null 2>&1
out=$("$T" push --home "$P" --db "$DBP" --to 000000 "$PK4" 2>&1)
is "after a PostgreSQL restart during processing the work is retried and finishes" "$?" 0
diag "$out"
is "the package is loaded" "$(csql "select state from tmis.upload where package_id = '$ID4'")" loaded
is "exactly once" "$(csql "select count(*) from tmis.exchange_log where package_id = '$ID4' and event = 'package' and outcome like 'accepted%'")" 1

# ---- two server processes share one database: both workers claim -----------------------------
conf | sed "s/^listen .*/listen 127.0.0.1:$((PORT + 1))/; s/^workers .*/workers 1/" >"$W/serve2.conf"
"$T" serve --config "$W/serve2.conf" 2>>"$W/serve2.log" &
SP2=$!
i=0
until curl -fsS "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null 2>&1 || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
seq=9
for k in 1 2 3 4 5 6; do
	mkdir -p "$W/m$k"
	"$T" pack --home "$P" --to 000000 --kind delta --seq $seq -o "$W/m$k" "$W/s2/teacher.csv" >/dev/null 2>&1
	"$T" push --home "$P" --to 000000 --no-wait "$(ls "$W/m$k"/*.tmx)" >/dev/null 2>&1
	seq=$((seq + 1))
done
i=0
while [ "$(csql "select count(*) from tmis.upload where state in ('received', 'loading', 'verified', 'held')")" != 0 ] && [ $i -lt 300 ]; do
	sleep 0.2
	i=$((i + 1))
done
is "six packages, two processes: all loaded" "$(csql "select count(*) from tmis.package_in where sequence between 9 and 14 and state = 'loaded'")" 6
n1=$(curl -s -H "Authorization: Bearer $OPT" "$URL/metrics" | awk '/^tmisgw_package_seconds_count/ { print $2 }')
n2=$(curl -s -H "Authorization: Bearer $OPT" "http://127.0.0.1:$((PORT + 1))/metrics" | awk '/^tmisgw_package_seconds_count/ { print $2 }')
diag "packages processed: first server $n1, second $n2"
if [ "${n2:-0}" -gt 0 ]; then ok "the second process's worker claimed packages too ($n2)"; else not_ok "the second process's worker claimed packages too"; fi
kill "$SP2"
wait "$SP2" 2>/dev/null

# ---- metrics -----------------------------------------------------------------------------
curl -s -o /dev/null "$URL/v1/packages/abc"
m=$(curl -s -H "Authorization: Bearer $OPT" "$URL/metrics")
like "metrics count packages by partner and state" "$m" 'tmisgw_packages\{partner="410000",state="loaded"\} [0-9]'
like "metrics count refused requests" "$m" 'tmisgw_refused_requests_total\{reason="unauthenticated"\} [1-9]'
like "metrics count rows loaded" "$m" 'tmisgw_rows\{partner="410000",fate="loaded"\} [1-9]'
like "metrics have durations" "$m" 'tmisgw_package_seconds_count [1-9]'
# ---- a linked platform pulls over HTTP ---------------------------------------------------------
L=$(gw_home platform)
"$T" keys init --home "$L" --org P00001 >/dev/null 2>&1
"$T" keys export --home "$L" >"$W/P00001.asc"
"$T" keys trust --home "$C" --org P00001 "$W/P00001.asc" >/dev/null 2>&1
"$T" keys trust --home "$L" --org 000000 "$W/000000.asc" >/dev/null 2>&1
printf 'tok-platform-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$W/tok/P00001"
chmod 600 "$W/tok/P00001"
cp "$W/tok/P00001" "$L/centre.token"
chmod 600 "$L/centre.token"
printf 'partner.000000.url %s\npartner.000000.token %s\n' "$URL" "$L/centre.token" >>"$L/config"
stop_server
check "the server restarts with the platform's token" start_server
pg_sql "create database platform" >/dev/null
DBL="host=$PGHOST port=$PGPORT dbname=platform user=$PGUSER"
"$T" db migrate --db "$DBL" >/dev/null 2>&1
out=$("$T" pull --home "$L" --db "$DBL" --from 000000 2>&1)
is "the platform pulls" "$?" 0
diag "$out"
like "it imported the centre's teachers" "$out" 'teacher +[1-9][0-9]* records'
is "no phone reached the platform" "$("$PSQL" -X -q -At -d platform -c "select count(*) from tmis.pull_record where data ? 'phone'")" 0
is "ID numbers arrived masked" "$("$PSQL" -X -q -At -d platform -c "select count(*) from tmis.pull_record where category = 'teacher' and data->>'id_number' !~ '^[0-9]{6}[*]{8}[0-9X]{4}$'")" 0
out=$("$T" pull --home "$L" --db "$DBL" --from 000000 2>&1)
like "a second pull brings only what changed since (nothing)" "$out" '0 records'
is "a province cannot pull exports: 403" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PT" "$URL/v1/exports?since=0")" 403
is "the operator cannot either" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPT" "$URL/v1/exports?since=0")" 403

# ---- a slow client is cut; others are served -----------------------------------------------
(printf 'POST /v1/packages HTTP/1.1\r\nHost: x\r\n'; sleep 6) | timeout 10 nc -q 7 127.0.0.1 "$PORT" >"$W/loris.out" 2>&1 &
lp=$!
sleep 1
is "others are served while a slow client hangs" "$(curl -s -m 2 "$URL/healthz")" ok
wait $lp
cut=$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
t = time.time()
s.settimeout(20)
try:
    while s.recv(4096):
        pass
except Exception:
    pass
print(int(time.time() - t))
PY
)
if [ "$cut" -lt 10 ]; then ok "the server cut the idle connection after its timeout ($cut s)"; else not_ok "the server cut the idle connection ($cut s)"; fi

stop_server

# ---- TLS ----------------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1
{ conf; echo "tls_cert $W/cert.pem"; echo "tls_key $W/key.pem"; } >"$W/serve.conf"
URL=https://127.0.0.1:$PORT
start_tls()
{
	"$T" serve --config "$W/serve.conf" 2>>"$W/serve.log" &
	SP=$!
	_i=0
	while [ $_i -lt 50 ]; do
		curl -fsS --cacert "$W/cert.pem" "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
check "the server starts with TLS" start_tls
check_fail "TLS is verified: an unknown certificate is refused" curl -fsS "$URL/healthz"
sed -i "s|^partner.000000.url .*|partner.000000.url $URL|" "$P/config"
printf 'partner.000000.ca %s\n' "$W/cert.pem" >>"$P/config"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "name") c = i; print; next }
	NR == 2 { $c = "测试三"; print; exit }' "$W/s/teacher.csv" >"$W/rename/teacher.csv"
mkdir -p "$W/out5"
"$T" pack --home "$P" --to 000000 --kind delta --seq 15 -o "$W/out5" "$W/rename/teacher.csv" >/dev/null 2>&1
out=$("$T" push --home "$P" --db "$DBP" --to 000000 "$(ls "$W"/out5/*.tmx)" 2>&1)
is "push over TLS exits 0" "$?" 0
diag "$out"
is "the change arrived over TLS" "$(csql "select count(*) from tmis.teacher where name = '测试三'")" 1
sed -i "s|^partner.000000.url .*|partner.000000.url http://192.0.2.1:$PORT|" "$P/config"
out=$("$T" push --home "$P" --to 000000 "$PKG" 2>&1)
is "plain http to a non-loopback host is refused by the client" "$?" 2
like "and says why" "$out" 'use https://'
stop_server

done_testing
