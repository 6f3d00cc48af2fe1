"""Tekton v1 run records as ``kubectl get -o json`` prints them: PipelineRuns with their child
TaskRuns, and standalone TaskRuns.

Parts a person writes (a run's ``spec``, an inline ``pipelineSpec``/``taskSpec``) keep human
spellings (``timeout: 1h``, ``cpu: 0.5``) plus what Tekton's admission webhook adds. Parts the
Tekton controller writes (``status``, child TaskRuns) are, for most cases, what Go's encoder
writes (``1h0m0s``, ``500m``, ``computeResources: {}``, an embedded task's ``metadata: {}`` and
``spec: null``); the remaining cases look hand-made, as archives rebuilt by other tools do.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import tasks
from tasks import Env, TaskDef
from vocab import (
    APPS,
    CPU,
    DURATIONS,
    MEMORY,
    NAMESPACES,
    ORGS,
    REGISTRIES,
    STORAGE,
    TRICKY_TEXT,
    duration,
    git_repo,
    hexs,
    image_id,
    quantity,
    resources,
    sha256,
    suffix,
    timestamp,
    timestamp_variant,
    uid,
)

RESOLVERS = ["local", "git", "bundles", "http", "hub", "cluster"]
EPOCH0 = 1_767_600_000  # 2026-01-05


@dataclass
class Case:
    kind: str
    items: list[dict[str, Any]]
    tags: set[str] = field(default_factory=set)


# ---------------------------------------------------------------- references and refSources


def task_ref(
    rng: random.Random, name: str, resolver: str, env: Env, kind: str = "task"
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A taskRef/pipelineRef for ``resolver`` and the refSource Tekton records for it."""
    plural = "tasks" if kind == "task" else "pipelines"
    if resolver == "local":
        ref: dict[str, Any] = {"name": name}
        if kind == "task" and rng.random() < 0.5:
            ref["kind"] = "Task"
        return ref, None
    digests: dict[str, str]
    if resolver == "git":
        repo = rng.choice(
            [
                "https://github.com/tektoncd/catalog.git",
                f"https://github.com/{env.org}/pipelines.git",
                f"https://gitlab.com/{env.org}/tekton-{plural}",
            ]
        )
        path = f"{kind}/{name}/0.{rng.randint(1, 9)}/{name}.yaml"
        params = [
            {"name": "url", "value": repo},
            {"name": "revision", "value": rng.choice(["main", "v0.9", hexs(rng, 40)])},
            {"name": "pathInRepo", "value": path},
        ]
        if rng.random() < 0.2:
            params = [
                {"name": "scmType", "value": "github"},
                {"name": "org", "value": env.org},
                {"name": "repo", "value": "pipelines"},
                {"name": "revision", "value": "main"},
                {"name": "pathInRepo", "value": path},
            ]
            repo = f"https://github.com/{env.org}/pipelines"
        uri = repo if rng.random() < 0.3 else "git+" + repo.removesuffix(".git") + ".git"
        digests = {"sha1": hexs(rng, 40)}
        source = {"uri": uri, "digest": digests, "entryPoint": path}
    elif resolver == "bundles":
        bundle_repo = rng.choice(
            [
                f"gcr.io/tekton-releases/catalog/upstream/{name}",
                f"ghcr.io/{env.org}/tekton-bundles/{name}",
                f"quay.io/konflux-ci/tekton-catalog/{kind}-{name}",
            ]
        )
        digest = hexs(rng, 64)
        params = [
            {"name": "bundle", "value": f"{bundle_repo}:0.{rng.randint(1, 9)}@sha256:{digest}"},
            {"name": "name", "value": name},
            {"name": "kind", "value": kind},
        ]
        digests = {"sha256": digest}
        source = {"uri": bundle_repo, "digest": digests, "entryPoint": name}
    elif resolver == "http":
        url = (
            f"https://raw.githubusercontent.com/tektoncd/catalog/main/{kind}/{name}/0.9/{name}.yaml"
        )
        params = [{"name": "url", "value": url}]
        digests = {"sha256": hexs(rng, 64)}
        source = {"uri": url, "digest": digests}
    elif resolver == "hub":
        version = f"0.{rng.randint(1, 9)}"
        params = [
            {"name": "catalog", "value": "tekton-catalog-tasks"},
            {"name": "type", "value": "artifact"},
            {"name": "kind", "value": kind},
            {"name": "name", "value": name},
            {"name": "version", "value": version},
        ]
        if rng.random() < 0.4:
            params = params[2:]
        digests = {"sha256": hexs(rng, 64)}
        source = {
            "uri": f"https://artifacthub.io/api/v1/packages/tekton-{kind}/tekton-catalog-{plural}/{name}/{version}.0",
            "digest": digests,
        }
    else:  # cluster
        params = [
            {"name": "kind", "value": kind},
            {"name": "name", "value": name},
            {"name": "namespace", "value": "tekton-shared"},
        ]
        digests = {"sha256": hexs(rng, 64)}
        source = {
            "uri": f"/apis/tekton.dev/v1/namespaces/tekton-shared/{plural}/{name}@{uid(rng)}",
            "digest": digests,
        }
    if rng.random() < 0.04:
        digests["sha256" if "sha1" in digests else "sha1"] = hexs(
            rng, 64 if "sha1" in digests else 40
        )
        env.tags.add("refsource-multi-digest")
        env.tags.add("nondeterministic-candidate")
    if rng.random() < 0.03 and "entryPoint" in source:
        source["entryPoint"] = ""
    env.tags.add(f"resolver-{resolver}")
    return {"resolver": resolver, "params": params}, source


