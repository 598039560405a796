#!/bin/sh
# test_badpkg: hostile and malformed packages at the centre (000000), each
# otherwise valid: built by hand (python3 tarfile, zstd, gpg signed by the
# province 410000 and encrypted to the centre) and refused by `verify`,
# `unpack` and `load` naming its check (checks 1 and 3 of exchange.md), with
# nothing left in the spool or the extract directory and nothing loaded
# (tmx_refused in tests/lib/gpg.sh). A control package built the same way
# passes. Cases: the manifest (missing, empty archive, not first, malformed,
# DOCTYPE, twice), manifest vs archive (unlisted, missing, size, SHA-256,
# duplicate), hostile entries (.., absolute, links, a device, no
# compression, trailing junk), caps (4 GiB zstd bomb, 16 GiB + 1 entry,
# OpenPGP compression bomb, 100,000 entries) and an expired signer.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
. tests/lib/pg.sh
. tests/lib/gpg.sh

: "${TMISGW_BIN:=$(pwd)/tmisgw}"
T=$TMISGW_BIN
CSV=$(pwd)/tests/data/load/teacher.csv
gpg_trap || exit 1
pg_start || exit 1
P=$(gw_home prov)
C=$(gw_home centre)
E=$(gw_home expiring)
W=$GPG_TMP/work
mkdir -p "$W"

fpr_of()
{
	gpg --homedir "$1/gnupg" --with-colons --list-secret-keys 2>/dev/null |
		awk -F: '/^fpr:/ { print $10; exit }'
}

# now_ms: milliseconds since the epoch
now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

refused()
{
	tmx_refused "$T" "$C" "$W" "$@"
}

# The payload builder: mk.py CASE OUT MANIFEST CSV writes the uncompressed
# tar of CASE to OUT, from raw tarfile headers so that entries can lie.
cat >"$W/mk.py" <<'EOF'
import sys, tarfile

case, out, man_path, csv_path = sys.argv[1:5]
MAN = open(man_path, 'rb').read()
CSV = open(csv_path, 'rb').read()
EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'


def info(name, size=0, kind=tarfile.REGTYPE, **kw):
    t = tarfile.TarInfo(name)
    t.size, t.type, t.mode, t.mtime = size, kind, 0o644, 1764266400
    t.uname = t.gname = 'tmis'
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def header(t):
    return t.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape')


def entry(name, data):
    return header(info(name, len(data))) + data + b'\0' * (-len(data) % 512)


def special(name, kind, **kw):
    return header(info(name, 0, kind, **kw))


END = b'\0' * 1024
M = entry('manifest.xml', MAN)
T = entry('data/teacher.csv', CSV)
parts = {
    'good': [M, T, END],
    'nomanifest': [T, END],
    'empty': [END],
    'notfirst': [T, M, END],
    'twice': [M, M, T, END],
    'extra': [M, T, entry('data/extra.csv', CSV), END],
    'size': [M, entry('data/teacher.csv', CSV + b'1,x\n'), END],
    'sha': [M, entry('data/teacher.csv',
                     CSV[:-2] + bytes([CSV[-2] ^ 1]) + CSV[-1:]), END],
    'dup': [M, T, T, END],
    'dotdot': [M, entry('../teacher.csv', CSV), END],
    'dotdot2': [M, entry('data/../../x', CSV), END],
    'paxdotdot': [M, entry('data/' + 'a' * 120 + '/../../../../tmp/x.csv',
                           CSV), END],
    'absolute': [M, entry('/tmp/teacher.csv', CSV), END],
    'symlink': [M, special('data/teacher.csv', tarfile.SYMTYPE,
                           linkname='/etc/passwd'), END],
    'hardlink': [M, special('data/teacher.csv', tarfile.LNKTYPE,
                            linkname='manifest.xml'), END],
    'chardev': [M, special('data/teacher.csv', tarfile.CHRTYPE,
                           devmajor=1, devminor=3), END],
    # headers alone: the data never comes (the bomb's is appended as zstd)
    'bomb': [M, header(info('data/teacher.csv', 4 << 30))],
    'huge': [M, header(info('data/teacher.csv', (16 << 30) + 1)), END],
}
with open(out, 'wb') as f:
    if case == 'many':
        # the manifest lists 1,000 empty files (its maximum); 100,000 follow
        lines = [l for l in MAN.decode().splitlines(True) if '<file ' not in l]
        files = ''.join('  <file name="data/f%05d.csv" category="f%05d" '
                        'format="csv" records="0" bytes="0" sha256="%s"/>\n'
                        % (i, i, EMPTY_SHA) for i in range(1000))
        f.write(entry('manifest.xml',
                      (''.join(lines[:-1]) + files + lines[-1]).encode()))
        for i in range(100000):
            f.write(header(info('data/f%05d.csv' % i)))
        f.write(END)
    else:
        f.write(b''.join(parts[case]))
