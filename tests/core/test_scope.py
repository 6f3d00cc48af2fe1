"""Per-artifact scope: which tasks an artifact's statement names, and why (graph reachability)."""

from __future__ import annotations

from provenance.core import SlsaConfig, parse_records
from provenance.core.graph import build_graph
from provenance.core.scope import ArtifactScope, artifact_scopes, in_scope_entries
from provenance.core.tekton import PipelineRun
from provenance.core.why import why_path, why_text

from .pipeline_builder import Task, digest, pipeline_run

DEEP = SlsaConfig(format="slsa/v2alpha4", deep_inspection=True)
IMAGE = "registry.example/team/app"


def _pr(tasks: list[Task], **kwargs: object) -> PipelineRun:
    runs = parse_records(pipeline_run(tasks, **kwargs))  # type: ignore[arg-type]
    assert len(runs) == 1 and isinstance(runs[0], PipelineRun)
    return runs[0]


def _image(seed: str, url: str = IMAGE) -> dict[str, str]:
    return {"IMAGE_URL": url, "IMAGE_DIGEST": f"sha256:{digest(seed)}"}


def _scope_for(scopes: list[ArtifactScope], name: str) -> ArtifactScope:
    return next(s for s in scopes if any(sub["name"] == name for sub in s.subjects))


def _tasks(scope: ArtifactScope) -> set[str]:
    return {i.pipeline_task for i in scope.included}


def _excluded(scope: ArtifactScope) -> dict[str, str]:
    return {e.pipeline_task: e.why for e in scope.excluded}


def _path(pr: PipelineRun, scope: ArtifactScope, task: str) -> str:
    """The task's path to the artifact as every reader prints it."""
    entries = in_scope_entries(scope, build_graph(pr))
    entry = next(e for e in entries if e["pipelineTask"] == task)
    return why_text(why_path(entry, entries))


def test_seed_example_clone_build_notify_keeps_only_the_build_chain() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "abc123"}),
            Task(
                "build-push",
                params={"COMMIT": "$(tasks.clone.results.commit)"},
                results=_image("app"),
            ),
            Task("slack-notify", run_after=["build-push"], status="False"),
        ],
        status="False",
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"clone", "build-push"}
    assert "slack-notify" in _excluded(scope)
    clone = next(i for i in scope.included if i.pipeline_task == "clone")
    # clone's own step names what it feeds, and leads to the producer; it never reads as if
    # clone produced the image.
    assert clone.why.startswith("feeds build-push: ")
    assert "$(tasks.clone.results.commit)" in clone.why
    assert "produces" not in clone.why
    assert clone.leads_to == "demo-build-push"
    build = next(i for i in scope.included if i.pipeline_task == "build-push")
    assert (build.why, build.leads_to) == ("produces the artifact (result IMAGE_DIGEST)", None)
    assert _path(pr, scope, "clone") == (
        "feeds build-push: params[COMMIT].value uses $(tasks.clone.results.commit)"
        " → build-push produces the artifact (result IMAGE_DIGEST)"
    )


def test_seed_example_two_independent_chains_get_separate_scopes() -> None:
    go_module = {
        "go-ARTIFACT_OUTPUTS": {
            "uri": "pkg:golang/example.com/tool@v1.2.3",
            "digest": f"sha256:{digest('go')}",
            "isBuildArtifact": "true",
        }
    }
    pr = _pr(
        [
            Task("clone1", results={"commit": "c1"}, workspaces=["src-go"]),
            Task(
                "build-push-go",
                params={"C": "$(tasks.clone1.results.commit)"},
                results=go_module,
                workspaces=["src-go"],
            ),
            Task("clone2", results={"commit": "c2"}, workspaces=["src-oci"]),
            Task(
                "build-push-oci",
                params={"C": "$(tasks.clone2.results.commit)"},
                results=_image("oci"),
                workspaces=["src-oci"],
            ),
        ]
    )
    scopes = artifact_scopes(pr, DEEP)
    assert _tasks(_scope_for(scopes, "pkg:golang/example.com/tool@v1.2.3")) == {
        "clone1",
        "build-push-go",
    }
    assert _tasks(_scope_for(scopes, IMAGE)) == {"clone2", "build-push-oci"}


def test_shared_writable_workspace_pulls_in_a_parallel_writer_with_its_reason() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "c"}, workspaces=["source"]),
            Task(
                "build",
                params={"C": "$(tasks.clone.results.commit)"},
                results=_image("app"),
                workspaces=["source"],
                start="2026-01-01T10:01:00Z",
                end="2026-01-01T10:05:00Z",
            ),
            Task("lint", workspaces=["source"], start="2026-01-01T10:02:00Z"),
        ]
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"clone", "build", "lint"}
    why_lint = next(i.why for i in scope.included if i.pipeline_task == "lint")
    assert "may have written workspace 'source'" in why_lint


