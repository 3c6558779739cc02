"""The queues without HTTP: QueueQuery keeps to who may do what by itself. The AR is offered
others' work on their deals and a lead every open deal's, never their own; only finance reads the
approvals, with the warnings of four eyes; a member reads only their own disputes, finance the open
ones by age."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import Actor
from domain.exceptions import NotAllowed
from main.services import Services
from queries.queues import ApprovalsOut, ConfirmationsOut, DisputesOut
from tests.builders import contribute, open_deal, seat_triangle, services_in_memory, win, won_deal, worked
from tests.ledger import ADMIN, ALICE, AUDITOR, BOB, CAROL, DAVE, FINANCE, LEAD, Clock

FRANK = Actor("frank", "finance")
FIONA = Actor("fiona", "member")  # fiona's own work: she is finance by department


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    with services_in_memory(clock) as built:
        yield built


def alices_deal(world: Services) -> str:
    """alice opened it (she is its AR) and seated bob as SR and carol as FR."""
    oid = open_deal(world.app, ALICE)
    seat_triangle(world.app, oid, ALICE, SR="bob", FR="carol")
    return oid


def fionas_line(world: Services) -> tuple[str, str]:
    """A deal won with a line for fiona (finance, as a supporter) and bob's demo never confirmed."""
    oid = alices_deal(world)
    world.app.add_supporter(ALICE, oid, "fiona")
    worked(world.app, oid, FIONA, "pricing_review", confirmed_by=ALICE)
    worked(world.app, oid, BOB, "demo", confirmed_by=ALICE)
    contribute(world.app, oid, CAROL, "delivery_plan", summary="never confirmed")
    return oid, win(world.app, oid, by=ALICE)


# -- confirmations --------------------------------------------------------------------------------

def test_the_ar_is_offered_others_work_on_their_deals_oldest_first_and_never_their_own(world: Services) -> None:
    oid = alices_deal(world)
    first = contribute(world.app, oid, BOB, "demo", summary="first")
    mine = contribute(world.app, oid, ALICE, "visit")
    second = contribute(world.app, oid, CAROL, "delivery_plan", summary="second")
    world.runner.catch_up()

    queue = world.queries.queues.confirmations(ALICE)

    assert isinstance(queue, ConfirmationsOut)
    assert [c.contribution_id for c in queue.confirmations] == [first, second]
    assert {c.confirms_as for c in queue.confirmations} == {"AR"}
    assert queue.confirmations[0].position < queue.confirmations[1].position
    assert mine not in [c.contribution_id for c in queue.confirmations]
    assert [c.contribution_id for c in world.queries.queues.confirmations(LEAD).confirmations] == [
        first, mine, second]  # a lead: every open deal, here nobody's own


@pytest.mark.parametrize("reader", [BOB, CAROL, DAVE, FINANCE, AUDITOR], ids=lambda a: a.member_id)
def test_who_is_neither_the_ar_nor_a_lead_is_offered_nothing(world: Services, reader: Actor) -> None:
    oid = alices_deal(world)
    contribute(world.app, oid, BOB, "demo")
    contribute(world.app, oid, CAROL, "delivery_plan")
    world.runner.catch_up()

    assert world.queries.queues.confirmations(reader).confirmations == []


def test_confirmed_work_and_closed_deals_leave_the_queue(world: Services) -> None:
    oid = alices_deal(world)
    cid = contribute(world.app, oid, BOB, "demo")
    other = contribute(world.app, oid, CAROL, "delivery_plan")
    world.app.confirm_contribution(ALICE, oid, cid)
    world.runner.catch_up()
    assert [c.contribution_id for c in world.queries.queues.confirmations(ALICE).confirmations] == [other]

    win(world.app, oid, by=ALICE)
    world.runner.catch_up()
    assert world.queries.queues.confirmations(ALICE).confirmations == []


# -- approvals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("reader", [ALICE, BOB, LEAD, AUDITOR, ADMIN], ids=lambda a: a.member_id)
def test_only_finance_reads_the_approvals(world: Services, reader: Actor) -> None:
    won_deal(world.app)
    world.runner.catch_up()
    with pytest.raises(NotAllowed):
        world.queries.queues.approvals(reader)


