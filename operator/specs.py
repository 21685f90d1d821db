"""Spec and status models of the four custom resources (group `trodden.dev`, `v1alpha1`).

These pydantic models are the single source of truth: `crdgen` turns them into the CRDs' OpenAPI
schemas (so the API server validates what the operator later parses), and the handlers parse
`spec` with them. Field names are camelCase on the wire (Kubernetes convention) through aliases.

Cross-field rules are CEL expressions (`x-kubernetes-validations`) attached with `cel(...)`, so the
API server refuses a bad manifest with the message written here, before the operator sees it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from trodden.models.sanitization import BuiltinRule
from trodden.synthesis.mining import MiningOptions, bounds_of_field
from trodden.synthesis.strategies import SETTINGS, STRATEGIES, STRATEGY_NAMES
from trodden.synthesis.strategies import Strategy as SelectionStrategy
from trodden.synthesis.strategies.slow import MAX_PERCENTILE, MIN_PERCENTILE

GROUP = "trodden.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Kubernetes names (RFC 1123 subdomain / label) as JSON-schema patterns.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DURATION = r"^[1-9][0-9]*[smhd]$"
# A Kubernetes quantity (k8s.io/apimachinery resource.Quantity), e.g. 100m, 1.5, 512Mi, 1e3.
QUANTITY = (
    r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
    r"|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# What a CronJob's schedule accepts: five fields, or a predefined @-schedule.
CRON = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every [0-9]+(\.[0-9]+)?(h|m|s|ms)"
    r"([0-9]+(\.[0-9]+)?(h|m|s|ms))*|[-0-9A-Za-z*/,?]+( +[-0-9A-Za-z*/,?]+){4})$"
)
HTTP_URL = r"^https?://[^\s/$.?#][^\s]*$"


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL rules as (expression, message) pairs."""
    return {"x-kubernetes-validations": [{"rule": rule, "message": message} for rule, message in rules]}


class Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Status(Wire):
    """A status model: the operator fills it field by field, each assignment validated."""

    model_config = ConfigDict(validate_assignment=True)


# ---------------------------------------------------------------------------------------------
# Shared pieces

# Conditions are a map keyed by type, as metav1.Condition lists are, so server-side apply merges them.
CONDITION_LIST: dict[str, Any] = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}


class Condition(Wire):
    """Shaped like metav1.Condition."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = Field("", max_length=32768)
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})
    observed_generation: int = Field(0, ge=0)


class ResourceRequirements(Wire):
    """CPU and memory for the pods the operator creates (Kubernetes quantities)."""

    requests: dict[str, Annotated[str, Field(max_length=64, pattern=QUANTITY)]] | None = Field(
        None, json_schema_extra={"maxProperties": 8}
    )
    limits: dict[str, Annotated[str, Field(max_length=64, pattern=QUANTITY)]] | None = Field(
        None, json_schema_extra={"maxProperties": 8}
    )


class SecretKeyRef(Wire):
    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field(max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class ServiceRef(Wire):
    """A Service in the resource's namespace (or another one), reached over cluster DNS."""

    name: str = Field(max_length=63, pattern=DNS_LABEL)
    namespace: str | None = Field(None, max_length=63, pattern=DNS_LABEL)
    port: int = Field(80, ge=1, le=65535)
    scheme: Literal["http", "https"] = "http"
    path: str = Field("", max_length=1024, pattern=r"^(/.*)?$")


