"""``manage.py import_chains_config FILE --namespace NS [--namespace NS ...] [--dry-run]
[--actor WHO]``: set namespaces' settings from Tekton Chains' ``chains-config`` ConfigMap.

Reads the ConfigMap (YAML or JSON, as ``kubectl get configmap chains-config -o yaml`` writes
it, or its bare ``data``), prints every key it applied and, for every other key, that it was
not applied and why (``provenance/core/chains_config.py``). Each namespace's change is audited
like any settings change, and one that changes how statements are made re-signs its runs.
A file that cannot be read or a value chainsweb cannot use: one line, exit 2, nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from provenance.config import NAMESPACE_NAME, ConfigError
from provenance.core.chains_config import chains_config_read
from provenance.core.errors import ProvenanceError
from provenance.reads.namespaces import namespace_settings_effective
from provenance.services import namespace_settings_update

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Set namespaces' settings from Tekton Chains' chains-config ConfigMap."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the ConfigMap, YAML or JSON ('-' for stdin)")
        parser.add_argument(
            "--namespace",
            action="append",
            required=True,
            help="a namespace to configure (repeat for several)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be applied; change nothing"
        )
        parser.add_argument(
            "--actor",
            default="command:import_chains_config",
            help="who to name in the audit history",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = list(dict.fromkeys(options["namespace"]))
        for namespace in names:
            if not NAMESPACE_NAME.fullmatch(namespace):
                raise CommandError(
                    f"{namespace!r} is not a Kubernetes namespace name", returncode=BAD_INPUT
                )
        path = options["file"]
        try:
            raw = Path("/dev/stdin" if path == "-" else path).read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}", returncode=BAD_INPUT) from None
        try:
            read = chains_config_read(raw)
        except ProvenanceError as exc:
            raise CommandError(f"{path}: {exc}", returncode=BAD_INPUT) from None
        try:
            # Every namespace's new settings are checked before anything is written.
            for namespace in names:
                namespace_settings_effective(namespace)[0].changed(read.changes)
        except ConfigError as exc:
            where = self._key_of(exc.field, read.applied)
            raise CommandError(f"{path}: {where}{exc}", returncode=BAD_INPUT) from None
        if read.applied:
            self.stdout.write(
                f"applied to {', '.join(names)}:"
                if not options["dry_run"]
                else f"would apply to {', '.join(names)}:"
            )
            for key, setting, value in read.applied:
                self.stdout.write(f"  {key} -> {setting} = {value!r}")
        else:
            self.stdout.write("nothing to apply")
        for key, why in read.not_applied:
            self.stdout.write(f"not applied: {key}: {why}")
        if options["dry_run"] or not read.changes:
            return
        try:
            with transaction.atomic():
                for namespace in names:
                    namespace_settings_update(
                        namespace=namespace, changes=read.changes, actor=options["actor"]
                    )
        except ProvenanceError as exc:
            raise CommandError(f"{path}: {exc}", returncode=BAD_INPUT) from None

    @staticmethod
    def _key_of(setting: str, applied: list[tuple[str, str, Any]]) -> str:
        """``<Chains key>: `` for the setting a bad value came from."""
        keys = [key for key, name, _ in applied if name == setting]
        return f"{keys[0]}: " if keys else ""
