#!/bin/sh
# test_package: `tmisgw pack`, `verify` and `unpack` between two throw-away
# gateway homes, a province (410000) and the centre (000000): a round trip,
# interoperability with plain gpg and tar both ways, and every refused case
# of checks 1-3 that needs the OpenPGP layer (unsigned, unencrypted, unknown
# signer, two signatures, sender and recipient mismatch, a flipped bit, a
# truncated file, a retired signer), each naming its check and leaving no
# file in the spool or the extract directory, and each refused by `load`
# too against a private PostgreSQL: logged once in tmis.exchange_log,
# nothing loaded. (Hostile archives are in test_badpkg.sh.)
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
D=$(pwd)/tests/data/load
gpg_trap || exit 1
pg_start || exit 1
P=$(gw_home prov)
C=$(gw_home centre)
X=$(gw_home third)
W=$GPG_TMP/work
mkdir -p "$W"

fpr_of()
{
	gpg --homedir "$1/gnupg" --with-colons --list-secret-keys 2>/dev/null |
		awk -F: '/^fpr:/ { print $10; exit }'
}

# spool_empty HOME: the verify spool holds nothing
spool_empty()
{
	[ -z "$(ls -A "$1/spool")" ]
}

# refused DESC PATTERN PKG: the centre refuses PKG naming PATTERN at
# verify, unpack and load (eight tests: tmx_refused in tests/lib/gpg.sh)
refused()
{
	tmx_refused "$T" "$C" "$W" "$@"
}

# manifest SENDER RECIPIENT ID FILE...: a hand-written manifest.xml on stdout
manifest()
{
	_s=$1 _r=$2 _id=$3
	shift 3
	printf '<?xml version="1.0" encoding="UTF-8"?>\n'
	printf '<package xmlns="urn:tmis:exchange:1" version="1" id="%s">\n' "$_id"
	printf '  <sender org="%s"/>\n  <recipient org="%s"/>\n' "$_s" "$_r"
	printf '  <created>2026-11-28T02:00:00+08:00</created>\n'
	printf '  <kind>full</kind>\n  <sequence>7</sequence>\n'
	printf '  <schema>tmis-indicators/1</schema>\n'
	for _f in "$@"; do
		_b=$(basename "$_f")
		printf '  <file name="data/%s" category="%s" format="csv" records="%d" bytes="%d" sha256="%s"/>\n' \
			"$_b" "${_b%.csv}" $(($(wc -l <"$_f") - 1)) "$(wc -c <"$_f")" \
			"$(sha256sum "$_f" | cut -c1-64)"
	done
	printf '</package>\n'
}

# handmade NAME SENDER RECIPIENT [GPG OPTIONS...]: $W/NAME.tmx made with tar
# and gpg alone from teacher.csv and training.csv; the gpg options (signing
# and encrypting, from $P's keyring unless they say otherwise) follow.
handmade()
{
	_n=$1
	rm -rf "$W/hm"
	mkdir -p "$W/hm/data"
	cp "$D/teacher.csv" "$D/training.csv" "$W/hm/data/"
	manifest "$2" "$3" "$(echo "$_n" | sha256sum | cut -c1-32)" \
		"$W/hm/data/teacher.csv" "$W/hm/data/training.csv" >"$W/hm/manifest.xml"
	shift 3
	(cd "$W/hm" && tar --zstd -cf ../hm.tar.zst manifest.xml data/teacher.csv data/training.csv) &&
		gpg --batch --yes -q "$@" -o "$W/$_n.tmx" "$W/hm.tar.zst" 2>"$W/$_n.gpgerr"
}

# ---- homes and keys ----------------------------------------------------------
"$T" keys init --home "$P" --org 410000 >/dev/null 2>&1
"$T" keys init --home "$C" --org 000000 >/dev/null 2>&1
"$T" keys init --home "$X" --org 420000 >/dev/null 2>&1
"$T" keys export --home "$P" >"$W/p.asc"
"$T" keys export --home "$C" >"$W/c.asc"
"$T" keys export --home "$X" >"$W/x.asc"
check "centre trusts the province" "$T" keys trust --home "$C" --org 410000 "$W/p.asc"
check "province trusts the centre" "$T" keys trust --home "$P" --org 000000 "$W/c.asc"
check "third gateway trusts the centre" "$T" keys trust --home "$X" --org 000000 "$W/c.asc"
check "db migrate" "$T" db migrate
PFPR=$(fpr_of "$P")
CFPR=$(fpr_of "$C")
XFPR=$(fpr_of "$X")