class Endpoint(Wire):
    """Exactly one of `url` or `service`."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.url) != has(self.service)", "set exactly one of url or service"),
        )
    )

    url: str | None = Field(None, max_length=2048, pattern=HTTP_URL)
    service: ServiceRef | None = None


# ---------------------------------------------------------------------------------------------
# RumSource


class SanitizationRuleSpec(Wire):
    kind: Literal["json_path", "header", "regex", "query_param", "selector"]
    match: str = Field(min_length=1, max_length=1024)
    action: Literal["pseudonymize", "redact", "drop"] = "pseudonymize"


class SanitizationSpec(Wire):
    rules: list[SanitizationRuleSpec] = Field(default_factory=list, max_length=256)
    disable_builtins: list[BuiltinRule] = Field(default_factory=list, max_length=16)
    # Free text typed by people is stored raw once this many distinct users sent the same value.
    free_text_min_users: int = Field(5, ge=1, le=1000)


class InstrumentationSpec(Wire):
    """The starting instrumentation; the operator adds feedback (boosts, detail) on top."""

    sampling_rate: float = Field(1.0, ge=0, le=1)
    bodies: Literal["none", "json", "json+form"] = "json+form"
    max_body_bytes: int = Field(16384, ge=0, le=1_048_576)
    flush_interval_ms: int = Field(5000, ge=200, le=600_000)
    feedback: bool = True  # let ReplayRun results boost sampling / capture detail


class RumSourceSpec(Wire):
    model_config = ConfigDict(
        json_schema_extra=cel(
            ("!has(self.nodePort) || self.serviceType == 'NodePort'", "nodePort needs serviceType NodePort"),
        )
    )

    replicas: int = Field(1, ge=0, le=50)
    image: str | None = Field(None, max_length=512, description="Collector image (default: the operator's).")
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    node_port: int | None = Field(None, ge=30000, le=32767)
    ingest_key_secret: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="Existing Secret with key `key` (default: <name>-ingest-key, generated when absent).",
    )
    retention_days: int = Field(
        14,
        ge=1,
        le=3650,
        description="Sessions whose last event is older, and older spans and logs, are deleted hourly by the collector",
    )
    sanitization: SanitizationSpec = Field(default_factory=SanitizationSpec)
    instrumentation: InstrumentationSpec = Field(default_factory=InstrumentationSpec)
    resources: ResourceRequirements | None = None
    progress_deadline_seconds: int = Field(
        600,
        ge=10,
        le=86400,
        description="How long a collector rollout may take before Ready=False ProgressDeadlineExceeded",
    )


class RumSourceStatus(Status):
    endpoint: str | None = Field(None, max_length=2048)
    ready_replicas: int | None = None
    sessions: int | None = None
    events: int | None = None
    last_event_time: str | None = Field(None, json_schema_extra={"format": "date-time"})
    instrumentation_generation: int | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=CONDITION_LIST)


# ---------------------------------------------------------------------------------------------
# SessionSelector


def _strategy_rules() -> list[tuple[str, str]]:
    """CEL rules from the registry: a strategy's argument field is required for it, and a field
    only one strategy may carry is refused on the others."""
    by_field: dict[str, list[str]] = {}
    for name, cls in STRATEGIES.items():
        if cls.argument is not None:
            by_field.setdefault(cls.argument.spec_field, []).append(name)
    rules: list[tuple[str, str]] = []
    for spec_field, names in by_field.items():
        argument = STRATEGIES[names[0]].argument
        assert argument is not None
        wire, listed, who = to_camel(spec_field), ", ".join(f"'{n}'" for n in names), " and ".join(names)
        need = "needs" if len(names) == 1 else "need"
        if argument.required_in_spec:
            message = f"strategy {who} {need} {argument.spec_hint}"
            rules.append((f"!(self.type in [{listed}]) || has(self.{wire})", message))
        if argument.only_in_spec:
            rules.append((f"self.type in [{listed}] || !has(self.{wire})", f"`{wire}` is only for strategy {who}"))
    for spec_field, (_setting, readers) in SETTINGS.items():
        wire, listed, who = to_camel(spec_field), ", ".join(f"'{n}'" for n in readers), " and ".join(readers)
        rules.append((f"self.type in [{listed}] || !has(self.{wire})", f"`{wire}` is only for strategy {who}"))
    return rules


# The names, which field carries each one's argument and the CEL rules come from the registry of
# selection strategies (`trodden.synthesis.strategies`).
class Strategy(Wire):
    """A way of choosing sessions: `type` names it; `count`, `event` or `percentile` is its argument."""

    model_config = ConfigDict(json_schema_extra=cel(*_strategy_rules()))

    type: str = Field(json_schema_extra={"enum": list(STRATEGY_NAMES)})
    count: int | None = Field(None, ge=1, le=10000)
    event: str | None = Field(None, min_length=1, max_length=256)
    percentile: int | None = Field(None, ge=MIN_PERCENTILE, le=MAX_PERCENTILE)
    min_support: int | None = Field(None, ge=1, le=1_000_000)
    # selection settings (`trodden.synthesis.strategies.SETTINGS`): one field each, CEL-checked above
    share: float | None = Field(None, gt=0.0, lt=1.0, description=SETTINGS["share"][0].description)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r} (expected one of {', '.join(STRATEGY_NAMES)})")
        return value

    def strategy(self) -> SelectionStrategy:
        """The strategy this spec entry describes."""
        cls = STRATEGIES[self.type]
        return cls.from_spec(getattr(self, cls.argument.spec_field) if cls.argument else None)

    def cli_value(self) -> str:
        """The `--strategy` value of `trodden select`, written by the strategy itself."""
        return str(self.strategy())


class SessionSelectorSpec(Wire):
    source: str = Field(max_length=63, pattern=DNS_LABEL, description="The RumSource whose sessions are selected.")
    window: str = Field("7d", max_length=16, pattern=DURATION, description="How far back to look (30m, 12h, 7d).")
    strategies: list[Strategy] = Field(min_length=1, max_length=16)
    dedup_threshold: float = Field(0.85, ge=0.5, le=1.0)
    budget: int = Field(50, ge=1, le=100_000, description="At most this many sessions selected.")
    schedule: str | None = Field(
        None,
        max_length=128,
        pattern=CRON,
        description="Cron schedule of a CronJob (five fields, e.g. '0 3 * * *', or @daily); without it one Job per "
        "change of the selection's inputs.",
    )
    suspend: bool = False
    resources: ResourceRequirements | None = None


class SessionSelectorStatus(Status):
    selected: int | None = None
    journeys: int | None = None
    selection_id: int | None = None
    last_run: str | None = Field(None, json_schema_extra={"format": "date-time"})
    job_name: str | None = Field(None, max_length=253)
    inputs_hash: str | None = Field(None, max_length=64, description="Hash of what the selection depends on")
    job_count: int | None = Field(None, ge=0, description="Selection Jobs started; the latest is named after it")
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=CONDITION_LIST)


# ---------------------------------------------------------------------------------------------
# TestSuite


class GenerateSpec(Wire):
    model_config = ConfigDict(json_schema_extra=cel(("self.http || self.browser", "enable http or browser tests")))

    http: bool = True
    browser: bool = False
    known_values: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list,
        max_length=64,
        description="Test fixtures the collector pseudonymised (test card tokens, test accounts' emails): "
        "generation puts each real value back where a session carries its pseudonym (`trodden generate "
        "--known-value`). Values, not secrets: whoever reads the TestSuite reads them.",
    )


def _mining(name: str) -> Any:
    """A TestSuite `mining` field with the miner's own default, bounds and description."""
    field = MiningOptions.model_fields[name]
    return Field(field.default, description=field.description, **bounds_of_field(field))


