"""Spec in → manifests out: the objects the operator owns. Pure functions, no Kubernetes calls.

Every object carries an owner reference to the custom resource it serves (so deleting the resource
deletes them, through the garbage collector in kube-controller-manager) and the standard
`app.kubernetes.io/*` labels. Names are deterministic, so applying twice (or from a restarted
operator) targets the same object instead of creating a duplicate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from trodden.models.instrumentation import InstrumentationConfig
from trodden.models.sanitization import SanitizationConfig, SanitizationRule
from trodden.operator.specs import (
    API_VERSION,
    Endpoint,
    ReplayOnRollout,
    ReplayRunSpec,
    ResourceRequirements,
    RumSourceSpec,
    SessionSelectorSpec,
    TestSuiteSpec,
)
from trodden.replay.execution import secret_env_name
from trodden.synthesis.strategies import SETTINGS

COLLECTOR_PORT = 8480
INSTRUMENTATION_PATH = "/etc/trodden/instrumentation/config.json"
SANITIZATION_PATH = "/etc/trodden/sanitization/rules.json"
DSN_SECRET = "trodden-tenant-dsn"  # per namespace: the DSN of the namespace's own database role
DSN_KEY = "dsn"
WEBHOOK_SECRET = "trodden-webhook-token"  # per namespace: the token its Flagger webhook calls carry
FIELD_MANAGER = "trodden-operator"
MANAGED_BY = "trodden-operator"


@dataclass(frozen=True)
class Runtime:
    """What the operator knows about where it runs (from its environment / chart values)."""

    image: str = "trodden:latest"
    image_pull_policy: str = "IfNotPresent"
    service_account: str | None = None  # for the pods it creates; None = the namespace default
    job_backoff_limit: int = 2
    finished_job_ttl: int = 3600  # seconds a finished Job is kept once its result is in the owner's status
    extra_env: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Owner:
    """The custom resource an object belongs to."""

    kind: str
    name: str
    namespace: str
    uid: str
    generation: int = 1

    @classmethod
    def of(cls, body: Any) -> Owner:
        meta = body["metadata"]
        return cls(
            kind=body["kind"],
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            generation=int(meta.get("generation") or 1),
        )

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def short_hash(value: Any, length: int = 8) -> str:
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def bounded_name(*parts: str, limit: int = 63) -> str:
    """`a-b-c`, shortened with a hash suffix when longer than `limit` (names stay unique and valid)."""
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = short_hash(name, 8)
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def owner_label(kind: str) -> str:
    """The label naming an object's Trodden owner, e.g. `trodden.dev/replayrun: NAME`."""
    return f"trodden.dev/{kind.lower()}"


def label_value(text: str) -> str:
    """`text` as a valid label value: at most 63 characters, alphanumeric at both ends (a longer text
    is cut and given a hash suffix, so distinct texts stay distinct)."""
    if len(text) <= 63 and (not text or (text[0].isalnum() and text[-1].isalnum())):
        return text
    return f"{text[:54].strip('-_.')}-{short_hash(text, 8)}".lstrip("-_.")


def labels(owner: Owner, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "trodden",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": label_value(owner.name),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        owner_label(owner.kind): label_value(owner.name),
    }


def metadata(owner: Owner, name: str, component: str, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": {**labels(owner, component), **(extra_labels or {})},
        "ownerReferences": [owner.reference()],
    }


def _resources(res: ResourceRequirements | None, default: dict[str, Any]) -> dict[str, Any]:
    if res is None:
        return default
    return res.model_dump(exclude_none=True)


def dsn_env() -> dict[str, Any]:
    return {"name": "TRODDEN_DSN", "valueFrom": {"secretKeyRef": {"name": DSN_SECRET, "key": DSN_KEY}}}


def _env(runtime: Runtime, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        dsn_env(),
        {"name": "TRODDEN_LOG_FORMAT", "value": "json"},
        *({"name": k, "value": v} for k, v in runtime.extra_env),
        *extra,
    ]


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def endpoint_url(endpoint: Endpoint, namespace: str) -> str:
    """The URL a pod in `namespace` uses to reach the endpoint (Service → cluster DNS name)."""
    if endpoint.url:
        return endpoint.url
    svc = endpoint.service
    assert svc is not None  # the CRD's CEL rule guarantees exactly one of url / service
    ns = svc.namespace or namespace
    return f"{svc.scheme}://{svc.name}.{ns}.svc:{svc.port}{svc.path}"


# ---------------------------------------------------------------------------------------------
# Namespace-wide


