"""`trodden replay` as users and CI run it: a real process, exit codes 0 / 1 / 2, report files."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
from replay_suites import shop_suite

from trodden.store import Store
from trodden.store.suites import save_suite_revision

TRODDEN = str(Path(sys.executable).with_name("trodden"))


def trodden(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRODDEN, "replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "suite.json"
    path.write_text(shop_suite(browser=False).model_dump_json())
    return path


def test_clean_target_exits_0_and_regressions_exit_1(tmp_path: Path, shop_v1: str, shop_v2: str) -> None:
    path = suite_file(tmp_path)
    clean = trodden("--suite-file", str(path), "--target", shop_v1, "--retries", "0")
    assert clean.returncode == 0, clean.stderr
    assert "no regressions" in clean.stdout

    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    bad = trodden(
        "--suite-file",
        str(path),
        "--target",
        shop_v2,
        "--retries",
        "0",
        "--junit",
        str(junit),
        "--json-report",
        str(report),
        "--html",
        str(tmp_path / "html"),
    )
    assert bad.returncode == 1, bad.stderr
    assert "a-type-price" in bad.stdout
    doc = orjson.loads(report.read_bytes())
    assert doc["outcome"] == "failed"
    assert {"test", "step", "endpoint", "assertion", "expected", "actual", "session_id"} <= set(doc["regressions"][0])
    assert ET.parse(junit).getroot().get("failures") == str(doc["counts"]["failed"])
    assert "a-present-email" in (tmp_path / "html" / "index.html").read_text()


def test_usage_errors_exit_2_with_one_line(tmp_path: Path, shop_v1: str) -> None:
    path = suite_file(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x"}')
    cases = [
        (["--suite-file", str(path), "--target", shop_v1, "--shard", "4/4"], "--shard"),
        (["--suite-file", str(path), "--target", "not-a-url"], "--target"),
        (["--suite-file", str(tmp_path / "missing.json"), "--target", shop_v1], "cannot read"),
        (["--suite-file", str(broken), "--target", shop_v1], "not a valid suite IR"),
        (["--target", shop_v1], "--suite"),
        (["--suite-file", str(path), "--target", shop_v1, "--only", "grpc"], "--only"),
        (["--suite-file", str(path), "--target", shop_v1, "--secondary-baseline", shop_v1], "needs --baseline"),
        (
            ["--suite-file", str(path), "--target", shop_v1, "--baseline", shop_v1, "--secondary-baseline", "nope"],
            "--secondary-baseline",
        ),
        (
            ["--suite-file", str(path), "--target", shop_v1, "--browser-latency-baseline-ratio", "0.5"],
            "--browser-latency-baseline-ratio",
        ),
    ]
    for args, needle in cases:
        result = trodden(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert needle in result.stderr
        assert "Traceback" not in result.stderr


async def test_suite_from_the_store_with_shard_and_run_name(store: Store, shop_v2: str, tmp_path: Path) -> None:
    await save_suite_revision(store, shop_suite(browser=False))
    missing = trodden("--suite", "nope", "--target", shop_v2, "--dsn", store.dsn)
    assert missing.returncode == 2 and "not found" in missing.stderr
    result = trodden(
        "--suite",
        "shop",
        "--revision",
        "1",
        "--target",
        shop_v2,
        "--dsn",
        store.dsn,
        "--shard",
        "0/1",
        "--run-name",
        "cli-run",
        "--retries",
        "0",
        "--json",
    )
    assert result.returncode == 1, result.stderr
    doc = orjson.loads(result.stdout)
    assert doc["run"]["name"] == "cli-run" and doc["run"]["id"] is not None
    rows = await store.pool.fetchval("SELECT count(*) FROM replay_runs WHERE run_name = 'cli-run'")
    assert rows == 1


def test_a_replay_that_verified_nothing_exits_2_with_its_reason(tmp_path: Path, shop_v1: str) -> None:
    """Zero tests, or every test skipped, is an error with a reason in every report: never a green pass."""
    path = suite_file(tmp_path)
    none_left = trodden("--suite-file", str(path), "--target", shop_v1, "--only", "browser")
    assert none_left.returncode == 2, none_left.stdout
    assert "no test ran" in none_left.stderr and "no regressions" not in none_left.stdout
    assert "Traceback" not in none_left.stderr

    # every test is skipped: each has an unsafe step and the target is the origin it was recorded on
    suite = shop_suite(browser=False)
    suite.origin = shop_v1
    for test in suite.tests:
        test.steps[0].unsafe = True  # type: ignore[union-attr]
    on_origin = tmp_path / "on-origin.json"
    on_origin.write_text(suite.model_dump_json())
    report, junit = tmp_path / "skipped.json", tmp_path / "skipped.xml"
    skipped = trodden(
        "--suite-file",
        str(on_origin),
        "--target",
        shop_v1,
        "--json-report",
        str(report),
        "--junit",
        str(junit),
        "--html",
        str(tmp_path / "html"),
    )
    assert skipped.returncode == 2, skipped.stdout + skipped.stderr
    assert f"all {len(suite.tests)} test(s) were skipped" in skipped.stderr and "unsafe step" in skipped.stderr
    doc = orjson.loads(report.read_bytes())
    assert doc["outcome"] == "error" and doc["reason"].startswith("no test ran")
    assert ET.parse(junit).getroot().get("skipped") == str(len(suite.tests))
    assert "no test ran" in (tmp_path / "html" / "index.html").read_text()


async def test_a_run_whose_tests_were_all_skipped_fails_with_its_reason(store: Store, shop_v1: str) -> None:
    from trodden.replay.options import ReplayOptions
    from trodden.replay.persist import summarize_run
    from trodden.replay.runner import replay_suite

    suite = shop_suite(browser=False)
    suite.origin = shop_v1
    for test in suite.tests:
        test.steps[0].unsafe = True  # type: ignore[union-attr]
    report = await replay_suite(store, suite, shop_v1, ReplayOptions(run_name="rr-nothing"))
    assert report.outcome == "error" and not report.has_regressions
    summary = await summarize_run(store, "rr-nothing")
    assert summary.outcome == "failed" and summary.reason is not None and summary.reason.startswith("no test ran: all")


def test_findings_come_grouped_with_the_rule_that_silences_each(tmp_path: Path, shop_v2: str) -> None:
    path = suite_file(tmp_path)
    report = tmp_path / "report.json"
    bad = trodden(
        "--suite-file",
        str(path),
        "--target",
        shop_v2,
        "--retries",
        "0",
        "--json-report",
        str(report),
        "--junit",
        str(tmp_path / "junit.xml"),
        "--html",
        str(tmp_path / "html"),
    )
    assert bad.returncode == 1 and "Likely causes" in bad.stdout
    groups = orjson.loads(report.read_bytes())["groups"]
    assert groups and sum(g["findings"] for g in groups) == len(orjson.loads(report.read_bytes())["regressions"])
    first = groups[0]
    assert first["ignore"] and first["tests"] >= 1 and f'--ignore "{first["ignore"][0]}"' in bad.stdout
    assert "likely_cause" in (tmp_path / "junit.xml").read_text()
    assert first["ignore"][0] in (tmp_path / "html" / "index.html").read_text()
    args = [a for rule in first["ignore"] for a in ("--ignore", rule)]
    quieter = trodden(
        "--suite-file",
        str(path),
        "--target",
        shop_v2,
        "--retries",
        "0",
        "--json-report",
        str(tmp_path / "quieter.json"),
        *args,
    )
    assert quieter.returncode in (0, 1), quieter.stderr
    left = orjson.loads((tmp_path / "quieter.json").read_bytes())["groups"]
    assert first["cause"] not in [g["cause"] for g in left]
    bad_rule = trodden("--suite-file", str(path), "--target", shop_v2, "--ignore", "/price")
    assert bad_rule.returncode == 2 and "--ignore '/price'" in bad_rule.stderr
