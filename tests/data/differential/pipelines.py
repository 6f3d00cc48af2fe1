"""PipelineRuns (1 to 40 tasks, finally tasks, matrix, retries, when expressions incl. CEL) with
the child TaskRuns the Tekton controller creates for them, in every end state: succeeded, failed,
cancelled, timed out, still running, or unresolvable."""

from __future__ import annotations

import copy
import random
import re
from dataclasses import dataclass, field
from typing import Any

import tasks
from records import (
    EPOCH0,
    RESOLVERS,
    Case,
    Timing,
    broken_image_id,
    canonical_spellings,
    condition,
    feature_flags,
    go_marks,
    pod_template,
    run_annotations,
    substitute,
    task_ref,
    taskrun_status,
    workspace_binding,
)
from tasks import Env, TaskDef
from vocab import (
    APPS,
    NAMESPACES,
    ORGS,
    REGISTRIES,
    TRICKY_TEXT,
    duration,
    git_repo,
    hexs,
    resources,
    suffix,
    timestamp,
    uid,
)

REF = re.compile(
    r"\$\(tasks\.([A-Za-z0-9_-]+)\.results\.([A-Za-z0-9_-]+)(?:\[\*\]|\.[A-Za-z0-9_-]+)?\)"
)
ROLE_NAMES = {
    "clone": ["fetch-repository", "clone", "git-clone", "checkout"],
    "stepaction": ["fetch-sources"],
    "build-image": ["build", "build-image", "image", "buildah", "kaniko-build"],
    "build-binary": ["compile", "build-binary", "go-build", "package"],
    "test": ["unit-tests", "test", "integration-test", "lint"],
    "scan": ["scan", "sbom", "sign-image", "verify"],
    "deploy": ["deploy", "deploy-staging", "rollout"],
    "notify": ["notify", "report", "set-status"],
}


@dataclass
class PTask:
    name: str
    td: TaskDef
    entry: dict[str, Any]  # the PipelineTask as written
    finally_: bool = False
    deps: set[str] = field(default_factory=set)
    ref_source: dict[str, Any] | None = None
    matrix: list[dict[str, Any]] = field(default_factory=list)  # one params overlay per fan-out


def _size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.3:
        return rng.randint(1, 3)
    if roll < 0.7:
        return rng.randint(4, 8)
    if roll < 0.88:
        return rng.randint(9, 16)
    return rng.randint(17, 40)


def _roles(rng: random.Random, n: int) -> list[str]:
    roles: list[str] = []
    if rng.random() < 0.88:
        roles.append("stepaction" if rng.random() < 0.08 else "clone")
    weights = {
        "test": 25,
        "build-image": 25,
        "build-binary": 15,
        "scan": 14,
        "deploy": 10,
        "notify": 4,
    }
    while len(roles) < n:
        roles.append(rng.choices(list(weights), weights=list(weights.values()))[0])
    return roles[:n]


def _unique(name: str, used: set[str]) -> str:
    out, k = name, 2
    while out in used:
        out, k = f"{name}-{k}", k + 1
    used.add(out)
    return out


def _results_of(pts: list[PTask], role: str, pred: Any) -> tuple[str, str] | None:
    for pt in pts:
        if pt.td.role == role and not pt.matrix:
            for r in pt.td.spec.get("results", []):
                if pred(r["name"]):
                    return pt.name, r["name"]
    return None


def _param_expr(rng: random.Random, want: str | None, earlier: list[PTask], env: Env) -> str | None:
    clone = _results_of(earlier, "clone", lambda n: n == "commit")
    if want == "git-url":
        return "$(params.repo-url)"
    if want == "revision":
        return "$(params.revision)"
    if want == "image":
        if clone and rng.random() < 0.4:
            return f"$(params.image-repo):$(tasks.{clone[0]}.results.commit)"
        return "$(params.image-repo)"
    if want == "image-ref":
        url = _results_of(earlier, "build-image", lambda n: n.endswith("IMAGE_URL"))
        if url:
            marker = url[1][: -len("IMAGE_URL")]
            return (
                f"$(tasks.{url[0]}.results.{url[1]})@$(tasks.{url[0]}.results.{marker}IMAGE_DIGEST)"
            )
        return "$(params.image-repo)"
    if want == "chains-git-url":
        return f"$(tasks.{clone[0]}.results.url)" if clone else "$(params.repo-url)"
    if want == "chains-git-commit":
        return f"$(tasks.{clone[0]}.results.commit)" if clone else "$(params.revision)"
    if want == "message":
        built = _results_of(earlier, "build-image", lambda n: n.endswith("IMAGE_URL"))
        msg = "$(context.pipelineRun.name) finished: $(tasks.status)"
        if built:
            msg += f" image $(tasks.{built[0]}.results.{built[1]})"
        return msg if rng.random() < 0.85 else rng.choice(TRICKY_TEXT)
    return None


