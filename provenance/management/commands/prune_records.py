"""``manage.py prune_records [--namespace NS] [--dry-run] [--older-than DAYS]``.

Prunes the raw records of runs completed longer ago than their namespace's retention period;
their attestations and the hash chain stay (docs/operations.md, "Retention"). Prints one line
per namespace: what went (or, with ``--dry-run``, what would go) as runs, records and bytes.
Run it daily from cron or the CronJob in deploy/kubernetes; it is safe to run at any time.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.config import MAX_RETENTION_DAYS, NAMESPACE_NAME
from provenance.reads.namespaces import namespace_exists
from provenance.services import NamespacePruning, records_prune


class Command(BaseCommand):
    help = "Prune the raw records of runs past their namespace's retention (attestations stay)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", help="only this namespace")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would go, change nothing"
        )
        # Read as text: a bad value is one line and exit 2, not argparse's usage text.
        parser.add_argument(
            "--older-than",
            metavar="DAYS",
            help="only runs completed more than DAYS ago (never less than the retention)",
        )
        parser.add_argument(
            "--actor", default="command:prune_records", help="who to name in the audit history"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if namespace is not None:
            if not NAMESPACE_NAME.fullmatch(namespace):
                raise CommandError(
                    f"--namespace: {namespace!r} is not a Kubernetes namespace name", returncode=2
                )
            if not namespace_exists(namespace):
                raise CommandError(f"--namespace: no such namespace {namespace!r}", returncode=2)
        older_than = _days(options["older_than"])
        results = records_prune(
            namespace=namespace,
            older_than_days=older_than,
            dry_run=options["dry_run"],
            actor=options["actor"],
        )
        for result in results:
            self.stdout.write(f"{result.namespace}: {describe(result)}")
        runs = sum(r.runs for r in results if r.pruned)
        size = sum(r.bytes for r in results if r.pruned)
        if options["dry_run"]:
            self.stdout.write("dry run: nothing was changed")
        else:
            self.stdout.write(f"pruned {runs} run(s), {size:,} bytes")


def _days(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise CommandError(
            f"--older-than must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, "
            f"got {text!r}",
            returncode=2,
        )
    return int(text)


def describe(result: NamespacePruning) -> str:
    """One namespace's line."""
    if result.retention_days is None:
        return "kept for ever (no retention period)" + ("; legal hold" if result.legal_hold else "")
    counts = f"{result.runs} run(s) ({result.records} records, {result.bytes:,} bytes)"
    cutoff = f"{result.completed_before:%Y-%m-%d %H:%M} UTC" if result.completed_before else "?"
    policy = f"{result.retention_days}-day retention"
    if result.legal_hold and result.pruned:
        return f"legal hold set while pruning: stopped after {counts}"
    if result.legal_hold:
        return f"legal hold: nothing pruned; {counts} past the {policy} are held"
    verb = "pruned" if result.pruned else "would prune"
    return f"{verb} {counts} completed before {cutoff} ({policy})"