def feature_flags(rng: random.Random, canonical: bool) -> dict[str, Any]:
    flags: dict[str, Any] = {
        "enableAPIFields": rng.choice(["beta", "beta", "stable", "alpha"]),
        "resultExtractionMethod": rng.choice(
            ["termination-message", "termination-message", "sidecar-logs"]
        ),
        "maxResultSize": rng.choice([4096, 8192]),
        "coschedule": rng.choice(["workspaces", "pipelineruns", "disabled"]),
        "enforceNonfalsifiability": "none",
        "verificationNoMatchPolicy": "ignore",
        "enableProvenanceInStatus": True,
        "awaitSidecarReadiness": True,
        "enableStepActions": rng.random() < 0.7,
        "runningInEnvWithInjectedSidecars": True,
        "enableCELInWhenExpression": rng.random() < 0.2,
        "enableParamEnum": False,
        "enableArtifacts": rng.random() < 0.1,
        "disableCredsInit": False,
        "setSecurityContext": rng.random() < 0.2,
        "enableKeepPodOnCancel": False,
        "requireGitSSHSecretKnownHosts": False,
        "sendCloudEventsForRuns": False,
    }
    if rng.random() < 0.1:
        flags["disableInlineSpec"] = ""
    if canonical:
        flags = {k: v for k, v in flags.items() if v not in (False, "", 0)}
    return flags


# ---------------------------------------------------------------- workspaces, pod templates


