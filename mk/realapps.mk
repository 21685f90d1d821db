# Real third-party applications (issue 16 item 5, issue 15): bench/realapps/README.md.
#
#   make bench-realapps                         every app: caught/planted, false alarms over 3 controls, peer, ratio
#   make bench-realapps REALAPPS_ARGS="--app kinto --reuse-recording"   one app, from its cached recording
#
# Apps are installed from PyPI into .cache/realapps/<app>-<version> (once); recordings are cached in
# .cache/realapps/corpus/. `make test` runs a small subset (tests/realapps).

REALAPPS_ARGS ?=

.PHONY: bench-realapps

bench-realapps: venv system-deps
	.venv/bin/python -m bench.realapps $(REALAPPS_ARGS)
