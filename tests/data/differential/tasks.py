"""Tekton Tasks the generated pipelines run, modelled on the Tekton catalog (git-clone, buildah,
kaniko, golang-build, trivy, syft, ...), each with the results and type hints such a task emits.

A :class:`TaskDef` holds the TaskSpec as a person writes it, which parameter wants which value
(``want``: resolved by the pipeline builder), and ``produce``, which returns the results a run
of the task reports for given parameter values.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hints
from vocab import TOOL_IMAGES, TRICKY_TEXT, duration, hexs, resources


@dataclass
class Produced:
    results: list[dict[str, Any]] = field(default_factory=list)
    step_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class TaskDef:
    name: str
    role: str
    spec: dict[str, Any]
    # Per parameter name: the value it wants ("git-url", "image", "image-ref", ...).
    wants: dict[str, str]
    produce: Callable[[random.Random, dict[str, Any]], Produced]
    # step name (or "unnamed-<i>") -> repository that the kubelet reports in imageID
    step_repos: list[str]
    sidecar_repos: list[str] = field(default_factory=list)
    # remote StepActions: step index -> refSource the step ran
    step_refs: dict[int, dict[str, Any]] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)


def _str(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"name": name, "type": "array", "value": value}
    if isinstance(value, dict):
        return {"name": name, "type": "object", "value": value}
    return {"name": name, "type": "string", "value": value}


def _param(
    name: str,
    default: Any = None,
    *,
    kind: str | None = None,
    desc: str = "",
    rng: random.Random | None = None,
) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name}
    if kind or (rng and rng.random() < 0.6):
        p["type"] = kind or (
            "array"
            if isinstance(default, list)
            else "object"
            if isinstance(default, dict)
            else "string"
        )
    if desc:
        p["description"] = desc
    if default is not None:
        p["default"] = default
    return p


def _step(
    rng: random.Random,
    name: str | None,
    tool: str,
    env: Env,
    *,
    script: str | None = None,
    command: list[str] | None = None,
    args: list[str] | None = None,
) -> tuple[dict[str, Any], str]:
    image, repo = TOOL_IMAGES[tool]
    s: dict[str, Any] = {}
    if name is not None:
        s["name"] = name
    s["image"] = image
    if script is not None:
        s["script"] = script
    if command:
        s["command"] = command
    if args:
        s["args"] = args
    if rng.random() < 0.3:
        s["workingDir"] = rng.choice(["$(workspaces.source.path)", "/workspace/source", "/tmp"])
    if rng.random() < 0.25:
        s["env"] = [{"name": "HOME", "value": "/tekton/home"}]
        if rng.random() < 0.3:
            s["env"].append(
                {
                    "name": "TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": "ci-token", "key": "token"}},
                }
            )
        if rng.random() < 0.2:
            s["env"].append({"name": "NOTE", "value": rng.choice(TRICKY_TEXT)})
    if rng.random() < env.p_step_resources:
        s["computeResources"] = resources(rng, env.canonical)
        env.tags.add("step-computeResources")
    if rng.random() < 0.1:
        s["securityContext"] = rng.choice(
            [
                {"runAsUser": 0},
                {"privileged": True},
                {"runAsNonRoot": True, "runAsUser": 65532, "allowPrivilegeEscalation": False},
                {"capabilities": {"add": ["SETFCAP"]}},
            ]
        )
        env.tags.add("step-securityContext")
    if rng.random() < 0.05:
        s["timeout"] = duration(rng, env.canonical)
        env.tags.add("step-timeout")
    if rng.random() < 0.05:
        s["onError"] = "continue"
    if rng.random() < 0.05:
        s["imagePullPolicy"] = "IfNotPresent"
    return s, repo


@dataclass
class Env:
    """What a task is built for: who, which repository, and how people write things there."""

    org: str
    app: str
    registry: str
    canonical: bool  # spellings as Go writes them back (durations, quantities)
    tags: set[str]
    p_step_resources: float = 0.15
    p_step_results: float = 0.2


def strip_tag(ref: str) -> str:
    """``repo[:tag][@digest]`` -> ``repo`` (a port in the host is kept)."""
    ref = ref.split("@")[0]
    head, _, last = ref.rpartition("/")
    if ":" in last:
        last = last.split(":")[0]
    return f"{head}/{last}" if head else last


def _named(rng: random.Random, name: str) -> str | None:
    """Rarely a step has no name; Tekton then calls it unnamed-<index>."""
    return None if rng.random() < 0.04 else name


def git_clone(rng: random.Random, env: Env) -> TaskDef:
    chains_results = rng.random() < 0.35
    step_results = rng.random() < env.p_step_results
    tags = env.tags
    params = [
        _param("url", kind="string", desc="Repository URL to clone from."),
        _param(
            "revision", "", desc="Revision to checkout. (branch, tag, sha, ref, etc...)", rng=rng
        ),
        _param("refspec", "", rng=rng),
        _param("submodules", "true", rng=rng),
        _param("depth", "1", rng=rng),
        *(
            [{"name": "mode", "type": "string", "enum": ["fast", "full"], "default": "fast"}]
            if rng.random() < 0.05
            else []
        ),
        _param("sslVerify", "true", rng=rng),
        _param("subdirectory", "", rng=rng),
        _param("deleteExisting", "true", rng=rng),
        _param("userHome", "/home/git", rng=rng),
    ]
    if rng.random() < 0.3:
        params.append(_param("CHAINS-GIT_URL", "", rng=rng))
        tags.add("param-default-empty")
    results: list[dict[str, Any]] = [
        {"name": "commit", "description": "The precise commit SHA that was fetched by this Task."},
        {"name": "url", "description": "The precise URL that was fetched by this Task."},
        {
            "name": "committer-date",
            "description": "The epoch timestamp of the commit that was fetched by this Task.",
        },
    ]
    if chains_results:
        results += [
            {"name": "CHAINS-GIT_URL", "type": "string"},
            {"name": "CHAINS-GIT_COMMIT", "type": "string"},
        ]
    script = (
        "#!/usr/bin/env sh\nset -eu\n"
        'CHECKOUT_DIR="$(workspaces.output.path)/$(params.subdirectory)"\n'
        '/ko-app/git-init -url="$(params.url)" -revision="$(params.revision)" -refspec="$(params.refspec)" '
        '-path="${CHECKOUT_DIR}" -sslVerify="$(params.sslVerify)" -submodules="$(params.submodules)" -depth="$(params.depth)"\n'
        'cd "${CHECKOUT_DIR}"\nRESULT_SHA="$(git rev-parse HEAD)"\n'
        'printf "%s" "${RESULT_SHA}" > "$(results.commit.path)"\nprintf "%s" "$(params.url)" > "$(results.url.path)"\n'
    )
    step, repo = _step(rng, "clone", rng.choice(["git", "git2"]), env, script=script)
    if step_results:
        tags.add("step-results")
        step["results"] = [{"name": "commit"}, {"name": "url"}]
        if rng.random() < 0.5:  # task results taken from the step's results
            results[0]["value"] = "$(steps.clone.results.commit)"
            results[1]["value"] = "$(steps.clone.results.url)"
            results[0]["type"] = results[1]["type"] = "string"
            tags.add("task-result-value-from-step")
        if rng.random() < 0.5:
            step["results"] += [{"name": "CHAINS-GIT_URL"}, {"name": "CHAINS-GIT_COMMIT"}]
    spec: dict[str, Any] = {
        "description": "These Tasks are Git tasks to work with repositories used by other tasks in your Pipeline.",
        "params": params,
        "results": results,
        "steps": [step],
        "workspaces": [
            {
                "name": "output",
                "description": "The git repo will be cloned onto the volume backing this Workspace.",
            },
            {"name": "ssh-directory", "optional": True},
            {"name": "basic-auth", "optional": True},
        ],
    }
    if rng.random() < 0.2:
        spec["stepTemplate"] = {"env": [{"name": "HOME", "value": "$(params.userHome)"}]}
        if rng.random() < 0.4:
            spec["stepTemplate"]["computeResources"] = resources(rng, env.canonical)
        tags.add("stepTemplate")

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        commit = hints.git_commit(rng, tags)
        out = Produced(
            results=[
                _str("commit", commit),
                _str("url", p.get("url", "")),
                _str("committer-date", str(rng.randint(1_700_000_000, 1_790_000_000))),
            ]
        )
        if chains_results:
            url = p.get("url", "")
            if rng.random() < 0.06:
                url = ""
                tags.add("chains-git-url-empty")
            out.results += [_str("CHAINS-GIT_URL", url), _str("CHAINS-GIT_COMMIT", commit)]
        if step_results:
            sr = [_str("commit", commit), _str("url", p.get("url", ""))]
            if any(r["name"] == "CHAINS-GIT_URL" for r in step["results"]):
                roll = rng.random()
                if roll < 0.15:
                    sr.append(_str("CHAINS-GIT_COMMIT", commit))  # URL missing: git+.git
                    tags.add("step-chains-git-commit-without-url")
                elif roll < 0.25:
                    sr += [_str("CHAINS-GIT_URL", ""), _str("CHAINS-GIT_COMMIT", commit)]
                    tags.add("step-chains-git-url-empty")
                else:
                    sr += [
                        _str("CHAINS-GIT_URL", p.get("url", "")),
                        _str("CHAINS-GIT_COMMIT", commit),
                    ]
            out.step_results["clone"] = sr
        return out

    return TaskDef(
        "git-clone", "clone", spec, {"url": "git-url", "revision": "revision"}, produce, [repo]
    )


def image_build(rng: random.Random, env: Env) -> TaskDef:
    tool = rng.choice(["buildah", "kaniko", "ko", "docker"])
    tags = env.tags
    hint_style = rng.choices(
        ["pair", "prefixed-pair", "images", "multi-pair", "pair+images", "step"],
        weights=[40, 15, 12, 8, 5, 8 if env.p_step_results else 0],
    )[0]
    tags.add(f"image-hint-{hint_style}")
    params = [
        _param("IMAGE", kind="string", desc="Reference of the image the task will produce."),
        _param("DOCKERFILE", "./Dockerfile", rng=rng),
        _param("CONTEXT", ".", rng=rng),
        _param("BUILD_ARGS", [], kind="array", desc="Dockerfile build arguments"),
        _param("TLSVERIFY", "true", rng=rng),
        _param("SKIP_PUSH", "false", rng=rng),
    ]
    if rng.random() < 0.5:
        params += [
            _param("CHAINS-GIT_URL", kind="string"),
            _param("CHAINS-GIT_COMMIT", kind="string"),
        ]
    if rng.random() < 0.15:
        params.append(_param("EXTRA_ARGS", [], kind="array"))
        tags.add("param-default-empty-array")
    if rng.random() < 0.1:
        params.append(
            {
                "name": "LABELS",
                "type": "object",
                "properties": {"team": {"type": "string"}, "tier": {"type": "string"}},
                "default": {"team": env.org, "tier": "backend"},
            }
        )
        tags.add("param-object-default")
    results: list[dict[str, Any]] = []
    markers: list[str] = []
    if hint_style in ("pair", "pair+images", "step"):
        markers = [""]
    elif hint_style == "prefixed-pair":
        markers = [rng.choice(["app-", "first-image-", "APP_", "web"])]
    elif hint_style == "multi-pair":
        markers = rng.sample(["api-", "worker-", "web-", "migrations-"], rng.randint(2, 3))
        tags.add("nondeterministic-candidate")
    if hint_style != "step":
        for m in markers:
            results += [
                {"name": f"{m}IMAGE_DIGEST", "description": "Digest of the image just built."},
                {"name": f"{m}IMAGE_URL", "description": "URL of the image just built."},
            ]
    if hint_style in ("images", "pair+images"):
        results.append({"name": "IMAGES", "type": "string"})
    steps = []
    repos = []
    if tool == "kaniko":
        s, r = _step(
            rng,
            _named(rng, "build-and-push"),
            "kaniko",
            env,
            args=[
                "--dockerfile=$(params.DOCKERFILE)",
                "--context=$(workspaces.source.path)/$(params.CONTEXT)",
                "--destination=$(params.IMAGE)",
                "--digest-file=$(results.IMAGE_DIGEST.path)",
            ],
        )
        steps.append(s)
        repos.append(r)
        s, r = _step(
            rng,
            _named(rng, "write-url"),
            "bash",
            env,
            script='set -e\nimage="$(params.IMAGE)"\necho -n "${image}" | tee "$(results.IMAGE_URL.path)"\n',
        )
        steps.append(s)
        repos.append(r)
    else:
        s, r = _step(
            rng,
            _named(rng, "build"),
            tool if tool != "docker" else "docker",
            env,
            script=f"{tool} build -f $(params.DOCKERFILE) -t $(params.IMAGE) $(params.CONTEXT)\n",
        )
        if tool == "buildah" and rng.random() < 0.5:
            s["securityContext"] = {"privileged": True}
            s["volumeMounts"] = [{"name": "varlibcontainers", "mountPath": "/var/lib/containers"}]
        steps.append(s)
        repos.append(r)
        s, r = _step(
            rng,
            _named(rng, "push"),
            tool if tool != "docker" else "docker",
            env,
            command=[tool] if tool != "docker" else ["docker"],
            args=["push", "$(params.IMAGE)", "--digestfile", "/tmp/digest"],
        )
        steps.append(s)
        repos.append(r)
    if hint_style == "step":
        tags.add("step-results")
        steps[-1]["results"] = [{"name": "IMAGE_URL"}, {"name": "IMAGE_DIGEST"}]
    spec: dict[str, Any] = {
        "description": f"Build a container image with {tool} and push it to a registry.",
        "params": params,
        "results": results,
        "steps": steps,
        "workspaces": [{"name": "source"}, {"name": "dockerconfig", "optional": True}],
    }
    sidecar_repos = []
    if tool == "docker":
        spec["sidecars"] = [
            {
                "name": "server",
                "image": TOOL_IMAGES["dind"][0],
                "securityContext": {"privileged": True},
                "volumeMounts": [{"name": "dind-certs", "mountPath": "/certs/client"}],
            }
        ]
        if rng.random() < 0.5:
            spec["sidecars"][0]["computeResources"] = resources(rng, env.canonical)
        sidecar_repos.append(TOOL_IMAGES["dind"][1])
        spec["volumes"] = [{"name": "dind-certs", "emptyDir": {}}]
        tags.add("sidecar")
    elif tool == "buildah":
        spec["volumes"] = [{"name": "varlibcontainers", "emptyDir": {}}]

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        repo = strip_tag(str(p.get("IMAGE") or f"{env.registry}/{env.app}"))
        out = Produced()
        if hint_style == "step":
            out.step_results[steps[-1].get("name", f"unnamed-{len(steps) - 1}")] = [
                _str("IMAGE_URL", hints.image_url(rng, repo, tags)),
                _str("IMAGE_DIGEST", hints.image_digest(rng, tags)),
            ]
            return out
        for m in markers:
            r = (
                repo
                if m in ("", "app-", "first-image-", "APP_", "web")
                else f"{repo}-{m.rstrip('-')}"
            )
            out.results.append(_str(f"{m}IMAGE_DIGEST", hints.image_digest(rng, tags)))
            out.results.append(_str(f"{m}IMAGE_URL", hints.image_url(rng, r, tags)))
        if hint_style in ("images", "pair+images"):
            extra = [repo] + [
                f"{repo}-{x}"
                for x in rng.sample(["debug", "slim", "arm64", "tools"], rng.randint(0, 3))
            ]
            out.results.append(_str("IMAGES", hints.images_value(rng, extra, tags)))
        rng.shuffle(out.results) if rng.random() < 0.3 else None
        return out

    wants = {"IMAGE": "image"}
    if any(p["name"] == "CHAINS-GIT_URL" for p in params):
        wants |= {"CHAINS-GIT_URL": "chains-git-url", "CHAINS-GIT_COMMIT": "chains-git-commit"}
    return TaskDef(
        tool if tool != "docker" else "docker-build",
        "build-image",
        spec,
        wants,
        produce,
        repos,
        sidecar_repos,
    )


def binary_build(rng: random.Random, env: Env) -> TaskDef:
    tool = rng.choice(["golang", "golang2", "maven", "node", "gradle", "dotnet", "python"])
    tags = env.tags
    style = rng.choices(
        ["uri-pair", "outputs", "outputs-build", "step-outputs", "none"],
        weights=[30, 20, 25, 10, 15],
    )[0]
    tags.add(f"artifact-hint-{style}")
    name = rng.choice(["bin", "cli", "server", "lib", "dist"])
    results: list[dict[str, Any]] = []
    if style == "uri-pair":
        results = [{"name": f"{name}-ARTIFACT_URI"}, {"name": f"{name}-ARTIFACT_DIGEST"}]
        if rng.random() < 0.3:
            results = [{"name": "ARTIFACT_URI"}, {"name": "ARTIFACT_DIGEST"}]
    elif style in ("outputs", "outputs-build"):
        results = [
            {
                "name": f"{name}-ARTIFACT_OUTPUTS",
                "type": "object",
                "properties": {
                    "uri": {"type": "string"},
                    "digest": {"type": "string"},
                    "isBuildArtifact": {"type": "string"},
                },
                "description": "The built artifact",
            }
        ]
    if rng.random() < 0.4:
        results.append({"name": "version", "type": "string"})
    params = [
        _param("package", kind="string"),
        _param("version", rng.choice(["1.21", "17", "20", "8.0"]), rng=rng),
        _param("flags", "-v", rng=rng),
        _param("GOOS", "linux", rng=rng),
        _param("GOARCH", "amd64", rng=rng),
    ]
    s, r = _step(
        rng,
        _named(rng, "build"),
        tool,
        env,
        script=f"#!/bin/sh\nset -ex\n{tool} build $(params.flags) -o /workspace/out $(params.package)\n"
        f"sha256sum /workspace/out | cut -d' ' -f1\n",
    )
    steps = [s]
    repos = [r]
    if style == "step-outputs":
        tags.add("step-results")
        s["results"] = [
            {
                "name": f"{name}-ARTIFACT_OUTPUTS",
                "type": "object",
                "properties": {"uri": {"type": "string"}, "digest": {"type": "string"}},
            }
        ]
    if rng.random() < 0.4:
        s2, r2 = _step(
            rng,
            _named(rng, "checksum"),
            "alpine",
            env,
            command=["sha256sum"],
            args=["/workspace/out"],
        )
        steps.append(s2)
        repos.append(r2)
    spec: dict[str, Any] = {"params": params, "steps": steps, "workspaces": [{"name": "source"}]}
    if results:
        spec["results"] = results
    if rng.random() < 0.3:
        spec["description"] = (
            rng.choice(TRICKY_TEXT) if rng.random() < 0.3 else f"Build the {name} with {tool}."
        )

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        out = Produced()
        uri = hints.artifact_uri(rng, env.org, env.app)
        if style == "uri-pair":
            out.results += [
                _str(results[0]["name"], uri),
                _str(results[1]["name"], hints.artifact_digest(rng, tags)),
            ]
        elif style in ("outputs", "outputs-build"):
            ouri = (
                uri
                if rng.random() < 0.5
                else rng.choice(hints.OUTPUT_URIS).format(registry=env.registry, app=env.app)
            )
            obj = hints.artifact_object(
                rng,
                ouri,
                tags,
                True if style == "outputs-build" else (None if rng.random() < 0.6 else False),
            )
            out.results.append(_str(results[0]["name"], obj))
        elif style == "step-outputs":
            ouri = rng.choice(hints.OUTPUT_URIS).format(registry=env.registry, app=env.app)
            obj = hints.artifact_object(rng, ouri, tags, rng.choice([True, None]))
            out.step_results[steps[0].get("name", "unnamed-0")] = [
                _str(f"{name}-ARTIFACT_OUTPUTS", obj)
            ]
        if any(r["name"] == "version" for r in results):
            out.results.append(
                _str("version", rng.choice(["1.4.2", "v2.0.0-rc.1", "0.0.0-dev+" + hexs(rng, 7)]))
            )
        return out

    return TaskDef(f"{tool.rstrip('2')}-build", "build-binary", spec, {}, produce, repos)


def test_task(rng: random.Random, env: Env) -> TaskDef:
    tool = rng.choice(["golang", "python", "node", "maven"])
    tags = env.tags
    results: list[dict[str, Any]] = []
    kinds = rng.sample(
        ["summary-object", "coverage", "failed-array", "report-url"], rng.randint(0, 3)
    )
    for k in kinds:
        if k == "summary-object":
            results.append(
                {
                    "name": "summary",
                    "type": "object",
                    "properties": {
                        "passed": {"type": "string"},
                        "failed": {"type": "string"},
                        "skipped": {"type": "string"},
                    },
                }
            )
        elif k == "coverage":
            results.append({"name": "coverage", "description": "Line coverage in percent"})
        elif k == "failed-array":
            results.append({"name": "failed-tests", "type": "array"})
        else:
            results.append({"name": "report-url", "type": "string"})
    steps = []
    repos = []
    n = rng.randint(1, 3)
    for i in range(n):
        s, r = _step(
            rng,
            _named(rng, ["unit", "integration", "lint", "vet"][i]),
            tool,
            env,
            script=f"#!/bin/sh\nset -e\nmake {['test', 'it', 'lint', 'vet'][i]}\n",
        )
        steps.append(s)
        repos.append(r)
    spec: dict[str, Any] = {"steps": steps}
    if results:
        spec["results"] = results
    if rng.random() < 0.5:
        spec["workspaces"] = [{"name": "source", "readOnly": rng.random() < 0.5}]
    if rng.random() < 0.3:
        spec["params"] = [
            _param("args", ["-race", "./..."], kind="array"),
            _param("verbose", "false", rng=rng),
        ]
    sidecar_repos = []
    if rng.random() < 0.2:
        tool_sc = rng.choice(["postgres", "redis"])
        spec["sidecars"] = [
            {
                "name": tool_sc,
                "image": TOOL_IMAGES[tool_sc][0],
                "env": [{"name": "POSTGRES_PASSWORD", "value": "test"}]
                if tool_sc == "postgres"
                else [],
            }
        ]
        if not spec["sidecars"][0]["env"]:
            del spec["sidecars"][0]["env"]
        sidecar_repos.append(TOOL_IMAGES[tool_sc][1])
        tags.add("sidecar")

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        out = Produced()
        for r in results:
            if r["name"] == "summary":
                out.results.append(
                    _str(
                        "summary",
                        {
                            "passed": str(rng.randint(10, 900)),
                            "failed": "0",
                            "skipped": str(rng.randint(0, 9)),
                        },
                    )
                )
            elif r["name"] == "coverage":
                out.results.append(_str("coverage", f"{rng.uniform(40, 99):.1f}"))
            elif r["name"] == "failed-tests":
                out.results.append(
                    _str("failed-tests", [] if rng.random() < 0.6 else ["TestFoo", "TestBar/sub"])
                )
            else:
                out.results.append(
                    _str(
                        "report-url", f"https://reports.{env.org}.dev/{env.app}/{hexs(rng, 8)}.html"
                    )
                )
        return out

    return TaskDef(f"{tool.rstrip('2')}-test", "test", spec, {}, produce, repos, sidecar_repos)


def scan_task(rng: random.Random, env: Env) -> TaskDef:
    tags = env.tags
    tool = rng.choice(["trivy", "syft", "cosign", "sonar"])
    results: list[dict[str, Any]] = []
    if tool in ("trivy", "cosign"):
        results.append(
            {
                "name": "scanned-ARTIFACT_INPUTS",
                "type": "object",
                "properties": {"uri": {"type": "string"}, "digest": {"type": "string"}},
            }
        )
    if tool == "syft":
        results.append(
            {
                "name": "sbom-ARTIFACT_OUTPUTS",
                "type": "object",
                "properties": {
                    "uri": {"type": "string"},
                    "digest": {"type": "string"},
                    "isBuildArtifact": {"type": "string"},
                },
            }
        )
    if tool == "trivy":
        results.append(
            {
                "name": "vulnerabilities",
                "type": "object",
                "properties": {"critical": {"type": "string"}, "high": {"type": "string"}},
            }
        )
    if tool == "sonar" and rng.random() < 0.5:
        results.append({"name": "source-ARTIFACT_INPUTS", "type": "object"})
    s, r = _step(
        rng,
        _named(rng, tool),
        tool,
        env,
        args=[tool, "$(params.IMAGE)"] if tool != "sonar" else None,
        script="sonar-scanner -Dsonar.projectKey=$(params.IMAGE)\n" if tool == "sonar" else None,
    )
    spec: dict[str, Any] = {"params": [_param("IMAGE", kind="string")], "steps": [s]}
    if results:
        spec["results"] = results
    if rng.random() < 0.3:
        spec["stepTemplate"] = {"computeResources": resources(rng, env.canonical)}
        tags.add("stepTemplate")

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        out = Produced()
        image = str(p.get("IMAGE", f"{env.registry}/{env.app}"))
        repo, _, digest = image.partition("@")
        for res in results:
            n = res["name"]
            if n.endswith("ARTIFACT_INPUTS"):
                if n.startswith("source"):
                    obj = {
                        "uri": f"git+https://github.com/{env.org}/{env.app}.git",
                        "digest": "sha1:" + hexs(rng, 40),
                    }
                else:
                    obj = hints.artifact_object(rng, repo, tags, None)
                    if digest and "digest" in obj:
                        obj["digest"] = digest
                out.results.append(_str(n, obj))
            elif n.endswith("ARTIFACT_OUTPUTS"):
                obj = hints.artifact_object(
                    rng,
                    f"{repo}.sbom" if rng.random() < 0.5 else f"{repo}:sha256-{hexs(rng, 64)}.sbom",
                    tags,
                    rng.choice([True, None, False]),
                )
                out.results.append(_str(n, obj))
            else:
                out.results.append(_str(n, {"critical": "0", "high": str(rng.randint(0, 4))}))
        return out

    return TaskDef(
        f"{tool}-scan" if tool != "cosign" else "cosign-sign",
        "scan",
        spec,
        {"IMAGE": "image-ref"},
        produce,
        [r],
    )


def deploy_task(rng: random.Random, env: Env) -> TaskDef:
    tool = rng.choice(["kubectl", "helm", "yq"])
    s, r = _step(
        rng,
        _named(rng, "deploy"),
        tool,
        env,
        script=f"#!/bin/sh\n{tool} apply --namespace $(params.namespace) -f deploy/ # image $(params.IMAGE)\n",
    )
    spec: dict[str, Any] = {
        "params": [
            _param("IMAGE", kind="string"),
            _param("namespace", rng.choice(["staging", "prod"]), rng=rng),
            _param("dry-run", "false", rng=rng),
        ],
        "steps": [s],
        "workspaces": [
            {
                "name": "manifests",
                "mountPath": "/workspace/manifests",
                "optional": rng.random() < 0.3,
            }
        ],
    }
    results = []
    if rng.random() < 0.5:
        results = [{"name": "revision", "type": "string"}]
        spec["results"] = results

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        return Produced([_str("revision", str(rng.randint(1, 300)))] if results else [])

    return TaskDef(f"{tool}-deploy", "deploy", spec, {"IMAGE": "image-ref"}, produce, [r])


def notify_task(rng: random.Random, env: Env) -> TaskDef:
    s, r = _step(
        rng,
        _named(rng, "post"),
        "curl",
        env,
        script='#!/bin/sh\ncurl -X POST -H "Content-Type: application/json" --data "{\\"text\\": \\"$(params.message)\\"}" $URL\n',
    )
    spec = {
        "params": [
            _param("message", kind="string"),
            _param("webhook-secret", "slack-webhook", rng=rng),
        ],
        "steps": [s],
    }
    return TaskDef(
        rng.choice(["send-to-webhook-slack", "notify", "github-set-status"]),
        "notify",
        spec,
        {"message": "message"},
        lambda rng, p: Produced(),
        [r],
    )


def stepaction_task(rng: random.Random, env: Env) -> TaskDef:
    """A Task whose steps reference StepActions, some remote (git resolver), some on the cluster."""
    tags = env.tags
    tags.add("stepaction")
    steps: list[dict[str, Any]] = []
    repos: list[str] = []
    refs: dict[int, dict[str, Any]] = {}
    for i in range(rng.randint(1, 3)):
        kind = rng.choice(["remote", "cluster", "plain"])
        if kind == "plain":
            s, r = _step(rng, f"prepare-{i}", "alpine", env, script="echo prepare\n")
        else:
            r = TOOL_IMAGES["git"][1]
            s = {"name": f"fetch-{i}"}
            if kind == "remote":
                s["ref"] = {
                    "resolver": "git",
                    "params": [
                        {"name": "url", "value": "https://github.com/tektoncd/catalog.git"},
                        {"name": "revision", "value": "main"},
                        {"name": "pathInRepo", "value": "stepaction/git-clone/0.1/git-clone.yaml"},
                    ],
                }
                refs[i] = {
                    "uri": "git+https://github.com/tektoncd/catalog.git",
                    "digest": {"sha1": hexs(rng, 40)},
                    "entryPoint": "stepaction/git-clone/0.1/git-clone.yaml",
                }
            else:
                s["ref"] = {"name": "git-clone"}
            s["params"] = [
                {"name": "URL", "value": "$(params.url)"},
                {"name": "OUTPUT_PATH", "value": "$(workspaces.source.path)"},
            ]
            if rng.random() < 0.5:
                s["results"] = [{"name": "CHAINS-GIT_URL"}, {"name": "CHAINS-GIT_COMMIT"}]
        steps.append(s)
        repos.append(r)
    spec = {
        "params": [_param("url", kind="string")],
        "steps": steps,
        "workspaces": [{"name": "source"}],
    }

    def produce(rng: random.Random, p: dict[str, Any]) -> Produced:
        out = Produced()
        for s in steps:
            if "results" in s:
                out.step_results[s["name"]] = [
                    _str("CHAINS-GIT_URL", p.get("url", "")),
                    _str("CHAINS-GIT_COMMIT", hexs(rng, 40)),
                ]
        return out

    return TaskDef(
        "fetch-sources", "clone", spec, {"url": "git-url"}, produce, repos, step_refs=refs
    )


BUILDERS: dict[str, Callable[[random.Random, Env], TaskDef]] = {
    "clone": git_clone,
    "build-image": image_build,
    "build-binary": binary_build,
    "test": test_task,
    "scan": scan_task,
    "deploy": deploy_task,
    "notify": notify_task,
    "stepaction": stepaction_task,
}


def make_task(role: str, rng: random.Random, env: Env) -> TaskDef:
    return BUILDERS[role](rng, env)
