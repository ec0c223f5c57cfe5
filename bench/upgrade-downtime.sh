#!/usr/bin/env bash
# Benchmark (issue 4): downtime of `mm-install upgrade` against Mattermost's documented tarball
# upgrade procedure, on the same tree in the same booted Debian guest, with several sizes and
# layouts of `data/`. See docs/upgrade-downtime.md for what is measured and the recorded figures.
#
#   sudo bash bench/upgrade-downtime.sh
#
# Environment:
#   LAYOUTS     data/ layouts, in order (default "0 1G-sparse 5G-sparse 1G-10k 1G-100k 5G-dense";
#               empty: none, only the "already current" step):
#                 0          empty data/
#                 NG-sparse  N GiB as N*10 sparse files of 100 MiB (`truncate -s`)
#                 NG-Mk      N x 1.024 GB of random bytes in M*1000 real files spread over 100
#                            directories (1G-10k: 10 000 files of 100 KiB; 1G-100k: 100 000 of 10 KiB)
#                 NG-dense   N GiB as N*10 real files of 100 MiB of random bytes
#   ROUNDS      timed rounds per method and layout (default 5); the table shows medians
#   DB_MB       size in MB to grow Mattermost's database to (default 0: as installed), with
#               `generate_series` rows shaped like posts (issue 11): mm-install dumps it after
#               the stop, so its "dump" step (pg_dump + pg_restore --list + sha256) is downtime.
#               1000 gives about 1 GB (`pg_database_size`); reported beside the rename steps.
#   PLUGINS_MB  size of the random prepackaged_plugins/ of each release (default 300)
#   CARGO_TARGET_DIR   where to build (default <repo>/target)
#   BASE_ROOT   a debootstrapped Debian root to boot (default: the test suite's cached
#               <target>/e2e/base-bookworm-*, else one built into /tmp/mm-bench-base-bookworm)
#   KEEP_TMP=1  keep the work directory (releases, logs) for inspection
#   CURRENT_ROUNDS  runs of the "already current" step (default 20; 0 skips it). With LAYOUTS=""
#               only that step runs: `LAYOUTS= DB_MB=0 PLUGINS_MB=1 bash bench/upgrade-downtime.sh`
#
# For every layout a fresh guest boots from an overlay on the base root (the base is never
# written), mm-install installs 11.10.1 from a mirror served by the guest's own nginx on
# 127.0.0.1:8081, data/ is filled, and then, in this order:
#   1. ROUNDS x { baseline restart; `mm-install upgrade --version 11.10.2`; `mm-install rollback` }
#      The baseline restart is `systemctl stop; systemctl start` + the ping through nginx until
#      it answers, with nothing changed: the stand-in's own stop/start cost.
#   2. ROUNDS x { baseline restart; the documented procedure without the 6b application backup;
#      untimed reset to 11.10.1; baseline restart; the same with the 6b backup; untimed reset },
#      the resets by the same procedure with the 11.10.1 tree. mm-install is not run again in
#      that guest (its state.json would still say 11.10.1 after a manual upgrade).
# Downtime ("raw") runs from `systemctl stop` to the first healthy answer through nginx; "net" is
# raw minus the baseline restart measured just before it. Prints a Markdown table of medians,
# every mm-install round, the per-step medians and the two targets (<= 1 s, flat).
#
# Then, once and in its own fresh guest (issue 12, "already current"): mm-install installs
# 11.10.1 with a releases feed that lists 11.10.1 as the newest, and runs
# `mm-install upgrade --latest --no-progress` CURRENT_ROUNDS times, each timed inside the guest
# from before the exec to its exit. Each run must exit 0, make exactly one request to the mirror
# (the feed; counted in the mirror's own nginx access log) and change nothing (state.json's
# bytes and the service's ExecMainStartTimestamp as before). Prints the median and max against
# the target (<= 100 ms).
#
# This is a benchmark, not a test: it exits 0 whatever the figures, and non-zero only when a
# step errors (a build, the install, an upgrade, a rollback, a health check that never passes).
set -euo pipefail

LAYOUTS=${LAYOUTS-0 1G-sparse 5G-sparse 1G-10k 1G-100k 5G-dense}
ROUNDS=${ROUNDS:-5}
CURRENT_ROUNDS=${CURRENT_ROUNDS:-20}
DB_MB=${DB_MB:-0}
PLUGINS_MB=${PLUGINS_MB:-300}
OLD=11.10.1
NEW=11.10.2
SITE_HOST=chat.bench.test
PATH_IN=/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "upgrade-downtime: error: $*" >&2; exit 1; }
log() { echo "upgrade-downtime: $(date +%T) $*" >&2; }

