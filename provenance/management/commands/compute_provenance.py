"""``manage.py compute_provenance``: the statements Tekton Chains would write, from run records.

Reads TaskRun/PipelineRun records (JSON or YAML; one object, a ``kind: List`` as written by
``kubectl get ... -o json``, or multi-document YAML) from files or stdin (``-``) and prints one
in-toto statement per line, compact JSON, for each run in input order. Nothing is signed or
stored, and the database is never touched: the command works without DATABASE_URL and without
starting the embedded Postgres.

Exit status: 0 when every input was read (runs that are not done yet only get a note on stderr),
2 when an input or an option is unusable; each problem is one line on stderr.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from provenance.core import ProvenanceError, SlsaConfig, load_documents, parse_records
from provenance.core.plan import Plan, plan_statements, validate_policy
from provenance.core.slsa.config import (
    BUILD_TYPE_SLSA,
    BUILD_TYPE_SLSA_TEKTON,
    DEFAULT_BUILDER_ID,
)
from provenance.core.tekton import Run

STDIN = "-"
# Chains' ConfigMap takes the full URLs; the short forms save typing on the command line.
BUILD_TYPE_ALIASES = {"slsa": BUILD_TYPE_SLSA, "slsa-tekton": BUILD_TYPE_SLSA_TEKTON}


class _RunProblem(Exception):
    """An engine error for one run of an input, its message prefixed with the run."""


class Command(BaseCommand):
    help = (
        "Print the provenance statements Tekton Chains would produce for TaskRun/PipelineRun "
        "records (JSON or YAML files, '-' for stdin), one compact JSON statement per line."
    )
    # Pure computation: no system checks (some of them query the database) and no migrations.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: ArgumentParser) -> None:
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

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[str] = options["paths"]
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
            self._fail([f"compute_provenance: {exc}"])
            return

        problems: list[str] = []
        for path in paths:
            label = "<stdin>" if path == STDIN else path
            try:
                lines = self._statements_for(label, self._read(path), cfg, scope, emit, options)
            except (ProvenanceError, _RunProblem) as exc:
                problems.append(f"{label}: {exc}")
                continue
            except OSError as exc:
                problems.append(f"{label}: cannot read: {exc.strerror or exc}")
                continue
            except UnicodeDecodeError as exc:
                problems.append(f"{label}: the input is not UTF-8 text: {exc}")
                continue
            for line in lines:
                self.stdout.write(line)
        if problems:
            self._fail(problems)

    def _read(self, path: str) -> bytes:
        if path == STDIN:
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()

    def _statements_for(
        self,
        label: str,
        data: bytes,
        cfg: SlsaConfig,
        scope: str,
        emit: str,
        options: dict[str, Any],
    ) -> list[str]:
        """Every statement of one input, compact JSON; built in full before anything is printed,
        so that a file either prints all its statements or reports one problem."""
        lines: list[str] = []
        for run in parse_records(load_documents(data)):
            try:
                plan = plan_statements(run, cfg, scope, emit, explain=options["explain"])
            except ProvenanceError as exc:
                raise _RunProblem(f"{_describe(run)}: {exc}") from None
            if options["explain"]:
                self._explain(run, plan)
            if not plan.statements:
                reasons = "; ".join(_waiting_text(plan)) or "nothing to attest"
                self.stderr.write(f"{label}: {_describe(run)}: no statement: {reasons}")
            lines.extend(orjson.dumps(planned.statement).decode() for planned in plan.statements)
        return lines

    def _explain(self, run: Run, plan: Plan) -> None:
        waiting = "; ".join(_waiting_text(plan)) or "none"
        self.stderr.write(
            f"run {run.meta.kind}/{run.meta.name or '(unnamed)'}: "
            f"{len(plan.statements)} statement(s), waiting: {waiting}"
        )
        if plan.explanation:
            self.stderr.write(plan.explanation)

    def _fail(self, problems: list[str]) -> None:
        """Report each problem on one line and exit with status 2 (a CommandError when the
        command is called from code, so callers can catch it)."""
        for problem in problems:
            self.stderr.write(problem)
        if getattr(self, "_called_from_command_line", False):
            sys.exit(2)
        raise CommandError("; ".join(problems), returncode=2)


def _describe(run: Run) -> str:
    return f"{run.meta.kind} {run.meta.name or '(unnamed)'}"


def _waiting_text(plan: Plan) -> list[str]:
    return [
        f"{item.subject}: {item.reason}" if item.subject else item.reason for item in plan.waiting
    ]
