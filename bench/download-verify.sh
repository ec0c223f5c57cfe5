#!/usr/bin/env bash
# Benchmark: `mm-install download` of a synthetic ~SIZE_MB release from a loopback nginx, against
# what an administrator would type, on the same file in the same run. Three comparisons:
#
#   (a) `mm-install download`            vs (b) `curl -o F URL && sha256sum F && gpgv --keyring key.gpg F.sig F`
#   (a) `mm-install download`            vs (e) `curl -o F URL` alone (transfer and write, no verification)
#   (c) `mm-install download --extract X` vs (d) `curl -o F URL && sha256sum F && tar xzf F -C X`
#
# Prints, for each comparison, the median wall time and peak RSS of each side and their time ratio.
#
#   bash bench/download-verify.sh [SIZE_MB]      (default 512)
#
# Environment: RUNS (default 3) runs per side; MODES (default "verify extract") the comparisons
# to run ("verify" is (a) against (b) and (e), "extract" is (c) against (d)); DIGEST (default
# SHA256, as Mattermost's own signatures are presumed to use) the signature's hash algorithm;
# CARGO_TARGET_DIR (default <repo>/target);
# KEEP_TMP=1 keeps the temporary directory for inspection.
#
# This is a benchmark, not a test: it never fails on the figures, only when a step errors
# (a failed build, download, verification or extraction, a downloaded file whose SHA-256 differs,
# or an extracted tree that lacks mattermost/bin/mattermost or differs from the source).
# See docs/performance.md for the recorded figures.
set -euo pipefail

SIZE_MB=${1:-512}
RUNS=${RUNS:-3}
MODES=${MODES:-verify extract}
DIGEST=${DIGEST:-SHA256}
VERSION=9.9.9
TARBALL=mattermost-${VERSION}-linux-amd64.tar.gz

die() { echo "download-verify: error: $*" >&2; exit 1; }
log() { echo "download-verify: $*" >&2; }

