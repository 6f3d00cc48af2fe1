"""The ``compute_provenance`` command line, without Django (``python -m provenance.core.cli``).

Reads TaskRun/PipelineRun records (JSON or YAML; one object, a ``kind: List`` as written by
``kubectl get ... -o json``, or multi-document YAML) from files or stdin (``-``) and prints one
in-toto statement per line, compact JSON, for each run in input order. Nothing is signed or
stored. ``manage.py compute_provenance`` is the same command; this entry point exists because it
starts in a quarter of the time (no Django, Celery or database driver to import).

Exit status: 0 when every input was read (runs that are not done yet only get a note on stderr),
2 when an input or an option is unusable; each problem is one line on stderr.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from .documents import load_documents
from .errors import ProvenanceError
from .intoto import statement_bytes
from .plan import Plan, plan_statements, validate_policy
from .slsa.config import BUILD_TYPE_SLSA, BUILD_TYPE_SLSA_TEKTON, DEFAULT_BUILDER_ID, SlsaConfig
from .tekton import Run, parse_records

STDIN = "-"
# Chains' ConfigMap takes the full URLs; the short forms save typing on the command line.
BUILD_TYPE_ALIASES = {"slsa": BUILD_TYPE_SLSA, "slsa-tekton": BUILD_TYPE_SLSA_TEKTON}
DESCRIPTION = (
    "Print the provenance statements Tekton Chains would produce for TaskRun/PipelineRun "
    "records (JSON or YAML files, '-' for stdin), one compact JSON statement per line."
)
Write = Callable[[str], None]


def add_arguments(parser: ArgumentParser) -> None:
    """The command's options (shared with ``manage.py compute_provenance``)."""
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="record file (JSON or YAML); '-' reads stdin"
    )
    parser.add_argument(
        "--format",
        default="slsa/v2alpha4",
        metavar="FORMAT",
        help=(
            "Chains format name: slsa/v1 or in-toto (SLSA v0.2), slsa/v2alpha3 or "
            "slsa/v2alpha4 (SLSA v1.0). Default: slsa/v2alpha4"
        ),
    )
    parser.add_argument(
        "--deep-inspection",
        action="store_true",
        help="also read child TaskRuns' results (artifacts.pipelinerun.enable-deep-inspection)",
    )
    parser.add_argument(
        "--builder-id",
        default=DEFAULT_BUILDER_ID,
        metavar="URL",
        help=f"builder.id (default: {DEFAULT_BUILDER_ID})",
    )
    parser.add_argument(
        "--build-type",
        default=BUILD_TYPE_SLSA,
        metavar="URL",
        help=(
            "builddefinition.buildtype for SLSA v1.0: a URL, or 'slsa' / 'slsa-tekton' "
            f"(default: {BUILD_TYPE_SLSA})"
        ),
    )
    parser.add_argument(
        "--per-artifact",
        action="store_true",
        help="one statement per artifact of a PipelineRun instead of one per run",
    )
    parser.add_argument(
        "--emit",
        default="on-completion",
        metavar="POLICY",
        help=(
            "when a statement is due: on-completion (as Chains: the run is done), on-success, "
            "or on-artifact (with --per-artifact). Default: on-completion"
        ),
    )
    parser.add_argument(
        "--explain", action="store_true", help="explain each run's statements on stderr"
    )


def run(options: Mapping[str, Any], out: Write, err: Write, stdin: BinaryIO) -> int:
    """Run the command; ``out``/``err`` take one line each. Returns the exit status."""
    scope = "per-artifact" if options["per_artifact"] else "per-run"
    emit: str = options["emit"]
    try:
        cfg = SlsaConfig(
            format=options["format"],
            builder_id=options["builder_id"],
            build_type=BUILD_TYPE_ALIASES.get(options["build_type"], options["build_type"]),
            deep_inspection=options["deep_inspection"],
        )
        validate_policy(scope, emit)
    except ProvenanceError as exc:
        err(f"compute_provenance: {exc}")
        return 2

    failed = False
    for path in options["paths"]:
        label = "<stdin>" if path == STDIN else path
        try:
            data = stdin.read() if path == STDIN else _read(path)
            lines = _statements_for(label, data, cfg, scope, emit, bool(options["explain"]), err)
        except (ProvenanceError, _RunProblem) as exc:
            problem = f"{label}: {exc}"
        except OSError as exc:
            problem = f"{label}: cannot read: {exc.strerror or exc}"
        except UnicodeDecodeError as exc:
            problem = f"{label}: the input is not UTF-8 text: {exc}"
        else:
            for line in lines:
                out(line)
            continue
        err(problem)
        failed = True
    return 2 if failed else 0


class _RunProblem(Exception):
    """An engine error for one run of an input, its message prefixed with the run."""


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _statements_for(
    label: str, data: bytes, cfg: SlsaConfig, scope: str, emit: str, explain: bool, err: Write
) -> list[str]:
    """Every statement of one input, compact JSON; built in full before anything is printed,
    so that a file either prints all its statements or reports one problem."""
    lines: list[str] = []
    for run_ in parse_records(load_documents(data)):
        try:
            plan = plan_statements(run_, cfg, scope, emit, explain=explain)
        except ProvenanceError as exc:
            raise _RunProblem(f"{_describe(run_)}: {exc}") from None
        if explain:
            waiting = "; ".join(_waiting_text(plan)) or "none"
            err(
                f"run {run_.meta.kind}/{run_.meta.name or '(unnamed)'}: "
                f"{len(plan.statements)} statement(s), waiting: {waiting}"
            )
            if plan.explanation:
                err(plan.explanation)
        if not plan.statements:
            reasons = "; ".join(_waiting_text(plan)) or "nothing to attest"
            err(f"{label}: {_describe(run_)}: no statement: {reasons}")
        lines.extend(statement_bytes(planned.statement).decode() for planned in plan.statements)
    return lines


def _describe(run_: Run) -> str:
    return f"{run_.meta.kind} {run_.meta.name or '(unnamed)'}"


def _waiting_text(plan: Plan) -> list[str]:
    return [
        f"{item.subject}: {item.reason}" if item.subject else item.reason for item in plan.waiting
    ]


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m provenance.core.cli", description=DESCRIPTION)
    add_arguments(parser)
    options = vars(parser.parse_args(argv))

    def write(stream: Any) -> Write:
        return lambda line: stream.write(line + "\n")

    return run(options, write(sys.stdout), write(sys.stderr), sys.stdin.buffer)


if __name__ == "__main__":
    sys.exit(main())
