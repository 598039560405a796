#!/bin/sh
# test_keys: `tmisgw keys` in two throw-away gateway homes, a province
# (410000) and the centre (000000): init (and init twice), export, trust by
# org, list, files with two keys, a secret key or no key refused, rollover,
# one key for two orgs refused, retire, unknown bindings, and the home's
# permissions. No database.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
gpg_trap || exit 1
P=$(gw_home prov)
C=$(gw_home centre)
W=$GPG_TMP/work
mkdir -p "$W"

# ---- init -------------------------------------------------------------------
check "keys init province" "$T" keys init --home "$P" --org 410000
check "keys init centre via TMISGW_HOME" env TMISGW_HOME="$C" "$T" keys init --org 000000
check_fail "keys init twice fails" "$T" keys init --home "$P" --org 410000
like "init twice names the existing key" \
	"$("$T" keys init --home "$P" --org 410000 2>&1)" 'already has a key "[0-9A-F]{40}"'
check_fail "keys init with a bad org code" "$T" keys init --home "$(gw_home bad)" --org 41000a
check_fail "keys export without a home" env -u TMISGW_HOME "$T" keys export
is "gnupg directory is private" "$(stat -c %a "$P/gnupg")" 700
is "config names the org" "$(cat "$P/config")" "org 410000"
for d in spool outbox inbox; do
	check "home has $d/" test -d "$P/$d"
done

PFPR=$(gpg --homedir "$P/gnupg" --with-colons --list-secret-keys 2>/dev/null |
	awk -F: '/^fpr:/ { print $10; exit }')
CFPR=$(gpg --homedir "$C/gnupg" --with-colons --list-secret-keys 2>/dev/null |
	awk -F: '/^fpr:/ { print $10; exit }')
like "province key has a full fingerprint" "$PFPR" '^[0-9A-F]{40}$'
caps=$(gpg --homedir "$P/gnupg" --with-colons --list-keys 2>/dev/null |
	awk -F: '/^(pub|sub):/ { printf "%s:%s:%s ", $1, $4, $12 }')
like "primary signs and certifies (ed25519)" "$caps" '^pub:22:sc[A-Z]* '
like "subkey encrypts (cv25519)" "$caps" 'sub:18:e'
uid=$(gpg --homedir "$P/gnupg" --with-colons --list-keys 2>/dev/null |
	awk -F: '/^uid:/ { print $10; exit }')
is "user id names the org" "$uid" "tmisgw <410000>"

# ---- export and trust ----------------------------------------------------------
"$T" keys export --home "$P" >"$W/p.asc"
is "export exits 0" "$?" 0
like "export is ASCII armour" "$(head -n 1 "$W/p.asc")" '^-----BEGIN PGP PUBLIC KEY BLOCK-----$'
if grep -q 'PRIVATE' "$W/p.asc"; then
	not_ok "export holds no secret key"
else
	ok "export holds no secret key"
fi
"$T" keys export --home "$C" >"$W/c.asc"

check_fail "trust before init fails" \
	"$T" keys trust --home "$(gw_home none)" --org 410000 "$W/p.asc"
check "centre trusts the province" "$T" keys trust --home "$C" --org 410000 "$W/p.asc"
validity=$(gpg --homedir "$C/gnupg" --with-colons --list-keys "$PFPR" 2>/dev/null |
	awk -F: '/^pub:/ { print $2; exit }')
is "a trusted key is fully valid to gpg (local certification)" "$validity" f
check "province trusts the centre" "$T" keys trust --home "$P" --org 000000 "$W/c.asc"
check "trusting the same key again is harmless" \
	"$T" keys trust --home "$C" --org 410000 "$W/p.asc"
out=$("$T" keys list --home "$C" 2>&1)
like "list shows the grouped full fingerprint" "$out" \
	"410000 +$(echo "$PFPR" | sed 's/..../& /g; s/ $//') +active"
like "list shows this gateway's own key" "$out" "this gateway: organisation 000000"
like "list shows the expiry" "$out" 'active +[0-9T:-]+Z +- +20[0-9][0-9]-'
is "one binding after the repeat" "$(grep -c '^410000' "$C/trust.tsv")" 1
like "trust store holds the full fingerprint" "$(cat "$C/trust.tsv")" \
	"^410000	$PFPR	active	"

