"""``manage.py compute_provenance``: the statements Tekton Chains would write, from run records.

The command itself lives in ``provenance.core.cli`` (also runnable as
``python -m provenance.core.cli``, which starts faster). It never touches the database: it works
without DATABASE_URL and without starting the embedded Postgres.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from provenance.core import cli


class Command(BaseCommand):
    help = cli.DESCRIPTION
    # Pure computation: no system checks (some of them query the database) and no migrations.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        problems: list[str] = []

        def err(line: str) -> None:
            self.stderr.write(line)
            problems.append(line)

        status = cli.run(options, self.stdout.write, err, sys.stdin.buffer)
        if status == 0:
            return
        if getattr(self, "_called_from_command_line", False):
            sys.exit(status)
        # Called from code: raise, so callers can catch it (the lines are already on stderr).
        raise CommandError(problems[-1] if problems else "failed", returncode=status)