class MiningSpec(Wire):
    """The miner's thresholds (`trodden.synthesis.mining.MiningOptions`)."""

    min_support: int = _mining("min_support")
    confidence: float = _mining("min_confidence")
    temporal_confidence: float = _mining("temporal_confidence")
    latency_margin: float = _mining("latency_margin")


class AuthHeader(Wire):
    name: str = Field(max_length=256, pattern=r"^[A-Za-z0-9-]+$")
    secret_key_ref: SecretKeyRef


class AuthProfileSpec(Wire):
    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.type != 'login' || (has(self.usernameRef) && has(self.passwordRef))",
                "a login profile needs usernameRef and passwordRef",
            ),
            (
                "self.type != 'static' || (has(self.headers) && size(self.headers) > 0)",
                "a static profile needs at least one header",
            ),
        )
    )

    name: str = Field(max_length=63, pattern=DNS_LABEL)
    type: Literal["static", "login"]
    headers: list[AuthHeader] = Field(default_factory=list, max_length=16)
    username_ref: SecretKeyRef | None = None
    password_ref: SecretKeyRef | None = None


class ReplayOnRollout(Wire):
    """Replay the suite on every new rollout (new pod template) of this Deployment."""

    deployment: str = Field(max_length=253, pattern=DNS_SUBDOMAIN)
    target: Endpoint
    baseline: Endpoint | None = None
    shards: int = Field(1, ge=1, le=100)
    retries: int = Field(2, ge=0, le=10)
    keep_runs: int = Field(10, ge=1, le=1000, description="Automatic ReplayRuns kept per suite.")


class IgnoreRuleSpec(Wire):
    """Findings every replay of the suite leaves out (an intended change): on `endpoint`
    ("METHOD /route", "PAGE /path" or "*"), at the JSON `pointer` or response `header`; with
    neither, everything on the endpoint. Each finding group of a report shows the rule to copy."""

    endpoint: str = Field(max_length=512, pattern=r"^(\*|[A-Za-z]+ /\S*)$")
    pointer: str | None = Field(None, max_length=512, pattern=r"^/\S*$")
    header: str | None = Field(None, max_length=256, pattern=r"^[A-Za-z0-9-]+$")

    def rule(self) -> str:
        """The rule as `--ignore` spells it."""
        if self.header:
            return f"{self.endpoint} header:{self.header}"
        return f"{self.endpoint} {self.pointer}" if self.pointer else self.endpoint