def test_read_only_workspace_user_is_not_included() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "c"}, workspaces=["source"]),
            Task(
                "build",
                params={"C": "$(tasks.clone.results.commit)"},
                results=_image("app"),
                workspaces=["source"],
            ),
            Task("lint", workspaces=["source"], read_only=["source"]),
        ]
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"clone", "build"}


def test_writer_that_started_after_the_producer_finished_is_not_included() -> None:
    pr = _pr(
        [
            Task("build", results=_image("app"), workspaces=["source"], end="2026-01-01T10:05:00Z"),
            Task("cleanup", workspaces=["source"], start="2026-01-01T10:06:00Z"),
        ]
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"build"}


def test_writer_with_unknown_start_time_is_included_conservatively() -> None:
    docs = pipeline_run(
        [
            Task("build", results=_image("app"), workspaces=["source"]),
            Task("other", workspaces=["source"]),
        ]
    )
    del docs[2]["status"]["startTime"]
    (pr,) = parse_records(docs)
    assert isinstance(pr, PipelineRun)
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"build", "other"}


def test_disjoint_sub_paths_isolate_tasks_sharing_a_workspace() -> None:
    pr = _pr(
        [
            Task("build", results=_image("app"), workspaces=["source:app"]),
            Task("docs", workspaces=["source:docs"]),
            Task("nested", workspaces=["source:app/cache"]),
        ]
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"build", "nested"}


def test_empty_dir_workspace_is_not_shared_between_pods() -> None:
    pr = _pr(
        [
            Task("build", results=_image("app"), workspaces=["scratch"]),
            Task("other", workspaces=["scratch"]),
        ],
        workspace_binding={"emptyDir": {}},
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"build"}


def test_workspace_writer_brings_its_own_ancestors() -> None:
    pr = _pr(
        [
            Task("fetch-deps", results={"lock": "x"}),
            Task("vendor", params={"L": "$(tasks.fetch-deps.results.lock)"}, workspaces=["source"]),
            Task("build", results=_image("app"), workspaces=["source"]),
            Task("unrelated"),
        ]
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert _tasks(scope) == {"build", "vendor", "fetch-deps"}
    # fetch-deps → vendor → (workspace) build → produces
    path = _path(pr, scope, "fetch-deps").split(" → ")
    assert path[0].startswith("feeds vendor: ")
    assert path[1].startswith("vendor may have written workspace 'source' before build finished")
    assert path[2] == "build produces the artifact (result IMAGE_DIGEST)"


def test_finally_task_is_excluded_unless_it_produces_the_artifact() -> None:
    pr = _pr(
        [
            Task("build", results=_image("app"), workspaces=["source"]),
            Task("notify", is_finally=True, workspaces=["source"], status="False"),
            Task(
                "publish-sbom",
                is_finally=True,
                results=_image("sbom", "registry.example/team/sbom"),
                params={"IMG": "$(tasks.build.results.IMAGE_DIGEST)"},
            ),
        ]
    )
    scopes = artifact_scopes(pr, DEEP)
    app = _scope_for(scopes, IMAGE)
    assert _tasks(app) == {"build"}
    assert _excluded(app)["notify"] == "finally task that does not produce the artifact"
    sbom = _scope_for(scopes, "registry.example/team/sbom")
    assert _tasks(sbom) == {"publish-sbom", "build"}


def test_skipped_tasks_are_not_nodes_but_are_listed_as_excluded() -> None:
    pr = _pr(
        [
            Task("build", results=_image("app")),
            Task("scan", status=None, when=[{"input": "a", "operator": "in", "values": ["b"]}]),
        ],
        skipped=["scan"],
    )
    assert set(build_graph(pr).nodes) == {"demo-build"}
    (scope,) = artifact_scopes(pr, DEEP)
    excluded = {e.pipeline_task: (e.task_run, e.reason) for e in scope.excluded}
    assert excluded["scan"] == (None, "skipped")


def test_matrix_fan_out_cites_only_the_task_run_that_built_the_artifact() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "c"}),
            Task(
                "build",
                params={"C": "$(tasks.clone.results.commit)"},
                matrix={"params": [{"name": "arch", "value": ["amd64", "arm64"]}]},
                runs=2,
                results={
                    "IMAGE_URL": [f"{IMAGE}-amd64", f"{IMAGE}-arm64"],
                    "IMAGE_DIGEST": [f"sha256:{digest('amd64')}", f"sha256:{digest('arm64')}"],
                },
            ),
        ]
    )
    graph = build_graph(pr)
    assert {"demo-build-0", "demo-build-1"} <= set(graph.nodes)
    amd = _scope_for(artifact_scopes(pr, DEEP), f"{IMAGE}-amd64")
    assert amd.task_runs == {"demo-clone", "demo-build-0"}


