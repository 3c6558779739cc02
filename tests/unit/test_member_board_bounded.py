"""The member board's document stays bounded however long a member's history, and shows the same.

It keeps the latest LATEST contributions and counts per (status, kind) of all of them, so the board's
points stay exact by the policy in force when read, and confirming or reversing a contribution
that is no longer listed still moves them; closed requests, verified tasks and resolved disputes
beyond the latest LATEST leave it, open ones never do. The Application in memory, as in
test_collaboration_projections.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

import projections.members as members
import queries.members as member_queries
from domain.aggregates import Allocation
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT, IncentivePolicy
from main.services import Services
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import VIEW as BOARDS
from projections.members import CONTRIBUTIONS, COUNTS, LATEST
from projections.members import VIEW as MEMBERS
from queries.members import present_member_board
from tests.builders import contribute, open_wms, services_in_memory
from tests.ledger import ALICE, BOB, CAROL, LEAD, Clock

KINDS = ("visit", "demo", "solution_design", "poc", "contract_review")
NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday, where the clock starts


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    built = services_in_memory(clock, {"alice": "sales", "bob": "presales", "carol": "delivery"})
    yield built
    built.close()


def member_board(world: Services, member_id: str, policy: IncentivePolicy | None = None) -> dict:
    world.runner.catch_up()
    today = world.app.clock().date()
    doc = world.views.get(MEMBERS, member_id)
    department = doc.get("department")
    return present_member_board(
        doc, today=today, position=world.views.position("member_board"),
        policy=policy or world.app.incentive_policy_in_force(today),
        board_of=lambda oid: world.views.get(BOARDS, oid),
        allocation_of=lambda oid: world.views.get(ALLOCATIONS, str(Allocation.create_id(UUID(oid)))),
        department_doc=world.views.get(MEMBERS, f"department:{department}") if department else None)


def expected_points(ledger: dict[str, list[str]], policy: IncentivePolicy) -> dict[str, int]:
    """Summed over every contribution the test recorded, one by one: what the board must show."""
    weights = policy.kind_weights
    return {"confirmed": sum(weights[k] for k, s in ledger.values() if s == "confirmed"),
            "pending": sum(weights[k] for k, s in ledger.values() if s == "recorded")}


def snapshot(world: Services) -> dict[str, dict]:
    return {view: world.views.all(view) for view in members.MemberBoardProjection.views}


def test_a_member_with_more_contributions_than_listed_sees_the_latest_and_points_over_all(
        world: Services, clock: Clock) -> None:
    app = world.app
    won, still_open = open_wms(app, amount="200000.00"), open_wms(app)
    ledger: dict[str, list[str]] = {}  # contribution id -> [kind, status], in the order recorded
    for n in range(30):
        kind = KINDS[n % len(KINDS)]
        ledger[cid := contribute(app, won, ALICE, kind, hours="2")] = [kind, "recorded"]
        if n % 2:
            app.confirm_contribution(LEAD, won, cid)
            ledger[cid][1] = "confirmed"
    app.win(ALICE, won, closed_on=clock.day(0))
    for n in range(3 * LATEST - 30):
        kind = KINDS[n % 3]
        ledger[cid := contribute(app, still_open, ALICE, kind, hours="2")] = [kind, "recorded"]
        if n % 3 == 0:
            app.confirm_contribution(LEAD, still_open, cid)
            ledger[cid][1] = "confirmed"
    policy = app.incentive_policy_in_force(clock.now.date())

    board = member_board(world, "alice")
    latest = list(ledger)[-LATEST:]
    assert [c["contribution_id"] for c in board["contributions"]] == latest
    assert [c["status"] for c in board["contributions"]] == [ledger[c][1] for c in latest]
    assert board["contributions_total"] == 3 * LATEST
    assert board["list_limits"]["contributions"] == LATEST
    assert board["points"] == expected_points(ledger, policy)
    assert COUNTS not in board

    # Neither of these is listed any more: the points move all the same, the list does not.
    old_on_open = next(c for c in list(ledger)[30:] if ledger[c][1] == "recorded")
    app.confirm_contribution(LEAD, still_open, old_on_open)
    ledger[old_on_open][1] = "confirmed"
    confirmed_on_won = next(c for c in list(ledger)[:30] if ledger[c][1] == "confirmed")
    recorded_on_won = next(c for c in list(ledger)[:30] if ledger[c][1] == "recorded")
    app.reverse_contribution(LEAD, won, confirmed_on_won, "counted twice")
    app.reverse_contribution(LEAD, won, recorded_on_won, "never happened")
    ledger[confirmed_on_won][1] = ledger[recorded_on_won][1] = "reversed"

    after = member_board(world, "alice")
    assert after["points"] == expected_points(ledger, policy) != board["points"]
    assert after["contributions"] == board["contributions"]
    assert after["contributions_total"] == 3 * LATEST

    # Points are by the policy read with the board, not the one in force when the work was done.
    heavier = IncentivePolicy.from_document(
        {**DEFAULT_INCENTIVE_DOCUMENT, "kind_weights": {k: 10 * (i + 1) for i, k in enumerate(KINDS)}},
        version=2)
    assert member_board(world, "alice", heavier)["points"] == expected_points(ledger, heavier)

    live = snapshot(world)
    world.runner.rebuild()
    assert snapshot(world) == live


def test_the_member_document_stays_the_same_size_as_contributions_grow(
        world: Services, clock: Clock) -> None:
    app = world.app
    oid = open_wms(app)
    for n in range(LATEST):
        contribute(app, oid, ALICE, KINDS[n % 2], hours="2")
    world.runner.catch_up()
    at_latest = len(json.dumps(world.views.get(MEMBERS, "alice")))
    for n in range(2 * LATEST):
        cid = contribute(app, oid, ALICE, KINDS[n % 2], hours="2")
        if n % 4 == 0:
            app.confirm_contribution(LEAD, oid, cid)
    world.runner.catch_up()
    at_three_times = len(json.dumps(world.views.get(MEMBERS, "alice")))

    assert at_three_times <= at_latest * 1.05
    assert len(world.views.get(MEMBERS, "alice")["contributions"]) == LATEST
    assert len(world.views.all(CONTRIBUTIONS)) == 3 * LATEST  # what they are lives one by one


def test_closed_requests_and_verified_tasks_beyond_the_latest_leave_the_board_and_open_ones_stay(
        world: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(members, "LATEST", 2)
    monkeypatch.setattr(member_queries, "LATEST", 2)  # the limits the board states
    app = world.app
    oid = open_wms(app)

    def ask(**to: str) -> str:
        return app.open_request(ALICE, oid, kind="delivery_plan", summary="Plan", due=clock.day(5),
                                **to).id

    waiting = ask(to_member="carol")
    declined = [ask(to_member="carol") for _ in range(3)]
    for rid in declined:
        app.decline_request(CAROL, rid, "no time")
    via_department = [ask(to_department="delivery") for _ in range(2)]
    app.decline_request(CAROL, via_department[0], "no time")
    app.accept_request(CAROL, via_department[1])
    app.deliver_request(CAROL, via_department[1], summary="Plan", hours="3")

    carol = member_board(world, "carol")
    assert [r["id"] for r in carol["requests_to_me"]] == [waiting, *via_department]
    assert (carol["open_requests_to_me"], carol["list_limits"]["closed_requests"]) == (1, 2)
    assert [r["id"] for r in member_board(world, "alice")["requests_from_me"]] == [
        waiting, *via_department]

    app.register_account(ALICE, name="Acme", account_id="acme")
    tasks = [app.create_task(ALICE, "acme", title=f"Task {n}", assignee="bob", due=clock.day(3)).id
             for n in range(4)]
    for task in tasks[:3]:
        app.complete_task(BOB, task)
        app.verify_task(ALICE, task)
    assert {t["task_id"] for t in member_board(world, "bob")["tasks"]} == set(tasks[1:])
    app.reopen_task(ALICE, tasks[0], "the CFO is missing")  # dropped from the board, and back
    assert {t["task_id"]: t["status"] for t in member_board(world, "bob")["tasks"]} == {
        tasks[0]: "assigned", tasks[1]: "verified", tasks[2]: "verified", tasks[3]: "assigned"}

    live = snapshot(world)
    world.runner.rebuild()
    assert snapshot(world) == live


def test_a_document_written_when_the_board_kept_every_contribution_is_upgraded_to_what_a_rebuild_gives(
        world: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    app = world.app
    oid = open_wms(app)
    ledger = {contribute(app, oid, ALICE, kind, hours="2"): [kind, "recorded"] for kind in KINDS}
    first, second = list(ledger)[:2]
    app.confirm_contribution(LEAD, oid, second)
    ledger[second][1] = "confirmed"
    world.runner.catch_up()
    # As the board kept them before: every contribution, no counts, the member alone by id.
    old = {k: v for k, v in world.views.get(MEMBERS, "alice").items() if k != COUNTS}
    assert len(old["contributions"]) == len(KINDS)
    world.views.commit({}, {(MEMBERS, "alice"): old, **{
        (CONTRIBUTIONS, key): {"member_id": doc["member_id"]}
        for key, doc in world.views.all(CONTRIBUTIONS).items()}})
    monkeypatch.setattr(members, "LATEST", 2)
    monkeypatch.setattr(member_queries, "LATEST", 2)  # the limits the board states
    policy = app.incentive_policy_in_force(clock.now.date())

    read_as_is = member_board(world, "alice")
    assert (read_as_is["contributions_total"], read_as_is["points"]) == (
        len(KINDS), expected_points(ledger, policy))
    assert [c["contribution_id"] for c in read_as_is["contributions"]] == list(ledger)[-2:]

    app.confirm_contribution(LEAD, oid, first)  # long gone from the list
    ledger[first][1] = "confirmed"
    assert member_board(world, "alice")["points"] == expected_points(ledger, policy)
    live = snapshot(world)
    world.runner.rebuild()
    assert snapshot(world) == live