EOF

# manifest FILE...: a manifest from 410000 to 000000 on stdout (gpg.sh)
manifest()
{
	tmx_manifest 410000 000000 0f5e2a7c-3b1d-4e8f-9a6b-00000000b0d0 7 full "$@"
}

# seal NAME: $W/NAME.tmx from $W/NAME.payload, signed by the province and
# encrypted to the centre as tmx_handmade does
seal()
{
	gpg --homedir "$P/gnupg" --batch --yes -q --trust-model always --sign \
		--encrypt -r "$CFPR" -o "$W/$1.tmx" "$W/$1.payload" 2>"$W/$1.gpgerr"
}

# build CASE [MANIFEST [NAME]]: $W/NAME.tmx (default NAME: CASE) of mk.py's
# CASE with MANIFEST (default: $W/man.xml, listing teacher.csv), zstd
build()
{
	_n=${3:-$1}
	python3 "$W/mk.py" "$1" "$W/$_n.tar" "${2:-$W/man.xml}" "$CSV" &&
		zstd -q -f -c "$W/$_n.tar" >"$W/$_n.payload" &&
		seal "$_n"
}

# ---- homes and keys ----------------------------------------------------------
"$T" keys init --home "$P" --org 410000 >/dev/null 2>&1
"$T" keys init --home "$C" --org 000000 >/dev/null 2>&1
"$T" keys export --home "$P" >"$W/p.asc"
"$T" keys export --home "$C" >"$W/c.asc"
check "centre trusts the province" "$T" keys trust --home "$C" --org 410000 "$W/p.asc"
check "province trusts the centre" "$T" keys trust --home "$P" --org 000000 "$W/c.asc"
check "db migrate" "$T" db migrate
CFPR=$(fpr_of "$C")

# An org whose key lives 10 seconds (made by hand, not by keys init): trusted
# and packing while valid now, its package loaded at the end once expired.
mkdir -m 700 "$E" "$E/gnupg"
echo 'org 430000' >"$E/config"
EBORN=$(date +%s)
gpg --homedir "$E/gnupg" --batch --passphrase '' -q \
	--quick-gen-key 'tmisgw 430000' ed25519 sign seconds=10 2>/dev/null
EFPR=$(fpr_of "$E")
gpg --homedir "$E/gnupg" --batch --passphrase '' -q \
	--quick-add-key "$EFPR" cv25519 encr seconds=10 2>/dev/null
gpg --homedir "$E/gnupg" --batch --armor --export "$EFPR" >"$W/e.asc" 2>/dev/null
check "centre trusts the short-lived key of 430000 while valid" \
	"$T" keys trust --home "$C" --org 430000 "$W/e.asc"
check "430000 trusts the centre" "$T" keys trust --home "$E" --org 000000 "$W/c.asc"
check "430000 packs while its key is valid" "$T" pack --home "$E" --to 000000 \
	--kind full --seq 1 -o "$W/expired.tmx" "$CSV"
