"""The CLI's contract, for every command (trodden.cliutil.guarded): connection and configuration
errors exit 2 with one line naming the host and never the password; bad URLs and ports exit 2;
`ingest` goes on past a bad file, names it and exits 2 at the end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

TRODDEN = [sys.executable, "-c", "from trodden.cli import main; main()"]


def trodden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TRODDEN, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("command", "dsn", "names"),
    [
        (["select", "--source", "s"], "postgresql://bob:hunter2secret@nohost.invalid/db", "nohost.invalid"),
        (["generate", "--source", "s", "--suite", "x"], "postgresql://bob:hunter2secret@127.0.0.1:1/db", "127.0.0.1:1"),
        (
            ["replay", "--suite", "x", "--target", "http://127.0.0.1:9"],
            "postgresql://bob:hunter2secret@127.0.0.1:99999/db",
            "127.0.0.1:99999",
        ),
        (["ingest", "--source", "s", "/dev/null"], "not-a-dsn password=hunter2secret", "DSN"),
        (["export", "--suite", "x", "-o", "/tmp"], "postgresql://bob:hunter2secret@127.0.0.1:1/db", "127.0.0.1:1"),
    ],
)
def test_database_errors_are_one_line_exit_2_naming_the_host_not_the_password(
    command: list[str], dsn: str, names: str
) -> None:
    result = trodden(*command, "--dsn", dsn)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert names in lines[0] and "hunter2secret" not in result.stderr + result.stdout


async def test_a_database_that_does_not_exist_is_named(pg_server_dsn: str) -> None:
    before, sep, after = pg_server_dsn.partition("?")
    dsn = f"{before.rsplit('/', 1)[0]}/no_such_database{sep}{after}"
    result = trodden("select", "--source", "s", "--dsn", dsn)
    assert result.returncode == 2 and "no_such_database" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("target", ["http://127.0.0.1:99999", "http://:80/", "http://[::1/"])
def test_bad_urls_exit_2(target: str) -> None:
    result = trodden("replay", "--suite-file", "/dev/null", "--target", target)
    assert result.returncode == 2 and "--target" in result.stderr and len(result.stderr.splitlines()) == 1


def test_ingest_goes_on_past_a_bad_file(dsn: str, tmp_path: Path) -> None:
    deep = tmp_path / "deep.har"
    depth = 5000
    deep.write_text('{"log": {"entries": [' + '{"a":' * depth + "1" + "}" * depth + "]}}")
    good = tmp_path / "good.jsonl"
    good.write_bytes(
        orjson.dumps({"session_id": "ok", "events": [{"kind": "custom", "seq": 0, "ts": 1.7e12, "name": "x"}]})
    )
    result = trodden("ingest", "--source", "s", str(deep), str(good), "--dsn", dsn)
    assert result.returncode == 2, result.stderr
    assert str(deep) in result.stderr and "Traceback" not in result.stderr
    assert f"{good}: beacons: 1 sessions, 1 events" in result.stdout