def test_same_digest_from_two_branches_gives_one_scope_with_both_producers() -> None:
    pr = _pr(
        [
            Task("clone-a", results={"commit": "a"}),
            Task(
                "build-a", params={"C": "$(tasks.clone-a.results.commit)"}, results=_image("same")
            ),
            Task("clone-b", results={"commit": "b"}),
            Task(
                "build-b", params={"C": "$(tasks.clone-b.results.commit)"}, results=_image("same")
            ),
            Task("docs"),
        ]
    )
    (scope,) = artifact_scopes(pr, DEEP)
    assert scope.multiple_producers
    assert _tasks(scope) == {"clone-a", "build-a", "clone-b", "build-b"}
    assert set(_excluded(scope)) == {"docs"}


def test_pipeline_level_result_is_traced_to_its_task_without_deep_inspection() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "c"}),
            Task("build", params={"C": "$(tasks.clone.results.commit)"}, results=_image("app")),
            Task("test", run_after=["clone"]),
        ],
        pipeline_results={
            "IMAGE_URL": "$(tasks.build.results.IMAGE_URL)",
            "IMAGE_DIGEST": "$(tasks.build.results.IMAGE_DIGEST)",
        },
        run_results=_image("app"),
    )
    (scope,) = artifact_scopes(pr, SlsaConfig(format="slsa/v2alpha4"))
    assert _tasks(scope) == {"clone", "build"}
    (producer,) = scope.producers
    assert producer.task_run == "demo-build"
    assert "IMAGE_DIGEST (via pipeline result IMAGE_DIGEST)" in producer.results
    assert not scope.multiple_producers


def test_a_producer_found_through_several_results_is_named_once_with_all_of_them() -> None:
    pr = _pr(
        [Task("build", results=_image("app")), Task("test", run_after=["build"])],
        pipeline_results={
            "IMAGE_URL": "$(tasks.build.results.IMAGE_URL)",
            "IMAGE_DIGEST": "$(tasks.build.results.IMAGE_DIGEST)",
        },
        run_results=_image("app"),
    )
    (scope,) = artifact_scopes(pr, DEEP)  # the task's own result and the pipeline's
    assert [(p.task_run, p.results) for p in scope.producers] == [
        (
            "demo-build",
            ("IMAGE_DIGEST", "IMAGE_DIGEST (via pipeline result IMAGE_DIGEST)"),
        )
    ]
    assert not scope.multiple_producers
    assert _path(pr, scope, "build") == (
        "produces the artifact (results IMAGE_DIGEST, "
        "IMAGE_DIGEST (via pipeline result IMAGE_DIGEST))"
    )


def test_artifact_with_no_traceable_producer_keeps_every_task() -> None:
    pr = _pr(
        [Task("clone"), Task("build")],
        pipeline_results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{digest('lit')}"},
        run_results=_image("lit"),
    )
    (scope,) = artifact_scopes(pr, SlsaConfig(format="slsa/v1"))
    assert _tasks(scope) == {"clone", "build"}
    assert all("no producing task" in i.why for i in scope.included)


def _per_artifact_bytes(tasks: int) -> list[int]:
    from provenance.core.intoto import statement_bytes
    from provenance.core.plan import plan_statements

    from .pipeline_builder import chain_pipeline

    (pr,) = parse_records(chain_pipeline(tasks))
    plan = plan_statements(pr, DEEP, "per-artifact", "on-completion")
    assert len(plan.statements) == tasks  # one image per task
    return [len(statement_bytes(p.statement)) for p in plan.statements]


def test_per_artifact_statements_grow_with_tasks_times_artifacts_not_the_cube() -> None:
    # Issue 11, finding 3: each in-scope task repeated the whole chain to the artifact, so a
    # 500-task chain pipeline gave 657 MB of statements. Doubling the tasks (and so the
    # artifacts) now at most quadruples the total; the cube would make it eight times.
    small, large = _per_artifact_bytes(40), _per_artifact_bytes(80)
    assert sum(large) < 4.4 * sum(small)
    # The last artifact's statement names every task once: linear in the tasks.
    assert large[-1] < 2.2 * small[-1]


def test_a_chain_is_followed_through_leads_to() -> None:
    from .pipeline_builder import chain_pipeline

    (pr,) = parse_records(chain_pipeline(4))
    scope = artifact_scopes(pr, DEEP)[-1]  # t3's image: t0 → t1 → t2 → t3
    first = next(i for i in scope.included if i.pipeline_task == "t0")
    assert first.leads_to == "chain-t1"
    assert _path(pr, scope, "t0") == (
        "runs before t1 (runAfter) → t1 runs before t2 (runAfter) → t2 runs before t3 "
        "(runAfter) → t3 produces the artifact (result IMAGE_DIGEST)"
    )
