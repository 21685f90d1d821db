"""trodden_runtime: the small helper that exported pytest suites run with.

`trodden export --format pytest` copies this file verbatim beside the generated tests, so it must
stay standalone: standard library plus `requests`, no Trodden import. Trodden itself uses the same
functions (value formats, JSON pointers, assertion checks) so the generator, the exported tests
and the documentation agree on what an assertion means.

`TRODDEN_TIMEOUT_S` overrides the per-step timeout (10 s).

Templates: `{{name}}` in URLs, header values and string leaves of bodies is replaced by the
variable `name` (`{{origin}}` is the target's origin); a string that is exactly `{{name}}` takes the
variable's value with its type (a number stays a number).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

# -- value formats ---------------------------------------------------------------------------------

FORMAT_PATTERNS: dict[str, re.Pattern[str]] = {
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
    "datetime": re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "url": re.compile(r"^(https?://|/)[^\s]*$"),
    "numeric": re.compile(r"^-?\d+(\.\d+)?$"),
    "hex": re.compile(r"^(?=.*\d)[0-9a-fA-F]{16,}$"),
}


def value_format(value: Any) -> str | None:
    """The format of a string value (uuid, datetime, date, email, url, numeric, hex), or None."""
    if not isinstance(value, str):
        return None
    for name, pattern in FORMAT_PATTERNS.items():
        if pattern.match(value):
            return name
    return None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# -- JSON pointers, with "*" for every element of an array ----------------------------------------

_MISSING = object()


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def resolve(doc: Any, pointer: str) -> list[Any]:
    """Values at a pointer; "*" fans out over array elements. Missing paths give no value."""
    if pointer == "":
        return [doc]
    nodes = [doc]
    for raw in pointer.split("/")[1:]:
        token = _unescape(raw)
        nxt: list[Any] = []
        for node in nodes:
            if token == "*" and isinstance(node, list):
                nxt.extend(node)
            elif isinstance(node, dict) and token in node:
                nxt.append(node[token])
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                nxt.append(node[int(token)])
        nodes = nxt
    return nodes


def parents_and_values(doc: Any, pointer: str) -> tuple[list[Any], list[Any]]:
    """(containers that should hold the last token, values found there); for presence checks."""
    head, _, last = pointer.rpartition("/")
    parents = [p for p in resolve(doc, head) if isinstance(p, dict)]
    key = _unescape(last)
    return parents, [p[key] for p in parents if key in p]


# -- checks ----------------------------------------------------------------------------------------


def check_assertion(assertion: dict[str, Any], status: int, body: Any, duration_ms: float | None = None) -> str | None:
    """Check one mined assertion (a `trodden.models.suite.Assertion` as a dict) against one response
    of its endpoint. None when it holds or does not apply (condition not met); else why it failed.
    Temporal kinds (followed_by, preceded_by, co_occurs) are checked over a sequence, see
    `check_sequence`."""
    kind = assertion["kind"]
    cond = assertion.get("condition") or {}
    if "status" in cond and cond["status"] != status:
        return None
    params = assertion.get("params") or {}
    field = assertion.get("field") or ""
    if kind == "status":
        expected = params.get("class")
        actual = "failed" if status == 0 else f"{status // 100}xx"
        return None if actual == expected else f"status {status}, expected {expected}"
    if kind == "latency":
        limit = float(params["max_ms"])
        if duration_ms is None or duration_ms <= limit:
            return None
        return f"took {duration_ms:.0f} ms, expected at most {limit:.0f} ms"
    if kind == "error_shape":
        problems = []
        for ptr in params.get("keys") or []:
            if not resolve(body, ptr):
                problems.append(f"{ptr} missing")
        for ptr, typ in (params.get("shape") or {}).items():
            found = resolve(body, ptr)
            if found and any(type_name(v) != typ for v in found):
                problems.append(f"{ptr} is {type_name(found[0])}, expected {typ}")
        for ptr, allowed in (params.get("values") or {}).items():
            found = resolve(body, ptr)
            if found and any(v not in allowed for v in found):
                problems.append(f"{ptr} is {found[0]!r}, expected one of {allowed!r}")
        return "; ".join(dict.fromkeys(problems)) or None
    if kind == "present":
        parents, values = parents_and_values(body, field)
        return None if len(values) == len(parents) else f"{field} missing"
    values = resolve(body, field)
    if kind == "not_null":
        return f"{field} is null" if any(v is None for v in values) else None
    if kind == "type":
        types = params.get("types") or [params["type"]]
        bad = [v for v in values if type_name(v) not in types]
        return f"{field} is {type_name(bad[0])}, expected {' or '.join(types)}" if bad else None
    if kind == "format":
        bad = [v for v in values if value_format(v) != params["format"]]
        return f"{field} = {bad[0]!r} is not a {params['format']}" if bad else None
    if kind == "value_set":
        allowed = params["values"]
        bad = [v for v in values if v not in allowed]
        return f"{field} = {bad[0]!r}, expected one of {allowed!r}" if bad else None
    if kind == "range":
        lo, hi = params.get("min"), params.get("max")
        for v in values:
            numeric = isinstance(v, int | float) and not isinstance(v, bool)
            if numeric and ((lo is not None and v < lo) or (hi is not None and v > hi)):
                return f"{field} = {v} outside [{lo}, {hi}]"
        return None
    return None


def check_sequence(assertion: dict[str, Any], endpoints: list[str]) -> str | None:
    """Check a temporal rule over the endpoints one test called, in order."""
    kind, a, b = assertion["kind"], assertion["endpoint"], assertion.get("other")
    if kind == "followed_by" and a in endpoints:
        last_a = len(endpoints) - 1 - endpoints[::-1].index(a)
        if b not in endpoints[last_a + 1 :]:
            return f"{a} was not followed by {b}"
    if kind == "preceded_by" and a in endpoints:
        first_a = endpoints.index(a)
        if b not in endpoints[:first_a]:
            return f"{a} was not preceded by {b}"
    if kind == "co_occurs" and (a in endpoints) != (b in endpoints):
        return f"{a} and {b} did not occur together"
    return None


def check_expectation(expect: dict[str, Any], status: int, body: Any, headers: dict[str, str]) -> list[str]:
    """Check a step's recorded expectation (`Expectation` as a dict); returns the failures."""
    failures: list[str] = []
    if expect.get("status") is not None and expect["status"] != status:
        failures.append(f"status {status}, expected {expect['status']}")
        return failures  # the rest describes the expected response, not this one
    for ptr, typ in (expect.get("shape") or {}).items():
        found = resolve(body, ptr)
        if not found:
            failures.append(f"{ptr or '/'} missing (expected {typ})")
        elif any(type_name(v) != typ for v in found):
            failures.append(f"{ptr or '/'} is {type_name(found[0])}, expected {typ}")
    for ptr, value in (expect.get("values") or {}).items():
        found = resolve(body, ptr)
        if found and any(v != value for v in found):
            failures.append(f"{ptr} = {found[0]!r}, expected {value!r}")
    for ptr, fmt in (expect.get("formats") or {}).items():
        bad = [v for v in resolve(body, ptr) if v is not None and value_format(v) != fmt]
        if bad:
            failures.append(f"{ptr} = {bad[0]!r} is not a {fmt}")
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, value in (expect.get("headers") or {}).items():
        actual = lowered.get(name.lower(), "")
        if name.lower() == "content-type":
            actual = actual.split(";")[0].strip()
        if actual != value:
            failures.append(f"header {name}: {actual!r}, expected {value!r}")
    return failures


