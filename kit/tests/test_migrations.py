"""authgw_kit.migrations: the named lock around migrations (MySQL/MariaDB) and none elsewhere."""

import pytest

from authgw_kit.migrations import migration_lock


class FakeConnection:
    """Records statements; ``GET_LOCK`` answers ``answer`` (1 got it, 0 timed out)."""

    def __init__(self, dialect="mysql", answer=1):
        self.dialect = type("Dialect", (), {"name": dialect})()
        self.answer = answer
        self.log = []

    def exec_driver_sql(self, statement):
        self.log.append(statement)
        return type("Result", (), {"scalar": lambda _: self.answer})()

    def commit(self):
        self.log.append("COMMIT")


@pytest.mark.parametrize("dialect", ["mysql", "mariadb"])
def test_lock_is_taken_committed_and_released(dialect):
    connection = FakeConnection(dialect)
    with migration_lock(connection, "svc_migrations", 120) as locked:
        assert locked is True
        assert connection.log == ["SELECT GET_LOCK('svc_migrations', 120)", "COMMIT"]
        connection.log.append("MIGRATE")
    assert connection.log[2:] == ["MIGRATE", "SELECT RELEASE_LOCK('svc_migrations')", "COMMIT"]


def test_lock_is_released_when_the_migration_fails():
    connection = FakeConnection()
    with pytest.raises(ZeroDivisionError):
        with migration_lock(connection, "svc_migrations"):
            1 / 0
    assert connection.log[-2:] == ["SELECT RELEASE_LOCK('svc_migrations')", "COMMIT"]


def test_a_lock_held_elsewhere_for_the_timeout_is_an_error_and_runs_nothing():
    connection = FakeConnection(answer=0)
    ran = []
    with pytest.raises(RuntimeError, match="another process held the notes migration lock for 300 s"):
        with migration_lock(connection, "notes_migrations", label="notes migration lock"):
            ran.append(True)
    assert ran == [] and not any("RELEASE_LOCK" in line for line in connection.log)


def test_sqlite_takes_no_lock():
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        with migration_lock(connection, "svc_migrations") as locked:
            assert locked is False
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("name, timeout", [("x'); DROP TABLE t; --", 300), ("", 300), ("ok", 0), ("ok", True),
                                           ("ok", 1.5)])
def test_unsafe_names_and_timeouts_are_refused(name, timeout):
    with pytest.raises(ValueError):
        with migration_lock(FakeConnection(), name, timeout):
            pass
