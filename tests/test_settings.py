from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from chainsweb.settings import database_from_url, env_bool, env_int, env_secret


def test_database_url_with_all_parts_and_sslmode() -> None:
    db = database_from_url("postgres://alice:s%40cret@db.example.com:6543/chains?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["USER"] == "alice"
    assert db["PASSWORD"] == "s@cret"
    assert db["HOST"] == "db.example.com"
    assert db["PORT"] == "6543"
    assert db["NAME"] == "chains"
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_database_url_postgresql_scheme_without_password_or_port() -> None:
    db = database_from_url("postgresql://postgres@127.0.0.1/chainsweb")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "postgres",
        "",
        "127.0.0.1",
        "",
        "chainsweb",
    )
    assert db["OPTIONS"] == {}


def test_database_url_socket_dir_in_host_query() -> None:
    # The form pgserver returns for its Unix socket.
    db = database_from_url("postgresql://postgres:@/postgres?host=/tmp/x/.pgdata")
    assert db["HOST"] == "/tmp/x/.pgdata"
    assert db["NAME"] == "postgres"
    assert db["OPTIONS"] == {}


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///db.sqlite3", "nonsense"])
def test_database_url_rejects_non_postgres(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="postgres://"):
        database_from_url(url)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("False", False)],
)
def test_env_bool_parses_common_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("CW_FLAG", raw)
    assert env_bool("CW_FLAG", not expected) is expected


def test_env_bool_unset_or_empty_uses_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CW_FLAG", raising=False)
    assert env_bool("CW_FLAG", True) is True
    monkeypatch.setenv("CW_FLAG", "")
    assert env_bool("CW_FLAG", False) is False


def test_env_bool_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CW_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="CW_FLAG"):
        env_bool("CW_FLAG", False)


def test_env_int(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CW_INT", raising=False)
    assert env_int("CW_INT", 7) == 7
    monkeypatch.setenv("CW_INT", "1048576")
    assert env_int("CW_INT", 7) == 1048576
    monkeypatch.setenv("CW_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="CW_INT"):
        env_int("CW_INT", 7)


def test_env_secret_from_value_default_and_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CW_SECRET", raising=False)
    monkeypatch.delenv("CW_SECRET_FILE", raising=False)
    assert env_secret("CW_SECRET", "dflt") == "dflt"

    monkeypatch.setenv("CW_SECRET", "from-env")
    assert env_secret("CW_SECRET") == "from-env"

    monkeypatch.delenv("CW_SECRET")
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("CW_SECRET_FILE", str(secret_file))
    assert env_secret("CW_SECRET") == "from-file"


def test_env_secret_rejects_both_and_missing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CW_SECRET", "a")
    monkeypatch.setenv("CW_SECRET_FILE", str(tmp_path / "s"))
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("CW_SECRET")

    monkeypatch.delenv("CW_SECRET")
    with pytest.raises(ImproperlyConfigured, match="CW_SECRET_FILE"):
        env_secret("CW_SECRET")


@pytest.mark.django_db
def test_tests_run_on_postgres() -> None:
    # Development, tests and production share one engine (house style, rule 8).
    from django.db import connection

    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select 1")
        assert cursor.fetchone() == (1,)
