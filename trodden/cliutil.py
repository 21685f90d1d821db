"""What every command shares: `--dsn`, `--json`, running coroutines, and the exit-code contract
(0 success, 1 regressions found, 2 usage or input error with a one-line reason)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
import orjson

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

EXIT_OK = 0
EXIT_REGRESSIONS = 1
EXIT_USAGE = 2


class InputError(click.ClickException):
    """Bad input from the user: printed as one line, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def dsn_option(func: F) -> F:
    return click.option(
        "--dsn",
        envvar="TRODDEN_DSN",
        default=None,
        help="PostgreSQL DSN (default: $TRODDEN_DSN, else the embedded server under $TRODDEN_HOME).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; Ctrl-C exits 130 without a traceback."""
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        sys.exit(130)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