# ---- pack ------------------------------------------------------------------------
mkdir -p "$W/out"
"$T" pack --home "$P" --to 000000 --kind full --seq 1 -o "$W/out" \
	"$D/teacher.csv" "$D/training.csv" >"$W/pack.out" 2>&1
is "pack exits 0" "$?" 0
PKG=$(ls "$W"/out/*.tmx 2>/dev/null | head -n 1)
like "package named <sender>-<sequence>-<id>.tmx" "$(basename "$PKG")" \
	'^410000-1-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.tmx$'
like "pack reports records" "$(cat "$W/pack.out")" 'packed 2 files, 14 records'
is "nothing else in the output directory" "$(ls -A "$W/out" | wc -l)" 1
check_fail "package is binary, not armoured" grep -q 'BEGIN PGP' "$PKG"
check "pack -o FILE" "$T" pack --home "$P" --to 000000 --kind delta --seq 2 \
	-o "$W/two.tmx" "$D/teacher.csv"
check_fail "pack never replaces a file" "$T" pack --home "$P" --to 000000 --kind delta \
	--seq 2 -o "$W/two.tmx" "$D/teacher.csv"
check_fail "pack to an org without a key" "$T" pack --home "$P" --to 420000 --kind full \
	--seq 1 -o "$W/none.tmx" "$D/teacher.csv"
like "no key: the error says so" "$("$T" pack --home "$P" --to 420000 --kind full \
	--seq 1 -o "$W/none.tmx" "$D/teacher.csv" 2>&1)" 'no key is trusted for organisation "420000"'
check_fail "pack of a file not named CATEGORY.csv" "$T" pack --home "$P" --to 000000 \
	--kind full --seq 1 -o "$W/bad.tmx" "$W/p.asc"
check_fail "pack with a bad kind" "$T" pack --home "$P" --to 000000 --kind export \
	--seq 1 -o "$W/bad.tmx" "$D/teacher.csv"
TMISGW_DB="host=$W/nodb connect_timeout=2" "$T" pack --home "$P" --to 000000 \
	--kind full --seq 1 --from-db -o "$W/bad.tmx" >/dev/null 2>&1
is "pack --from-db without a database fails as a database error (test_export.sh packs with one)" "$?" 4
check_fail "pack of a missing file" "$T" pack --home "$P" --to 000000 --kind full \
	--seq 1 -o "$W/bad.tmx" "$W/teacher.csv"
is "failed packs leave no file" "$(ls -A "$W" | grep -c -e '^bad' -e '^none' -e '^\.tmisgw')" 0

# ---- verify and unpack -------------------------------------------------------------
out=$("$T" verify --home "$C" "$PKG" 2>&1)
is "verify at the centre exits 0" "$?" 0
like "verify says checks 1-3 passed" "$out" 'checks 1-3 passed'
like "verify says check 4 needs the database" "$out" 'check 4 .*needs the database'
like "verify shows the sender" "$out" '^sender +410000$'
like "verify shows the signer, grouped" "$out" \
	"signed by +[0-9A-F]{4}( [0-9A-F]{4}){9} \\(organisation 410000\\)"
like "verify lists teacher.csv" "$out" 'data/teacher.csv +teacher +csv +5 records +[0-9]+ bytes'
like "verify lists training.csv" "$out" 'data/training.csv +training +csv +9 records'
check "the spool is empty after verify" spool_empty "$C"
check "unpack" "$T" unpack --home "$C" "$PKG" -o "$W/un"
check "unpacked teacher.csv is identical" cmp "$D/teacher.csv" "$W/un/data/teacher.csv"
check "unpacked training.csv is identical" cmp "$D/training.csv" "$W/un/data/training.csv"
check "unpack extracts the manifest" test -f "$W/un/manifest.xml"
check_fail "unpack into a non-empty directory" "$T" unpack --home "$C" "$PKG" -o "$W/un"
check_fail "the province cannot read a package for the centre" \
	"$T" verify --home "$P" "$PKG"

# ---- interoperability ---------------------------------------------------------------
first=$(gpg --homedir "$C/gnupg" --batch -q --decrypt "$PKG" 2>/dev/null | tar --zstd -t | head -n 1)
is "plain gpg | tar --zstd -t lists manifest.xml first" "$first" manifest.xml
handmade hand 410000 000000 --homedir "$P/gnupg" --sign --encrypt -r "$CFPR"
check "hand-made package (tar --zstd, gpg -se)" "$T" verify --home "$C" "$W/hand.tmx"
gpg --homedir "$P/gnupg" --batch --yes -q --armor -o "$W/hand.asc" --sign \
	--encrypt -r "$CFPR" "$W/hm.tar.zst" 2>/dev/null
check "an ASCII-armoured package is accepted" "$T" verify --home "$C" "$W/hand.asc"

# ---- refused: check 1 ------------------------------------------------------------------
handmade unsigned 410000 000000 --homedir "$P/gnupg" --encrypt -r "$CFPR"
refused "encrypted but unsigned" 'check 1 \(signature\): .*not signed' "$W/unsigned.tmx"
handmade unencrypted 410000 000000 --homedir "$P/gnupg" --sign
refused "signed but not encrypted" 'check 1 \(signature\): not encrypted' "$W/unencrypted.tmx"
"$T" pack --home "$X" --to 000000 --kind full --seq 1 -o "$W/third.tmx" \
	"$D/teacher.csv" >/dev/null 2>&1
refused "signer not in the trust store" 'check 1 \(signature\): unknown signer' "$W/third.tmx"

# two signatures, one by a key the centre does not trust
G=$(gpg_dir two)
gpg --homedir "$P/gnupg" --batch --export-secret-keys "$PFPR" >"$W/psec.gpg" 2>/dev/null
gpg --homedir "$X/gnupg" --batch --export-secret-keys "$XFPR" >"$W/xsec.gpg" 2>/dev/null
gpg --homedir "$G" --batch -q --import "$W/psec.gpg" "$W/xsec.gpg" "$W/c.asc" 2>/dev/null
handmade twosig 410000 000000 --homedir "$G" --trust-model always -u "$PFPR" -u "$XFPR" \
	--sign --encrypt -r "$CFPR"
refused "two signatures, one untrusted" 'check 1 \(signature\): .*2 signatures' "$W/twosig.tmx"

cp "$PKG" "$W/flip.tmx"
size=$(wc -c <"$W/flip.tmx")
byte=$(od -An -tu1 -j $((size / 2)) -N1 "$W/flip.tmx" | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 1)))" |
	dd of="$W/flip.tmx" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
refused "a flipped bit" 'check 1 \((integrity|signature)\)' "$W/flip.tmx"
head -c $((size - 40)) "$PKG" >"$W/trunc.tmx"
refused "a truncated file" 'check 1 \((integrity|signature)\)' "$W/trunc.tmx"
: >"$W/empty.tmx"
refused "an empty file" 'check 1 ' "$W/empty.tmx"

# ---- refused: check 2 and 3 --------------------------------------------------------------
handmade sender 420000 000000 --homedir "$P/gnupg" --sign --encrypt -r "$CFPR"
refused "manifest sender is not the signer's org" \
	'check 2 \(sender\): .*"420000" is not the signer.s organisation "410000"' "$W/sender.tmx"
handmade recipient 410000 110000 --homedir "$P/gnupg" --sign --encrypt -r "$CFPR"
refused "manifest recipient is not this gateway" \
	'check 2 \(recipient\): the package is for "110000"' "$W/recipient.tmx"
# a manifest that lies about a file (records)
rm -rf "$W/hm"
mkdir -p "$W/hm/data"
cp "$D/teacher.csv" "$W/hm/data/"
manifest 410000 000000 0f5e2a7c-3b1d-4e8f-9a6b-000000000099 "$W/hm/data/teacher.csv" |
	sed 's/records="5"/records="6"/' >"$W/hm/manifest.xml"
(cd "$W/hm" && tar --zstd -cf ../bad3.tar.zst manifest.xml data/teacher.csv)
gpg --homedir "$P/gnupg" --batch --yes -q -o "$W/bad3.tmx" --sign --encrypt \
	-r "$CFPR" "$W/bad3.tar.zst" 2>/dev/null
refused "a record-count mismatch" 'check 3 \(archive\)' "$W/bad3.tmx"

# ---- retired signer (last: the centre no longer trusts the province) ---------------------
check "the centre retires the province's key" "$T" keys retire --home "$C" --org 410000 "$PFPR"
refused "a retired signer" 'check 1 \(signature\): .*retired' "$PKG"

done_testing
