#!/usr/bin/env bash
# Installs the Debian packages the local node (stage 2) needs, only those missing.
# Idempotent; installing needs root (the node itself needs root anyway).
set -euo pipefail
want=(containerd runc containernetworking-plugins podman debootstrap iptables iproute2 openssl)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "note: the local node needs root and ${missing[*]}; e2e runs without a node" >&2
  exit 0
fi
echo "installing Debian packages for the local node: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