def db_secret(namespace: str, dsn: str) -> dict[str, Any]:
    """The DSN of the namespace's own database role, for the pods the operator makes there. Not
    owned by one resource: they all share it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": DSN_SECRET,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "trodden", "app.kubernetes.io/managed-by": MANAGED_BY},
        },
        "type": "Opaque",
        "stringData": {DSN_KEY: dsn},
    }


def webhook_secret(namespace: str, token: str) -> dict[str, Any]:
    """The token that lets a caller ask the operator's Flagger webhook about this namespace (and no
    other): read it from here into the Canary's webhook metadata."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": WEBHOOK_SECRET,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "trodden", "app.kubernetes.io/managed-by": MANAGED_BY},
        },
        "type": "Opaque",
        "stringData": {"token": token},
    }


# ---------------------------------------------------------------------------------------------
# RumSource → collector


def ingest_key_secret_name(owner: Owner, spec: RumSourceSpec) -> str:
    return spec.ingest_key_secret or f"{owner.name}-ingest-key"


def ingest_key_secret(owner: Owner, key: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(owner, f"{owner.name}-ingest-key", "ingest-key"),
        "type": "Opaque",
        "stringData": {"key": key},
    }


def sanitization_config(spec: RumSourceSpec) -> SanitizationConfig:
    return SanitizationConfig(
        rules=[SanitizationRule(kind=r.kind, match=r.match, action=r.action) for r in spec.sanitization.rules],
        disable_builtins=list(spec.sanitization.disable_builtins),
        free_text_min_users=spec.sanitization.free_text_min_users,
    )


def sanitization_configmap(owner: Owner, spec: RumSourceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(owner, f"{owner.name}-sanitization", "sanitization"),
        "data": {"rules.json": sanitization_config(spec).model_dump_json(indent=2)},
    }


def instrumentation_configmap(owner: Owner, config: InstrumentationConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(owner, f"{owner.name}-instrumentation", "instrumentation"),
        "data": {"config.json": config.model_dump_json(indent=2)},
    }


def collector_selector(owner: Owner) -> dict[str, str]:
    return {
        "app.kubernetes.io/component": "collector",
        "app.kubernetes.io/instance": label_value(owner.name),
        owner_label("RumSource"): label_value(owner.name),
    }


