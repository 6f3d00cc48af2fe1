"""Values for Chains' type-hinted results, valid most of the time and invalid in the ways seen in
real pipelines (spec §6): wrong algorithm, upper-case hex, a digest already in the URL, a scheme
prefix, stray whitespace, names that Go's reference parser rejects."""

from __future__ import annotations

import random
from typing import Any

from vocab import hexs, sha256


def image_url(rng: random.Random, repo: str, tags: set[str]) -> str:
    roll = rng.random()
    if roll < 0.55:
        return repo
    if roll < 0.85:
        return f"{repo}:{rng.choice(['latest', 'v1.2.3', 'main', '2026.03.1', hexs(rng, 7)])}"
    tags.add("hint-image-url-odd")
    return rng.choice(
        [
            f"oci://{repo}",
            f"{repo}\n",
            f"  {repo}  ",
            f"{repo}@{sha256(rng)}",  # the digest twice: Go's parser rejects the pair
            repo.upper(),  # upper case repository: not a reference
            "pkg:oci/app",
            "",
            f"https://{repo}",
        ]
    )


def image_digest(rng: random.Random, tags: set[str]) -> str:
    roll = rng.random()
    if roll < 0.9:
        return sha256(rng) if rng.random() < 0.95 else sha256(rng) + "\n"
    tags.add("hint-image-digest-invalid")
    return rng.choice(
        [
            "sha512:" + hexs(rng, 128),
            "sha256:" + hexs(rng, 64).upper(),
            "sha256:" + hexs(rng, 40),
            hexs(rng, 64),
            "",
            "sha1:" + hexs(rng, 40),
        ]
    )


def images_value(rng: random.Random, repos: list[str], tags: set[str]) -> str:
    refs = []
    for repo in repos:
        ref = repo
        if rng.random() < 0.4:
            ref += ":" + rng.choice(["v1", "latest", "1.0.0"])
        ref += "@" + sha256(rng)
        refs.append(ref)
    if rng.random() < 0.15:
        tags.add("hint-images-invalid-entry")
        refs.insert(
            rng.randrange(len(refs) + 1),
            rng.choice([repos[0], "not a ref", repos[0] + "@sha512:" + hexs(rng, 128)]),
        )
    sep = rng.choice([",", ", ", "\n", ",\n"])
    value = sep.join(refs)
    if rng.random() < 0.2:
        value += "\n"
    return value


ARTIFACT_URIS = [
    "https://artifacts.{org}.dev/{app}/releases/v1.4.2/{app}-linux-amd64.tar.gz",
    "pkg:golang/github.com/{org}/{app}@v1.4.2",
    "gs://{org}-artifacts/{app}/{app}.tgz",
    "pkg:maven/com.{org}/{app}@1.0.0?type=jar",
    "pkg:npm/%40{org}/{app}@2.3.0",
    "s3://{org}-builds/{app}/build-{n}.zip",
    "pkg:pypi/{app}@0.9.1",
]


def artifact_uri(rng: random.Random, org: str, app: str) -> str:
    return rng.choice(ARTIFACT_URIS).format(org=org, app=app, n=rng.randint(100, 999))


def artifact_digest(rng: random.Random, tags: set[str]) -> str:
    roll = rng.random()
    if roll < 0.7:
        return sha256(rng)
    if roll < 0.78:
        return "sha1:" + hexs(rng, 40)
    if roll < 0.84:
        return "sha512:" + hexs(rng, 128)
    if roll < 0.88:
        return "sha384:" + hexs(rng, 96)
    tags.add("hint-artifact-digest-odd")
    return rng.choice(
        [
            "SHA256:" + hexs(rng, 64),  # accepted: the algorithm is lower-cased for the check only
            "md5:" + hexs(rng, 32),
            "sha256:" + hexs(rng, 63),
            "sha256:" + hexs(rng, 64).upper(),
            "sha256" + hexs(rng, 64),
            " sha256:" + hexs(rng, 64),
            "sha256:",
        ]
    )


OUTPUT_URIS = [
    "{registry}/{app}",
    "{registry}/{app}:v1.2.3",
    "{app}",
    "registry/{app}",
    "pkg:oci/{app}",
    "oci://{registry}/{app}",
    "docker.io/library/{app}",
    "localhost:5000/{app}",
    "{registry}/{app}-sbom",
    "Upper/{app}",
]


def artifact_object(
    rng: random.Random, uri: str, tags: set[str], build_artifact: bool | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "uri": uri,
        "digest": sha256(rng) if rng.random() < 0.85 else artifact_digest(rng, tags),
    }
    if build_artifact is not None:
        obj["isBuildArtifact"] = (
            rng.choice(["true"] * 8 + ["True", "yes"]) if build_artifact else "false"
        )
    if rng.random() < 0.08:
        tags.add("hint-artifact-object-invalid")
        broken = rng.choice(["no-digest", "empty-uri", "no-uri", "digest-no-colon", "sha256-key"])
        if broken == "no-digest":
            del obj["digest"]
        elif broken == "empty-uri":
            obj["uri"] = ""
        elif broken == "no-uri":
            del obj["uri"]
        elif broken == "digest-no-colon":
            obj["digest"] = hexs(rng, 64)
        else:
            obj["sha256"] = obj.pop("digest").removeprefix("sha256:")
    if rng.random() < 0.05:
        obj["note"] = "extra key"  # object results may carry more keys than the hint needs
    return obj


def git_commit(rng: random.Random, tags: set[str]) -> str:
    if rng.random() < 0.93:
        return hexs(rng, 40)
    tags.add("hint-git-commit-odd")
    return rng.choice(["main", "v1.2.3", hexs(rng, 7), "sha:" + hexs(rng, 12)])
