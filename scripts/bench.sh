#!/bin/sh
# bench.sh: `make bench` — tmisgw load against psql \copy and pgloader, run
# side by side in one private cluster so that only the ratios matter.
#
#   BENCH_TEACHERS=N   teachers in the sample (default 1000000)
#   BENCH_REPS=R       repetitions of each contender (default 3; medians)
#   BENCH_ALL=0        skip the all-categories comparison (the slowest part)
#   BENCH_XML=0        skip the XML adapter figures
#   BENCH_PKG=0        skip the exchange-package figures (pack, load PKG)
#   BENCH_SERVE=0      skip the server figures (upload speed, RSS, sync end to end)
#   BENCH_STRICT=1     exit 1 when a target is missed (default: report only)
#   TMISGW_BIN         binary to measure (default ./tmisgw)
#
# Every contender loads into an empty schema (DROP SCHEMA tmis CASCADE, then
# tmisgw db migrate, then CHECKPOINT) with the same tables, indexes and
# constraints and the same server settings. The binary is copied first, so a
# rebuild during the run changes nothing. The samples, logs and the cluster
# live in temp directories removed at exit. Exits 1 when a contender
# fails outright (with its log on stderr).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/pg.sh

N=${BENCH_TEACHERS:-1000000}
REPS=${BENCH_REPS:-3}
T=${TMISGW_BIN:-$(pwd)/tmisgw}
case $N in ''|*[!0-9]*) echo "bench: BENCH_TEACHERS must be a number" >&2; exit 2;; esac
case $REPS in ''|*[!0-9]*|0) echo "bench: BENCH_REPS must be a positive number" >&2; exit 2;; esac
[ "$N" -ge 10 ] || { echo "bench: BENCH_TEACHERS must be at least 10" >&2; exit 2; }
[ -x "$T" ] || { echo "bench: no binary at $T (run make tmisgw)" >&2; exit 1; }
N10=$((N / 10))

W=$(mktemp -d /tmp/tmisgw-bench.XXXXXX) || exit 1
cleanup()
{
	pg_stop
	rm -rf "$W"
}
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

# measure a snapshot: a rebuild during the run must not change the contender
cp "$T" "$W/tmisgw" || exit 1
T=$W/tmisgw

say()
{
	printf '%s\n' "$*" >&2
}

die()
{
	say "bench: $1"
	[ -n "${2:-}" ] && [ -f "$2" ] && tail -n 30 "$2" >&2
	exit 1
}

# ---- tools ----------------------------------------------------------------
apt_install()
{
	[ "$(id -u)" = 0 ] || return 1
	say "bench: installing $1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >"$W/apt.log" 2>&1 && return 0
	apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >"$W/apt.log" 2>&1
}

TIME_BIN=/usr/bin/time
[ -x "$TIME_BIN" ] || apt_install time || TIME_BIN=
[ -n "$TIME_BIN" ] || say "bench: /usr/bin/time is missing (apt-get install time): no peak RSS"

PGLOADER=$(command -v pgloader 2>/dev/null)
if [ -z "$PGLOADER" ] && apt_install pgloader; then
	PGLOADER=$(command -v pgloader 2>/dev/null)
fi
[ -n "$PGLOADER" ] || say "bench: pgloader is missing and cannot be installed (apt-get install pgloader): skipping it"

# timed LOG CMD...: runs CMD with its output in LOG; sets secs (wall clock)
# and rss_kb (peak RSS, "n/a" without /usr/bin/time); returns CMD's status.
timed()
{
	_log=$1
	shift
	_t0=$(date +%s.%N)
	if [ -n "$TIME_BIN" ]; then
		"$TIME_BIN" -o "$W/time.out" -f %M "$@" >"$_log" 2>&1
	else
		"$@" >"$_log" 2>&1
	fi
	_rc=$?
	_t1=$(date +%s.%N)
	secs=$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f", b - a }')
	rss_kb=n/a
	[ -n "$TIME_BIN" ] && rss_kb=$(tail -n 1 "$W/time.out")
	return $_rc
}

