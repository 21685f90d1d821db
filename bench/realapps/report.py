"""The per-app table and per-plant detail a harness run prints."""

from __future__ import annotations

from collections.abc import Callable

from .results import AppResult, ReplayOutcome, RunResult

Out = Callable[[str], None]


def _replay(o: ReplayOutcome | None) -> str:
    if o is None:
        return "not run"
    if o.error:
        return f"could not run: {o.error}"
    note = "" if o.ran else "  VERIFIED NOTHING (no test ran)"
    return (
        f"{o.total} tests ({o.passed} passed, {o.failed} failed, {o.flaky} flaky, {o.skipped} skipped, "
        f"{o.errored} error), {o.findings} findings{note}"
    )


def false_alarms_text(a: AppResult) -> str:
    if not a.controls:
        return "n/a (no control replay)"
    per = "/".join(str(c.findings) if c.verified_something else "–" for c in a.controls)
    fa = a.false_alarms
    if fa is None:
        return f"n/a: a control verified nothing ({per} over {len(a.controls)})"
    return f"{fa} over {len(a.controls)} controls ({per})"


def print_app(a: AppResult, out: Out = print) -> None:
    out(f"== {a.title} ({a.covers})")
    t = a.traffic
    out(
        f"  traffic          : {t.get('sessions')} sessions {t.get('by_client')}, {t.get('requests')} requests, "
        f"{t.get('failed')} failed" + ("  [re-used recording]" if a.reused_recording else "")
    )
    out(f"  captured         : {a.captured.get('sessions')} sessions, events {a.captured.get('events')}")
    out(f"  selected / suite : {a.selected_sessions} sessions; {a.suite}")
    for c in a.controls:
        out(f"  {c.name:<17}: {_replay(c)}")
    out(f"  target           : {_replay(a.target)}")
    out(f"  peer             : {_replay(a.peer)}")
    for p in a.plants:
        mark = "✓" if p.caught else "✗"
        by = p.caught_by[0] if p.caught_by else None
        how = f"{by.kind} {by.assertion} {by.field or ''}".strip() if by else "-"
        peer = "" if p.peer_caught is None else ("  peer: yes" if p.peer_caught else "  peer: no")
        notes = []
        if not p.verified:
            notes.append(f"PROBE DID NOT SEE IT {p.probe}")
        if not p.exercised_sessions:
            notes.append("no recorded session exercised it")
        extra = f"  [{'; '.join(notes)}]" if notes else ""
        out(f"  {mark} {p.id:<28} {p.kind:<12} exercised by {p.exercised_sessions:>3} sessions  {how}{peer}{extra}")
    if a.unexplained_total:
        out(
            f"  target findings matching no plant: {a.unexplained_total}, e.g. "
            + "; ".join(f"{f.endpoint} {f.kind} {f.field}" for f in a.unexplained[:3])
        )
    if a.peer_unexplained_total:
        out(f"  peer findings matching no plant: {a.peer_unexplained_total}")
    if a.control_findings:
        out("  control findings, e.g. " + "; ".join(f"{f.endpoint} {f.kind} {f.field}" for f in a.control_findings[:3]))
    out(f"  caught           : {a.caught}/{a.planted}")
    out(f"  false alarms     : {false_alarms_text(a)}")
    out(f"  peer caught      : {a.peer_caught if a.peer_caught is not None else 'n/a'}/{a.planted}")
    out(f"  ratio            : {a.ratio_text()}")
    for failure in a.failures:
        out(f"  FAILED: {failure}")
    out(f"  stages (s)       : {a.stages}; total {a.seconds:.0f} s")


def print_table(run: RunResult, out: Out = print) -> None:
    out("| app | covers | caught / planted | false alarms (3 controls) | status-only peer | ratio |")
    out("|---|---|---|---|---|---|")
    for a in run.apps:
        peer = f"{a.peer_caught}/{a.planted}" if a.peer_caught is not None else "n/a"
        out(f"| {a.title} | {a.covers} | {a.caught}/{a.planted} | {false_alarms_text(a)} | {peer} | {a.ratio_text()} |")
