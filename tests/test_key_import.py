"""import_signing_key and export_public_key: Chains' keys become chainsweb's, nothing else moves.

``--from-secret`` uses the real kubernetes client against a local HTTP server that answers the
one call it makes (GET a Secret), as tests/test_watch_records.py does for list/watch.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from provenance.core.signing import load_file_signer, verify_signature
from provenance.models import NamespaceSettings, SettingsAudit, SigningKey
from provenance.services import signer_load
from tests.keymaker import (
    cosign_key_pem,
    new_key,
    pkcs8_pem,
    public_pem,
    sec1_pem,
    ssh_keygen_fingerprint,
    ssh_keygen_pair,
)
from tests.local_http import kubeconfig_file, send_json

BASE_DIR = Path(__file__).resolve().parent.parent
CHAINS_KEYS = BASE_DIR / "tests" / "data" / "chains-keys"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path, monkeypatch):
    settings.KEYS_DIR = tmp_path / "keys"
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def import_fails(*args: str) -> str:
    """The command's error; asserts exit status 2 and that nothing was stored."""
    with pytest.raises(CommandError) as info:
        run("import_signing_key", *args)
    assert info.value.returncode == 2
    assert not SigningKey.objects.exists()
    assert not NamespaceSettings.objects.exists()
    return str(info.value)


def line(out: str, label: str) -> str:
    return next(x.split(": ", 1)[1] for x in out.splitlines() if x.startswith(label + ": "))


def keys_dir_files(settings) -> list[Path]:
    folder = Path(settings.KEYS_DIR)
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("kind", "writer"),
    [("ecdsa-p256", pkcs8_pem), ("ecdsa-p256", sec1_pem), ("ed25519", pkcs8_pem)],
)
def test_x509_pem_becomes_the_namespace_key_stored_like_a_generated_one(
    settings, tmp_path, kind, writer
):
    key, listed = ssh_keygen_pair(kind, tmp_path)
    (tmp_path / "x509.pem").write_bytes(writer(key))
    out = run("import_signing_key", "--namespace", "team-a", str(tmp_path / "x509.pem"))
    row = SigningKey.objects.get()
    assert line(out, "key id") == row.key_id == listed  # what ssh-keygen -l lists
    assert (row.namespace, row.algorithm, row.purpose) == ("team-a", kind, "attestation")
    assert NamespaceSettings.objects.get(namespace="team-a").signing_key == row
    assert SettingsAudit.objects.filter(namespace="team-a").count() == 1
    path = Path(settings.KEYS_DIR) / row.private_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == pkcs8_pem(key)  # stored as PKCS#8, whatever it came as
    assert load_file_signer(path).key_id == row.key_id
    assert "PRIVATE" not in out and "PRIVATE" not in row.public_key_pem


def test_chains_cosign_key_folder_keeps_the_published_cosign_pub_valid(tmp_path):
    folder = tmp_path / "signing-secrets"
    folder.mkdir()
    for name in ("cosign.key", "cosign.password", "cosign.pub"):
        (folder / name).write_bytes((CHAINS_KEYS / name).read_bytes())
    out = run("import_signing_key", "--namespace", "ci", str(folder))
    assert line(out, "from") == "cosign.key (ENCRYPTED COSIGN PRIVATE KEY)"
    assert line(out, "key id") == ssh_keygen_fingerprint(
        (CHAINS_KEYS / "cosign.pub").read_bytes(), tmp_path
    )
    exported = run("export_public_key", "--namespace", "ci")
    assert exported.strip() == (CHAINS_KEYS / "cosign.pub").read_text().strip()
    # What chainsweb now signs verifies with the cosign.pub the admission policies already hold.
    signature = signer_load(SigningKey.objects.get()).sign(b"payload")
    assert verify_signature((CHAINS_KEYS / "cosign.pub").read_bytes(), b"payload", signature)


def test_without_namespace_the_key_becomes_the_default_key(tmp_path):
    key = new_key("ecdsa-p256")
    (tmp_path / "x509.pem").write_bytes(pkcs8_pem(key))
    run("import_signing_key", str(tmp_path / "x509.pem"))
    row = SigningKey.objects.get()
    assert row.namespace == "" and not NamespaceSettings.objects.exists()
    assert run("export_public_key").strip() == public_pem(key).decode().strip()
    # A namespace with no key of its own is signed by the default key: that is what it exports.
    assert run("export_public_key", "--namespace", "team-b") == run("export_public_key")


