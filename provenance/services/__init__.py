"""Writes, split by domain: ingest and linking, queueing, namespace settings, signing keys,
compute and sign (attest), publishing to OCI registries (publish), retention (pruning raw
records), API tokens, watch state.

Every function takes keyword arguments and is the only way its rows get written. The core engine
(``provenance.core``) does the parsing, planning and signing; these modules store the results.
Reads (``provenance.reads``) never import this package.
"""

from __future__ import annotations

from .attest import (
    CHAIN_LOCK,
    ComputeOutcome,
    attestations_generate,
    inputs_digest,
    run_compute,
    run_compute_fail,
)
from .ingest import (
    IngestedRecord,
    IngestResult,
    NamespaceForbidden,
    RecordSource,
    UidConflict,
    is_newer,
    records_ingest,
)
from .keys import checkpoint_signer, signer_load, signing_key_create
from .namespaces import namespace_settings_update
from .publish import (
    PublishDeferred,
    PublishOutcome,
    publication_attempt,
    publications_backfill,
    publications_due,
)
from .queue import (
    computes_publish,
    enqueue_compute,
    namespace_runs_recompute,
    runs_requeue_pending,
)
from .retention import NamespacePruning, records_prune
from .runviews import run_view_compute, run_view_request
from .tokens import TOKEN_PREFIX, api_token_create, api_token_revoke
from .trust import signing_key_revoke
from .watch import watch_event_ingest, watch_state_save

__all__ = [
    "CHAIN_LOCK",
    "TOKEN_PREFIX",
    "ComputeOutcome",
    "IngestResult",
    "IngestedRecord",
    "NamespaceForbidden",
    "NamespacePruning",
    "PublishDeferred",
    "PublishOutcome",
    "RecordSource",
    "UidConflict",
    "api_token_create",
    "api_token_revoke",
    "attestations_generate",
    "computes_publish",
    "enqueue_compute",
    "checkpoint_signer",
    "inputs_digest",
    "is_newer",
    "namespace_runs_recompute",
    "namespace_settings_update",
    "publication_attempt",
    "publications_backfill",
    "publications_due",
    "records_ingest",
    "records_prune",
    "run_compute",
    "run_view_compute",
    "run_view_request",
    "run_compute_fail",
    "runs_requeue_pending",
    "signer_load",
    "signing_key_create",
    "signing_key_revoke",
    "watch_event_ingest",
    "watch_state_save",
]
