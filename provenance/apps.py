from __future__ import annotations

from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "provenance"
    verbose_name = "Provenance"
