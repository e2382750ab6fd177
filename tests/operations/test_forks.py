"""A forked child (Channels' live server is one) opens its own database connections."""

import asyncio
import os

import pytest
from channels.db import database_sync_to_async
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def session_of_this_process() -> str:
    """Something only this database session answers: PostgreSQL's backend pid, or for
    SQLite the Python connection object's identity."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return str(cursor.fetchone()[0])
    connection.ensure_connection()
    return str(id(connection.connection))


def session_of_a_forked_child() -> tuple[str, bool]:
    """The child's session, and whether it started with no connection of the parent's."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover  (the child reports through the pipe)
        try:
            started_clean = connection.connection is None
            answer = f"{session_of_this_process()} {started_clean}"
        except BaseException as error:
            answer = f"error {error!r}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        answer = reader.read()
    os.waitpid(child, 0)
    session, started_clean = answer.rsplit(" ", 1)
    assert not session.startswith("error"), answer
    return session, started_clean == "True"


def test_a_forked_child_does_not_share_the_connection_its_parent_holds() -> None:
    parent_session = session_of_this_process()

    child_session, started_clean = session_of_a_forked_child()

    assert started_clean
    assert child_session != parent_session
    # The child left the parent's session alone: it still answers, as the same session.
    assert session_of_this_process() == parent_session


@pytest.fixture
def pooled_connection():
    """The default connection drawing from a psycopg pool, as in production (the test process
    itself runs without one: tests/conftest.py says why)."""
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL has a connection pool (DATABASE_POOL_MAX_SIZE)")
    connection.close()
    connection.settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 2, "timeout": 5}
    try:
        yield connection
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict["OPTIONS"].pop("pool")


def test_a_forked_child_does_not_take_the_idle_connections_of_its_parents_pool(pooled_connection) -> None:
    parent_session = session_of_this_process()
    pooled_connection.close()  # back into the pool, idle: the next checkout would take it

    child_session, _ = session_of_a_forked_child()

    assert child_session != parent_session
    # The child left the parent's idle connection alone: its session is still there.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [int(parent_session)])
        assert cursor.fetchone()[0] == 1


def test_a_forked_child_runs_database_work_from_async_code() -> None:
    """A consumer's `database_sync_to_async` in a child forked after the parent used
    asgiref's thread for thread-sensitive work (the browser tests' daphne is such a child)."""

    def answer() -> str:
        return session_of_this_process()

    async def from_async_code() -> str:
        return await asyncio.wait_for(database_sync_to_async(answer)(), timeout=10)

    asyncio.run(from_async_code())  # the parent's thread for thread-sensitive work now exists
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover  (the child reports through the pipe)
        try:
            outcome = f"answered {asyncio.run(from_async_code())}"
        except BaseException as error:
            outcome = f"failed {error!r}"
        os.write(write_end, outcome.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        outcome = reader.read()
    os.waitpid(child, 0)

    assert outcome.startswith("answered"), outcome
