#!/usr/bin/env bash
# Benchmark: `mm-install download` of a synthetic ~SIZE_MB release from a loopback nginx, against
# the shell baseline `curl -o F URL && sha256sum F && gpgv --keyring key.gpg F.sig F` on the same
# file in the same run. Prints the median wall time and peak RSS of each side and their time ratio.
#
#   bash bench/download-verify.sh [SIZE_MB]      (default 512)
#
# Environment: RUNS (default 3) runs per side; CARGO_TARGET_DIR (default <repo>/target);
# KEEP_TMP=1 keeps the temporary directory for inspection.
#
# This is a benchmark, not a test: it never fails on the figures, only when a step errors
# (a failed build, download or verification, or a downloaded file whose SHA-256 differs).
# See docs/performance.md for the recorded figures.
set -euo pipefail

SIZE_MB=${1:-512}
RUNS=${RUNS:-3}
VERSION=9.9.9
TARBALL=mattermost-${VERSION}-linux-amd64.tar.gz

die() { echo "download-verify: error: $*" >&2; exit 1; }
log() { echo "download-verify: $*" >&2; }

[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$SIZE_MB'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"

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
# Random bytes do not compress, so the gzip -1 tarball is ~SIZE_MB (MiB) plus a few KiB.
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$WORK/stage/mattermost/payload.bin"
tar -C "$WORK/stage" -cf - mattermost | gzip -1 > "$SRC"
rm -rf "$WORK/stage"
SRC_BYTES=$(stat -c %s "$SRC")
SRC_SHA=$(sha256sum "$SRC" | cut -d' ' -f1)

export GNUPGHOME=$WORK/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Bench <bench@test>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --yes --digest-algo SHA256 --detach-sign -o "$SRC.sig" "$SRC"
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

MM_TIMES=() MM_RSS=() BL_TIMES=() BL_RSS=()

run_mm() {
    local i=$1 out=$WORK/out-mm-$i
    rm -rf "$out"; mkdir -p "$out"
    drop_caches
    local rc=0
    /usr/bin/time -f '%e %M' -o "$WORK/mm.time" \
        "$MM" download --version "$VERSION" --release-url "$BASE_URL" --keyring "$WORK/key.asc" \
        --dir "$out" --arch amd64 --no-progress > "$WORK/mm.stdout" 2> "$WORK/mm.stderr" || rc=$?
    if ((rc != 0)); then
        cat "$WORK/mm.stderr" >&2
        die "mm-install download exited $rc (run $i)"
    fi
    local printed expected=$out/$TARBALL
    printed=$(cat "$WORK/mm.stdout")
    [[ $printed == "$expected" ]] || die "mm-install printed '$printed', expected '$expected' (run $i)"
    [[ -f $expected ]] || die "mm-install did not create $expected (run $i)"
    local got
    got=$(sha256sum "$expected" | cut -d' ' -f1)
    [[ $got == "$SRC_SHA" ]] || die "mm-install's file has SHA-256 $got, the source $SRC_SHA (run $i)"
    local t m
    read -r t m < "$WORK/mm.time"
    MM_TIMES+=("$t"); MM_RSS+=("$m")
    log "run $i mm-install: ${t} s, ${m} KiB"
    rm -rf "$out"
}

run_baseline() {
    local i=$1 out=$WORK/out-bl-$i
    rm -rf "$out"; mkdir -p "$out"
    # gpgv reads the signature from a file: fetch it first, outside the timing.
    curl -fsS -o "$out/$TARBALL.sig" "$URL.sig"
    drop_caches
    local f=$out/$TARBALL rc=0
    # The whole chain is timed by the outer /usr/bin/time; each process by its own (its wall time
    # is only logged, its peak RSS counts: the chain's peak is the largest of the three).
    /usr/bin/time -f '%e %M' -o "$WORK/bl.time" sh -c '
        /usr/bin/time -f "%e %M" -o "$1/curl.time" curl -sS -o "$2" "$3" &&
        /usr/bin/time -f "%e %M" -o "$1/sha.time" sha256sum "$2" > "$1/sha.out" &&
        /usr/bin/time -f "%e %M" -o "$1/gpgv.time" gpgv --keyring "$4" "$5" "$2" 2> "$1/gpgv.err"
    ' sh "$WORK" "$f" "$URL" "$WORK/key.gpg" "$out/$TARBALL.sig" 2> "$WORK/bl.stderr" || rc=$?
    if ((rc != 0)); then
        cat "$WORK/bl.stderr" "$WORK/gpgv.err" >&2 2>/dev/null || true
        die "baseline chain exited $rc (run $i)"
    fi
    local got
    got=$(cut -d' ' -f1 "$WORK/sha.out")
    [[ $got == "$SRC_SHA" ]] || die "baseline's file has SHA-256 $got, the source $SRC_SHA (run $i)"
    local t outer_m ct c st s gt g m
    read -r t outer_m < "$WORK/bl.time"
    read -r ct c < <(tail -n1 "$WORK/curl.time")
    read -r st s < <(tail -n1 "$WORK/sha.time")
    read -r gt g < <(tail -n1 "$WORK/gpgv.time")
    m=$(printf '%s\n' "$c" "$s" "$g" | sort -n | tail -n1)
    BL_TIMES+=("$t"); BL_RSS+=("$m")
    log "run $i baseline: ${t} s, max ${m} KiB (curl $ct s $c KiB, sha256sum $st s $s KiB, gpgv $gt s $g KiB)"
    rm -rf "$out"
}

for i in $(seq 1 "$RUNS"); do
    # Alternate which side goes first so neither always runs right after the other.
    if ((i % 2)); then
        run_mm "$i"
        run_baseline "$i"
    else
        run_baseline "$i"
        run_mm "$i"
    fi
done

# --- 6. report -------------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MM_T=$(median "${MM_TIMES[@]}"); MM_M=$(median "${MM_RSS[@]}")
BL_T=$(median "${BL_TIMES[@]}"); BL_M=$(median "${BL_RSS[@]}")

awk -v size="$SRC_BYTES" -v runs="$RUNS" -v drop="$DROP_CACHES" \
    -v mt="$MM_T" -v mm="$MM_M" -v bt="$BL_T" -v bm="$BL_M" \
    -v mts="${MM_TIMES[*]}" -v bts="${BL_TIMES[*]}" 'BEGIN {
    ratio = (bt > 0) ? mt / bt : 0
    printf "\ndownload + verify of a %.1f MiB tarball (%d bytes) from nginx on 127.0.0.1\n", size / 1048576, size
    printf "median of %d runs per side; page cache dropped before each run: %s\n\n", runs, drop
    printf "%-44s %10s %15s %15s\n", "", "wall (s)", "peak RSS (MiB)", "MiB/s"
    printf "%-44s %10.2f %15.1f %15.0f\n", "mm-install download", mt, mm / 1024, (mt > 0) ? size / 1048576 / mt : 0
    printf "%-44s %10.2f %15.1f %15.0f\n", "curl -o F && sha256sum F && gpgv F.sig F", bt, bm / 1024, (bt > 0) ? size / 1048576 / bt : 0
    printf "\nall runs (s): mm-install %s; baseline %s\n", mts, bts
    printf "time ratio mm-install / baseline: %.2f  (target <= 1.0: %s)\n", ratio, (ratio <= 1.0) ? "met" : "NOT met"
    printf "mm-install peak RSS: %.1f MiB  (target <= 32 MiB: %s)\n", mm / 1024, (mm <= 32768) ? "met" : "NOT met"
}'
