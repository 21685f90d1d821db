# Collector (issue 2): the ingest benchmark (wrk against `trodden collect`, raw COPY in the same run).
.PHONY: bench-ingest
bench-ingest: venv
	.venv/bin/python bench/ingest.py
