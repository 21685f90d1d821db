"""The chart as rendered by helm: passwords that survive re-renders and any character, hardening,
the values schema, the PodDisruptionBudget, the image tag. (Installed for real: tests/e2e.)"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from trodden.cliutil import InputError
from trodden.operator.cli import dsn_with_password

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "trodden"
HELM = ROOT / ".cache" / "bin" / "helm"


def render(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), "helm is missing: `make operator-tools` builds .cache/bin/helm"
    return subprocess.run(
        [str(HELM), "template", "rel", str(CHART), "--namespace", "prod", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def objects(*args: str) -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(render(*args).stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container(objs: dict[tuple[str, str], dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = objs[(kind, name)]["spec"]["template"]["spec"]["containers"][0]
    return found


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_renders_are_identical_and_hold_no_password() -> None:
    """No `lookup`, no random value: what helm template (or Argo CD) renders never changes."""
    first, second = render().stdout, render().stdout
    assert first == second
    objs = objects()
    assert ("Secret", "rel-trodden-db") not in objs  # generated in the cluster, not rendered
    job = objs[("Job", "rel-trodden-db-password")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "rel-trodden-db"
    role = objs[("Role", "rel-trodden-db-password")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]
    operator = env(container(objs, "Deployment", "rel-trodden-operator"))
    assert operator["TRODDEN_DSN"] == "postgresql://trodden@rel-trodden-db.prod.svc:5432/trodden"
    assert operator["TRODDEN_DB_PASSWORD"] == {"secretKeyRef": {"name": "rel-trodden-db", "key": "password"}}
    postgres = env(container(objs, "StatefulSet", "rel-trodden-db"))
    assert postgres["POSTGRES_PASSWORD"] == {"secretKeyRef": {"name": "rel-trodden-db", "key": "password"}}


def test_a_given_password_with_any_characters_reaches_the_database_and_the_dsn() -> None:
    password = "p@ss:w/rd%#?&= x"
    objs = objects("--set-string", f"postgres.password={password}")
    assert objs[("Secret", "rel-trodden-db")]["stringData"]["password"] == password
    assert ("Job", "rel-trodden-db-password") not in objs
    operator = env(container(objs, "Deployment", "rel-trodden-operator"))
    dsn = dsn_with_password(operator["TRODDEN_DSN"], password)
    assert unquote(urlsplit(dsn).password or "") == password
    assert urlsplit(dsn).hostname == "rel-trodden-db.prod.svc" and urlsplit(dsn).path == "/trodden"


def test_existing_secret_is_used_and_nothing_is_generated() -> None:
    objs = objects("--set", "postgres.existingSecret=team-db", "--set", "postgres.passwordKey=pw")
    assert not [k for k in objs if k[0] == "Secret"]
    assert ("Job", "rel-trodden-db-password") not in objs
    ref = {"secretKeyRef": {"name": "team-db", "key": "pw"}}
    assert env(container(objs, "StatefulSet", "rel-trodden-db"))["POSTGRES_PASSWORD"] == ref
    assert env(container(objs, "Deployment", "rel-trodden-operator"))["TRODDEN_DB_PASSWORD"] == ref


def test_external_database() -> None:
    objs = objects("--set", "postgres.enabled=false", "--set", "externalDatabase.existingSecret=dsn")
    assert not [k for k in objs if k[1].startswith("rel-trodden-db")]
    operator = env(container(objs, "Deployment", "rel-trodden-operator"))
    assert operator["TRODDEN_DSN"] == {"secretKeyRef": {"name": "dsn", "key": "dsn"}}
    assert "TRODDEN_DB_PASSWORD" not in operator


def test_database_and_operator_containers_are_hardened() -> None:
    objs = objects()
    for kind, name, uid in (
        ("StatefulSet", "rel-trodden-db", 999),
        ("Deployment", "rel-trodden-operator", 10001),
        ("Job", "rel-trodden-db-password", 10001),
    ):
        pod = objs[(kind, name)]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        sc = pod["containers"][0]["securityContext"]
        assert sc == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, (kind, sc)
    db = objs[("StatefulSet", "rel-trodden-db")]["spec"]["template"]["spec"]
    assert db["automountServiceAccountToken"] is False
    mounts = {m["mountPath"] for m in db["containers"][0]["volumeMounts"]}
    assert mounts == {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"}


def test_image_tag_defaults_to_the_app_version() -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    operator = container(objects(), "Deployment", "rel-trodden-operator")
    assert operator["image"] == f"ghcr.io/trodden/trodden:{app_version}"
    assert env(operator)["TRODDEN_IMAGE"] == operator["image"]
    pinned = container(objects("--set", "image.tag=1.2.3"), "Deployment", "rel-trodden-operator")
    assert pinned["image"] == "ghcr.io/trodden/trodden:1.2.3"


def test_disruption_budget_only_with_several_replicas() -> None:
    assert not [k for k in objects() if k[0] == "PodDisruptionBudget"]
    pdb = objects("--set", "operator.replicas=3")[("PodDisruptionBudget", "rel-trodden-operator")]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    off = objects("--set", "operator.replicas=3", "--set", "operator.podDisruptionBudget.enabled=false")
    assert not [k for k in off if k[0] == "PodDisruptionBudget"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "operatr.replicas=2"), "Additional property operatr is not allowed"),
        (("--set", "postgres.user=Bad-User"), "postgres.user: Does not match pattern"),
        (("--set", "postgres.enabled=false"), "externalDatabase.existingSecret: String length must be greater"),
        (
            ("--set", "postgres.password=x", "--set", "postgres.existingSecret=y"),
            "postgres.existingSecret: String length must be less",
        ),
        (("--set", "image.pullPolicy=Sometimes"), "image.pullPolicy"),
    ],
)
def test_values_schema_refuses_mistakes_with_a_message(args: tuple[str, ...], message: str) -> None:
    result = render(*args, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("dsn", "error"),
    [
        ("postgresql://db.example:5432/x", "names no user"),
        ("postgresql://u:already@db/x", "already has a password"),
        ("mysql://u@db/x", "postgresql://USER@HOST"),
    ],
)
def test_dsn_with_password_refuses_ambiguous_dsns(dsn: str, error: str) -> None:
    with pytest.raises(InputError, match=error):
        dsn_with_password(dsn, "pw")


def test_dsn_with_password_keeps_the_rest() -> None:
    dsn = dsn_with_password("postgresql://u@db:6543/x?sslmode=require", "a b/c@d")
    assert dsn == "postgresql://u:a%20b%2Fc%40d@db:6543/x?sslmode=require"
