"""What a replay produces: failures (one per oracle that said no), per-test results, the run.

These are the shapes every report (JSON, JUnit, HTML, terminal, the store, the operator's status)
is rendered from, so they carry everything a person needs to act: which step, which assertion,
expected versus actual, the session the test came from.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from trodden.replay.grouping import FindingGroup

Outcome = Literal["passed", "failed", "flaky", "skipped", "error"]
FlakyCause = Literal[
    "timing", "missing_state", "unstable_selector", "transient_error", "nondeterministic_data", "unknown"
]
FailureSource = Literal["expectation", "assertion", "diff", "execution"]


class Failure(BaseModel):
    """One oracle's "no". `assertion_id` is the mined assertion's id, or `expect:<what>` for a
    recorded step expectation, `diff:<pointer>` for a baseline difference, `exec:<what>` when the
    step could not run (connection refused, timeout, element not found)."""

    model_config = ConfigDict(extra="ignore")

    source: FailureSource
    assertion_id: str
    kind: str
    description: str
    expected: Any = None
    actual: Any = None
    step_id: str | None = None
    endpoint: str | None = None
    field: str | None = None
    url: str | None = None
    baseline: Any = None  # with --baseline: what the baseline answered
    test_id: str = ""
    session_id: str = ""
    screenshot: str | None = None  # file name inside the HTML report directory
    console_errors: list[str] = Field(default_factory=list)

    def key(self) -> tuple[str, str | None, str | None]:
        """Identity across attempts and across target/baseline."""
        return (self.assertion_id, self.step_id, self.field)

    @classmethod
    def missing_variable(cls, name: str, description: str, step_id: str, endpoint: str | None = None) -> Failure:
        """A step that could not run: a value it needs was never extracted by an earlier step."""
        return cls(
            source="execution",
            assertion_id="exec:variable",
            kind="correlation",
            description=description,
            expected=name,
            actual="<never extracted>",
            step_id=step_id,
            endpoint=endpoint,
        )


class StepRecord(BaseModel):
    """Timing and outcome of one step in one attempt (stored, shown in the HTML report)."""

    step_id: str
    kind: Literal["http", "browser"]
    endpoint: str | None = None
    status: int | None = None
    duration_ms: float = 0.0
    locator: str | None = None  # browser: the locator that matched
    locator_index: int | None = None  # 0 = the first one listed; more means a fallback was needed
    error: str | None = None
    baseline_ms: float | None = None  # with --baseline: the slower baseline pass's time for this step


class Timing(BaseModel):
    """With --baseline: how long one timed thing took on the target and on the slower baseline
    replay (`trodden.replay.baseline_latency`); the run-level verdict compares their medians."""

    endpoint: str
    step_id: str
    ms: float
    baseline_ms: float
    in_browser: bool = False  # taken in Chromium (a page's load or settle, a request the page made)


class Attempt(BaseModel):
    failures: list[Failure] = Field(default_factory=list)
    # set when the chain breaks on the baseline as well: the attempt verified nothing (why)
    unverified: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    endpoints: list[str] = Field(default_factory=list)  # every endpoint observed, in order
    timings: list[Timing] = Field(default_factory=list)  # with --baseline
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


class TestResult(BaseModel):
    __test__ = False  # not a pytest class

    test_id: str
    name: str
    type: Literal["http", "browser"]
    session_id: str
    outcome: Outcome
    attempts: int = 0
    duration_ms: float = 0.0
    flaky_cause: FlakyCause | None = None
    reason: str | None = None  # why skipped, or the internal error
    failures: list[Failure] = Field(default_factory=list)  # failed: the first attempt's; flaky: the failing ones
    steps: list[StepRecord] = Field(default_factory=list)  # the last attempt's
    endpoints: list[str] = Field(default_factory=list)
    timings: list[Timing] = Field(default_factory=list)  # the last attempt's, with --baseline


class Counts(BaseModel):
    total: int = 0
    passed: int = 0
    failed: int = 0
    flaky: int = 0
    skipped: int = 0
    error: int = 0


class RunReport(BaseModel):
    run_id: int | None = None
    run_name: str | None = None
    suite: str
    revision: int
    target: str
    baseline: str | None = None
    shard: str = "0/1"
    started_at: str
    finished_at: str | None = None
    results: list[TestResult] = Field(default_factory=list)
    report_dir: str | None = None  # the HTML report, when one was written
    shard_count: int = 1

    @property
    def counts(self) -> Counts:
        counts = Counts(total=len(self.results))
        for result in self.results:
            setattr(counts, result.outcome, getattr(counts, result.outcome) + 1)
        return counts

    @property
    def regressions(self) -> list[Failure]:
        """Every failure of a test that failed (flaky tests are not regressions)."""
        return [f for r in self.results if r.outcome in ("failed", "error") for f in r.failures]

    @property
    def has_regressions(self) -> bool:
        return any(r.outcome in ("failed", "error") for r in self.results)

    @property
    def groups(self) -> list[FindingGroup]:
        """The regressions grouped by likely cause (`trodden.replay.grouping`), most tests first."""
        from trodden.replay.grouping import group_findings

        return group_findings(self.results)

    @property
    def nothing_verified(self) -> str | None:
        """Why this run verified nothing (no test ran: none selected, or every one skipped), else
        None. A gate that verified nothing must not pass: the CLI exits 2 with this reason. A shard
        of several that owns no test is not an error by itself (the run as a whole is judged by
        `summarize_run`)."""
        return nothing_verified_reason(
            self.counts, [r.reason for r in self.results if r.outcome == "skipped"], empty_ok=self.shard_count > 1
        )

    @property
    def outcome(self) -> Literal["passed", "failed", "error"]:
        if self.has_regressions:
            return "failed"
        return "error" if self.nothing_verified else "passed"


def nothing_verified_reason(counts: Counts, skip_reasons: list[str | None], *, empty_ok: bool = False) -> str | None:
    """ "no test ran: …" when nothing was verified (0 tests, or every test skipped), else None."""
    if counts.total == 0:
        return None if empty_ok else "no test ran: the suite (or this selection of it) has no test to replay"
    if counts.skipped < counts.total:
        return None
    common = Counter(r or "no reason given" for r in skip_reasons).most_common(1)
    why = f"; most common reason: {common[0][0]}" if common else ""
    return f"no test ran: all {counts.total} test(s) were skipped{why}"


# ---------------------------------------------------------------------------------------------
# A ReplayRun over its shards (`persist.summarize_run`): what the operator turns into the
# ReplayRun's status and feeds back into the instrumentation. Shape documented in docs/replay.md.

RunOutcome = Literal["pending", "running", "passed", "failed"]


class ShardCounts(BaseModel):
    expected: int = 0  # N of `--shard I/N`
    finished: int = 0
    running: int = 0
    errored: int = 0


class AssertionRef(BaseModel):
    id: str | None = None
    kind: str | None = None
    description: str | None = None


class RegressionSummary(BaseModel):
    """One failure of a failed test, values cut to fit a resource's status."""

    test: str
    test_name: str | None = None
    session_id: str | None = None
    step: str | None = None
    endpoint: str | None = None
    assertion: AssertionRef = Field(default_factory=AssertionRef)
    field: str | None = None
    expected: Any = None
    actual: Any = None


