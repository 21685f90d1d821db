from __future__ import annotations

from typing import Any

import pytest

from trodden.models.instrumentation import InstrumentationConfig
from trodden.operator import builders
from trodden.operator.builders import Owner, Runtime
from trodden.operator.specs import ReplayRunSpec, RumSourceSpec, SessionSelectorSpec, TestSuiteSpec

RUNTIME = Runtime(image="localhost/trodden:test")


def owner(kind: str, name: str = "shop") -> Owner:
    return Owner(kind=kind, name=name, namespace="team-a", uid="0123456789abcdef-uid", generation=2)


def _owned_by(obj: dict[str, Any], o: Owner) -> None:
    refs = obj["metadata"]["ownerReferences"]
    assert refs == [
        {
            "apiVersion": "trodden.dev/v1alpha1",
            "kind": o.kind,
            "name": o.name,
            "uid": o.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert obj["metadata"]["namespace"] == "team-a"
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "trodden-operator"


def test_collector_objects_follow_the_contract() -> None:
    o = owner("RumSource")
    spec = RumSourceSpec.model_validate(
        {"replicas": 2, "sanitization": {"rules": [{"kind": "header", "match": "x-customer", "action": "redact"}]}}
    )
    dep = builders.collector_deployment(o, spec, RUNTIME)
    svc = builders.collector_service(o, spec)
    san = builders.sanitization_configmap(o, spec)
    ins = builders.instrumentation_configmap(o, InstrumentationConfig())
    key = builders.ingest_key_secret(o, "k")
    for obj in (dep, svc, san, ins, key):
        _owned_by(obj, o)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "localhost/trodden:test"
    assert container["args"][:3] == ["collect", "--source", "shop"]
    assert "--instrumentation-file" in container["args"] and "/etc/trodden/sanitization/rules.json" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TRODDEN_INGEST_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "shop-ingest-key", "key": "key"}
    assert env["TRODDEN_DSN"]["valueFrom"]["secretKeyRef"]["name"] == builders.DSN_SECRET
    assert dep["spec"]["replicas"] == 2
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert set(dep["spec"]["selector"]["matchLabels"].items()) <= set(
        dep["spec"]["template"]["metadata"]["labels"].items()
    )
    assert san["metadata"]["name"] == "shop-sanitization" and "x-customer" in san["data"]["rules.json"]
    assert ins["metadata"]["name"] == "shop-instrumentation"
    assert InstrumentationConfig.model_validate_json(ins["data"]["config.json"]) == InstrumentationConfig()


def test_user_supplied_ingest_key_secret_is_referenced() -> None:
    spec = RumSourceSpec.model_validate({"ingestKeySecret": "my-key"})
    dep = builders.collector_deployment(owner("RumSource"), spec, RUNTIME)
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TRODDEN_INGEST_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "my-key"


def test_sanitisation_change_rolls_the_collector() -> None:
    o = owner("RumSource")
    a = builders.collector_deployment(o, RumSourceSpec(), RUNTIME)
    b = builders.collector_deployment(
        o, RumSourceSpec.model_validate({"sanitization": {"disableBuiltins": ["ip"]}}), RUNTIME
    )
    assert a["spec"]["template"] != b["spec"]["template"]
    assert a == builders.collector_deployment(o, RumSourceSpec(), RUNTIME)  # deterministic


def test_selection_job_and_cronjob() -> None:
    o = owner("SessionSelector", "checkout")
    spec = SessionSelectorSpec.model_validate(
        {
            "source": "shop",
            "budget": 40,
            "strategies": [
                {"type": "frequent", "count": 10},
                {"type": "event", "event": "add_to_cart_failed"},
                {"type": "slow", "percentile": 95},
                {"type": "errors"},
            ],
        }
    )
    job = builders.selection_job(o, spec, RUNTIME, 1)
    _owned_by(job, o)
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:5] == ["select", "--source", "shop", "--name", "checkout"]
    assert args[args.index("--max") : args.index("--max") + 2] == ["--max", "40"]
    assert args[args.index("--similarity") + 1] == "0.85"
    strategies = [args[i + 1] for i, a in enumerate(args) if a == "--strategy"]
    assert strategies == ["frequent:10", "event:add_to_cart_failed", "slow:p95", "errors"]
    assert job["metadata"]["name"] == "checkout-select-1"
    assert job["metadata"]["annotations"] == {
        "trodden.dev/inputs-hash": builders.selection_inputs(spec),
        "trodden.dev/owner-generation": "2",
    }
    # What the selection depends on changes its hash; resources, schedule and suspension do not.
    assert builders.selection_inputs(spec.model_copy(update={"budget": 41})) != builders.selection_inputs(spec)
    for same in ({"schedule": "0 * * * *"}, {"suspend": True}, {"resources": {"limits": {"memory": "4Gi"}}}):
        edited = SessionSelectorSpec.model_validate({**spec.wire(), **same})
        assert builders.selection_inputs(edited) == builders.selection_inputs(spec), same
    cron = builders.selection_cronjob(o, spec.model_copy(update={"schedule": "0 * * * *"}), RUNTIME)
    assert cron["kind"] == "CronJob" and cron["spec"]["schedule"] == "0 * * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == args


