"""Examples shown in the OpenAPI schema (and Swagger UI); docs/api.md has the same with curl."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

from provenance.reads.gate import GATE_RULE

HOST = "https://chainsweb.example.com"
DIGEST = "sha256:" + "3b1f5e0c" * 8
KEY_ID = "SHA256:Vq2mW0wQ3hY7m0tq4Yv4o0mH0m7b2o5o7l6Xr1v9Gk8"
WATCHER = "system:serviceaccount:chainsweb:chainsweb-watcher"

_RECORD = {
    "uid": "7b0c2f6e-4f8e-4a55-9d0c-2f1c7c0a9b11",
    "kind": "PipelineRun",
    "namespace": "team-a",
    "name": "build-1",
    "pipeline": "build-pipeline",
    "task": "",
    "pipeline_task": "",
    "parent_uid": "",
    "parent_name": "",
    "status": "True",
    "reason": "Succeeded",
    "start_time": "2026-11-20T10:00:00Z",
    "completion_time": "2026-11-20T10:04:12Z",
    "labels": {"tekton.dev/pipeline": "build-pipeline"},
    "resource_version": "100",
    "first_seen": "2026-11-20T10:04:13.120000Z",
    "updated": "2026-11-20T10:04:13.120000Z",
    "compute_status": "signed",
    "compute_reason": "",
    "source": {"kind": "watch", "cluster": "prod-eu-1", "watcher": WATCHER},
    "url": f"{HOST}/api/v1/records/7b0c2f6e-4f8e-4a55-9d0c-2f1c7c0a9b11",
    "raw_url": f"{HOST}/api/v1/records/7b0c2f6e-4f8e-4a55-9d0c-2f1c7c0a9b11/raw",
    "raw_sha256": "c0de" * 16,
    "pruned_at": None,
    "pruned_retention_days": None,
}

_ATTESTATION = {
    "id": 42,
    "namespace": "team-a",
    "pipeline_run": "build-1",
    "run_uid": _RECORD["uid"],
    "run_kind": "PipelineRun",
    "format": "slsa/v2alpha4",
    "predicate": "SLSA v1.0",
    "scope": "per-run",
    "emit": "on-completion",
    "subjects": [{"name": "registry.example.com/team-a/app", "digest": {"sha256": DIGEST[7:]}}],
    "status": "True",
    "reason": "Succeeded",
    "key_id": KEY_ID,
    "envelope_sha256": "9f2c" * 16,
    "statement_sha256": "51ab" * 16,
    "created": "2026-11-20T10:04:14.002000Z",
    "superseded_by": None,
    "chain_seq": 17,
    "verified": True,
    "url": f"{HOST}/api/v1/attestations/42",
    "envelope_url": f"{HOST}/api/v1/attestations/42/envelope",
    "statement_url": f"{HOST}/api/v1/attestations/42/statement",
    "run_url": _RECORD["url"],
}

RECORD_LIST = OpenApiExample(
    "PipelineRuns of a pipeline",
    value=_RECORD,
    response_only=True,
)
RECORD_DETAIL = OpenApiExample(
    "A PipelineRun",
    value={**_RECORD, "children": [], "attestations": []},
    response_only=True,
)
INGEST_REQUEST = OpenApiExample(
    "A TaskRun (abridged)",
    value={
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": "build-1-clone",
            "namespace": "team-a",
            "uid": "0d5e7f3a-1c2b-4f6e-8a9d-1b2c3d4e5f60",
            "resourceVersion": "101",
        },
        "spec": {"taskRef": {"name": "git-clone"}},
        "status": {"conditions": [{"type": "Succeeded", "status": "True"}]},
    },
    request_only=True,
)
INGEST_RESPONSE = OpenApiExample(
    "Accepted",
    value={
        "records": [
            {
                "kind": "TaskRun",
                "namespace": "team-a",
                "name": "build-1-clone",
                "uid": "0d5e7f3a-1c2b-4f6e-8a9d-1b2c3d4e5f60",
                "outcome": "created",
            }
        ]
    },
    response_only=True,
    status_codes=["202"],
)
ARTIFACT_LIST = OpenApiExample(
    "By digest",
    value={
        "id": 7,
        "uri": "registry.example.com/team-a/app",
        "algorithm": "sha256",
        "hex": DIGEST[7:],
        "digest": DIGEST,
        "namespaces": ["team-a"],
        "attestation_count": 2,
        "url": f"{HOST}/api/v1/artifacts/7",
        "attestations_url": f"{HOST}/api/v1/artifacts/{DIGEST}/attestations.jsonl",
    },
    response_only=True,
)
ATTESTATION_LIST = OpenApiExample(
    "Current attestations for a digest",
    value=_ATTESTATION,
    response_only=True,
)
ATTESTATION_DETAIL = OpenApiExample(
    "A verified attestation",
    value={
        **_ATTESTATION,
        "settings": {
            "format": "slsa/v2alpha4",
            "deep_inspection": False,
            "scope": "per-run",
            "emit": "on-completion",
            "builder_id": "https://tekton.dev/chains/v2",
            "build_type": "https://tekton.dev/chains/v2/slsa",
            "upload_builder_id": "https://chainsweb.dev/builders/upload/v1",
            "uploads_use_builder_id": False,
            "taskrun_format": "",
        },
        "supersedes": [],
        "problems": [],
        "bundle_url": f"{HOST}/api/v1/attestations/42/bundle",
        "publications": [
            {
                "image": f"registry.example.com/team-a/app@{DIGEST}",
                "kind": "att",
                "reference": f"registry.example.com/team-a/app:{DIGEST.replace(':', '-')}.att",
                "status": "published",
                "attempts": 1,
                "last_error": "",
                "updated": "2026-11-02T10:15:31Z",
                "published": "2026-11-02T10:15:31Z",
            },
            {
                "image": f"registry.example.com/team-a/app@{DIGEST}",
                "kind": "sig",
                "reference": f"registry.example.com/team-a/app:{DIGEST.replace(':', '-')}.sig",
                "status": "failed",
                "attempts": 3,
                "last_error": "cannot reach registry.example.com: connection refused",
                "updated": "2026-11-02T10:16:02Z",
                "published": None,
            },
        ],
        "notes": [],
    },
    response_only=True,
)
ARTIFACT_DETAIL = OpenApiExample(
    "An image and its attestations",
    value={
        "id": 7,
        "uri": "registry.example.com/team-a/app",
        "algorithm": "sha256",
        "hex": DIGEST[7:],
        "digest": DIGEST,
        "namespaces": ["team-a"],
        "attestation_count": 1,
        "url": f"{HOST}/api/v1/artifacts/7",
        "attestations_url": f"{HOST}/api/v1/artifacts/{DIGEST}/attestations.jsonl",
        "attestations": [_ATTESTATION],
    },
    response_only=True,
)
STATEMENT = OpenApiExample(
    "in-toto statement (abridged)",
    value={
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.example.com/team-a/app", "digest": {"sha256": DIGEST[7:]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://tekton.dev/chains/v2/slsa"}},
    },
)
RAW_RECORD = OpenApiExample("A TaskRun as received (abridged)", value=INGEST_REQUEST.value)


def export_example(kind: str, file_format: str, fields: tuple[str, ...]) -> OpenApiExample:
    """The shape of an export: its header (CSV) or the keys of each line (JSON Lines), abridged."""
    if file_format == "csv":
        value = ",".join(fields) + "\n…\n"
    else:
        value = "{" + ", ".join(f'"{name}": …' for name in fields) + "}\n…\n"
    return OpenApiExample(f"The {kind} (abridged)", value=value)


JSONL = OpenApiExample(
    "Two envelopes",
    value=(
        '{"payloadType":"application/vnd.in-toto+json","payload":"eyJ...","signatures":'
        '[{"keyid":"SHA256:Vq2...","sig":"MEUCIQ..."}]}\n'
        '{"payloadType":"application/vnd.in-toto+json","payload":"eyJ...","signatures":'
        '[{"keyid":"SHA256:Vq2...","sig":"MEYCIQ..."}]}\n'
    ),
)
SIGSTORE_BUNDLE = OpenApiExample(
    "Sigstore bundle v0.3",
    value={
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": KEY_ID}, "tlogEntries": []},
        "dsseEnvelope": {
            "payloadType": "application/vnd.in-toto+json",
            "payload": "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLC4uLn0=",
            "signatures": [{"keyid": KEY_ID, "sig": "MEUCIQ...=="}],
        },
    },
)
ENVELOPE = OpenApiExample(
    "DSSE envelope",
    value={
        "payloadType": "application/vnd.in-toto+json",
        "payload": "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLC4uLn0=",
        "signatures": [{"keyid": KEY_ID, "sig": "MEUCIQ...=="}],
    },
)
ATTESTATION_DIFF = OpenApiExample(
    "A new build of the same image",
    value={
        "attestation": 42,
        "other": 37,
        "settings_changed": False,
        "changed": True,
        "sections": [
            {
                "key": "subjects",
                "title": "Subjects",
                "note": "",
                "changes": [
                    {
                        "item": "registry.example.com/team-a/app",
                        "kind": "changed",
                        "before": "sha256:" + "9e0a" * 16,
                        "after": DIGEST,
                    }
                ],
            },
            {
                "key": "tasks",
                "title": "Tasks in scope and their status",
                "note": "",
                "changes": [
                    {
                        "item": "scan",
                        "kind": "changed",
                        "before": "failed (Failed), in scope",
                        "after": "succeeded (Succeeded), in scope",
                    }
                ],
            },
        ],
        "raw_diff": "--- attestation #37\n+++ attestation #42\n@@ -40,7 +40,7 @@\n...",
        "url": f"{HOST}/api/v1/attestations/42",
        "other_url": f"{HOST}/api/v1/attestations/37",
    },
    response_only=True,
)
GATE_ALLOWED = OpenApiExample(
    "Allowed",
    value={
        "allowed": True,
        "reasons": [
            "attestation 42 (team-a, per-artifact) verifies and its recorded in-scope tasks "
            "all succeeded; required tasks succeeded: scan"
        ],
        "attestation": 42,
        "digest": DIGEST,
        "candidates": [
            {
                "attestation": 42,
                "namespace": "team-a",
                "scope": "per-artifact",
                "allowed": True,
                "reasons": ["..."],
                "chosen_because": "Under team-a's settings (per-artifact, SLSA v1.0 "
                "(slsa/v2alpha4)), attestation #42 covers this artifact: it is the newest "
                "current per-artifact statement naming it (run build-1).",
            }
        ],
        "rule": GATE_RULE,
        "set_aside": [
            {
                "attestation": 41,
                "namespace": "team-a",
                "scope": "per-run",
                "role": "other-scope",
                "why": "a per-run statement of run build-1, still current because each scope "
                "is superseded on its own, but team-a signs per-artifact statements",
            }
        ],
    },
    response_only=True,
)
GATE_DENIED = OpenApiExample(
    "Denied",
    value={
        "allowed": False,
        "reasons": ["attestation 43: in-scope task test (build-2-test) has status False"],
        "attestation": None,
        "digest": DIGEST,
        "candidates": [
            {
                "attestation": 43,
                "namespace": "team-a",
                "scope": "per-artifact",
                "allowed": False,
                "reasons": ["attestation 43: in-scope task test (build-2-test) has status False"],
                "chosen_because": "Under team-a's settings (per-artifact, SLSA v1.0 "
                "(slsa/v2alpha4)), attestation #43 covers this artifact: it is the newest "
                "current per-artifact statement naming it (run build-2).",
            }
        ],
        "rule": GATE_RULE,
        "set_aside": [],
    },
    response_only=True,
)
SETTINGS = OpenApiExample(
    "Defaults",
    value={
        "namespace": "team-a",
        "format": "slsa/v2alpha4",
        "predicate": "SLSA v1.0",
        "deep_inspection": False,
        "scope": "per-run",
        "emit": "on-completion",
        "builder_id": "https://tekton.dev/chains/v2",
        "build_type": "https://tekton.dev/chains/v2/slsa",
        "upload_builder_id": "https://chainsweb.dev/builders/upload/v1",
        "uploads_use_builder_id": False,
        "signing_key": None,
        "configured": False,
        "retention_days": None,
        "legal_hold": False,
        "taskrun_format": "",
        "oci_publish": False,
        "oci_repository": "",
        "oci_insecure": False,
    },
    response_only=True,
)
SETTINGS_PUT = OpenApiExample(
    "Per-artifact, early statements",
    value={
        "format": "slsa/v2alpha4",
        "deep_inspection": True,
        "scope": "per-artifact",
        "emit": "on-artifact",
        "builder_id": "https://tekton.dev/chains/v2",
        "build_type": "https://tekton.dev/chains/v2/slsa",
    },
    request_only=True,
)
SETTINGS_PATCH = OpenApiExample(
    "Switch to SLSA v0.2", value={"format": "slsa/v1"}, request_only=True
)
SETTINGS_PUBLISH = OpenApiExample(
    "Publish to the images' registries, as Chains' oci storage",
    value={"oci_publish": True, "oci_repository": "", "taskrun_format": "in-toto"},
    request_only=True,
)
SETTINGS_HOLD = OpenApiExample(
    "Keep raw records 90 days; legal hold",
    value={"retention_days": 90, "legal_hold": True, "reason": "litigation hold LH-2026-14"},
    request_only=True,
)
KEYS = OpenApiExample(
    "Keys",
    value={
        "results": [
            {
                "key_id": KEY_ID,
                "algorithm": "ecdsa-p256",
                "namespace": "",
                "purpose": "attestation",
                "public_key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYH...\n-----END PUBLIC KEY-----\n",
                "created": "2026-11-01T09:00:00Z",
                "trusted": True,
                "trusted_for": ["default"],
                "revoked_at": None,
                "revoked_reason": "",
                "retired_at": None,
            }
        ]
    },
    response_only=True,
)
