"""Moving from Tekton Chains (docs/oci.md): the Sigstore bundle download (API and page), checked
against sigstore's published bundle schema, and ``import_chains_config``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from django.core.management import CommandError, call_command
from sigstore_models.bundle.v1 import Bundle as SigstoreBundle

from provenance.models import NamespaceSettings, SettingsAudit, SigningKey
from tests.apidata import caller_with_token, signed_taskrun, token
from tests.core.test_dsse import sslib_verify
from tests.core.test_sigstore_bundle import json_named_schema

pytestmark = pytest.mark.django_db
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


# --- Sigstore bundle ------------------------------------------------------------------------------


def test_the_api_serves_a_sigstore_bundle_that_validates_and_verifies():
    _, (attestation,), _ = signed_taskrun()
    response = caller_with_token(token()).get(f"/api/v1/attestations/{attestation.pk}/bundle")
    assert response.status_code == 200
    assert response["Content-Type"] == BUNDLE_TYPE
    assert (
        f'filename="attestation-{attestation.pk}.sigstore.json"' in response["Content-Disposition"]
    )
    bundle = json.loads(response.content)
    jsonschema.Draft4Validator(json_named_schema()).validate(bundle)
    SigstoreBundle.model_validate_json(response.content)
    assert bundle["mediaType"] == BUNDLE_TYPE
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == attestation.key_id
    envelope = json.dumps(bundle["dsseEnvelope"]).encode()
    assert json.loads(envelope) == json.loads(bytes(attestation.envelope))
    key = SigningKey.objects.get(key_id=attestation.key_id)
    assert sslib_verify(envelope, key.public_key_pem, key.key_id) == bytes(attestation.statement)


def test_the_bundle_is_only_for_callers_who_see_the_attestation():
    _, (attestation,), _ = signed_taskrun(namespace="team-b")
    caller = caller_with_token(token())
    assert caller.get(f"/api/v1/attestations/{attestation.pk}/bundle").status_code == 404
    assert caller_with_token("nope").get(
        f"/api/v1/attestations/{attestation.pk}/bundle"
    ).status_code in (401, 403)


def test_the_attestation_page_has_a_bundle_button_serving_the_same_bytes(admin_client):
    _, (attestation,), _ = signed_taskrun()
    page = admin_client.get(f"/attestations/{attestation.pk}/").content.decode()
    url = f"/attestations/{attestation.pk}/bundle.sigstore.json"
    assert f'href="{url}"' in page and "Sigstore bundle" in page
    download = admin_client.get(url)
    assert download["Content-Type"] == BUNDLE_TYPE
    api = caller_with_token(token()).get(f"/api/v1/attestations/{attestation.pk}/bundle")
    assert download.content == api.content


def test_the_schema_lists_the_bundle_endpoint():
    schema = caller_with_token(token()).get("/api/schema/").content.decode()
    assert "/api/v1/attestations/{id}/bundle" in schema and BUNDLE_TYPE in schema


# --- import_chains_config ---------------------------------------------------------------------

CONFIGMAP_YAML = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: chains-config
  namespace: tekton-chains
data:
  artifacts.taskrun.format: in-toto
  artifacts.taskrun.storage: oci
  artifacts.pipelinerun.format: slsa/v2alpha3
  artifacts.pipelinerun.storage: "oci,tekton"
  artifacts.pipelinerun.enable-deep-inspection: "true"
  artifacts.oci.storage: oci
  artifacts.oci.format: simplesigning
  builder.id: https://ci.example.com/chains
  builddefinition.buildtype: https://tekton.dev/chains/v2/slsa-tekton
  storage.oci.repository: registry.example.com:5000/attestations
  storage.oci.repository.insecure: "false"
  transparency.enabled: "true"
  signers.kms.kmsref: gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k
  storage.docdb.url: mongo://chains
"""


