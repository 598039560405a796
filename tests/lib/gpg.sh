# gpg.sh: throw-away gateway homes and GnuPG homes for tests (source it).
#
#   gpg_trap        make the temp base directory $GPG_TMP (short, under /tmp,
#                   so gpg-agent sockets fit) and install EXIT/INT/TERM traps
#                   that call gpg_cleanup (and pg_stop when pg.sh is loaded)
#   gw_home NAME    print the path of a fresh gateway home $GPG_TMP/NAME (not
#                   created: "tmisgw keys init --home" makes it)
#   gpg_dir NAME    create $GPG_TMP/NAME (mode 0700) as a plain GNUPGHOME for
#                   hand-made keys and packages; prints its path
#   gpg_cleanup     stop every gpg-agent under $GPG_TMP, remove it (idempotent)
#
# Call gpg_trap first, in the test's own shell (not in $(...)).

GPG_TMP=

gpg_cleanup()
{
	[ -n "$GPG_TMP" ] && [ -d "$GPG_TMP" ] || return 0
	for _gd in "$GPG_TMP"/* "$GPG_TMP"/*/gnupg; do
		[ -d "$_gd" ] || continue
		[ -e "$_gd/pubring.kbx" ] || [ -d "$_gd/private-keys-v1.d" ] || continue
		gpgconf --homedir "$_gd" --kill all >/dev/null 2>&1
	done
	rm -rf "$GPG_TMP"
	GPG_TMP=
}

_gpg_exit()
{
	gpg_cleanup
	if command -v pg_stop >/dev/null 2>&1; then
		pg_stop
	fi
}

gpg_trap()
{
	GPG_TMP=$(mktemp -d /tmp/tmgpg.XXXXXX) || return 1
	trap '_gpg_exit' EXIT
	trap '_gpg_exit; trap - EXIT; exit 130' INT
	trap '_gpg_exit; trap - EXIT; exit 143' TERM
}

gw_home()
{
	echo "$GPG_TMP/$1"
}

gpg_dir()
{
	mkdir -m 700 "$GPG_TMP/$1" && echo "$GPG_TMP/$1"
}