((EUID == 0)) || die "run as root (it boots systemd-nspawn guests and mounts overlays)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $PLUGINS_MB =~ ^[0-9]+$ ]] || die "PLUGINS_MB must be an integer, got '$PLUGINS_MB'"
[[ $DB_MB =~ ^[0-9]+$ ]] || die "DB_MB must be an integer, got '$DB_MB'"
[[ $CURRENT_ROUNDS =~ ^[0-9]+$ ]] || die "CURRENT_ROUNDS must be an integer, got '$CURRENT_ROUNDS'"
[[ -n $LAYOUTS ]] || ((CURRENT_ROUNDS)) || die "LAYOUTS is empty and CURRENT_ROUNDS=0: nothing to measure"
for layout in $LAYOUTS; do
    [[ $layout =~ ^(0|[1-9][0-9]*G-(sparse|dense|[1-9][0-9]*k))$ ]] || die "unknown layout '$layout'"
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- 1. tools ----------------------------------------------------------------------------------
missing=()
for tool in systemd-nspawn:systemd-container debootstrap:debootstrap nsenter:util-linux \
    gpg:gnupg gzip:gzip tar:tar pgrep:procps; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH"

# --- 2. build ----------------------------------------------------------------------------------
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
log "building mm-install and mm-standin (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --locked --manifest-path "$REPO/Cargo.toml" -p mm-install -p mm-standin >&2
MM=$CARGO_TARGET_DIR/release/mm-install
STANDIN=$CARGO_TARGET_DIR/release/mm-standin
[[ -x $MM && -x $STANDIN ]] || die "$MM or $STANDIN was not built"

# --- 3. work directory and cleanup ----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mm-downtime.XXXXXX")
chmod 755 "$WORK" # the guest's nginx workers (www-data) read the bind-mounted artifacts
ART=$WORK/artifacts
mkdir -p "$ART/mirror" "$WORK/logs"
export GNUPGHOME=$WORK/gnupg
mkdir -m 700 "$GNUPGHOME"
NSPAWN_PID=
LEADER=
MERGED=
GUEST_DIR=