def test_finance_sees_each_proposed_split_until_it_is_approved(world: Services) -> None:
    deal = won_deal(world.app)
    world.runner.catch_up()

    queue = world.queries.queues.approvals(FINANCE)

    assert isinstance(queue, ApprovalsOut)
    [proposed] = queue.allocations
    assert (proposed.allocation_id, proposed.opportunity_id) == (deal.aid, deal.oid)
    assert proposed.opportunity_name == "Acme core banking" and proposed.lines == 3
    assert (proposed.has_line, proposed.approvable) == (False, True)
    world.app.approve_allocation(FINANCE, deal.aid)
    world.runner.catch_up()
    assert world.queries.queues.approvals(FINANCE).allocations == []


def test_a_split_with_the_readers_line_open_disputes_and_unconfirmed_work_says_so(world: Services) -> None:
    _, aid = fionas_line(world)
    world.app.raise_dispute(BOB, aid, member_id="bob", reason="the demo weighs more")
    world.runner.catch_up()

    [hers] = world.queries.queues.approvals(FINANCE).allocations
    [franks] = world.queries.queues.approvals(FRANK).allocations

    codes = {w.code for w in hers.warnings}
    assert {"own_line", "open_disputes", "unconfirmed_work"} <= codes
    assert (hers.has_line, hers.approvable, hers.open_disputes, hers.unconfirmed_contributions) == (
        True, False, 1, 1)
    assert "own_line" not in {w.code for w in franks.warnings}
    assert (franks.has_line, franks.approvable) == (False, True)


# -- disputes -------------------------------------------------------------------------------------

def test_a_member_reads_only_their_own_disputes_and_finance_the_open_ones_oldest_first(
        world: Services) -> None:
    deal = won_deal(world.app)
    bobs = world.app.raise_dispute(BOB, deal.aid, member_id="bob", reason="the demo weighs more").id
    carols = world.app.raise_dispute(CAROL, deal.aid, member_id="carol", reason="the plan weighs more").id
    world.runner.catch_up()

    for_bob = world.queries.queues.disputes(BOB)
    for_finance = world.queries.queues.disputes(FINANCE)

    assert isinstance(for_bob, DisputesOut)
    assert [d.id for d in for_bob.mine] == [bobs] and for_bob.open == [] and not for_bob.decides
    assert for_bob.mine[0].line is not None and not for_bob.mine[0].resolvable
    assert [d.id for d in world.queries.queues.disputes(LEAD).open] == []  # a lead decides no money
    assert world.queries.queues.disputes(DAVE).mine == []
    assert for_finance.decides and for_finance.mine == []
    assert [d.id for d in for_finance.open] == [bobs, carols]
    assert all(d.resolvable for d in for_finance.open)


def test_a_decided_dispute_leaves_the_queue_and_its_member_reads_the_decision(world: Services) -> None:
    deal = won_deal(world.app)
    did = world.app.raise_dispute(BOB, deal.aid, member_id="bob", reason="the demo weighs more").id
    world.app.resolve_dispute(FINANCE, did, decision="reject", reason="the policy says 3")
    world.runner.catch_up()

    [mine] = world.queries.queues.disputes(BOB).mine

    assert world.queries.queues.disputes(FINANCE).open == []
    assert mine.status == "rejected"
    assert (mine.resolution.decision, mine.resolution.reason, mine.resolution.by) == (
        "reject", "the policy says 3", "fiona")


def test_finance_is_not_offered_its_own_dispute(world: Services) -> None:
    _, aid = fionas_line(world)
    did = world.app.raise_dispute(Actor("fiona", "finance"), aid, member_id="fiona", reason="worth more").id
    world.runner.catch_up()

    [own] = world.queries.queues.disputes(FINANCE).open
    [for_frank] = world.queries.queues.disputes(FRANK).open

    assert own.id == did and own.own and not own.resolvable and own.has_line
    assert for_frank.resolvable and not for_frank.own
