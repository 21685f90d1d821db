"""Latency bounds come from a quantile the sample supports: p99 only when ten timings lie above it,
so a recording's two slowest requests do not set the bound (they let a 300 ms slowdown through)."""

from __future__ import annotations

import numpy as np

from trodden.models.events import Session
from trodden.synthesis.mining import MiningOptions, mine_assertions, supported_percentile


def test_the_percentile_leaves_enough_timings_above_it() -> None:
    assert supported_percentile(1000, 99, 10) == 99.0
    assert supported_percentile(113, 99, 10) == 91.2
    assert supported_percentile(30, 99, 10) == 66.7
    assert supported_percentile(12, 99, 10) == 50.0  # never below the median
    assert supported_percentile(5000, 95, 10) == 95.0  # never above what was asked


def test_two_slow_outliers_do_not_set_the_bound() -> None:
    # 111 fast timings, a cluster of scheduler hiccups near 100 ms, and two 270 ms outliers
    timings = np.array([2.0] * 103 + [80, 90, 100, 100, 100, 102, 102, 102] + [269.0, 273.0])
    q = supported_percentile(len(timings), 99, 10)
    bound = max(np.percentile(timings, q) * 1.5, np.percentile(timings, q) + 100)
    assert bound + 50 < 300  # + replay's slack: the planted +300 ms slowdown is still caught
    assert max(np.percentile(timings, 99) * 1.5, np.percentile(timings, 99) + 100) > 300  # a plain p99 misses it


def test_mined_latency_names_its_quantile(shop_corpus: list[Session]) -> None:
    options = MiningOptions()
    latency = [a for a in mine_assertions(shop_corpus, options) if a.kind == "latency"]
    assert latency
    for a in latency:
        assert a.kind == "latency"
        p = a.params
        assert p.percentile is not None and p.quantile_ms is not None
        assert 50 <= p.percentile <= 99 and p.percentile == supported_percentile(a.support, 99, 10)
        assert p.max_ms >= p.quantile_ms + options.latency_floor_ms - 0.1
        assert f"p{p.percentile:g} " in (a.description or "")
