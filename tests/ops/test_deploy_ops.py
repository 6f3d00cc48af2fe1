"""deploy/: the probes, metrics and logs of issue 15 as the manifests set them up."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_deploy import DEPLOY, deployments, find

PORTS = {"chainsweb-web": ("http", 8000), "chainsweb-worker": ("ops", 9090)}
PORTS["chainsweb-watcher"] = ("ops", 9090)


def container(name: str) -> dict[str, Any]:
    spec = deployments()[name]["spec"]["template"]["spec"]
    result: dict[str, Any] = spec["containers"][0]
    return result


@pytest.mark.parametrize("name", sorted(PORTS))
def test_liveness_is_healthz_and_readiness_is_readyz_on_the_processs_port(name: str) -> None:
    port_name, number = PORTS[name]
    c = container(name)
    assert {"name": port_name, "containerPort": number} in c["ports"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port_name}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port_name}
    annotations = deployments()[name]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(number)
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("name", sorted(PORTS))
def test_each_pod_has_its_own_multiprocess_metrics_folder(name: str) -> None:
    config = find("ConfigMap", "chainsweb-config")["data"]
    folder = config["PROMETHEUS_MULTIPROC_DIR"]
    spec = deployments()[name]["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in container(name)["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts[folder]]


def test_logs_are_json_and_ports_are_set() -> None:
    config = find("ConfigMap", "chainsweb-config")["data"]
    assert config["LOG_FORMAT"] == "json"
    assert config["OPS_HTTP_PORT"] == "9090"
    assert "127.0.0.0/8" in config["METRICS_ALLOWED_NETWORKS"]
    web = container("chainsweb-web")["command"]
    assert web[:3] == ["gunicorn", "-c", "python:chainsweb.gunicorn"]
    assert "--access-logfile" not in web  # chainsweb writes the access lines, as JSON
    assert "python:chainsweb.gunicorn" in (DEPLOY / "Containerfile").read_text()
