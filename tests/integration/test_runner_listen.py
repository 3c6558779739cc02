"""The background runner wakes on the event store's NOTIFY on PostgreSQL, survives losing its LISTEN
connection, and still follows SQLite by polling.

The poll interval is 30 s in the PostgreSQL tests, so an event that reaches the board within the
deadlines below was brought there by a NOTIFY (or by the catch-up after a reconnect), not by polling.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from urllib.parse import urlparse

import psycopg
import pytest

from main.services import Services
from tests import ledger
from tests.conftest import SERVER_URL, build_services
from tests.ledger import ADMIN, ALICE

pytestmark = pytest.mark.postgres

LONG_POLL = 30.0
DEADLINE = 15.0  # well under LONG_POLL: generous for a slow machine, too short for a poll


wait_until = partial(ledger.wait_until, timeout=DEADLINE, every=0.02)


@pytest.fixture
def writer(postgres_url: str) -> Iterator[Services]:
    """Another Goldsplit instance on the same database, as another process would be."""
    services = build_services(postgres_url)
    services.app.register_member(ADMIN, "alice", "Alice", "sales")
    yield services
    services.close()


@pytest.fixture
def following(postgres_url: str, writer: Services) -> Iterator[Services]:
    """Services whose runner follows the log in the background with a 30 s poll interval, idle."""
    services = build_services(postgres_url)
    head = services.app.recorder.max_notification_id()
    services.runner.start(LONG_POLL)
    wait_until(lambda: services.runner.listener_connected and services.runner.position() >= head)
    time.sleep(0.5)  # let the first catch-up end, so only a NOTIFY can bring what comes next
    yield services
    services.close()


def open_opportunity(writer: Services) -> str:
    return writer.app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                                       currency="USD", expected_close="2030-01-01").id


def contribute(writer: Services, opportunity_id: str, summary: str) -> None:
    when = (writer.app.clock() - timedelta(hours=1)).isoformat()
    writer.app.record_contribution(ALICE, opportunity_id, member_id="alice", kind="visit",
                                   summary=summary, occurred_at=when)


def summaries(services: Services, opportunity_id: str) -> list[str]:
    board = services.views.get("board", opportunity_id)
    return sorted(c["summary"] for c in board["contributions"]) if board else []


def listener_pids(postgres_url: str) -> list[int]:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                            (urlparse(postgres_url).path.lstrip("/"),
                             "goldsplit-projection-listener")).fetchall()
    return [pid for (pid,) in rows]


def test_an_event_written_by_another_instance_reaches_the_board_on_notify(
        following: Services, writer: Services) -> None:
    assert following.runner.listen_channel == "goldsplit_events"

    opportunity_id = open_opportunity(writer)
    contribute(writer, opportunity_id, "kick-off")

    wait_until(lambda: summaries(following, opportunity_id) == ["kick-off"])
    assert following.runner.listener_reconnects == 0


def test_a_terminated_listener_reconnects_and_catches_up_on_what_was_written_meanwhile(
        following: Services, writer: Services, postgres_url: str) -> None:
    opportunity_id = open_opportunity(writer)
    wait_until(lambda: following.views.get("board", opportunity_id) is not None)
    [old_pid] = listener_pids(postgres_url)

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
    contribute(writer, opportunity_id, "while the listener was down")

    wait_until(lambda: following.runner.listener_reconnects == 1 and following.runner.listener_connected)
    wait_until(lambda: summaries(following, opportunity_id) == ["while the listener was down"])
    [new_pid] = listener_pids(postgres_url)
    assert new_pid != old_pid

    contribute(writer, opportunity_id, "after the reconnect")  # the new LISTEN is woken too
    wait_until(lambda: summaries(following, opportunity_id)
               == ["after the reconnect", "while the listener was down"])


def test_sqlite_is_still_followed_by_polling(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'goldsplit.db'}"
    with build_services(url) as following, build_services(url) as writer:
        following.runner.start(0.05)
        writer.app.register_member(ADMIN, "alice", "Alice", "sales")
        opportunity_id = open_opportunity(writer)
        contribute(writer, opportunity_id, "kick-off")

        wait_until(lambda: summaries(following, opportunity_id) == ["kick-off"])
        assert following.runner.listen_channel is None
        assert not following.runner.listener_connected