[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$SIZE_MB'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
for mode in $MODES; do
    [[ $mode == verify || $mode == extract ]] || die "MODES may hold verify and extract, got '$mode'"
done
[[ $DIGEST =~ ^SHA(256|384|512)$ ]] || die "DIGEST must be SHA256, SHA384 or SHA512, got '$DIGEST'"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- 1. tools --------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
command -v gpgv >/dev/null 2>&1 || missing+=(gpgv)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    ((EUID == 0)) || die "missing ${missing[*]}; run as root to install them, or install them yourself"
    log "installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH"

# --- 2. build --------------------------------------------------------------------------------
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
log "building the release binary (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --manifest-path "$REPO/Cargo.toml" >&2
MM=$CARGO_TARGET_DIR/release/mm-install
[[ -x $MM ]] || die "$MM was not built"

# --- 3. synthetic release, key and signature -------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mm-bench.XXXXXX")
NGINX_PID=
cleanup() {
    local rc=$?
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# nginx workers may run as an unprivileged user: the served tree must be world-readable.
chmod 755 "$WORK"

ROOT=$WORK/www
mkdir -p "$ROOT/$VERSION" "$WORK/stage/mattermost/bin" "$WORK/stage/mattermost/config"
SRC=$ROOT/$VERSION/$TARBALL

log "making a ~${SIZE_MB} MB synthetic release"
printf '#!/bin/sh\necho "mattermost %s (benchmark stub)"\n' "$VERSION" > "$WORK/stage/mattermost/bin/mattermost"
chmod 755 "$WORK/stage/mattermost/bin/mattermost"
printf '{"ServiceSettings": {"ListenAddress": ":8065"}}\n' > "$WORK/stage/mattermost/config/config.json"
# A release is not one file: a client/ tree of small compressible files (CLIENT_DIRS x
# CLIENT_FILES of 1-8 KiB text) makes the extraction pay a per-entry cost (create, write, mode,
# mtime) as well as the bulk copy.
CLIENT_DIRS=16 CLIENT_FILES=32
for d in $(seq -w 1 "$CLIENT_DIRS"); do
    mkdir -p "$WORK/stage/mattermost/client/chunk$d"
    for f in $(seq -w 1 "$CLIENT_FILES"); do
        # $f is zero-padded: force base 10.
        seq 1 $(( (10#$f % 8 + 1) * 20 )) |
            sed "s/.*/export const v${d}_${f}_& = 'benchmark client asset, line &';/" \
            > "$WORK/stage/mattermost/client/chunk$d/asset$f.js"
    done
done
# Random bytes do not compress, so the gzip -1 tarball is ~SIZE_MB (MiB) plus a few hundred KiB.
# gzip then stores the payload almost verbatim, so extracting is mostly copying: per downloaded
# byte this is the cheapest case for both extractors, not the worst (see docs/performance.md).
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$WORK/stage/mattermost/payload.bin"
tar -C "$WORK/stage" -cf - mattermost | gzip -1 > "$SRC"
# What an extraction must reproduce: every regular file's path and SHA-256, and the file count.
tree_manifest() { (cd "$1" && find mattermost -type f -print0 | sort -z | xargs -0 sha256sum); }
tree_manifest "$WORK/stage" > "$WORK/source.manifest"
SRC_FILES=$(wc -l < "$WORK/source.manifest")
PAYLOAD_SHA=$(awk '$2 == "mattermost/payload.bin" { print $1 }' "$WORK/source.manifest")
[[ -n $PAYLOAD_SHA ]] || die "the source manifest has no mattermost/payload.bin"
rm -rf "$WORK/stage"
SRC_BYTES=$(stat -c %s "$SRC")
SRC_SHA=$(sha256sum "$SRC" | cut -d' ' -f1)

export GNUPGHOME=$WORK/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Bench <bench@test>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --yes --digest-algo "$DIGEST" --detach-sign -o "$SRC.sig" "$SRC"
gpg --batch --armor --export > "$WORK/key.asc"
gpg --batch --export > "$WORK/key.gpg"
chmod -R a+rX "$ROOT"

# --- 4. nginx on loopback --------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
mkdir -p "$WORK/nginx/logs"
PORT=
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    port_in_use "$candidate" || { PORT=$candidate; break; }
done
[[ -n $PORT ]] || die "no free loopback port found"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    access_log off;
    log_not_found off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT;
        root $ROOT;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" -g 'daemon off;' &
NGINX_PID=$!
BASE_URL=http://127.0.0.1:$PORT
URL=$BASE_URL/$VERSION/$TARBALL
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$URL.sig" 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/logs/error.log" >&2; die "nginx exited"; }
    sleep 0.05
done
curl -fsS -o /dev/null "$URL.sig" || { cat "$WORK/nginx/logs/error.log" >&2; die "nginx is not serving $URL.sig"; }
log "serving $URL ($SRC_BYTES bytes) from nginx pid $NGINX_PID"

# --- 5. runs ---------------------------------------------------------------------------------
DROP_CACHES=no
if (sync && echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then DROP_CACHES=yes; fi
log "dropping the page cache between runs: $DROP_CACHES"
drop_caches() {
    if [[ $DROP_CACHES == yes ]]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
}

# The load matters: other builds on the machine slow both sides, and CPU-bound steps most.
log "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

# Per comparison: "verify" (a vs b) and "extract" (c vs d). Arrays hold one entry per run.
declare -A TIMES RSS
record() { TIMES[$1]+="$2 "; RSS[$1]+="$3 "; }

# Check an extracted tree against the source: the server binary is there and executable, and
# every file (payload included) has the source's path and SHA-256. Prints the payload's SHA-256.
check_tree() {
    local side=$1 x=$2 i=$3
    [[ -f $x/mattermost/bin/mattermost ]] || die "$side: no $x/mattermost/bin/mattermost (run $i)"
    [[ -x $x/mattermost/bin/mattermost ]] || die "$side: $x/mattermost/bin/mattermost is not executable (run $i)"
    tree_manifest "$x" > "$WORK/$side.manifest"
    if ! cmp -s "$WORK/source.manifest" "$WORK/$side.manifest"; then
        diff "$WORK/source.manifest" "$WORK/$side.manifest" | head -n 20 >&2 || true
        die "$side: the extracted tree differs from the source (run $i)"
    fi
    awk '$2 == "mattermost/payload.bin" { print $1 }' "$WORK/$side.manifest"
}

# mm-install download [--extract X]. $2 is "verify" or "extract".
run_mm() {
    local i=$1 mode=$2 out=$WORK/out-mm-$i x=$WORK/x-mm-$i
    rm -rf "$out" "$x"; mkdir -p "$out"
    local extra=()
    [[ $mode == extract ]] && extra=(--extract "$x")
    drop_caches
    local rc=0
    /usr/bin/time -f '%e %M' -o "$WORK/mm.time" \
        "$MM" download --version "$VERSION" --release-url "$BASE_URL" --keyring "$WORK/key.asc" \
        --dir "$out" --arch amd64 --no-progress "${extra[@]}" > "$WORK/mm.stdout" 2> "$WORK/mm.stderr" || rc=$?
    if ((rc != 0)); then
        cat "$WORK/mm.stderr" >&2
        die "mm-install download${extra:+ --extract} exited $rc (run $i)"
    fi
    local printed expected=$out/$TARBALL
    [[ $mode == extract ]] && expected=$x/mattermost
    printed=$(cat "$WORK/mm.stdout")
    [[ $printed == "$expected" ]] || die "mm-install printed '$printed', expected '$expected' (run $i)"
    [[ -f $out/$TARBALL ]] || die "mm-install did not create $out/$TARBALL (run $i)"
    local got
    got=$(sha256sum "$out/$TARBALL" | cut -d' ' -f1)
    [[ $got == "$SRC_SHA" ]] || die "mm-install's file has SHA-256 $got, the source $SRC_SHA (run $i)"
    if [[ $mode == extract ]]; then
        MM_PAYLOAD_SHA=$(check_tree mm-install "$x" "$i")
    fi
    local t m
    read -r t m < "$WORK/mm.time"
    record "mm-$mode" "$t" "$m"
    log "run $i mm-install ($mode): ${t} s, ${m} KiB"
    rm -rf "$out" "$x"
}

# The shell chain. $2 "verify": curl && sha256sum && gpgv; "extract": curl && sha256sum && tar xzf.
run_baseline() {
    local i=$1 mode=$2 out=$WORK/out-bl-$i x=$WORK/x-bl-$i
    rm -rf "$out" "$x"; mkdir -p "$out"
    local f=$out/$TARBALL rc=0 last
    if [[ $mode == verify ]]; then
        # gpgv reads the signature from a file: fetch it first, outside the timing.
        curl -fsS -o "$out/$TARBALL.sig" "$URL.sig"
        last=gpgv
    else
        # tar -C needs an existing directory (mm-install needs a missing one): create it here.
        mkdir "$x"
        last=tar
    fi
    drop_caches
    # The whole chain is timed by the outer /usr/bin/time; each process by its own (its wall time
    # is only logged, its peak RSS counts: the chain's peak is the largest of the three). GNU tar
    # runs `gzip -d` as its child; time's %M for tar covers that child too (wait4 reports the
    # larger of the process's and its waited-for children's peaks).
    /usr/bin/time -f '%e %M' -o "$WORK/bl.time" sh -c '
        /usr/bin/time -f "%e %M" -o "$1/curl.time" curl -sS -o "$2" "$3" &&
        /usr/bin/time -f "%e %M" -o "$1/sha.time" sha256sum "$2" > "$1/sha.out" &&
        if [ "$6" = verify ]; then
            /usr/bin/time -f "%e %M" -o "$1/last.time" gpgv --keyring "$4" "$5" "$2" 2> "$1/last.err"
        else
            /usr/bin/time -f "%e %M" -o "$1/last.time" tar xzf "$2" -C "$7" 2> "$1/last.err"
        fi
    ' sh "$WORK" "$f" "$URL" "$WORK/key.gpg" "$out/$TARBALL.sig" "$mode" "$x" 2> "$WORK/bl.stderr" || rc=$?
    if ((rc != 0)); then
        cat "$WORK/bl.stderr" "$WORK/last.err" >&2 2>/dev/null || true
        die "baseline chain ($mode) exited $rc (run $i)"
    fi
    local got
    got=$(cut -d' ' -f1 "$WORK/sha.out")
    [[ $got == "$SRC_SHA" ]] || die "baseline's file has SHA-256 $got, the source $SRC_SHA (run $i)"
    if [[ $mode == extract ]]; then
        BL_PAYLOAD_SHA=$(check_tree baseline "$x" "$i")
    fi
    local t outer_m ct c st s lt l m
    read -r t outer_m < "$WORK/bl.time"
    read -r ct c < <(tail -n1 "$WORK/curl.time")
    read -r st s < <(tail -n1 "$WORK/sha.time")
    read -r lt l < <(tail -n1 "$WORK/last.time")
    m=$(printf '%s\n' "$c" "$s" "$l" | sort -n | tail -n1)
    record "bl-$mode" "$t" "$m"
    log "run $i baseline ($mode): ${t} s, max ${m} KiB (curl $ct s $c KiB, sha256sum $st s $s KiB, $last $lt s $l KiB)"
    rm -rf "$out" "$x"
}

# `curl -o F URL` alone: the floor for fetching the file, with no verification at all.
run_curl() {
    local i=$1 out=$WORK/out-curl-$i rc=0
    rm -rf "$out"; mkdir -p "$out"
    drop_caches
    /usr/bin/time -f '%e %M' -o "$WORK/curl-alone.time" curl -sS -o "$out/$TARBALL" "$URL" || rc=$?
    ((rc == 0)) || die "curl -o exited $rc (run $i)"
    local got
    got=$(sha256sum "$out/$TARBALL" | cut -d' ' -f1)
    [[ $got == "$SRC_SHA" ]] || die "curl's file has SHA-256 $got, the source $SRC_SHA (run $i)"
    local t m
    read -r t m < "$WORK/curl-alone.time"
    TIMES[curl-verify]+="$t "; RSS[curl-verify]+="$m "
    log "run $i curl -o alone: ${t} s, ${m} KiB"
    rm -rf "$out"
}

# The comparisons, one after the other, in the same run against the same nginx and tarball.
# Rotate which side goes first so none always runs right after another.
for mode in $MODES; do
    for i in $(seq 1 "$RUNS"); do
        if ((i % 2)); then
            run_mm "$i" "$mode"
            run_baseline "$i" "$mode"
            [[ $mode == verify ]] && run_curl "$i"
        else
            [[ $mode == verify ]] && run_curl "$i"
            run_baseline "$i" "$mode"
            run_mm "$i" "$mode"
        fi
        if [[ $mode == extract ]]; then
            # Both trees already matched the source manifest; say so explicitly for the payload.
            [[ $MM_PAYLOAD_SHA == "$BL_PAYLOAD_SHA" && $MM_PAYLOAD_SHA == "$PAYLOAD_SHA" ]] ||
                die "payload SHA-256 differs: mm-install $MM_PAYLOAD_SHA, baseline $BL_PAYLOAD_SHA, source $PAYLOAD_SHA (run $i)"
            log "run $i: both sides extracted $SRC_FILES files; payload SHA-256 ${PAYLOAD_SHA:0:16}... on both"
        fi
    done
done

log "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

# --- 6. report -------------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { printf '%s\n' "$@" | sort -g | tail -n1; }

# report TITLE MODE MM_LABEL BL_LABEL TIME_TARGET [BASELINE_KEY]
report() {
    local title=$1 mode=$2 mm_label=$3 bl_label=$4 target=$5 bl=${6:-bl-$2}
    # shellcheck disable=SC2206 # the arrays are space-separated numbers
    local mts=(${TIMES[mm-$mode]}) mrs=(${RSS[mm-$mode]}) bts=(${TIMES[$bl]}) brs=(${RSS[$bl]})
    awk -v title="$title" -v size="$SRC_BYTES" -v runs="$RUNS" -v drop="$DROP_CACHES" -v digest="$DIGEST" \
        -v ml="$mm_label" -v bl="$bl_label" -v target="$target" \
        -v mt="$(median "${mts[@]}")" -v mm="$(median "${mrs[@]}")" -v mmax="$(maximum "${mrs[@]}")" \
        -v bt="$(median "${bts[@]}")" -v bm="$(median "${brs[@]}")" \
        -v mts="${mts[*]}" -v bts="${bts[*]}" 'BEGIN {
        ratio = (bt > 0) ? mt / bt : 0
        printf "\n%s of a %.1f MiB tarball (%d bytes) from nginx on 127.0.0.1\n", title, size / 1048576, size
        printf "median of %d runs per side; page cache dropped before each run: %s; signature digest: %s\n\n", runs, drop, digest
        printf "%-50s %10s %15s %15s\n", "", "wall (s)", "peak RSS (MiB)", "MiB/s"
        printf "%-50s %10.2f %15.1f %15.0f\n", ml, mt, mm / 1024, (mt > 0) ? size / 1048576 / mt : 0
        printf "%-50s %10.2f %15.1f %15.0f\n", bl, bt, bm / 1024, (bt > 0) ? size / 1048576 / bt : 0
        printf "\nall runs (s): mm-install %s; baseline %s\n", mts, bts
        printf "time ratio mm-install / baseline: %.2f  (target <= %s: %s)\n", ratio, target, (ratio <= target + 0) ? "met" : "NOT met"
        printf "mm-install peak RSS: median %.1f MiB, max %.1f MiB  (target <= 32 MiB, on the max: %s)\n", mm / 1024, mmax / 1024, (mmax <= 32768) ? "met" : "NOT met"
    }'
}

if [[ " $MODES " == *" verify "* ]]; then
    report "download + verify" verify "mm-install download" \
        "curl -o F && sha256sum F && gpgv F.sig F" 1.0
    report "download + verify, against the transfer alone," verify "mm-install download" \
        "curl -o F (no verification)" 1.5 curl-verify
fi
if [[ " $MODES " == *" extract "* ]]; then
    report "fetch + verify + extract" extract "mm-install download --extract X" \
        "curl -o F && sha256sum F && tar xzf F -C X" 0.8
fi