guest_stop() {
    if [[ -n $NSPAWN_PID ]] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        if [[ -n $LEADER ]]; then
            timeout 10 nsenter -t "$LEADER" -a env -i PATH=$PATH_IN systemctl poweroff >/dev/null 2>&1 || true
        else
            kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        fi
        for _ in $(seq 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
            log "guest still running 30 s after poweroff: killing it"
            [[ -n $LEADER ]] && kill -KILL "$LEADER" 2>/dev/null
            kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        fi
        wait "$NSPAWN_PID" 2>/dev/null || true
    fi
    NSPAWN_PID=
    LEADER=
    if [[ -n $MERGED ]] && mountpoint -q "$MERGED"; then
        umount "$MERGED" || umount -l "$MERGED" || true
    fi
    MERGED=
    if [[ -n $GUEST_DIR ]]; then
        rm -rf --one-file-system "$GUEST_DIR"
    fi
    GUEST_DIR=
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    guest_stop
    gpgconf --kill gpg-agent >/dev/null 2>&1 || true
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf --one-file-system "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 4. the base root --------------------------------------------------------------------------
find_base() {
    local dir
    for dir in "${BASE_ROOT:-}" "$CARGO_TARGET_DIR"/e2e/base-bookworm-* "$REPO"/target/e2e/base-bookworm-* \
        /tmp/mm-bench-base-bookworm; do
        [[ -n $dir && $dir != *.partial && $dir != *.lock && $dir != *.log ]] || continue
        if [[ -f $dir/etc/os-release && -e $dir/etc/systemd/system/multi-user.target.wants/nginx.service ]]; then
            echo "$dir"
            return
        fi
    done
}
BASE=$(find_base)
if [[ -z $BASE ]]; then
    BASE=/tmp/mm-bench-base-bookworm
    log "no cached base root: debootstrapping one into $BASE (about a minute)"
    MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    rm -rf --one-file-system "$BASE.partial"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,iproute2,ca-certificates,curl,nginx,postgresql,passwd,procps \
        bookworm "$BASE.partial" "${MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    : >"$BASE.partial/etc/machine-id"
    rm -f "$BASE.partial/var/lib/dbus/machine-id"
    echo mm-bench-guest >"$BASE.partial/etc/hostname"
    echo "# benchmark guest: no DNS" >"$BASE.partial/etc/resolv.conf"
    chroot "$BASE.partial" systemctl enable nginx postgresql >/dev/null 2>&1
    chroot "$BASE.partial" systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1
    mv "$BASE.partial" "$BASE"
fi
log "base root: $BASE (used read-only, as an overlay's lower layer)"

# --- 5. two releases, a throwaway key, signatures --------------------------------------------
log "making releases $OLD and $NEW (${PLUGINS_MB} MB of prepackaged_plugins/ each)"
# config.json exactly as the test suite's releases ship it.
CONFIG_JSON=$(awk '/^pub const CONFIG_JSON: &str = r#"/{on=1; sub(/^.*r#"/, ""); print; next}
                   on && /^"#;/{exit} on{print}' "$REPO/tests/suite/mirror.rs")
[[ $CONFIG_JSON == *'"SqlSettings"'* ]] || die "cannot read CONFIG_JSON from tests/suite/mirror.rs"

# Files both releases share (content does not matter to any of the procedures): the web client,
# translations, templates, fonts and the prepackaged plugins (random, so gzip cannot shrink them).
SHARED=$WORK/shared
mkdir -p "$SHARED"/{client/static,i18n,templates,fonts,plugins}
head -c $((800 * 40960)) /dev/urandom | split -b 40960 -a 3 -d --additional-suffix=.js - "$SHARED/client/static/chunk."
head -c $((40 * 76800)) /dev/urandom | base64 -w 100 | split -b 104000 -a 2 -d --additional-suffix=.json - "$SHARED/i18n/lang."
for i in $(seq -w 1 30); do printf '<html><body>template %s</body></html>\n' "$i" >"$SHARED/templates/t$i.html"; done
head -c $((10 * 102400)) /dev/urandom | split -b 102400 -a 2 -d --additional-suffix=.ttf - "$SHARED/fonts/font."
PLUGINS=15
if ((PLUGINS_MB > 0)); then
    head -c $((PLUGINS_MB * 1024 * 1024)) /dev/urandom |
        split -b $((PLUGINS_MB * 1024 * 1024 / PLUGINS + 1)) -a 2 -d - "$SHARED/plugins/p"
fi

gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'mm-install benchmark <bench@mirror.test>' rsa2048 sign never
gpg --batch --armor --export >"$ART/key.asc"

make_release() {
    local version=$1 stage=$WORK/stage-$1 tree=$WORK/stage-$1/mattermost dir=$ART/mirror/$1
    local name=mattermost-$1-linux-amd64.tar.gz f i=0
    mkdir -p "$tree"/{bin,config,logs,client,prepackaged_plugins} "$dir"
    install -m 755 "$STANDIN" "$tree/bin/mattermost"
    printf '#!/bin/sh\necho "mmctl %s"\n' "$version" >"$tree/bin/mmctl" && chmod 755 "$tree/bin/mmctl"
    printf '{"version":"%s"}\n' "$version" >"$tree/bin/standin.json"
    printf '%s\n' "$CONFIG_JSON" >"$tree/config/config.json" && chmod 600 "$tree/config/config.json"
    printf '<!doctype html><html><head><title>Mattermost %s</title></head><body></body></html>\n' \
        "$version" >"$tree/client/root.html"
    cp -al "$SHARED/client/static" "$tree/client/static"
    cp -al "$SHARED/i18n" "$SHARED/templates" "$SHARED/fonts" "$tree/"
    for f in "$SHARED"/plugins/p*; do
        [[ -e $f ]] || continue # PLUGINS_MB=0
        i=$((i + 1))
        ln "$f" "$tree/prepackaged_plugins/plugin-$i-v$version-linux-amd64.tar.gz"
        head -c 566 /dev/urandom >"$tree/prepackaged_plugins/plugin-$i-v$version-linux-amd64.tar.gz.sig"
    done
    echo notice >"$tree/NOTICE.txt"
    echo licence >"$tree/ENTERPRISE-EDITION-LICENSE.txt"
    echo "Mattermost $version (benchmark stand-in)" >"$tree/README.md"
    tar -C "$stage" --owner=root --group=root --numeric-owner -cf - mattermost | gzip -1 >"$dir/$name"
    gpg --batch --quiet --pinentry-mode loopback --passphrase '' --digest-algo SHA256 \
        --detach-sign -o "$dir/$name.sig" "$dir/$name"
    rm -rf "$stage"
}
make_release $OLD
make_release $NEW
sync # let the releases' writes settle before anything is timed
printf '[{"tag_name":"v%s","draft":false,"prerelease":false},{"tag_name":"v%s","draft":false,"prerelease":false}]\n' \
    $NEW $OLD >"$ART/mirror/releases"
# The "already current" step's feed: the installed release is the newest.
printf '[{"tag_name":"v%s","draft":false,"prerelease":false}]\n' $OLD >"$ART/mirror/releases-current"
rm -rf "$SHARED"
install -m 755 "$MM" "$ART/mm-install"
RELEASE_FILES=$(tar -tzf "$ART/mirror/$NEW/mattermost-$NEW-linux-amd64.tar.gz" | grep -vc '/$')
RELEASE_MB=$(du -sm --apparent-size "$ART/mirror/$NEW/mattermost-$NEW-linux-amd64.tar.gz" | cut -f1)
log "release tarball: $RELEASE_MB MB, $RELEASE_FILES files"

# --- 6. the script that runs inside the guest ------------------------------------------------------
cat >"$ART/guest.sh" <<'GUEST'
#!/bin/bash
# Runs inside the benchmark guest. Times are from $EPOCHREALTIME (bash 5, no fork).
set -euo pipefail
shopt -s nocasematch
HOST=$1 OLD=$2 NEW=$3
shift 3

# The ping through nginx answers OK with VERSION in X-Version-Id.
ping_ok() {
    local answer
    answer=$(curl -s -m 2 -i -H "Host: $HOST" http://127.0.0.1/api/v4/system/ping 2>/dev/null) || return 1
    [[ $answer == *'"status":"OK"'* && $answer == *$'\n'"x-version-id: $1."* ]]
}
wait_ping() {
    local deadline=$((SECONDS + 120))
    until ping_ok "$1"; do
        ((SECONDS < deadline)) || { echo "no healthy ping answering $1 after 120 s" >&2; exit 1; }
        sleep 0.02
    done
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The documented procedure, steps 5 (stop), 6b (optional), 7, 8, 9, 11, from /opt, with the
# release extracted beforehand into SOURCE. Prints one line of timings.
documented() {
    local source=$1 backup=$2 version=$3 t0 t1 t2 t3 t4 t5 t6 t7
    # Rounds follow each other faster than any admin would: clear systemd's start rate limit
    # (mm-install does the same before its own start). Not timed.
    systemctl reset-failed mattermost
    # Start from clean page cache writeback, as after any pause between steps 4 and 5.
    sync
    cd /opt
    t0=$EPOCHREALTIME
    systemctl stop mattermost
    t1=$EPOCHREALTIME
    if ((backup)); then
        cp -ra mattermost/ "mattermost-back-$(date +'%F-%H-%M')/"
    fi
    t2=$EPOCHREALTIME
    find mattermost/ mattermost/client/ -mindepth 1 -maxdepth 1 \! \( -type d \( -path mattermost/client -o -path mattermost/client/plugins -o -path mattermost/config -o -path mattermost/logs -o -path mattermost/plugins -o -path mattermost/data \) -prune \) | sort | xargs rm -r
    t3=$EPOCHREALTIME
    cp -an "$source/." mattermost/
    t4=$EPOCHREALTIME
    chown -R mattermost:mattermost mattermost
    t5=$EPOCHREALTIME
    systemctl start mattermost
    t6=$EPOCHREALTIME
    wait_ping "$version"
    t7=$EPOCHREALTIME
    echo "total=$(elapsed "$t0" "$t7") stop=$(elapsed "$t0" "$t1") backup=$(elapsed "$t1" "$t2")" \
        "rm=$(elapsed "$t2" "$t3") cp=$(elapsed "$t3" "$t4") chown=$(elapsed "$t4" "$t5")" \
        "start=$(elapsed "$t5" "$t6") ping=$(elapsed "$t6" "$t7")"
}

case $1 in
database)
    # About 430 bytes per row on disk with its primary key and index (measured on PostgreSQL 15).
    rows=$(($2 * 1000000 / 430))
    runuser -u postgres -- psql -X -q -d mattermost -v ON_ERROR_STOP=1 \
        -c 'SET ROLE mmuser' -c 'DROP TABLE IF EXISTS bench_posts' \
        -c "CREATE TABLE bench_posts (id text PRIMARY KEY, createat bigint, message text, props jsonb)" \
        -c "INSERT INTO bench_posts SELECT md5(i::text), i, repeat(md5(i::text), 6) || ' message ' || i, jsonb_build_object('n', i) FROM generate_series(1, $rows) i" \
        -c 'CREATE INDEX ON bench_posts (createat)' >&2
    runuser -u postgres -- psql -X -q -c CHECKPOINT >&2
    echo "database=$(runuser -u postgres -- psql -X -tA -d mattermost -c 'SELECT pg_database_size(current_database())')"
    ;;
populate)
    layout=$2 d=/opt/mattermost/data/bench
    rm -rf "$d"
    mkdir -p "$d"
    case $layout in
    0) ;;
    *G-sparse)
        for i in $(seq -w 1 $((${layout%G-sparse} * 10))); do truncate -s 100M "$d/sparse-$i.bin"; done ;;
    *G-dense)
        for i in $(seq -w 1 $((${layout%G-dense} * 10))); do
            head -c 100M /dev/urandom >"$d/dense-$i.bin"
        done ;;
    *G-*k)
        # Real files spread like Mattermost's file store (teams/channels/users directories).
        g=${layout%%G-*} k=${layout#*G-}
        count=$((${k%k} * 1000))
        size=$((g * 1024000000 / count))
        for i in $(seq -w 0 99); do
            mkdir -p "$d/20250101/teams/t$i/channels/c$i/users/u$i"
            head -c $((count / 100 * size)) /dev/urandom | split -b $size -a 4 -d - "$d/20250101/teams/t$i/channels/c$i/users/u$i/file."
        done ;;
    esac
    chown -R mattermost:mattermost /opt/mattermost/data
    sync
    echo "files=$(find /opt/mattermost/data -type f | wc -l)" \
        "apparent=$(du -s --apparent-size -B1 /opt/mattermost/data | cut -f1)" \
        "disk=$(du -s -B1 /opt/mattermost/data | cut -f1)"
    ;;
count)
    echo "files=$(find /opt/mattermost/data -type f | wc -l)"
    ;;
