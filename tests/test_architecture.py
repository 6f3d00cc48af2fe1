"""The layering, checked from the code's own imports.

- ``provenance/core`` stays pure Python: no web framework, task queue, DB driver or cluster
  client.
- Between the Django-side layers, each import must go down (``ALLOWED``): core < models and
  config < reads < writes < tasks, and reads < the shared web pieces < API and pages; reads
  never import writes, the API and the pages never import each other, nothing imports the
  tasks but the app's wiring. Metrics sit just above models (anything may count); sign-in
  (``sso``), probes (``ops``, ``health``) and the one egress module (``registry``) have layers
  of their own.
- No import circle between provenance's modules.

Every import counts: at module level, inside a function (a "lazy" import is still a
dependency) or under ``TYPE_CHECKING``. The checker is tested on synthetic graphs and files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "provenance"
CORE_DIR = PACKAGE / "core"
FORBIDDEN = ("django", "rest_framework", "celery", "psycopg", "kubernetes")

# Which layer a module is in: the first prefix that matches (``provenance.`` left out).
LAYERS = (
    ("core", ("core",)),
    ("models", ("models", "config", "migrations")),
    # Counters and timers (prometheus_client): anything above may record what it does.
    ("metrics", ("metrics",)),
    ("reads", ("reads",)),
    ("writes", ("services",)),
    ("tasks", ("tasks",)),
    ("web", ("access", "auth", "downloads", "exports", "security")),
    ("api", ("api",)),
    (
        "pages",
        (
            "views",
            "audit_views",
            "forms",
            "urls",
            "templatetags",
            "graph_layout",
            "sso.views",
            "sso.forms",
            "sso.urls",
        ),
    ),
    # Sign-in: the OIDC backend, the trusted-proxy middleware, the local-password policy. They
    # write (a user's first sign-in creates it), so they sit above the writes.
    ("auth", ("sso",)),
    # The one egress module (OCI registries); only the publishing service calls it
    # (EGRESS_USERS below).
    ("egress", ("registry",)),
    # Probes and the metrics endpoint: they check the database, the broker and the keys.
    ("ops", ("ops", "health")),
    ("commands", ("management",)),
    # The app's wiring: it may import anything (AppConfig.ready registers the tasks).
    ("wiring", ("apps", "admin", "")),
)
# What each layer may import, besides itself.
ALLOWED = {
    "core": set(),
    "models": {"core"},
    "metrics": {"core", "models"},
    "reads": {"core", "models"},
    "egress": {"core"},
    "writes": {"core", "models", "metrics", "reads", "egress"},
    "tasks": {"core", "models", "metrics", "writes"},
    "web": {"core", "models", "metrics", "reads"},
    "api": {"core", "models", "metrics", "reads", "writes", "web"},
    "pages": {"core", "models", "metrics", "reads", "writes", "web", "auth"},
    "auth": {"core", "models", "metrics", "reads", "writes", "web", "ops"},
    "ops": {"core", "models", "metrics", "reads", "writes"},
    "commands": {"core", "models", "metrics", "reads", "writes", "ops"},
    "wiring": {layer for layer, _ in LAYERS},
}

Graph = dict[str, set[str]]

# The modules that may import the egress module: the publishing service, which the publishing
# queue's task and ``publish_attestations`` call.
EGRESS_USERS = {"provenance.services.publish"}


# =============================================================================================
# The checker


def _is_forbidden(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top in FORBIDDEN


def _forbidden_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_forbidden(alias.name):
                    found.append(f"line {node.lineno}: import {alias.name}")
        # Relative imports (level > 0) stay inside the core package.
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and _is_forbidden(node.module)
        ):
            names = ", ".join(a.name for a in node.names)
            found.append(f"line {node.lineno}: from {node.module} import {names}")
    return found


def module_of(path: Path, root: Path) -> str:
    """``root/a/b.py`` → ``<root name>.a.b``; a package's ``__init__.py`` is the package."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that the file imports, anywhere in it. ``from a import b`` is
    module ``a.b`` when that is a module, else ``a``; relative imports are resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: package.count(".") + 2 - node.level]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # The longest known module the name starts with (``a.b.c`` → ``a.b``).
            parts = target.split(".")
            for end in range(len(parts), 0, -1):
                if ".".join(parts[:end]) in known:
                    found.add(".".join(parts[:end]))
                    break
    found.discard(module)
    return found


def import_graph(root: Path) -> Graph:
    files = {module_of(p, root): p for p in sorted(root.rglob("*.py"))}
    known = set(files)
    return {module: imported_modules(path, module, known) for module, path in files.items()}


def layer_of(module: str) -> str:
    rest = module.partition(".")[2]
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if rest == prefix or rest.startswith(prefix + ".") or (not prefix and not rest):
                return layer
    return "wiring" if not rest else "unlisted"


def layer_violations(graph: Graph) -> list[str]:
    """Every import that goes against ``ALLOWED``, and every module in no layer."""
    problems = []
    for module in sorted(graph):
        source = layer_of(module)
        if source == "unlisted":
            problems.append(f"{module} is in no layer (add it to LAYERS)")
            continue
        for target in sorted(graph[module]):
            wanted = layer_of(target)
            if wanted != source and wanted not in ALLOWED[source]:
                problems.append(f"{module} ({source}) imports {target} ({wanted})")
    return problems


