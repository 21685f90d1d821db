"""The commands over a real store: select → generate → export, the store round trip, and exit code 2
with a one-line reason for bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from trodden.cli import main
from trodden.models.events import Session
from trodden.models.suite import Suite
from trodden.store import Store
from trodden.synthesis import db
from trodden.synthesis.cli import parse_since


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


async def test_stored_sessions_read_back_equal(shop_store: Store, shop_corpus: list[Session]) -> None:
    got = [s async for s in db.iter_sessions(shop_store, "shop", session_ids=["s0000003", "s0000010"])]
    assert [s.session_id for s in got] == ["s0000003", "s0000010"]
    assert got[0].events == shop_corpus[3].events
    steps = [x async for x in db.iter_session_steps(shop_store, "shop")]
    assert len(steps) == 400
    late = datetime.fromtimestamp(shop_corpus[390].events[0].ts / 1000, UTC)
    assert len([x async for x in db.iter_session_steps(shop_store, "shop", late)]) == 10


def test_select_generate_export(shop_store: Store, dsn: str, tmp_path: Path) -> None:
    code, out, err = cli("select", "--dsn", dsn, "--source", "shop", "--max", "12", "--json")
    assert code == 0, err
    sel = json.loads(out)
    assert sel["selection_id"] >= 1 and len(sel["sessions"]) == 12
    assert all(s["reasons"] and s["signature"] for s in sel["sessions"])
    assert sel["stats"]["sessions"] == 400

    code, out, err = cli(
        "select", "--dsn", dsn, "--source", "shop", "--strategy", "novel", "--suite", "not-yet", "--max", "3", "--json"
    )
    assert code == 0, err
    fresh = json.loads(out)["sessions"]  # a suite that does not exist yet covers nothing
    assert len(fresh) == 3 and all(s["reasons"][0].startswith("novel: covers ") for s in fresh)

    code, out, err = cli("select", "--dsn", dsn, "--source", "shop", "--strategy", "errors,event:*", "--max", "5")
    assert code == 0, err
    assert "errors:" in out and "Selection 3" in out  # the rich table

    code, out, err = cli(
        "generate",
        "--dsn",
        dsn,
        "--source",
        "shop",
        "--suite",
        "shop",
        "--selection",
        str(sel["selection_id"]),
        "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["revision"] == 1 and summary["tests"] >= 12 and summary["http_tests"] == 12
    assert summary["assertions"] > 50 and summary["sessions_mined"] == 400

    code, out, err = cli(
        "generate",
        "--dsn",
        dsn,
        "--source",
        "shop",
        "--suite",
        "shop",
        "--no-browser",
        "--selection",
        str(sel["selection_id"]),
    )
    assert code == 0, err
    assert "revision 2" in out and "0 browser" in out

    code, out, err = cli(
        "export", "--dsn", dsn, "--suite", "shop", "--revision", "1", "--format", "json", "-o", str(tmp_path / "j")
    )
    assert code == 0, err
    suite = Suite.model_validate_json((tmp_path / "j" / "shop.suite.json").read_text())
    assert suite.revision == 1 and suite.selection_id == sel["selection_id"]
    assert {t.session_id for t in suite.tests} == {s["session_id"] for s in sel["sessions"]}

    code, out, err = cli("export", "--dsn", dsn, "--suite", "shop", "--format", "pytest", "-o", str(tmp_path / "p"))
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == ["conftest.py", "test_shop_http.py"]
    compile((tmp_path / "p" / "test_shop_http.py").read_text(), "test_shop_http.py", "exec")

    # novel against the suite just generated: only what it does not cover yet
    code, out, err = cli("select", "--dsn", dsn, "--source", "shop", "--strategy", "novel", "--suite", "shop", "--json")
    assert code == 0, err
    novel = json.loads(out)["sessions"]
    assert novel and all(r.startswith("novel: covers ") for s in novel for r in s["reasons"])
    assert not {s["session_id"] for s in novel} & {t.session_id for t in suite.tests}


@pytest.mark.parametrize(
    "args, reason",
    [
        (["select", "--source", "shop", "--strategy", "often"], "unknown strategy 'often'"),
        (["select", "--source", "shop", "--window", "seven days"], "not a duration"),
        (["select", "--source", "shop", "--since", "yesterday"], "not an ISO date"),
        (["select", "--source", "shop", "--similarity", "0"], "'--similarity': 0.0 is not in the range 0.0<x<=1.0"),
        (
            ["generate", "--source", "shop", "--suite", "x", "--min-confidence", "0.3"],
            "'--min-confidence': 0.3 is not in",
        ),
        (["select", "--source", "nope"], "source 'nope' has no sessions"),
        (["generate", "--source", "nope", "--suite", "x"], "has no selection yet"),
        (["generate", "--source", "shop", "--suite", "x", "--selection", "999"], "selection 999 not found"),
        (["generate", "--source", "shop", "--suite", "x", "--no-http", "--no-browser"], "leave nothing to generate"),
        (["export", "--suite", "missing", "-o", "/tmp/x"], "suite 'missing' not found"),
    ],
)
def test_bad_input_exits_2_with_a_reason(dsn: str, args: list[str], reason: str) -> None:
    code, out, err = cli(*args, "--dsn", dsn)
    assert code == 2
    assert reason in err and "Traceback" not in err + out


def test_window_parsing() -> None:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    assert parse_since(None, "7d", now) == datetime(2026, 3, 3, tzinfo=UTC)
    assert parse_since(None, "12h", now) == datetime(2026, 3, 9, 12, tzinfo=UTC)
    assert parse_since("2026-01-31T00:00Z", None) == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_since(None, None) is None