is "all of that within the key's 10 seconds" "$(($(date +%s) - EBORN < 9))" 1

# ---- the control -------------------------------------------------------------
mkdir -p "$W/data"
cp "$CSV" "$W/data/teacher.csv"
manifest "$W/data/teacher.csv" >"$W/man.xml"
build good
out=$("$T" verify --home "$C" "$W/good.tmx" 2>&1)
is "control: the hand-built package passes verify" "$?" 0
like "control: checks 1-3 passed" "$out" 'checks 1-3 passed'
check "control: the spool is empty after verify" test -z "$(ls -A "$C/spool")"

# ---- the manifest ------------------------------------------------------------
build nomanifest
refused "no manifest" 'check 3 \(manifest\): manifest.xml is not the first entry' \
	"$W/nomanifest.tmx"
build empty
refused "an empty archive" 'check 3 \(manifest\): manifest.xml is missing: the archive is empty' \
	"$W/empty.tmx"
build notfirst
refused "manifest not the first entry" \
	'check 3 \(manifest\): manifest.xml is not the first entry \(the first is "data/teacher.csv"\)' \
	"$W/notfirst.tmx"
grep -v '</package>' "$W/man.xml" >"$W/man-badxml.xml"
build good "$W/man-badxml.xml" badxml
refused "malformed manifest XML" 'check 3 \(manifest\): malformed XML' "$W/badxml.tmx"
sed -e '1a\
<!DOCTYPE package [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>' \
	-e 's|<kind>full</kind>|<kind>\&x;</kind>|' "$W/man.xml" >"$W/man-doctype.xml"
build good "$W/man-doctype.xml" doctype
refused "a DOCTYPE with an external entity" 'check 3 \(manifest\): .*DOCTYPE' \
	"$W/doctype.tmx"
build twice
refused "manifest.xml twice" 'check 3 \(archive\): entry "manifest.xml" appears twice' \
	"$W/twice.tmx"

# ---- manifest vs archive -----------------------------------------------------------
build extra
refused "an entry not listed" \
	'check 3 \(archive\): entry "data/extra.csv" is not listed in the manifest' "$W/extra.tmx"
cp tests/data/load/training.csv "$W/data/"
manifest "$W/data/teacher.csv" "$W/data/training.csv" >"$W/man-two.xml"
build good "$W/man-two.xml" missing
refused "a listed file missing" \
	'check 3 \(archive\): "data/training.csv" is listed in the manifest but not in the archive' \
	"$W/missing.tmx"
build size
refused "a size mismatch" \
	'check 3 \(archive\): entry "data/teacher.csv" is [0-9]+ bytes; the manifest says [0-9]+' \
	"$W/size.tmx"
build sha
refused "a SHA-256 mismatch, same size" \
	'check 3 \(archive\): entry "data/teacher.csv" has SHA-256 [0-9a-f]{64}; the manifest says' \
	"$W/sha.tmx"
build dup
refused "data/teacher.csv twice" 'check 3 \(archive\): entry "data/teacher.csv" appears twice' \
	"$W/dup.tmx"

# ---- hostile entries ----------------------------------------------------------------
for c in dotdot dotdot2 paxdotdot; do
	build $c
	refused "a .. path ($c)" 'check 3 \(archive\): entry .* leads out of the archive' \
		"$W/$c.tmx"
done
check "the long .. path is in a pax header" grep -aq 'path=data/aaaaa*/\.\./' "$W/paxdotdot.tar"
build absolute
refused "an absolute path" 'check 3 \(archive\): entry "/tmp/teacher.csv" refused: it is an absolute path' \
	"$W/absolute.tmx"
