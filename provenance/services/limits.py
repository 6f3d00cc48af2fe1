"""The deployment's limits on the work one record may cause (docs/security.md, "Bounded work";
the settings in docs/operations.md, "Limits")."""

from __future__ import annotations

from django.conf import settings

from provenance.core.limits import Limits


def engine_limits() -> Limits:
    return Limits(
        tasks=settings.PROVENANCE_MAX_TASKS,
        statement_bytes=settings.PROVENANCE_MAX_STATEMENT_BYTES,
        run_statement_bytes=settings.PROVENANCE_MAX_RUN_STATEMENT_BYTES,
    )