baseline)
    # The stand-in's own stop + start + first healthy ping, nothing changed.
    version=$2
    wait_ping "$version"
    systemctl reset-failed mattermost
    sync
    t0=$EPOCHREALTIME
    systemctl stop mattermost
    systemctl start mattermost
    wait_ping "$version"
    t1=$EPOCHREALTIME
    echo "total=$(elapsed "$t0" "$t1")"
    ;;
prepare)
    # Documented steps 1-4 (not downtime): the new release extracted into /tmp/mattermost-upgrade,
    # and the old one into /tmp/mattermost-reset for the untimed resets between rounds.
    cd /tmp
    rm -rf mattermost-upgrade mattermost-reset
    tar -xf "/srv/artifacts/mirror/$NEW/mattermost-$NEW-linux-amd64.tar.gz" --transform='s,^[^/]\+,\0-upgrade,'
    tar -xf "/srv/artifacts/mirror/$OLD/mattermost-$OLD-linux-amd64.tar.gz" --transform='s,^[^/]\+,\0-reset,'
    ;;
documented)
    wait_ping "$OLD"
    documented /tmp/mattermost-upgrade "$2" "$NEW"
    ;;
reset)
    # Back to OLD by the same procedure (untimed), and drop the application backups.
    documented /tmp/mattermost-reset 0 "$OLD" >/dev/null
    rm -rf /opt/mattermost-back-*
    ;;
