"""``manage.py requeue_pending``: queue again the runs that are still pending.

The catch-up sweep after a broker outage (runs marked "not queued: broker unavailable"), and,
with ``--include-failed``, after a signing key was restored. Run it from cron or a Kubernetes
CronJob; it is idempotent.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from provenance.services import runs_requeue_pending


class Command(BaseCommand):
    help = "Queue again the top-level runs still pending (or failed) after a broker outage."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=300,
            metavar="SECONDS",
            help="only runs untouched for this long (default 300; 0 for all)",
        )
        parser.add_argument(
            "--include-failed", action="store_true", help="also retry runs that failed"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 0:
            raise CommandError("--older-than must be 0 or more seconds")
        count = runs_requeue_pending(
            older_than=timedelta(seconds=options["older_than"]),
            include_failed=options["include_failed"],
        )
        self.stdout.write(f"queued {count} run(s)")
