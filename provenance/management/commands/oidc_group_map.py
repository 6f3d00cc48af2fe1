"""``manage.py oidc_group_map add GROUP NAMESPACE [--role viewer|ingester|admin]``,
``oidc_group_map remove GROUP NAMESPACE`` and ``oidc_group_map list [--namespace NS]``.

Which identity-provider groups give which role in which namespace (single sign-on or the trusted
proxy; docs/operations.md). Each change is audited in the namespace's settings history, with
``command:oidc_group_map`` (or ``--actor``) as who made it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.models import ApiToken
from provenance.reads.sso import all_group_mappings
from provenance.services.sso import (
    GroupMappingError,
    sso_group_mapping_remove,
    sso_group_mapping_set,
)


class Command(BaseCommand):
    help = "Map identity-provider groups to roles in namespaces (add, remove, list)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="members of GROUP get ROLE in NAMESPACE")
        add.add_argument("group")
        add.add_argument("namespace")
        add.add_argument("--role", default=ApiToken.Role.VIEWER, choices=ApiToken.Role.values)
        remove = actions.add_parser("remove", help="GROUP no longer gives a role in NAMESPACE")
        remove.add_argument("group")
        remove.add_argument("namespace")
        listing = actions.add_parser("list", help="print the mappings")
        listing.add_argument("--namespace", help="only this namespace")
        for sub in (add, remove):
            sub.add_argument(
                "--actor",
                default="command:oidc_group_map",
                help="who to name in the audit history",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            rows = all_group_mappings()
            if options["namespace"]:
                rows = rows.filter(namespace=options["namespace"])
            for row in rows:
                self.stdout.write(f"{row.namespace}\t{row.group}\t{row.role}")
            return
        group, namespace = options["group"], options["namespace"]
        try:
            if action == "add":
                changed = sso_group_mapping_set(
                    group=group, namespace=namespace, role=options["role"], actor=options["actor"]
                )
                what = f"{group} → {options['role']} of {namespace}"
            else:
                changed = sso_group_mapping_remove(
                    group=group, namespace=namespace, actor=options["actor"]
                )
                what = f"{group} no longer maps to {namespace}"
        except GroupMappingError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(what if changed else f"unchanged: {what}")