def _resolve(
    value: Any, pparams: dict[str, Any], results: dict[str, dict[str, Any]], extra: dict[str, str]
) -> Any:
    if isinstance(value, list):
        return [_resolve(v, pparams, results, extra) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, pparams, results, extra) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"\$\(params\.([A-Za-z0-9_-]+)(\[\*\])?\)", value)
    if whole and not isinstance(pparams.get(whole.group(1)), str) and whole.group(1) in pparams:
        return pparams[whole.group(1)]
    whole = REF.fullmatch(value)
    if whole:
        v = results.get(whole.group(1), {}).get(whole.group(2))
        if v is not None and not isinstance(v, str):
            return v

    def res(m: re.Match[str]) -> str:
        v = results.get(m.group(1), {}).get(m.group(2), "")
        return v if isinstance(v, str) else ""

    value = REF.sub(res, value)
    value = re.sub(
        r"\$\(params\.([A-Za-z0-9_-]+)\)", lambda m: str(pparams.get(m.group(1), "")), value
    )
    for k, v in extra.items():
        value = value.replace(k, v)
    return value


def pipeline_run(rng: random.Random, case_id: str) -> Case:
    org, app = rng.choice(ORGS), rng.choice(APPS)
    tags: set[str] = {"pipelinerun"}
    canonical = rng.random() < 0.8
    env = Env(
        org,
        app,
        rng.choice(REGISTRIES).format(org=org),
        canonical,
        tags,
        p_step_resources=rng.choice([0.0, 0.1, 0.4]),
        p_step_results=rng.choice([0.0, 0.0, 0.3]),
    )
    ns = rng.choice(NAMESPACES)
    pname = rng.choice(
        [f"{app}-ci", f"{app}-release", "build-and-deploy", "build-push", "pr-checks"]
    )
    n = _size(rng)
    tags.add(f"size-{'1-3' if n <= 3 else '4-8' if n <= 8 else '9-16' if n <= 16 else '17-40'}")
    flags = feature_flags(rng, canonical)
    cel = rng.random() < 0.25
    used: set[str] = set()

    # ---- the Pipeline
    pts: list[PTask] = []
    for role in _roles(rng, n):
        td = tasks.make_task(role, rng, env)
        name = _unique(rng.choice(ROLE_NAMES[role]), used)
        pts.append(PTask(name, td, {}))
    finals = [
        PTask(
            _unique(rng.choice(ROLE_NAMES[r]), used),
            tasks.make_task(r, rng, env),
            {},
            finally_=True,
        )
        for r in rng.sample(
            ["notify", "notify", "test", "deploy"], rng.choices([0, 1, 2], weights=[45, 45, 10])[0]
        )
    ]
    pipeline_params: list[dict[str, Any]] = [
        {"name": "repo-url", "type": "string", "description": "Git repository"},
        {"name": "revision", "type": "string", "default": "main"},
        {"name": "image-repo", "type": "string", "description": "Image repository, no tag"},
    ]
    extra_params = rng.sample(
        ["deploy-enabled", "build-args", "labels", "empty", "chains-git"], rng.randint(0, 4)
    )
    if "deploy-enabled" in extra_params:
        pipeline_params.append({"name": "deploy-enabled", "type": "string", "default": "false"})
    if "build-args" in extra_params:
        pipeline_params.append({"name": "build-args", "type": "array", "default": []})
        tags.add("param-default-empty-array")
    if "labels" in extra_params:
        pipeline_params.append(
            {
                "name": "labels",
                "type": "object",
                "properties": {"team": {"type": "string"}, "env": {"type": "string"}},
                "default": {"team": org, "env": "dev"},
            }
        )
        tags.add("param-object-default")
    if "empty" in extra_params:
        pipeline_params.append({"name": "extra-flags", "type": "string", "default": ""})
        tags.add("param-default-empty")
    if "chains-git" in extra_params:
        pipeline_params += [
            {"name": "CHAINS-GIT_URL", "type": "string", "default": ""},
            {"name": "CHAINS-GIT_COMMIT", "type": "string", "default": ""},
        ]
        tags.add("pipeline-chains-git-params")
    if rng.random() < 0.4:
        for p in pipeline_params:
            if rng.random() < 0.5:
                p.pop("type", None)  # written without type; the webhook adds it in status
    has_deploy_param = any(p["name"] == "deploy-enabled" for p in pipeline_params)

    for i, pt in enumerate(pts + finals):
        earlier = pts[:i] if not pt.finally_ else pts
        e: dict[str, Any] = {"name": pt.name}
        if rng.random() < 0.1:
            e["displayName"] = pt.name.replace("-", " ").title()
        style = rng.choices(["local", "resolver", "inline"], weights=[35, 35, 30])[0]
        if style == "inline":
            spec = copy.deepcopy(pt.td.spec)
            if rng.random() < 0.2:
                spec["metadata"] = {"labels": {"ci.acme.dev/step": pt.td.role}}
                tags.add("embedded-metadata")
            e["taskSpec"] = spec
            tags.add("inline-taskSpec")
        else:
            resolver = "local" if style == "local" else rng.choice(RESOLVERS[1:])
            e["taskRef"], pt.ref_source = task_ref(rng, pt.td.name, resolver, env)
        params = []
        for p in pt.td.spec.get("params", []):
            expr = _param_expr(rng, pt.td.wants.get(p["name"]), earlier, env)
            if expr is None:
                if "default" in p and rng.random() < 0.7:
                    continue
                if p.get("type") == "array" or isinstance(p.get("default"), list):
                    expr = (
                        "$(params.build-args[*])"
                        if "build-args" in extra_params and rng.random() < 0.5
                        else ["--flag", "x"]
                    )
                elif p.get("type") == "object" or isinstance(p.get("default"), dict):
                    expr = (
                        "$(params.labels[*])"
                        if "labels" in extra_params and rng.random() < 0.5
                        else {"team": org}
                    )
                else:
                    expr = rng.choice(
                        ["value", "./...", "$(params.revision)", "$(context.pipelineRun.name)"]
                    )
            params.append({"name": p["name"], "value": expr})
        if params:
            e["params"] = params
        # matrix fan-out for binaries
        if pt.td.role == "build-binary" and not pt.finally_ and rng.random() < 0.2:
            archs = rng.sample(["amd64", "arm64", "ppc64le", "s390x"], rng.randint(2, 3))
            e["matrix"] = {"params": [{"name": "GOARCH", "value": archs}]}
            e["params"] = [p for p in e.get("params", []) if p["name"] != "GOARCH"]
            if not e["params"]:
                del e["params"]
            pt.matrix = [{"GOARCH": a} for a in archs]
            if rng.random() < 0.2:
                e["matrix"]["include"] = [
                    {"name": "static", "params": [{"name": "flags", "value": "-tags=netgo"}]}
                ]
            tags.add("matrix")
        # when expressions
        if i > 0 and rng.random() < 0.15:
            src = _results_of(
                earlier, "test", lambda n: n in ("coverage", "report-url")
            ) or _results_of(earlier, "clone", lambda n: n == "commit")
            choice = rng.random()
            if cel and choice < 0.4 and src:
                e["when"] = [{"cel": f"'$(tasks.{src[0]}.results.{src[1]})' != ''"}]
                tags.add("when-cel-result")
            elif cel and choice < 0.6:
                e["when"] = [{"cel": "'$(params.revision)' == 'main'"}]
                tags.add("when-cel")
            elif src and choice < 0.8:
                e["when"] = [
                    {
                        "input": f"$(tasks.{src[0]}.results.{src[1]})",
                        "operator": "notin",
                        "values": [""],
                    }
                ]
                tags.add("when-result")
            elif has_deploy_param:
                e["when"] = [
                    {"input": "$(params.deploy-enabled)", "operator": "in", "values": ["true"]}
                ]
                tags.add("when-param")
        if pt.finally_ and rng.random() < 0.2:
            e["when"] = [{"input": "$(tasks.status)", "operator": "in", "values": ["Failed"]}]
            tags.add("when-tasks-status")
        # runAfter
        refs = {
            m.group(1) for m in REF.finditer(repr(e.get("params", [])) + repr(e.get("when", [])))
        }
        if not pt.finally_ and earlier:
            after = []
            if not refs or rng.random() < 0.3:
                prev = earlier[-1].name if rng.random() < 0.7 else rng.choice(earlier).name
                after.append(prev)
            if after:
                e["runAfter"] = after
            pt.deps = refs | set(after)
        else:
            pt.deps = refs
        # workspaces
        wss = []
        for w in pt.td.spec.get("workspaces", []):
            target = {
                "output": "source",
                "source": "source",
                "dockerconfig": "dockerconfig",
                "manifests": "source",
            }.get(w["name"])
            if target and (not w.get("optional") or rng.random() < 0.5):
                binding = {"name": w["name"], "workspace": target}
                if w["name"] == "manifests" or rng.random() < 0.05:
                    binding["subPath"] = "deploy"
                    tags.add("workspace-subPath")
                wss.append(binding)
        if wss:
            e["workspaces"] = wss
        if rng.random() < 0.08:
            e["timeout"] = duration(rng, False)
            tags.add("pipelinetask-timeout")
        if pt.td.role == "test" and rng.random() < 0.15:
            e["retries"] = rng.randint(1, 2)
            tags.add("retries")
        if rng.random() < 0.03:
            e["description"] = "" if rng.random() < 0.5 else rng.choice(TRICKY_TEXT)
        pt.entry = e

    workspaces_decl = [
        {"name": "source", "description": "Shared sources"},
        {"name": "dockerconfig", "optional": True},
    ]
    pipeline_results: list[dict[str, Any]] = []
    img = _results_of(pts, "build-image", lambda n: n.endswith("IMAGE_URL"))
    if img and rng.random() < 0.75:
        marker = img[1][: -len("IMAGE_URL")]
        pipeline_results += [
            {
                "name": "IMAGE_URL",
                "description": "" if rng.random() < 0.3 else "Image built",
                "value": f"$(tasks.{img[0]}.results.{img[1]})",
            },
            {"name": "IMAGE_DIGEST", "value": f"$(tasks.{img[0]}.results.{marker}IMAGE_DIGEST)"},
        ]
        if rng.random() < 0.2:
            pipeline_results.append(
                {
                    "name": "IMAGE_REF",
                    "type": "string",
                    "value": f"$(tasks.{img[0]}.results.{img[1]})@$(tasks.{img[0]}.results.{marker}IMAGE_DIGEST)",
                }
            )
    clone = _results_of(pts, "clone", lambda n: n == "commit")
    if clone and rng.random() < 0.6:
        pipeline_results += [
            {"name": "CHAINS-GIT_URL", "value": f"$(tasks.{clone[0]}.results.url)"},
            {"name": "CHAINS-GIT_COMMIT", "value": f"$(tasks.{clone[0]}.results.commit)"},
        ]
    if clone and rng.random() < 0.3:
        pipeline_results.append(
            {"name": "commit", "description": "", "value": f"$(tasks.{clone[0]}.results.commit)"}
        )
    out_obj = _results_of(pts, "build-binary", lambda n: n.endswith("ARTIFACT_OUTPUTS"))
    if out_obj and rng.random() < 0.7:
        pipeline_results.append(
            {
                "name": out_obj[1],
                "type": "object",
                "value": f"$(tasks.{out_obj[0]}.results.{out_obj[1]}[*])",
            }
        )
    ins = _results_of(pts, "scan", lambda n: n.endswith("ARTIFACT_INPUTS"))
    if ins and rng.random() < 0.5:
        pipeline_results.append(
            {
                "name": "scan-ARTIFACT_INPUTS",
                "type": "object",
                "value": f"$(tasks.{ins[0]}.results.{ins[1]}[*])",
            }
        )
    uri = _results_of(pts, "build-binary", lambda n: n.endswith("ARTIFACT_URI"))
    if uri and rng.random() < 0.6:
        pipeline_results += [
            {"name": "ARTIFACT_URI", "value": f"$(tasks.{uri[0]}.results.{uri[1]})"},
            {"name": "ARTIFACT_DIGEST", "value": f"$(tasks.{uri[0]}.results.{uri[1][:-3]}DIGEST)"},
        ]
    arr = _results_of(pts, "test", lambda n: n == "failed-tests")
    if arr and rng.random() < 0.5:
        pipeline_results.append(
            {
                "name": "failed-tests",
                "type": "array",
                "value": f"$(tasks.{arr[0]}.results.failed-tests[*])",
            }
        )
    if pipeline_results:
        tags.add("pipeline-results")

    pipeline_spec: dict[str, Any] = {}
    if rng.random() < 0.4:
        pipeline_spec["description"] = (
            f"CI for {app}" if rng.random() < 0.8 else rng.choice(TRICKY_TEXT)
        )
    pipeline_spec["params"] = pipeline_params
    pipeline_spec["workspaces"] = workspaces_decl
    pipeline_spec["tasks"] = [pt.entry for pt in pts]
    if finals:
        pipeline_spec["finally"] = [pt.entry for pt in finals]
        tags.add("finally")
    if pipeline_results:
        pipeline_spec["results"] = pipeline_results

    # ---- the PipelineRun spec
    git_url = git_repo(rng, org, app)
    pparams: dict[str, Any] = {"repo-url": git_url, "image-repo": f"{env.registry}/{app}"}
    if rng.random() < 0.7:
        pparams["revision"] = rng.choice(["main", "refs/heads/feature/x", hexs(rng, 40)])
    if has_deploy_param and rng.random() < 0.6:
        pparams["deploy-enabled"] = rng.choice(["true", "false"])
    if "build-args" in extra_params and rng.random() < 0.5:
        pparams["build-args"] = ["VERSION=1.2.3", "COMMIT=abc"]
    if "labels" in extra_params and rng.random() < 0.5:
        pparams["labels"] = {"team": org, "env": "prod"}
    if "chains-git" in extra_params and rng.random() < 0.7:
        pparams["CHAINS-GIT_URL"] = git_url
        pparams["CHAINS-GIT_COMMIT"] = hexs(rng, 40)
    if rng.random() < 0.05:
        pparams["unused-param"] = "x"
    spec: dict[str, Any] = {}
    style = rng.choices(["local", "resolver", "inline"], weights=[30, 40, 30])[0]
    pr_ref_source = None
    if style == "inline":
        spec["pipelineSpec"] = copy.deepcopy(pipeline_spec)
        tags.add("inline-pipelineSpec")
    else:
        resolver = "local" if style == "local" else rng.choice(RESOLVERS[1:])
        spec["pipelineRef"], pr_ref_source = task_ref(rng, pname, resolver, env, kind="pipeline")
    spec["params"] = [{"name": k, "value": v} for k, v in pparams.items()]
    if rng.random() < 0.5:
        to: dict[str, Any] = {"pipeline": duration(rng, False)}
        if rng.random() < 0.3:
            to["tasks"] = duration(rng, False)
        if rng.random() < 0.2:
            to["finally"] = duration(rng, False)
        spec["timeouts"] = to
        tags.add("timeouts")
    elif rng.random() < 0.8:
        spec["timeouts"] = {"pipeline": "1h0m0s"}  # the admission webhook's default
    trt: dict[str, Any] = {}
    if rng.random() < 0.85:
        trt["serviceAccountName"] = rng.choice(["default", "pipeline", "build-bot"])
    if rng.random() < 0.3:
        pt_ = pod_template(rng, env)
        if pt_:
            trt["podTemplate"] = pt_
    if trt or rng.random() < 0.5:
        spec["taskRunTemplate"] = trt
    bindings = [workspace_binding(rng, "source", env, writable=True)]
    if rng.random() < 0.6:
        bindings.append(workspace_binding(rng, "dockerconfig", env, writable=False))
    spec["workspaces"] = bindings
    if rng.random() < 0.1 and pts:
        target = rng.choice(pts)
        trs: dict[str, Any] = {"pipelineTaskName": target.name}
        if rng.random() < 0.6:
            trs["serviceAccountName"] = "privileged-builder"
        if rng.random() < 0.5:
            trs["computeResources"] = resources(rng, False)
        if rng.random() < 0.3:
            trs["podTemplate"] = {"nodeSelector": {"disktype": "ssd"}}
        if (
            rng.random() < 0.3
            and target.td.spec.get("steps")
            and target.td.spec["steps"][0].get("name")
        ):
            trs["stepSpecs"] = [
                {
                    "name": target.td.spec["steps"][0]["name"],
                    "computeResources": resources(rng, False),
                }
            ]
        if rng.random() < 0.3:
            trs["metadata"] = {"labels": {"tier": "build"}}
        spec["taskRunSpecs"] = [trs]
        tags.add("taskRunSpecs")

    return _execute(
        rng,
        case_id,
        env,
        ns,
        pname,
        pts,
        finals,
        pipeline_spec,
        spec,
        pparams,
        pr_ref_source,
        flags,
        tags,
    )


