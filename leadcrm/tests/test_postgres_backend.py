"""The health check of kept connections (leadcrm.postgres): no round trip, and a connection the
server ended is found out and replaced before a request uses it."""

import time

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connections"),
]


def ended_by_the_server(wrapper) -> None:
    """As a restart or an administrator ends a connection: from another session."""
    pid = wrapper.connection.info.backend_pid
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while wrapper.is_usable() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def kept():
    """A second connection to the test database, as a web server's process keeps one."""
    wrapper = connection.copy()
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_a_kept_connection_is_usable_without_a_statement(kept):
    with kept.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")

    assert kept.is_usable()

    # The server's own record of the session: nothing ran after that statement.
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [kept.connection.info.backend_pid]
        )
        assert cursor.fetchone() == ("SELECT 'the last statement'",)


def test_a_connection_the_server_ended_is_not_usable(kept):
    ended_by_the_server(kept)

    assert not kept.is_usable()


def test_the_next_request_on_a_connection_the_server_ended_gets_a_new_one(kept):
    first = kept.connection.info.backend_pid
    ended_by_the_server(kept)

    # What Django does at the start of a request, then its first statement.
    kept.close_if_unusable_or_obsolete()
    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (second,) = cursor.fetchone()

    assert second != first


def test_a_connection_left_in_a_transaction_is_not_usable(kept):
    kept.connection.execute("BEGIN")

    assert not kept.is_usable()
    kept.connection.execute("ROLLBACK")