# median V...: the median of numbers (mean of the middle two for an even count)
median()
{
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maxof()
{
	printf '%s\n' "$@" | sort -g | tail -n 1
}

minof()
{
	printf '%s\n' "$@" | sort -g | head -n 1
}

calc()
{
	awk "BEGIN { printf \"%.2f\", $1 }"
}

# fresh: an empty schema with every table, index and constraint, checkpointed
# so that no contender pays for the previous one's dirty buffers.
# fresh [DSN]: an empty schema, checkpointed, in the bench database or DSN's
fresh()
{
	"$PSQL" -X -q -v ON_ERROR_STOP=1 ${1:+-d "$1"} \
		-c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS tmis CASCADE" &&
		"$T" db migrate ${1:+--db "$1"} >"$W/migrate.log" 2>&1 &&
		"$PSQL" -X -q ${1:+-d "$1"} -c "CHECKPOINT" ||
		die "cannot recreate the schema" "$W/migrate.log"
}

count_teachers()
{
	pg_sql "SELECT count(*) FROM tmis.teacher"
}

# tm_load NAME FILE...: tmisgw load with timing; dies on failure
tm_load()
{
	_name=$1
	shift
	timed "$W/$_name.log" "$T" load --no-progress --reject-file "$W/$_name.rej" "$@" ||
		die "tmisgw load ($_name) failed" "$W/$_name.log"
}

# rows_read LOG: the "read" column of the summary's total line
rows_read()
{
	awk '$1 == "total" { print $2; exit }' "$1"
}

# ---- samples ----------------------------------------------------------------
say "bench: generating samples of $N and $N10 teachers (clean) and $N (1 % dirty) in $W"
"$T" sample --teachers "$N" --province 41 --dirty 0 --out "$W/clean" >"$W/sample.log" 2>&1 ||
	die "tmisgw sample failed" "$W/sample.log"
"$T" sample --teachers "$N10" --province 41 --dirty 0 --out "$W/tenth" >"$W/sample.log" 2>&1 ||
	die "tmisgw sample failed" "$W/sample.log"
"$T" sample --teachers "$N" --province 41 --dirty 0.01 --out "$W/dirty" >"$W/sample.log" 2>&1 ||
	die "tmisgw sample failed" "$W/sample.log"
for f in "$W"/tenth/*.csv "$W"/dirty/*.csv; do
	case $f in */teacher.csv) ;; *) rm -f "$f";; esac
