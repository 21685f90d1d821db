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


# -- the contract, applied to every command by `trodden.cli` ----------------------------------------
EXIT_INTERNAL = 3  # a bug: the traceback is printed, and the code is never mistaken for "regressions"


def dsn_location(dsn: str | None) -> str:
    """Where a DSN points, for messages: `host:port/database`, never the user's password."""
    import os
    from urllib.parse import parse_qs, urlsplit

    raw = dsn or os.environ.get("TRODDEN_DSN") or ""
    if not raw:
        return "the embedded PostgreSQL"
    if "://" not in raw:  # the key=value form: host=... port=... dbname=...
        fields = dict(p.split("=", 1) for p in raw.split() if "=" in p)
        if "host" not in fields:
            return "an address the DSN does not name (it is not postgresql://...)"
        port = f":{fields['port']}" if "port" in fields else ""
        return f"{fields['host']}{port}" + (f"/{fields['dbname']}" if "dbname" in fields else "")
    parts = urlsplit(raw)
    netloc = parts.netloc.rpartition("@")[2]
    host = netloc or ",".join(parse_qs(parts.query).get("host", [])) or "localhost"
    database = parts.path.lstrip("/")
    return host + (f"/{database}" if database else "")


def _redact(text: str, dsn: str | None) -> str:
    """`text` without the DSN's password (and without the DSN, which may hold one)."""
    from urllib.parse import unquote, urlsplit

    if not dsn:
        return text
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    for secret in (dsn, password, unquote(password) if password else None):
        if secret:
            text = text.replace(secret, "***")
    return text


def explain(exc: BaseException, dsn: str | None) -> str | None:
    """The one-line reason for an error that is the user's input or environment (a database that
    cannot be reached or refuses the credentials, a malformed DSN or URL), or None for a bug."""
    import asyncpg

    where = dsn_location(dsn)
    if isinstance(exc, click.ClickException):
        return None
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return f"PostgreSQL at {where} refused the credentials: {_redact(str(exc), dsn)}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"PostgreSQL at {where}: {_redact(str(exc), dsn)}"
    if isinstance(exc, asyncpg.ClientConfigurationError):
        return f"bad --dsn / TRODDEN_DSN ({where}): {_redact(str(exc), dsn)}"
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError | asyncpg.InterfaceError):
        return f"cannot reach PostgreSQL at {where}: {_redact(str(exc), dsn)}"
    if isinstance(exc, OverflowError) and "port" in str(exc):
        return f"bad port in --dsn / TRODDEN_DSN ({where}): {exc}"
    if isinstance(exc, OSError) and exc.filename is None:  # sockets: refused, unresolvable, timed out
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"cannot reach PostgreSQL at {where}: {_redact(reason, dsn)}"
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


def check_urls(params: dict[str, Any]) -> None:
    """Every option value that is an http(s) URL must parse, with a host and a port in range."""
    from urllib.parse import urlsplit

    for name, value in params.items():
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            continue
        option = "--" + name.replace("_", "-")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise InputError(f"{option} {value!r} is not a valid URL: {exc}") from None
        if not parts.hostname:
            raise InputError(f"{option} {value!r} has no host")
        if port == 0:
            raise InputError(f"{option} {value!r}: port 0 is not a port to connect to")


def guarded(command: click.Command) -> click.Command:
    """The contract on one command: URLs checked before it runs; environment and input errors that
    escape it become one line and exit 2 (naming the database's host, never its password); a bug
    prints its traceback and exits 3, never 1 (the "regressions found" code)."""
    callback = command.callback
    if callback is None or getattr(callback, "_trodden_guarded", False):
        return command

    def run_guarded(*args: Any, **kwargs: Any) -> Any:
        check_urls(kwargs)
        try:
            return callback(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            reason = explain(exc, kwargs.get("dsn"))
            if reason is not None:
                raise InputError(reason) from None
            import traceback

            traceback.print_exc()
            click.echo(
                f"error: internal error ({type(exc).__name__}); please report it with the traceback above", err=True
            )
            sys.exit(EXIT_INTERNAL)

    run_guarded._trodden_guarded = True  # type: ignore[attr-defined]
    command.callback = run_guarded
    return command
