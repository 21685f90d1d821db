#!/usr/bin/env bash
# mypy cannot follow setuptools' folder-to-package mapping (collector/ is trodden.collector), so we
# check a tree of symlinks that has the installed layout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree="$root/.cache/typecheck"
rm -rf "$tree" && mkdir -p "$tree/trodden"
for entry in "$root"/trodden/*; do ln -s "$entry" "$tree/trodden/$(basename "$entry")"; done
ln -s "$root/collector" "$tree/trodden/collector"
ln -s "$root/synthesis" "$tree/trodden/synthesis"
ln -s "$root/replay-runner" "$tree/trodden/replay"
ln -s "$root/operator" "$tree/trodden/operator"
ln -s "$root/examples/shop" "$tree/trodden/shop"
cd "$tree"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$root/.cache/mypy" -p trodden "$@"
