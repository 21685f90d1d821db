"""What a harness run found, as typed records: printed as a table and written as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field


def _short(value: Any, limit: int = 160) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Finding(BaseModel):
    """One regression entry of a replay report, shortened."""

    test: str | None = None
    step: str | None = None
    endpoint: str | None = None
    kind: str | None = None
    assertion: str | None = None
    field: str | None = None
    expected: Any = None
    actual: Any = None

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Finding:
        assertion = entry.get("assertion") or {}
        return cls(
            test=entry.get("test"),
            step=entry.get("step"),
            endpoint=entry.get("endpoint"),
            kind=assertion.get("kind"),
            assertion=_short(assertion.get("id"), 120),
            field=_short(entry.get("field")),
            expected=_short(entry.get("expected")),
            actual=_short(entry.get("actual")),
        )


class ReplayOutcome(BaseModel):
    """One `trodden replay`: its counts, or why it could not run (exit 2 and the reason)."""

    name: str
    exit_code: int | None = None
    error: str | None = None
    total: int = 0
    passed: int = 0
    failed: int = 0
    flaky: int = 0
    skipped: int = 0
    errored: int = 0
    findings: int = 0
    seconds: float = 0.0
    skip_reasons: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def combined(cls, name: str, parts: list[ReplayOutcome]) -> ReplayOutcome:
        """One replay per target group, counted as one (an error of any part is the whole's)."""
        if len(parts) == 1:
            return parts[0].model_copy(update={"name": name})
        out = cls(
            name=name,
            exit_code=max((p.exit_code or 0) for p in parts),
            error="; ".join(p.error for p in parts if p.error) or None,
        )
        for p in parts:
            out.total, out.passed, out.failed = out.total + p.total, out.passed + p.passed, out.failed + p.failed
            out.flaky, out.skipped, out.errored = out.flaky + p.flaky, out.skipped + p.skipped, out.errored + p.errored
            out.findings, out.seconds = out.findings + p.findings, round(out.seconds + p.seconds, 1)
            for reason, n in p.skip_reasons.items():
                out.skip_reasons[reason] = out.skip_reasons.get(reason, 0) + n
        return out

    @property
    def ran(self) -> int:
        """Tests that ran (not skipped): a replay where none ran verified nothing."""
        return self.total - self.skipped

    @property
    def verified_something(self) -> bool:
        return self.error is None and self.ran > 0


class PlantResult(BaseModel):
    id: str
    kind: str
    endpoint: str
    description: str
    mechanism: str
    probe: dict[str, Any] = Field(default_factory=dict)  # baseline / control / target observations
    verified: bool = False  # the probe saw the change on the target and none on the control
    exercised_sessions: int = 0  # recorded sessions with a request that triggers it
    caught: bool = False
    caught_by: list[Finding] = Field(default_factory=list)
    peer_caught: bool | None = None


class AppResult(BaseModel):
    app: str
    title: str
    covers: str
    version: str
    run_dir: str
    corpus: str
    reused_recording: bool = False
    traffic: dict[str, Any] = Field(default_factory=dict)
    captured: dict[str, Any] = Field(default_factory=dict)
    selected_sessions: int | None = None
    suite: dict[str, Any] = Field(default_factory=dict)
    plants: list[PlantResult] = Field(default_factory=list)
    controls: list[ReplayOutcome] = Field(default_factory=list)
    control_findings: list[Finding] = Field(default_factory=list)
    target: ReplayOutcome | None = None
    target_groups: list[list[str]] = Field(default_factory=list)  # plants replayed on one target each
    unexplained: list[Finding] = Field(default_factory=list)  # target findings that match no plant
    unexplained_total: int = 0
    peer: ReplayOutcome | None = None
    peer_unexplained_total: int = 0  # peer findings that match no plant (its own false alarms)
    stages: dict[str, float] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def planted(self) -> int:
        return len(self.plants)

    @property
    def caught(self) -> int:
        return sum(p.caught for p in self.plants)

    @property
    def peer_caught(self) -> int | None:
        return None if self.peer is None or self.peer.error else sum(bool(p.peer_caught) for p in self.plants)

    @property
    def false_alarms(self) -> int | None:
        """Findings over the control replays; None when a control verified nothing (no test ran)."""
        if not self.controls or not all(c.verified_something for c in self.controls):
            return None
        return sum(c.findings for c in self.controls)

    @property
    def ratio(self) -> float | None:
        peer = self.peer_caught
        if peer is None or peer == 0:
            return None
        return self.caught / peer

    def ratio_text(self) -> str:
        peer = self.peer_caught
        if peer is None:
            return "n/a (no peer run)"
        if peer == 0:
            return "inf (peer caught none)" if self.caught else "n/a (both caught none)"
        return f"{self.caught / peer:.2f}"

    def summary(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "caught": self.caught,
            "planted": self.planted,
            "false_alarms": self.false_alarms,
            "controls": len(self.controls),
            "peer_caught": self.peer_caught,
            "ratio": self.ratio,
        }


class RunResult(BaseModel):
    started_at: str
    seconds: float = 0.0
    options: dict[str, Any] = Field(default_factory=dict)
    apps: list[AppResult] = Field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "summary": [a.summary() for a in self.apps]}
