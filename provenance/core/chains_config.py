"""Reading Tekton Chains' ``chains-config`` ConfigMap into chainsweb's namespace settings.

What maps (https://tekton.dev/docs/chains/config/):

| Chains key | setting |
|---|---|
| ``artifacts.pipelinerun.format`` | ``format`` |
| ``artifacts.taskrun.format`` | ``taskrun_format`` |
| ``artifacts.pipelinerun.enable-deep-inspection`` | ``deep_inspection`` |
| ``builder.id`` | ``builder_id`` |
| ``builddefinition.buildtype`` | ``build_type`` |
| ``artifacts.{taskrun,pipelinerun,oci}.storage`` | ``oci_publish``: one of them lists ``oci`` |
| ``storage.oci.repository`` | ``oci_repository`` |
| ``storage.oci.repository.insecure`` | ``oci_insecure`` |

Every other key is reported as not applied, with the reason. The values are checked by
``NamespaceConfig`` when the changes are applied; here only their syntax (booleans as Go's
``strconv.ParseBool`` reads them, storage lists as Chains splits them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .documents import load_documents
from .errors import FormatError

DIRECT = {
    "artifacts.pipelinerun.format": "format",
    "artifacts.taskrun.format": "taskrun_format",
    "builder.id": "builder_id",
    "builddefinition.buildtype": "build_type",
    "storage.oci.repository": "oci_repository",
}
BOOLEANS = {
    "artifacts.pipelinerun.enable-deep-inspection": "deep_inspection",
    "storage.oci.repository.insecure": "oci_insecure",
}
STORAGE_KEYS = (
    "artifacts.taskrun.storage",
    "artifacts.pipelinerun.storage",
    "artifacts.oci.storage",
)
# Go's strconv.ParseBool, which Chains reads its booleans with.
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")

# Why a key is not applied, by its prefix (the longest prefix that matches wins).
_NOT_APPLIED = {
    "transparency.": "chainsweb writes no transparency log (Rekor); its own hash chain "
    "(verify_store) makes its store tamper-evident",
    "signers.kms.": "KMS signing is not supported: import the key with import_signing_key",
    "signers.x509.fulcio.": "keyless (Fulcio) signing is not supported: chainsweb signs with "
    "the namespace's key (import_signing_key)",
    "signers.x509.identity.": "keyless (Fulcio) signing is not supported",
    "signers.x509.tuf.": "keyless (Fulcio) signing is not supported",
    "signers.": "chainsweb signs with the namespace's key (import_signing_key)",
    "storage.grafeas.": "chainsweb keeps attestations in its database and publishes them only "
    "to OCI registries",
    "storage.docdb.": "chainsweb keeps attestations in its own database (PostgreSQL), "
    "not in a document store",
    "storage.gcs.": "chainsweb keeps attestations in its database and publishes them only to "
    "OCI registries",
    "storage.pubsub.": "chainsweb keeps attestations in its database and publishes them only to "
    "OCI registries",
    "storage.archivista.": "chainsweb keeps attestations in its database and publishes them "
    "only to OCI registries",
    "storage.": "not a setting of chainsweb",
    "artifacts.oci.format": "chainsweb writes cosign's simple signing payload at .sig, as "
    "Chains' simplesigning does; not a setting",
    "artifacts.oci.signer": "chainsweb signs images with the namespace's key (import_signing_key)",
    "artifacts.taskrun.signer": "chainsweb signs with the namespace's key (import_signing_key)",
    "artifacts.pipelinerun.signer": "chainsweb signs with the namespace's key (import_signing_key)",
    "artifacts.taskrun.enable-deep-inspection": "Chains has deep inspection for PipelineRuns only",
}


@dataclass
class ChainsConfig:
    """What a ConfigMap sets: ``changes`` (setting → value), ``applied`` (Chains key, setting,
    value) and ``not_applied`` (Chains key, why)."""

    changes: dict[str, Any] = field(default_factory=dict)
    applied: list[tuple[str, str, Any]] = field(default_factory=list)
    not_applied: list[tuple[str, str]] = field(default_factory=list)


def _data_of(raw: bytes) -> dict[str, Any]:
    objects = load_documents(raw)
    if len(objects) != 1:
        raise FormatError(f"expected one ConfigMap, found {len(objects)} objects")
    obj = objects[0]
    kind = obj.get("kind")
    if kind is None and "data" not in obj:
        data: Any = obj  # a bare ``data`` mapping
    elif kind in (None, "ConfigMap"):
        data = obj.get("data") or {}
    else:
        raise FormatError(f"expected a ConfigMap, found kind {kind!r}")
    if not isinstance(data, dict):
        raise FormatError("the ConfigMap's data must be a mapping of strings")
    for key, value in data.items():
        if not isinstance(value, str):
            raise FormatError(f"{key}: ConfigMap values are strings, found {type(value).__name__}")
    return data


def _boolean(key: str, value: str) -> bool:
    text = value.strip()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FormatError(f"{key}: {value!r} is not true or false")


def _why_not(key: str) -> str:
    matches = [prefix for prefix in _NOT_APPLIED if key.startswith(prefix)]
    if not matches:
        return "not a Chains setting chainsweb knows"
    return _NOT_APPLIED[max(matches, key=len)]


def chains_config_read(raw: bytes) -> ChainsConfig:
    """The settings a ``chains-config`` ConfigMap (YAML or JSON, or its bare ``data``) sets;
    FormatError (RecordError for unreadable text) names what is wrong."""
    data = _data_of(raw)
    out = ChainsConfig()
    storages: list[tuple[str, list[str]]] = []
    for key in sorted(data):
        value = data[key]
        if key in DIRECT:
            out.changes[DIRECT[key]] = value.strip()
            out.applied.append((key, DIRECT[key], value.strip()))
        elif key in BOOLEANS:
            out.changes[BOOLEANS[key]] = _boolean(key, value)
            out.applied.append((key, BOOLEANS[key], out.changes[BOOLEANS[key]]))
        elif key in STORAGE_KEYS:
            # Chains splits on commas and trims: "oci, tekton".
            storages.append((key, [s.strip() for s in value.split(",") if s.strip()]))
        else:
            out.not_applied.append((key, _why_not(key)))
    if storages:
        publish = any("oci" in backends for _, backends in storages)
        out.changes["oci_publish"] = publish
        keys = ", ".join(f"{key}={','.join(backends) or '(none)'}" for key, backends in storages)
        out.applied.append((keys, "oci_publish", publish))
        for key, backends in storages:
            others = sorted(set(backends) - {"oci"})
            if others:
                out.not_applied.append(
                    (
                        f"{key} ({', '.join(others)})",
                        "chainsweb keeps every attestation in its own database; of Chains' "
                        "storage backends it publishes to oci only",
                    )
                )
    return out