def circles(graph: Graph) -> list[list[str]]:
    """The import circles: each strongly connected set of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> Iterator[None]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                yield from visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))
        yield None

    for node in sorted(graph):
        if node not in index:
            for _ in visit(node):
                pass
    return found


# =============================================================================================
# The rules, on the real code


def _core_files() -> list[Path]:
    return sorted(CORE_DIR.rglob("*.py"))


def test_core_package_exists_and_has_python_files() -> None:
    assert CORE_DIR.is_dir(), f"{CORE_DIR} is missing"
    assert _core_files(), f"no .py files under {CORE_DIR}"


def test_core_imports_no_framework_or_io_libraries() -> None:
    problems = []
    for path in _core_files():
        rel = path.relative_to(CORE_DIR.parent.parent)
        problems += [f"{rel} {hit}" for hit in _forbidden_imports(path)]
    assert not problems, (
        "provenance/core must not import " + ", ".join(FORBIDDEN) + ":\n" + ("\n".join(problems))
    )


def test_imports_follow_the_layers() -> None:
    graph = import_graph(PACKAGE)
    # The graph is the real one: reads and writes exist and are seen importing what they use.
    assert "provenance.services" in graph["provenance.tasks"]
    assert "provenance.reads.verify" in graph["provenance.reads.gate"]
    problems = layer_violations(graph)
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_only_the_publishing_service_opens_connections_to_registries() -> None:
    graph = import_graph(PACKAGE)
    users = {module for module, targets in graph.items() if "provenance.registry" in targets}
    assert users == EGRESS_USERS


def test_no_import_circles() -> None:
    found = circles(import_graph(PACKAGE))
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


# =============================================================================================
# The checker, on synthetic code


def test_detector_catches_submodule_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import os\n"
        "import django.db\n"
        "from rest_framework import serializers\n"
        "from celery.app import task\n"
        "import psycopg as pg\n"
        "from kubernetes.client import V1Pod\n"
        "from . import django\n"
        "import djangoish\n",
        encoding="utf-8",
    )
    assert _forbidden_imports(sample) == [
        "line 2: import django.db",
        "line 3: from rest_framework import serializers",
        "line 4: from celery.app import task",
        "line 5: import psycopg",
        "line 6: from kubernetes.client import V1Pod",
    ]


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    root = tmp_path / "provenance"
    files = {
        "__init__.py": "",
        "models.py": "",
        "reads/__init__.py": "",
        "reads/runs.py": "from provenance.models import RunRecord\n",
        "reads/gate.py": (
            "from typing import TYPE_CHECKING\n"
            "from . import runs\n"
            "from .runs import RunRecord\n"
            "if TYPE_CHECKING:\n"
            "    from ..services import ingest\n"
            "def later():\n"
            "    import provenance.tasks\n"
        ),
        "services/__init__.py": "from .ingest import records_ingest\n",
        "services/ingest.py": "from provenance import models\nimport json\n",
        "tasks.py": "from provenance import services\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    graph = import_graph(root)
    assert graph["provenance.reads.gate"] == {
        "provenance.reads.runs",
        "provenance.services.ingest",
        "provenance.tasks",
    }
    assert graph["provenance.services"] == {"provenance.services.ingest"}
    assert graph["provenance.services.ingest"] == {"provenance.models"}
    assert graph["provenance.tasks"] == {"provenance.services"}
    assert layer_violations(graph) == [
        "provenance.reads.gate (reads) imports provenance.services.ingest (writes)",
        "provenance.reads.gate (reads) imports provenance.tasks (tasks)",
    ]


def test_the_checker_fails_when_a_rule_is_broken() -> None:
    graph: Graph = {
        "provenance.core.plan": {"provenance.models"},
        "provenance.models": set(),
        "provenance.reads.runs": {"provenance.services.ingest", "provenance.models"},
        "provenance.services.ingest": {"provenance.reads.runs", "provenance.tasks"},
        "provenance.tasks": {"provenance.services.ingest"},
        "provenance.api.views": {"provenance.views"},
        "provenance.views": {"provenance.reads.runs"},
        "provenance.newthing": set(),
    }
    assert layer_violations(graph) == [
        "provenance.api.views (api) imports provenance.views (pages)",
        "provenance.core.plan (core) imports provenance.models (models)",
        "provenance.newthing is in no layer (add it to LAYERS)",
        "provenance.reads.runs (reads) imports provenance.services.ingest (writes)",
        "provenance.services.ingest (writes) imports provenance.tasks (tasks)",
    ]
    assert circles(graph) == [
        ["provenance.reads.runs", "provenance.services.ingest", "provenance.tasks"]
    ]


def test_a_module_importing_itself_through_its_package_is_a_circle() -> None:
    graph: Graph = {"provenance.a": {"provenance.b"}, "provenance.b": {"provenance.b"}}
    assert circles(graph) == [["provenance.b"]]
    assert circles({"provenance.a": {"provenance.b"}, "provenance.b": set()}) == []
