"""``manage.py import_records PATH ...``: load ``kubectl get ... -o json``/YAML dumps.

Each file is ingested in its own transaction through the same service as the API, so a file is
stored whole or not at all. When the database goes away mid-import (a restart, a failover), the
file is retried with backoff after reconnecting, and the import carries on. A file that is
refused is reported and the others are still imported; the exit status is then 2. Every run
stored records its source: the operating-system user and the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from tqdm import tqdm

from provenance import metrics
from provenance.core.errors import ProvenanceError
from provenance.services import IngestResult, RecordSource, records_ingest

SUFFIXES = {".json", ".yaml", ".yml"}


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
            )
        elif path.is_file():
            yield path
        else:
            raise CommandError(f"{raw}: no such file or folder")


class Command(BaseCommand):
    help = "Import TaskRun/PipelineRun records from JSON or YAML files or folders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument(
            "--retries", type=int, default=6, help="tries per file on database errors"
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="no progress bar (it goes to stderr, and only when that is a terminal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # One "task succeeded" line per run would drown the progress bar (eager mode).
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        files = list(_files(options["paths"]))
        if not files:
            raise CommandError("no .json/.yaml/.yml files found")
        counts = {"created": 0, "updated": 0, "unchanged": 0, "pruned": 0}
        imported_files = 0
        rejected: list[tuple[Path, str]] = []
        retried = 0
        bar = tqdm(
            files,
            unit="file",
            file=self.stderr._out,
            # A log file or a pipe would collect every redraw of the bar.
            disable=options["no_progress"] or not self.stderr.isatty(),
            dynamic_ncols=True,
        )
        for path in bar:
            bar.set_postfix_str(path.name[-40:], refresh=False)
            try:
                data = path.read_bytes()
            except OSError as exc:
                rejected.append((path, f"cannot read: {exc.strerror}"))
                continue
            try:
                result, tries = self._ingest(path, data, options["retries"])
            except ProvenanceError as exc:
                metrics.records_rejected("import")
                rejected.append((path, str(exc)))
                continue
            except (OperationalError, InterfaceError) as exc:
                rejected.append((path, f"database unavailable: {exc}".strip()))
                continue
            metrics.records_observed("import", (r.outcome for r in result.records))
            retried += tries - 1
            imported_files += 1
            for outcome in counts:
                counts[outcome] += result.count(outcome)
        bar.close()
        self.stdout.write(
            f"imported {imported_files} of {len(files)} files: {counts['created']} records "
            f"created, {counts['updated']} updated, {counts['unchanged']} unchanged"
            # Runs whose raw record was pruned under retention: not stored again.
            + (f", {counts['pruned']} of pruned runs (not stored)" if counts["pruned"] else "")
            + (f" ({retried} database retries)" if retried else "")
        )
        if rejected:
            self.stdout.write(f"rejected {len(rejected)} files:")
            for path, reason in rejected:
                self.stdout.write(f"  {path}: {reason}")
            raise CommandError(f"{len(rejected)} of {len(files)} files were rejected", returncode=2)

    def _ingest(self, path: Path, data: bytes, retries: int) -> tuple[IngestResult, int]:
        delay = 0.5
        for attempt in range(1, max(retries, 1) + 1):
            try:
                return (
                    records_ingest(
                        data=data,
                        namespaces_allowed=None,
                        source=RecordSource.imported(file=str(path)),
                        background=True,
                    ),
                    attempt,
                )
            except (OperationalError, InterfaceError) as exc:
                if attempt >= retries:
                    raise
                self.stderr.write(
                    f"{path}: database error ({str(exc).strip() or type(exc).__name__}); "
                    f"retrying in {delay:.1f}s"
                )
                # The transaction was rolled back; drop the broken connection and reconnect.
                for conn in connections.all():
                    conn.close_if_unusable_or_obsolete()
                    if conn.connection is not None and not conn.is_usable():
                        conn.close()
                close_old_connections()
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")