done
CSV=$W/clean/teacher.csv
COLS=$(head -n 1 "$CSV")
TOTAL_ROWS=$(cat "$W"/clean/*.csv | wc -l)
TOTAL_ROWS=$((TOTAL_ROWS - $(ls "$W"/clean/*.csv | wc -l)))

# ---- server -----------------------------------------------------------------
pg_start || exit 1
SETTINGS=$(pg_sql "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
	FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes',
	'shared_buffers', 'max_wal_size', 'wal_level', 'autovacuum', 'maintenance_work_mem', 'work_mem')")
PGVER=$(pg_sql "SHOW server_version")

# pgloader command file: the same columns into the same table over the socket
if [ -n "$PGLOADER" ]; then
	cat >"$W/teacher.load" <<EOF
LOAD CSV
     FROM '$CSV' WITH ENCODING utf-8 ($COLS)
     INTO postgresql://$PGUSER@unix:$PGHOST:$PGPORT/$PGDATABASE
     TARGET TABLE tmis.teacher ($COLS)
     WITH skip header = 1,
          fields terminated by ',',
          fields optionally enclosed by '"',
          fields escaped by double-quote;
EOF
	mkdir -p "$W/pgloader"
fi

# ---- teacher.csv: tmisgw, reload, \copy, dirty, pgloader, alternating --------
t_load= t_reload= t_copy= t_dirty= t_pgl= rss_n= rss_n10=
r=1
# the teacher contenders, one round each
bench_clean()
{
	fresh
	tm_load load "$CSV"
	t_load="$t_load $secs"
	first=$secs
	rss_n="$rss_n $rss_kb"
	[ "$(count_teachers)" = "$N" ] || die "tmisgw load stored $(count_teachers) of $N teachers" "$W/load.log"
	tm_load reload "$CSV"
	t_reload="$t_reload $secs"
	say "  tmisgw load $first s ($(rows_read "$W/load.log") rows), reload $secs s"
}
bench_copy()
{
	fresh
	timed "$W/copy.log" "$PSQL" -X -q -v ON_ERROR_STOP=1 \
		-c "\\copy tmis.teacher ($COLS) FROM '$CSV' WITH (FORMAT csv, HEADER true)" ||
		die "psql \\copy failed" "$W/copy.log"
	t_copy="$t_copy $secs"
	[ "$(count_teachers)" = "$N" ] || die "psql \\copy stored $(count_teachers) of $N teachers"
	say "  psql \\copy $secs s"
}
bench_dirty()
{
	fresh
	tm_load dirty "$W/dirty/teacher.csv"
	t_dirty="$t_dirty $secs"
	dirty_read=$(rows_read "$W/dirty.log")
	say "  tmisgw load (1 % dirty) $secs s ($dirty_read rows, $(($(wc -l <"$W/dirty.rej") - 1)) rejected)"
}
bench_pgloader()
{
	[ -n "$PGLOADER" ] || return 0
	fresh
	if timed "$W/pgloader.log" "$PGLOADER" --root-dir "$W/pgloader" \
		--logfile "$W/pgloader/pgloader.log" "$W/teacher.load" &&
		[ "$(count_teachers)" = "$N" ]; then
		t_pgl="$t_pgl $secs"
		say "  pgloader $secs s"
	else
		say "bench: pgloader failed or stored $(count_teachers) of $N teachers; skipping it:"
		tail -n 20 "$W/pgloader.log" >&2
		PGLOADER=
	fi
}

while [ "$r" -le "$REPS" ]; do
	say "bench: round $r of $REPS"
	# even rounds run the contenders in reverse order, so none gains from its
	# place in the round (the state the previous one left, the machine's drift)
	order="clean copy dirty pgloader"
	[ $((r % 2)) = 0 ] && order="pgloader dirty copy clean"
	for which in $order; do
		bench_$which
	done

	fresh
	tm_load tenth "$W/tenth/teacher.csv"
	rss_n10="$rss_n10 $rss_kb"
	say "  peak RSS: $N rows ${rss_n##* } KB, $N10 rows $rss_kb KB"
	r=$((r + 1))
done

# ---- every category: tmisgw load DIR/*.csv vs one \copy per file --------------
t_all= t_allcopy= all_rej=
if [ "${BENCH_ALL:-1}" != 0 ]; then
	say "bench: all categories ($TOTAL_ROWS rows)"
	for f in "$W"/clean/*.csv; do
		printf '\\copy tmis.%s (%s) FROM '\''%s'\'' WITH (FORMAT csv, HEADER true)\n' \
			"$(basename "$f" .csv)" "$(head -n 1 "$f")" "$f"
	done >"$W/copy_all.sql"
	fresh
	tm_load all "$W"/clean/*.csv
	t_all=$secs
	rss_all=$rss_kb
	all_rej=$(awk '$1 == "total" { print $NF; exit }' "$W/all.log")
	say "  tmisgw load $secs s (peak RSS $rss_kb KB, $all_rej rejected)"
	fresh
	timed "$W/copy_all.log" "$PSQL" -X -q -v ON_ERROR_STOP=1 -f "$W/copy_all.sql" ||
		die "psql \\copy of every file failed" "$W/copy_all.log"
	t_allcopy=$secs
	say "  psql \\copy $secs s"
fi

# ---- XML adapter: parse + map + validate, no database ----------------------------
# Canonical training XML made from the clean sample's training.csv: 1,000,000
# records for the throughput figure, and files of about 100 MB and 1 GB for
# the memory comparison. CPU time (user + sys) is what one core spends.
x_mbs= x_rss_s= x_rss_l=
if [ "${BENCH_XML:-1}" != 0 ] && [ -n "$TIME_BIN" ] && command -v python3 >/dev/null; then
	say "bench: XML adapter"
	python3 - "$W/clean/training.csv" "$W" <<'PY'
import csv, sys, itertools
from xml.sax.saxutils import escape
src, w = sys.argv[1], sys.argv[2]
def write(path, limit_records=None, limit_bytes=None):
    with open(src, newline="", encoding="utf-8") as f, open(path, "w", encoding="utf-8") as o:
        r = csv.reader(f)
        hdr = next(r)
        o.write('<?xml version="1.0" encoding="UTF-8"?>\n<records xmlns="urn:tmis:indicators:1" category="training">\n')
        n = size = 0
        rows = itertools.cycle(list(itertools.islice(r, 2000000)))
        for row in rows:
            if (limit_records and n >= limit_records) or (limit_bytes and size >= limit_bytes):
                break
            rec = "<training>" + "".join("<%s>%s</%s>" % (h, escape(v), h) for h, v in zip(hdr, row)) + "</training>\n"
            o.write(rec)
            n += 1
            size += len(rec.encode())
        o.write("</records>\n")
write(w + "/training_1m.xml", limit_records=1000000)
write(w + "/training_100m.xml", limit_bytes=100 << 20)
write(w + "/training_1g.xml", limit_bytes=1 << 30)
PY
	xml_run()
	{
		"$TIME_BIN" -f "%U %S %M" -o "$W/xml.time" "$T" inspect --count \
			--mapping mappings/canonical/training.xml.map "$1" >"$W/xml.out" 2>&1 ||
			die "inspect of $1 failed" "$W/xml.out"
		read -r xu xs xm <"$W/xml.time"
	}
	xml_run "$W/training_1m.xml"
	bytes=$(stat -c %s "$W/training_1m.xml")
	x_mbs=$(awk -v b="$bytes" -v u="$xu" -v s="$xs" 'BEGIN { printf "%.1f", b / 1e6 / (u + s) }')
	say "  1,000,000 records, $((bytes / 1000000)) MB: $x_mbs MB/s of CPU ($(cat "$W/xml.out"))"
	xml_run "$W/training_100m.xml"
	x_rss_s=$xm
	xml_run "$W/training_1g.xml"
	x_rss_l=$xm
	say "  peak RSS: 100 MB input $x_rss_s KB, 1 GB input $x_rss_l KB"
fi

# ---- exchange packages: pack and load PKG vs tar+gpg and plain load ---------------
# teacher.csv plus the first 3 training rows per teacher, as canonical files;
# a province home packs them for the centre, which loads the package.
t_pack= t_targpg= t_lpkg= t_lplain= p_rss_n= p_rss_n10=
if [ "${BENCH_PKG:-1}" != 0 ] && command -v gpg >/dev/null && command -v zstd >/dev/null; then
	say "bench: exchange packages"
	. tests/lib/gpg.sh
	GPG_TMP=$W/g
	mkdir -p "$GPG_TMP" "$W/pk/data" "$W/pk10/data" "$W/pkout"
	trap 'gpg_cleanup; cleanup' EXIT
	ln -s "$CSV" "$W/pk/data/teacher.csv"
	head -n $((3 * N + 1)) "$W/clean/training.csv" >"$W/pk/data/training.csv"
	head -n $((N10 + 1)) "$CSV" >"$W/pk10/data/teacher.csv"
	head -n $((3 * N10 + 1)) "$W/clean/training.csv" >"$W/pk10/data/training.csv"
	PH=$GPG_TMP/p CH=$GPG_TMP/c
	"$T" keys init --home "$PH" --org 410000 >/dev/null &&
		"$T" keys init --home "$CH" --org 000000 >/dev/null &&
		"$T" keys export --home "$PH" >"$W/p.asc" &&
		"$T" keys export --home "$CH" >"$W/c.asc" &&
		"$T" keys trust --home "$CH" --org 410000 "$W/p.asc" >/dev/null &&
		"$T" keys trust --home "$PH" --org 000000 "$W/c.asc" >/dev/null ||
		die "cannot set up the gateway homes"
	CFPR=$(gpg --homedir "$CH/gnupg" --with-colons --list-secret-keys 2>/dev/null |
		awk -F: '/^fpr:/ { print $10; exit }')
	# the same manifest tmisgw writes, for the tar + gpg baseline
	(cd "$W/pk" && tmx_manifest 410000 000000 00000000-0000-4000-8000-000000000001 1 full \
		data/teacher.csv data/training.csv >manifest.xml)
	pkgseq=1   # every round starts from a fresh database: sequence 1
	r=1
	while [ "$r" -le "$REPS" ]; do
		say "bench: package round $r of $REPS"
		rm -f "$W"/pkout/*
		timed "$W/pack.log" "$T" pack --home "$PH" --to 000000 --kind full \
			--seq "$pkgseq" -o "$W/pkout" "$W/pk/data/teacher.csv" "$W/pk/data/training.csv" ||
			die "tmisgw pack failed" "$W/pack.log"
		t_pack="$t_pack $secs"
		PKGF=$(ls "$W"/pkout/*.tmx)
		timed "$W/targpg.log" sh -c "cd '$W/pk' && tar --zstd -chf - manifest.xml data/teacher.csv data/training.csv |
			gpg --homedir '$PH/gnupg' --batch --yes -q --trust-model always -se -r '$CFPR' -o '$W/targpg.tmx'" ||
			die "tar | gpg -se failed" "$W/targpg.log"
		t_targpg="$t_targpg $secs"
		say "  pack $(tail -n 1 <"$W/pack.log" | cut -c1-60)... ${t_pack##* } s, tar --zstd | gpg -se $secs s"

		# the pair swaps order each round, so a machine slowing down or
		# speeding up during a round favours neither
		for which in $([ $((r % 2)) = 1 ] && echo pkg files || echo files pkg); do
			fresh
			if [ "$which" = pkg ]; then
				pg_sql "TRUNCATE tmis.package_in" >/dev/null
				timed "$W/lpkg.log" "$T" load --home "$CH" --no-progress "$PKGF" ||
					die "tmisgw load PKG failed" "$W/lpkg.log"
				t_lpkg="$t_lpkg $secs"
				p_rss_n="$p_rss_n $rss_kb"
			else
				timed "$W/lplain.log" "$T" load --no-progress "$W/pk/data/teacher.csv" \
					"$W/pk/data/training.csv" ||
					die "tmisgw load of the unpacked files failed" "$W/lplain.log"
				t_lplain="$t_lplain $secs"
			fi
		done
		say "  load PKG ${t_lpkg##* } s, load of the same files ${t_lplain##* } s"
		r=$((r + 1))
	done
	# peak RSS of load PKG for a tenth-size package
	rm -f "$W"/pkout/*
	"$T" pack --home "$PH" --to 000000 --kind full --seq "$pkgseq" -o "$W/pkout" \
		"$W/pk10/data/teacher.csv" "$W/pk10/data/training.csv" >"$W/pack.log" 2>&1 ||
		die "tmisgw pack (tenth) failed" "$W/pack.log"
	fresh
	pg_sql "TRUNCATE tmis.package_in" >/dev/null
	timed "$W/lpkg10.log" "$T" load --home "$CH" --no-progress "$W"/pkout/*.tmx ||
		die "tmisgw load PKG (tenth) failed" "$W/lpkg10.log"
	p_rss_n10=$rss_kb
	say "  peak RSS of load PKG: $N teachers ${p_rss_n##* } KB, $N10 teachers $p_rss_n10 KB"
fi

# ---- the gateway server: upload speed, server memory, end-to-end sync -------------
u_mbs= u_rss_s= u_rss_l= u_rss_32= t_e2e= t_e2e_local=
if [ "${BENCH_SERVE:-1}" != 0 ] && [ -n "${PH:-}" ] && command -v curl >/dev/null; then
	say "bench: gateway server"
	SPORT=$((40000 + $$ % 20000))
	SURL=http://127.0.0.1:$SPORT
	mkdir -p "$W/tok" "$W/srv"
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/tok/410000"
	chmod 600 "$W/tok/410000"
	TOK=$(cat "$W/tok/410000")
	pg_sql "DROP DATABASE IF EXISTS centre" >/dev/null 2>&1
	pg_sql "CREATE DATABASE centre" >/dev/null
	CDSN="host=$PGHOST port=$PGPORT dbname=centre user=$PGUSER"
	"$T" db migrate --db "$CDSN" >/dev/null 2>&1 || die "db migrate (centre) failed"
	serve_conf()
	{
		printf 'listen 127.0.0.1:%s\nhome %s\ndb %s\ntokens %s\nworkers %s\nmax_upload 8G\nmax_connections 256\nper_ip_connections 200\n' \
			"$SPORT" "$CH" "$CDSN" "$W/tok" "$1" >"$W/serve.conf"
	}
	srv_start()
	{
		"$T" serve --config "$W/serve.conf" 2>>"$W/serve.log" &
		SRV=$!
		_i=0
		until curl -fsS "$SURL/healthz" >/dev/null 2>&1; do
			_i=$((_i + 1))
			[ $_i -lt 100 ] || die "the server did not start" "$W/serve.log"
			sleep 0.1
		done
	}
	srv_stop_rss()
	{
		srv_rss=$(awk '/VmHWM/ { print $2 }' "/proc/$SRV/status")
		kill "$SRV"
		wait "$SRV" 2>/dev/null
	}
	# upload FILE: one POST of FILE as a package; sets secs
	upload()
	{
		_sha=$(sha256sum "$1" | cut -c1-64)
		_len=$(stat -c %s "$1")
		_t0=$(date +%s.%N)
		curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $TOK" \
			-H "X-Package-Id: 00000000-0000-4000-8000-$(printf '%012d' "$2")" \
			-H "X-Upload-Sha256: $_sha" -H "X-Upload-Length: $_len" -H 'Expect:' \
			--data-binary "@$1" "$SURL/v1/packages" || die "upload of $1 failed" "$W/serve.log"
		_t1=$(date +%s.%N)
		secs=$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f", b - a }')
	}
	head -c $((20 << 20)) /dev/urandom >"$W/srv/small.bin"
	head -c $((200 << 20)) /dev/urandom >"$W/srv/large.bin"
	serve_conf 0      # uploads only: no worker touches them
	srv_start
	upload "$W/srv/small.bin" 1
	srv_stop_rss
	u_rss_s=$srv_rss
	srv_start
	# three uploads of 200 MB (distinct bytes, so none is a resend); the median
	u_t=
	for k in 2 3 4; do
		printf '%08d' "$k" | dd of="$W/srv/large.bin" bs=1 conv=notrunc 2>/dev/null
		upload "$W/srv/large.bin" "$k"
		u_t="$u_t $secs"
	done
	u_mbs=$(awk -v s="$(median $u_t)" 'BEGIN { printf "%.0f", 200 * 1.048576 / s }')
	srv_stop_rss
	u_rss_l=$srv_rss
	say "  200 MB uploads over loopback: [$u_t ] s, median $u_mbs MB/s; server peak RSS $u_rss_l KB (20 MB upload: $u_rss_s KB)"
	srv_start
	k=0
	while [ $k -lt 32 ]; do
		cp "$W/srv/small.bin" "$W/srv/c$k.bin"
		printf '%08d' "$k" | dd of="$W/srv/c$k.bin" bs=1 conv=notrunc 2>/dev/null
		k=$((k + 1))
	done
	k=0 pids=
	while [ $k -lt 32 ]; do
		upload "$W/srv/c$k.bin" $((100 + k)) 2>>"$W/up32.log" &
		pids="$pids $!"
		k=$((k + 1))
	done
	nfail=0
	for j in $pids; do wait "$j" || nfail=$((nfail + 1)); done
	[ "$nfail" = 0 ] || die "$nfail of the 32 concurrent uploads failed" "$W/up32.log"
	n32=$("$PSQL" -X -q -At -d centre -c "SELECT count(*) FROM tmis.upload WHERE package_id LIKE '%-0000000001__'")
	[ "$n32" = 32 ] || die "the server recorded $n32 of the 32 concurrent uploads" "$W/serve.log"
	srv_stop_rss
	u_rss_32=$srv_rss
	say "  32 concurrent 20 MB uploads: server peak RSS $u_rss_32 KB"
	rm -f "$W"/srv/*.bin
	"$PSQL" -X -q -d centre -c "TRUNCATE tmis.upload" >/dev/null

	# end to end: the province's database -> sync -> the centre's server -> receipt
	fresh
	"$T" load --no-progress "$W/pk/data/teacher.csv" "$W/pk/data/training.csv" >"$W/e2e-load.log" 2>&1 ||
		die "loading the province database failed" "$W/e2e-load.log"
	cp "$W/tok/410000" "$W/ctok"
	chmod 600 "$W/ctok"
	printf 'partner.000000.url %s\npartner.000000.token %s\n' "$SURL" "$W/ctok" >>"$PH/config"
	serve_conf 1
	# REPS rounds: each a full package from scratch (the province forgets
	# what it sent, the centre starts empty), then the same package loaded
	# locally at an empty centre
	r=1
	while [ "$r" -le "$REPS" ]; do
		pg_sql "TRUNCATE tmis.package_out, tmis.receipt_in" >/dev/null
		rm -f "$PH"/outbox/*.tmx
		fresh "$CDSN"
		srv_start
		pg_sql "CHECKPOINT" >/dev/null
		timed "$W/sync.log" "$T" sync --home "$PH" --to 000000 || die "sync failed" "$W/sync.log"
		t_e2e="$t_e2e $secs"
		srv_stop_rss
		fresh "$CDSN"
		timed "$W/e2e-local.log" "$T" load --db "$CDSN" --home "$CH" --no-progress "$(ls "$PH"/outbox/*.tmx)" ||
			die "load PKG of the synced package failed" "$W/e2e-local.log"
		t_e2e_local="$t_e2e_local $secs"
		say "  round $r: sync of $N teachers and $((3 * N)) training rows, database to receipt: ${t_e2e##* } s; load PKG of the same package, locally: $secs s"
		r=$((r + 1))
	done
fi

# ---- report -------------------------------------------------------------------
fails=0
row()
{
	# metric tmisgw other ratio target verdict
	printf '%-28s %10s %10s %7s  %-14s %s\n' "$@"
}
# verdict EXPR [info]: sets v to PASS or FAIL; counts failures unless info
verdict()
{
	if awk "BEGIN { exit !($1) }"; then
		v=PASS
	else
		[ "${2:-}" = info ] || fails=$((fails + 1))
		v=FAIL
	fi
}

m_load=$(median $t_load)
m_reload=$(median $t_reload)
m_copy=$(median $t_copy)
m_dirty=$(median $t_dirty)

echo
echo "tmisgw bench: $N teachers ($N10 for the RSS baseline), $REPS rounds, medians"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
echo "server:  PostgreSQL $PGVER, private cluster (tests/lib/pg.sh): $SETTINGS"
printf '%s\n' "times:   tmisgw load [$t_load ]  reload [$t_reload ]  \\copy [$t_copy ]" \
	"         tmisgw dirty [$t_dirty ]  pgloader [${t_pgl:- skipped} ]"
[ -n "$t_pack" ] && printf '%s\n' "         pack [$t_pack ]  tar|gpg [$t_targpg ]  load PKG [$t_lpkg ]  load files [$t_lplain ]"
[ -n "$t_e2e" ] && printf '%s\n' "         sync [$t_e2e ]  load PKG of the synced package [$t_e2e_local ]"
echo
row metric tmisgw other ratio target result
r=$(calc "$m_load / $m_copy")
verdict "$r <= 1.5"
row 'teacher.csv vs psql \copy' "$m_load s" "$m_copy s" "$r" '<= 1.5' "$v"
if [ -n "$t_pgl" ]; then
	m_pgl=$(median $t_pgl)
	r=$(calc "$m_pgl / $m_load")
	verdict "$r >= 6"
	row 'pgloader vs tmisgw' "$m_load s" "$m_pgl s" "$r" '>= 6' "$v"
else
	row 'pgloader vs tmisgw' "$m_load s" '-' '-' '>= 6' 'SKIPPED (no pgloader)'
fi
r=$(calc "$m_reload / $m_load")
verdict "$r <= 2"
row 'reload vs first load' "$m_reload s" "$m_load s" "$r" '<= 2' "$v"
if [ -n "$TIME_BIN" ]; then
	pn=$(maxof $rss_n)
	pt=$(maxof $rss_n10)
	mb=$(calc "$pn / 1024")
	r=$(calc "$pn / $pt")
	verdict "$mb <= 64 && $r <= 1.10"
	row "peak RSS $N vs $N10" "$mb MB" "$(calc "$pt / 1024") MB" "$r" '<= 64 MB, 1.1' \
		"$v"
else
	row "peak RSS $N vs $N10" '-' '-' '-' '<= 64 MB, 1.1' 'SKIPPED (no /usr/bin/time)'
fi
rc=$(awk -v n="$N" -v t="$m_load" 'BEGIN { printf "%.0f", n / t }')
rd=$(awk -v n="${dirty_read:-$N}" -v t="$m_dirty" 'BEGIN { printf "%.0f", n / t }')
r=$(calc "$rd / $rc")
verdict "$r >= 0.9"
row 'dirty 1% throughput' "$rd/s" "$rc/s" "$r" '>= 0.9' "$v"
if [ -n "$t_all" ]; then
	r=$(calc "$t_all / $t_allcopy")
	verdict "$r <= 1.5" info
	row 'all categories vs \copy' "$t_all s" "$t_allcopy s" "$r" '<= 1.5 info' "$v"
fi
if [ -n "$x_mbs" ]; then
	verdict "$x_mbs >= 100"
	row 'XML 1M training, one core' "$x_mbs MB/s" '-' '-' '>= 100 MB/s' "$v"
	r=$(calc "$x_rss_l / $x_rss_s")
	verdict "$r <= 1.10"
	row 'XML peak RSS 1 GB vs 100 MB' "$(calc "$x_rss_l / 1024") MB" \
		"$(calc "$x_rss_s / 1024") MB" "$r" '<= 1.1' "$v"
fi
if [ -n "$t_pack" ]; then
	r=$(calc "$(median $t_pack) / $(median $t_targpg)")
	verdict "$r <= 1.3"
	row 'pack vs tar --zstd | gpg -se' "$(median $t_pack) s" "$(median $t_targpg) s" "$r" '<= 1.3' "$v"
	r=$(calc "$(median $t_lpkg) / $(median $t_lplain)")
	verdict "$r <= 1.15"
	row 'load PKG vs load of files' "$(median $t_lpkg) s" "$(median $t_lplain) s" "$r" '<= 1.15' "$v"
	if [ -n "$TIME_BIN" ]; then
		pn=$(maxof $p_rss_n)
		r=$(calc "$pn / $p_rss_n10")
		verdict "$r <= 1.10"
		row "load PKG RSS $N vs $N10" "$(calc "$pn / 1024") MB" "$(calc "$p_rss_n10 / 1024") MB" \
			"$r" '<= 1.1' "$v"
	fi
fi
if [ -n "$u_mbs" ]; then
	verdict "$u_mbs >= 200"
	row 'upload 200 MB, loopback' "$u_mbs MB/s" '-' '-' '>= 200 MB/s' "$v"
	r=$(calc "$u_rss_l / $u_rss_s")
	verdict "$r <= 1.10"
	row 'server RSS 200 vs 20 MB up' "$(calc "$u_rss_l / 1024") MB" "$(calc "$u_rss_s / 1024") MB" "$r" '<= 1.1' "$v"
	verdict "$u_rss_32 <= 131072"
	row 'server RSS, 32 uploads' "$(calc "$u_rss_32 / 1024") MB" '-' '-' '<= 128 MB' "$v"
	r=$(calc "$(median $t_e2e) / $(median $t_e2e_local)")
	verdict "$r <= 1.3"
	row 'sync end to end vs load PKG' "$(median $t_e2e) s" "$(median $t_e2e_local) s" "$r" '<= 1.3' "$v"
fi
n_load=$(minof $t_load)
mins="teacher/\\copy $(calc "$n_load / $(minof $t_copy)")"
[ -n "$t_pgl" ] && mins="$mins, pgloader/tmisgw $(calc "$(minof $t_pgl) / $n_load")"
mins="$mins, reload/first $(calc "$(minof $t_reload) / $n_load")"
mins="$mins, dirty/clean rows/s $(calc "$n_load / $(minof $t_dirty) * ${dirty_read:-$N} / $N")"
[ -n "$t_e2e" ] && mins="$mins, sync/load PKG $(calc "$(minof $t_e2e) / $(minof $t_e2e_local)")"
[ -n "$t_pack" ] && mins="$mins, pack/tar+gpg $(calc "$(minof $t_pack) / $(minof $t_targpg)"), load PKG/load $(calc "$(minof $t_lpkg) / $(minof $t_lplain)")"
echo
printf '%s\n' "the same ratios from each contender's fastest round: $mins"
printf '%s\n' "tmisgw column: tmisgw's figure; other: \\copy, pgloader, the first load, the" \
	"$N10-teacher load, the clean load's rows/s. 1 % of the dirty sample's rows are invalid."
[ -n "$t_all" ] && printf '%s\n' "all categories: $TOTAL_ROWS rows in $(ls "$W"/clean/*.csv | wc -l) files; tmisgw peak RSS $(calc "$rss_all / 1024") MB," \
	"$all_rej rows rejected by tmisgw (\\copy checks nothing and stores them)."
if [ "$fails" -gt 0 ]; then
	echo "$fails target(s) missed"
	[ "${BENCH_STRICT:-0}" = 1 ] && exit 1
else
	echo "every target met"
fi
exit 0
