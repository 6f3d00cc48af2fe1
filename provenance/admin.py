"""Admin: mostly read-only windows on the stored state. Writes go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    ApiToken,
    Attestation,
    ChainEntry,
    NamespaceSettings,
    Publication,
    RunRecord,
    SettingsAudit,
    SigningKey,
    WatchState,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RunRecord)
class RunRecordAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "namespace", "status", "compute_status", "updated"]
    list_filter = ["kind", "compute_status", "namespace"]
    search_fields = ["name", "uid", "namespace"]
    exclude = ["raw"]


@admin.register(Attestation)
class AttestationAdmin(ReadOnlyAdmin):
    list_display = ["id", "namespace", "run", "format", "scope", "run_status", "created"]
    list_filter = ["namespace", "format", "scope"]
    exclude = ["statement", "envelope"]


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    list_display = ["reference", "kind", "namespace", "status", "attempts", "updated"]
    list_filter = ["status", "kind", "namespace"]
    search_fields = ["reference", "image", "last_error"]


@admin.register(ChainEntry)
class ChainEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "attestation", "entry_hash", "created"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["key_id", "algorithm", "namespace", "purpose", "created"]


@admin.register(NamespaceSettings)
class NamespaceSettingsAdmin(ReadOnlyAdmin):
    list_display = ["namespace", "format", "scope", "emit", "signing_key", "updated"]


@admin.register(SettingsAudit)
class SettingsAuditAdmin(ReadOnlyAdmin):
    list_display = ["namespace", "actor", "changed"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix", "role", "namespaces", "expires_at", "revoked_at"]
    exclude = ["token_hash"]


@admin.register(WatchState)
class WatchStateAdmin(ReadOnlyAdmin):
    list_display = ["key", "resource_version", "updated"]
