"""Processes the demo loop starts (collector, shops) and Trodden CLI calls, with cleanup on every
exit path: each child runs in its own process group, which `Services.stop_all` terminates (then
kills) — also from an atexit hook, so an interrupted run leaves nothing behind."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trodden.log import get_logger

log = get_logger(__name__)
# Runs the `trodden` command of this very installation (works from a checkout, a wheel, an image).
TRODDEN = [sys.executable, "-c", "from trodden.cli import main; main()"]
_LIVE_GROUPS: set[int] = set()


def _kill_groups() -> None:
    for pgid in list(_LIVE_GROUPS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE_GROUPS.discard(pgid)


atexit.register(_kill_groups)


_GIVEN_PORTS: set[int] = set()


def reserve_ports(ports: Iterable[int]) -> None:
    """Ports `free_port` must not hand out in this process (origins a recording made elsewhere used)."""
    _GIVEN_PORTS.update(ports)


def free_port() -> int:
    """A free local port, never one this process handed out before: a server stopped here frees its
    port, and a later server on the same port would share its origin (the realapps harness's
    recording and its baseline did once, and replay rightly refused unsafe steps against the
    recorded origin)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    url: str
    log_path: Path


class ServiceError(RuntimeError):
    pass


@dataclass
class Services:
    logs: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    running: list[Service] = field(default_factory=list)

    async def start(self, name: str, argv: list[str], ready: re.Pattern[str], timeout_s: float = 60) -> Service:
        """Start `argv`, wait for a stdout line matching `ready` (its group 1 is the URL)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        log_file = log_path.open("ab")
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=log_file, env=self.env, start_new_session=True
        )
        log_file.close()
        _LIVE_GROUPS.add(process.pid)
        assert process.stdout is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    line = (await process.stdout.readline()).decode(errors="replace")
                    if not line:
                        raise ServiceError(
                            f"{name} exited before it was ready (log: {log_path}): {''.join(seen)[-500:]}"
                        )
                    seen.append(line)
                    match = ready.search(line)
                    if match:
                        break
        except TimeoutError:
            await self._stop(process)
            raise ServiceError(f"{name} was not ready within {timeout_s:.0f} s (log: {log_path})") from None
        except ServiceError:
            await self._stop(process)
            raise
        service = Service(name, process, match.group(1).rstrip("/"), log_path)
        self.running.append(service)
        asyncio.get_running_loop().create_task(_drain(process.stdout, log_path))
        return service

    async def start_shop(
        self, name: str, version: int, *, collector_url: str | None = None, ingest_key: str | None = None
    ) -> Service:
        argv = [sys.executable, "-m", "trodden.shop", "--version", str(version), "--port", str(free_port())]
        if collector_url and ingest_key:
            argv += ["--collector-url", collector_url, "--ingest-key", ingest_key]
        return await self.start(name, argv, re.compile(r"listening on (http://\S+)"))

    async def start_collector(self, source: str, ingest_key: str, *extra: str) -> Service:
        """`trodden collect` for `source`; `extra`: more of its options (`--sanitization-file F`)."""
        argv = [
            *TRODDEN,
            "collect",
            "--source",
            source,
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            "--ingest-key",
            ingest_key,
            *extra,
        ]
        return await self.start("collector", argv, re.compile(r"collector listening on (http://\S+)"))

    async def stop(self, service: Service) -> None:
        await self._stop(service.process)
        if service in self.running:
            self.running.remove(service)

    async def _stop(self, process: asyncio.subprocess.Process, grace_s: float = 10) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # the collector flushes on SIGTERM
            try:
                async with asyncio.timeout(grace_s):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group (e.g. a browser)
        _LIVE_GROUPS.discard(process.pid)

    async def stop_all(self) -> None:
        for service in reversed(list(self.running)):
            await self.stop(service)

    def kill_all_now(self) -> None:
        """Synchronous last resort (cancellation, KeyboardInterrupt)."""
        for service in self.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.process.pid, signal.SIGKILL)
            _LIVE_GROUPS.discard(service.process.pid)
        self.running.clear()


async def _drain(stream: asyncio.StreamReader, log_path: Path) -> None:
    with log_path.open("ab") as out:
        while chunk := await stream.read(65536):
            out.write(chunk)


@dataclass
class CliResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return orjson.loads(self.stdout)

    def reason(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.returncode}"


async def trodden(args: list[str], env: dict[str, str], timeout_s: float = 900) -> CliResult:
    """Run a `trodden` subcommand to completion (killed with its group on timeout or cancellation)."""
    process = await asyncio.create_subprocess_exec(
        *TRODDEN,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    _LIVE_GROUPS.add(process.pid)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group (e.g. a browser)
        _LIVE_GROUPS.discard(process.pid)
    return CliResult(
        ["trodden", *args], process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