def collector_deployment(owner: Owner, spec: RumSourceSpec, runtime: Runtime) -> dict[str, Any]:
    image = spec.image or runtime.image
    selector = collector_selector(owner)
    container = {
        "name": "collector",
        "image": image,
        "imagePullPolicy": runtime.image_pull_policy,
        "args": [
            "collect",
            "--source",
            owner.name,
            "--host",
            "0.0.0.0",
            "--port",
            str(COLLECTOR_PORT),
            "--instrumentation-file",
            INSTRUMENTATION_PATH,
            "--sanitization-file",
            SANITIZATION_PATH,
        ],
        "env": _env(
            runtime,
            {
                "name": "TRODDEN_INGEST_KEY",
                "valueFrom": {"secretKeyRef": {"name": ingest_key_secret_name(owner, spec), "key": "key"}},
            },
            {"name": "TRODDEN_RETENTION_DAYS", "value": str(spec.retention_days)},
        ),
        "ports": [{"name": "http", "containerPort": COLLECTOR_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 6},
        "resources": _resources(
            spec.resources, {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
        ),
        "securityContext": {**_container_security(), "readOnlyRootFilesystem": True},
        "volumeMounts": [
            {"name": "instrumentation", "mountPath": "/etc/trodden/instrumentation", "readOnly": True},
            {"name": "sanitization", "mountPath": "/etc/trodden/sanitization", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner, f"{owner.name}-collector", "collector", selector),
        "spec": {
            "replicas": spec.replicas,
            "progressDeadlineSeconds": spec.progress_deadline_seconds,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": {**labels(owner, "collector"), **selector},
                    # A sanitisation change restarts the collector (rules are read at start);
                    # instrumentation changes are picked up live from the mounted file.
                    "annotations": {
                        "trodden.dev/sanitization-hash": short_hash(sanitization_config(spec).model_dump())
                    },
                },
                "spec": {
                    **({"serviceAccountName": runtime.service_account} if runtime.service_account else {}),
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(),
                    "containers": [container],
                    "volumes": [
                        {"name": "instrumentation", "configMap": {"name": f"{owner.name}-instrumentation"}},
                        {"name": "sanitization", "configMap": {"name": f"{owner.name}-sanitization"}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def collector_service(owner: Owner, spec: RumSourceSpec) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http", "port": COLLECTOR_PORT, "targetPort": "http", "protocol": "TCP"}
    if spec.node_port is not None:
        port["nodePort"] = spec.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, f"{owner.name}-collector", "collector"),
        "spec": {"type": spec.service_type, "selector": collector_selector(owner), "ports": [port]},
    }


def collector_endpoint(owner: Owner) -> str:
    return f"http://{owner.name}-collector.{owner.namespace}.svc:{COLLECTOR_PORT}"


# ---------------------------------------------------------------------------------------------
# Jobs


def _job_pod(
    owner: Owner,
    component: str,
    runtime: Runtime,
    args: list[str],
    *,
    resources: ResourceRequirements | None,
    extra_env: tuple[dict[str, Any], ...] = (),
    extra_mounts: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (),
) -> dict[str, Any]:
    container = {
        "name": component,
        "image": runtime.image,
        "imagePullPolicy": runtime.image_pull_policy,
        "args": args,
        "env": _env(runtime, *extra_env),
        "resources": _resources(
            resources, {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}}
        ),
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "work", "mountPath": "/reports"}, *(m for m, _ in extra_mounts)],
    }
    return {
        "metadata": {"labels": labels(owner, component)},
        "spec": {
            **({"serviceAccountName": runtime.service_account} if runtime.service_account else {}),
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": _pod_security(),
            "containers": [container],
            "volumes": [{"name": "work", "emptyDir": {}}, *(v for _, v in extra_mounts)],
        },
    }


def _job(owner: Owner, name: str, component: str, pod: dict[str, Any], runtime: Runtime, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(owner, name, component),
        "spec": {
            "backoffLimit": runtime.job_backoff_limit,
            # Exit code 2 is "bad input" in every trodden command: retrying cannot help.
            "podFailurePolicy": {
                "rules": [
                    {"action": "FailJob", "onExitCodes": {"containerName": component, "operator": "In", "values": [2]}},
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            **spec,
            "template": pod,
        },
    }


def select_args(owner: Owner, spec: SessionSelectorSpec) -> list[str]:
    args = [
        "select",
        "--source",
        spec.source,
        "--name",
        owner.name,
        "--window",
        spec.window,
        "--similarity",
        str(spec.dedup_threshold),
        "--max",
        str(spec.budget),
    ]
    for strategy in spec.strategies:
        args += ["--strategy", strategy.cli_value()]
    supports = [s.min_support for s in spec.strategies if s.min_support is not None]
    if supports:
        args += ["--min-support", str(max(supports))]
    for spec_field, (setting, _names) in SETTINGS.items():  # given once per selection: the first entry's
        values = [getattr(s, spec_field) for s in spec.strategies if getattr(s, spec_field, None) is not None]
        if values:
            args += [setting.flag, f"{values[0]:g}"]
    return [*args, "--json"]


INPUTS_HASH = "trodden.dev/inputs-hash"
OWNER_GENERATION = "trodden.dev/owner-generation"


def selection_inputs(spec: SessionSelectorSpec) -> str:
    """Hash of what a selection depends on (not its schedule, resources or suspension)."""
    return short_hash(
        spec.model_dump(include={"source", "window", "strategies", "dedup_threshold", "budget"}, mode="json"), 16
    )


def selection_job_name(owner: Owner, count: int) -> str:
    return bounded_name(owner.name, "select", str(count))


def _batch_annotations(owner: Owner, inputs_hash: str) -> dict[str, str]:
    return {INPUTS_HASH: inputs_hash, OWNER_GENERATION: str(owner.generation)}


def selection_job(owner: Owner, spec: SessionSelectorSpec, runtime: Runtime, count: int) -> dict[str, Any]:
    """The `count`-th selection Job of the selector (a new one each time its inputs change)."""
    pod = _job_pod(owner, "select", runtime, select_args(owner, spec), resources=spec.resources)
    job = _job(owner, selection_job_name(owner, count), "select", pod, runtime)
    job["metadata"]["annotations"] = _batch_annotations(owner, selection_inputs(spec))
    return job


def selection_cronjob(owner: Owner, spec: SessionSelectorSpec, runtime: Runtime) -> dict[str, Any]:
    assert spec.schedule
    pod = _job_pod(owner, "select", runtime, select_args(owner, spec), resources=spec.resources)
    job = _job(owner, "unused", "select", pod, runtime)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(owner, bounded_name(owner.name, "select", limit=52), "select"),
        "spec": {
            "schedule": spec.schedule,
            "suspend": spec.suspend,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": labels(owner, "select")}, "spec": job["spec"]},
        },
    }


def generate_args(owner: Owner, spec: TestSuiteSpec, selection_ids: list[int]) -> list[str]:
    args = ["generate", "--source", spec.source, "--suite", owner.name]
    if selection_ids:
        # `trodden generate` takes one selection: the newest of the suite's selectors.
        args += ["--selection", str(max(selection_ids))]
    args.append("--http" if spec.generate.http else "--no-http")
    args.append("--browser" if spec.generate.browser else "--no-browser")
    m = spec.mining
    args += [
        "--min-support",
        str(m.min_support),
        "--min-confidence",
        str(m.confidence),
        "--temporal-confidence",
        str(m.temporal_confidence),
        "--latency-margin",
        str(m.latency_margin),
    ]
    login = next((p for p in spec.auth_profiles if p.type == "login"), None)
    if login is not None and login.username_ref is not None and login.password_ref is not None:
        # the suite's login profile reads these Secret keys on replay (replay_auth_env mounts them)
        args += [
            "--login-username-secret",
            f"{login.username_ref.name}/{login.username_ref.key}",
            "--login-password-secret",
            f"{login.password_ref.name}/{login.password_ref.key}",
        ]
    for rule in spec.ignore:  # intended changes: stored in the suite, left out by every replay
        args += ["--ignore", rule.rule()]
    for value in spec.generate.known_values:  # test fixtures put back behind their pseudonyms
        args += ["--known-value", value]
    return [*args, "--json"]


def replay_auth_env(suite: TestSuiteSpec | None) -> tuple[dict[str, Any], ...]:
    """The TestSuite's auth Secrets as the env vars replay reads a `ValueFrom(secret="name/key")`
    from (`TRODDEN_SECRET_<NAME>_<KEY>`): the naming is replay's, so it is imported, not copied."""
    refs = [
        ref
        for p in (suite.auth_profiles if suite else [])
        for ref in (*(h.secret_key_ref for h in p.headers), p.username_ref, p.password_ref)
        if ref is not None
    ]
    env = {secret_env_name(f"{r.name}/{r.key}"): {"name": r.name, "key": r.key} for r in refs}
    return tuple({"name": name, "valueFrom": {"secretKeyRef": ref}} for name, ref in sorted(env.items()))


def generation_inputs(spec: TestSuiteSpec, selection_ids: list[int]) -> str:
    """Hash of what generation depends on: the source, the newest selection, the generation and
    mining options, the auth profiles. Not `replayOn`, `resources` or anything else of the spec."""
    inputs = spec.model_dump(include={"source", "generate", "mining", "auth_profiles"}, mode="json")
    return short_hash({**inputs, "selection": max(selection_ids) if selection_ids else None}, 16)


def generation_job_name(owner: Owner, count: int) -> str:
    return bounded_name(owner.name, "gen", str(count))


def generation_job(
    owner: Owner, spec: TestSuiteSpec, selection_ids: list[int], runtime: Runtime, count: int
) -> dict[str, Any]:
    """The `count`-th generation Job of the suite (a new one each time its inputs change).

    Generation reads sessions, never credentials: the auth profiles' Secrets are named in its
    arguments (replay reads them, see `replay_auth_env`), not mounted into its pod."""
    pod = _job_pod(owner, "generate", runtime, generate_args(owner, spec, selection_ids), resources=spec.resources)
    job = _job(owner, generation_job_name(owner, count), "generate", pod, runtime)
    job["metadata"]["annotations"] = _batch_annotations(owner, generation_inputs(spec, selection_ids))
    return job


def run_name(owner: Owner) -> str:
    """The replay run's name in the store: unique even when a ReplayRun name is reused later."""
    return f"{owner.namespace}/{owner.name}/{owner.uid[:8]}"


def replay_job_name(owner: Owner) -> str:
    # Indexed Job pods are named <job>-<index>-<suffix>; keep room for it under 63 characters.
    return bounded_name(owner.name, "replay", limit=52)


def replay_args(
    owner: Owner, spec: ReplayRunSpec, target: str, baseline: str | None, revision: int | None = None
) -> list[str]:
    args = ["replay", "--suite", spec.suite]
    revision = spec.revision if revision is None else revision
    if revision is not None:
        args += ["--revision", str(revision)]
    args += ["--target", target]
    if baseline:
        args += ["--baseline", baseline]
    args += [
        "--shard",
        f"$(JOB_COMPLETION_INDEX)/{spec.shards}",
        "--run-name",
        run_name(owner),
        "--concurrency",
        str(spec.concurrency),
        "--retries",
        str(spec.retries),
        "--json-report",
        "/reports/report-$(JOB_COMPLETION_INDEX).json",
        "--junit",
        "/reports/junit-$(JOB_COMPLETION_INDEX).xml",
    ]
    if spec.allow_unsafe:
        args.append("--allow-unsafe-on-origin")
    return args


def replay_job(
    owner: Owner,
    spec: ReplayRunSpec,
    runtime: Runtime,
    auth_env: tuple[dict[str, Any], ...] = (),
    revision: int | None = None,
) -> dict[str, Any]:
    """The indexed Job replaying `revision` of the suite (default: `spec.revision`, else the latest
    when each pod starts; the operator pins it, so every shard replays the same revision)."""
    target = endpoint_url(spec.target, owner.namespace)
    baseline = endpoint_url(spec.baseline, owner.namespace) if spec.baseline else None
    args = replay_args(owner, spec, target, baseline, revision)
    # `trodden replay` exits 1 when it found regressions: that is a finished shard with a verdict
    # (read from the store), not a crash to retry. Exit 2 (bad input) fails the Job at once.
    script = 'trodden "$@"; rc=$?; if [ "$rc" -eq 1 ]; then exit 0; fi; exit "$rc"'
    pod = _job_pod(
        owner,
        "replay",
        runtime,
        args,
        resources=spec.resources,
        extra_env=({"name": "TRODDEN_RUN_NAME", "value": run_name(owner)}, *auth_env),
    )
    container = pod["spec"]["containers"][0]
    container["command"] = ["/bin/sh", "-c", script, "trodden"]
    container["env"].append(
        {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
            },
        }
    )
    return _job(
        owner,
        replay_job_name(owner),
        "replay",
        pod,
        runtime,
        completionMode="Indexed",
        completions=spec.shards,
        parallelism=spec.shards,
        activeDeadlineSeconds=spec.timeout_seconds,
    )


TEMPLATE_HASH_LABEL = "trodden.dev/template-hash"
REVISION_LABEL = "trodden.dev/rollout-revision"
ROLLOUT_COMPONENT = "rollout-replay"
# The deployment controller numbers each rollout of a Deployment (a rollback to an older template
# too: it becomes the newest revision); scaling does not change it.
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Rollout:
    """One rollout of a Deployment: its pod template and the controller's revision number for it."""

    template_hash: str
    revision: str

    @classmethod
    def of(cls, deployment: dict[str, Any]) -> Rollout:
        meta = deployment.get("metadata") or {}
        revision = (meta.get("annotations") or {}).get(REVISION_ANNOTATION) or f"g{meta.get('generation') or 0}"
        return cls(pod_template_hash(deployment), str(revision))

    def labels(self) -> dict[str, str]:
        return {TEMPLATE_HASH_LABEL: label_value(self.template_hash), REVISION_LABEL: label_value(self.revision)}


def rollout_replayrun(suite: Owner, replay_on: ReplayOnRollout, rollout: Rollout) -> dict[str, Any]:
    """The ReplayRun created for a new rollout (pod template) of the suite's Deployment.

    One name per rollout, never reused: the rollout's revision is part of it, so a rollback to a
    template replayed before, or the same template rolled out again, gets a fresh run rather than
    the old verdict; and the run's spec is part of it, so a changed `replayOn` never meets an existing
    run of the same name (a ReplayRun's spec is immutable: applying over it would be a 422)."""
    spec = ReplayRunSpec(
        suite=suite.name,
        target=replay_on.target,
        baseline=replay_on.baseline,
        shards=replay_on.shards,
        retries=replay_on.retries,
    )
    attempt = short_hash([rollout.revision, spec.wire()], 6)
    return {
        "apiVersion": API_VERSION,
        "kind": "ReplayRun",
        "metadata": metadata(
            suite,
            bounded_name(suite.name, "rollout", rollout.template_hash[:10], attempt),
            ROLLOUT_COMPONENT,
            {"trodden.dev/deployment": label_value(replay_on.deployment), **rollout.labels()},
        ),
        "spec": spec.wire(),
    }


def rollout_runs_selector(suite_name: str, rollout: Rollout | None = None) -> dict[str, str]:
    """Labels of a suite's rollout ReplayRuns (of one rollout, when given)."""
    selector = {owner_label("TestSuite"): label_value(suite_name), "app.kubernetes.io/component": ROLLOUT_COMPONENT}
    return {**selector, **(rollout.labels() if rollout is not None else {})}


def pod_template_hash(deployment: dict[str, Any]) -> str:
    """Identifies a rollout: a hash of the Deployment's pod template (what a new rollout changes)."""
    return short_hash((deployment.get("spec") or {}).get("template") or {}, 16)
