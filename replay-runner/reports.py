"""Machine-readable reports of a run: the JSON report and JUnit XML (what CI systems read)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson

from trodden.replay.grouping import FindingGroup
from trodden.replay.results import Failure, RunReport, TestResult


def regression_entry(result: TestResult, failure: Failure) -> dict[str, Any]:
    return {
        "test": result.test_id,
        "test_name": result.name,
        "session_id": result.session_id,
        "step": failure.step_id,
        "endpoint": failure.endpoint,
        "assertion": {
            "id": failure.assertion_id,
            "kind": failure.kind,
            "description": failure.description,
            "source": failure.source,
        },
        "field": failure.field,
        "expected": failure.expected,
        "actual": failure.actual,
        "baseline": failure.baseline,
        "url": failure.url,
        "screenshot": failure.screenshot,
        "console_errors": failure.console_errors,
    }


def group_entry(group: FindingGroup) -> dict[str, Any]:
    """A finding group as the JSON report and the run summary show it."""
    return {
        "id": group.id,
        "cause": group.title,
        "tests": group.tests,
        "findings": group.findings,
        "endpoints": group.endpoints,
        "fields": group.fields,
        "kinds": group.kinds,
        "expected": group.example.expected,
        "actual": group.example.actual,
        "test_ids": group.test_ids,
        "ignore": [str(r) for r in group.ignore],
        "ignore_rules": [r.model_dump(exclude_none=True) for r in group.ignore],
    }


def json_report(report: RunReport) -> dict[str, Any]:
    """The `--json` document (shape in docs/replay.md)."""
    regressions = [
        regression_entry(r, f) for r in report.results if r.outcome in ("failed", "error") for f in r.failures
    ]
    regressions += [
        {
            "test": r.test_id,
            "test_name": r.name,
            "session_id": r.session_id,
            "step": None,
            "endpoint": None,
            "assertion": {
                "id": "exec:error",
                "kind": "error",
                "description": r.reason or "error",
                "source": "execution",
            },
            "field": None,
            "expected": None,
            "actual": r.reason,
            "baseline": None,
            "url": None,
            "screenshot": None,
            "console_errors": [],
        }
        for r in report.results
        if r.outcome == "error" and not r.failures
    ]
    return {
        "run": {
            "id": report.run_id,
            "name": report.run_name,
            "suite": report.suite,
            "revision": report.revision,
            "target": report.target,
            "baseline": report.baseline,
            "shard": report.shard,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "report_dir": report.report_dir,
        },
        "outcome": report.outcome,
        "reason": report.nothing_verified,
        "counts": report.counts.model_dump(),
        "groups": [group_entry(g) for g in report.groups],
        "regressions": regressions,
        "flaky": [
            {
                "test": r.test_id,
                "test_name": r.name,
                "cause": r.flaky_cause,
                "attempts": r.attempts,
                "endpoints": sorted({f.endpoint for f in r.failures if f.endpoint}),
                "failures": [regression_entry(r, f) for f in r.failures],
            }
            for r in report.results
            if r.outcome == "flaky"
        ],
        "skipped": [{"test": r.test_id, "reason": r.reason} for r in report.results if r.outcome == "skipped"],
        "tests": [r.model_dump(mode="json") for r in report.results],
    }


def write_json(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(json_report(report), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def failure_text(failure: Failure) -> str:
    lines = [
        f"step {failure.step_id or '-'}  {failure.endpoint or failure.url or ''}".rstrip(),
        f"assertion {failure.assertion_id} ({failure.kind}): {failure.description}",
    ]
    if failure.field:
        lines.append(f"field    {failure.field}")
    lines.append(f"expected {_text(failure.expected)}")
    lines.append(f"actual   {_text(failure.actual)}")
    if failure.baseline is not None:
        lines.append(f"baseline {_text(failure.baseline)}")
    if failure.screenshot:
        lines.append(f"screenshot {failure.screenshot}")
    lines.extend(f"console  {c}" for c in failure.console_errors)
    return "\n".join(lines)


def junit_xml(report: RunReport) -> bytes:
    counts = report.counts
    seconds = sum(r.duration_ms for r in report.results) / 1000.0
    root = ET.Element(
        "testsuites",
        name="trodden",
        tests=str(counts.total),
        failures=str(counts.failed),
        errors=str(counts.error),
        skipped=str(counts.skipped),
        time=f"{seconds:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"{report.suite}@{report.revision}",
        tests=str(counts.total),
        failures=str(counts.failed),
        errors=str(counts.error),
        skipped=str(counts.skipped),
        time=f"{seconds:.3f}",
        timestamp=report.started_at,
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", report.target),
        ("baseline", report.baseline or ""),
        ("shard", report.shard),
        ("run_name", report.run_name or ""),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    groups = report.groups
    causes: dict[str, list[str]] = {}
    for group in groups:
        ET.SubElement(
            props,
            "property",
            name=f"likely_cause {group.id}",
            value=f"{group.title}: {group.tests} tests, {group.findings} findings; "
            f"silence with {group.ignore_text or '(no rule: not about one endpoint)'}",
        )
        for test_id in group.test_ids:
            causes.setdefault(test_id, []).append(f"{group.id} {group.title}")
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{report.suite}.{result.type}",
            name=f"{result.test_id} {result.name}".strip(),
            time=f"{result.duration_ms / 1000.0:.3f}",
        )
        case_props = ET.SubElement(case, "properties")
        ET.SubElement(case_props, "property", name="session_id", value=result.session_id)
        if result.test_id in causes:
            ET.SubElement(case_props, "property", name="likely_causes", value="; ".join(causes[result.test_id]))
        if result.outcome == "failed":
            first = result.failures[0] if result.failures else None
            message = f"{first.assertion_id}: {first.description}" if first else "failed"
            node = ET.SubElement(case, "failure", message=message, type=first.kind if first else "failure")
            node.text = "\n\n".join(failure_text(f) for f in result.failures)
        elif result.outcome == "error":
            node = ET.SubElement(case, "error", message=result.reason or "error", type="error")
            node.text = "\n\n".join(failure_text(f) for f in result.failures) or (result.reason or "")
        elif result.outcome == "skipped":
            ET.SubElement(case, "skipped", message=result.reason or "skipped")
        elif result.outcome == "flaky":
            ET.SubElement(case_props, "property", name="flaky", value=result.flaky_cause or "unknown")
            out = ET.SubElement(case, "system-out")
            out.text = (
                f"flaky: passed after {result.attempts} attempts (likely cause: {result.flaky_cause})\n\n"
                + "\n\n".join(failure_text(f) for f in result.failures)
            )
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_junit(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(report))
