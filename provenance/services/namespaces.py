"""Namespace settings: how each namespace's runs are attested, and how long their raw records
are kept; every change is audited, and a change to how statements are made re-signs the
namespace's runs in the background."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

from provenance.config import (
    MAX_REASON,
    PUBLISH_FIELDS,
    RETENTION_FIELDS,
    SETTINGS_FIELDS,
    ConfigError,
    NamespaceConfig,
    check_fields,
    defaults,
)
from provenance.models import NamespaceSettings, SettingsAudit, SigningKey

from . import queue

# What a statement is made under: a change to one of these re-signs the namespace's runs.
_SHAPING = (*SETTINGS_FIELDS, "signing_key")


def _settings_snapshot(row: NamespaceSettings) -> dict[str, Any]:
    snapshot = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    snapshot["signing_key"] = row.signing_key.key_id if row.signing_key else None
    snapshot.update((name, getattr(row, name)) for name in (*RETENTION_FIELDS, *PUBLISH_FIELDS))
    return snapshot


def namespace_settings_update(
    *,
    namespace: str,
    changes: dict[str, Any],
    actor: str,
    signing_key: SigningKey | None = None,
    reason: str = "",
) -> NamespaceSettings:
    """Change a namespace's settings; audit the change (with ``reason`` when given) and, when
    it changes how statements are made, recompute the namespace's runs after commit.

    ``changes`` may hold the retention fields too (``retention_days``, ``legal_hold``): they
    re-sign nothing, and setting or lifting a legal hold needs a reason. So may the publishing
    fields (``oci_publish``, ``oci_repository``, ``oci_insecure``): they re-sign nothing either,
    and apply to attestations signed from then on (``publish_attestations`` backfills).

    ConfigError (a FormatError) names an unknown field or a bad value; nothing is saved then.
    """
    check_fields(changes)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ConfigError("reason", f"the reason is over {MAX_REASON} characters")
    with transaction.atomic():
        row = (
            NamespaceSettings.objects.select_for_update(of=("self",))
            .select_related("signing_key")
            .filter(namespace=namespace)
            .first()
        )
        if row is None:
            current = defaults()
            row = NamespaceSettings(namespace=namespace)
            old: dict[str, Any] = {}
        else:
            old = _settings_snapshot(row)
            current = NamespaceConfig.from_values(
                old, **{name: old[name] for name in (*RETENTION_FIELDS, *PUBLISH_FIELDS)}
            )
        updated = current.changed(changes)
        if updated.legal_hold != current.legal_hold and not reason:
            raise ConfigError("reason", "setting or lifting a legal hold needs a reason")
        for name, value in (
            *updated.values().items(),
            *updated.retention().items(),
            *updated.publishing().items(),
        ):
            setattr(row, name, value)
        if signing_key is not None:
            row.signing_key = signing_key
        new = _settings_snapshot(row)
        if new == old:
            return row
        row.save()
        SettingsAudit.objects.create(
            namespace=namespace, actor=actor[:300], old=old, new=new, reason=reason
        )
        # Before this row existed, the runs were signed under the defaults.
        before = old or {**current.values(), "signing_key": None}
        if any(new[name] != before[name] for name in _SHAPING):
            queue.on_commit(_enqueue_namespace_recompute, namespace)
    return row


def _enqueue_namespace_recompute(namespace: str) -> None:
    current_app.tasks[queue.NAMESPACE_RECOMPUTE_TASK].delay(namespace)