def workspace_binding(rng: random.Random, name: str, env: Env, *, writable: bool) -> dict[str, Any]:
    b: dict[str, Any] = {"name": name}
    if writable:
        kind = rng.choice(["vct", "vct", "pvc", "emptyDir"])
    else:
        kind = rng.choice(["secret", "configMap", "emptyDir", "projected"])
    if kind == "vct":
        vct: dict[str, Any] = {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": quantity(rng, STORAGE, env.canonical)}},
            }
        }
        if rng.random() < 0.4:
            vct["metadata"] = {"creationTimestamp": None}
        if rng.random() < 0.3:
            vct["spec"]["storageClassName"] = rng.choice(["standard", "gp3", "ceph-rbd"])
        if rng.random() < 0.2:
            vct["status"] = {}
        b["volumeClaimTemplate"] = vct
        env.tags.add("workspace-volumeClaimTemplate")
    elif kind == "pvc":
        b["persistentVolumeClaim"] = {"claimName": f"{name}-pvc"}
        if rng.random() < 0.4:
            b["subPath"] = rng.choice(["$(context.pipelineRun.name)", "build", "cache/go"])
            env.tags.add("workspace-subPath")
    elif kind == "emptyDir":
        b["emptyDir"] = (
            {}
            if rng.random() < 0.8
            else {"medium": "Memory", "sizeLimit": quantity(rng, MEMORY, env.canonical)}
        )
    elif kind == "secret":
        b["secret"] = {
            "secretName": rng.choice(["regcred", "git-ssh", "ghcr-push", "docker-config"])
        }
        if rng.random() < 0.3:
            b["secret"]["defaultMode"] = rng.choice([420, 256, 0])
            env.tags.add("zero-or-int-pointer")
        if rng.random() < 0.2:
            b["secret"]["items"] = [{"key": ".dockerconfigjson", "path": "config.json"}]
    elif kind == "configMap":
        b["configMap"] = {"name": "build-config"}
        if rng.random() < 0.3:
            b["configMap"]["optional"] = False
    else:
        b["projected"] = {
            "sources": [{"secret": {"name": "regcred"}}, {"configMap": {"name": "ca-bundle"}}]
        }
    env.tags.add(f"workspace-{kind}")
    return b


def pod_template(rng: random.Random, env: Env) -> dict[str, Any]:
    t: dict[str, Any] = {}
    if rng.random() < 0.6:
        sc: dict[str, Any] = {}
        sc["runAsUser"] = rng.choice([0, 0, 1000, 65532, 1000680000])
        if rng.random() < 0.5:
            sc["runAsGroup"] = rng.choice([0, 1000])
        if rng.random() < 0.5:
            sc["fsGroup"] = rng.choice([0, 65532])
        if rng.random() < 0.3:
            sc["runAsNonRoot"] = rng.choice([False, True])
        if rng.random() < 0.15:
            sc["seccompProfile"] = {"type": "RuntimeDefault"}
        t["securityContext"] = sc
        if 0 in sc.values() or False in sc.values():
            env.tags.add("zero-or-int-pointer")
    if rng.random() < 0.3:
        t["nodeSelector"] = {
            "kubernetes.io/arch": rng.choice(["amd64", "arm64"]),
            "node-role.kubernetes.io/ci": "",
        }
    if rng.random() < 0.3:
        t["tolerations"] = [{"key": "ci", "operator": "Exists", "effect": "NoSchedule"}]
        if rng.random() < 0.3:
            t["tolerations"].append(
                {
                    "key": "spot",
                    "operator": "Equal",
                    "value": "true",
                    "effect": "NoExecute",
                    "tolerationSeconds": rng.choice([0, 300]),
                }
            )
    if rng.random() < 0.3:
        t["imagePullSecrets"] = [{"name": "regcred"}]
    if rng.random() < 0.15:
        t["hostNetwork"] = False
    if rng.random() < 0.15:
        t["enableServiceLinks"] = False
        env.tags.add("zero-or-int-pointer")
    if rng.random() < 0.15:
        t["automountServiceAccountToken"] = False
    if rng.random() < 0.15:
        t["priorityClassName"] = "ci-low"
    if rng.random() < 0.1:
        t["schedulerName"] = "default-scheduler"
    if rng.random() < 0.1:
        t["env"] = [{"name": "HTTP_PROXY", "value": "http://proxy.internal:3128"}]
    if rng.random() < 0.08:
        t["dnsPolicy"] = "ClusterFirst"
    if rng.random() < 0.05:
        t["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ci"]}]}
                    ]
                }
            }
        }
    if t:
        env.tags.add("podTemplate")
    return t


# ---------------------------------------------------------------- the Go encoder's marks


def go_marks(spec: dict[str, Any], *, embedded: bool) -> dict[str, Any]:
    """What Go's encoder adds to a TaskSpec it writes: ``computeResources: {}`` on steps,
    sidecars and stepTemplate; for a pipeline's embedded task, ``metadata: {}``/``spec: null``."""
    spec = copy.deepcopy(spec)
    for key in ("steps", "sidecars"):
        for c in spec.get(key, []):
            c.setdefault("computeResources", {})
    if "stepTemplate" in spec:
        spec["stepTemplate"].setdefault("computeResources", {})
    for r in spec.get("results", []):
        r.setdefault("type", "string")
    for p in spec.get("params", []):
        p.setdefault(
            "type",
            "array"
            if isinstance(p.get("default"), list)
            else "object"
            if isinstance(p.get("default"), dict)
            else "string",
        )
    if embedded:
        spec.setdefault("metadata", {})
        spec["spec"] = None
    return spec