current)
    # `upgrade --latest` with nothing newer, $2 times: one line per run with its wall time
    # (from before the exec to its exit, in ms), its exit code, the mirror's requests it made,
    # and whether state.json and the service's start timestamp are as before. The first run's
    # output (and any failing run's) goes to stderr.
    shift
    rounds=$1
    shift
    log=/var/log/nginx/mm-bench-mirror.log
    state0=$(sha256sum /var/lib/mm-install/state.json)
    start0=$(systemctl show -p ExecMainStartTimestamp mattermost)
    for r in $(seq "$rounds"); do
        before=$(wc -l <"$log")
        rc=0
        t0=$(date +%s%N)
        /srv/artifacts/mm-install upgrade --latest --no-progress "$@" >/tmp/current.out 2>&1 || rc=$?
        t1=$(date +%s%N)
        requests=$(($(wc -l <"$log") - before))
        same=yes
        [[ $(sha256sum /var/lib/mm-install/state.json) == "$state0" ]] || same="no(state.json)"
        [[ $(systemctl show -p ExecMainStartTimestamp mattermost) == "$start0" ]] || same="no(restarted)"
        echo "ms=$(((t1 - t0) / 1000000)) rc=$rc requests=$requests unchanged=$same"
        ((r > 1 && rc == 0)) || sed "s/^/run $r: /" /tmp/current.out >&2
    done
    ;;
*)
    echo "guest.sh: unknown command $1" >&2
    exit 2
    ;;
esac
GUEST
chmod -R a+rX "$ART"

# --- 7. guests -------------------------------------------------------------------------------------
IN() { nsenter -t "$LEADER" -a env -i PATH=$PATH_IN "$@"; }
G() {
    local rc=0
    IN bash /srv/artifacts/guest.sh "$SITE_HOST" "$OLD" "$NEW" "$@" || rc=$?
    if ((rc != 0)); then
        {
            echo "guest.sh $* failed (exit $rc); mattermost journal and log:"
            IN journalctl --no-pager -n 40 -u mattermost
            IN tail -n 20 /opt/mattermost/logs/mattermost.log
            IN ls -la /opt /opt/mattermost /opt/mattermost/data
        } >&2 || true
        die "guest.sh $* failed"
    fi
}

guest_boot() {
    local name=$1 state i
    GUEST_DIR=$WORK/guest-$name
    MERGED=$GUEST_DIR/merged
    mkdir -p "$GUEST_DIR"/{upper,work,merged}
    mount -t overlay -o "lowerdir=$BASE,upperdir=$GUEST_DIR/upper,workdir=$GUEST_DIR/work" none "$MERGED"
    systemd-nspawn --boot --directory="$MERGED" --register=no --keep-unit --console=pipe \
        --link-journal=no --private-network --machine="mmbench-$name-$$" \
        --bind-ro="$ART:/srv/artifacts" </dev/null >"$GUEST_DIR/nspawn.log" 2>&1 &
    NSPAWN_PID=$!
    for i in $(seq 150); do
        LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd || true)
        [[ -n $LEADER ]] && break
        kill -0 "$NSPAWN_PID" 2>/dev/null || { tail -30 "$GUEST_DIR/nspawn.log" >&2; die "nspawn exited"; }
        sleep 0.1
    done
    [[ -n $LEADER ]] || die "no systemd in the guest after 15 s"
    for i in $(seq 1200); do
        state=$(timeout 10 nsenter -t "$LEADER" -a env -i PATH=$PATH_IN systemctl is-system-running 2>/dev/null || true)
        [[ $state == running || $state == degraded ]] && break
        sleep 0.1
    done
    [[ $state == running || $state == degraded ]] || die "guest not running after 120 s ($state)"
    for i in $(seq 300); do
        IN systemctl is-active --quiet nginx postgresql@15-main && break
        sleep 0.2
    done
    IN systemctl is-active --quiet nginx postgresql@15-main || die "nginx/postgresql not active in the guest"
    # The release mirror: a second nginx server on the guest's own loopback.
    IN sh -c 'cat > /etc/nginx/conf.d/mm-bench-mirror.conf <<EOF