class FlakySummary(BaseModel):
    test: str
    test_name: str | None = None
    cause: str = "unknown"
    endpoints: list[str] = Field(default_factory=list)


class CauseSummary(BaseModel):
    """A group of findings with one likely cause (`trodden.replay.grouping`), values cut to fit a
    resource's status: what the ReplayRun's `status.topRegressions` shows."""

    cause: str  # "GET /api/products/{id} /price"
    tests: int
    findings: int
    kinds: dict[str, int] = Field(default_factory=dict)
    expected: Any = None
    actual: Any = None
    ignore: list[str] = Field(default_factory=list)  # the `--ignore` rules that would silence it


class RunSummary(BaseModel):
    run_name: str
    suite: str | None = None
    revision: int | None = None
    target: str | None = None
    baseline: str | None = None
    outcome: RunOutcome = "pending"
    reason: str | None = None  # why a run that verified nothing failed ("no test ran: …")
    shards: ShardCounts = Field(default_factory=ShardCounts)
    counts: Counts = Field(default_factory=Counts)
    regressions: list[RegressionSummary] = Field(default_factory=list)  # the first ones, in test order
    regressions_total: int = 0
    top_regressions: list[CauseSummary] = Field(default_factory=list)  # grouped by likely cause, most tests first
    flaky: list[FlakySummary] = Field(default_factory=list)
    regressed_endpoints: list[str] = Field(default_factory=list)  # browser findings: "PAGE /path"
    flaky_endpoints: list[str] = Field(default_factory=list)
    report: str | None = None
    reports: list[str] = Field(default_factory=list)
