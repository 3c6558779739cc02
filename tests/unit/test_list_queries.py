"""The lists without HTTP: ListQuery keeps to the boards' access rules by itself (a member lists the
deals they are or were on, the accounts whose team they are on, the allocations of their deals
with only whether they have a line), filters and searches by name, and pages in (name, id) order
with a cursor that walks every row exactly once; a cursor it did not make is refused by name."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from domain.exceptions import InvalidInput, NotAllowed
from main.services import Services
from queries.lists import OpportunityPageOut, encode_cursor
from tests.builders import open_deal, seat_triangle, services_in_memory, won_deal
from tests.ledger import ALICE, AUDITOR, BOB, CAROL, DAVE, ERIN, FINANCE, LEAD, Clock

NAMES = ("beta", "Alpha", "alpha", "Gamma", "beta", "delta", "Beta")  # cases, and two the same


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    with services_in_memory(clock) as built:
        yield built


def alices_deal(world: Services, name: str = "Acme core banking", **changes: object) -> str:
    """alice opened it (its AR) and seated bob as SR."""
    oid = open_deal(world.app, ALICE, name=name, **changes)
    seat_triangle(world.app, oid, ALICE, SR="bob")
    return oid


def names(page: OpportunityPageOut) -> list[str]:
    return [item.name for item in page.items]


# -- opportunities: who lists what ----------------------------------------------------------------

def test_a_member_lists_only_the_deals_they_are_or_were_on_and_a_lead_lists_every_one(world: Services) -> None:
    mine = alices_deal(world)
    handed = open_deal(world.app, LEAD, name="Handed over", account_id="globex")
    seat_triangle(world.app, handed, LEAD, SR="erin")
    seat_triangle(world.app, handed, LEAD, SR="carol")  # erin's seat handed to carol: erin was on it
    world.runner.catch_up()
    lists = world.queries.lists

    assert [i.id for i in lists.opportunities(ALICE).items] == [mine]
    assert [i.id for i in lists.opportunities(BOB).items] == [mine]
    assert [i.id for i in lists.opportunities(ERIN).items] == [handed]
    assert lists.opportunities(DAVE).items == []
    for reader in (LEAD, FINANCE, AUDITOR):
        assert names(lists.opportunities(reader)) == ["Acme core banking", "Handed over"]
    item = lists.opportunities(ALICE).items[0]
    assert (item.state, item.grade, item.account_id) == ("open", "B", "acme")
    assert (item.amount.amount, item.amount.currency) == ("1000000.00", "CNY")


def test_deals_filter_by_state_grade_member_and_account_and_search_by_name_in_any_case(world: Services) -> None:
    core = alices_deal(world)
    wms = alices_deal(world, "Acme WMS", amount="4000000.00")
    other = open_deal(world.app, LEAD, name="Globex CRM", account_id="globex")
    seat_triangle(world.app, other, LEAD, FR="carol")
    world.app.lose(ALICE, core, reason="the customer chose another", closed_on=world.app.clock().date().isoformat())
    world.runner.catch_up()
    lists = world.queries.lists

    def ids(**filters: object) -> list[str]:
        return [i.id for i in lists.opportunities(LEAD, **filters).items]

    assert ids(state="lost") == [core]
    assert ids(state="open") == [wms, other]
    assert ids(grade="A") == [wms]
    assert ids(member="carol") == [other]
    assert ids(member="bob") == [core, wms]
    assert ids(account="globex") == [other]
    assert ids(q="acme") == ids(q="ACME ") == [core, wms]
    assert ids(q="wms", state="open", account="acme") == [wms]
    assert ids(q="nothing like it") == []
    assert [i.id for i in lists.opportunities(CAROL, member="bob").items] == []  # carol is on neither
    with pytest.raises(InvalidInput) as refused:
        lists.opportunities(LEAD, state="pending")
    assert refused.value.field == "state"
    with pytest.raises(InvalidInput) as refused:
        lists.opportunities(LEAD, grade="S")  # an account's grade, not a deal's
    assert refused.value.field == "grade"


# -- the cursor -----------------------------------------------------------------------------------

def test_paging_walks_every_row_exactly_once_in_name_then_id_order(world: Services) -> None:
    opened = [open_deal(world.app, LEAD, name=name) for name in NAMES]
    world.runner.catch_up()
    lists = world.queries.lists
    everything = lists.opportunities(LEAD, limit=200)
    assert everything.next is None and len(everything.items) == len(NAMES)
    expected = sorted((i.name.casefold(), i.name, i.id) for i in everything.items)
    assert [(i.name.casefold(), i.name, i.id) for i in everything.items] == expected
    assert sorted(i.id for i in everything.items) == sorted(opened)

    for limit in (1, 2, 3, 7):
        seen, cursor, pages = [], None, 0
        while True:
            page = lists.opportunities(LEAD, cursor=cursor, limit=limit)
            pages += 1
            assert len(page.items) <= limit
            seen += [i.id for i in page.items]
            if page.next is None:
                break
            cursor = page.next
        assert seen == [i.id for i in everything.items]
        assert pages == -(-len(NAMES) // limit)


def test_a_cursor_keeps_its_place_when_rows_are_written_before_it(world: Services) -> None:
    for name in ("b", "d", "f"):
        open_deal(world.app, LEAD, name=name)
    world.runner.catch_up()
    first = world.queries.lists.opportunities(LEAD, limit=2)
    open_deal(world.app, LEAD, name="a")  # before the cursor: not on a later page
    open_deal(world.app, LEAD, name="e")  # after it: on the next page
    world.runner.catch_up()
    assert names(world.queries.lists.opportunities(LEAD, cursor=first.next, limit=5)) == ["e", "f"]


@pytest.mark.parametrize("cursor", [
    "not a cursor", "!!!", "bm90IGpzb24", base64.urlsafe_b64encode(b'{"name": "x"}').decode().rstrip("="),
    base64.urlsafe_b64encode(b'["only one"]').decode().rstrip("="), "\xff", "x" * 3000,
    base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
])
def test_a_malformed_cursor_is_refused_naming_it(world: Services, cursor: str) -> None:
    lists = world.queries.lists
    for call in (lists.opportunities, lists.accounts, lists.members, lists.allocations):
        with pytest.raises(InvalidInput) as refused:
            call(LEAD, cursor=cursor)
        assert refused.value.field == "cursor"


def test_a_cursor_made_here_is_accepted_by_every_list_and_limits_are_bounded(world: Services) -> None:
    world.runner.catch_up()
    lists = world.queries.lists
    assert lists.members(ALICE, cursor=encode_cursor("Bob", "bob")).items[0].id == "carol"
    for limit in (0, 201):
        with pytest.raises(InvalidInput) as refused:
            lists.members(ALICE, limit=limit)
        assert refused.value.field == "limit"


# -- accounts and members -------------------------------------------------------------------------

def test_a_member_lists_the_accounts_whose_team_they_are_on(world: Services) -> None:
    world.app.register_account(ALICE, name="Acme", industry="banking", account_id="acme")
    world.app.register_account(LEAD, name="Globex", industry="retail", account_id="globex")
    world.app.add_account_team_member(LEAD, "globex", "bob", "solution_lead")
    open_deal(world.app, LEAD, account_id="initech")  # a deal on an unregistered account: no account
    world.runner.catch_up()
    lists = world.queries.lists

    assert [(a.id, a.my_role) for a in lists.accounts(ALICE).items] == [("acme", "account_manager")]
    assert [(a.id, a.my_role) for a in lists.accounts(BOB).items] == [("globex", "solution_lead")]
    assert lists.accounts(DAVE).items == []
    assert [a.id for a in lists.accounts(LEAD).items] == ["acme", "globex"]
    assert [a.id for a in lists.accounts(LEAD, q="glob").items] == ["globex"]
    grade = lists.accounts(LEAD).items[0].grade
    assert [a.id for a in lists.accounts(LEAD, grade=grade, q="acme").items] == ["acme"]
    with pytest.raises(InvalidInput):
        lists.accounts(LEAD, grade="Z")


def test_every_reader_lists_the_directory_by_name_with_department_and_team(world: Services) -> None:
    open_deal(world.app, ALICE)  # a department's request document is no member
    world.runner.catch_up()
    lists = world.queries.lists
    for reader in (ALICE, DAVE, LEAD, AUDITOR):
        page = lists.members(reader)
        assert [m.id for m in page.items] == ["alice", "bob", "carol", "dave", "erin", "fiona"]
    assert [(m.id, m.department, m.team) for m in lists.members(DAVE, department="presales").items] == [
        ("bob", "presales", "presales"), ("erin", "presales", "presales")]
    assert [m.id for m in lists.members(DAVE, team="delivery").items] == ["carol"]
    assert [m.id for m in lists.members(DAVE, q="RI").items] == ["erin"]
    assert "amount" not in lists.members(DAVE).model_dump_json()
    with pytest.raises(InvalidInput) as refused:
        lists.members(DAVE, department="marketing")
    assert refused.value.field == "department"


# -- allocations ----------------------------------------------------------------------------------

def test_a_member_lists_the_allocations_of_their_deals_with_whether_they_have_a_line(world: Services) -> None:
    won = won_deal(world.app)  # alice AR, bob SR, carol FR, won today (2026-03-15)
    alices_deal(world)  # open: no allocation
    world.runner.catch_up()
    lists = world.queries.lists

    (item,) = lists.allocations(BOB).items
    assert (item.id, item.opportunity_id, item.name, item.status) == (won.aid, won.oid, "Acme core banking",
                                                                      "proposed")
    assert item.has_line and not item.cancelled and item.closed_on == "2026-03-15"
    assert item.pool.currency == "CNY"
    assert lists.allocations(DAVE).items == []
    assert not lists.allocations(LEAD).items[0].has_line
    assert [i.id for i in lists.allocations(LEAD, member="carol").items] == [won.aid]
    assert lists.allocations(LEAD, member="dave").items == []
    assert [i.id for i in lists.allocations(BOB, member="bob").items] == [won.aid]
    with pytest.raises(NotAllowed) as refused:
        lists.allocations(BOB, member="alice")  # whether alice has a line is not bob's to ask
    assert refused.value.field == "member"
    for period, found in (("2026-03", True), ("2026-Q1", True), ("2026-04", False), ("2026-Q2", False),
                          ("2025-03", False)):
        assert bool(lists.allocations(LEAD, period=period).items) is found, period
    assert lists.allocations(LEAD, status="approved").items == []
    assert len(lists.allocations(LEAD, status="proposed").items) == 1
    for field, value in (("period", "2026-13"), ("period", "March"), ("status", "paid")):
        with pytest.raises(InvalidInput) as refused:
            lists.allocations(LEAD, **{field: value})
        assert refused.value.field == field
