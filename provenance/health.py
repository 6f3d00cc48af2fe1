"""Readiness checks (``/readyz``; docs/operations.md, "Probes").

- database: a query answers;
- migrations: none left to apply (checked until they are, then remembered by the process);
- broker: it answers, when one is configured;
- signing keys: every registered attestation key loads from KEYS_DIR and is the key it claims
  to be, and a default key exists or may be created. Only where signing happens: the Celery
  worker, or the web process itself when tasks run in-process (no broker).

A check's detail for a person is logged; the response names only the failing check, so a probe
answered to anyone leaks no host name or error text.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


_migrations_applied = False


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Check("database", False, f"unreachable: {exc}".strip())
    return Check("database", True)


def check_migrations() -> Check:
    global _migrations_applied
    if not _migrations_applied:
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            return Check("migrations", False, f"cannot read them: {exc}".strip())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            return Check("migrations", False, f"{len(plan)} not applied ({names})")
        _migrations_applied = True
    return Check("migrations", True)


def check_broker() -> Check | None:
    url = settings.CELERY_BROKER_URL
    if not url:
        return None  # tasks run in-process
    try:
        if urlsplit(url).scheme in {"redis", "rediss"}:
            client = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu.connection import Connection

            with Connection(url, connect_timeout=TIMEOUT) as broker:  # type: ignore[no-untyped-call]
                broker.connect()
    except Exception as exc:  # every transport has its own errors
        return Check("broker", False, f"unreachable: {type(exc).__name__}: {exc}")
    return Check("broker", True)


def check_signing_keys() -> Check:
    from provenance.core.errors import SigningError
    from provenance.models import SigningKey
    from provenance.services import signer_load

    # Keys in use: a key rotated out or revoked signs nothing more, so it need not load here.
    in_use = SigningKey.objects.filter(retired_at__isnull=True, revoked_at__isnull=True)
    keys = list(in_use.filter(purpose=SigningKey.Purpose.ATTESTATION))
    chain_key = in_use.filter(purpose=SigningKey.Purpose.CHECKPOINT).order_by("-id").first()
    problems = []
    if chain_key is not None:
        keys.append(chain_key)  # signs every chain entry
    elif os.path.isdir(settings.KEYS_DIR) and not os.access(settings.KEYS_DIR, os.W_OK):
        problems.append("no chain key (run create_signing_key --chain)")
    for key in keys:
        try:
            signer_load(key)
        except SigningError as exc:
            problems.append(f"{key.key_id} ({key.namespace or 'default'}): {exc}")
    if not any(not key.namespace and key.purpose == SigningKey.Purpose.ATTESTATION for key in keys):
        keys_dir = settings.KEYS_DIR
        if not settings.SIGNING_DEFAULT_KEY_AUTOCREATE:
            problems.append("no default signing key (run create_signing_key)")
        elif os.path.isdir(keys_dir) and not os.access(keys_dir, os.W_OK):
            problems.append(f"no default signing key, and {keys_dir} is not writable")
    if problems:
        return Check("signing_keys", False, "; ".join(problems))
    return Check("signing_keys", True)


def readiness(*, signs: bool) -> list[Check]:
    """Every check that applies; ``signs``: this process signs attestations."""
    database = check_database()
    checks = [database]
    migrations = check_migrations() if database.ok else None
    if migrations is not None:
        checks.append(migrations)
    broker = check_broker()
    if broker is not None:
        checks.append(broker)
    if signs and migrations is not None and migrations.ok:
        checks.append(check_signing_keys())
    for check in checks:
        if not check.ok:
            logger.warning("not ready: %s: %s", check.name, check.detail)
    return checks


def web_signs() -> bool:
    """Without a broker, the web process runs the compute tasks (and signs) itself."""
    return not settings.CELERY_BROKER_URL
