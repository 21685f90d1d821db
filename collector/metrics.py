"""The collector's Prometheus metrics (one registry, `trodden.metrics`)."""

from __future__ import annotations

from trodden.metrics import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge(
    "trodden_collector_queue_depth", "Rows accepted by the collector and not yet committed (HPA signal)"
)
REQUESTS = Counter(
    "trodden_collector_requests_total", "Ingest requests by endpoint and HTTP status", ["endpoint", "status"]
)
EVENTS = Counter("trodden_collector_events_total", "Events, spans and log records by outcome", ["kind", "outcome"])
REQUEST_SECONDS = Histogram(
    "trodden_collector_request_seconds",
    "Ingest request latency, committed before the response",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FLUSH_SECONDS = Histogram("trodden_collector_flush_seconds", "Duration of one writer transaction")
FLUSHED_ROWS = Counter("trodden_collector_flushed_rows_total", "Rows written by the writer (before deduplication)")
