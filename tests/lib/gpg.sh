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

# tmx_manifest SENDER RECIPIENT ID SEQ KIND FILE...: a hand-written
# manifest.xml on stdout listing each FILE as data/BASENAME (category
# BASENAME without .csv) with its records, bytes and sha256
tmx_manifest()
{
	_s=$1 _r=$2 _id=$3 _seq=$4 _kind=$5
	shift 5
	printf '<?xml version="1.0" encoding="UTF-8"?>\n'
	printf '<package xmlns="urn:tmis:exchange:1" version="1" id="%s">\n' "$_id"
	printf '  <sender org="%s"/>\n  <recipient org="%s"/>\n' "$_s" "$_r"
	printf '  <created>2026-11-28T02:00:00+08:00</created>\n'
	printf '  <kind>%s</kind>\n  <sequence>%s</sequence>\n' "$_kind" "$_seq"
	printf '  <schema>tmis-indicators/1</schema>\n'
	for _f in "$@"; do
		_b=$(basename "$_f")
		printf '  <file name="data/%s" category="%s" format="csv" records="%d" bytes="%d" sha256="%s"/>\n' \
			"$_b" "${_b%.csv}" $(($(wc -l <"$_f") - 1)) "$(wc -c <"$_f")" \
			"$(sha256sum "$_f" | cut -c1-64)"
	done
	printf '</package>\n'
}

# tmx_handmade OUT DIR SIGNER_GNUPG RECIPIENT_FPR: OUT made with tar and gpg
# alone from DIR/manifest.xml and DIR/data/*
tmx_handmade()
{
	(cd "$2" && tar --zstd -cf "$2.tar.zst" manifest.xml data) &&
		gpg --homedir "$3" --batch --yes -q --trust-model always --sign \
			--encrypt -r "$4" -o "$1" "$2.tar.zst" 2>/dev/null
}

# tmx_refused TMISGW HOME WORK DESC PATTERN PKG: HOME refuses PKG everywhere,
# each time saying PATTERN (grep -E): `verify` fails; `unpack -o WORK/ex`
# fails and makes nothing; `load` exits 3, appends exactly one
# tmis.exchange_log row (outcome refused, error matching PATTERN), loads
# nothing (no tmis.teacher nor tmis.package_in row: the database must hold
# none before) and leaves HOME/spool empty. Eight TAP lines; needs tap.sh,
# and pg.sh with a started, migrated database.
tmx_refused()
{
	_rt=$1 _rh=$2 _rw=$3 _rd=$4 _rp=$5 _rk=$6
	_rout=$("$_rt" verify --home "$_rh" "$_rk" 2>&1)
	if [ $? -ne 0 ]; then
		ok "$_rd: refused"
	else
		not_ok "$_rd: refused"
	fi
	like "$_rd: names the check" "$_rout" "$_rp"
	diag "$_rout"
	rm -rf "$_rw/ex"
	if ! "$_rt" unpack --home "$_rh" "$_rk" -o "$_rw/ex" >/dev/null 2>&1 &&
		[ ! -e "$_rw/ex" ] && [ -z "$(ls -A "$_rh/spool")" ]; then
		ok "$_rd: no file left in spool or extract directory"
	else
		not_ok "$_rd: no file left in spool or extract directory"
		diag "$(ls -laR "$_rw/ex" "$_rh/spool" 2>&1)"
	fi
	_rlast=$(pg_sql "select coalesce(max(id), 0) from tmis.exchange_log")
	_rout=$("$_rt" load --home "$_rh" --no-progress "$_rk" 2>&1)
	is "$_rd: load exits 3" "$?" 3
	like "$_rd: load names the check" "$_rout" "$_rp"
	_rlog=$(pg_sql "select outcome || ' ' || coalesce(error, '') from tmis.exchange_log where id > ${_rlast:-0} order by id")
	if [ "$(printf '%s\n' "$_rlog" | grep -c .)" -eq 1 ] &&
		[ "${_rlog%% *}" = refused ] &&
		printf '%s\n' "$_rlog" | grep -Eq -- "$_rp"; then
		ok "$_rd: load logs one refusal naming the check"
	else
		not_ok "$_rd: load logs one refusal naming the check"
		diag "new exchange_log rows: $_rlog"
	fi
	is "$_rd: load loads nothing" \
		"$(pg_sql "select (select count(*) from tmis.teacher) + (select count(*) from tmis.package_in)")" 0
	if [ -z "$(ls -A "$_rh/spool")" ]; then
		ok "$_rd: load leaves the spool empty"
	else
		not_ok "$_rd: load leaves the spool empty"
		diag "$(ls -laR "$_rh/spool" 2>&1)"
	fi
}
