"""The read side without HTTP: each query object answers a reader with its typed model, and keeps
to who may read what by itself, so a screen that forgets a route's gate still shows nothing more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.exceptions import AllocationNotFound, MemberNotFound, NotAllowed, OpportunityNotFound
from main.services import Services
from queries.allocations import AllocationOut
from queries.board import BoardOut
from queries.explain import ExplainOut
from queries.members import MemberBoardOut
from tests.builders import services_in_memory, won_deal
from tests.ledger import ADMIN, ALICE, AUDITOR, BOB, DAVE, FINANCE, LEAD, Clock


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    with services_in_memory(clock) as built:
        yield built


def won(world: Services) -> tuple[str, str]:
    deal = won_deal(world.app)
    world.runner.catch_up()
    return deal.oid, deal.aid


def test_a_member_on_the_deal_reads_its_board_and_only_their_own_line_of_the_split(world: Services) -> None:
    oid, aid = won(world)
    read = world.queries

    board = read.boards.board(BOB, oid)
    allocation = read.allocations.get(BOB, aid)

    assert isinstance(board, BoardOut) and board.opportunity_id == oid
    assert isinstance(allocation, AllocationOut)
    assert [line.member_id for line in allocation.lines] == ["bob"]
    assert allocation.visible_lines == "own"
    assert [line.member_id for line in read.allocations.get(LEAD, aid).lines] == ["alice", "bob", "carol"]


def test_a_member_off_the_deal_finds_nothing_of_it(world: Services) -> None:
    oid, aid = won(world)
    read = world.queries

    with pytest.raises(OpportunityNotFound):
        read.boards.board(DAVE, oid)
    with pytest.raises(AllocationNotFound):
        read.allocations.get(DAVE, aid)
    with pytest.raises(OpportunityNotFound):
        read.allocations.of_opportunity(DAVE, oid)


def test_a_member_explains_their_own_line_and_no_one_elses(world: Services) -> None:
    _, aid = won(world)
    read = world.queries

    mine = read.allocations.explain(BOB, aid)

    assert isinstance(mine, ExplainOut) and mine.member_id == "bob"
    with pytest.raises(NotAllowed):
        read.allocations.explain(BOB, aid, "alice")
    assert read.allocations.explain(AUDITOR, aid, "alice").member_id == "alice"


def test_a_members_board_is_theirs_and_the_leads(world: Services) -> None:
    won(world)
    read = world.queries

    assert isinstance(read.members.board(BOB, "bob"), MemberBoardOut)
    assert read.members.board(LEAD, "bob").member_id == "bob"
    with pytest.raises(MemberNotFound):  # as for a member who does not exist
        read.members.board(ALICE, "bob")


@pytest.mark.parametrize("read", [
    lambda q, who: q.periods.period(who, "2026-03"),
    lambda q, who: q.periods.journal(who, "2026-03"),
    lambda q, who: q.periods.payroll(who, "2026-03"),
    lambda q, who: q.audit.verify(who),
    lambda q, who: q.audit.chain(who),
], ids=["period", "journal", "payroll", "verify", "chain"])
def test_the_books_are_finances_auditors_and_admins_whatever_the_route_checks(world: Services, read) -> None:
    won(world)

    for reader in (BOB, LEAD):
        with pytest.raises(NotAllowed):
            read(world.queries, reader)
    for reader in (FINANCE, AUDITOR, ADMIN):
        read(world.queries, reader)


def test_a_statement_is_its_members_and_the_books_readers(world: Services) -> None:
    won(world)
    read = world.queries

    assert read.periods.statement(BOB, "2026-03", "bob").member_id == "bob"
    assert read.periods.statement(FINANCE, "2026-03", "bob").member_id == "bob"
    with pytest.raises(MemberNotFound):
        read.periods.statement(ALICE, "2026-03", "bob")
    with pytest.raises(MemberNotFound):
        read.periods.statement(LEAD, "2026-03", "bob")  # a lead does not read the books