server {
    listen 127.0.0.1:8081;
    access_log /var/log/nginx/mm-bench-mirror.log;
    root /srv/artifacts/mirror;
    default_type application/octet-stream;
}
EOF
nginx -t -q && systemctl reload nginx'
    for i in $(seq 50); do
        IN curl -sf -o /dev/null "http://127.0.0.1:8081/$OLD/mattermost-$OLD-linux-amd64.tar.gz.sig" && break
        sleep 0.1
    done
}

MMARGS=(--no-progress --keyring /srv/artifacts/key.asc --release-url http://127.0.0.1:8081
    --releases-api http://127.0.0.1:8081/releases)

# mm-install in the guest, its stdout and stderr stamped line by line as they arrive.
mm_stamped() {
    local out=$1
    shift
    local rc=0
    IN systemctl reset-failed mattermost 2>/dev/null || true
    IN /srv/artifacts/mm-install "$@" "${MMARGS[@]}" 2>&1 |
        while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$out" || rc=$?
    if ((rc != 0)); then
        cat "$out" >&2
        log "mm-install $* failed (exit $rc); mattermost journal:"
        IN journalctl --no-pager -n 30 -u mattermost >&2 || true
        die "mm-install $1 failed: this is mm-install's failure, not the benchmark's (command and output above)"
    fi
}

# From a stamped log: the self-reported downtime, and the stamped one (the line announcing the
# stop step to the line reporting the health check passed).
self_reported() { sed -n 's/.*(downtime \([0-9.]*\)s).*/\1/p' "$1" | head -1; }
stamped() {
    awk '!t0 && NF == 3 && $2 == "stop" && $3 == "mattermost.service" {t0 = $1}
         t0 && !t1 && $2 == "healthy:" && $3 == "X-Version-Id" {t1 = $1}
         END { if (t0 && t1) printf "%.3f", t1 - t0; else print "?" }' "$1"
}
# mm-install's downtime split at its own step lines (each interval includes the journal fsyncs
# around the step): stop = `systemctl stop`; dump = pg_dump of the stopped server's database,
# its `pg_restore --list` and sha256; renames = remembering the schema and the two rename
# steps; start = `systemctl start` until READY=1; check = ping + websocket handshake.
mm_steps() {
    awk '!a && NF == 3 && $2 == "stop" && $3 == "mattermost.service" {a = $1; next}
         a && !p && $2 == "dump" {p = $1}
         a && !b && ($2 == "remember" || $2 == "move") {b = $1}
         a && !c && $2 == "start" && $3 == "mattermost.service" {c = $1}
         a && !d && $2 == "prove" {d = $1}
         a && !e && $2 == "healthy:" {e = $1}
         END { if (!p) p = b
               printf "stop=%.3f dump=%.3f renames=%.3f start=%.3f check=%.3f\n", p - a, b - p, c - b, d - c, e - d }' "$1"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

echo "== machine: $(nproc) cores, $(awk '/model name/{sub(/.*: /, ""); print; exit}' /proc/cpuinfo)," \
    "$(free -g | awk '/^Mem:/{print $2}') GiB RAM, kernel $(uname -r), $(findmnt -no FSTYPE -T "$WORK") under $WORK"
echo "== uptime before: $(uptime)"
echo "== releases: $RELEASE_MB MB tarballs, $RELEASE_FILES files each (${PLUGINS_MB} MB prepackaged_plugins/)"

declare -A R_FILES R_APP R_DISK R_BASE R_SELF R_STAMP R_NET R_ALL R_RB R_DOC0 R_DOC1 R_NET0 R_NET1 \
    R_ALL0 R_ALL1 R_STEPS0 R_STEPS1 R_MMSTEPS R_DB
n=0
for layout in $LAYOUTS; do
    n=$((n + 1))
    log "[$layout] booting a fresh guest"
    guest_boot "$n"
    log "[$layout] mm-install install $OLD (guest /tmp is $(IN findmnt -no FSTYPE -T /tmp), /opt is $(IN findmnt -no FSTYPE -T /opt))"
    L=$WORK/logs/$n-$layout
    mm_stamped "$L-install.log" install --yes --version $OLD --site-url "http://$SITE_HOST"
    if [[ $layout == *G-dense || $layout == *G-*k ]]; then
        need=$((2 * ${layout%%G-*} + 4))
        avail=$(df --output=avail -BG "$WORK" | tail -1 | tr -dc 0-9)
        ((avail >= need)) || die "$layout needs about $need GB free under $WORK (data/ + the 6b backup copy), $avail GB available"
    fi
    log "[$layout] populating data/"
    info=$(G populate "$layout")
    R_FILES[$layout]=$(field files "$info")
    R_APP[$layout]=$(field apparent "$info")
    R_DISK[$layout]=$(field disk "$info")
    log "[$layout] $info"
    if ((DB_MB)); then
        log "[$layout] growing the database by about $DB_MB MB"
        R_DB[$layout]=$(field database "$(G database "$DB_MB")")
        log "[$layout] database: ${R_DB[$layout]} bytes"
    fi

    # One untimed round first: it downloads 11.10.2 into mm-install's cache, so that every timed
    # round finds the same state (cached tarball, one kept release).
    mm_stamped "$L-warmup-upgrade.log" upgrade --version $NEW --yes
    mm_stamped "$L-warmup-rollback.log" rollback --yes
    base=() self=() stamp=() rb=() doc0=() doc1=() steps0=() steps1=() mmsteps=()
    net=() net0=() net1=()
    for r in $(seq "$ROUNDS"); do
        b=$(field total "$(G baseline $OLD)")
        base+=("$b")
        IN sync # the earlier rounds' writes, not this upgrade's own
        mm_stamped "$L-upgrade-$r.log" upgrade --version $NEW --yes
        self+=("$(self_reported "$L-upgrade-$r.log")")
        stamp+=("$(stamped "$L-upgrade-$r.log")")
        [[ ${stamp[-1]} != "?" ]] || die "cannot find the stop and healthy lines in $L-upgrade-$r.log"
        net+=("$(sub "${stamp[-1]}" "$b")")
        mmsteps+=("$(mm_steps "$L-upgrade-$r.log")")
        [[ $(G baseline $NEW) == total=* ]] # the served version really is NEW
        mm_stamped "$L-rollback-$r.log" rollback --yes
        rb+=("$(self_reported "$L-rollback-$r.log")")
        log "[$layout] round $r: baseline ${b}s; mm-install upgrade ${stamp[-1]}s (self-reported ${self[-1]}s; ${mmsteps[-1]}); rollback ${rb[-1]}s"
    done
    G prepare
    for r in $(seq "$ROUNDS"); do
        for backup in 0 1; do
            b=$(field total "$(G baseline $OLD)")
            base+=("$b")
            line=$(G documented $backup)
            t=$EPOCHREALTIME
            G reset
            if ((backup)); then
                doc1+=("$(field total "$line")") steps1+=("$line") net1+=("$(sub "$(field total "$line")" "$b")")
            else
                doc0+=("$(field total "$line")") steps0+=("$line") net0+=("$(sub "$(field total "$line")" "$b")")
            fi
            log "[$layout] round $r: baseline ${b}s; documented (backup=$backup): $line (then an untimed reset to $OLD: $(sub "$EPOCHREALTIME" "$t")s)"
        done
    done
    after=$(field files "$(G count)")
    [[ $after == "${R_FILES[$layout]}" ]] || die "[$layout] data/ had ${R_FILES[$layout]} files before the rounds, $after after"
    R_BASE[$layout]=$(median "${base[@]}")
    R_SELF[$layout]=$(median "${self[@]}")
    R_STAMP[$layout]=$(median "${stamp[@]}")
    R_NET[$layout]=$(median "${net[@]}")
    R_ALL[$layout]="${stamp[*]}"
    R_RB[$layout]=$(median "${rb[@]}")
    R_DOC0[$layout]=$(median "${doc0[@]}")
    R_DOC1[$layout]=$(median "${doc1[@]}")
    R_NET0[$layout]=$(median "${net0[@]}")
    R_NET1[$layout]=$(median "${net1[@]}")
    R_ALL0[$layout]="${doc0[*]}"
    R_ALL1[$layout]="${doc1[*]}"
    # Per-step medians.
    s=""
    for k in stop dump renames start check; do
        vals=()
        for l in "${mmsteps[@]}"; do vals+=("$(field "$k" "$l")"); done
        s+="$k=$(median "${vals[@]}") "
    done
    R_MMSTEPS[$layout]=$s
    for which in 0 1; do
        declare -n steps=steps$which
        s=""
        for k in stop backup rm cp chown start ping; do
            ((which == 0)) && [[ $k == backup ]] && continue
            vals=()
            for l in "${steps[@]}"; do vals+=("$(field "$k" "$l")"); done
            s+="$k=$(median "${vals[@]}") "
        done
        unset -n steps
        if ((which)); then R_STEPS1[$layout]=$s; else R_STEPS0[$layout]=$s; fi
    done
    log "[$layout] powering the guest off"
    guest_stop
done

# --- 8. the table ------------------------------------------------------------------------------
if [[ -n $LAYOUTS ]]; then
human() { awk -v b="$1" 'BEGIN { if (b < 1e6) printf "%.0f KB", b / 1e3; else if (b < 1e9) printf "%.0f MB", b / 1e6; else printf "%.2f GB", b / 1e9 }'; }
echo
echo "== uptime after: $(uptime)"
echo "== medians of $ROUNDS rounds, in seconds. raw = from \`systemctl stop\` to the first healthy answer through nginx"
echo "== (mm-install: its \"stop mattermost.service\" line to its \"healthy:\" line); net = raw minus the baseline"
echo "== restart measured just before it (stop + start + first healthy ping, nothing changed), median of the per-round"
echo "== differences; self = mm-install's own \"(downtime X.Ys)\"; ratio = documented raw / mm-install raw"
echo
echo "| data/ | layout | files in data/ | baseline restart | mm-install raw | mm-install net | mm-install self | documented w/o 6b raw | net | documented with 6b raw | net | ratio w/o 6b | ratio with 6b |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
mm_raw=() mm_net=()
for layout in $LAYOUTS; do
    raw=${R_STAMP[$layout]}
    q0=$(awk -v m="$raw" -v a="${R_DOC0[$layout]}" 'BEGIN { printf "%.0f", a / m }')
    q1=$(awk -v m="$raw" -v a="${R_DOC1[$layout]}" 'BEGIN { printf "%.0f", a / m }')
    mm_raw+=("$raw") mm_net+=("${R_NET[$layout]}")
    echo "| $(human "${R_APP[$layout]}") | $layout ($(human "${R_DISK[$layout]}") on disk) | ${R_FILES[$layout]} | ${R_BASE[$layout]} | $raw | ${R_NET[$layout]} | ${R_SELF[$layout]} | ${R_DOC0[$layout]} | ${R_NET0[$layout]} | ${R_DOC1[$layout]} | ${R_NET1[$layout]} | ${q0}x | ${q1}x |"
done
echo
echo "raw downtime, every round in order (mm-install | documented w/o 6b | documented with 6b):"
for l in $LAYOUTS; do echo "  $l: ${R_ALL[$l]} | ${R_ALL0[$l]} | ${R_ALL1[$l]}"; done
echo "mm-install rollback downtime (self-reported, median): $(for l in $LAYOUTS; do printf '%s=%ss ' "$l" "${R_RB[$l]}"; done)"
echo "median seconds per step (mm-install's dump is its database step, renames its release swap):"
for layout in $LAYOUTS; do
    echo "  $layout  mm-install:       ${R_MMSTEPS[$layout]}${R_DB[$layout]:+ (database $(human "${R_DB[$layout]}"))}"
    echo "  $layout  documented w/o 6b:  ${R_STEPS0[$layout]}"
    echo "  $layout  documented with 6b: ${R_STEPS1[$layout]}"
done
echo
max_net=$(printf '%s\n' "${mm_net[@]}" | sort -g | tail -1)
max_raw=$(printf '%s\n' "${mm_raw[@]}" | sort -g | tail -1)
min_raw=$(printf '%s\n' "${mm_raw[@]}" | sort -g | head -1)
awk -v n="$max_net" -v r="$max_raw" 'BEGIN { printf "target <= 1 s: largest mm-install median downtime %.3f s raw, %.3f s net of the restart: %s\n", r, n, (r <= 1 ? "MET (even raw)" : (n <= 1 ? "MET (net)" : "NOT MET")) }'
awk -v a="$max_raw" -v b="$min_raw" 'BEGIN { printf "target flat:   mm-install median raw downtime across layouts: max/min = %.2f (%.3f s / %.3f s), max - min = %.3f s: %s\n", a / b, a, b, a - b, (a / b <= 1.5 || a - b <= 0.1 ? "FLAT (max/min <= 1.5 or max - min <= 0.1 s)" : "NOT FLAT") }'
fi

# --- 9. already current (issue 12) ------------------------------------------------------------------
if ((CURRENT_ROUNDS)); then
    log "[current] booting a fresh guest"
    guest_boot current
    mm_stamped "$WORK/logs/current-install.log" install --yes --version $OLD --site-url "http://$SITE_HOST"
    log "[current] $CURRENT_ROUNDS x mm-install upgrade --latest, the feed listing $OLD as the newest"
    lines=$(G current "$CURRENT_ROUNDS" --keyring /srv/artifacts/key.asc --release-url http://127.0.0.1:8081 \
        --releases-api http://127.0.0.1:8081/releases-current)
    printf '%s\n' "$lines" >"$WORK/logs/current-rounds.log"
    ms=()
    while IFS= read -r line; do
        log "[current] $line"
        [[ $(field rc "$line") == 0 ]] || die "mm-install upgrade --latest exited non-zero when already current: $line"
        [[ $(field unchanged "$line") == yes ]] || die "mm-install upgrade --latest changed something when already current: $line"
        [[ $(field requests "$line") == 1 ]] || die "mm-install upgrade --latest made $(field requests "$line") requests (not 1, the feed) when already current: $line"
        ms+=("$(field ms "$line")")
    done <<<"$lines"
    ((${#ms[@]} == CURRENT_ROUNDS)) || die "expected $CURRENT_ROUNDS timed runs, got ${#ms[@]}"
    guest_stop
    med=$(median "${ms[@]}")
    max=$(printf '%s\n' "${ms[@]}" | sort -g | tail -1)
    echo
    echo "already current, every run in ms: ${ms[*]}"
    awk -v m="$med" -v x="$max" -v n="$CURRENT_ROUNDS" 'BEGIN { printf "already current: median %.0f ms, max %.0f ms of %d runs, 1 request each, exit 0, nothing changed (target <= 100 ms): ratio %.2f: %s\n", m, x, n, m / 100, (x <= 100 ? "MET (even the max)" : (m <= 100 ? "MET (median)" : "NOT MET")) }'
fi
