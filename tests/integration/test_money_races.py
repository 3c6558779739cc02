"""Money commands racing each other from two processes' worth of services on one PostgreSQL:
whatever the order, no payable amount is lost or booked twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from domain.aggregates import Allocation, Opportunity
from domain.application import Actor
from domain.payables import as_targets, due
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from main.services import Services
from main.settings import Settings
from tests.ledger import ADMIN, FINANCE, LEAD, Clock

pytestmark = pytest.mark.postgres
ROUNDS = 6


@pytest.fixture
def two(postgres_url: str) -> Iterator[tuple[Services, Services]]:
    clock = Clock(datetime(2026, 10, 20, 12, tzinfo=UTC))
    first = Services.build(Settings(database_url=postgres_url, secret="s"), clock=clock)
    second = Services.build(Settings(database_url=postgres_url, secret="s"), clock=clock)
    first.app.add_policy(FINANCE, "incentive", {**DEFAULT_INCENTIVE_DOCUMENT,
                                                "effective_from": "2026-01-01", "holdback": "0.5"})
    for member, department in (("alice", "sales"), ("bob", "presales")):
        first.app.register_member(ADMIN, member, member, department)
    yield first, second
    first.close()
    second.close()


def won_deal(services: Services) -> tuple[str, str]:
    app = services.app
    oid = app.open_opportunity(LEAD, account_id="acme", name="Race", amount="1000000.00",
                               currency="CNY", expected_close="2026-12-01").id
    for role, member, kind in (("AR", "alice", "visit"), ("SR", "bob", "poc")):
        app.assign_triangle_role(LEAD, oid, role, member)
        cid = app.record_contribution(Actor(member, "member"), oid, member_id=member, kind=kind,
                                      summary=kind, occurred_at="2026-10-01T09:00:00").id
        app.confirm_contribution(LEAD, oid, cid)
    return oid, app.win(LEAD, oid, closed_on="2026-10-20", reason="signed on the 20th").allocation_id


def test_an_approval_racing_a_payment_never_loses_the_release(two: tuple[Services, Services]) -> None:
    first, second = two
    for _ in range(ROUNDS):
        oid, aid = won_deal(first)
        start = threading.Barrier(2)
        threads = [
            threading.Thread(target=_after, args=(start, first.app.approve_allocation, FINANCE, aid)),
            threading.Thread(target=_after, args=(start, second.app.receive_payment, FINANCE, oid),
                             kwargs=dict(amount="1000000.00", currency="CNY", received_on="2026-10-20")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deal: Opportunity = first.app.repository.get(UUID(oid))
        allocation: Allocation = first.app.repository.get(UUID(aid))
        owed = due(as_targets(allocation.targets), allocation.paid, deal.cash, deal.amount)
        assert all(amount == 0 for buckets in owed.values() for amount in buckets.values()), owed
        assert sum(p["upfront"] + p["release"] for p in allocation.paid.values()) == allocation.pool


def _after(start: threading.Barrier, command, *args, **kwargs) -> None:
    start.wait()
    command(*args, **kwargs)
