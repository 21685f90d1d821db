# Collector (issue 2): the ingest benchmark (wrk against `trodden collect`, raw COPY in the same run).
.PHONY: bench-ingest
bench-ingest: venv
	.venv/bin/python bench/ingest.py

# The collector's per-event walk (beacon, sanitize, rows) compiled by mypyc (collector/native.py):
# built by `make venv` when no build of those sources exists (about a minute), kept in .cache/native/
# (shared by the worktrees of this machine; .venv/native/ without .cache/) keyed by their digest. A
# failed build leaves the pure-Python modules in use.
.PHONY: collector-native
venv: collector-native
collector-native: $(VENV_STAMP)
	@$(PY) -c "from trodden.collector.native import main; main()"
