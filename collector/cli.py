"""`trodden collect` (the collector server) and `trodden ingest` (files)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

import click

from trodden.cliutil import InputError, dsn_option, json_option, print_json, run
from trodden.collector.app import build_app
from trodden.collector.ingest import ingest_files
from trodden.collector.keys import generate_ingest_key, parse_key_material, pseudonym_key
from trodden.collector.sanitize import Sanitizer
from trodden.log import get_logger
from trodden.models.instrumentation import InstrumentationConfig
from trodden.models.sanitization import SanitizationConfig
from trodden.store import Store, open_store


@click.command()
@click.option("--source", required=True, help="The capture source (a RumSource's name) the data belongs to.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8480, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--ingest-key",
    envvar="TRODDEN_INGEST_KEY",
    default=None,
    help="Key clients must send (default: $TRODDEN_INGEST_KEY, else generated and printed).",
)
@click.option(
    "--instrumentation-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="InstrumentationConfig JSON served at /v1/config, re-read when it changes.",
)
@click.option(
    "--sanitization-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="SanitizationConfig JSON (rules.json), re-read when it changes.",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="Origins allowed by CORS (repeatable; default: any origin, the key still applies).",
)
@click.option(
    "--max-queue-rows",
    default=50_000,
    show_default=True,
    type=click.IntRange(1000),
    help="Rows held in memory before 429.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (SO_REUSEPORT).",
)
@click.option(
    "--retention-days",
    envvar="TRODDEN_RETENTION_DAYS",
    default=None,
    type=click.IntRange(1, 3650),
    help="Delete this source's sessions, spans and logs older than this, hourly (default: keep everything).",
)
@dsn_option
def collect(**options: Any) -> None:
    """Run the collector: /v1/rum, /v1/traces, /v1/logs, /v1/config, /rum.js, /healthz, /readyz, /metrics."""

    opts = ServeOptions(**options)
    if os.environ.get("TRODDEN_PSEUDONYM_KEY"):
        try:
            parse_key_material(os.environ["TRODDEN_PSEUDONYM_KEY"])
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    if opts.ingest_key is None:
        opts.ingest_key = generate_ingest_key()
        opts.generated_key = True
    if opts.workers > 1 and opts.port == 0:
        raise InputError("--workers needs a fixed --port (the workers share it)")
    if opts.instrumentation_file is not None:
        _check_document(opts.instrumentation_file, sanitization=False)
    if opts.sanitization_file is not None:
        _check_document(opts.sanitization_file, sanitization=True)
    _fast_event_loop()
    run(_serve(opts))


def _fast_event_loop() -> None:
    """uvloop roughly halves the per-request cost of the HTTP layer (bench/README.md)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - it is a dependency; stay functional without it
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _tune_gc() -> None:
    """The collector allocates a few containers per event and keeps them until their flush
    commits. With the default thresholds the cyclic collector runs every 700 net allocations and
    walks those rows again and again; what exists once serving starts is frozen out of collection
    and the young generation is collected less often. Reference counting still frees every acyclic
    object at once, so memory stays bounded. A small gain (~2 % of the instructions per event,
    callgrind; docs/decisions.md), kept because it costs nothing."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@dataclass
class ServeOptions:
    source: str
    host: str
    port: int
    ingest_key: str | None
    instrumentation_file: str | None
    sanitization_file: str | None
    allowed_origins: tuple[str, ...]
    max_queue_rows: int
    workers: int
    retention_days: int | None
    dsn: str | None
    generated_key: bool = False


def _check_document(path: str, *, sanitization: bool) -> Any:
    """A file given at start must be valid (a missing one is waited for: ConfigMaps appear late)."""
    from pydantic import ValidationError

    if not os.path.exists(path):
        return None
    model: type[SanitizationConfig | InstrumentationConfig] = (
        SanitizationConfig if sanitization else InstrumentationConfig
    )
    try:
        with open(path, "rb") as fh:
            return model.model_validate_json(fh.read())
    except (OSError, ValidationError) as exc:
        raise InputError(f"{path}: {str(exc).splitlines()[0]}") from exc


async def _serve(opts: ServeOptions) -> None:
    from aiohttp import web

    log = get_logger("trodden.collector")
    import asyncpg

    try:
        store = await Store.open(opts.dsn, max_size=4)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise InputError(f"cannot reach the database: {exc}") from exc
    key = opts.ingest_key or ""
    children: list[asyncio.subprocess.Process] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        app = build_app(
            store,
            source=opts.source,
            ingest_key=key,
            pseudonym_key=await pseudonym_key(store, opts.source),
            instrumentation_file=opts.instrumentation_file,
            sanitization_file=opts.sanitization_file,
            allowed_origins=list(opts.allowed_origins) or None,
            max_queue_rows=opts.max_queue_rows,
            # One process per collector applies retention; the other workers only serve.
            retention_days=None if os.environ.get("TRODDEN_COLLECTOR_WORKER") else opts.retention_days,
        )
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=30)
        await runner.setup()
        site = web.TCPSite(runner, opts.host, opts.port, reuse_port=opts.workers > 1 or None)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise InputError(f"cannot listen on {opts.host}:{opts.port}: {exc.strerror}") from exc
        bound = runner.addresses[0][1] if runner.addresses else opts.port
        _tune_gc()
        if os.environ.get("TRODDEN_COLLECTOR_WORKER") is None:
            for _ in range(opts.workers - 1):
                children.append(await _spawn_worker(key, opts.dsn))
            click.echo(f"collector listening on http://{opts.host}:{bound}")
            if opts.generated_key:
                click.echo(f"ingest key: {key}")
            sys.stdout.flush()
        log.info("collector started", source=opts.source, port=bound, workers=opts.workers)
        await stop.wait()
        log.info("collector stopping: flushing accepted data")
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        await runner.cleanup()
        for child in children:
            await child.wait()
    finally:
        await store.close()


_MAIN = "import sys; from trodden.cli import main; sys.argv[0] = 'trodden'; main()"


async def _spawn_worker(key: str, dsn: str | None) -> asyncio.subprocess.Process:
    """Another process serving the same port; it inherits the argv, the key and the DSN."""
    env = dict(os.environ, TRODDEN_COLLECTOR_WORKER="1", TRODDEN_INGEST_KEY=key)
    if dsn:
        env["TRODDEN_DSN"] = dsn
    argv = [a for a in sys.argv[1:]]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _MAIN, *argv, env=env, stdout=asyncio.subprocess.DEVNULL
    )


@click.command()
@click.option("--source", required=True, help="The source the files' sessions belong to.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--sanitization-file",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="SanitizationConfig JSON with extra rules.",
)
@json_option
@dsn_option
def ingest(source: str, files: tuple[str, ...], sanitization_file: str | None, as_json: bool, dsn: str | None) -> None:
    """Import HAR, OTLP JSON and JSON Lines beacon files (recognised by content)."""
    config = _check_document(sanitization_file, sanitization=True) if sanitization_file else None
    reports = run(_ingest(source, list(files), config, dsn))
    if as_json:
        print_json([r.as_json() for r in reports])
    else:
        for r in reports:
            if r.error:
                click.echo(f"{r.path}: error: {r.error}")
                continue
            click.echo(
                f"{r.path}: {r.format}: {r.sessions} sessions, {r.events} events, {r.spans} spans, "
                f"{r.logs} logs, {len(r.refused)} refused"
            )
            for refusal in r.refused[:20]:
                click.echo(
                    f"  refused batch {refusal['batch']} event {refusal['index']} (seq {refusal['seq']}): "
                    f"{refusal['reason']}"
                )
            if len(r.refused) > 20:
                click.echo(f"  … and {len(r.refused) - 20} more")
    failed = [r for r in reports if r.error]
    if failed:
        raise InputError(
            f"{failed[0].path}: {failed[0].error}" + (f" (+{len(failed) - 1} more files)" if len(failed) > 1 else "")
        )


async def _ingest(source: str, files: list[str], config: Any, dsn: str | None) -> list[Any]:

    async with open_store(dsn) as store:
        try:
            key = await pseudonym_key(store, source)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        return await ingest_files(store, source, list(files), sanitizer=Sanitizer(key, config))
