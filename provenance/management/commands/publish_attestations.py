"""``manage.py publish_attestations [--namespace NS] [--failed]``: backfill and retry the
publications of signed attestations to OCI registries (docs/oci.md).

First it makes the publications missing for the current attestations of every namespace that
publishes (``oci_publish``), or of ``--namespace``: attestations signed before publishing was
turned on. Then it publishes, one by one and in this process, every pending publication, and
with ``--failed`` the failed ones too. Each line says what happened to a reference; a registry
that still refuses leaves it failed with the reason. Exit status 1 when any failed, 2 for bad
input.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.config import NAMESPACE_NAME
from provenance.models import Publication
from provenance.reads.namespaces import namespace_settings_effective
from provenance.services import publication_attempt, publications_backfill, publications_due


class Command(BaseCommand):
    help = "Publish signed attestations to OCI registries: backfill, and retry failures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", help="only this namespace")
        parser.add_argument("--failed", action="store_true", help="retry failed publications too")

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if namespace is not None:
            if not NAMESPACE_NAME.fullmatch(namespace):
                raise CommandError(
                    f"{namespace!r} is not a Kubernetes namespace name", returncode=2
                )
            config, _ = namespace_settings_effective(namespace)
            if not config.oci_publish:
                raise CommandError(
                    f"namespace {namespace} does not publish to OCI registries (oci_publish "
                    "is off in its settings)",
                    returncode=2,
                )
        planned = publications_backfill(namespace=namespace)
        due = publications_due(namespace=namespace, failed=options["failed"])
        counts = {Publication.Status.PUBLISHED: 0, Publication.Status.FAILED: 0}
        for publication_id in due:
            outcome = publication_attempt(publication_id=publication_id, raise_retryable=False)
            if outcome.status == Publication.Status.PUBLISHED:
                counts[Publication.Status.PUBLISHED] += 1
                note = "" if outcome.appended else " (already there)"
                self.stdout.write(f"published {outcome.reference}{note}")
            elif outcome.status == Publication.Status.FAILED:
                counts[Publication.Status.FAILED] += 1
                self.stdout.write(f"failed    {outcome.reference}: {outcome.error}")
        failed = counts[Publication.Status.FAILED]
        self.stdout.write(
            f"{planned} publication(s) backfilled; {len(due)} tried: "
            f"{counts[Publication.Status.PUBLISHED]} published, {failed} failed"
        )
        if failed:
            raise SystemExit(1)