def test_the_rare_share_travels_from_the_spec_to_the_select_command() -> None:
    """`share` (what `rare` means, `--rare-share` on the CLI) is a field of the rare strategy's entry,
    from the strategy registry's settings; the CRD refuses it on other strategies."""
    from trodden.operator.specs import Strategy as StrategySpec
    from trodden.synthesis.strategies import SETTINGS, STRATEGIES

    assert set(SETTINGS) <= set(StrategySpec.model_fields)  # every registry setting has its spec field
    assert SETTINGS["share"][1] == ("rare",) and STRATEGIES["rare"].settings[0].flag == "--rare-share"
    spec = SessionSelectorSpec.model_validate(
        {
            "source": "shop",
            "strategies": [{"type": "frequent", "count": 10}, {"type": "rare", "count": 5, "share": 0.02}],
        }
    )
    args = builders.select_args(owner("SessionSelector", "rare"), spec)
    assert args[args.index("--rare-share") + 1] == "0.02"
    plain = SessionSelectorSpec.model_validate({"source": "shop", "strategies": [{"type": "rare", "count": 5}]})
    assert "--rare-share" not in builders.select_args(owner("SessionSelector", "rare"), plain)
    with pytest.raises(ValueError):
        SessionSelectorSpec.model_validate({"source": "shop", "strategies": [{"type": "rare", "share": 1.5}]})
    rules = {r["rule"]: r["message"] for r in StrategySpec.model_json_schema()["x-kubernetes-validations"]}
    assert rules["self.type in ['rare'] || !has(self.share)"] == "`share` is only for strategy rare"


def test_generation_job_maps_auth_profiles_to_secret_env() -> None:
    o = owner("TestSuite", "checkout-suite")
    spec = TestSuiteSpec.model_validate(
        {
            "source": "shop",
            "generate": {"browser": True},
            "authProfiles": [
                {
                    "name": "api",
                    "type": "static",
                    "headers": [{"name": "Authorization", "secretKeyRef": {"name": "shop-auth", "key": "token"}}],
                }
            ],
        }
    )
    job = builders.generation_job(o, spec, [7], RUNTIME, 3)
    assert job["metadata"]["name"] == "checkout-suite-gen-3"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:6] == ["generate", "--source", "shop", "--suite", "checkout-suite", "--selection"]
    assert "--browser" in container["args"] and "--http" in container["args"]
    assert container["args"][container["args"].index("--min-confidence") + 1] == "0.99"
    # no credentials in a pod that only reads sessions (replay pods get them)
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {}) and e["name"] != "TRODDEN_DSN"]
    assert builders.generation_inputs(spec, [7]) != builders.generation_inputs(spec, [8])
    assert builders.generation_inputs(spec, [3, 7]) == builders.generation_inputs(spec, [7])  # the newest counts
    mining = TestSuiteSpec.model_validate({**spec.wire(), "mining": {"minSupport": 9}})
    assert builders.generation_inputs(mining, [7]) != builders.generation_inputs(spec, [7])
    # Editing how the suite is replayed or kept, or its pods' resources, does not regenerate it.
    for same in (
        {"replayOn": {"deployment": "shop", "keepRuns": 3, "target": {"url": "http://shop"}}},
        {"resources": {"requests": {"cpu": "2"}}},
    ):
        edited = TestSuiteSpec.model_validate({**spec.wire(), **same})
        assert builders.generation_inputs(edited, [7]) == builders.generation_inputs(spec, [7]), same


