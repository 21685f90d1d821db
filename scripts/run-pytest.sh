#!/usr/bin/env bash
# pytest, with "no tests ran" (exit 5) turned into a failure that says so: a suite that silently
# collects nothing must not pass.
set -uo pipefail
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests: this is a failure, not a pass" >&2
  exit 1
fi
exit "$rc"
