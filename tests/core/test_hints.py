"""Type hints (spec §6): which results name artifacts, validation, normalisation, merging."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.core import RecordError, parse_records
from provenance.core.hints import (
    Artifact,
    artifact_uri_pairs,
    build_artifact_outputs,
    git_source,
    image_repository,
    images,
    is_subject_result,
    merge,
    parse_digest,
    structured_artifacts,
    subjects_build_artifacts,
    subjects_v02,
)
from provenance.core.intoto import DescriptorList
from provenance.core.slsa._common import pipeline_run_git, task_run_git
from provenance.core.tekton import PipelineRun, Result, TaskRun

from .builders import hex64, param, pipeline_run, result, sha256, task_run

HEX_A = hex64("a")
HEX_B = hex64("b")
SHA1 = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def rs(*pairs: tuple[str, Any]) -> list[Result]:
    """Results from (name, value) pairs, values as the parser would give them."""
    return [Result(name, value) for name, value in pairs]


def image(name: str, hex_: str = HEX_A) -> Artifact:
    return Artifact(name, "sha256", hex_)


# --- *IMAGE_URL / *IMAGE_DIGEST -----------------------------------------------------------------


def test_image_pair_gives_a_normalised_image() -> None:
    found = images(rs(("IMAGE_URL", "gcr.io/team/app"), ("IMAGE_DIGEST", sha256("a"))))
    assert found == [image("gcr.io/team/app")]


@pytest.mark.parametrize("marker", ["app-", "foo", "app_", "x.y-"])
def test_image_pair_is_matched_by_marker_prefix(marker: str) -> None:
    found = images(
        rs((f"{marker}IMAGE_URL", "gcr.io/team/app"), (f"{marker}IMAGE_DIGEST", sha256("a")))
    )
    assert found == [image("gcr.io/team/app")]


def test_image_pairs_with_different_markers_are_separate() -> None:
    found = images(
        rs(
            ("app-IMAGE_URL", "gcr.io/team/app"),
            ("web-IMAGE_URL", "gcr.io/team/web"),
            ("web-IMAGE_DIGEST", sha256("b")),
            ("app-IMAGE_DIGEST", sha256("a")),
        )
    )
    assert sorted(found, key=lambda a: a.uri) == [
        image("gcr.io/team/app"),
        image("gcr.io/team/web", HEX_B),
    ]


def test_image_url_and_digest_with_different_markers_do_not_pair() -> None:
    assert images(rs(("app-IMAGE_URL", "gcr.io/team/app"), ("IMAGE_DIGEST", sha256("a")))) == []


@pytest.mark.parametrize(
    "results",
    [
        [("IMAGE_URL", "gcr.io/team/app")],
        [("IMAGE_DIGEST", sha256("a"))],
        [("IMAGE_URL", ""), ("IMAGE_DIGEST", sha256("a"))],
        [("IMAGE_URL", "gcr.io/team/app"), ("IMAGE_DIGEST", "   ")],
    ],
)
def test_unpaired_or_empty_image_hint_is_ignored(results: list[tuple[str, str]]) -> None:
    assert images(rs(*results)) == []


def test_image_hint_values_are_trimmed() -> None:
    found = images(rs(("IMAGE_URL", " gcr.io/team/app\n"), ("IMAGE_DIGEST", f"\t{sha256('a')}\n")))
    assert found == [image("gcr.io/team/app")]


def test_image_hint_suffix_is_case_sensitive() -> None:
    assert images(rs(("image_url", "gcr.io/team/app"), ("image_digest", sha256("a")))) == []


def test_array_valued_image_hint_is_ignored() -> None:
    assert images(rs(("IMAGE_URL", ["gcr.io/team/app"]), ("IMAGE_DIGEST", sha256("a")))) == []


# --- image validation and normalisation (spec §6.2, §6.3) -------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("gcr.io/team/app", "gcr.io/team/app"),
        ("registry/myimage", "index.docker.io/registry/myimage"),
        ("abc", "index.docker.io/library/abc"),
        ("docker.io/abc", "index.docker.io/library/abc"),
        ("docker.io/team/abc", "index.docker.io/team/abc"),
        ("index.docker.io/abc", "index.docker.io/library/abc"),
        ("gcr.io/team/app:v1.2.3", "gcr.io/team/app"),
        ("abc:latest", "index.docker.io/library/abc"),
        ("localhost:5000/foo", "localhost:5000/foo"),
        ("localhost:5000/foo:1.0", "localhost:5000/foo"),
        # go-containerregistry: a first segment named localhost is a registry too
        ("localhost/foo", "localhost/foo"),
        ("[::1]:5000/app", "[::1]:5000/app"),
        ("reg.io/app:-tag", "reg.io/app"),
        ("host:5000", "index.docker.io/library/host"),
        ("oci://gcr.io/foo/bar", "oci://gcr.io/foo/bar"),
        ("https://gcr.io/foo/bar", "https://gcr.io/foo/bar"),
        ("quay.io/a/b/c/d", "quay.io/a/b/c/d"),
    ],
)
def test_image_names_are_normalised(url: str, expected: str) -> None:
    assert image_repository(f"{url}@{sha256('a')}") == (expected, HEX_A)


@pytest.mark.parametrize(
    "reference",
    [
        f"gcr.io/team/app@sha512:{'a' * 128}",
        f"gcr.io/team/app@sha1:{SHA1}",
        f"gcr.io/team/app@sha256:{'A' * 64}",
        f"gcr.io/team/app@sha256:{'a' * 63}",
        f"gcr.io/team/app@sha256:{'a' * 65}",
        f"gcr.io/team/app@{HEX_A}",
        f"gcr.io/team/app@{sha256('a')}@{sha256('b')}",
        f"gcr.io/team/app@sha256:{HEX_A}@{sha256('a')}",
        "gcr.io/team/app",
        f"gcr.io/Team/App@{sha256('a')}",
        f"gcr.io/team/app:@{sha256('a')}",
        f"gcr.io/team/app:bad/tag@{sha256('a')}",
        f"a@{sha256('a')}",
        f"@{sha256('a')}",
        f"gcr.io/team app@{sha256('a')}",
        # the registry must survive Go's url.Parse("//" + registry) unchanged
        f"pkg:oci/app@{sha256('a')}",
        f"[1.2.3.4]/app@{sha256('a')}",
        f"re%67.io/app@{sha256('a')}",
        f"a.b:80x/app@{sha256('a')}",
    ],
)
def test_invalid_image_references_are_rejected(reference: str) -> None:
    assert image_repository(reference) is None


def test_image_url_that_already_has_a_digest_is_rejected() -> None:
    url = f"gcr.io/team/app@{sha256('a')}"
    assert images(rs(("IMAGE_URL", url), ("IMAGE_DIGEST", sha256("a")))) == []


def test_image_pair_with_sha512_digest_is_rejected() -> None:
    assert (
        images(rs(("IMAGE_URL", "gcr.io/team/app"), ("IMAGE_DIGEST", "sha512:" + "a" * 128))) == []
    )


# --- IMAGES -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        f"gcr.io/t/a@{sha256('a')},gcr.io/t/b@{sha256('b')}",
        f"gcr.io/t/a@{sha256('a')}\ngcr.io/t/b@{sha256('b')}",
        f"  gcr.io/t/a@{sha256('a')} ,\n\n , gcr.io/t/b@{sha256('b')}\n",
        f"gcr.io/t/a:v1@{sha256('a')},\ngcr.io/t/b:latest@{sha256('b')},",
    ],
)
def test_images_result_is_split_on_commas_and_newlines(value: str) -> None:
    assert images(rs(("IMAGES", value))) == [image("gcr.io/t/a"), image("gcr.io/t/b", HEX_B)]


def test_images_result_drops_invalid_entries_and_keeps_valid_ones() -> None:
    value = (
        f"gcr.io/t/a@{sha256('a')},gcr.io/no-digest:v1,gcr.io/b@sha512:{'b' * 128},cc@{sha256('b')}"
    )
    assert images(rs(("IMAGES", value))) == [
        image("gcr.io/t/a"),
        image("index.docker.io/library/cc", HEX_B),
    ]


def test_images_needs_the_exact_result_name() -> None:
    assert images(rs(("app-IMAGES", f"gcr.io/a@{sha256('a')}"))) == []


# --- *ARTIFACT_URI / *ARTIFACT_DIGEST -------------------------------------------------------


@pytest.mark.parametrize(
    ("digest", "key", "hex_"),
    [
        (sha256("a"), "sha256", HEX_A),
        ("sha384:" + "c" * 96, "sha384", "c" * 96),
        ("sha512:" + "d" * 128, "sha512", "d" * 128),
        ("sha1:" + SHA1, "sha1", SHA1),
        ("SHA256:" + HEX_A, "SHA256", HEX_A),
    ],
)
def test_artifact_pair_keeps_raw_uri_and_digest_key(digest: str, key: str, hex_: str) -> None:
    found = artifact_uri_pairs(rs(("jar-ARTIFACT_URI", "app.jar"), ("jar-ARTIFACT_DIGEST", digest)))
    assert found == [Artifact("app.jar", key, hex_)]


def test_artifact_pair_uri_is_not_normalised_as_an_image() -> None:
    found = artifact_uri_pairs(rs(("ARTIFACT_URI", "abc"), ("ARTIFACT_DIGEST", sha256("a"))))
    assert found == [Artifact("abc", "sha256", HEX_A)]


def test_artifact_pair_with_invalid_digest_is_ignored() -> None:
    found = artifact_uri_pairs(rs(("ARTIFACT_URI", "app.jar"), ("ARTIFACT_DIGEST", "md5:abcd")))
    assert found == []


def test_unpaired_artifact_uri_is_ignored() -> None:
    assert artifact_uri_pairs(rs(("ARTIFACT_URI", "app.jar"))) == []


# --- digest validation for artifacts (spec §6.2) ------------------------------------------------


@pytest.mark.parametrize(
    ("digest", "parsed"),
    [
        (sha256("a"), ("sha256", HEX_A)),
        ("sha384:" + "c" * 96, ("sha384", "c" * 96)),
        ("sha512:" + "d" * 128, ("sha512", "d" * 128)),
        ("sha1:" + SHA1, ("sha1", SHA1)),
        ("SHA256:" + HEX_A, ("sha256", HEX_A)),
        (" Sha256 :" + HEX_A, ("sha256", HEX_A)),
    ],
)
def test_valid_artifact_digests_parse(digest: str, parsed: tuple[str, str]) -> None:
    assert parse_digest(digest) == parsed


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "g" * 64,
        "sha512:" + HEX_A,
        "sha1:" + "a" * 64,
        "sha1:" + SHA1.upper(),
        "md5:" + "a" * 32,
        "sha224:" + "a" * 56,
        HEX_A,
        "sha256:" + HEX_A + ":x",
        "sha256::" + HEX_A,
        "sha256:",
        ":" + HEX_A,
        "",
    ],
)
def test_invalid_artifact_digests_are_rejected(digest: str) -> None:
    assert parse_digest(digest) is None


# --- *ARTIFACT_OUTPUTS / *ARTIFACT_INPUTS -------------------------------------------------------


def output(uri: str, digest: str, build: str | None = None) -> dict[str, str]:
    obj = {"uri": uri, "digest": digest}
    if build is not None:
        obj["isBuildArtifact"] = build
    return obj


def test_artifact_outputs_with_and_without_marker_are_structured_artifacts() -> None:
    results = rs(
        ("a-ARTIFACT_OUTPUTS", output("pkg:a", sha256("a"), "true")),
        ("b-ARTIFACT_OUTPUTS", output("pkg:b", sha256("b"))),
        ("c-ARTIFACT_OUTPUTS", output("pkg:c", sha256("a"), "false")),
    )
    assert [a.uri for a in structured_artifacts(results, "ARTIFACT_OUTPUTS")] == [
        "pkg:a",
        "pkg:b",
        "pkg:c",
    ]


@pytest.mark.parametrize(("flag", "is_build"), [("true", True), ("True", False), ("false", False)])
def test_build_artifact_needs_is_build_artifact_exactly_true(flag: str, is_build: bool) -> None:
    results = rs(("ARTIFACT_OUTPUTS", output("pkg:a", sha256("a"), flag)))
    assert bool(build_artifact_outputs(results)) is is_build


def test_boolean_is_build_artifact_is_refused_like_any_non_string_object_value() -> None:
    # Tekton object results hold strings only; Chains' decoder rejects the whole record.
    with pytest.raises(RecordError, match="an object of strings"):
        parse_records(
            [
                task_run(
                    status_results=[
                        result(
                            "ARTIFACT_OUTPUTS",
                            {"uri": "aa", "digest": sha256("a"), "isBuildArtifact": True},
                        )
                    ]
                )
            ]
        )


@pytest.mark.parametrize(
    "obj",
    [
        {"digest": sha256("a")},
        {"uri": "", "digest": sha256("a")},
        {"uri": "pkg:a"},
        {"uri": "pkg:a", "digest": ""},
        {"uri": "pkg:a", "digest": "sha256:"},
        {"uri": "pkg:a", "sha256": HEX_A},
    ],
)
def test_invalid_structured_artifacts_are_dropped(obj: dict[str, str]) -> None:
    results = rs(
        ("x-ARTIFACT_INPUTS", obj), ("y-ARTIFACT_OUTPUTS", {**obj, "isBuildArtifact": "true"})
    )
    assert structured_artifacts(results, "ARTIFACT_INPUTS") == []
    assert build_artifact_outputs(results) == []


def test_string_valued_structured_hint_is_ignored() -> None:
    results = rs(("ARTIFACT_INPUTS", "pkg:a"), ("ARTIFACT_OUTPUTS", "pkg:b"))
    assert structured_artifacts(results, "ARTIFACT_INPUTS") == []
    assert structured_artifacts(results, "ARTIFACT_OUTPUTS") == []


def test_artifact_inputs_keep_raw_uri() -> None:
    results = rs(("src-ARTIFACT_INPUTS", output("https://github.com/org/repo", "sha1:" + SHA1)))
    assert structured_artifacts(results, "ARTIFACT_INPUTS") == [
        Artifact("https://github.com/org/repo", "sha1", SHA1)
    ]


def test_inputs_are_not_outputs() -> None:
    results = rs(("ARTIFACT_INPUTS", output("pkg:a", sha256("a"), "true")))
    assert structured_artifacts(results, "ARTIFACT_OUTPUTS") == []
    assert build_artifact_outputs(results) == []


def test_build_artifact_output_that_parses_as_image_is_also_an_image() -> None:
    results = rs(("ARTIFACT_OUTPUTS", output("abc", sha256("a"), "true")))
    assert images(results) == [image("index.docker.io/library/abc")]
    assert images(results, include_build_artifacts=False) == []


def test_non_build_artifact_output_is_not_an_image() -> None:
    assert images(rs(("ARTIFACT_OUTPUTS", output("gcr.io/a/b", sha256("a"))))) == []


def test_build_artifact_with_uppercase_algorithm_is_not_an_image() -> None:
    results = rs(("ARTIFACT_OUTPUTS", output("gcr.io/a/b", "SHA256:" + HEX_A, "true")))
    assert build_artifact_outputs(results) == [Artifact("gcr.io/a/b", "SHA256", HEX_A)]
    assert images(results) == []


# --- per-format subject lists (spec §6.5) ------------------------------------------------------


def test_v02_subjects_give_raw_and_normalised_names_for_one_build_artifact() -> None:
    results = rs(("ARTIFACT_OUTPUTS", output("abc", sha256("a"), "true")))
    assert [a.uri for a in subjects_v02(results)] == ["index.docker.io/library/abc", "abc"]


def test_v02_subjects_include_outputs_without_marker_and_artifact_pairs() -> None:
    results = rs(
        ("IMAGE_URL", "gcr.io/a/img"),
        ("IMAGE_DIGEST", sha256("a")),
        ("ARTIFACT_URI", "app.jar"),
        ("ARTIFACT_DIGEST", sha256("b")),
        ("ARTIFACT_OUTPUTS", output("pkg:x", sha256("b"))),
    )
    assert [a.uri for a in subjects_v02(results)] == ["gcr.io/a/img", "app.jar", "pkg:x"]


def test_v2alpha4_subjects_are_build_artifacts_then_images_without_artifact_pairs() -> None:
    results = rs(
        ("IMAGE_URL", "gcr.io/a/img"),
        ("IMAGE_DIGEST", sha256("a")),
        ("ARTIFACT_URI", "app.jar"),
        ("ARTIFACT_DIGEST", sha256("b")),
        ("plain-ARTIFACT_OUTPUTS", output("pkg:x", sha256("b"))),
        ("bin-ARTIFACT_OUTPUTS", output("App.bin", sha256("b"), "true")),
    )
    assert [a.uri for a in subjects_build_artifacts(results)] == ["App.bin", "gcr.io/a/img"]


def test_lowercase_build_artifact_uri_also_parses_as_an_image() -> None:
    # "pkg:bin" reads as image "pkg" with tag "bin", as go-containerregistry reads it.
    results = rs(("ARTIFACT_OUTPUTS", output("pkg:bin", sha256("b"), "true")))
    assert [a.uri for a in subjects_build_artifacts(results)] == [
        "pkg:bin",
        "index.docker.io/library/pkg",
    ]


def test_same_image_from_pair_and_images_is_listed_once() -> None:
    results = rs(
        ("IMAGE_URL", "gcr.io/a/img"),
        ("IMAGE_DIGEST", sha256("a")),
        ("IMAGES", f"gcr.io/a/img:v1@{sha256('a')}"),
    )
    assert subjects_v02(results) == [image("gcr.io/a/img")]


@pytest.mark.parametrize(
    ("name", "value", "subject_like"),
    [
        ("IMAGE_URL", "anything", True),
        ("x-IMAGE_DIGEST", "not-a-digest", True),
        ("IMAGES", "", True),
        ("ARTIFACT_OUTPUTS", {"uri": "u", "digest": "bad", "isBuildArtifact": "true"}, True),
        ("ARTIFACT_OUTPUTS", "a string", True),
        ("ARTIFACT_OUTPUTS", {"uri": "u", "digest": sha256("a")}, False),
        ("ARTIFACT_URI", "app.jar", False),
        ("ARTIFACT_INPUTS", {"uri": "u", "digest": sha256("a")}, False),
        ("app-IMAGES", "x", False),
        ("CHAINS-GIT_URL", "https://g", False),
    ],
)
def test_subject_like_results_for_v2alpha4_byproducts(
    name: str, value: Any, subject_like: bool
) -> None:
    assert is_subject_result(Result(name, value)) is subject_like


# --- merging (spec §6.4) ------------------------------------------------------------------------


def test_same_name_sharing_a_digest_pair_is_merged() -> None:
    subjects = DescriptorList("name")
    subjects.add("pkg:a", {"sha256": HEX_A})
    subjects.add("pkg:a", {"sha256": HEX_A, "sha512": "d" * 128})
    assert subjects.entries == [{"name": "pkg:a", "digest": {"sha256": HEX_A, "sha512": "d" * 128}}]


def test_same_name_with_different_digest_is_kept_apart() -> None:
    subjects = DescriptorList("name")
    subjects.add("pkg:a", {"sha256": HEX_A})
    subjects.add("pkg:a", {"sha256": HEX_B})
    assert subjects.entries == [
        {"name": "pkg:a", "digest": {"sha256": HEX_A}},
        {"name": "pkg:a", "digest": {"sha256": HEX_B}},
    ]


def test_same_digest_with_different_name_is_kept_apart() -> None:
    materials = DescriptorList("uri")
    materials.extend([("oci://a", {"sha256": HEX_A}), ("oci://b", {"sha256": HEX_A})])
    assert [m["uri"] for m in materials.entries] == ["oci://a", "oci://b"]


def test_merge_keeps_first_occurrence_order_and_drops_exact_repeats() -> None:
    artifacts = [image("b"), image("a"), image("b"), image("a", HEX_B)]
    assert merge(artifacts) == [image("b"), image("a"), image("a", HEX_B)]


def test_merged_entry_stays_at_its_first_position() -> None:
    subjects = DescriptorList("name")
    subjects.add("x", {"sha256": HEX_A})
    subjects.add("y", {"sha256": HEX_B})
    subjects.add("x", {"sha256": HEX_A, "sha1": SHA1})
    assert [(s["name"], sorted(s["digest"])) for s in subjects.entries] == [
        ("x", ["sha1", "sha256"]),
        ("y", ["sha256"]),
    ]


# --- CHAINS-GIT_* precedence (spec §6.1) ------------------------------------------------------


def git_task_run(
    defaults: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    results: dict[str, str] | None = None,
) -> TaskRun:
    obj = task_run(
        spec_params=[
            {"name": k, "type": "string", "default": v} for k, v in (defaults or {}).items()
        ],
        params=[param(k, v) for k, v in (params or {}).items()],
        status_results=[result(k, v) for k, v in (results or {}).items()],
    )
    run = parse_records([obj])[0]
    assert isinstance(run, TaskRun)
    return run


URL, COMMIT = "CHAINS-GIT_URL", "CHAINS-GIT_COMMIT"


def test_git_hint_defaults_are_used_alone() -> None:
    tr = git_task_run(defaults={URL: "https://d", COMMIT: "d1"})
    assert task_run_git(tr) == ("https://d", "d1")


def test_git_hint_params_override_defaults() -> None:
    tr = git_task_run(defaults={URL: "https://d", COMMIT: "d1"}, params={COMMIT: "p1"})
    assert task_run_git(tr) == ("https://d", "p1")


def test_git_hint_results_override_params_and_defaults() -> None:
    tr = git_task_run(
        defaults={URL: "https://d", COMMIT: "d1"},
        params={URL: "https://p", COMMIT: "p1"},
        results={URL: "https://r"},
    )
    assert task_run_git(tr) == ("https://r", "p1")


def test_git_hint_commit_is_not_validated() -> None:
    assert task_run_git(git_task_run(params={URL: "u", COMMIT: "sha:taskrun"})) == (
        "u",
        "sha:taskrun",
    )


def test_pipeline_run_git_hints_use_the_same_precedence() -> None:
    obj = pipeline_run(
        spec_params=[
            {"name": URL, "default": "https://d"},
            {"name": COMMIT, "default": "d1"},
        ],
        params=[param(URL, "https://p")],
        status_results=[result(COMMIT, "r1")],
    )
    pr = parse_records([obj])[0]
    assert isinstance(pr, PipelineRun)
    assert pipeline_run_git(pr) == ("https://p", "r1")


def test_git_source_reads_an_array_value_as_the_empty_string() -> None:
    # Chains reads ParamValue.StringVal, which is "" for an array: a later array-valued
    # CHAINS-GIT_URL clears the earlier URL (and then no git material is written).
    assert git_source([[(URL, "https://a"), (COMMIT, "c")], [(URL, ["x"])]]) == ("", "c")


def _append_artifacts(items: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    """Chains' AppendMaterials, step by step: the first entry with the same name that shares a
    pair takes the new digest into its own map; anything else is appended."""
    entries: list[dict[str, Any]] = []
    for name, digest in items:
        for entry in entries:
            if entry["uri"] == name and any(
                digest.get(alg) == hex_ for alg, hex_ in entry["digest"].items()
            ):
                entry["digest"].update(digest)
                break
        else:
            entries.append({"uri": name, "digest": dict(digest)})
    return entries


_small_digests = st.dictionaries(
    st.sampled_from(["sha1", "sha256", "sha512"]), st.sampled_from(["a", "b", "c"]), min_size=1
)


@given(st.lists(st.tuples(st.sampled_from(["oci://x", "oci://y"]), _small_digests), max_size=12))
def test_descriptor_list_merges_as_chains_does(items: list[tuple[str, dict[str, str]]]) -> None:
    materials = DescriptorList("uri")
    materials.extend(items)
    assert materials.entries == _append_artifacts(items)
