#!/bin/sh
# test_cases: the data-driven cases under tests/data/cases/<NN-name>/. Each
# holds input.csv and a one-line args file (arguments of `tmisgw inspect`),
# and either expected.jsonl (the exact stdout, exit 0, nothing on stderr) or
# expected.rc + expected.err (the exit code, and a line expected somewhere on
# stderr). Runs from the repository root, so args and messages use paths
# relative to it. Needs no database.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
W=$(mktemp -d "${TMPDIR:-/tmp}/tmisgw-cases.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT

for dir in tests/data/cases/*/; do
	dir=${dir%/}
	name=$(basename "$dir")
	if [ ! -f "$dir/args" ] || [ ! -f "$dir/input.csv" ]; then
		not_ok "$name: has args and input.csv"
		continue
	fi
	# shellcheck disable=SC2046 # args is a list of words
	"$T" inspect $(cat "$dir/args") "$dir/input.csv" >"$W/out" 2>"$W/err"
	rc=$?
	if [ -f "$dir/expected.jsonl" ]; then
		is "$name: exit code" "$rc" 0
		if cmp -s "$dir/expected.jsonl" "$W/out"; then
			ok "$name: output"
		else
			not_ok "$name: output"
			diff -u "$dir/expected.jsonl" "$W/out" | head -n 40 | sed 's/^/#   /'
		fi
		if [ -s "$W/err" ]; then
			not_ok "$name: nothing on stderr"
			head -n 10 "$W/err" | sed 's/^/#   /'
		else
			ok "$name: nothing on stderr"
		fi
	elif [ -f "$dir/expected.err" ]; then
		is "$name: exit code" "$rc" "$(cat "$dir/expected.rc")"
		if grep -qF -- "$(cat "$dir/expected.err")" "$W/err"; then
			ok "$name: error message"
		else
			not_ok "$name: error message"
			diag "  expected on stderr: $(cat "$dir/expected.err")"
			head -n 10 "$W/err" | sed 's/^/#   /'
		fi
	else
		not_ok "$name: has expected.jsonl or expected.err"
	fi
done

done_testing