def canonical_spellings(value: Any, rng: random.Random) -> Any:
    """Rewrite known human spellings into Go's (durations, quantities) in a controller-written copy."""
    table = {u: g for u, g in CPU + MEMORY + STORAGE}
    durations = dict(DURATIONS)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if (
                k in ("timeout", "pipeline", "tasks", "finally")
                and isinstance(v, str)
                and v in durations
            ):
                out[k] = durations[v]
            elif k in (
                "cpu",
                "memory",
                "storage",
                "ephemeral-storage",
                "sizeLimit",
            ) and not isinstance(v, dict):
                out[k] = table.get(str(v), str(v)) if not isinstance(v, bool) else v
            else:
                out[k] = canonical_spellings(v, rng)
        return out
    if isinstance(value, list):
        return [canonical_spellings(v, rng) for v in value]
    return value


# ---------------------------------------------------------------- substitution


def substitute(value: Any, params: dict[str, Any]) -> Any:
    """Tekton's variable replacement in a TaskSpec, enough for status.taskSpec."""
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            v = params.get(m.group(1))
            return v if isinstance(v, str) else m.group(0)

        value = re.sub(r"\$\(params\.([A-Za-z0-9_.-]+)\)", repl, value)
        value = re.sub(r"\$\(results\.([A-Za-z0-9_-]+)\.path\)", r"/tekton/results/\1", value)
        value = re.sub(r"\$\(workspaces\.([A-Za-z0-9_-]+)\.path\)", r"/workspace/\1", value)
        return value
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            m = (
                re.fullmatch(r"\$\(params\.([A-Za-z0-9_-]+)\[\*\]\)", v)
                if isinstance(v, str)
                else None
            )
            if m and isinstance(params.get(m.group(1)), list):
                out.extend(params[m.group(1)])
            else:
                out.append(substitute(v, params))
        return out
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- one TaskRun's status


@dataclass
class Timing:
    start: int | None
    end: int | None


def condition(status: str, reason: str, message: str, at: int) -> dict[str, Any]:
    return {
        "type": "Succeeded",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(at),
    }


