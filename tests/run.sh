#!/bin/sh
# run.sh: the `make check` runner.
#
#   TMISGW_BIN=build/tmisgw-asan UNIT_BINS="build/unit/test_x ..." sh tests/run.sh [NAME...]
#
# Runs every unit binary (cmocka, TAP output), then every
# tests/integration/test_*.sh, keeping each one's output in
# build/test-logs/<name>.log. With NAME arguments only tests whose name
# contains one of them run. Counts "ok" / "not ok" lines; a test that exits
# non-zero without a "not ok", prints no TAP at all, or runs fewer tests than
# its plan counts as one failure. Ends with the line
# "N passed, N failed[, N skipped]" and exits 1 if anything failed.

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR" || exit 2
rm -f "$LOGDIR"/*.log

ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS UBSAN_OPTIONS CMOCKA_MESSAGE_OUTPUT
if [ -n "${TMISGW_BIN:-}" ]; then
	case $TMISGW_BIN in
	/*) ;;
	*) TMISGW_BIN=$ROOT/$TMISGW_BIN ;;
	esac
	export TMISGW_BIN
fi

# Per-test limit in seconds, when timeout(1) exists.
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
if command -v timeout >/dev/null 2>&1; then
	TIMEOUT="timeout -k 10 $TEST_TIMEOUT"
else
	TIMEOUT=
fi

PASSED=0
FAILED=0
SKIPPED=0
FAILS=$LOGDIR/.failures
FAILED_LOGS=$LOGDIR/.failed-logs
: >"$FAILS"
: >"$FAILED_LOGS"

selected()
{
	[ $# -gt 1 ] || return 0
	_name=$1
	shift
	for _p in "$@"; do
		case $_name in
		*"$_p"*) return 0 ;;
		esac
	done
	return 1
}

# tally NAME LOG RC: count the TAP lines of one test's log.
tally()
{
	_counts=$(awk -v name="$1" -v rc="$3" -v fails="$FAILS" '
		/^(not )?ok( |$)/ {
			if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) { skip++; next }
			if ($0 ~ /^ok/) { pass++; next }
			fail++
			d = $0
			sub(/^not ok[ \t]*[0-9]*[ \t]*-?[ \t]*/, "", d)
			print name ": " d >> fails
			next
		}
		/^1\.\.[0-9]+/ { plan = substr($0, 4) + 0; hasplan = 1 }
		END {
			total = pass + fail + skip
			if (rc != 0 && fail == 0) {
				fail++
				if (rc == 124 || rc == 137)
					print name ": timed out" >> fails
				else
					print name ": exited with status " rc >> fails
			} else if (total == 0 && rc == 0) {
				fail++
				print name ": no TAP output" >> fails
			} else if (hasplan && total < plan && fail == 0) {
				fail++
				print name ": planned " plan " tests, ran " total >> fails
			}
			printf "%d %d %d\n", pass, fail, skip
		}' "$2")
	set -- "$1" "$2" $_counts
	PASSED=$((PASSED + $3))
	FAILED=$((FAILED + $4))
	SKIPPED=$((SKIPPED + $5))
	if [ "$4" -gt 0 ]; then
		echo "$2" >>"$FAILED_LOGS"
		printf '%-40s FAIL (%d passed, %d failed)\n' "$1" "$3" "$4"
	else
		printf '%-40s ok (%d passed%s)\n' "$1" "$3" \
			"$([ "$5" -gt 0 ] && echo ", $5 skipped")"
	fi
}

# run_one NAME CMD...: run a test with its output in its log, then tally it.
run_one()
{
	_n=$1
	shift
	_log=$LOGDIR/$(echo "$_n" | tr '/' '_').log
	$TIMEOUT "$@" </dev/null >"$_log" 2>&1
	tally "$_n" "$_log" $?
}

for bin in ${UNIT_BINS:-}; do
	name=${bin#build/}
	selected "$name" "$@" || continue
	case $bin in
	/*) path=$bin ;;
	*) path=$ROOT/$bin ;;
	esac
	run_one "$name" "$path"
done

for t in tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	name=integration/$(basename "$t" .sh)
	selected "$name" "$@" || continue
	run_one "$name" sh "$t"
done

if [ -s "$FAILS" ]; then
	echo
	echo "Failures:"
	sed 's/^/  /' "$FAILS"
	while read -r log; do
		echo
		echo "---- $log (last 50 lines)"
		tail -n 50 "$log"
	done <"$FAILED_LOGS"
	echo
fi
rm -f "$FAILS" "$FAILED_LOGS"

if [ "$SKIPPED" -gt 0 ]; then
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
	echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]