class TestSuiteSpec(Wire):
    __test__ = False  # not a pytest test class
    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.authProfiles) || "
                "self.authProfiles.all(p, self.authProfiles.exists_one(q, q.name == p.name))",
                "auth profile names must be unique",
            ),
        )
    )

    source: str = Field(max_length=63, pattern=DNS_LABEL)
    selectors: list[Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]] = Field(
        default_factory=list, max_length=16, description="SessionSelectors whose new selections regenerate the suite."
    )
    generate: GenerateSpec = Field(default_factory=GenerateSpec)
    mining: MiningSpec = Field(default_factory=MiningSpec)
    auth_profiles: list[AuthProfileSpec] = Field(default_factory=list, max_length=8)
    ignore: list[IgnoreRuleSpec] = Field(default_factory=list, max_length=64)
    replay_on: ReplayOnRollout | None = None
    resources: ResourceRequirements | None = None


class TestSuiteStatus(Status):
    __test__ = False
    revision: int | None = None
    tests: int | None = None
    assertions: int | None = None
    coverage: str | None = Field(None, max_length=64)
    selection_ids: list[int] = Field(default_factory=list, max_length=16)
    job_name: str | None = Field(None, max_length=253)
    inputs_hash: str | None = Field(None, max_length=64, description="Hash of what generation depends on")
    job_count: int | None = Field(None, ge=0, description="Generation Jobs started; the latest is named after it")
    rollout_template_hash: str | None = Field(None, max_length=64)
    last_replay_run: str | None = Field(None, max_length=253)
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=CONDITION_LIST)


# ---------------------------------------------------------------------------------------------
# ReplayRun


class ReplayRunSpec(Wire):
    """Immutable once created: a run is a record of one replay; create another to replay again."""

    IMMUTABLE: ClassVar[tuple[str, str]] = ("self == oldSelf", "ReplayRun spec is immutable; create a new ReplayRun")

    suite: str = Field(max_length=63, pattern=DNS_LABEL)
    revision: int | None = Field(None, ge=1, description="Suite revision (default: the latest).")
    target: Endpoint
    baseline: Endpoint | None = None
    shards: int = Field(1, ge=1, le=100)
    concurrency: int = Field(4, ge=1, le=256)
    retries: int = Field(2, ge=0, le=10)
    allow_unsafe: bool = Field(False, description="Replay POST/PUT/PATCH/DELETE even against the recorded origin.")
    timeout_seconds: int = Field(1800, ge=30, le=86400)
    source: str | None = Field(
        None,
        max_length=63,
        pattern=DNS_LABEL,
        description="RumSource to feed results back to (default: the suite's source).",
    )
    resources: ResourceRequirements | None = None


class Regression(Wire):
    test: str = Field(max_length=256)
    step: str = Field("", max_length=512)
    assertion: str = Field("", max_length=512)
    expected: str = Field("", max_length=512)
    actual: str = Field("", max_length=512)


class TopRegression(Wire):
    """Findings grouped by likely cause: what they share, what they explain, how to silence them."""

    cause: str = Field(max_length=512)
    tests: int = 0
    findings: int = 0
    expected: str = Field("", max_length=512)
    actual: str = Field("", max_length=512)
    ignore: list[Annotated[str, Field(max_length=512)]] = Field(default_factory=list, max_length=8)


class FlakyTest(Wire):
    test: str = Field(max_length=256)
    route: str = Field("", max_length=512)
    cause: str = Field("", max_length=256)


class ReplayRunStatus(Status):
    phase: Literal["Pending", "Running", "Succeeded", "Failed"] | None = None
    target: str | None = Field(None, max_length=2048)
    revision: int | None = Field(None, ge=1, description="The suite revision replayed")
    job_name: str | None = Field(None, max_length=253)
    total: int | None = None
    passed: int | None = None
    failed: int | None = None
    flaky: int | None = None
    shards_done: int | None = None
    regressions: list[Regression] = Field(default_factory=list, max_length=10)
    top_regressions: list[TopRegression] = Field(default_factory=list, max_length=10)
    flaky_tests: list[FlakyTest] = Field(default_factory=list, max_length=10)
    report: str | None = Field(None, max_length=2048)
    start_time: str | None = Field(None, json_schema_extra={"format": "date-time"})
    completion_time: str | None = Field(None, json_schema_extra={"format": "date-time"})
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=CONDITION_LIST)


# ---------------------------------------------------------------------------------------------
# The kinds, with what crdgen needs to know about each.