# -- templates and extraction ----------------------------------------------------------------------

_VAR = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def render(value: Any, variables: dict[str, Any]) -> Any:
    """Fill `{{var}}` templates in strings, lists and dicts."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]
        return _VAR.sub(lambda m: str(variables.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    return value


def extract(extraction: dict[str, Any], body: Any, headers: dict[str, str], cookies: dict[str, str], url: str) -> Any:
    """The value an `Extraction` (as a dict) takes from a response, or None."""
    source, path = extraction["source"], extraction.get("path", "")
    lowered = {k.lower(): v for k, v in headers.items()}
    if source == "json":
        found = resolve(body, path)
        return found[0] if found else None
    if source == "header":
        return lowered.get(path.lower())
    if source == "cookie":
        return cookies.get(path)
    text = lowered.get("location", "") if source == "location" else url
    if source in ("location", "url", "regex"):
        if source == "regex":
            text = json.dumps(body) if not isinstance(body, str) else body
        if not path:
            return text
        m = re.search(path, text)
        return (m.group(1) if m.groups() else m.group(0)) if m else None
    return None


# -- running HTTP tests (used by the exported pytest files) ----------------------------------------


class StepFailed(AssertionError):
    pass


def credential(ref: dict[str, Any]) -> str:
    """An auth profile's value: fixed, from an env var, or from a Kubernetes Secret key (mounted as
    TRODDEN_SECRET_<NAME>_<KEY>, as Trodden's replay reads it)."""
    if ref.get("value") is not None:
        return str(ref["value"])
    name = ref.get("env")
    if not name and ref.get("secret"):
        name = "TRODDEN_SECRET_" + "".join(c if c.isalnum() else "_" for c in str(ref["secret"]).upper())
    if not name:
        raise StepFailed("an auth profile value has neither value, env nor secret")
    if name not in os.environ:
        raise StepFailed(f"credentials missing: set ${name}")
    return os.environ[name]


