# tap.sh: TAP output helpers for integration tests (source it).
#
#   ok DESC / not_ok DESC        one test line
#   skip DESC REASON             "ok N - DESC # SKIP REASON"
#   check DESC CMD...            passes when CMD exits 0
#   check_fail DESC CMD...       passes when CMD exits non-zero
#   is DESC GOT EXPECTED         string equality
#   like DESC GOT PATTERN        GOT contains PATTERN (grep -E)
#   diag TEXT                    "# TEXT" on stdout
#   done_testing                 prints the plan, exits 0 if nothing failed
#
# Output of commands run by check/check_fail is kept in $TAP_OUT and shown
# as "#" lines when the test fails. Nothing here exits except done_testing.

TAP_N=0
TAP_FAILED=0
TAP_OUT=${TMPDIR:-/tmp}/tap.$$.out

ok()
{
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $*"
}

not_ok()
{
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}

skip()
{
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP ${2:-}"
}

diag()
{
	printf '%s\n' "$*" | sed 's/^/# /'
}

_tap_show()
{
	[ -s "$TAP_OUT" ] && tail -n 30 "$TAP_OUT" | sed 's/^/#   /'
	rm -f "$TAP_OUT"
}

check()
{
	_tap_d=$1
	shift
	if "$@" >"$TAP_OUT" 2>&1; then
		ok "$_tap_d"
		rm -f "$TAP_OUT"
	else
		_tap_rc=$?
		not_ok "$_tap_d"
		diag "  command failed (exit $_tap_rc): $*"
		_tap_show
	fi
}

check_fail()
{
	_tap_d=$1
	shift
	if "$@" >"$TAP_OUT" 2>&1; then
		not_ok "$_tap_d"
		diag "  command succeeded but should have failed: $*"
		_tap_show
	else
		ok "$_tap_d"
		rm -f "$TAP_OUT"
	fi
}

is()
{
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "       got: '$2'"
		diag "  expected: '$3'"
	fi
}

like()
{
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "             got: '$2'"
		diag "  does not match: '$3'"
	fi
}

done_testing()
{
	echo "1..$TAP_N"
	rm -f "$TAP_OUT"
	[ "$TAP_FAILED" -eq 0 ] && exit 0
	exit 1
}