def test_password_file_and_environment(tmp_path, monkeypatch):
    key = new_key("ed25519")
    (tmp_path / "cosign.key").write_bytes(cosign_key_pem(key, b"from-file"))
    (tmp_path / "pw").write_bytes(b"from-file\n")
    run("import_signing_key", "--namespace", "a", str(tmp_path / "cosign.key"),
        "--password-file", str(tmp_path / "pw"))  # fmt: skip
    other = new_key("ecdsa-p256")
    (tmp_path / "env.key").write_bytes(cosign_key_pem(other, b"from-env"))
    monkeypatch.setenv("COSIGN_PASSWORD", "from-env")
    run("import_signing_key", "--namespace", "b", str(tmp_path / "env.key"))
    assert sorted(SigningKey.objects.values_list("namespace", "algorithm")) == [
        ("a", "ed25519"),
        ("b", "ecdsa-p256"),
    ]


def test_importing_the_same_key_again_is_a_no_op_and_another_namespace_is_refused(tmp_path):
    (tmp_path / "x509.pem").write_bytes(pkcs8_pem(new_key("ecdsa-p256")))
    first = run("import_signing_key", "--namespace", "a", str(tmp_path / "x509.pem"))
    again = run("import_signing_key", "--namespace", "a", str(tmp_path / "x509.pem"))
    assert line(first, "key id") == line(again, "key id")
    assert SigningKey.objects.count() == 1 and SettingsAudit.objects.count() == 1
    with pytest.raises(CommandError, match="already registered for namespace a") as info:
        run("import_signing_key", "--namespace", "b", str(tmp_path / "x509.pem"))
    assert info.value.returncode == 2
    assert not NamespaceSettings.objects.filter(namespace="b").exists()


@pytest.mark.parametrize(
    ("content", "extra", "match"),
    [
        (lambda: cosign_key_pem(new_key("ecdsa-p256"), b"right"), ["--password-file", "{wrong}"],
         "wrong password"),
        (lambda: cosign_key_pem(new_key("ecdsa-p256"), b"right"), [], "no password was given"),
        (lambda: pkcs8_pem(new_key("rsa")), [], "unsupported key type RSA"),
        (lambda: pkcs8_pem(new_key("ecdsa-p384")), [], "secp384r1"),
        (lambda: b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", [],
         "not a readable private key"),
        (lambda: b"not a key", [], "not a PEM file"),
    ],
)  # fmt: skip
def test_bad_keys_exit_2_with_one_line_and_store_nothing(settings, tmp_path, content, extra, match):
    (tmp_path / "wrong").write_bytes(b"wrong")
    (tmp_path / "key.pem").write_bytes(content())
    args = [a.format(wrong=tmp_path / "wrong") for a in extra]
    message = import_fails("--namespace", "a", str(tmp_path / "key.pem"), *args)
    assert match in message and "\n" not in message
    assert keys_dir_files(settings) == []


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["{tmp}/missing.pem"], "cannot read"),
        (["--namespace", "Not_A_Namespace", "{tmp}/x"], "not a Kubernetes namespace name"),
        ([], "give either PATH or --from-secret"),
        (["{tmp}/x", "--from-secret", "ns/name"], "give either PATH or --from-secret"),
        (["--from-secret", "no-slash"], "expected NAMESPACE/NAME"),
        (["{tmp}", "--password-file", "{tmp}/nope"], "neither x509.pem nor cosign.key"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, match):
    message = import_fails(*[a.format(tmp=tmp_path) for a in args])
    assert match in message


def test_a_mismatched_cosign_pub_in_the_folder_is_refused(tmp_path):
    key = new_key("ecdsa-p256")
    (tmp_path / "cosign.key").write_bytes(cosign_key_pem(key, b"pw"))
    (tmp_path / "cosign.password").write_bytes(b"pw")
    (tmp_path / "cosign.pub").write_bytes(public_pem(new_key("ecdsa-p256")))
    assert "is not the public half" in import_fails(str(tmp_path))


