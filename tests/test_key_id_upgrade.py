"""Key ids became SSH fingerprints (Chains' DSSE keyid): a store signed under the older ids still
verifies after migration 0007 recomputes the registered keys' ids."""

from __future__ import annotations

import base64
import hashlib
import importlib
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from django.apps import apps
from django.core.management import call_command

from provenance import services
from provenance.core import signing
from provenance.models import Attestation, SigningKey
from provenance.reads.verify import verify
from tests.factories import TEST_SOURCE, as_list, taskrun_doc

pytestmark = pytest.mark.django_db

upgrade = importlib.import_module("provenance.migrations.0007_ssh_key_ids")


def der_key_id(public_key: signing.PublicKey) -> str:
    """The key id chainsweb wrote before: unpadded base64 of sha256(DER SubjectPublicKeyInfo)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def test_attestations_signed_under_the_old_key_ids_verify_after_the_upgrade(
    settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    # Sign a store the way the earlier release did: envelopes and key rows carry the DER id.
    monkeypatch.setattr(signing, "key_id_of", der_key_id)
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.records_ingest(
                data=as_list([taskrun_doc(name=f"tr-{n}")]),
                namespaces_allowed=None,
                source=TEST_SOURCE,
            )
    monkeypatch.undo()
    old = list(Attestation.objects.order_by("id"))
    key = SigningKey.objects.get(purpose=SigningKey.Purpose.ATTESTATION)
    assert len(old) == 2 and all(a.key_id == key.key_id for a in old)
    assert not all(verify(a).ok for a in old)  # the new code no longer recognises the old id

    upgrade.to_ssh_fingerprints(apps, None)

    key.refresh_from_db()
    public = signing.load_public_key(key.public_key_pem)
    assert (key.key_id, key.legacy_key_id) == (signing.key_id_of(public), der_key_id(public))
    for attestation in old:
        assert verify(attestation).ok, verify(attestation).messages
    call_command("verify_store", stdout=StringIO(), stderr=StringIO())  # raises on a problem
    # Running it again changes nothing.
    upgrade.to_ssh_fingerprints(apps, None)
    key.refresh_from_db()
    assert key.legacy_key_id == der_key_id(public)
