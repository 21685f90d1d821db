"""`trodden demo` stopped with SIGTERM (`timeout`, a CI runner cancelling the job) leaves no
collector, shop or browser running: its services live in their own process groups, so only the
demo's own cleanup can stop them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_every_service(tmp_path: Path) -> None:
    out = tmp_path / "run"
    home = tmp_path / "home"
    if os.geteuid() == 0:  # the server's own user must reach it without Trodden changing permissions
        home = Path(tempfile.mkdtemp(prefix="trodden-interrupt-"))
        home.chmod(0o755)
    env = {**os.environ, "TRODDEN_HOME": str(home)}
    env.pop("TRODDEN_DSN", None)
    demo = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from trodden.cli import main; main()",
            "demo",
            "--users",
            "400",
            "--browser-users",
            "0",
            "--duration",
            "120",
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    services: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        # The collector and the three shops are started one after the other; stop the demo while
        # they serve the simulated users (hundreds of them: that stage lasts a while).
        while len(services := _descendants(demo.pid)) < 4:
            assert demo.poll() is None, "the demo exited before its services were up"
            assert time.monotonic() < deadline, "the demo's services did not start within 180 s"
            time.sleep(0.2)
        time.sleep(3)
        services |= _descendants(demo.pid)
        assert demo.poll() is None, "the demo finished before it could be stopped"

        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)

        deadline = time.monotonic() + 20
        while (left := {pid for pid in services if _alive(pid)}) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not left, f"still running after the demo stopped: {sorted(left)}"
    finally:
        for pid in [demo.pid, *services]:  # whatever a failure left behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if home != tmp_path / "home":
            shutil.rmtree(home, ignore_errors=True)