def _status_pipeline_spec(
    pipeline_spec: dict[str, Any], env: Env, rng: random.Random
) -> dict[str, Any]:
    """status.pipelineSpec as the controller writes it (Go's encoder, webhook defaults)."""
    ps = copy.deepcopy(pipeline_spec)
    if not env.canonical:
        return ps
    ps = canonical_spellings(ps, rng)
    for p in ps.get("params", []):
        p.setdefault(
            "type",
            "array"
            if isinstance(p.get("default"), list)
            else "object"
            if isinstance(p.get("default"), dict)
            else "string",
        )
    for r in ps.get("results", []):
        r.setdefault("type", "string")
        r.setdefault("description", "")
    for key in ("tasks", "finally"):
        for t in ps.get(key, []):
            if "taskRef" in t and "resolver" not in t["taskRef"]:
                t["taskRef"].setdefault("kind", "Task")
            if "taskSpec" in t:
                t["taskSpec"] = go_marks(t["taskSpec"], embedded=True)
    return ps


def _execute(
    rng: random.Random,
    case_id: str,
    env: Env,
    ns: str,
    pname: str,
    pts: list[PTask],
    finals: list[PTask],
    pipeline_spec: dict[str, Any],
    spec: dict[str, Any],
    pparams: dict[str, Any],
    pr_ref_source: dict[str, Any] | None,
    flags: dict[str, Any],
    tags: set[str],
) -> Case:
    """Run the pipeline: decide each task's fate, build child TaskRuns and the PipelineRun."""
    pr_name = f"{pname}-{suffix(rng)}"
    pr_uid = uid(rng)
    t0 = EPOCH0 + rng.randint(0, 90 * 86400)
    outcome = rng.choices(
        ["succeeded", "failed", "cancelled", "timeout", "running", "unresolved"],
        weights=[72, 13, 5, 3, 4, 3],
    )[0]
    tags.add(f"pr-outcome-{outcome}")
    all_pparams = {p["name"]: p.get("default") for p in pipeline_spec.get("params", [])} | pparams
    all_pparams = {k: v for k, v in all_pparams.items() if v is not None}
    fail_task = rng.choice(pts).name if outcome == "failed" and pts else None
    stop_at = t0 + rng.randint(30, 900) if outcome in ("cancelled", "timeout", "running") else None

    results: dict[str, dict[str, Any]] = {}
    end_of: dict[str, int] = {}
    fate: dict[str, str] = {}
    skipped: list[dict[str, Any]] = []
    children: list[tuple[int, dict[str, Any], PTask]] = []
    extra = {"$(context.pipelineRun.name)": pr_name, "$(context.pipelineRun.namespace)": ns}
    labels_pr = {"tekton.dev/pipeline": pname}
    if rng.random() < 0.4:
        labels_pr |= {
            "triggers.tekton.dev/eventlistener": "github-listener",
            "triggers.tekton.dev/trigger": "push",
            "triggers.tekton.dev/triggers-eventid": uid(rng),
        }
    if rng.random() < 0.2:
        labels_pr["app.kubernetes.io/managed-by"] = "pipelinesascode.tekton.dev"
    if rng.random() < 0.04:
        labels_pr["chains.tekton.dev/reproducible"] = "true"
        tags.add("reproducible")
    ann_pr = run_annotations(rng, tags, top_level=True)
    if rng.random() < 0.2:  # Pipelines-as-Code started this run
        labels_pr |= {
            "app.kubernetes.io/managed-by": "pipelinesascode.tekton.dev",
            "pipelinesascode.tekton.dev/event-type": "push",
            "pipelinesascode.tekton.dev/repository": env.app,
            "pipelinesascode.tekton.dev/sha": hexs(rng, 40),
        }
        ann_pr |= {
            "pipelinesascode.tekton.dev/on-event": "[push]",
            "pipelinesascode.tekton.dev/on-target-branch": "[main]",
            "pipelinesascode.tekton.dev/repo-url": f"https://github.com/{env.org}/{env.app}",
            "pipelinesascode.tekton.dev/sha-title": rng.choice(
                ["fix: handle <nil> & empty", "chore(deps): bump x"]
            ),
            "pipelinesascode.tekton.dev/max-keep-runs": "5",
        }
        tags.add("pipelines-as-code")
    stopping = False
    failed_at: int | None = None

    def run_task(pt: PTask, start: int) -> None:
        nonlocal stopping, failed_at
        when = pt.entry.get("when", [])
        if when and rng.random() < 0.3:
            fate[pt.name] = "skipped"
            skipped.append(
                {
                    "name": pt.name,
                    "reason": "When Expressions evaluated to false",
                    **({"whenExpressions": when} if "cel" not in when[0] else {}),
                }
            )
            tags.add("skipped-when")
            return
        fans = pt.matrix or [{}]
        ends = []
        for k, overlay in enumerate(fans):
            s = start + rng.randint(0, 3)
            d = rng.randint(8, 400)
            state = "succeeded"
            if pt.name == fail_task:
                state = "failed-early" if rng.random() < 0.15 else "failed"
            elif stop_at is not None and s + d > stop_at:
                state = (
                    "running"
                    if outcome == "running"
                    else ("cancelled" if outcome == "cancelled" else "timeout")
                )
                d = max(1, stop_at - s)
            elif rng.random() < 0.03 and outcome == "failed":
                state = "failed"
            e = s + d
            ends.append(e)
            tr, res = _child(
                rng,
                env,
                ns,
                pr_name,
                pr_uid,
                pname,
                pt,
                k if pt.matrix else None,
                overlay,
                all_pparams,
                results,
                extra,
                spec,
                labels_pr,
                ann_pr,
                Timing(s, None if state == "running" else e),
                state,
                flags,
            )
            children.append((s, tr, pt))
            if state in ("failed", "failed-early"):
                stopping = True
                failed_at = e if failed_at is None else min(failed_at, e)
            if not pt.matrix:
                results[pt.name] = {r["name"]: r["value"] for r in res}
            fate[pt.name] = (
                state
                if state != "succeeded" or fate.get(pt.name) in (None, "succeeded")
                else fate[pt.name]
            )
        end_of[pt.name] = max(ends)

    if outcome != "unresolved":
        for pt in pts:
            deps = pt.deps
            start = max([end_of.get(d, t0) for d in deps] + [t0]) + rng.randint(1, 4)
            if any(fate.get(d) not in ("succeeded", None) for d in deps) or (
                stopping and failed_at is not None and start > failed_at
            ):
                reason = (
                    "Parent Tasks were skipped"
                    if any(fate.get(d) == "skipped" for d in deps)
                    else "PipelineRun was stopping"
                )
                fate[pt.name] = "skipped"
                skipped.append({"name": pt.name, "reason": reason})
                continue
            if stop_at is not None and start >= stop_at:
                fate[pt.name] = "skipped"
                if outcome != "running":
                    skipped.append(
                        {
                            "name": pt.name,
                            "reason": "PipelineRun was cancelled"
                            if outcome == "cancelled"
                            else "PipelineRun timeout has been reached",
                        }
                    )
                continue
            run_task(pt, start)
        finally_start = max(end_of.values(), default=t0) + 2
        run_finally = outcome in ("succeeded", "failed") or (
            outcome == "cancelled" and rng.random() < 0.3
        )
        for pt in finals:
            if run_finally:
                run_task(pt, finally_start)
    end = max(
        list(end_of.values()) + [t0 + 5] + ([stop_at] if stop_at is not None else [])
    ) + rng.randint(1, 5)

    # ---- status
    status: dict[str, Any] = {}
    pr_res_values = []
    if outcome == "succeeded":
        status["conditions"] = [
            condition(
                "True",
                "Succeeded",
                f"Tasks Completed: {len(children)} (Failed: 0, Cancelled 0), Skipped: {len(skipped)}",
                end,
            )
        ]
    elif outcome == "failed":
        status["conditions"] = [
            condition(
                "False",
                "Failed",
                f"Tasks Completed: {len(children)} (Failed: 1, Cancelled 0), Skipped: {len(skipped)}",
                end,
            )
        ]
    elif outcome == "cancelled":
        status["conditions"] = [
            condition("False", "Cancelled", f'PipelineRun "{pr_name}" was cancelled', end)
        ]
        spec["status"] = rng.choice(["Cancelled", "CancelledRunFinally"])
    elif outcome == "timeout":
        status["conditions"] = [
            condition(
                "False",
                "PipelineRunTimeout",
                f'PipelineRun "{pr_name}" failed to finish within "1h0m0s"',
                end,
            )
        ]
    elif outcome == "running":
        status["conditions"] = [
            condition(
                "Unknown",
                "Running",
                f"Tasks Completed: {len(children)} (Failed: 0, Cancelled 0), Incomplete: {len(pts)}, Skipped: 0",
                t0 + 5,
            )
        ]
    else:
        status["conditions"] = [
            condition(
                "False",
                "CouldntGetPipeline",
                f"Error retrieving pipeline for pipelinerun {ns}/{pr_name}: resolver failed",
                t0 + 2,
            )
        ]
    status["startTime"] = timestamp(t0)
    if outcome != "running":
        status["completionTime"] = timestamp(end if outcome != "unresolved" else t0 + 2)
    if outcome != "unresolved":
        status["pipelineSpec"] = _status_pipeline_spec(pipeline_spec, env, rng)
        for r in pipeline_spec.get("results", []):
            v = _resolve(r["value"], all_pparams, results, extra)
            refs = [m.group(1) for m in REF.finditer(str(r["value"]))]
            if all(fate.get(x) == "succeeded" for x in refs) and v not in ("", None, [], {}):
                pr_res_values.append({"name": r["name"], "value": v})
        if pr_res_values and outcome in ("succeeded", "failed"):
            status["results"] = pr_res_values
    children.sort(key=lambda c: c[0])
    child_refs = []
    for _, tr, pt in children:
        ref = {
            "apiVersion": "tekton.dev/v1",
            "kind": "TaskRun",
            "name": tr["metadata"]["name"],
            "pipelineTaskName": pt.name,
        }
        if pt.entry.get("when") and "cel" not in pt.entry["when"][0]:
            ref["whenExpressions"] = pt.entry["when"]
        if pt.entry.get("displayName"):
            ref["displayName"] = pt.entry["displayName"]
        child_refs.append(ref)
    if skipped:
        status["skippedTasks"] = skipped
    if finals and children and any(pt.finally_ for _, _, pt in children):
        status["finallyStartTime"] = timestamp(min(c[0] for c in children if c[2].finally_))
    prov: dict[str, Any] = {}
    if pr_ref_source is not None:
        prov["refSource"] = pr_ref_source
    if rng.random() < 0.9:
        prov["featureFlags"] = flags
    if prov and outcome != "unresolved":
        status["provenance"] = prov
    if rng.random() < 0.05:
        status["spanContext"] = {"traceparent": f"00-{hexs(rng, 32)}-{hexs(rng, 16)}-01"}

    items = [tr for _, tr, _ in children]
    # ---- the ways a PipelineRun gets no statement, or an unusual one
    if items and outcome in ("succeeded", "failed") and rng.random() < 0.1:
        kind = rng.choice(
            [
                "missing-child",
                "customrun-child",
                "child-not-done",
                "child-no-start",
                "broken-image-id",
                "child-no-start",
                "broken-image-id",
                "no-label",
            ]
        )
        victim = rng.choice(items)
        tags.add(f"special-{kind}")
        if kind == "missing-child":
            items.remove(victim)
        elif kind == "customrun-child":
            child_refs.append(
                {
                    "apiVersion": "tekton.dev/v1beta1",
                    "kind": "CustomRun",
                    "name": f"{pr_name}-approve",
                    "pipelineTaskName": "approve",
                }
            )
            status["pipelineSpec"].setdefault("tasks", []).append(
                {
                    "name": "approve",
                    "taskRef": {
                        "apiVersion": "openshift-pipelines.org/v1alpha1",
                        "kind": "ApprovalTask",
                        "name": "approve",
                    },
                }
            )
        elif kind == "child-not-done":
            victim["status"].pop("completionTime", None)
            victim["status"]["conditions"] = [
                condition(
                    "Unknown",
                    "Running",
                    "Not all Steps in the Task have finished executing",
                    t0 + 9,
                )
            ]
        elif kind == "child-no-start":
            victim["status"].pop("startTime", None)
        elif kind == "broken-image-id":
            broken_image_id(rng, victim["status"], tags)
        else:
            victim["metadata"]["labels"].pop("tekton.dev/pipelineTask", None)
    if child_refs:
        status["childReferences"] = child_refs

    meta: dict[str, Any] = {
        "name": pr_name,
        "namespace": ns,
        "uid": pr_uid,
        "generation": 1,
        "resourceVersion": str(rng.randint(10_000, 9_999_999)),
        "creationTimestamp": timestamp(t0 - 1),
        "labels": labels_pr,
    }
    if rng.random() < 0.6:
        meta["generateName"] = f"{pname}-"
    if ann_pr:
        meta["annotations"] = ann_pr
    if rng.random() < 0.3:
        meta["finalizers"] = ["chains.tekton.dev/pipelinerun"]
    if rng.random() < 0.04:
        meta["managedFields"] = [
            {
                "apiVersion": "tekton.dev/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {".": {}, "f:params": {}}},
                "manager": "kubectl-create",
                "operation": "Update",
                "time": timestamp(t0 - 1),
            }
        ]
        tags.add("managedFields")
    pr = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }
    order = rng.random()
    if order < 0.7:
        items.sort(key=lambda tr: tr["metadata"]["name"])  # kubectl lists by name
        tags.add("list-order-by-name")
    elif order < 0.85:
        rng.shuffle(items)
        tags.add("list-order-shuffled")
    return Case("PipelineRun", [pr] + items, tags)


