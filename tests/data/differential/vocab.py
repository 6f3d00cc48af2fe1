"""Spellings, names and small value makers shared by the differential record generator.

Everything takes a ``random.Random`` so that the generator stays deterministic for a seed.
"""

from __future__ import annotations

import random
from typing import Any

HEX = "0123456789abcdef"

# (as a person writes it in YAML, as Go's metav1.Duration writes it back)
DURATIONS = [
    ("1h", "1h0m0s"),
    ("1h0m0s", "1h0m0s"),
    ("60m", "1h0m0s"),
    ("90m", "1h30m0s"),
    ("1h30m", "1h30m0s"),
    ("2h", "2h0m0s"),
    ("30m", "30m0s"),
    ("10m", "10m0s"),
    ("5m30s", "5m30s"),
    ("45s", "45s"),
    ("3600s", "1h0m0s"),
    ("1.5h", "1h30m0s"),
    ("0s", "0s"),
    ("0", "0s"),
    ("15m0s", "15m0s"),
    ("24h", "24h0m0s"),
    ("500ms", "500ms"),
    ("2m", "2m0s"),
    ("1h5m", "1h5m0s"),
    ("120s", "2m0s"),
    ("20m", "20m0s"),
]

# (as written, as Kubernetes' resource.Quantity writes it back)
CPU = [
    ("0.5", "500m"),
    ("500m", "500m"),
    ("1", "1"),
    ("1000m", "1"),
    ("2", "2"),
    ("100m", "100m"),
    ("250m", "250m"),
    ("0.25", "250m"),
    ("1.5", "1500m"),
    ("0.1", "100m"),
    ("4", "4"),
    ("50m", "50m"),
]
MEMORY = [
    ("128Mi", "128Mi"),
    ("1024Mi", "1Gi"),
    ("1Gi", "1Gi"),
    ("512Mi", "512Mi"),
    ("2Gi", "2Gi"),
    ("1536Mi", "1536Mi"),
    ("1.5Gi", "1536Mi"),
    ("2048Mi", "2Gi"),
    ("500M", "500M"),
    ("1G", "1G"),
    ("1000M", "1G"),
    ("4096Mi", "4Gi"),
    ("128974848", "128974848"),
    ("129e6", "129e6"),
    ("100Ki", "100Ki"),
    ("8Gi", "8Gi"),
    ("256Mi", "256Mi"),
    ("64Mi", "64Mi"),
]
STORAGE = [("1Gi", "1Gi"), ("5Gi", "5Gi"), ("500Mi", "500Mi"), ("10Gi", "10Gi"), ("2048Mi", "2Gi")]

ORGS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne"]
APPS = [
    "storefront",
    "checkout",
    "payments-api",
    "inventory",
    "auth-service",
    "web-ui",
    "notifier",
    "search",
    "billing",
    "catalog",
    "gateway",
    "ledger",
    "reporting",
    "orders",
    "shipping",
]
NAMESPACES = ["ci", "build", "storefront-ci", "team-a", "team-b", "release", "tekton-builds", "dev"]
REGISTRIES = [
    "ghcr.io/{org}",
    "quay.io/{org}",
    "gcr.io/{org}-prod",
    "us-docker.pkg.dev/{org}-build/images",
    "registry.{org}.internal:5000/apps",
    "docker.io/{org}",
    "{org}",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{org}",
    "image-registry.openshift-image-registry.svc:5000/{org}",
    "localhost:5000",
]

