#!/usr/bin/env bash
# Build the Debian and RPM packages of mm-install into OUTDIR:
#
#   packaging/build.sh OUTDIR
#
# 1. installs cargo-deb and cargo-generate-rpm (pinned versions, `cargo install --locked`) unless
#    ~/.cargo/bin already has them: ~45 s and ~2.5 min the first time, cached afterwards;
# 2. builds the release binary (`cargo build --release --locked -p mm-install`);
# 3. generates into target/packaging/ what the packages ship besides the binary: the man page and
#    the bash/zsh/fish completions (from the binary's clap definitions) and the Debian changelog;
# 4. writes mm-install_<version>_<arch>.deb and mm-install-<version>-1.<arch>.rpm into OUTDIR
#    from [package.metadata.deb] and [package.metadata.generate-rpm] in Cargo.toml.
#
# Run from anywhere; CI runs it through the test suite (tests/suite/packages.rs), and a release
# runs `packaging/build.sh dist/` (docs/releasing.md). Exits non-zero on the first failure.
set -euo pipefail

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1

fail() {
  echo "build.sh: error: $*" >&2
  exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
  fail "usage: packaging/build.sh OUTDIR"
fi
mkdir -p "$1" || fail "cannot create $1"
out=$(cd "$1" && pwd)

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
for tool in gzip strip; do
  command -v "$tool" >/dev/null || fail "'$tool' is missing"
done

cargo build --release --locked -p mm-install
bin=target/release/mm-install
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
SOURCE_DATE_EPOCH=$epoch cargo deb --no-build -p mm-install -o "$out"
SOURCE_DATE_EPOCH=$epoch cargo generate-rpm -p . -o "$out"

echo "build.sh: packages of mm-install $version in $out:" >&2
ls -l "$out"/mm-install_*.deb "$out"/mm-install-*.rpm >&2
