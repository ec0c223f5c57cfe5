#!/usr/bin/env bash
# Build the Debian and RPM packages of mm-install into OUTDIR:
#
#   packaging/build.sh OUTDIR
#   packaging/build.sh --tools      # step 1 only (.ci/run does it up front)
#
# 1. installs the pinned packaging tools unless they are already there: cargo-deb,
#    cargo-generate-rpm and cargo-zigbuild (`cargo install --locked`, into ~/.cargo/bin) and zig
#    (the `ziglang` package from PyPI, `pip install --target` into ~/.cache/mm-install/, so it
#    needs python3 with pip but never touches the system's Python packages). The first time:
#    ~45 s, ~2.5 min, ~3 min and ~25 s; cached afterwards;
# 2. builds the release binary linked for glibc 2.28, the oldest glibc of the supported systems
#    (RHEL 8 and its equivalents; mattermost-facts.md §10), so that the packages start on every
#    one of them: `cargo zigbuild --release --locked -p mm-install --target <host>.2.28`, into
#    target/<host>/release/mm-install. A plain `cargo build` (the README's) does not need zig and
#    writes target/release/, which the packages do not take;
# 3. generates into target/packaging/ what the packages ship besides the binary: the man page and
#    the bash/zsh/fish completions (from the binary's clap definitions) and the Debian changelog;
# 4. writes mm-install_<version>_<arch>.deb and mm-install-<version>-1.<arch>.rpm into OUTDIR
#    from [package.metadata.deb] and [package.metadata.generate-rpm] in Cargo.toml. Both tools get
#    `--target <host>`, which turns the assets' `target/release/` into `target/<host>/release/`.
#
# Run from anywhere; CI runs it through the test suite (tests/suite/packages.rs), and a release
# runs `packaging/build.sh dist/` (docs/releasing.md). Exits non-zero on the first failure.
set -euo pipefail

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.15.2
# The newest glibc the packaged binary may need (tests/suite/packages.rs checks its symbols).
GLIBC_FLOOR=2.28

fail() {
  echo "build.sh: error: $*" >&2
  exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
  fail "usage: packaging/build.sh OUTDIR | --tools"
fi
out=
if [ "$1" != --tools ]; then
  mkdir -p "$1" || fail "cannot create $1"
  out=$(cd "$1" && pwd)
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# The asset paths in Cargo.toml are relative to the workspace: keep the target dir there.
export CARGO_TARGET_DIR="$root/target"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Reproducible timestamps in the packages (file times, changelog date, RPM build time): the
# caller's SOURCE_DATE_EPOCH, else the last commit's time. Exported only for the packaging steps,
# since some build scripts (ring's) rebuild whenever it changes.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# $1: cargo subcommand binary, $2: crate, $3: pinned version.
ensure_tool() {
  local have
  have=$("$1" --version 2>/dev/null | awk '{print $NF}' || true)
  if [ "$have" != "$3" ]; then
    echo "build.sh: installing $2 $3 (have: ${have:-none}); this takes a few minutes once" >&2
    cargo install --locked --quiet "$2" --version "$3" || fail "cargo install $2 $3 failed"
  fi
}
ensure_tool cargo-deb cargo-deb "$CARGO_DEB_VERSION"
ensure_tool cargo-generate-rpm cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"
ensure_tool cargo-zigbuild cargo-zigbuild "$CARGO_ZIGBUILD_VERSION"
# zig, for cargo-zigbuild: PyPI's ziglang package is the zig release itself (ziglang/zig plus its
# lib/); CARGO_ZIGBUILD_ZIG_PATH tells cargo-zigbuild where it is. `--target` installs it into a
# directory of its own, which works even where the system's Python is externally managed.
zig_dir="${XDG_CACHE_HOME:-$HOME/.cache}/mm-install/ziglang-$ZIGLANG_VERSION"
export CARGO_ZIGBUILD_ZIG_PATH="$zig_dir/ziglang/zig"
if [ "$("$CARGO_ZIGBUILD_ZIG_PATH" version 2>/dev/null || true)" != "$ZIGLANG_VERSION" ]; then
  echo "build.sh: installing ziglang $ZIGLANG_VERSION into $zig_dir" >&2
  python3 -m pip --version >/dev/null 2>&1 || fail "python3 with pip is missing (apt-get install python3-pip)"
  rm -rf "$zig_dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-deps --target "$zig_dir" "ziglang==$ZIGLANG_VERSION" || fail "pip install ziglang $ZIGLANG_VERSION failed"
  [ "$("$CARGO_ZIGBUILD_ZIG_PATH" version)" = "$ZIGLANG_VERSION" ] ||
    fail "$CARGO_ZIGBUILD_ZIG_PATH does not report version $ZIGLANG_VERSION"
fi
for tool in gzip strip; do
  command -v "$tool" >/dev/null || fail "'$tool' is missing"
done
if [ -z "$out" ]; then
  echo "build.sh: packaging tools ready" >&2
  exit 0
fi

# The host's target triple: zigbuild links for it, with glibc $GLIBC_FLOOR instead of the host's.
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu) ;;
  *) fail "packages are built on a glibc Linux host, not on '${host:-unknown}'" ;;
