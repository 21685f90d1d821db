# Synthesis (issue 3): benches. Tests run with `make test` (tests/synthesis).
.PHONY: bench-synthesis bench-mining
bench-synthesis: venv
	.venv/bin/python bench/synthesis.py

bench-mining: venv
	.venv/bin/python bench/mining.py
