#!/bin/sh
# soak.sh (make soak): the national gateway under load and faults, on real
# PostgreSQL, gpg and HTTP over loopback.
#
#   1. 32 provinces upload a full package each (SOAK_TEACHERS teachers, default
#      10000) at the same time, while an unauthenticated flood hammers the
#      server; every package must load exactly once and nothing be lost; the
#      server's peak RSS is reported (target <= 128 MB).
#   2. The same 32 provinces send a second package each and the server is
#      killed (-9) during the uploads; then a third each, and the server is
#      killed while it processes them. After each restart the provinces push
#      again, and every package must end loaded exactly once.
# Prints one line per check and "N passed, N failed"; exit 1 on a failure.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

T=$(pwd)/tmisgw
N=${SOAK_TEACHERS:-10000}
PROVS="11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 66"
gpg_trap || exit 1
pg_start || exit 1
W=$GPG_TMP/w
C=$GPG_TMP/c
mkdir -p "$W/tok"
PORT=$((30000 + $$ % 20000))
URL=http://127.0.0.1:$PORT
SP=
stop_server() { [ -n "$SP" ] && kill "$SP" 2>/dev/null && wait "$SP" 2>/dev/null; SP=; }
trap 'stop_server; _gpg_exit' EXIT
say() { printf '# %s\n' "$*"; }

"$T" keys init --home "$C" --org 000000 >/dev/null 2>&1
"$T" keys export --home "$C" >"$W/c.asc"
"$T" db migrate >/dev/null 2>&1 || { echo "soak: db migrate failed"; exit 1; }
say "making 32 provinces of $N teachers"
for pp in $PROVS; do
	H=$GPG_TMP/p$pp
	"$T" keys init --home "$H" --org "${pp}0000" >/dev/null 2>&1
	"$T" keys export --home "$H" >"$W/$pp.asc"
	"$T" keys trust --home "$C" --org "${pp}0000" "$W/$pp.asc" >/dev/null 2>&1
	"$T" keys trust --home "$H" --org 000000 "$W/c.asc" >/dev/null 2>&1
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/tok/${pp}0000"
	chmod 600 "$W/tok/${pp}0000"
	mkdir -p "$H/tok"
	cp "$W/tok/${pp}0000" "$H/tok/000000"
	chmod 600 "$H/tok/000000"
	printf 'partner.000000.url %s\npartner.000000.token %s\n' "$URL" "$H/tok/000000" >>"$H/config"
	"$T" sample --teachers "$N" --province "$pp" --seed "$pp" --out "$W/s$pp" >/dev/null 2>&1
	for seq in 1 2 3; do
		mkdir -p "$W/o$pp.$seq"
		# sequences 2 and 3 resend the teachers as deltas: upserts that change nothing
		"$T" pack --home "$H" --to 000000 --kind "$([ $seq = 1 ] && echo full || echo delta)" \
			--seq $seq -o "$W/o$pp.$seq" "$W/s$pp/teacher.csv" >/dev/null 2>&1 ||
			{ echo "soak: pack failed for $pp"; exit 1; }
	done