def test_known_test_values_reach_generation_and_regenerate_the_suite() -> None:
    """The collector pseudonymised the test card tokens; the suite names them so generation puts them back."""
    spec = TestSuiteSpec.model_validate({"source": "shop", "generate": {"knownValues": ["tok_visa", "tok_declined"]}})
    args = builders.generate_args(owner("TestSuite", "checkout-suite"), spec, [7])
    assert [args[i + 1] for i, a in enumerate(args) if a == "--known-value"] == ["tok_visa", "tok_declined"]
    plain = TestSuiteSpec.model_validate({"source": "shop"})
    assert "--known-value" not in builders.generate_args(owner("TestSuite", "checkout-suite"), plain, [7])
    assert builders.generation_inputs(spec, [7]) != builders.generation_inputs(plain, [7])


def test_replay_job_is_indexed_one_shard_per_pod() -> None:
    o = owner("ReplayRun", "rollout-42")
    spec = ReplayRunSpec.model_validate(
        {
            "suite": "checkout-suite",
            "shards": 4,
            "target": {"service": {"name": "shop-v2", "port": 8080}},
            "baseline": {"url": "http://shop-v1.team-a.svc:8080"},
        }
    )
    job = builders.replay_job(o, spec, RUNTIME)
    _owned_by(job, o)
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == 4 and job["spec"]["parallelism"] == 4
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--target") + 1] == "http://shop-v2.team-a.svc:8080"
    assert args[args.index("--baseline") + 1] == "http://shop-v1.team-a.svc:8080"
    assert args[args.index("--shard") + 1] == "$(JOB_COMPLETION_INDEX)/4"
    assert args[args.index("--run-name") + 1] == "team-a/rollout-42/01234567"
    assert container["command"][:2] == ["/bin/sh", "-c"]
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["onExitCodes"]["values"] == [2] and rules[0]["action"] == "FailJob"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_bounded_names_stay_valid_and_unique() -> None:
    long = "x" * 80
    a = builders.bounded_name(long, "replay", limit=52)
    b = builders.bounded_name(long + "y", "replay", limit=52)
    assert len(a) <= 52 and len(b) <= 52 and a != b
    assert builders.bounded_name("short", "replay") == "short-replay"


def test_label_values_stay_valid() -> None:
    assert builders.label_value("shop") == "shop"
    for text in ("a" * 62 + "-" + "b" * 10, "x" * 63 + ".y", "-lead", "trail-", "a.b" * 40):
        value = builders.label_value(text)
        assert len(value) <= 63 and value[0].isalnum() and value[-1].isalnum(), (text, value)
    assert builders.label_value("a" * 70) != builders.label_value("a" * 71)


