"""Options of one replay (the CLI flags, for in-process callers) and `--shard I/N` parsing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from trodden.models.suite import IgnoreRule

if TYPE_CHECKING:
    from trodden.replay.baseline_latency import LatencyRules


class OptionError(ValueError):
    """A bad option value; the CLI turns it into exit code 2 with this message."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, test_id: str) -> bool:
        """Deterministic over processes and machines (not Python's salted `hash`)."""
        if self.count == 1:
            return True
        digest = hashlib.sha256(test_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def parse_shard(text: str) -> Shard:
    """ "I/N" with 0 ≤ I < N (an indexed Job's completion index is 0-based)."""
    index_s, sep, count_s = text.strip().partition("/")
    if not sep or not index_s.strip().isdigit() or not count_s.strip().isdigit():
        raise OptionError(f"--shard must look like I/N (e.g. 0/4), got {text!r}")
    index, count = int(index_s), int(count_s)
    if count < 1 or index >= count:
        raise OptionError(f"--shard {text}: need 0 <= I < N")
    return Shard(index, count)


@dataclass(frozen=True)
class ReplayOptions:
    baseline: str | None = None
    # A second deployment of the baseline version (Diffy's secondary): the baseline's second replay
    # of each test goes there, so every deployment replays each write once (trodden.replay.state).
    secondary_baseline: str | None = None
    shard: Shard = Shard(0, 1)
    concurrency: int = 8
    retries: int = 2  # re-runs of a failing test; passing on one of them makes it flaky
    only: Literal["http", "browser"] | None = None
    allow_unsafe_on_origin: bool = False
    run_name: str | None = None
    report_dir: Path | None = None  # HTML report (and browser screenshots) go here
    status_only: bool = False  # judge status codes only (the peer baseline of bench/detection.py)
    # A latency assertion fails when observed > max_ms * factor + slack: mined budgets come from
    # production percentiles, a replay machine is noisier. Timings taken in a browser include
    # Chromium's queueing and the page's own work (hundreds of ms on a busy 2-core machine), so they
    # get their own, wider slack: in a browser only gross slowdowns count.
    latency_factor: float = 1.0
    latency_slack_ms: float = 50.0
    browser_latency_slack_ms: float = 1000.0
    # A latency failure counts when the endpoint broke its bound in at least this share of its timed
    # exchanges in the run; fewer is noise (trodden.replay.timing).
    latency_quorum: float = 0.5
    # With a baseline, latency is judged against it (same run): a step regressed when the target
    # took more than ratio times the slower baseline pass + floor (trodden.replay.judge.BaselineLatency).
    latency_baseline_ratio: float = 2.0
    latency_baseline_floor_ms: float = 200.0
    # ... and timings taken in Chromium (pages' loads and settles, the requests a page made): they
    # settle over the run like the rest (median against median), with their own ratio and floor.
    browser_latency_baseline_ratio: float = 1.25
    browser_latency_baseline_floor_ms: float = 150.0
    test_ids: frozenset[str] | None = None  # run only these tests
    # findings to leave out (intended changes), besides the suite's own `ignore` (`--ignore`)
    ignore: tuple[IgnoreRule, ...] = ()
    # Processes that run HTTP tests (one Python process saturates one core; browser tests always
    # run in the main process, which is one of the workers).
    workers: int = 1

    @property
    def baseline_latency(self) -> LatencyRules:
        from trodden.replay.baseline_latency import BaselineLatency, LatencyRules

        return LatencyRules(
            http=BaselineLatency(self.latency_baseline_ratio, self.latency_baseline_floor_ms),
            browser=BaselineLatency(
                self.browser_latency_baseline_ratio, self.browser_latency_baseline_floor_ms, min_samples=3, paired=True
            ),
        )

    def validate(self) -> None:
        if self.secondary_baseline and not self.baseline:
            raise OptionError("--secondary-baseline needs --baseline (it is the baseline's second deployment)")
        if self.concurrency < 1:
            raise OptionError("--concurrency must be at least 1")
        if self.workers < 1:
            raise OptionError("--workers must be at least 1")
        if self.retries < 0:
            raise OptionError("--retries must be 0 or more")
        if self.latency_factor <= 0:
            raise OptionError("--latency-factor must be positive")
        if not 0 < self.latency_quorum <= 1:
            raise OptionError("--latency-quorum must be in (0, 1]")
        if self.latency_baseline_ratio < 1 or self.latency_baseline_floor_ms < 0:
            raise OptionError("--latency-baseline-ratio must be at least 1 and --latency-baseline-floor-ms 0 or more")
        if self.browser_latency_baseline_ratio < 1 or self.browser_latency_baseline_floor_ms < 0:
            raise OptionError(
                "--browser-latency-baseline-ratio must be at least 1 and --browser-latency-baseline-floor-ms 0 or more"
            )
        if self.latency_slack_ms < 0 or self.browser_latency_slack_ms < 0:
            raise OptionError("--latency-slack-ms and --browser-latency-slack-ms must be 0 or more")
