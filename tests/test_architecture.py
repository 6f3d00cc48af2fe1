"""provenance/core stays pure Python: no web framework, task queue, DB driver or cluster client."""

from __future__ import annotations

import ast
from pathlib import Path

CORE_DIR = Path(__file__).resolve().parent.parent / "provenance" / "core"
FORBIDDEN = ("django", "rest_framework", "celery", "psycopg", "kubernetes")


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


# --- egress: one module -----------------------------------------------------------------------

APP_DIRS = [CORE_DIR.parent, CORE_DIR.parent.parent / "chainsweb"]
EGRESS_MODULE = CORE_DIR.parent / "registry.py"
# Client libraries that open connections. Their exception classes carry no network access, so
# ``urllib3.exceptions`` stays importable (the Kubernetes client raises them).
NETWORK_CLIENTS = ("urllib3", "requests", "httpx", "aiohttp", "http.client", "urllib.request")


def _network_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        for module in modules:
            if module == "urllib3.exceptions":
                continue
            if any(module == c or module.startswith(c + ".") for c in NETWORK_CLIENTS):
                found.append(f"{path.name} line {node.lineno}: {module}")
    return found


def test_only_the_registry_module_opens_connections_out() -> None:
    offenders = [
        hit
        for folder in APP_DIRS
        for path in sorted(folder.rglob("*.py"))
        if path != EGRESS_MODULE and "migrations" not in path.parts
        for hit in _network_imports(path)
    ]
    assert not offenders, "network clients outside provenance/registry.py:\n" + "\n".join(offenders)
    assert _network_imports(EGRESS_MODULE), "the egress module should be the one using urllib3"


def test_egress_detector_catches_clients(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import urllib3\nfrom urllib3.exceptions import HTTPError\nimport urllib.request\n"
        "from requests import get\nimport urllib.parse\n",
        encoding="utf-8",
    )
    assert _network_imports(sample) == [
        "bad.py line 1: urllib3",
        "bad.py line 3: urllib.request",
        "bad.py line 4: requests",
    ]