def taskrun_status(
    rng: random.Random,
    td: TaskDef,
    params: dict[str, Any],
    name: str,
    timing: Timing,
    outcome: str,
    env: Env,
    *,
    ref_source: dict[str, Any] | None,
    resolved_spec: dict[str, Any],
    flags: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The status block and the results (task level) of a TaskRun with this outcome:
    ``succeeded``, ``failed``, ``failed-early`` (no pod), ``cancelled``, ``timeout``, ``running``."""
    produced = td.produce(rng, params)
    steps_spec = resolved_spec.get("steps", [])
    status: dict[str, Any] = {"podName": f"{name}-pod"}
    start = timing.start if timing.start is not None else EPOCH0
    end = timing.end if timing.end is not None else start + 60
    if outcome == "running":
        status["conditions"] = [
            condition(
                "Unknown", "Running", "Not all Steps in the Task have finished executing", start + 5
            )
        ]
    elif outcome == "succeeded":
        status["conditions"] = [
            condition("True", "Succeeded", "All Steps have completed executing", end)
        ]
    elif outcome in ("failed", "failed-early"):
        msg = (
            '"step-build" exited with code 1'
            if outcome == "failed"
            else 'the step "build" in TaskRun "x" failed to pull the image "". The pod errored with the message: "Back-off pulling image"'
        )
        status["conditions"] = [
            condition(
                "False", "Failed" if outcome == "failed" else "TaskRunImagePullFailed", msg, end
            )
        ]
    elif outcome == "cancelled":
        status["conditions"] = [
            condition("False", "TaskRunCancelled", f'TaskRun "{name}" was cancelled. ', end)
        ]
    else:
        status["conditions"] = [
            condition(
                "False", "TaskRunTimeout", f'TaskRun "{name}" failed to finish within "1h0m0s"', end
            )
        ]
    if timing.start is not None:
        status["startTime"] = timestamp_variant(rng, timing.start)
    if outcome != "running" and timing.end is not None:
        status["completionTime"] = timestamp_variant(rng, timing.end)
    step_states = []
    if outcome != "failed-early":
        failed_at = rng.randrange(len(steps_spec)) if outcome == "failed" and steps_spec else None
        t = start + 2
        for i, s in enumerate(steps_spec):
            sname = s.get("name") or f"unnamed-{i}"
            repo = td.step_repos[i] if i < len(td.step_repos) else td.step_repos[-1]
            st: dict[str, Any] = {
                "name": sname,
                "container": f"step-{sname}",
                "imageID": image_id(rng, repo),
            }
            d = rng.randint(1, 90)
            if outcome == "running" and i >= len(steps_spec) // 2:
                st["running"] = {"startedAt": timestamp(t)}
            else:
                code, reason = 0, "Completed"
                if failed_at is not None and i == failed_at:
                    code, reason = 1, "Error"
                elif failed_at is not None and i > failed_at:
                    code, reason = 1, "Skipped" if rng.random() < 0.5 else "Error"
                elif outcome in ("cancelled", "timeout") and i >= len(steps_spec) // 2:
                    code, reason = (
                        1,
                        "TaskRunCancelled" if outcome == "cancelled" else "TaskRunTimeout",
                    )
                term: dict[str, Any] = {
                    "containerID": f"containerd://{hexs(rng, 64)}",
                    "exitCode": code,
                    "finishedAt": timestamp(t + d),
                    "reason": reason,
                    "startedAt": timestamp(t),
                }
                if rng.random() < 0.2 and code == 0:
                    term["message"] = json.dumps(
                        [{"key": "StartedAt", "value": timestamp(t), "type": 3}]
                    )
                st["terminated"] = term
                st["terminationReason"] = reason
            if sname in produced.step_results and outcome == "succeeded":
                st["results"] = produced.step_results[sname]
            if i in td.step_refs:
                st["provenance"] = {"refSource": td.step_refs[i]}
            step_states.append(st)
            t += d
        if outcome == "failed" and rng.random() < 0.05 and step_states:
            step_states.pop()  # a step that never started is missing from status: counts differ
            env.tags.add("status-steps-fewer-than-spec")
    elif rng.random() < 0.5:
        step_states = [
            {
                "name": (steps_spec[0].get("name") or "unnamed-0") if steps_spec else "build",
                "container": "step-x",
                "waiting": {"reason": "ImagePullBackOff"},
            }
        ]
    if step_states:
        status["steps"] = step_states
    if td.sidecar_repos and outcome != "failed-early":
        status["sidecars"] = [
            {
                "name": sc.get("name", "server"),
                "container": f"sidecar-{sc.get('name', 'server')}",
                "imageID": image_id(rng, repo),
                "terminated": {
                    "containerID": f"containerd://{hexs(rng, 64)}",
                    "exitCode": 0,
                    "finishedAt": timestamp(end),
                    "reason": "Completed",
                    "startedAt": timestamp(start),
                },
            }
            for sc, repo in zip(resolved_spec.get("sidecars", []), td.sidecar_repos, strict=False)
        ]
    results = (
        produced.results
        if outcome == "succeeded"
        else (produced.results[: rng.randint(0, 1)] if outcome == "failed" else [])
    )
    if results:
        status["results"] = results
    status["taskSpec"] = resolved_spec
    prov: dict[str, Any] = {}
    if ref_source is not None:
        prov["refSource"] = ref_source
    if flags and rng.random() < 0.9:
        prov["featureFlags"] = flags
    if prov:
        status["provenance"] = prov
    return status, results


def broken_image_id(rng: random.Random, status: dict[str, Any], tags: set[str]) -> None:
    """A step imageID Chains cannot split into repo@alg:hex: the whole payload fails."""
    for st in status.get("steps", []):
        if "imageID" in st:
            st["imageID"] = rng.choice(
                ["sha256:" + hexs(rng, 64), "docker.io/library/alpine:3.18", ""]
            )
            tags.add("step-imageID-invalid")
            return


# ---------------------------------------------------------------- standalone TaskRuns


def standalone_taskrun(rng: random.Random, case_id: str) -> Case:
    org, app = rng.choice(ORGS), rng.choice(APPS)
    tags: set[str] = {"taskrun"}
    env = Env(
        org,
        app,
        rng.choice(REGISTRIES).format(org=org),
        rng.random() < 0.8,
        tags,
        p_step_resources=rng.choice([0.0, 0.15, 0.5]),
        p_step_results=rng.choice([0.0, 0.3]),
    )
    role = rng.choices(
        ["build-image", "build-binary", "clone", "test", "scan", "stepaction", "deploy"],
        weights=[30, 15, 15, 10, 10, 8, 5],
    )[0]
    td = tasks.make_task(role, rng, env)
    ns = rng.choice(NAMESPACES)
    name = f"{td.name}-run-{suffix(rng)}"
    git_url = git_repo(rng, org, app)
    params: dict[str, Any] = {}
    for p in td.spec.get("params", []):
        want = td.wants.get(p["name"])
        if want == "git-url":
            params[p["name"]] = git_url
        elif want == "revision":
            params[p["name"]] = rng.choice(["main", "v1.2.3", hexs(rng, 40)])
        elif want == "image":
            params[p["name"]] = f"{env.registry}/{app}" + (
                ":" + rng.choice(["latest", "v1"]) if rng.random() < 0.4 else ""
            )
        elif want == "image-ref":
            params[p["name"]] = f"{env.registry}/{app}@{sha256(rng)}"
        elif want == "chains-git-url":
            params[p["name"]] = git_url if rng.random() < 0.9 else ""
        elif want == "chains-git-commit":
            params[p["name"]] = hexs(rng, 40)
        elif "default" not in p:
            params[p["name"]] = {"array": ["a", "b"], "object": {}}.get(p.get("type", ""), "value")
        elif rng.random() < 0.3:
            d = p["default"]
            params[p["name"]] = d if not isinstance(d, str) else d + "-x"
    if rng.random() < 0.25:
        params["CHAINS-GIT_URL"] = git_url
        params["CHAINS-GIT_COMMIT"] = hexs(rng, 40) if rng.random() < 0.9 else ""
        tags.add("chains-git-params")
    spec: dict[str, Any] = {}
    if params:
        spec["params"] = [{"name": k, "value": v} for k, v in params.items()]
    resolver = rng.choices(RESOLVERS + ["inline"], weights=[15, 20, 12, 8, 8, 8, 29])[0]
    ref_source = None
    if resolver == "inline":
        spec["taskSpec"] = copy.deepcopy(td.spec)
        tags.add("inline-taskSpec")
    else:
        spec["taskRef"], ref_source = task_ref(rng, td.name, resolver, env)
    if rng.random() < 0.9:
        spec["serviceAccountName"] = rng.choice(["default", "build-bot", "pipeline"])
    if rng.random() < 0.7:
        spec["timeout"] = duration(rng, False)
        tags.add("timeout")
    ws = td.spec.get("workspaces", [])
    if ws:
        spec["workspaces"] = [
            workspace_binding(rng, w["name"], env, writable=w["name"] in ("source", "output"))
            for w in ws
            if not w.get("optional") or rng.random() < 0.3
        ]
    if rng.random() < 0.3:
        pt = pod_template(rng, env)
        if pt:
            spec["podTemplate"] = pt
    if rng.random() < 0.15:
        spec["computeResources"] = resources(rng, False)
        tags.add("taskrun-computeResources")
    if rng.random() < 0.1 and td.spec.get("steps"):
        first = td.spec["steps"][0].get("name")
        if first:
            spec["stepSpecs"] = [{"name": first, "computeResources": resources(rng, False)}]
            tags.add("stepSpecs")
    if rng.random() < 0.05 and td.spec.get("sidecars"):
        spec["sidecarSpecs"] = [
            {"name": td.spec["sidecars"][0]["name"], "computeResources": resources(rng, False)}
        ]
    if rng.random() < 0.05:
        spec["retries"] = rng.choice([1, 2])
    if rng.random() < 0.04:
        spec["debug"] = {"breakpoints": {"onFailure": "enabled"}}
    outcome = rng.choices(
        ["succeeded", "failed", "failed-early", "cancelled", "timeout", "running"],
        weights=[75, 10, 3, 3, 3, 3],
    )[0]
    tags.add(f"outcome-{outcome}")
    if outcome == "cancelled":
        spec["status"] = "TaskRunCancelled"
        if rng.random() < 0.5:
            spec["statusMessage"] = (
                "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
            )
    t0 = EPOCH0 + rng.randint(0, 90 * 86400)
    dur = rng.randint(20, 1200)
    timing = Timing(t0, None if outcome == "running" else t0 + dur)
    all_params = {p["name"]: p.get("default") for p in td.spec.get("params", [])} | params
    resolved = substitute(td.spec, {k: v for k, v in all_params.items() if v is not None})
    resolved = (
        go_marks(canonical_spellings(resolved, rng), embedded=False) if env.canonical else resolved
    )
    flags = feature_flags(rng, env.canonical)
    status, _ = taskrun_status(
        rng,
        td,
        all_params,
        name,
        timing,
        outcome,
        env,
        ref_source=ref_source,
        resolved_spec=resolved,
        flags=flags,
    )
    if rng.random() < 0.03:
        broken_image_id(rng, status, tags)
    labels = {"app.kubernetes.io/managed-by": "tekton-pipelines"}
    if "taskRef" in spec and spec["taskRef"].get("name"):
        labels["tekton.dev/task"] = td.name
    if rng.random() < 0.4:
        labels["app.kubernetes.io/version"] = "0.9"
    if rng.random() < 0.04:
        labels["chains.tekton.dev/reproducible"] = "true"
        tags.add("reproducible")
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ns,
        "uid": uid(rng),
        "generation": 1,
        "resourceVersion": str(rng.randint(10_000, 9_999_999)),
        "creationTimestamp": timestamp(t0 - 1),
        "labels": labels,
    }
    if rng.random() < 0.6:
        meta["generateName"] = f"{td.name}-run-"
    annotations = run_annotations(rng, tags, top_level=True)
    if annotations:
        meta["annotations"] = annotations
    if rng.random() < 0.2:
        meta["finalizers"] = ["chains.tekton.dev"]
    if rng.random() < 0.03:
        del status["startTime"]
        tags.add("no-startTime")
    tr = {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }
    return Case("TaskRun", [tr], tags)


def run_annotations(rng: random.Random, tags: set[str], *, top_level: bool) -> dict[str, str]:
    a: dict[str, str] = {}
    if rng.random() < 0.5:
        a["pipeline.tekton.dev/release"] = rng.choice(["v0.68.1", "v1.0.0", "v1.3.2"])
    if rng.random() < 0.2:
        a["kubectl.kubernetes.io/last-applied-configuration"] = (
            json.dumps(
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "TaskRun",
                    "metadata": {"name": "x", "namespace": "ci"},
                }
            )
            + "\n"
        )
        tags.add("last-applied-configuration")
    if rng.random() < 0.15:
        a["results.tekton.dev/record"] = f"ci/results/{uid(rng)}/records/{uid(rng)}"
        a["results.tekton.dev/result"] = f"ci/results/{uid(rng)}"
    if rng.random() < 0.1:
        a["description"] = rng.choice(TRICKY_TEXT)
        tags.add("tricky-text")
    if top_level and rng.random() < 0.06:
        a["chains.tekton.dev/retries"] = "1"
        tags.add("chains-annotation")
    if top_level and rng.random() < 0.015:
        a["chains.tekton.dev/signed"] = "true"
        tags.add("already-signed")
    return a
