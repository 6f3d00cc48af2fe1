"""Namespace settings: how each namespace's runs are attested; every change is audited and
re-signs the namespace's runs in the background."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

from provenance.config import SETTINGS_FIELDS, NamespaceConfig, check_fields, defaults
from provenance.models import NamespaceSettings, SettingsAudit, SigningKey

from . import queue


def _settings_snapshot(row: NamespaceSettings) -> dict[str, Any]:
    snapshot = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    snapshot["signing_key"] = row.signing_key.key_id if row.signing_key else None
    return snapshot


def namespace_settings_update(
    *,
    namespace: str,
    changes: dict[str, Any],
    actor: str,
    signing_key: SigningKey | None = None,
) -> NamespaceSettings:
    """Change a namespace's settings; audit the change and recompute its runs after commit.

    ConfigError (a FormatError) names an unknown field or a bad value; nothing is saved then.
    """
    check_fields(changes)
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
            current = NamespaceConfig.from_values(_settings_snapshot(row))
            old = _settings_snapshot(row)
        for name, value in current.changed(changes).values().items():
            setattr(row, name, value)
        if signing_key is not None:
            row.signing_key = signing_key
        new = _settings_snapshot(row)
        if new == old:
            return row
        row.save()
        SettingsAudit.objects.create(namespace=namespace, actor=actor[:300], old=old, new=new)
        queue.on_commit(_enqueue_namespace_recompute, namespace)
    return row


def _enqueue_namespace_recompute(namespace: str) -> None:
    current_app.tasks[queue.NAMESPACE_RECOMPUTE_TASK].delay(namespace)
