#!/usr/bin/env bash
# Builds a minimal Debian 12 root filesystem with Python 3 (debootstrap from the Debian
# mirror, since no container registry is reachable) and packs it as a tar for
# `podman import`. Cached: does nothing when the tar already exists.
#
# usage: base-image.sh OUTPUT.tar [MIRROR]
set -euo pipefail
out=${1:?usage: base-image.sh OUTPUT.tar [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
[ -s "$out" ] && exit 0
command -v debootstrap >/dev/null || { echo "error: debootstrap missing (apt-get install debootstrap)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/trodden-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
# minbase: essential packages only; python3 for the project and the tests' pods.
debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$rootfs" "$mirror" >"$work/log" 2>&1 \
  || { tail -30 "$work/log" >&2; exit 1; }
# Trim what an image never needs: package caches, docs, logs of the bootstrap.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/var/log/* "$rootfs"/debootstrap
mkdir -p "$(dirname "$out")"
tar --numeric-owner -C "$rootfs" -cf "$out.tmp" .
mv "$out.tmp" "$out"
