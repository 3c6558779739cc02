"""The lists' rows (Projection.rows, queries/lists.py), on the embedded store and on PostgreSQL: each
row committed beside its document is the row of the document as the batch left it, a rebuild
writes them again, and a store without rows (from before them) lists the same from the documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import Actor
from main.services import Services
from projections.accounts import AccountBoardProjection
from projections.allocations import AllocationProjection
from projections.base import COMPLETE
from projections.board import BoardProjection
from projections.members import MemberBoardProjection
from tests.builders import contribute, open_deal, register_team, seat_triangle, won_deal
from tests.conftest import build_services
from tests.ledger import ALICE, BOB, FINANCE, LEAD

LISTED = (BoardProjection, AccountBoardProjection, MemberBoardProjection, AllocationProjection)
READERS = (ALICE, BOB, Actor("carol", "member"), Actor("dave", "member"), LEAD, FINANCE)


@pytest.fixture
def world(database_url: str) -> Iterator[Services]:
    """A won deal with a dispute and a payment, an open deal handed over, an account with a team."""
    with build_services(database_url) as services:
        app = services.app
        register_team(app)
        app.register_account(ALICE, name="Acme Logistics", account_id="acme")
        app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
        won = won_deal(app)
        app.raise_dispute(BOB, won.aid, member_id="bob", reason="the demo weighs more")
        app.approve_allocation(FINANCE, won.aid)
        app.receive_payment(FINANCE, won.oid, amount="250000.00", currency="CNY",
                            received_on=app.clock().date().isoformat())
        second = open_deal(app, ALICE, name="Globex warehouse")
        seat_triangle(app, second, LEAD, SR="bob")
        seat_triangle(app, second, LEAD, SR="carol")  # bob handed over: he was on it
        contribute(app, second, Actor("carol", "member"), "demo")
        services.runner.catch_up()
        yield services


def rows_of_documents(services: Services, projection: type) -> dict[str, dict]:
    ((view, (_, row)),) = projection.rows.items()
    made = {key: row(key, doc) for key, doc in services.views.all(view).items()}
    return {key: found for key, found in made.items() if found is not None}


def lists(services: Services) -> list:
    q = services.queries.lists
    return [(reader, q.opportunities(reader), q.accounts(reader), q.members(reader), q.allocations(reader))
            for reader in READERS]


def test_each_row_is_its_document_s_as_the_batch_left_it(world: Services) -> None:
    for projection in LISTED:
        ((_, (rows_view, _)),) = projection.rows.items()
        rows = world.views.all(rows_view)
        assert rows.pop(COMPLETE) == {"complete": True}, projection.name  # written from the start
        assert rows == rows_of_documents(world, projection), projection.name


def test_who_was_on_a_deal_lists_it_and_only_them(world: Services) -> None:
    def names(reader: Actor) -> list[str]:
        return [item.name for item in world.queries.lists.opportunities(reader).items]

    assert names(BOB) == ["Acme core banking", "Globex warehouse"]  # handed over: he was on it
    assert names(Actor("dave", "member")) == []
    assert [i.has_line for i in world.queries.lists.allocations(BOB).items] == [True]


@pytest.mark.parametrize("kept", ["none", "some"])
def test_a_store_from_before_the_rows_lists_the_same_and_a_rebuild_writes_them(
        world: Services, kept: str) -> None:
    """An upgraded store has no rows, then rows only of what changed since: neither is complete."""
    before = lists(world)
    views = tuple(p.rows[p.views[0]][0] for p in LISTED)
    first = {view: min(key for key in world.views.all(view) if key != COMPLETE) for view in views}
    with world.db.transaction() as cur:
        if kept == "none":
            cur.execute("DELETE FROM goldsplit_views WHERE view IN (?, ?, ?, ?)", views)
        else:  # the marker gone, and every other row with it but one of each
            cur.execute("DELETE FROM goldsplit_views WHERE view IN (?, ?, ?, ?) AND key = ?",
                        (*views, COMPLETE))
            for view in views:
                cur.execute("DELETE FROM goldsplit_views WHERE view = ? AND key <> ?", (view, first[view]))
    assert lists(world) == before  # read from the documents

    for projection in world.runner.projections:
        world.views.reset(projection.name, projection.views)
    world.runner.catch_up()
    assert lists(world) == before
    test_each_row_is_its_document_s_as_the_batch_left_it(world)
