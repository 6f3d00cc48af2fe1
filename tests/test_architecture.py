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