def import_config(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "chains-config.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("import_chains_config", str(path), *args, stdout=out)
    return out.getvalue()


def test_a_chains_configmap_sets_the_settings_and_says_what_it_left_out(tmp_path):
    output = import_config(
        tmp_path, CONFIGMAP_YAML, "--namespace", "team-a", "--namespace", "team-b"
    )
    for namespace in ("team-a", "team-b"):
        row = NamespaceSettings.objects.get(namespace=namespace)
        assert row.format == "slsa/v2alpha3" and row.taskrun_format == "in-toto"
        assert row.deep_inspection is True
        assert row.builder_id == "https://ci.example.com/chains"
        assert row.build_type == "https://tekton.dev/chains/v2/slsa-tekton"
        assert row.oci_publish is True and row.oci_insecure is False
        assert row.oci_repository == "registry.example.com:5000/attestations"
        (entry,) = SettingsAudit.objects.filter(namespace=namespace)
        assert entry.actor == "command:import_chains_config"
        assert entry.new["taskrun_format"] == "in-toto"
    assert "applied to team-a, team-b:" in output
    assert "  artifacts.taskrun.format -> taskrun_format = 'in-toto'" in output
    assert "  storage.oci.repository -> oci_repository = " in output
    assert "-> oci_publish = True" in output
    assert "not applied: transparency.enabled: chainsweb writes no transparency log" in output
    assert "not applied: signers.kms.kmsref: KMS signing is not supported" in output
    assert "not applied: storage.docdb.url:" in output
    assert "not applied: artifacts.oci.format:" in output
    assert "not applied: artifacts.pipelinerun.storage (tekton):" in output


def test_json_and_a_bare_data_mapping_are_read_too(tmp_path):
    text = json.dumps(
        {"artifacts.pipelinerun.storage": "tekton", "builder.id": "https://b.example/x"}
    )
    output = import_config(tmp_path, text, "--namespace", "team-a")
    row = NamespaceSettings.objects.get(namespace="team-a")
    assert row.builder_id == "https://b.example/x" and row.oci_publish is False
    assert "-> oci_publish = False" in output


def test_dry_run_writes_nothing(tmp_path):
    output = import_config(tmp_path, CONFIGMAP_YAML, "--namespace", "team-a", "--dry-run")
    assert "would apply to team-a:" in output
    assert not NamespaceSettings.objects.exists() and not SettingsAudit.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: [unclosed", "invalid YAML"),
        ("{not json", "invalid JSON"),
        ("kind: Secret\ndata: {}\n", "expected a ConfigMap, found kind 'Secret'"),
        ("data:\n  builder.id: 5\n", "builder.id: ConfigMap values are strings"),
        (
            "data:\n  artifacts.pipelinerun.format: slsa/v9\n",
            "artifacts.pipelinerun.format: unknown format 'slsa/v9'",
        ),
        ("data:\n  artifacts.taskrun.format: tekton\n", "artifacts.taskrun.format: unknown"),
        (
            "data:\n  storage.oci.repository: https://r.example.com/x\n",
            "storage.oci.repository: oci_repository",
        ),
        ("data:\n  builder.id: not a uri\n", "builder.id: the builder id"),
        (
            "data:\n  artifacts.pipelinerun.enable-deep-inspection: perhaps\n",
            "'perhaps' is not true or false",
        ),
    ],
)
def test_a_bad_file_is_one_line_exit_2_and_nothing_is_written(tmp_path, text, message):
    with pytest.raises(CommandError) as raised:
        import_config(tmp_path, text, "--namespace", "team-a", "--namespace", "team-b")
    assert raised.value.returncode == 2
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not NamespaceSettings.objects.exists() and not SettingsAudit.objects.exists()


def test_a_missing_file_and_a_bad_namespace_are_refused(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_chains_config", str(tmp_path / "nope.yaml"), "--namespace", "team-a")
    with pytest.raises(CommandError, match="not a Kubernetes namespace name"):
        import_config(tmp_path, CONFIGMAP_YAML, "--namespace", "Team_A")