# ---- refused key files -------------------------------------------------------
cat "$W/p.asc" "$W/c.asc" >"$W/two.asc"
check_fail "a file with two keys is refused" \
	"$T" keys trust --home "$C" --org 410000 "$W/two.asc"
like "two keys: the error says so" \
	"$("$T" keys trust --home "$C" --org 410000 "$W/two.asc" 2>&1)" 'holds 2 keys'
gpg --homedir "$P/gnupg" --batch --armor --export-secret-keys "$PFPR" >"$W/sec.asc" 2>/dev/null
check_fail "a secret key is refused" \
	"$T" keys trust --home "$C" --org 410000 "$W/sec.asc"
like "secret key: the error says so" \
	"$("$T" keys trust --home "$C" --org 410000 "$W/sec.asc" 2>&1)" 'holds a secret key'
nsec=$(gpg --homedir "$C/gnupg" --with-colons --list-secret-keys 2>/dev/null | grep -c '^sec:')
is "the refused secret key was not imported" "$nsec" 1
echo "not a key" >"$W/junk.asc"
check_fail "a file with no key is refused" \
	"$T" keys trust --home "$C" --org 410000 "$W/junk.asc"
check_fail "a missing file is refused" \
	"$T" keys trust --home "$C" --org 410000 "$W/nonexistent.asc"
check_fail "a bad org code is refused" "$T" keys trust --home "$C" --org 4100 "$W/p.asc"
check_fail "one key for two orgs is refused" \
	"$T" keys trust --home "$C" --org 420000 "$W/p.asc"

# ---- rollover and retire ------------------------------------------------------
N=$(gw_home prov2)
"$T" keys init --home "$N" --org 410000 >/dev/null 2>&1
"$T" keys export --home "$N" >"$W/p2.asc"
check "a second key for an org (rollover)" \
	"$T" keys trust --home "$C" --org 410000 "$W/p2.asc"
is "two bindings for 410000" "$(grep -c '^410000' "$C/trust.tsv")" 2
check "retire the old key (grouped fingerprint)" "$T" keys retire --home "$C" --org 410000 \
	"$(echo "$PFPR" | sed 's/..../& /g; s/ $//')"
like "list shows it retired" "$("$T" keys list --home "$C")" \
	"410000 +$(echo "$PFPR" | sed 's/..../& /g; s/ $//') +retired +[0-9T:-]+Z +[0-9T:-]+Z"
like "trust store records the retirement" "$(cat "$C/trust.tsv")" \
	"^410000	$PFPR	retired	[0-9T:-]+Z	[0-9T:-]+Z$"
like "the new key stays active" "$(cat "$C/trust.tsv")" "^410000	[0-9A-F]{40}	active	"
check "retiring again changes nothing" "$T" keys retire --home "$C" --org 410000 "$PFPR"
check_fail "a retired key is not trusted again" \
	"$T" keys trust --home "$C" --org 410000 "$W/p.asc"
check_fail "retire an unknown binding" "$T" keys retire --home "$C" --org 420000 "$PFPR"
like "unknown binding: the error names it" \
	"$("$T" keys retire --home "$C" --org 420000 "$PFPR" 2>&1)" \
	"no key \"$PFPR\" is bound to organisation \"420000\""
check_fail "retire with a short key id" "$T" keys retire --home "$C" --org 410000 \
	"$(echo "$PFPR" | cut -c25-)"

# ---- homes ----------------------------------------------------------------------
check_fail "a missing home is an error" "$T" keys list --home "$GPG_TMP/none"
mkdir -p "$GPG_TMP/empty"
check_fail "a directory without gnupg/ is not a home" "$T" keys list --home "$GPG_TMP/empty"
chmod 755 "$P/gnupg"
check_fail "a readable gnupg directory is refused" "$T" keys list --home "$P"
chmod 700 "$P/gnupg"
out=$("$T" keys list --home "$(gw_home prov2)")
like "a home without partners lists none" "$out" 'no partner keys trusted'

done_testing
