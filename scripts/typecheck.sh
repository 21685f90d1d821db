#!/usr/bin/env bash
# mypy cannot follow setuptools' folder-to-package mapping (collector/ is trodden.collector), so we
# check a tree of symlinks that has the installed layout. The tree lives in the checkout's own .venv
# (never in .cache/, which several checkouts of one machine may share).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree="$root/.venv/typecheck"
rm -rf "$tree" && mkdir -p "$tree/trodden"
for entry in "$root"/trodden/*; do ln -s "$entry" "$tree/trodden/$(basename "$entry")"; done
ln -s "$root/collector" "$tree/trodden/collector"
ln -s "$root/synthesis" "$tree/trodden/synthesis"
ln -s "$root/replay-runner" "$tree/trodden/replay"
ln -s "$root/operator" "$tree/trodden/operator"
ln -s "$root/examples/shop" "$tree/trodden/shop"
cd "$tree"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" -p trodden "$@"
