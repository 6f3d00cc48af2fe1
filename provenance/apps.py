from __future__ import annotations

from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "provenance"
    verbose_name = "Provenance"

    def ready(self) -> None:
        # Register the Celery tasks in every process: the services queue them by name
        # (provenance.services.queue), so that writes never import the tasks that call them.
        from . import tasks  # noqa: F401
