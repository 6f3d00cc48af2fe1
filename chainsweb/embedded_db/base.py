"""Django's PostgreSQL backend on the embedded server (pgserver), started on first connection.

Used when DATABASE_URL is unset. Settings only describe the server (its data folder); the
postgres process starts the first time Django actually opens a connection, so commands that never
touch the database (``compute_provenance``, ``check``, ``makemigrations --check``) start nothing
and leave no ``.pgdata`` behind.

As root, pgserver creates a ``pgserver`` system user and runs postgres as that user (postgres
refuses to run as root), so this also works in CI and containers. The server stops when the last
process that opened it exits.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from django.db.backends.postgresql.client import DatabaseClient as PostgresDatabaseClient

_lock = threading.Lock()
# pgserver stops the server when the last handle is garbage-collected or the process exits, so the
# handles live as long as the process does.
_servers: dict[Path, Any] = {}


def embedded_server_address(pgdata: Path) -> tuple[str, str]:
    """Start (or reuse) the embedded Postgres in ``pgdata``; return libpq's (host, port).

    The host is the Unix socket directory pgserver chose; the port is empty for sockets.
    """
    pgdata = pgdata.resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); its /tmp
                # fallback is fine for pgserver's lock file.
                warnings.simplefilter("ignore")
                from pgserver.postgres_server import get_server

                server = get_server(pgdata)
            _servers[pgdata] = server
    # "postgresql://postgres:@/postgres?host=/socket/dir" (or host:port on Windows).
    uri = urlsplit(str(server.get_uri()))
    host = dict(parse_qsl(uri.query)).get("host") or uri.hostname or ""
    return host, str(uri.port or "")


class DatabaseClient(PostgresDatabaseClient):
    def runshell(self, parameters: Iterable[str]) -> None:
        # `manage.py dbshell` reads HOST without opening a Django connection first.
        assert isinstance(self.connection, DatabaseWrapper)
        self.connection.ensure_server()
        super().runshell(parameters)


class DatabaseWrapper(PostgresDatabaseWrapper):
    client_class = DatabaseClient

    def ensure_server(self) -> None:
        """Fill HOST/PORT from the running embedded server, starting it if needed."""
        if not self.settings_dict.get("HOST"):
            host, port = embedded_server_address(Path(self.settings_dict["PGDATA"]))
            self.settings_dict["HOST"] = host
            self.settings_dict["PORT"] = port

    def get_connection_params(self) -> dict[str, Any]:
        self.ensure_server()
        return super().get_connection_params()
