"""create_token, create_signing_key and import_records, including a Postgres restart mid-import."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import orjson
import psycopg
import pytest
from django.core.management import CommandError, call_command

from provenance.models import ApiToken, Attestation, NamespaceSettings, RunRecord, SigningKey
from provenance.reads.tokens import api_token_active
from tests.factories import as_list, pipeline_docs, taskrun_doc

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_create_token_prints_it_once_and_stores_the_hash() -> None:
    out, err = run("create_token", "--user", "ci", "--namespace", "team-a", "--role", "ingester")
    token = out.strip()
    row = ApiToken.objects.get()
    assert api_token_active(token) == row
    assert row.namespaces == ["team-a"] and row.role == "ingester"
    assert token not in row.token_hash and "team-a" in err


@pytest.mark.django_db
def test_create_token_for_a_namespace_nothing_names_warns(settings) -> None:
    NamespaceSettings.objects.create(namespace="team-a")
    out, err = run(
        "create_token", "--user", "ci", "--namespace", "team-a", "--namespace", "does-not-exist"
    )
    assert api_token_active(out.strip()) is not None  # made: a new namespace is normal
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: no run, settings or grant names namespace 'does-not-exist' yet; check the "
        "spelling (the token sees its runs once they arrive)"
    ]


@pytest.mark.django_db
def test_create_token_for_all_namespaces_is_explicit_and_defaults_to_viewer() -> None:
    out, err = run("create_token", "--user", "auditor", "--all-namespaces")
    row = ApiToken.objects.get()
    assert row.all_namespaces and row.namespaces == [] and row.role == "viewer"
    assert "all namespaces" in err


@pytest.mark.django_db
def test_create_token_bad_role_is_a_clean_error() -> None:
    with pytest.raises(CommandError):
        run("create_token", "--user", "x", "--role", "root")


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_create_signing_key_writes_a_0600_file_and_registers_the_public_key(
    settings, algorithm
) -> None:
    out, _ = run("create_signing_key", "--namespace", "team-a", "--algorithm", algorithm)
    key = SigningKey.objects.get()
    assert key.algorithm == algorithm and key.namespace == "team-a"
    path = Path(settings.KEYS_DIR) / key.private_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()
    assert "PRIVATE KEY" not in out and key.key_id in out
    assert "PRIVATE" not in key.public_key_pem
    assert NamespaceSettings.objects.get(namespace="team-a").signing_key == key


@pytest.mark.django_db
def test_create_signing_key_in_unwritable_folder_is_a_clean_error(settings, tmp_path) -> None:
    settings.KEYS_DIR = tmp_path / "file"
    settings.KEYS_DIR.write_text("not a folder")
    with pytest.raises(CommandError, match="cannot create the key"):
        run("create_signing_key", "--namespace", "team-a")
    assert not SigningKey.objects.exists()


def _write_files(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    uids = []
    for n in range(count):
        doc = taskrun_doc(name=f"tr-{n}")
        uids.append(doc["metadata"]["uid"])
        (folder / f"run-{n:04d}.json").write_bytes(orjson.dumps(doc))
    return uids


@pytest.mark.django_db
def test_import_records_files_and_folders_with_summary(
    tmp_path, django_capture_on_commit_callbacks
) -> None:
    uids = _write_files(tmp_path / "dump", 3)
    docs = pipeline_docs()
    (tmp_path / "pipeline.json").write_bytes(as_list(docs))
    (tmp_path / "dump" / "notes.txt").write_text("ignored: not json/yaml")
    with django_capture_on_commit_callbacks(execute=True):
        out, err = run("import_records", str(tmp_path / "dump"), str(tmp_path / "pipeline.json"))
    assert "imported 4 of 4 files: 6 records created, 0 updated, 0 unchanged" in out
    # stderr is not a terminal here: no progress bar redrawn into it.
    assert "\r" not in err and "file/s" not in err and "it/s" not in err
    assert set(uids) <= set(RunRecord.objects.values_list("uid", flat=True))
    assert Attestation.objects.count() == 4
    out, _ = run("import_records", "--no-progress", str(tmp_path / "dump"))
    assert "0 records created, 0 updated, 3 unchanged" in out


@pytest.mark.django_db
def test_import_records_reports_rejected_files_and_exits_nonzero(tmp_path) -> None:
    _write_files(tmp_path, 2)
    (tmp_path / "broken.json").write_text("{nope")
    (tmp_path / "pod.yaml").write_text("kind: Pod\nmetadata: {name: x}\n")
    out = StringIO()
    with pytest.raises(CommandError, match="2 of 4 files were rejected"):
        call_command("import_records", str(tmp_path), stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "imported 2 of 4 files" in text
    assert "broken.json: invalid JSON" in text and "pod.yaml: object 1 is not a Tekton" in text


def test_import_records_missing_path_is_a_clean_error() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "import_records", "/nonexistent/x.json"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "KEYS_DIR": tempfile.gettempdir()},
    )
    assert result.returncode != 0
    assert "no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Postgres restarted during an import. A private cluster (initdb in a temporary folder) is
# restarted rather than the machine's shared one, so that tests running in parallel are not hit.


def _pg_bindir() -> Path | None:
    for initdb in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
        return initdb.parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.datadir = Path(tempfile.mkdtemp(prefix="chainsweb-pg-"))
        self.port = _free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.datadir, "postgres", "postgres")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chainsweb_import"

    def _pg(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, capture_output=True)

    def ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l",
            str(self.datadir / "log"), "-o", options, "-m", "fast", "-w", action,
        )  # fmt: skip

    def start(self) -> None:
        self._pg(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
            "--auth=trust", "-E", "UTF8",
        )  # fmt: skip
        self.ctl("start")
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE chainsweb_import")

    def query(self, sql: str) -> int:
        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.ctl("stop")
        shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    c = Cluster(bindir)
    try:
        c.start()
        yield c
    finally:
        c.destroy()


def test_postgres_restart_during_import_resumes_and_imports_each_file_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"},
        "DATABASE_URL": cluster.url,
        "KEYS_DIR": str(tmp_path / "keys"),
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True)
    _write_files(tmp_path / "dump", 300)
    restarted = threading.Event()

    def restart_when_busy() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if cluster.query("SELECT count(*) FROM provenance_runrecord") >= 10:
                    break
            except psycopg.OperationalError:
                pass
            time.sleep(0.05)
        cluster.ctl("restart")
        restarted.set()

    thread = threading.Thread(target=restart_when_busy, daemon=True)
    thread.start()
    result = subprocess.run(
        [*manage, "import_records", "--no-progress", str(tmp_path / "dump")],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    thread.join(timeout=120)
    assert restarted.is_set()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported 300 of 300 files: 300 records created" in result.stdout
    assert "database error" in result.stderr, "the restart did not hit the import"
    assert "retrying" in result.stderr and "Traceback" not in result.stdout
    # Every file exactly once, each run whole: no duplicate, no half-written record.
    assert cluster.query("SELECT count(*) FROM provenance_runrecord") == 300
    assert cluster.query("SELECT count(DISTINCT uid) FROM provenance_runrecord") == 300
    assert cluster.query("SELECT count(*) FROM provenance_runrecord WHERE raw_sha256 = ''") == 0
    assert (
        cluster.query(
            "SELECT count(*) FROM (SELECT run_id FROM provenance_attestation "
            "GROUP BY run_id HAVING count(*) > 1) d"
        )
        == 0
    )
    # Runs whose signing was interrupted are visibly pending/failed, never silently missing;
    # an import of the same files again re-queues them and changes no record.
    again = subprocess.run(
        [*manage, "import_records", "--no-progress", str(tmp_path / "dump")],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "0 records created, 0 updated, 300 unchanged" in again.stdout, again.stderr
    assert cluster.query("SELECT count(*) FROM provenance_attestation") == 300
    assert cluster.query("SELECT count(*) FROM provenance_chainentry") == 300
    verify = subprocess.run(
        [*manage, "verify_store"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