def test_replay_job_pins_the_revision() -> None:
    spec = ReplayRunSpec.model_validate({"suite": "s", "target": {"url": "http://t"}})
    args = builders.replay_job(owner("ReplayRun", "r"), spec, RUNTIME, revision=4)["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert args[args.index("--revision") + 1] == "4"
    pinned = ReplayRunSpec.model_validate({**spec.wire(), "revision": 2})
    args = builders.replay_job(owner("ReplayRun", "r"), pinned, RUNTIME)["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    assert args[args.index("--revision") + 1] == "2"


def test_collector_has_a_progress_deadline() -> None:
    spec = RumSourceSpec.model_validate({"progressDeadlineSeconds": 30})
    assert builders.collector_deployment(owner("RumSource"), spec, RUNTIME)["spec"]["progressDeadlineSeconds"] == 30


def test_rollout_replayrun() -> None:
    o = owner("TestSuite", "checkout-suite")
    spec = TestSuiteSpec.model_validate(
        {"source": "shop", "replayOn": {"deployment": "shop", "target": {"service": {"name": "shop"}}, "shards": 2}}
    )
    assert spec.replay_on is not None
    rollout = builders.Rollout("abcdef0123456789", "4")
    run = builders.rollout_replayrun(o, spec.replay_on, rollout)
    _owned_by(run, o)
    assert run["kind"] == "ReplayRun" and run["spec"]["suite"] == "checkout-suite" and run["spec"]["shards"] == 2
    assert run["metadata"]["labels"]["trodden.dev/template-hash"] == "abcdef0123456789"
    assert run["metadata"]["labels"]["trodden.dev/rollout-revision"] == "4"
    assert builders.rollout_runs_selector("checkout-suite", rollout).items() <= run["metadata"]["labels"].items()
    # The same rollout gets the same name (a restarted operator finds its run) ...
    assert builders.rollout_replayrun(o, spec.replay_on, rollout)["metadata"]["name"] == run["metadata"]["name"]
    # ... a later rollout of the same template (a rollback to it, a restart) a fresh one ...
    again = builders.rollout_replayrun(o, spec.replay_on, builders.Rollout("abcdef0123456789", "7"))
    assert again["metadata"]["name"] != run["metadata"]["name"]
    # ... and a changed replayOn never meets a run of the same name (its spec is immutable).
    changed = TestSuiteSpec.model_validate(
        {"source": "shop", "replayOn": {"deployment": "shop", "target": {"service": {"name": "shop"}}, "shards": 3}}
    )
    assert changed.replay_on is not None
    assert builders.rollout_replayrun(o, changed.replay_on, rollout)["metadata"]["name"] != run["metadata"]["name"]
    deployment = {
        "metadata": {"generation": 9, "annotations": {"deployment.kubernetes.io/revision": "4"}},
        "spec": {"template": {"spec": {"containers": [{"image": "shop:1"}]}}},
    }
    assert builders.Rollout.of(deployment).revision == "4"
    assert builders.Rollout.of({**deployment, "metadata": {"generation": 9}}).revision == "g9"
    dep = {"spec": {"template": {"spec": {"containers": [{"image": "shop:1"}]}}}}
    dep2 = {"spec": {"template": {"spec": {"containers": [{"image": "shop:2"}]}}}}
    assert builders.pod_template_hash(dep) != builders.pod_template_hash(dep2)


def test_login_profile_secrets_reach_generation_args_and_replay_pods() -> None:
    suite = TestSuiteSpec.model_validate(
        {
            "source": "shop",
            "authProfiles": [
                {
                    "name": "user",
                    "type": "login",
                    "usernameRef": {"name": "shop-login", "key": "username"},
                    "passwordRef": {"name": "shop-login", "key": "password"},
                },
                {
                    "name": "api",
                    "type": "static",
                    "headers": [{"name": "X-Api-Key", "secretKeyRef": {"name": "shop-api", "key": "api.key"}}],
                },
            ],
        }
    )
    args = builders.generate_args(owner("TestSuite", "checkout-suite"), suite, [])
    assert args[args.index("--login-username-secret") + 1] == "shop-login/username"
    assert args[args.index("--login-password-secret") + 1] == "shop-login/password"
    run = ReplayRunSpec.model_validate({"suite": "checkout-suite", "target": {"url": "http://shop-v2:8080"}})
    job = builders.replay_job(owner("ReplayRun", "r1"), run, RUNTIME, builders.replay_auth_env(suite))
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    # the names replay's resolve_value reads for ValueFrom(secret="name/key")
    assert env["TRODDEN_SECRET_SHOP_LOGIN_USERNAME"]["valueFrom"]["secretKeyRef"] == {
        "name": "shop-login",
        "key": "username",
    }
    assert env["TRODDEN_SECRET_SHOP_LOGIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    assert env["TRODDEN_SECRET_SHOP_API_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "shop-api", "key": "api.key"}
    plain = builders.replay_job(owner("ReplayRun", "r1"), run, RUNTIME)
    plain_env = plain["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not any(e["name"].startswith("TRODDEN_SECRET_") for e in plain_env)
