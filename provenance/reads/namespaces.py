"""Namespaces: which ones a caller can pick, their effective settings, the settings audit and
the recompute progress shown to their admins."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from provenance.config import (
    PUBLISH_FIELDS,
    RETENTION_FIELDS,
    SETTINGS_FIELDS,
    NamespaceConfig,
    defaults,
)
from provenance.models import (
    ComputeStatus,
    NamespaceGrant,
    NamespaceSettings,
    RunRecord,
    SettingsAudit,
    SigningKey,
    top_level_q,
)


def namespace_settings_effective(namespace: str) -> tuple[NamespaceConfig, SigningKey | None]:
    """The settings a namespace's runs are attested under, and its own key (None: the default
    key), in one query."""
    row = (
        NamespaceSettings.objects.filter(namespace=namespace).select_related("signing_key").first()
    )
    if row is None:
        return defaults(), None
    return _config_of(row), row.signing_key


def _config_of(row: NamespaceSettings) -> NamespaceConfig:
    """A settings row as a config (its key read through ``select_related``)."""
    key = row.signing_key
    values = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    others = {name: getattr(row, name) for name in (*RETENTION_FIELDS, *PUBLISH_FIELDS)}
    return NamespaceConfig.from_values(values, key=key.key_id if key else None, **others)


def namespace_settings_view(namespace: str) -> dict[str, Any]:
    """The effective settings with the namespace's key id and whether it has settings of its
    own (the API's settings output)."""
    config, _ = namespace_settings_effective(namespace)
    return {
        "namespace": namespace,
        **config.values(),
        "signing_key": config.key,
        "configured": NamespaceSettings.objects.filter(namespace=namespace).exists(),
        **config.retention(),
        **config.publishing(),
    }


def namespace_names(namespaces: set[str] | None) -> list[str]:
    """Namespaces the caller can pick: their grants, or (staff) every namespace with data."""
    if namespaces is not None:
        return sorted(namespaces)
    names = set(RunRecord.objects.values_list("namespace", flat=True).distinct())
    names.update(NamespaceSettings.objects.values_list("namespace", flat=True))
    return sorted(names)


def namespace_exists(namespace: str) -> bool:
    """Does anything name this namespace (a run, settings or a grant)?"""
    return (
        RunRecord.objects.filter(namespace=namespace).exists()
        or NamespaceSettings.objects.filter(namespace=namespace).exists()
        or NamespaceGrant.objects.filter(namespace=namespace).exists()
    )


def settings_audit(namespace: str) -> QuerySet[SettingsAudit]:
    return SettingsAudit.objects.filter(namespace=namespace).order_by("-changed", "-id")


def audit_changes(entry: SettingsAudit) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for what one audit entry changed.

    The first entry of a namespace has no old values: it is compared with the deployment
    defaults, so it shows what the person actually chose.
    """
    old = entry.old if isinstance(entry.old, dict) else {}
    new = entry.new if isinstance(entry.new, dict) else {}
    if SettingsAudit.PRUNED in new:
        return []  # not a change of settings: ``audit_note`` says what was pruned
    if not old:
        base = defaults()
        old = {**base.values(), "signing_key": None, **base.retention(), **base.publishing()}
    names = [*SETTINGS_FIELDS, "signing_key", *RETENTION_FIELDS, *PUBLISH_FIELDS]
    names += sorted(k for k in {*old, *new} if k not in names)
    return [
        (name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name) and (name in new or name in old)
    ]


def recompute_progress(namespace: str) -> dict[str, int]:
    """Top-level runs of the namespace by compute status (one grouped query)."""
    counts = dict.fromkeys(ComputeStatus.values, 0)
    rows = (
        RunRecord.objects.filter(top_level_q(), namespace=namespace)
        .values_list("compute_status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        counts[status] = n
    counts.pop(ComputeStatus.CHILD, None)
    counts["total"] = sum(counts.values())
    return counts


def audit_note(entry: SettingsAudit) -> str:
    """What an entry that changed no setting did, in words (a pruning of raw records)."""
    new = entry.new if isinstance(entry.new, dict) else {}
    pruned = new.get(SettingsAudit.PRUNED)
    if not isinstance(pruned, dict):
        return ""
    return (
        f"pruned the raw records of {pruned.get('runs', 0)} run(s) "
        f"({pruned.get('records', 0)} records, {pruned.get('bytes', 0):,} bytes) completed "
        f"before {str(pruned.get('completed_before', '?'))[:10]}, under the "
        f"{pruned.get('retention_days')}-day retention; their attestations are kept"
    )


def legal_hold_entry(namespace: str) -> SettingsAudit | None:
    """The audit entry that set the namespace's legal hold now in force (who, when, why)."""
    return (
        SettingsAudit.objects.filter(namespace=namespace, new__legal_hold=True)
        .exclude(old__legal_hold=True)
        .order_by("-changed", "-id")
        .first()
    )


def namespace_retention(names: list[str]) -> dict[str, NamespaceConfig]:
    """The effective settings (for their retention) of each named namespace, in one query."""
    rows = {
        row.namespace: row
        for row in NamespaceSettings.objects.filter(namespace__in=names).select_related(
            "signing_key"
        )
    }
    fallback = defaults()
    return {name: _config_of(rows[name]) if name in rows else fallback for name in names}


def pruned_runs(namespace: str) -> int:
    """Top-level runs of the namespace whose raw record was pruned."""
    return RunRecord.objects.filter(
        top_level_q(), namespace=namespace, pruned_at__isnull=False
    ).count()
