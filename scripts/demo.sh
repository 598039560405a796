#!/bin/sh
# demo.sh (make demo): the whole system on one machine, with one command.
# A private PostgreSQL holds four databases: the national centre's, two
# provinces' (Henan 410000, Hubei 420000) and a linked platform's (P00001);
# each has its own gateway home and key pair. The national gateway serves on
# 127.0.0.1. The provinces load their source data, sync a full package and
# then a delta; a package is resent and loads nothing; a forged package is
# refused; the platform pulls its export. The receipts, `audit verify` and
# the /audit URL are printed, and the server is left running for a look.
#   sh scripts/demo.sh        run it (DEMO_TEACHERS=N, DEMO_PORT=P to change)
#   sh scripts/demo.sh stop   stop the server and PostgreSQL, remove it all
cd "$(dirname "$0")/.." || exit 1
STATE=${TMPDIR:-/tmp}/tmisgw-demo.state

stop()
{
	[ -f "$STATE" ] || { echo "demo: nothing to stop"; return 0; }
	. "$STATE"
	[ -n "${DEMO_SERVER:-}" ] && kill "$DEMO_SERVER" 2>/dev/null
	. tests/lib/pg.sh           # (it resets PG_DIR: set it after)
	PG_DIR=$DEMO_PG
	_pg_bindir || return 1
	pg_stop
	if [ -n "${DEMO_DIR:-}" ] && [ -d "$DEMO_DIR" ]; then
		for g in "$DEMO_DIR"/*/gnupg; do
			[ -d "$g" ] && gpgconf --homedir "$g" --kill all >/dev/null 2>&1
		done
		rm -rf "$DEMO_DIR"
	fi
	rm -f "$STATE"
	echo "demo: stopped the server and PostgreSQL and removed everything"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi
[ -f "$STATE" ] && { echo "demo: a demo is running; stopping it first"; stop; }

. tests/lib/pg.sh
T=$(pwd)/tmisgw
N=${DEMO_TEACHERS:-5000}
PORT=${DEMO_PORT:-8470}
URL=http://127.0.0.1:$PORT
D=$(mktemp -d /tmp/tmdemo.XXXXXX) || exit 1
chmod 755 "$D"
SERVER=
fail()
{
	echo "demo: $*" >&2
	[ -s "$D/serve.log" ] && tail -n 5 "$D/serve.log" >&2
	stop
	exit 1
}
trap 'fail interrupted' INT TERM

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$D|\$DEMO|g; s|$T|tmisgw|g"; "$@"; }

step "a private PostgreSQL with four databases: centre, henan, hubei, platform"
pg_start || exit 1
printf 'DEMO_PG=%s\nDEMO_DIR=%s\n' "$PG_DIR" "$D" >"$STATE"
for db in centre henan hubei platform; do
	pg_sql "create database $db" >/dev/null || fail "cannot create database $db"
	"$T" db migrate --db "host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" >/dev/null ||
		fail "db migrate failed for $db"
done
dsn() { printf 'host=%s port=%s dbname=%s user=%s' "$PGHOST" "$PGPORT" "$1" "$PGUSER"; }
echo "socket $PGHOST, port $PGPORT; migrated"

step "gateway homes and keys: centre 000000, Henan 410000, Hubei 420000, platform P00001"
for g in centre:000000 henan:410000 hubei:420000 platform:P00001; do
	"$T" keys init --home "$D/${g%%:*}" --org "${g##*:}" | head -n 1
	"$T" keys export --home "$D/${g%%:*}" >"$D/${g##*:}.asc"
done
for o in 410000 420000 P00001; do
	"$T" keys trust --home "$D/centre" --org "$o" "$D/$o.asc" >/dev/null || fail "trust $o"
done
for h in henan hubei platform; do
	"$T" keys trust --home "$D/$h" --org 000000 "$D/000000.asc" >/dev/null || fail "trust centre"
done
run "$T" keys list --home "$D/centre"

step "the national gateway on $URL (tokens per partner, mode 0600)"
mkdir -p "$D/tokens"
for o in 410000 420000 P00001 operator; do
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/tokens/$o"
done
chmod 600 "$D"/tokens/*
for h in henan:410000 hubei:420000 platform:P00001; do
	cp "$D/tokens/${h##*:}" "$D/${h%%:*}/centre.token"
	chmod 600 "$D/${h%%:*}/centre.token"
	printf 'partner.000000.url %s\npartner.000000.token %s\n' "$URL" \
		"$D/${h%%:*}/centre.token" >>"$D/${h%%:*}/config"
done
cat >"$D/serve.conf" <<EOF
listen 127.0.0.1:$PORT
home $D/centre
db $(dsn centre)
tokens $D/tokens
workers 2
EOF
"$T" serve --config "$D/serve.conf" 2>"$D/serve.log" &
SERVER=$!
echo "DEMO_SERVER=$SERVER" >>"$STATE"
i=0
until curl -fsS "$URL/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the server did not start"
	sleep 0.1
done
head -n 1 "$D/serve.log"

step "the provinces load their source systems' exports (1 % dirty rows are rejected)"
for p in henan:41 hubei:42; do
	"$T" sample --teachers "$N" --province "${p##*:}" --dirty 0.01 --seed "${p##*:}" \
		--out "$D/src-${p%%:*}" >/dev/null || fail "sample"
	"$T" load --db "$(dsn "${p%%:*}")" --no-progress "$D/src-${p%%:*}/teacher.csv" \
		"$D/src-${p%%:*}/training.csv" | grep -E '^load|^  total' | sed "s/^/${p%%:*}: /"
done

step "both provinces sync a full package to the centre"
for p in henan hubei; do
	run "$T" sync --home "$D/$p" --db "$(dsn "$p")" --to 000000 || fail "sync $p"
done

step "Henan renames a teacher (a delta load) and syncs a delta"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "name") c = i; print; next }
	NR == 2 { $c = "王小明"; print; exit }' "$D/src-henan/teacher.csv" >"$D/teacher.csv"
"$T" load --db "$(dsn henan)" --no-progress --mode delta "$D/teacher.csv" | head -n 1
run "$T" sync --home "$D/henan" --db "$(dsn henan)" --to 000000 || fail "delta sync"

step "Henan's first package is sent again: recognised, nothing loaded, the same receipt"
first=$(ls "$D"/henan/outbox/410000-1-*.tmx)
run "$T" push --home "$D/henan" --db "$(dsn henan)" --to 000000 "$first" || fail "resend"

step "a forged package: made with a key the centre does not trust, claiming to be Henan"
"$T" keys init --home "$D/forger" --org 410000 >/dev/null
"$T" keys trust --home "$D/forger" --org 000000 "$D/000000.asc" >/dev/null
mkdir -p "$D/forged"
"$T" pack --home "$D/forger" --to 000000 --kind delta --seq 3 -o "$D/forged" "$D/teacher.csv" >/dev/null
run "$T" push --home "$D/henan" --to 000000 "$(ls "$D"/forged/*.tmx)"
echo "(exit $? — refused at check 1; nothing loaded)"

step "the platform P00001 pulls what its profile allows (mappings/profiles/P00001.profile)"
run "$T" pull --home "$D/platform" --db "$(dsn platform)" --from 000000 || echo "demo: the pull failed"
echo "the platform's database (records as exported: its profile's fields only, ID numbers masked):"
"$PSQL" -X -q -d platform -c "SELECT category, count(*) AS records FROM tmis.pull_record GROUP BY 1 ORDER BY 1"
"$PSQL" -X -q -d platform -c "SELECT data FROM tmis.pull_record WHERE category = 'teacher' LIMIT 2"

step "the receipts the provinces hold"
for p in henan hubei; do
	"$PSQL" -X -q -d "$p" -c "SELECT '$p' AS province, sequence, outcome, received, loaded, rejected FROM tmis.receipt_in ORDER BY sequence"
done

step "the centre's exchange log"
"$T" audit list --db "$(dsn centre)" --limit 12
echo
run "$T" audit verify --db "$(dsn centre)"

step "done"
cat <<EOF
The national gateway is still running for you to look at:
  $URL/audit?token=$(cat "$D/tokens/operator")
  curl -H 'Authorization: Bearer $(cat "$D/tokens/operator")' $URL/metrics
Everything lives in $D and a private PostgreSQL ($PGHOST, port $PGPORT).
make demo-stop stops it and removes it all.
EOF
trap - INT TERM
exit 0
