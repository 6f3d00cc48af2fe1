"""Real processes for the operations tests: gunicorn, a Celery worker (prefork pool), Prometheus
and the OpenID Provider of tests/oidc (oidc-provider on Node.js), each on a free loopback port,
logging to a file, stopped at the end of the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.test_commands import _free_port
from tests.test_tasks_worker import _db_url, wait_for

BASE_DIR = Path(__file__).resolve().parents[2]
OIDC_HARNESS = BASE_DIR / "tests" / "oidc"
NODE = shutil.which("node") or "/usr/bin/node"


class Process:
    """A subprocess in its own session, output to ``log``."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.cmd, self.log, self.env = cmd, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def answers(url: str, status: int | None = None) -> Callable[[], bool]:
    def check() -> bool:
        try:
            response = requests.get(url, timeout=2)
        except requests.RequestException:
            return False
        return status is None or response.status_code == status

    return check


def chainsweb_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of chainsweb processes on the test database."""
    env = {**os.environ, "DATABASE_URL": _db_url(), "KEYS_DIR": str(tmp / "keys")}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(extra)
    return env


class Web(Process):
    def __init__(self, tmp: Path, env: dict[str, str], workers: int = 2, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable, "-m", "gunicorn", "-c", "python:chainsweb.gunicorn",
            "chainsweb.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--timeout", "60", *extra,
        ]  # fmt: skip
        super().__init__(cmd, tmp / "web.log", env)

    def start(self) -> None:
        super().start()
        wait_for(answers(f"{self.url}/healthz", 200), "gunicorn to answer")


class CeleryWorker(Process):
    def __init__(self, tmp: Path, env: dict[str, str], *extra: str, quiet: bool = False) -> None:
        self.ops_port = _free_port()
        # --quiet: no start banner (Celery prints it, it does not log it).
        cmd = [
            sys.executable, "-m", "celery", "-A", "chainsweb", *(["--quiet"] if quiet else []),
            "worker", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat", *extra,
        ]  # fmt: skip
        super().__init__(cmd, tmp / "worker.log", {**env, "OPS_HTTP_PORT": str(self.ops_port)})
        self.ops_url = f"http://127.0.0.1:{self.ops_port}"

    def start(self) -> None:
        super().start()
        wait_for(answers(f"{self.ops_url}/healthz", 200), "the worker's ops port")


class Prometheus(Process):
    """A real Prometheus scraping ``targets`` (host:port, path /metrics) every second."""

    def __init__(self, tmp: Path, targets: list[str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = tmp / "prometheus"
        folder.mkdir()
        config = folder / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                    "scrape_configs": [
                        {"job_name": "chainsweb", "static_configs": [{"targets": targets}]}
                    ],
                }
            )
        )
        cmd = [
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]  # fmt: skip
        super().__init__(cmd, folder / "prometheus.log")

    def start(self) -> None:
        super().start()
        wait_for(answers(f"{self.url}/-/ready", 200), "Prometheus to be ready")

    def query(self, expression: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result


class OpenIdProvider(Process):
    """tests/oidc/provider.mjs: oidc-provider with users, faults and a record of what it issued
    in files this object writes."""

    CLIENT_ID = "chainsweb"
    OTHER_CLIENT_ID = "other-app"

    def __init__(self, tmp: Path, app_url: str) -> None:
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.folder = tmp / "oidc"
        self.folder.mkdir()
        self.client_secret = f"client-secret-{os.urandom(12).hex()}"
        self.users_file = self.folder / "users.json"
        self.faults_file = self.folder / "faults.json"
        self.record_file = self.folder / "issued.jsonl"
        config = self.folder / "config.json"
        config.write_text(
            json.dumps(
                {
                    "issuer": self.issuer,
                    "other_client_id": self.OTHER_CLIENT_ID,
                    "clients": [
                        {
                            "client_id": self.CLIENT_ID,
                            "client_secret": self.client_secret,
                            "redirect_uris": [f"{app_url}/oidc/callback/"],
                            "post_logout_redirect_uris": [f"{app_url}/accounts/login/"],
                        },
                        {
                            "client_id": self.OTHER_CLIENT_ID,
                            "client_secret": f"other-secret-{os.urandom(12).hex()}",
                            "redirect_uris": ["http://127.0.0.1:9/callback"],
                        },
                    ],
                    "users_file": str(self.users_file),
                    "faults_file": str(self.faults_file),
                    "record_file": str(self.record_file),
                }
            )
        )
        self.users: dict[str, dict[str, Any]] = {}
        self.set_users({})
        self.set_fault(None)
        super().__init__(
            [NODE, str(OIDC_HARNESS / "provider.mjs"), str(config)], self.folder / "op.log"
        )

    def start(self) -> None:
        if not (OIDC_HARNESS / "node_modules" / "oidc-provider").is_dir():
            raise AssertionError("tests/oidc/node_modules is missing: run `make oidc-provider`")
        super().start()
        wait_for(
            answers(f"{self.issuer}/.well-known/openid-configuration", 200), "the OpenID Provider"
        )

    def add_user(self, username: str, password: str, groups: list[str]) -> None:
        self.users[username] = {
            "sub": f"sub-{os.urandom(6).hex()}",
            "password": password,
            "email": f"{username}@example.org",
            "groups": groups,
        }
        self.set_users(self.users)

    def set_groups(self, username: str, groups: list[str]) -> None:
        self.users[username]["groups"] = groups
        self.set_users(self.users)

    def set_users(self, users: dict[str, dict[str, Any]]) -> None:
        self.users_file.write_text(json.dumps(users))

    def set_fault(self, fault: str | None) -> None:
        self.faults_file.write_text(json.dumps({"id_token": fault}))

    def issued(self) -> list[str]:
        """Every code, access token and ID token it handed out."""
        if not self.record_file.exists():
            return []
        lines = self.record_file.read_text().splitlines()
        return [json.loads(line)["value"] for line in lines if line.strip()]
