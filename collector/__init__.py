"""trodden.collector: the ingest server, format decoders (beacon, OTLP, HAR), PII sanitiser, rum.js."""

from trodden.collector.native import activate

# The per-event walk (beacon, sanitize, rows) compiled by mypyc, when built for these sources (native.py).
activate(__path__)