class HttpRunner:
    """Runs one HTTP test's steps in order with a `requests.Session` (cookies carry over)."""

    def __init__(
        self, target: str, variables: dict[str, Any] | None = None, timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        import requests

        self.http = requests.Session()
        self.http.headers.update(headers or {})  # an auth profile's credentials
        self.origin = target.rstrip("/")
        self.vars: dict[str, Any] = {"origin": self.origin, **(variables or {})}
        self.timeout_s = float(os.environ.get("TRODDEN_TIMEOUT_S", timeout_s))
        self.endpoints: list[str] = []

    def step(self, step: dict[str, Any], assertions: list[dict[str, Any]] | None = None) -> Any:
        req = step["request"]
        url = render(req["url"], self.vars)
        headers = {k: str(render(v, self.vars)) for k, v in (req.get("headers") or {}).items()}
        body = render(req.get("body"), self.vars)
        kwargs: dict[str, Any] = {"headers": headers, "timeout": self.timeout_s,
                                  "allow_redirects": False}  # fmt: skip
        if body is not None:
            if req.get("body_kind") == "form":
                kwargs["data"] = body
            elif req.get("body_kind") == "text":
                kwargs["data"] = str(body)
            else:
                kwargs["json"] = body
        started = time.monotonic()
        resp = self.http.request(req["method"], url, **kwargs)
        duration_ms = (time.monotonic() - started) * 1000.0
        try:
            payload: Any = resp.json()
        except ValueError:
            payload = resp.text
        failures = check_expectation(step.get("expect") or {}, resp.status_code, payload, dict(resp.headers))
        for a in assertions or []:
            if a["kind"] not in ("followed_by", "preceded_by", "co_occurs", "latency"):
                problem = check_assertion(a, resp.status_code, payload, duration_ms)
                if problem:
                    failures.append(f"{a['kind']} ({a['id']}): {problem}")
        if failures:
            raise StepFailed(f"{step['id']} {req['method']} {url}: " + "; ".join(failures))
        for ex in step.get("extract") or []:
            cookies = {c.name: c.value or "" for c in resp.cookies}
            value = extract(ex, payload, dict(resp.headers), cookies, resp.url)
            if value is None:
                raise StepFailed(f"{step['id']}: could not extract {ex['var']} ({ex['source']} {ex.get('path', '')})")
            self.vars[ex["var"]] = value
        self.endpoints.append(step["endpoint"])
        return payload

    def login(self, profile: dict[str, Any]) -> None:
        """Apply a login auth profile: its credentials as variables, its login steps (which must
        answer as recorded), then its headers filled from what they extracted."""
        for var, ref in (profile.get("variables") or {}).items():
            self.vars[var] = credential(ref)
        for step in profile.get("login") or []:
            self.step(step)
        self.endpoints.clear()  # temporal rules are about the test's own steps
        for name, ref in (profile.get("headers") or {}).items():
            self.http.headers[name] = str(render(credential(ref), self.vars))

    def check_temporal(self, assertions: list[dict[str, Any]]) -> None:
        failures = [p for a in assertions if (p := check_sequence(a, self.endpoints))]
        if failures:
            raise StepFailed("; ".join(failures))


def walk(doc: Any, pointer: str = "", max_items: int = 20) -> Iterator[tuple[str, Any]]:
    """(pointer, value) of every node of a JSON document; array elements share the pointer `.../*`."""
    yield pointer, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from walk(v, f"{pointer}/{escape_token(str(k))}", max_items)
    elif isinstance(doc, list):
        for v in doc[:max_items]:
            yield from walk(v, f"{pointer}/*", max_items)


# -- running browser tests (pytest-playwright style; `page` is a Playwright sync Page) -------------


def url_pattern(template: str) -> re.Pattern[str]:
    """A route template ("/orders/{uuid}") as a regex over a full URL."""
    parts = [re.escape(p) if not (p.startswith("{") and p.endswith("}")) else "[^/?#]+" for p in template.split("/")]
    return re.compile("^[a-z]+://[^/]+" + "/".join(parts) + r"/?(\?.*)?(#.*)?$")


class BrowserRunner:
    def __init__(self, page: Any, target: str, variables: dict[str, Any] | None = None, timeout_s: float = 10.0):
        self.page = page
        self.vars: dict[str, Any] = {"origin": target.rstrip("/"), **(variables or {})}
        self.timeout_ms = float(os.environ.get("TRODDEN_TIMEOUT_S", timeout_s)) * 1000.0

    def locate(self, locators: list[dict[str, Any]]) -> Any:
        """The first locator (most stable first) that finds an element; fails listing all tried."""
        deadline = time.monotonic() + self.timeout_ms / 1000.0
        while True:
            for spec in locators:
                loc = self._locator(spec)
                if loc.count() > 0:
                    return loc.first
            if time.monotonic() > deadline:
                raise StepFailed(f"no element found by any of {locators}")
            self.page.wait_for_timeout(100)

    def _locator(self, spec: dict[str, Any]) -> Any:
        strategy, value = spec["strategy"], render(spec["value"], self.vars)
        if strategy == "test_id":
            return self.page.get_by_test_id(value)
        if strategy == "role":
            return self.page.get_by_role(value, name=spec.get("name"), exact=True)
        if strategy == "label":
            return self.page.get_by_label(value, exact=True)
        if strategy == "text":
            return self.page.get_by_text(value, exact=True)
        if strategy == "id":
            return self.page.locator(f"[id={json.dumps(value)}]")
        if strategy == "xpath":
            return self.page.locator(f"xpath={value}")
        return self.page.locator(value)

    def step(self, step: dict[str, Any]) -> None:
        action = step["action"]
        value = render(step.get("value"), self.vars)
        if action == "goto":
            self.page.goto(render(step["url"], self.vars), timeout=self.timeout_ms)
        elif action == "click":
            self.locate(step["locators"]).click(timeout=self.timeout_ms)
        elif action == "fill":
            self.locate(step["locators"]).fill(str(value or ""), timeout=self.timeout_ms)
        elif action == "select":
            self.locate(step["locators"]).select_option(str(value), timeout=self.timeout_ms)
        elif action == "check":
            self.locate(step["locators"]).check(timeout=self.timeout_ms)
        elif action == "press":
            self.locate(step["locators"]).press(str(value or "Enter"), timeout=self.timeout_ms)
        elif action == "submit":
            self.locate(step["locators"]).evaluate("e => (e.form || e).requestSubmit()")
        expected = (step.get("expect") or {}).get("url")
        if expected:
            pattern = url_pattern(render(expected, self.vars))
            try:
                self.page.wait_for_url(pattern, timeout=self.timeout_ms)
            except Exception as exc:  # Playwright's TimeoutError: say what was expected
                raise StepFailed(f"{step['id']}: page is {self.page.url}, expected {expected}") from exc
        # what became visible after the step may show a moment later (a response, a render)
        for text in (step.get("expect") or {}).get("visible_text") or []:
            try:
                self.page.get_by_text(text).first.wait_for(state="visible", timeout=self.timeout_ms)
            except Exception as exc:  # Playwright's TimeoutError
                raise StepFailed(f"{step['id']}: text {text!r} not visible") from exc
        for spec in (step.get("expect") or {}).get("visible") or []:
            try:
                self._locator(spec).first.wait_for(state="visible", timeout=self.timeout_ms)
            except Exception as exc:
                raise StepFailed(f"{step['id']}: element {spec['strategy']}={spec['value']} not visible") from exc
