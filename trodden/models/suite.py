"""The suite's intermediate representation (IR): what `generate` writes and `replay` runs.

A suite revision is one JSON document (`Suite`), stored in `suite_revisions.ir` and exported by
`trodden export --format json`. `docs/suite-ir.schema.json` is generated from these models. What
its checks mean (`Assertion`, one class per kind, and a step's `Expectation`) is `trodden.assertions`.

Templates: request URLs, header values and string leaves of bodies may contain `{{var}}`, filled
from variables that earlier steps extracted (`Extraction`) or that an auth profile provides.
`{{origin}}` is the target's origin, so recorded origins are rewritten to the target.
`{{basic(user, password)}}` is the base64 of "user:password" (an HTTP Basic credential built from
two variables, e.g. an account the test signed up itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from trodden.assertions.base import IRModel as _Model
from trodden.assertions.expectation import Expectation
from trodden.assertions.registry import Assertion

__all__ = [
    "IR_VERSION",
    "Assertion",
    "AuthProfile",
    "BrowserExpectation",
    "BrowserStep",
    "DroppedAssertion",
    "Expectation",
    "Extraction",
    "HttpRequest",
    "HttpStep",
    "Locator",
    "Step",
    "Suite",
    "SuiteCoverage",
    "SuiteStats",
    "TestCase",
    "ValueFrom",
]

IR_VERSION = 1


class Extraction(_Model):
    """Take a value from a response into a variable, for later requests."""

    var: str
    source: Literal["json", "header", "location", "regex", "cookie", "url"]
    # json: a JSON pointer ("/order/id"); header: the name, optionally a space and a regex with one
    # group over its value (an ETag's opaque tag without quotes); cookie: the name; regex: a pattern with one group;
    # location: path or a regex over the Location header; url: a regex over the final URL.
    path: str = ""
    recorded: Any = None  # the value seen in the session, for reports


class HttpRequest(_Model):
    method: str
    url: str  # template, e.g. "{{origin}}/orders/{{order_id}}"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    body_kind: Literal["json", "form", "text"] | None = None


class HttpStep(_Model):
    kind: Literal["http"] = "http"
    id: str
    endpoint: str  # "METHOD /route/{template}", the key mined assertions attach to
    request: HttpRequest
    extract: list[Extraction] = Field(default_factory=list)
    expect: Expectation = Field(default_factory=Expectation)
    unsafe: bool = False  # POST/PUT/PATCH/DELETE: replay decides (never against the recorded origin by default)
    timeout_s: float = 10.0
    recorded_duration_ms: float | None = None


class Locator(_Model):
    """One way to find an element; a step lists several, tried in order."""

    strategy: Literal["test_id", "role", "label", "text", "css", "xpath", "id"]
    value: str
    name: str | None = None  # accessible name, with strategy "role"


class BrowserExpectation(_Model):
    url: str | None = None  # path (+query) of the page after the step, templated
    visible_text: list[str] = Field(default_factory=list)
    visible: list[Locator] = Field(default_factory=list)
    # The status of the document the step loaded, as recorded (None: it loaded none, or the
    # recording's browser did not say). A 4xx/5xx where this was 2xx or 3xx is a regression, and
    # a 5xx always is.
    status: int | None = None
    # The recording saw no uncaught JS error after this step: one in replay is a regression.
    no_errors: bool = False


class BrowserStep(_Model):
    kind: Literal["browser"] = "browser"
    id: str
    action: Literal["goto", "click", "fill", "select", "check", "press", "submit", "wait"]
    url: str | None = None  # for goto, templated
    locators: list[Locator] = Field(default_factory=list)
    value: str | None = None  # for fill/select/press
    expect: BrowserExpectation = Field(default_factory=BrowserExpectation)
    # Requests the page made after this step, recorded; replay observes the network for the
    # assertions that attach to these endpoints.
    network: list[str] = Field(default_factory=list)  # endpoints "METHOD /route"
    timeout_s: float = 10.0


Step = Annotated[HttpStep | BrowserStep, Field(discriminator="kind")]


class TestCase(_Model):
    __test__ = False  # not a pytest class

    id: str  # stable across revisions for the same session and kind
    name: str
    type: Literal["http", "browser"]
    session_id: str
    journey: str = ""  # the journey signature it covers
    reasons: list[str] = Field(default_factory=list)
    auth_profile: str | None = None
    steps: list[Step]
    variables: dict[str, Any] = Field(default_factory=dict)  # initial values (pseudonymised inputs)
    # variables naming state the test creates (an account it signs up): replay gives each a fresh
    # value per execution (the recorded value with a random suffix), so runs and tests never collide
    unique: list[str] = Field(default_factory=list)


class ValueFrom(_Model):
    value: str | None = None
    env: str | None = None
    secret: str | None = None  # "secret-name/key" (Kubernetes), mounted as env by the operator


class AuthProfile(_Model):
    name: str
    kind: Literal["headers", "login"]
    headers: dict[str, ValueFrom] = Field(default_factory=dict)
    login: list[HttpStep] = Field(default_factory=list)  # run before the test; extractions feed headers
    # credentials the login steps send as `{{var}}` (username, password), resolved before they run
    variables: dict[str, ValueFrom] = Field(default_factory=dict)
    unique: list[str] = Field(default_factory=list)  # of `variables`: fresh per execution (a synthesised signup)


class SuiteCoverage(_Model):
    """What a suite's sessions cover, in selection's units (read by the `novel` strategy): steps
    (journey step texts), transitions between two of them, and routes with an exact status."""

    steps: list[str] = Field(default_factory=list)
    transitions: list[tuple[str, str]] = Field(default_factory=list)
    route_statuses: list[tuple[str, int]] = Field(default_factory=list)  # ("POST /cart/{id}/coupon", 409)

    @field_validator("route_statuses", mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        """Suites generated before this model wrote "ROUTE → STATUS" strings."""
        if not isinstance(value, list):
            return value
        return [tuple(v.rsplit(" → ", 1)) if isinstance(v, str) else v for v in value]


class DroppedAssertion(_Model):
    """A mined assertion the recording of one of the suite's own tests contradicted."""

    id: str
    assertion: str  # its description
    session: str  # the session whose recording contradicted it
    recorded: str  # what the recording showed


