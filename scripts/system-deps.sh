#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/system-deps.d/*.txt (one per line, # comments),
# only those missing. Idempotent; needs root to install (CI and the machines here run as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t want < <(cat "$here"/system-deps.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "error: need root to install ${missing[*]} (or install them yourself)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