class Kind(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: str
    description: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    spec: type[Wire]
    status: type[Status]
    spec_rules: tuple[tuple[str, str], ...] = ()
    name_rules: tuple[tuple[str, str], ...] = ()  # CEL on `self.metadata.name`, at the schema's root
    columns: tuple[tuple[str, str, str, str], ...] = ()  # (name, type, jsonPath, description)


def _ready(kind: str) -> tuple[str, str, str, str]:
    return ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', f"{kind} is reconciled and healthy")


AGE = ("Age", "date", ".metadata.creationTimestamp", "")


def _label_name(kind: str, why: str) -> tuple[str, str]:
    """CEL: the object's name is a DNS label (it becomes label values and the names in spec fields)."""
    return (
        f"self.metadata.name.size() <= 63 && self.metadata.name.matches('{DNS_LABEL}')",
        f"a {kind} name must be a DNS label (lowercase letters, digits and '-', at most 63 characters, no dots): {why}",
    )


# The collector's Service is `<name>-collector`: a Service name is at most 63 characters and starts
# with a letter (RFC 1035), so a RumSource name is at most 53 and starts with a letter.
RUMSOURCE_NAME = (
    "self.metadata.name.size() <= 53 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    "a RumSource name must start with a letter and have at most 53 characters (lowercase letters, digits, '-'):"
    " its collector Service is <name>-collector, a Service name of at most 63 characters",
)

KINDS: tuple[Kind, ...] = (
    Kind(
        kind="RumSource",
        description="A capture point: the operator runs its collector (Deployment, Service, "
        "ingest-key Secret, sanitisation and instrumentation ConfigMaps).",
        plural="rumsources",
        singular="rumsource",
        short_names=("rum", "rums"),
        spec=RumSourceSpec,
        status=RumSourceStatus,
        name_rules=(RUMSOURCE_NAME,),
        columns=(
            ("Endpoint", "string", ".status.endpoint", "Where beacons and OTLP go"),
            ("Sessions", "integer", ".status.sessions", "Sessions stored"),
            _ready("RumSource"),
            AGE,
        ),
    ),
    Kind(
        kind="SessionSelector",
        description="Which sessions of a RumSource become tests: strategies, window, "
        "dedup and budget; runs a selection Job (or CronJob on a schedule).",
        plural="sessionselectors",
        singular="sessionselector",
        short_names=("ssel",),
        spec=SessionSelectorSpec,
        status=SessionSelectorStatus,
        name_rules=(_label_name("SessionSelector", "TestSuites list selectors by name"),),
        columns=(
            ("Source", "string", ".spec.source", ""),
            ("Selected", "integer", ".status.selected", "Sessions in the latest selection"),
            ("Last Run", "date", ".status.lastRun", ""),
            _ready("SessionSelector"),
            AGE,
        ),
    ),
    Kind(
        kind="TestSuite",
        description="Tests generated from the selected sessions, with mined assertions; "
        "runs a generation Job, and optionally a ReplayRun on each rollout of a Deployment.",
        plural="testsuites",
        singular="testsuite",
        short_names=("tsuite", "ts"),
        spec=TestSuiteSpec,
        status=TestSuiteStatus,
        name_rules=(_label_name("TestSuite", "a ReplayRun names its suite in spec.suite"),),
        columns=(
            ("Source", "string", ".spec.source", ""),
            ("Revision", "integer", ".status.revision", ""),
            ("Tests", "integer", ".status.tests", ""),
            ("Assertions", "integer", ".status.assertions", ""),
            _ready("TestSuite"),
            AGE,
        ),
    ),
    Kind(
        kind="ReplayRun",
        description="One replay of a suite revision against a target (and a baseline) in an "
        "indexed Job; spec immutable. Gate on condition Succeeded or Failed.",
        plural="replayruns",
        singular="replayrun",
        short_names=("rr", "replay"),
        spec=ReplayRunSpec,
        status=ReplayRunStatus,
        spec_rules=(ReplayRunSpec.IMMUTABLE,),
        name_rules=(_label_name("ReplayRun", "its name labels its Job and pods"),),
        columns=(
            ("Suite", "string", ".spec.suite", ""),
            ("Target", "string", ".status.target", ""),
            ("Passed", "integer", ".status.passed", ""),
            ("Failed", "integer", ".status.failed", ""),
            ("Flaky", "integer", ".status.flaky", ""),
            ("Succeeded", "string", '.status.conditions[?(@.type=="Succeeded")].status', ""),
            AGE,
        ),
    ),
)

KINDS_BY_NAME: dict[str, Kind] = {k.kind: k for k in KINDS}