done
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/tok/operator"
chmod 600 "$W/tok/operator"
cat >"$W/serve.conf" <<EOF
listen 127.0.0.1:$PORT
home $C
db host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER
tokens $W/tok
workers 2
threads 8
max_connections 256
per_ip_connections 200
EOF
start_server()
{
	"$T" serve --config "$W/serve.conf" 2>>"$W/serve.log" &
	SP=$!
	_i=0
	while [ $_i -lt 100 ]; do
		curl -fsS "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
rss() { awk '/VmHWM/ { print $2 }' "/proc/$SP/status" 2>/dev/null; }
# push_all SEQ: every province pushes its package SEQ at once; waits
PUSHES=
push_all()
{
	start_pushes "$1"
	wait_pushes
}
# start_pushes SEQ [OPTION...]: the same in the background, with push's OPTIONs
start_pushes()
{
	_seq=$1
	shift
	PUSHES=
	for pp in $PROVS; do
		"$T" push --home "$GPG_TMP/p$pp" --to 000000 "$@" "$(ls "$W/o$pp.$_seq"/*.tmx)" \
			>"$W/push$pp.$_seq.log" 2>&1 &
		PUSHES="$PUSHES $!"
	done
}
wait_pushes()
{
	for j in $PUSHES; do
		wait "$j" 2>/dev/null
	done
	PUSHES=
}
loaded() { pg_sql "select count(*) from tmis.package_in where sequence = $1 and state = 'loaded'"; }

# ---- 1: 32 at once, under a flood ------------------------------------------------------
check "the server starts" start_server
say "32 uploads at once, with an unauthenticated flood"
( i=0; while [ $i -lt 3000 ]; do curl -s -o /dev/null "$URL/v1/packages/x"; i=$((i + 1)); done ) &
FLOOD=$!
t0=$(date +%s)
push_all 1
t1=$(date +%s)
kill $FLOOD 2>/dev/null
wait $FLOOD 2>/dev/null
FLOOD=
is "all 32 packages loaded exactly once" "$(loaded 1)" 32
is "nothing lost: every teacher is there" "$(pg_sql "select count(*) from tmis.teacher")" $((32 * N))
is "no package loaded twice" "$(pg_sql "select count(*) from tmis.exchange_log where event = 'package' and sequence = 1 and outcome like 'accepted%'")" 32
fails=$(grep -LE 'outcome +accepted' "$W"/push*.1.log | wc -l)
is "every push got its verified receipt" "$fails" 0
r=$(rss)
say "32 x $N teachers in $((t1 - t0)) s; server peak RSS $((r / 1024)) MB"
if [ "$r" -le $((128 * 1024)) ]; then ok "server RSS <= 128 MB with 32 concurrent uploads ($((r / 1024)) MB)"; else not_ok "server RSS <= 128 MB ($((r / 1024)) MB)"; fi
like "the flood was refused and counted" \
	"$(curl -s -H "Authorization: Bearer $(cat "$W/tok/operator")" "$URL/metrics")" \
	'tmisgw_refused_requests_total\{reason="unauthenticated"\} [0-9]{3,}'
like "the log holds a bounded number of the flood's refusals" \
	"$(pg_sql "select count(*) < 400 from tmis.exchange_log where event = 'request'")" t

# ---- 2: kill -9 during uploads and during processing -------------------------------------
say "kill -9 during the uploads"
start_pushes 2
sleep 0.3
kill -9 "$SP"
wait "$SP" 2>/dev/null
SP=
sleep 1
# the pushes keep retrying and polling; the restarted server finishes them
check "the server restarts" start_server
wait_pushes
push_all 2
is "after the kill during the uploads all 32 second packages loaded exactly once" "$(loaded 2)" 32
is "exactly one load of each in the log" \
	"$(pg_sql "select count(distinct partner) || ' ' || count(*) from tmis.exchange_log where event = 'package' and sequence = 2 and outcome like 'accepted%'")" "32 32"

say "kill -9 while processing"
start_pushes 3 --no-wait
wait_pushes
i=0
while [ "$(pg_sql "select count(*) from tmis.upload where state in ('loading', 'verified')")" = 0 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
say "$(loaded 3) of 32 loaded, $(pg_sql "select count(*) from tmis.upload where state in ('loading', 'verified')") being processed at the kill"
kill -9 "$SP"
wait "$SP" 2>/dev/null
SP=
check "the server restarts again" start_server
push_all 3
is "after the kill while processing all 32 third packages loaded exactly once" "$(loaded 3)" 32
is "exactly one load of each in the log" \
	"$(pg_sql "select count(distinct partner) || ' ' || count(*) from tmis.exchange_log where event = 'package' and sequence = 3 and outcome like 'accepted%'")" "32 32"
is "still every teacher once" "$(pg_sql "select count(*) from tmis.teacher")" $((32 * N))
is "no upload left waiting" "$(pg_sql "select count(*) from tmis.upload where state not in ('loaded')")" 0
stop_server
done_testing