build symlink
refused "a symbolic link" 'check 3 \(archive\): .*it is a symbolic link' "$W/symlink.tmx"
build hardlink
refused "a hard link" 'check 3 \(archive\): .*it is a hard link' "$W/hardlink.tmx"
build chardev
refused "a character device" 'check 3 \(archive\): .*it is a device' "$W/chardev.tmx"
cp "$W/good.tar" "$W/plain.payload" && seal plain
refused "an uncompressed tar" 'check 3 \(archive\): .*zstd or gzip is required' \
	"$W/plain.tmx"
python3 -c 'import random, sys; r = random.Random(7)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(2 << 20)))' >"$W/junk"
cat "$W/good.payload" "$W/junk" >"$W/junk.payload" && seal junk
refused "2 MiB of junk after the archive" \
	'check 3 \(archive\): (more than [0-9]+ bytes follow the end of the archive|the payload is not a tar.zst or tar.gz archive: Zstd decompression failed|cannot read)' \
	"$W/junk.tmx"

# ---- caps ------------------------------------------------------------------------------
# 4 GiB of data/teacher.csv from 256 copies of one zstd frame of 16 MiB
sed 's/bytes="[0-9]*"/bytes="4294967296"/' "$W/man.xml" >"$W/man-bomb.xml"
python3 "$W/mk.py" bomb "$W/bomb.tar" "$W/man-bomb.xml" "$CSV"
zstd -q -c "$W/bomb.tar" >"$W/bomb.payload"
head -c 16777216 /dev/zero | tr '\0' 'A' | zstd -q -c >"$W/z1"
for i in 1 2 3 4 5 6 7 8; do
	cat "$W/z$i" "$W/z$i" >"$W/z$((i + 1))"
	rm -f "$W/z$i"
done
cat "$W/z9" >>"$W/bomb.payload"
rm -f "$W/z9"
seal bomb
is "the 4 GiB bomb decompresses to 4 GiB + its headers" \
	"$(zstd -q -d -c "$W/bomb.payload" | wc -c)" $((4294967296 + $(wc -c <"$W/bomb.tar")))
diag "bomb package: $(wc -c <"$W/bomb.tmx") bytes"
t0=$(now_ms)
refused "a 4 GiB zstd bomb" 'check 3 \(archive\): .*compression bomb' "$W/bomb.tmx"
ms=$(($(now_ms) - t0))
diag "bomb: verify + unpack + load in $ms ms"
is "the bomb is refused in under 10 s" "$((ms < 10000))" 1

build huge
refused "an entry of 16 GiB + 1 byte" \
	'check 3 \(archive\): entry "data/teacher.csv" is 17179869185 bytes, over the 17179869184-byte limit' \
	"$W/huge.tmx"

head -c 67108864 /dev/zero |
	gpg --homedir "$P/gnupg" --batch --yes -q --trust-model always \
		--compress-level 9 --sign --encrypt -r "$CFPR" -o "$W/gpgbomb.tmx" 2>/dev/null
diag "OpenPGP bomb package: $(wc -c <"$W/gpgbomb.tmx") bytes"
refused "an OpenPGP compression bomb (64 MiB of zeros)" \
	'check 1 \(integrity\): the decrypted payload is over' "$W/gpgbomb.tmx"

python3 "$W/mk.py" many "$W/many.tar" "$W/man.xml" "$CSV" &&
	zstd -q -c "$W/many.tar" >"$W/many.payload" && seal many
rm -f "$W/many.tar"
t0=$(now_ms)
refused "100,000 entries" \
	'check 3 \(archive\): (entry "data/f01000.csv" is not listed in the manifest|the payload has more than [0-9]+ entries)' \
	"$W/many.tmx"
ms=$(($(now_ms) - t0))
diag "100,000 entries: verify + unpack + load in $ms ms"
is "100,000 entries are refused in under 10 s" "$((ms < 10000))" 1

# ---- the expired signer (last: its key had 10 seconds) -------------------------------
left=$((EBORN + 12 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
refused "a signer whose key has expired" 'check 1 \(signature\): .*expired' "$W/expired.tmx"

done_testing
