#!/bin/sh
# demo.sh: the main job end to end on an embedded default. Starts a private
# PostgreSQL, migrates, generates a sample province (1 % dirty rows), loads
# it, shows the summary and some rejects, reloads to show "unchanged", and
# loads the shipped GB18030 provincial export through its mapping. The
# cluster is stopped and removed at the end, also on failure.
#   sh scripts/demo.sh        run the demo (DEMO_TEACHERS=N to resize)
#   sh scripts/demo.sh stop   remove what an interrupted demo left behind
cd "$(dirname "$0")/.." || exit 1
STATE=${TMPDIR:-/tmp}/tmisgw-demo.state

if [ "${1:-}" = stop ]; then
	if [ -f "$STATE" ]; then
		PG_DIR=$(cat "$STATE")
		. tests/lib/pg.sh
		PG_BINDIR=$(_pg_bindir)
		pg_stop
		rm -f "$STATE"
		echo "demo: stopped and removed its database"
	else
		echo "demo: nothing to stop"
	fi
	exit 0
fi

. tests/lib/pg.sh
T=$(pwd)/tmisgw
N=${DEMO_TEACHERS:-20000}
cleanup() { pg_stop; rm -f "$STATE"; }
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

step() { printf '\n== %s\n' "$*"; }

step "starting a private PostgreSQL"
pg_start || exit 1
echo "$PG_DIR" >"$STATE"
echo "socket directory $PGHOST, port $PGPORT (removed when the demo ends)"

step "tmisgw db migrate"
"$T" db migrate || exit 1

step "tmisgw sample --teachers $N --province 41 --dirty 0.01"
"$T" sample --teachers "$N" --province 41 --out "$PG_DIR/henan" --dirty 0.01 --seed 2026 \
	| tail -n 1 || exit 1

step "tmisgw load henan/*.csv --reject-file rejects.csv --max-reject-rate 0.05"
"$T" load --reject-file "$PG_DIR/rejects.csv" --max-reject-rate 0.05 "$PG_DIR"/henan/*.csv
rc=$?
[ $rc -eq 0 ] || { echo "demo: load failed (exit $rc)"; exit 1; }

step "some rejects (rejects.csv; keys and personal values masked)"
head -n 9 "$PG_DIR/rejects.csv" | cut -c1-160
echo "rejects by rule:"
"$PSQL" -X -q -At -F ' ' -c "SELECT rpad(rule, 18), count(*) FROM tmis.load_reject
	WHERE load_id = (SELECT max(id) FROM tmis.load_run) GROUP BY rule ORDER BY 2 DESC" | sed 's/^/  /'

step "reload of the same teacher file: nothing changes"
"$T" load "$PG_DIR/henan/teacher.csv" | grep -v '^  reject'

step "tmisgw load --mapping mappings/provinces/41/teacher.map (GB18030, Chinese headers)"
"$T" load --mapping mappings/provinces/41/teacher.map tests/data/province41/teacher.csv

step "what is stored"
"$PSQL" -X -q -c "SELECT indicator_set, count(*) AS teachers FROM tmis.teacher GROUP BY 1 ORDER BY 2 DESC"
"$PSQL" -X -q -c "SELECT id, status, rows_read, inserted, updated, unchanged, rejected, duration_ms FROM tmis.load_run ORDER BY id"

step "done; the private PostgreSQL is stopped and removed"
