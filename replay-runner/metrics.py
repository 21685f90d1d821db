"""Prometheus metrics of replay (served by replay pods through `trodden.metrics.serve_metrics`)."""

from __future__ import annotations

from trodden.metrics import Counter

REPLAY_REQUESTS = Counter("trodden_replay_requests", "HTTP exchanges made by HTTP tests during replay")
REPLAY_TESTS = Counter("trodden_replay_tests", "Replayed tests by outcome", ["outcome"])
