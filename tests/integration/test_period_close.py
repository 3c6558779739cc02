"""Period close by replay, on the embedded store and on PostgreSQL: it proves the numbers from the
log and locks the month, refuses on any difference and shows it, and never reopens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from books.close import CloseRefused, close
from domain.aggregates import Period
from domain.exceptions import PeriodClosed, PeriodNotOver
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from main.services import Services
from main.settings import Settings
from projections.payables import PAYABLE, PERIOD
from tests.ledger import ADMIN, ALICE, BOB, FINANCE, LEAD, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 10, 20, 12, tzinfo=UTC))


@pytest.fixture
def books(database_url: str, clock: Clock) -> Iterator[Services]:
    """A deal won in October (holdback 20 %), approved, paid 30 % in October and the rest in
    November, with bob's PoC confirmed and alice's visit reversed after approval (November)."""
    built = Services.build(Settings(database_url=database_url, secret="test-secret"), clock=clock)
    app = built.app
    app.add_policy(FINANCE, "incentive", {**DEFAULT_INCENTIVE_DOCUMENT, "effective_from": "2026-01-01",
                                          "holdback": "0.2"})
    for member, department in (("alice", "sales"), ("bob", "presales")):
        app.register_member(ADMIN, member, member.title(), department)
    oid = app.open_opportunity(LEAD, account_id="acme", name="WMS", amount="1000000.00",
                               currency="CNY", expected_close="2026-12-01").id
    app.assign_triangle_role(LEAD, oid, "AR", "alice")
    app.assign_triangle_role(LEAD, oid, "SR", "bob")
    visit = app.record_contribution(ALICE, oid, member_id="alice", kind="visit", summary="Visit",
                                    occurred_at="2026-10-01T09:00:00").id
    poc = app.record_contribution(BOB, oid, member_id="bob", kind="poc", summary="PoC",
                                  occurred_at="2026-10-02T09:00:00").id
    app.confirm_contribution(LEAD, oid, visit)
    app.confirm_contribution(ALICE, oid, poc)
    allocation = app.win(ALICE, oid, closed_on="2026-10-20").allocation_id
    app.approve_allocation(FINANCE, allocation)
    clock.now = datetime(2026, 10, 28, tzinfo=UTC)
    app.receive_payment(FINANCE, oid, amount="300000.00", currency="CNY", received_on="2026-10-28")
    clock.now = datetime(2026, 11, 10, tzinfo=UTC)
    app.reverse_contribution(LEAD, oid, visit, "entered twice")
    app.receive_payment(FINANCE, oid, amount="700000.00", currency="CNY", received_on="2026-11-10")
    clock.now = datetime(2026, 12, 2, tzinfo=UTC)
    built.runner.catch_up()
    yield built
    built.close()


def closing(books: Services, period: str) -> dict:
    return close(books.app, books.views, FINANCE, period,
                 catch_up=lambda position: books.runner.wait_for(position))


def test_closing_a_month_proves_its_entries_and_records_the_report(books: Services) -> None:
    steps: list[tuple[int, int]] = []
    report = close(books.app, books.views, FINANCE, "2026-10",
                   catch_up=lambda position: books.runner.wait_for(position),
                   progress=lambda at, cutoff: steps.append((at, cutoff)))
    # pool 20000.00 (grade B, 2 %); AR and SR active, shares 0.4/0.3 renormalised to 4/7 and 3/7:
    # alice 11428.57, bob 8571.43; held 20 %: 2285.71 and 1714.29, so 16000.00 upfront in October;
    # the first payment (30 % of the deal) releases floor(30 % of each held part): 685.71 + 514.28
    assert report["totals"] == {"CNY": "17199.99"}
    assert (report["entries"], report["members"]) == (4, ["alice", "bob"])
    assert report["cutoff"] == books.app.recorder.max_notification_id() - 1  # the Closed event after it
    assert steps[-1] == (report["cutoff"], report["cutoff"])
    period = books.app.repository.get(Period.create_id("2026-10"))
    assert period.closed and period.cutoff == report["cutoff"]
    with pytest.raises(PeriodClosed):
        closing(books, "2026-10")


def test_a_month_that_is_not_over_is_not_closed(books: Services) -> None:
    with pytest.raises(PeriodNotOver):
        closing(books, "2026-12")


def test_late_facts_after_a_close_go_to_the_open_month_and_the_next_close_proves_them(
        books: Services) -> None:
    closing(books, "2026-10")
    november = closing(books, "2026-11")
    # alice's line is clawed back (her only work was reversed), bob gets the whole pool, and the
    # second payment releases the rest: the two months add up to the pool exactly
    assert november["totals"] == {"CNY": "2800.01"}  # 20000.00 - 17199.99


def test_a_difference_planted_in_the_read_model_refuses_the_close_and_shows_it(books: Services) -> None:
    [key] = [k for k in books.views.all(PAYABLE) if k == "2026-10:bob"]
    doc = books.views.get(PAYABLE, key)
    doc["entries"][0]["amount"] += 1
    with books.db.transaction() as cursor:
        cursor.execute("UPDATE goldsplit_views SET doc = ? WHERE view = ? AND key = ?",
                       (json.dumps(doc), PAYABLE, key))
    with pytest.raises(CloseRefused) as refused:
        closing(books, "2026-10")
    [difference] = refused.value.differences
    assert (difference["where"], difference["period"], difference["member_id"]) == (
        "payables read model", "2026-10", "bob")
    assert not books.app.repository.get(Period.create_id("2026-10")).closed


def test_an_entry_edited_in_the_stored_log_is_found_by_recomputing_it(books: Services) -> None:
    """Someone edits the amount booked by the approval in the event table itself."""
    table = "stored_events" if books.db.kind == "sqlite" else "goldsplit_events"
    topic = "domain.aggregates:Allocation.Approved"
    with books.db.transaction() as cursor:
        cursor.execute(f"SELECT originator_id, originator_version, state FROM {table} WHERE topic = ?",
                       (topic,))
        originator, version, state = cursor.fetchone()
        data = json.loads(bytes(state))
        data["entries"][0]["amount"] += 100
        cursor.execute(f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                       (json.dumps(data).encode(), originator, version))
    with pytest.raises(CloseRefused) as refused:
        closing(books, "2026-10")
    found = {d["where"] for d in refused.value.differences}
    assert "entries" in found and "audit chain" in found


def plant(books: Services, view: str, key: str, change) -> None:
    doc = books.views.get(view, key)
    change(doc)
    with books.db.transaction() as cursor:
        cursor.execute("UPDATE goldsplit_views SET doc = ? WHERE view = ? AND key = ?",
                       (json.dumps(doc), view, key))


@pytest.mark.parametrize(("view", "key", "change", "where"), [
    (PAYABLE, "2026-10:bob", lambda doc: doc["entries"][0].update(currency="KWD"), "payables read model"),
    (PAYABLE, "2026-10:bob", lambda doc: doc["entries"][0].update(period="2026-09"), "payables read model"),
    (PERIOD, "2026-10", lambda doc: doc.update(members=["alice"]), "period read model"),
    (PERIOD, "2026-10", lambda doc: doc["totals"].update(CNY=1), "period read model"),
], ids=["currency", "month", "members", "totals"])
def test_any_planted_difference_in_the_books_refuses_the_close(books: Services, view, key, change,
                                                                where) -> None:
    plant(books, view, key, change)
    with pytest.raises(CloseRefused) as refused:
        closing(books, "2026-10")
    assert where in {d["where"] for d in refused.value.differences}


def test_an_upheld_amount_no_dispute_gave_is_found_by_the_replay(books: Services) -> None:
    """Someone plants an Adjusted event whose upheld amount cites no dispute."""
    table = "stored_events" if books.db.kind == "sqlite" else "goldsplit_events"
    with books.db.transaction() as cursor:
        cursor.execute(f"SELECT originator_id, originator_version, state FROM {table} WHERE topic = ?",
                       ("domain.aggregates:Allocation.Adjusted",))
        originator, version, state = cursor.fetchone()
        data = json.loads(bytes(state))
        data["overrides"] = {"alice": 100}
        cursor.execute(f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                       (json.dumps(data).encode(), originator, version))
    with pytest.raises(CloseRefused) as refused:
        closing(books, "2026-10")
    assert "upheld amounts" in {d["where"] for d in refused.value.differences}


def test_a_log_rewritten_chain_and_all_after_a_close_fails_verification(books: Services) -> None:
    """The close keeps the chain head outside the chain read model: rewriting an event and then
    rebuilding the chain from the rewritten log does not hide it."""
    from projections.audit import verify
    closing(books, "2026-10")
    table = "stored_events" if books.db.kind == "sqlite" else "goldsplit_events"
    with books.db.transaction() as cursor:
        cursor.execute(f"SELECT originator_id, originator_version, state FROM {table} WHERE topic = ?",
                       ("domain.aggregates:Allocation.Approved",))
        originator, version, state = cursor.fetchone()
        data = json.loads(bytes(state))
        data["entries"][0]["amount"] += 100
        cursor.execute(f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                       (json.dumps(data).encode(), originator, version))
    books.runner.rebuild()  # the chain read model now agrees with the rewritten log
    checked = verify(books.app, books.views)
    assert not checked["ok"]
    assert {p["kind"] for p in checked["problems"]} == {"published_head"}