# Step and sidecar images: (reference in the task, repository the kubelet reports in imageID).
TOOL_IMAGES = {
    "git": (
        "gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:v0.40.2",
        "gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init",
    ),
    "git2": ("cgr.dev/chainguard/git:latest", "cgr.dev/chainguard/git"),
    "buildah": ("quay.io/buildah/stable:v1.23.3", "quay.io/buildah/stable"),
    "kaniko": ("gcr.io/kaniko-project/executor:v1.9.0", "gcr.io/kaniko-project/executor"),
    "golang": ("golang:1.21", "docker.io/library/golang"),
    "golang2": ("docker.io/library/golang:1.22-alpine", "docker.io/library/golang"),
    "alpine": ("alpine:3.18", "docker.io/library/alpine"),
    "bash": ("docker.io/library/bash:5.2", "docker.io/library/bash"),
    "ubi": (
        "registry.access.redhat.com/ubi8/ubi-minimal:8.8",
        "registry.access.redhat.com/ubi8/ubi-minimal",
    ),
    "maven": ("docker.io/library/maven:3.9-eclipse-temurin-17", "docker.io/library/maven"),
    "node": ("node:20", "docker.io/library/node"),
    "python": ("python:3.12-slim", "docker.io/library/python"),
    "kubectl": ("bitnami/kubectl:1.28", "docker.io/bitnami/kubectl"),
    "helm": ("alpine/helm:3.13.1", "docker.io/alpine/helm"),
    "trivy": ("aquasec/trivy:0.45.1", "docker.io/aquasec/trivy"),
    "syft": ("anchore/syft:v0.93.0", "docker.io/anchore/syft"),
    "cosign": ("gcr.io/projectsigstore/cosign:v2.2.0", "gcr.io/projectsigstore/cosign"),
    "ko": ("ghcr.io/ko-build/ko:v0.15.0", "ghcr.io/ko-build/ko"),
    "curl": ("curlimages/curl:8.4.0", "docker.io/curlimages/curl"),
    "dind": ("docker:24-dind", "docker.io/library/docker"),
    "docker": ("docker:24", "docker.io/library/docker"),
    "postgres": ("postgres:16", "docker.io/library/postgres"),
    "redis": ("redis:7", "docker.io/library/redis"),
    "sonar": ("sonarsource/sonar-scanner-cli:5", "docker.io/sonarsource/sonar-scanner-cli"),
    "dotnet": ("mcr.microsoft.com/dotnet/sdk:8.0", "mcr.microsoft.com/dotnet/sdk"),
    "gradle": ("gradle:8.4-jdk17", "docker.io/library/gradle"),
    "yq": ("mikefarah/yq:4", "docker.io/mikefarah/yq"),
}


def hexs(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HEX) for _ in range(n))


def sha256(rng: random.Random) -> str:
    return "sha256:" + hexs(rng, 64)


def uid(rng: random.Random) -> str:
    h = hexs(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:32]}"


def suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def duration(rng: random.Random, canonical: bool) -> str:
    user, go = rng.choice(DURATIONS)
    return go if canonical else user


def quantity(rng: random.Random, table: list[tuple[str, str]], canonical: bool) -> Any:
    user, go = rng.choice(table)
    if canonical:
        return go
    if rng.random() < 0.08 and user.replace(".", "", 1).isdigit():
        # YAML `cpu: 1` or `cpu: 0.5` arrives as a JSON number.
        return float(user) if "." in user else int(user)
    return user


def resources(rng: random.Random, canonical: bool) -> dict[str, Any]:
    """A ResourceRequirements, sometimes empty, sometimes only limits or requests."""
    shape = rng.random()
    if shape < 0.1:
        return {}
    out: dict[str, Any] = {}
    if shape < 0.8:
        out["requests"] = {"cpu": quantity(rng, CPU, canonical)}
        if rng.random() < 0.8:
            out["requests"]["memory"] = quantity(rng, MEMORY, canonical)
    if shape > 0.4:
        out["limits"] = {"memory": quantity(rng, MEMORY, canonical)}
        if rng.random() < 0.5:
            out["limits"]["cpu"] = quantity(rng, CPU, canonical)
        if rng.random() < 0.05:
            out["limits"]["ephemeral-storage"] = quantity(rng, STORAGE, canonical)
    return out


def image_id(rng: random.Random, repo: str) -> str:
    """What the kubelet reports: containerd style, or docker's docker-pullable:// prefix."""
    digest = sha256(rng)
    if rng.random() < 0.25:
        return f"docker-pullable://{repo}@{digest}"
    return f"{repo}@{digest}"


def git_repo(rng: random.Random, org: str, app: str) -> str:
    host = rng.choice(
        ["github.com", "github.com", "gitlab.com", "git.acme.internal", "bitbucket.org"]
    )
    return f"https://{host}/{org}/{app}"


def timestamp(epoch: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_variant(rng: random.Random, epoch: int) -> str:
    """Mostly what the API server writes; rarely an offset or a fraction (hand-edited archives)."""
    import datetime as dt

    roll = rng.random()
    if roll < 0.03:
        tz = dt.timezone(dt.timedelta(hours=rng.choice([1, 2, -5, 5.5])))
        return dt.datetime.fromtimestamp(epoch, tz).isoformat()
    if roll < 0.05:
        base = dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{base}.{rng.randint(1, 999):03d}Z"
    return timestamp(epoch)


# Strings that exercise escaping: Go's encoding/json escapes <, >, & and U+2028/9 (HTML-safe);
# protojson and most Python encoders do not.
TRICKY_TEXT = [
    "Build & push <image>",
    "deploy to prod -> eu-west-1",
    "naïve résumé ✓",
    "line\u2028separator",
    "emoji 🚀 release",
    'quote "double" and \\ backslash',
    "tab\tand newline\nhere",
    "ctrl \u0001 char",
]
