"""`{{var}}` templates of the suite IR, filled from the variables a test has gathered so far.

`{{origin}}` is the target's origin; absolute URLs on the recorded origin are rewritten to the
target as well, so a suite recorded on production can never send a request there by accident
through a URL the generator did not template.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


class MissingVariable(KeyError):
    """A template names a variable no earlier step extracted."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"variable {{{{{self.name}}}}} was never extracted"


def origin_of(url: str) -> str:
    """"scheme://host:port" with the default port left out and everything lower-cased."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def target_base(target: str) -> str:
    """What `{{origin}}` becomes: the target URL without a trailing slash (a path prefix is kept,
    for targets served under one)."""
    return target.strip().rstrip("/")


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render(template: str, variables: dict[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise MissingVariable(name)
        return _stringify(variables[name])

    return _VAR.sub(substitute, template) if "{{" in template else template


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Fill templates in every string leaf. A string that is exactly one `{{var}}` takes the
    variable's own type (a recorded numeric id stays a number in a JSON body)."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            name = whole.group(1)
            if name not in variables:
                raise MissingVariable(name)
            return variables[name]
        return render(value, variables)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def render_url(template: str, variables: dict[str, Any], target: str, recorded_origin: str | None) -> str:
    """The request URL for the target: templates filled, the recorded origin replaced, and a
    relative path made absolute on the target."""
    base = target_base(target)
    url = render(template.replace("{{origin}}", base), variables)
    if recorded_origin:
        origin = recorded_origin.rstrip("/")
        rest = url[len(origin) :]
        if url.lower().startswith(origin.lower()) and (not rest or rest[0] in "/?#"):
            return base + rest
    if url.startswith("/"):
        return base + url
    return url


def template_names(template: str) -> list[str]:
    return _VAR.findall(template)