def _child(
    rng: random.Random,
    env: Env,
    ns: str,
    pr_name: str,
    pr_uid: str,
    pname: str,
    pt: PTask,
    index: int | None,
    overlay: dict[str, Any],
    pparams: dict[str, Any],
    results: dict[str, dict[str, Any]],
    extra: dict[str, str],
    pr_spec: dict[str, Any],
    labels_pr: dict[str, str],
    ann_pr: dict[str, str],
    timing: Timing,
    state: str,
    flags: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name = f"{pr_name}-{pt.name}" + (f"-{index}" if index is not None else "")
    params = [
        {"name": p["name"], "value": _resolve(p["value"], pparams, results, extra)}
        for p in pt.entry.get("params", [])
    ]
    params += [{"name": k, "value": v} for k, v in overlay.items()]
    pvals = {p["name"]: p.get("default") for p in pt.td.spec.get("params", [])} | {
        p["name"]: p["value"] for p in params
    }
    spec: dict[str, Any] = {}
    if params:
        spec["params"] = params
    trt = pr_spec.get("taskRunTemplate", {})
    sa = trt.get("serviceAccountName", "default")
    for trs in pr_spec.get("taskRunSpecs", []):
        if trs["pipelineTaskName"] == pt.name and "serviceAccountName" in trs:
            sa = trs["serviceAccountName"]
    spec["serviceAccountName"] = sa
    if "taskRef" in pt.entry:
        ref = copy.deepcopy(pt.entry["taskRef"])
        if "resolver" not in ref:
            ref.setdefault("kind", "Task")
        spec["taskRef"] = ref
    else:
        ts = {k: v for k, v in pt.entry["taskSpec"].items() if k != "metadata"}
        spec["taskSpec"] = (
            go_marks(canonical_spellings(ts, rng), embedded=False)
            if env.canonical
            else copy.deepcopy(ts)
        )
    spec["timeout"] = (
        "1h0m0s"
        if "timeout" not in pt.entry
        else (canonical_spellings({"timeout": pt.entry["timeout"]}, rng)["timeout"])
    )
    if "podTemplate" in trt:
        spec["podTemplate"] = canonical_spellings(copy.deepcopy(trt["podTemplate"]), rng)
    if pt.entry.get("retries"):
        spec["retries"] = pt.entry["retries"]
    wss = []
    bound = {b["name"]: b for b in pr_spec.get("workspaces", [])}
    for w in pt.entry.get("workspaces", []):
        b = bound.get(w["workspace"])
        if not b:
            continue
        cw: dict[str, Any] = {"name": w["name"]}
        if "volumeClaimTemplate" in b or "persistentVolumeClaim" in b:
            cw["persistentVolumeClaim"] = {
                "claimName": b.get("persistentVolumeClaim", {}).get(
                    "claimName", f"pvc-{hexs(rng, 10)}"
                )
            }
        else:
            cw |= {k: copy.deepcopy(v) for k, v in b.items() if k != "name"}
        sub = "/".join(x for x in (b.get("subPath"), w.get("subPath")) if x)
        if sub:
            cw["subPath"] = sub
        wss.append(cw)
    if wss:
        spec["workspaces"] = wss
    if state == "cancelled":
        spec["status"] = "TaskRunCancelled"
        spec["statusMessage"] = (
            "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
        )
    for trs in pr_spec.get("taskRunSpecs", []):
        if trs["pipelineTaskName"] == pt.name:
            if "computeResources" in trs:
                spec["computeResources"] = canonical_spellings(trs["computeResources"], rng)
            if "stepSpecs" in trs:
                spec["stepSpecs"] = canonical_spellings(trs["stepSpecs"], rng)
    base_spec = pt.entry.get("taskSpec") or pt.td.spec
    base_spec = {k: v for k, v in base_spec.items() if k != "metadata"}
    resolved = substitute(base_spec, {k: v for k, v in pvals.items() if v is not None})
    if env.canonical:
        resolved = go_marks(canonical_spellings(resolved, rng), embedded=False)
    status, res = taskrun_status(
        rng,
        pt.td,
        pvals,
        name,
        timing,
        state,
        env,
        ref_source=pt.ref_source,
        resolved_spec=resolved,
        flags=flags,
    )
    if pt.entry.get("retries") and rng.random() < 0.5:
        status["retriesStatus"] = [
            {
                "conditions": [
                    condition("False", "Failed", "step exited with code 1", (timing.start or 0) + 5)
                ],
                "podName": f"{name}-pod-retry1",
                "startTime": timestamp((timing.start or 0) - 60),
                "completionTime": timestamp((timing.start or 0) - 5),
            }
        ]
        tags = env.tags
        tags.add("retriesStatus")
    labels = dict(labels_pr) | {
        "app.kubernetes.io/managed-by": "tekton-pipelines",
        "tekton.dev/memberOf": "finally" if pt.finally_ else "tasks",
        "tekton.dev/pipeline": pname,
        "tekton.dev/pipelineRun": pr_name,
        "tekton.dev/pipelineRunUID": pr_uid,
        "tekton.dev/pipelineTask": pt.name,
    }
    if "taskRef" in pt.entry and pt.entry["taskRef"].get("name"):
        labels["tekton.dev/task"] = pt.entry["taskRef"]["name"]
    md = pt.entry.get("taskSpec", {}).get("metadata", {})
    labels |= md.get("labels", {})
    ann = {
        k: v
        for k, v in ann_pr.items()
        if not k.startswith("chains.tekton.dev/")
        and k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if state != "running" and rng.random() < 0.5:
        ann["chains.tekton.dev/signed"] = "true"
        if rng.random() < 0.1:
            ann[f"chains.tekton.dev/payload-taskrun-{hexs(rng, 8)}"] = (
                "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjAuMSJ9"
            )
            ann[f"chains.tekton.dev/signature-taskrun-{hexs(rng, 8)}"] = "MEUCIQ" + hexs(rng, 40)
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ns,
        "uid": uid(rng),
        "generation": 1,
        "resourceVersion": str(rng.randint(10_000, 9_999_999)),
        "creationTimestamp": timestamp((timing.start or EPOCH0) - 1),
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": "tekton.dev/v1",
                "kind": "PipelineRun",
                "name": pr_name,
                "uid": pr_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if ann:
        meta["annotations"] = ann
    if rng.random() < 0.3:
        meta["finalizers"] = ["chains.tekton.dev"]
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }, res
