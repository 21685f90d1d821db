"""trodden.collector: the ingest server, format decoders (beacon, OTLP, HAR), PII sanitiser, rum.js."""
