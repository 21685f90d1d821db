# Replay (issue 4).
#
#   make replay-test     the replay tests (real shop v1/v2 on loopback, Chromium, PostgreSQL)
#   make bench-replay    bench/replay.py: replay requests/s vs wrk on the same endpoint, browser sessions/min

.PHONY: replay-test bench-replay

replay-test: venv system-deps
	bash scripts/run-pytest.sh tests/replay -q

bench-replay: venv system-deps
	.venv/bin/python bench/replay.py
