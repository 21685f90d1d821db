"""Reports of every outcome (JUnit, JSON, HTML) and the run summary of a crashed shard."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from trodden.replay.html_report import diff_lines, write_html
from trodden.replay.persist import fail_run, finish_run, start_run, summarize_run
from trodden.replay.reports import json_report, junit_xml
from trodden.replay.results import Failure, RunReport, TestResult
from trodden.store import Store


def sample_report() -> RunReport:
    slow = Failure(
        source="assertion",
        assertion_id="a-lat",
        kind="latency",
        description="fast enough",
        expected="≤ 100 ms",
        actual="900 ms",
        step_id="s1",
        endpoint="GET /api/search",
        test_id="t-flaky",
        session_id="s-1",
    )
    broken = Failure(
        source="expectation",
        assertion_id="expect:value:/name",
        kind="value",
        description="recorded expectation: value of /name",
        expected={"name": "Book", "tags": [1, 2]},
        actual={"name": "Boot", "tags": [1, 2]},
        step_id="s2",
        endpoint="GET /api/products/{id}",
        field="/name",
        test_id="t-failed",
        session_id="s-2",
    )
    return RunReport(
        suite="shop",
        revision=4,
        target="http://t",
        shard="1/3",
        run_name="rr-x",
        started_at="2026-01-01T00:00:00+00:00",
        results=[
            TestResult(test_id="t-ok", name="ok", type="http", session_id="s-0", outcome="passed", attempts=1),
            TestResult(
                test_id="t-flaky",
                name="flaky",
                type="http",
                session_id="s-1",
                outcome="flaky",
                attempts=2,
                flaky_cause="timing",
                failures=[slow],
            ),
            TestResult(
                test_id="t-failed",
                name="failed",
                type="http",
                session_id="s-2",
                outcome="failed",
                attempts=3,
                failures=[broken],
            ),
            TestResult(
                test_id="t-skip",
                name="skip",
                type="http",
                session_id="s-3",
                outcome="skipped",
                reason="unsafe step s1 (POST /x) is not replayed against the recorded origin",
            ),
            TestResult(
                test_id="t-err",
                name="err",
                type="browser",
                session_id="s-4",
                outcome="error",
                reason="auth profile admin: secret a/b is not mounted",
            ),
        ],
    )


def test_junit_has_every_outcome() -> None:
    root = ET.fromstring(junit_xml(sample_report()))
    suite = root.find("testsuite")
    assert suite is not None
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
    assert counts == ("5", "1", "1", "1")
    cases = {c.get("name", "").split()[0]: c for c in suite.iter("testcase")}
    failure = cases["t-failed"].find("failure")
    assert failure is not None and "expect:value:/name" in (failure.get("message") or "")
    assert "Boot" in (failure.text or "")
    assert cases["t-skip"].find("skipped") is not None and cases["t-err"].find("error") is not None
    flaky_props = {p.get("name"): p.get("value") for p in cases["t-flaky"].iter("property")}
    assert flaky_props["flaky"] == "timing" and cases["t-flaky"].find("failure") is None


def test_json_report_lists_errors_as_regressions_and_flaky_separately() -> None:
    doc = json_report(sample_report())
    assert doc["outcome"] == "failed"
    assert [(r["test"], r["assertion"]["id"]) for r in doc["regressions"]] == [
        ("t-failed", "expect:value:/name"),
        ("t-err", "exec:error"),
    ]
    assert doc["flaky"][0]["cause"] == "timing" and doc["flaky"][0]["endpoints"] == ["GET /api/search"]
    assert doc["skipped"][0]["test"] == "t-skip"


def test_html_report_renders_a_line_diff(tmp_path: Path) -> None:
    html = write_html(sample_report(), tmp_path).read_text()
    assert "1 of 5 tests regressed" not in html  # failed + error
    assert "2 of 5 tests regressed" in html
    assert "timing" in html and "unsafe step s1" in html and "secret a/b is not mounted" in html
    lines = diff_lines({"name": "Book", "n": 1}, {"name": "Boot", "n": 1})
    assert [(line.tag, line.text.strip()) for line in lines if line.tag != "same"] == [
        ("expected", '"name": "Book"'),
        ("actual", '"name": "Boot"'),
    ]


async def test_a_crashed_shard_fails_the_run(store: Store) -> None:
    report = sample_report()
    report.run_id = await start_run(store, report, 2)
    await finish_run(store, report)
    crashed = sample_report().model_copy(update={"shard": "0/3", "results": []})
    crashed_id = await start_run(store, crashed, 2)
    running = (await summarize_run(store, "rr-x")).model_dump()
    assert running["outcome"] == "running" and running["shards"]["running"] == 1
    await fail_run(store, crashed_id)
    summary = (await summarize_run(store, "rr-x")).model_dump()
    assert summary["shards"] == {"expected": 2, "finished": 1, "running": 0, "errored": 1}
    assert summary["outcome"] == "failed"
    assert {r["test"] for r in summary["regressions"]} == {"t-failed", "t-err"}
    failed = next(r for r in summary["regressions"] if r["test"] == "t-failed")
    assert failed["expected"] == '{"name":"Book","tags":[1,2]}'  # structures become text (bounded)
    assert failed["assertion"] == {
        "id": "expect:value:/name",
        "kind": "value",
        "description": "recorded expectation: value of /name",
    }
