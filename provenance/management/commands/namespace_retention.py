"""``manage.py namespace_retention NAMESPACE [--days N | --keep-forever] [--hold | --lift-hold]
[--reason TEXT] [--actor WHO]``.

Shows or changes a namespace's retention period and legal hold, as its admins can on the
settings page and the settings API (docs/operations.md, "Retention"). Every change is audited
with the actor and the reason; setting or lifting a legal hold needs ``--reason``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.config import NAMESPACE_NAME, ConfigError, retention_days_read
from provenance.reads.namespaces import namespace_settings_effective
from provenance.services import namespace_settings_update


class Command(BaseCommand):
    help = "Show or change a namespace's retention period and legal hold."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("namespace")
        days = parser.add_mutually_exclusive_group()
        days.add_argument("--days", metavar="N", help="keep raw records N days after completion")
        days.add_argument("--keep-forever", action="store_true", help="never prune")
        hold = parser.add_mutually_exclusive_group()
        hold.add_argument("--hold", action="store_true", help="set a legal hold")
        hold.add_argument("--lift-hold", action="store_true", help="lift the legal hold")
        parser.add_argument("--reason", default="", help="why (required for a legal hold)")
        parser.add_argument(
            "--actor",
            default="command:namespace_retention",
            help="who to name in the audit history",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if not NAMESPACE_NAME.fullmatch(namespace):
            raise CommandError(f"{namespace!r} is not a Kubernetes namespace name", returncode=2)
        changes: dict[str, Any] = {}
        try:
            if options["days"] is not None:
                changes["retention_days"] = retention_days_read(options["days"])
            if options["keep_forever"]:
                changes["retention_days"] = None
            if options["hold"] or options["lift_hold"]:
                changes["legal_hold"] = bool(options["hold"])
            if changes:
                namespace_settings_update(
                    namespace=namespace,
                    changes=changes,
                    actor=options["actor"],
                    reason=options["reason"],
                )
        except ConfigError as exc:
            raise CommandError(str(exc), returncode=2) from None
        config, _ = namespace_settings_effective(namespace)
        days = config.retention_days
        kept = f"raw records kept {days} days" if days else "raw records kept for ever"
        self.stdout.write(f"{namespace}: {kept}; legal hold {'on' if config.legal_hold else 'off'}")
