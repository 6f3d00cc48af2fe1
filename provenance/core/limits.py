"""Limits on the work one record may cause (docs/security.md, "Bounded work").

A small record can ask for a great deal: a 400 KB chain pipeline of 500 tasks names 500
artifacts, each with up to 500 tasks in scope. The engine checks these limits while it plans,
and refuses with :class:`TooLarge` (a permanent error the service records on the run) rather
than build statements no one could store or sign.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ProvenanceError


class TooLarge(ProvenanceError):
    """A record, or what it asks for, is over one of the limits; the message names the limit
    (its setting), the size found and the limit."""

    def __init__(self, what: str, size: int, limit: int, setting: str) -> None:
        super().__init__(f"too large: {what} ({size:,}) is over the limit of {limit:,} ({setting})")
        self.setting = setting
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Limits:
    """None: no limit (the engine's CLI); the service passes the deployment's settings."""

    tasks: int | None = None  # TaskRuns of one PipelineRun (PROVENANCE_MAX_TASKS)
    statement_bytes: int | None = None  # one statement (PROVENANCE_MAX_STATEMENT_BYTES)
    run_statement_bytes: int | None = None  # all of one run's (PROVENANCE_MAX_RUN_STATEMENT_BYTES)

    def check_tasks(self, count: int, run: str) -> None:
        if self.tasks is not None and count > self.tasks:
            raise TooLarge(f"TaskRuns of {run}", count, self.tasks, "PROVENANCE_MAX_TASKS")


class StatementBudget:
    """Counts the bytes of a run's statements as they are made, refusing the one that goes over
    a limit (so a run over the limit stops early instead of building everything first)."""

    __slots__ = ("_limits", "_total")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._total = 0

    def add(self, size: int, subject: str) -> None:
        one = self._limits.statement_bytes
        if one is not None and size > one:
            raise TooLarge(
                f"the statement of {subject}, in bytes", size, one, "PROVENANCE_MAX_STATEMENT_BYTES"
            )
        self._total += size
        total = self._limits.run_statement_bytes
        if total is not None and self._total > total:
            raise TooLarge(
                "the run's statements, in bytes",
                self._total,
                total,
                "PROVENANCE_MAX_RUN_STATEMENT_BYTES",
            )
