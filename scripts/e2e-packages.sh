#!/usr/bin/env bash
# Install the host packages the end-to-end guest harness (tests/suite/guest.rs) needs:
# debootstrap (builds the cached Debian root), systemd-nspawn (boots it with systemd as PID 1),
# ip (network namespace + veth), nsenter and flock (util-linux), pgrep (procps).
# Runs `apt-get update` only when something is missing. Must run as root. Exits non-zero loudly.
set -euo pipefail

fail() {
  echo "e2e-packages: ERROR: $*" >&2
  exit 1
}

# command -> Debian package that provides it
declare -A needed=(
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
  [ip]=iproute2
  [nsenter]=util-linux
  [flock]=util-linux
  [mount]=mount
  [pgrep]=procps
)

have() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

missing=()
for cmd in "${!needed[@]}"; do
  if ! have "$cmd"; then
    missing+=("${needed[$cmd]}")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "e2e-packages: all present (debootstrap, systemd-nspawn, ip, nsenter, flock, pgrep)"
  exit 0
fi

# Deduplicate.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
[ "$(id -u)" = 0 ] || fail "missing packages (${missing[*]}) and not root: cannot install them"

export DEBIAN_FRONTEND=noninteractive
echo "e2e-packages: installing ${missing[*]}"
apt-get update || fail "apt-get update failed"
apt-get install -y --no-install-recommends "${missing[@]}" ||
  fail "apt-get install ${missing[*]} failed"

for cmd in "${!needed[@]}"; do
  have "$cmd" || fail "'$cmd' is still missing after installing ${missing[*]}"
done
echo "e2e-packages: installed ${missing[*]}"
