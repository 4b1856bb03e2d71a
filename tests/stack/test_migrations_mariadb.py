"""The Alembic migrations on real MariaDB: upgrade from empty, downgrade to
nothing, upgrade again, and no drift between the models and the schema."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SCRATCH_DB = "auth_test_migrations"


def _server_url() -> str:
    stack_dir = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))
    password_file = stack_dir / "secrets" / "db-password"
    if not password_file.exists():
        pytest.fail("the native stack's MariaDB is not set up; run scripts/stack up")
    password = password_file.read_text().strip()
    return f"mysql+pymysql://app:{password}@127.0.0.1:{os.environ.get('DB_PORT', '3307')}"


def _flask(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "authgw:create_app", "APP_ENV": "test"}
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), *args], cwd=ROOT / "backend", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def scratch_url():
    server = sa.create_engine(_server_url() + "/?charset=utf8mb4")
    with server.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {SCRATCH_DB}"))
        connection.execute(sa.text(f"CREATE DATABASE {SCRATCH_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    yield f"{_server_url()}/{SCRATCH_DB}?charset=utf8mb4"
    with server.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {SCRATCH_DB}"))
    server.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_upgrade_downgrade_upgrade_on_mariadb(scratch_url):
    _flask("db", "upgrade", url=scratch_url)
    expected = {"users", "roles", "permissions", "user_roles", "role_permissions", "sessions", "refresh_tokens",
                "audit_events", "allowed_emails"}
    assert expected <= _tables(scratch_url)
    engine = sa.create_engine(scratch_url)
    with engine.connect() as connection:
        roles = set(connection.execute(sa.text("SELECT name FROM roles")).scalars())
        charset = connection.execute(sa.text(
            "SELECT CCSA.character_set_name FROM information_schema.TABLES T JOIN "
            "information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA ON CCSA.collation_name = T.table_collation "
            "WHERE T.table_schema = DATABASE() AND T.table_name = 'users'")).scalar_one()
        revoked_at = connection.execute(sa.text(
            "SELECT DATETIME_PRECISION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'sessions' AND COLUMN_NAME = 'revoked_at'")).scalar_one()
    engine.dispose()
    assert {"user", "admin"} <= roles
    assert charset == "utf8mb4"
    assert revoked_at == 6  # microseconds: the grace window and revocation feed need them

    _flask("db", "downgrade", "base", url=scratch_url)
    assert _tables(scratch_url) == set()
    _flask("db", "upgrade", url=scratch_url)
    assert expected <= _tables(scratch_url)
    # The models and the migrated MariaDB schema agree.
    _flask("db", "check", url=scratch_url)


def test_replicas_upgrading_at_once_migrate_exactly_once(scratch_url):
    env = {**os.environ, "DATABASE_URL": scratch_url, "FLASK_APP": "authgw:create_app", "APP_ENV": "test"}
    flask = str(ROOT / ".venv" / "bin" / "flask")
    runs = [subprocess.Popen([flask, "db", "upgrade"], cwd=ROOT / "backend", env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum("Running upgrade  -> 0001" in output for output in outputs) == 1, outputs
