"""``manage.py verify_store [--checkpoint FILE] [--write-checkpoint FILE]``.

Re-verifies every attestation's DSSE signature against its registered public key, every stored
hash, and the hash chain; prints what was modified, inserted or removed and exits 1 if anything
was. ``--checkpoint`` compares the chain with a checkpoint written earlier (rollback detection);
``--write-checkpoint`` writes a new signed checkpoint when everything verified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from provenance.core import chain
from provenance.core.errors import ProvenanceError
from provenance.models import SigningKey
from provenance.reads.store import store_verify
from provenance.reads.trust import trust_bundle, trusted_keys_dir
from provenance.services.keys import checkpoint_signer, key_file_problems


class Command(BaseCommand):
    help = "Verify every stored attestation and the hash chain; write/check signed checkpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", type=Path, help="a checkpoint file to check against")
        parser.add_argument(
            "--write-checkpoint", type=Path, help="write a signed checkpoint here if all is well"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = None
        signer = None
        if options["write_checkpoint"] is not None:
            try:
                signer = checkpoint_signer()
            except (ProvenanceError, OSError) as exc:
                raise CommandError(f"cannot load the checkpoint key: {exc}") from None
        if options["checkpoint"] is not None:
            try:
                data = options["checkpoint"].read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {options['checkpoint']}: {exc.strerror}") from None
            checkpoint = _checkpoint_read(options["checkpoint"], data)
        report = store_verify(checkpoint=checkpoint)
        report.problems.extend(key_file_problems())
        for problem in report.problems:
            self.stdout.write(f"{problem.kind.upper()}: {problem.message}")
        summary = (
            f"{report.attestations} attestations, chain length {report.length}, head {report.head}"
        )
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problems found ({summary})")
        self.stdout.write(f"OK: {summary}")
        if checkpoint is not None:
            self.stdout.write(
                f"checkpoint of {checkpoint.created} (length {checkpoint.length}) is consistent"
            )
        if signer is not None:
            new = chain.Checkpoint(
                length=report.length, head=report.head, created=timezone.now().isoformat()
            )
            target: Path = options["write_checkpoint"]
            try:
                tmp = target.with_name(target.name + ".tmp")
                tmp.write_bytes(chain.checkpoint_sign(new, signer) + b"\n")
                tmp.replace(target)
            except OSError as exc:
                raise CommandError(f"cannot write {target}: {exc.strerror}") from None
            self.stdout.write(f"wrote checkpoint {target} (signed by {signer.key_id})")


def _checkpoint_read(path: Path, data: bytes) -> chain.Checkpoint:
    """The checkpoint, if a chain key of the trust bundle signed it: the public key comes from
    the bundle, not from the database being checked (every chain key it holds, so checkpoints
    written before the chain key was rotated still read)."""
    chain_keys = [k for k in trust_bundle().distinct if k.purpose == SigningKey.Purpose.CHECKPOINT]
    if not chain_keys:
        raise CommandError(f"{path}: the trust bundle {trusted_keys_dir()} holds no chain key")
    problem = ""
    for trusted in chain_keys:
        try:
            return chain.checkpoint_load(data, trusted.public_key_pem)
        except ProvenanceError as exc:
            problem = str(exc)
    raise CommandError(f"{path}: {problem}")