esac
cargo zigbuild --release --locked -p mm-install --target "$host.$GLIBC_FLOOR"
bin=target/$host/release/mm-install
# Both packages ship the binary without symbols (cargo-deb would strip only the .deb's copy,
# cargo-generate-rpm does not strip). Cargo does not rebuild it because of this.
strip --strip-all "$bin"
# `mm-install 0.1.0`: the binary's CARGO_PKG_VERSION, i.e. the crate version.
version=$("$bin" --version | awk '{print $2}')
[ -n "$version" ] || fail "cannot read the version from $bin --version"

gen=target/packaging
rm -rf "$gen"
mkdir -p "$gen/completions"
"$bin" man | gzip -9n >"$gen/mm-install.1.gz"
"$bin" completions bash >"$gen/completions/mm-install.bash"
"$bin" completions zsh >"$gen/completions/_mm-install"
"$bin" completions fish >"$gen/completions/mm-install.fish"
# The unattended-upgrade service and timer, installed disabled (no maintainer script enables
# them): `systemctl enable --now mm-install-upgrade.timer`.
mkdir -p "$gen/systemd"
"$bin" render timer --only service --binary /usr/bin/mm-install >"$gen/systemd/mm-install-upgrade.service"
"$bin" render timer --only timer >"$gen/systemd/mm-install-upgrade.timer"

# A minimal Debian changelog for this version (lintian requires one), shipped as changelog.gz
# (the name for a native version such as 0.1.0); the user-facing history is CHANGELOG.md, shipped
# beside it. The maintainer is the one in [package.metadata.deb].
maintainer=$(sed -n 's/^maintainer = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$maintainer" ] || fail "no maintainer = \"...\" in [package.metadata.deb] of Cargo.toml"
cat >"$gen/changelog" <<EOF
mm-install ($version) unstable; urgency=medium

  * Release $version. See /usr/share/doc/mm-install/CHANGELOG.md for the changes.

 -- $maintainer  $(LC_ALL=C date -u -R -d "@$epoch")
EOF
gzip -9n "$gen/changelog"

rm -f "$out"/mm-install_*.deb "$out"/mm-install-*.rpm
# --no-build: the binary above is the one packaged.
SOURCE_DATE_EPOCH=$epoch cargo deb --no-build -p mm-install --target "$host" -o "$out"
SOURCE_DATE_EPOCH=$epoch cargo generate-rpm -p . --target "$host" -o "$out"

echo "build.sh: packages of mm-install $version in $out:" >&2
ls -l "$out"/mm-install_*.deb "$out"/mm-install-*.rpm >&2