class SuiteStats(_Model):
    """What generation produced, counted (`trodden generate --json`, the TestSuite's status)."""

    tests: int = 0
    http_tests: int = 0
    browser_tests: int = 0
    steps: int = 0
    assertions: int = 0
    assertions_by_kind: dict[str, int] = Field(default_factory=dict)
    sessions_mined: int = 0
    endpoints_mined: int = 0
    unsafe_steps: int = 0
    assertions_dropped: list[DroppedAssertion] = Field(default_factory=list)
    coverage: SuiteCoverage | None = None  # None in suites built without journeys (no selection)


class IgnoreRule(_Model):
    """Findings to leave out: on `endpoint` ("METHOD /route", "PAGE /path", or `*` for every
    endpoint), at the JSON `pointer` (and below it; `*` matches any array position) or at the
    response `header`; with neither, every finding on the endpoint (a status change included)."""

    endpoint: str
    pointer: str | None = None
    header: str | None = None

    @field_validator("pointer")
    @classmethod
    def _pointer(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not value.startswith("/"):
            raise ValueError(f"a JSON pointer starts with '/' (got {value!r})")
        return value

    def __str__(self) -> str:
        if self.header is not None:
            return f"{self.endpoint} header:{self.header.lower()}"
        return f"{self.endpoint} {self.pointer}" if self.pointer else self.endpoint

    @classmethod
    def parse(cls, text: str) -> IgnoreRule:
        """`"GET /api/items/{id} /price"`, `"GET /api/items header:etag"`, `"* /updated_at"`, `"GET /api/x"`;
        ValueError with the reason if malformed."""
        parts = text.split()
        if not parts:
            raise ValueError("an ignore rule needs an endpoint (METHOD /route, PAGE /path or *)")
        if parts[0] == "*":
            endpoint, rest = "*", parts[1:]
        elif len(parts) >= 2 and parts[1].startswith("/"):
            endpoint, rest = f"{parts[0].upper()} {parts[1]}", parts[2:]
        else:
            raise ValueError(f"an ignore rule starts with METHOD /route, PAGE /path or * (got {text!r})")
        if len(rest) > 1:
            raise ValueError(f"an ignore rule is an endpoint and one JSON pointer or header:NAME (got {text!r})")
        if not rest:
            return cls(endpoint=endpoint)
        if rest[0].lower().startswith("header:"):
            return cls(endpoint=endpoint, header=rest[0].split(":", 1)[1].lower())
        if not rest[0].startswith("/"):
            raise ValueError(f"an ignore rule's second part is a JSON pointer (/field) or header:NAME (got {text!r})")
        return cls(endpoint=endpoint, pointer=rest[0])

    @classmethod
    def parse_all(cls, texts: Iterable[str]) -> tuple[IgnoreRule, ...]:
        """Rules from their text forms (`--ignore`, repeated); ValueError naming the first bad one."""
        rules = []
        for text in texts:
            try:
                rules.append(cls.parse(text))
            except ValueError as exc:
                first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                raise ValueError(f"--ignore {text!r}: {first}") from None
        return tuple(rules)


class Suite(_Model):
    ir_version: int = IR_VERSION
    name: str
    revision: int
    source: str
    origin: str | None = None  # the origin the sessions were recorded on; replay refuses unsafe steps there
    created_at: str
    selection_id: int | None = None
    tests: list[TestCase]
    assertions: list[Assertion] = Field(default_factory=list)
    auth_profiles: list[AuthProfile] = Field(default_factory=list)
    stats: SuiteStats = Field(default_factory=SuiteStats)
    # findings replay leaves out: intended changes (a TestSuite's spec.ignore, `generate --ignore`)
    ignore: list[IgnoreRule] = Field(default_factory=list)
