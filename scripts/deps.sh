#!/bin/sh
# deps.sh check|install PKG...: find the Debian packages that are missing.
# check:   as root, install them; otherwise print the apt-get line and fail.
# install: the same, and say so when everything is present.
# optional: as root, try to install them; never fails (tests that need them
#           skip with a message).
mode=$1; shift
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	[ "$mode" = install ] && echo "deps: all packages present"
	exit 0
fi
if [ "$mode" = optional ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "deps: installing optional$missing" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
			  apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; } ||
			echo "deps: could not install optional$missing; the tests that need them skip" >&2
	else
		echo "deps: optional packages missing (tests that need them skip): apt-get install$missing" >&2
	fi
	exit 0
fi
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1 || apt-get update
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || \
		apt-get install -y --no-install-recommends $missing || exit 1
	exit 0
fi
echo "deps: missing packages; run as root:" >&2
echo "  apt-get install$missing" >&2
exit 1
