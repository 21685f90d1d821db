# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
export TRODDEN_HOME ?= $(CURDIR)/.trodden
export PLAYWRIGHT_CHROMIUM_EXECUTABLE ?= /usr/bin/chromium

# Components add prerequisites of `make test` (tool builds, chart checks) to TEST_PREREQS in mk/*.mk.
TEST_PREREQS :=

.PHONY: all venv system-deps lint test unit demo crds schemas clean
all: test

# The virtualenv, rebuilt when pyproject.toml changes. Build noise goes to .venv/pip.log.
$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@echo "installing Python dependencies into .venv (log: .venv/pip.log)"
	@# pip's own script, not `python -m pip`: -m puts the working directory first on sys.path, where
	@# the operator/ folder would shadow the standard library's `operator` in a bare venv.
	@.venv/bin/pip install -q --upgrade pip setuptools wheel > .venv/pip.log 2>&1 || { tail -30 .venv/pip.log; exit 1; }
	@.venv/bin/pip install -e '.[dev]' >> .venv/pip.log 2>&1 || { tail -30 .venv/pip.log; exit 1; }
	@touch $@
venv: $(VENV_STAMP)

system-deps:
	@bash scripts/system-deps.sh

-include mk/*.mk
-include tests/e2e/cluster/cluster.mk

# `ruff format` is the project's formatter for every Python file (docs/decisions.md, "Formatting").

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	bash scripts/typecheck.sh

# Unit, integration and end-to-end tests (the e2e ones on a real API server) in one pytest run.
# The real Flagger controller's test has its own target (make e2e-flagger; tests/e2e/README.md).
test: venv system-deps lint $(TEST_PREREQS)
	bash scripts/run-pytest.sh tests -m "not flagger"

unit: venv
	bash scripts/run-pytest.sh tests --ignore=tests/e2e

demo: venv system-deps
	.venv/bin/trodden demo

crds: venv
	.venv/bin/trodden crds

schemas: venv
	.venv/bin/trodden schema events > docs/event-model.schema.json
	.venv/bin/trodden schema suite > docs/suite-ir.schema.json

clean:
	rm -rf .venv .trodden reports build *.egg-info
