# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
export TRODDEN_HOME ?= $(CURDIR)/.trodden
export PLAYWRIGHT_CHROMIUM_EXECUTABLE ?= /usr/bin/chromium

.PHONY: all venv system-deps lint test unit demo crds schemas clean
all: test

# The virtualenv, rebuilt when pyproject.toml changes.
$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@
venv: $(VENV_STAMP)

system-deps:
	@bash scripts/system-deps.sh

lint: venv
	.venv/bin/ruff check .
	bash scripts/typecheck.sh

# Unit and integration tests, then the end-to-end tests on a real API server.
test: venv system-deps lint
	bash scripts/run-pytest.sh tests

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

-include tests/e2e/cluster/cluster.mk