def test_export_without_any_key_exits_2():
    with pytest.raises(CommandError, match="no signing key yet") as info:
        run("export_public_key", "--namespace", "team-a")
    assert info.value.returncode == 2


def test_the_real_command_line_prints_one_line_and_exits_2(tmp_path):
    (tmp_path / "x509.pem").write_bytes(pkcs8_pem(new_key("rsa")))
    s = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/"
        f"{s['NAME']}",
        "KEYS_DIR": str(tmp_path / "keys"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "import_signing_key", str(tmp_path / "x509.pem")],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unsupported key type RSA" in result.stderr
    assert "Traceback" not in result.stderr


# --- --from-secret through the Kubernetes API ----------------------------------------------------


class SecretServer:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.forbidden: set[tuple[str, str]] = set()
        self.requests: list[str] = []


def _handler(server: SecretServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append(self.path)
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) != 6 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "secrets":
                return self._json(404, {"kind": "Status", "code": 404})
            key = (parts[3], parts[5])
            if key in server.forbidden:
                return self._json(403, {"kind": "Status", "code": 403, "reason": "Forbidden"})
            if key not in server.secrets:
                return self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"namespace": key[0], "name": key[1]},
                "type": "Opaque",
                "data": server.secrets[key],
            }
            self._json(200, body)

        def _json(self, code: int, body: dict[str, Any]) -> None:
            send_json(self, code, body)

    return Handler


@pytest.fixture
def cluster(tmp_path) -> Iterator[tuple[SecretServer, Path]]:
    state = SecretServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    kubeconfig = kubeconfig_file(tmp_path / "kubeconfig", f"http://127.0.0.1:{httpd.server_port}")
    try:
        yield state, kubeconfig
    finally:
        httpd.shutdown()
        httpd.server_close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_from_secret_reads_chains_signing_secrets(cluster):
    state, kubeconfig = cluster
    state.secrets[("tekton-chains", "signing-secrets")] = {
        name: b64((CHAINS_KEYS / name).read_bytes())
        for name in ("cosign.key", "cosign.password", "cosign.pub")
    }
    out = run("import_signing_key", "--namespace", "ci", "--from-secret",
              "tekton-chains/signing-secrets", "--kubeconfig", str(kubeconfig))  # fmt: skip
    assert state.requests[-1].startswith("/api/v1/namespaces/tekton-chains/secrets/signing-secrets")
    assert line(out, "from") == "cosign.key (ENCRYPTED COSIGN PRIVATE KEY)"
    assert run("export_public_key", "--namespace", "ci").strip() == (
        (CHAINS_KEYS / "cosign.pub").read_text().strip()
    )


def test_from_secret_x509_pem_and_errors(cluster):
    state, kubeconfig = cluster
    key = new_key("ed25519")
    state.secrets[("tekton-chains", "x509")] = {"x509.pem": b64(pkcs8_pem(key))}
    state.secrets[("tekton-chains", "empty")] = {"other": b64(b"x")}
    state.secrets[("tekton-chains", "garbled")] = {"x509.pem": "%%%"}
    state.forbidden.add(("tekton-chains", "locked"))
    for name, match in [
        ("missing", "secret tekton-chains/missing not found"),
        ("locked", "not allowed to read secret tekton-chains/locked (HTTP 403"),
        ("empty", "has neither x509.pem nor cosign.key"),
        ("garbled", "x509.pem is not base64 data"),
    ]:
        message = import_fails("--from-secret", f"tekton-chains/{name}",
                               "--kubeconfig", str(kubeconfig))  # fmt: skip
        assert match in message
    run("import_signing_key", "--from-secret", "tekton-chains/x509",
        "--kubeconfig", str(kubeconfig))  # fmt: skip
    assert SigningKey.objects.get().algorithm == "ed25519"


def test_from_secret_with_no_cluster_behind_the_kubeconfig(tmp_path):
    kubeconfig = kubeconfig_file(tmp_path / "kubeconfig", "http://127.0.0.1:9", user={})
    message = import_fails("--from-secret", "a/b", "--kubeconfig", str(kubeconfig))
    assert "cannot reach the Kubernetes API" in message
    assert "cannot load the Kubernetes configuration" in import_fails(
        "--from-secret", "a/b", "--kubeconfig", str(tmp_path / "none")
    )
