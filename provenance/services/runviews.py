"""The deep inspection view of a run page, computed by a worker and kept (``RunView``).

A run page with ``?deep=1`` shows every artifact the run's TaskRuns name, with its scope. That
costs what per-artifact planning costs, so the web request never computes it (docs/security.md,
"Bounded work"): it asks for a view of the run's current records and settings, a worker computes
it within the limits, and the page shows it once it is ready.
"""

from __future__ import annotations

import logging

from django.conf import settings

from provenance.core.errors import ProvenanceError, RecordError
from provenance.core.limits import TooLarge
from provenance.core.scope import artifact_scopes
from provenance.core.tekton import PipelineRun
from provenance.models import RunRecord, RunView
from provenance.reads.namespaces import namespace_settings_effective
from provenance.reads.rundetail import deep_config, run_view_inputs, scopes_encode
from provenance.reads.runs import parse_run, run_children

from . import queue
from .limits import engine_limits

logger = logging.getLogger(__name__)


def run_view_request(*, record: RunRecord, inputs: str) -> RunView:
    """The view of ``record`` made from ``inputs`` (``reads.rundetail.run_view_inputs``):
    the stored one, or a new pending one queued for a worker."""
    view, created = RunView.objects.get_or_create(run=record, inputs=inputs)
    if not created and view.status == RunView.Status.FAILED and view.error.startswith("not queued"):
        RunView.objects.filter(pk=view.pk).update(status=RunView.Status.PENDING, error="")
        created = True
    if created:
        queue.on_commit(queue.enqueue_view, view.pk)
    view.refresh_from_db()  # without a broker the view was computed right here
    return view


def run_view_compute(*, view_id: int) -> str:
    """Compute a pending view (idempotent: a ready or failed one is left as it is)."""
    view = RunView.objects.select_related("run").filter(pk=view_id).first()
    if view is None or view.status != RunView.Status.PENDING:
        return view.status if view is not None else "missing"
    record = view.run
    try:
        config, _ = namespace_settings_effective(record.namespace)
        children = list(run_children(record, with_records=True))
        engine_limits().check_tasks(len(children), f"PipelineRun {record.name}")
        if run_view_inputs(record, children, config) != view.inputs:
            raise RecordError("the run or its settings changed since this view was asked for")
        run = parse_run(record, children)
        if not isinstance(run, PipelineRun):
            raise RecordError(f"{record.kind} {record.name} is not a PipelineRun")
        payload = scopes_encode(artifact_scopes(run, deep_config(config).slsa))
        limit = settings.PROVENANCE_MAX_RUN_STATEMENT_BYTES
        if len(payload) > limit:
            raise TooLarge(
                "the deep view, in bytes", len(payload), limit, "PROVENANCE_MAX_RUN_STATEMENT_BYTES"
            )
        view.status, view.payload, view.error = RunView.Status.READY, payload, ""
    except (ProvenanceError, StopIteration, ValueError) as exc:
        logger.warning("deep view of run %s failed: %s", record.pk, exc)
        view.status, view.error = RunView.Status.FAILED, str(exc) or type(exc).__name__
    view.save(update_fields=["status", "payload", "error", "updated"])
    return str(view.status)
