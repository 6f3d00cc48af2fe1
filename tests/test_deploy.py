"""deploy/: the manifests an operator applies are well-formed and least-privileged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
SECRET_ENV = {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"}


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == "Deployment"}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_every_document_has_the_basic_fields() -> None:
    docs = documents()
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name")
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == "chainsweb"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


def test_web_worker_and_watcher_run_the_right_commands() -> None:
    found = deployments()
    assert set(found) == {"chainsweb-web", "chainsweb-worker", "chainsweb-watcher"}
    web = found["chainsweb-web"]["spec"]["template"]["spec"]
    command = web["containers"][0]["command"]
    assert command[0] == "gunicorn" and "chainsweb.wsgi:application" in command
    assert web["initContainers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    worker = found["chainsweb-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"][:4] == ["celery", "-A", "chainsweb", "worker"]
    watcher = found["chainsweb-watcher"]
    assert watcher["spec"]["replicas"] == 1
    command = watcher["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["python", "manage.py", "watch_records"]


def test_selectors_match_pod_labels_and_the_service() -> None:
    for deployment in deployments().values():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    service = find("Service", "chainsweb")
    web = deployments()["chainsweb-web"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= web["metadata"]["labels"].items()
    port_names = {p["name"] for p in web["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_images_are_one_pinned_image() -> None:
    images = {c["image"] for d in deployments().values() for c in containers(d)}
    assert len(images) == 1
    (image,) = images
    assert ":" in image and not image.endswith(":latest")


@pytest.mark.parametrize("name", ["chainsweb-web", "chainsweb-worker", "chainsweb-watcher"])
def test_secrets_come_from_secret_refs_never_inline(name: str) -> None:
    for container in containers(deployments()[name]):
        env = {e["name"]: e for e in container.get("env", [])}
        assert set(env) >= SECRET_ENV, container["name"]
        for key in SECRET_ENV:
            assert "value" not in env[key]
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "chainsweb-secrets"
        refs = [r for r in container.get("envFrom", []) if "configMapRef" in r]
        assert refs == [{"configMapRef": {"name": "chainsweb-config"}}]


def test_no_secret_values_anywhere_in_the_folder() -> None:
    assert not [d for d in documents() if d["kind"] == "Secret"]
    config = find("ConfigMap", "chainsweb-config")["data"]
    assert not SECRET_ENV & set(config)
    text = "\n".join(p.read_text() for p in DEPLOY.rglob("*") if p.is_file())
    assert not re.search(r"(postgres|redis)s?://[^\s\"']*:[^\s\"'@]+@", text)
    assert "PRIVATE KEY" not in text


def test_watcher_role_allows_only_get_list_watch_on_tekton_runs() -> None:
    role = find("ClusterRole", "chainsweb-watcher")
    assert role["rules"] == [
        {
            "apiGroups": ["tekton.dev"],
            "resources": ["pipelineruns", "taskruns"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = find("ClusterRoleBinding", "chainsweb-watcher")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "chainsweb-watcher",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "chainsweb-watcher", "namespace": "chainsweb"}
    ]
    find("ServiceAccount", "chainsweb-watcher")
    pod = deployments()["chainsweb-watcher"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "chainsweb-watcher"
    # Nobody else gets a token for the cluster API.
    for name in ("chainsweb-web", "chainsweb-worker"):
        assert (
            deployments()[name]["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
        )


def test_only_the_worker_mounts_the_signing_keys_read_only() -> None:
    for name, deployment in deployments().items():
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mounts = [m for c in spec["containers"] for m in c.get("volumeMounts", [])]
        secrets = {n for n, v in volumes.items() if "secret" in v}
        keys = [m for m in mounts if m["name"] in secrets]
        if name == "chainsweb-worker":
            assert volumes["signing-keys"]["secret"]["secretName"] == "chainsweb-signing-keys"
            assert keys == [{"name": "signing-keys", "mountPath": "/keys", "readOnly": True}]
        else:
            assert not keys and not secrets


def test_web_and_worker_read_the_trust_bundle_read_only_from_a_configmap() -> None:
    """The web app verifies with the bundle, never with keys: it mounts the public keys only."""
    config = find("ConfigMap", "chainsweb-config")["data"]
    for name in ("chainsweb-web", "chainsweb-worker"):
        spec = deployments()[name]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["trusted-keys"] == {
            "name": "trusted-keys",
            "configMap": {"name": "chainsweb-trusted-keys"},
        }
        (container,) = spec["containers"]
        mounts = [m for m in container["volumeMounts"] if m["name"] == "trusted-keys"]
        assert mounts == [
            {"name": "trusted-keys", "mountPath": config["TRUSTED_KEYS_DIR"], "readOnly": True}
        ]


def test_containerfile_builds_the_app_image() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "pip install --no-cache-dir -r requirements.txt" in text
    assert "gunicorn" in text and "USER 10001" in text
    assert "COPY . ." not in text  # never the work tree (keys, venv, database)
    requirements = (DEPLOY.parent / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", requirements, re.M)


def test_prune_records_runs_daily_one_at_a_time_with_the_apps_image_and_no_keys() -> None:
    cron = find("CronJob", "chainsweb-prune-records")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False  # it needs no cluster API
    (job,) = pod["containers"]
    assert job["command"] == ["python", "manage.py", "prune_records"]
    (image,) = {c["image"] for d in deployments().values() for c in containers(d)}
    assert job["image"] == image
    env = {e["name"]: e for e in job["env"]}
    for key in SECRET_ENV:
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "chainsweb-secrets"
    assert job["envFrom"] == [{"configMapRef": {"name": "chainsweb-config"}}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert all("secret" not in v for v in volumes.values())  # no signing key
    folder = find("ConfigMap", "chainsweb-config")["data"]["PROMETHEUS_MULTIPROC_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in job["volumeMounts"]}
    assert "emptyDir" in volumes[mounts[folder]]
