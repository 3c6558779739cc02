"""The collaboration read models, fast: the Application in memory, a clock the test moves, the
projection runner caught up, and the boards as clients read them (the present_* functions)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from domain.aggregates import Allocation
from domain.application import Actor
from domain.exceptions import InvalidInput
from domain.grading import DEFAULT_ACCOUNT_GRADING_DOCUMENT
from domain.relationship import DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT
from main.services import Services
from projections.accounts import VIEW as ACCOUNTS
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import VIEW as BOARDS
from projections.members import VIEW as MEMBERS
from queries.accounts import present_account_board
from queries.board import present_board
from queries.calibration import present_calibration
from queries.members import present_member_board
from tests.builders import contribute, open_wms, services_in_memory
from tests.ledger import ALICE, BOB, CAROL, FINANCE, LEAD, Clock

DAN = Actor("dan", "member")  # sales, another team

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday, where the clock starts

# Scored by the default relationship standard (weights .25/.15/.15/.15/.15/.15):
WARM = {"decision_maker_stance": "neutral", "coach_inside": "informal", "budget_confirmed": "estimated",
        "technical_preference": "open", "competitive_position": "even", "executive_relationship": "met"}
HOT = {**WARM, "decision_maker_stance": "champion", "coach_inside": "active",  # 83.5 -> 84 -> 0.85
       "budget_confirmed": "approved", "technical_preference": "ours"}
COLD = {"decision_maker_stance": "opposed", "coach_inside": "none", "budget_confirmed": "unknown",
        "technical_preference": "competitor", "competitive_position": "behind",
        "executive_relationship": "none"}  # 0 -> 0.05


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    built = services_in_memory(clock, {"alice": ("sales", "east"), "bob": "presales",
                                       "carol": "delivery", "dan": ("sales", "west")})
    yield built
    built.close()


def today(world: Services) -> date:
    return world.app.clock().date()


def board(world: Services, oid: str, only_member: str | None = None) -> dict:
    world.runner.catch_up()
    policy = world.app.incentive_policy_in_force(today(world))
    return present_board(world.views.get(BOARDS, oid), policy, today(world),
                         world.views.position("board"), only_member=only_member)


def account_board(world: Services, account_id: str) -> dict:
    world.runner.catch_up()
    return present_account_board(world.views.get(ACCOUNTS, account_id), today(world),
                                 world.views.position("account_board"))


def member_board(world: Services, member_id: str) -> dict:
    world.runner.catch_up()
    doc = world.views.get(MEMBERS, member_id)
    department = doc.get("department")
    return present_member_board(
        doc, today=today(world), position=world.views.position("member_board"),
        policy=world.app.incentive_policy_in_force(today(world)),
        board_of=lambda oid: world.views.get(BOARDS, oid),
        allocation_of=lambda oid: world.views.get(ALLOCATIONS, str(Allocation.create_id(UUID(oid)))),
        department_doc=world.views.get(MEMBERS, f"department:{department}") if department else None)


# -- the opportunity board ---------------------------------------------------------------------

def test_a_graded_opportunity_warns_of_each_empty_required_seat_until_it_is_seated(
        world: Services) -> None:
    oid = open_wms(world.app)

    opened = board(world, oid)
    assert (opened["grade"], opened["required_roles"]) == ("A", ["AR", "SR", "FR"])
    assert opened["grading"]["overridden"] is False and opened["grading"]["policy"]["version"] == 1
    assert [(w["code"], w["role"]) for w in opened["warnings"]] == [
        ("missing_required_role", "SR"), ("missing_required_role", "FR")]
    assert "solution responsible" in opened["warnings"][0]["message"]

    world.app.assign_triangle_role(ALICE, oid, "SR", "bob")
    assert [w["role"] for w in board(world, oid)["warnings"]] == ["FR"]
    world.app.assign_triangle_role(ALICE, oid, "FR", "carol")
    assert board(world, oid)["warnings"] == []


def test_a_correction_regrades_the_deal_and_keeps_what_it_corrected(world: Services) -> None:
    oid = open_wms(world.app)

    corrected = world.app.correct_opportunity(ALICE, oid, amount="200000.00",
                                              expected_close="2026-09-30")

    shown = board(world, oid)
    assert (shown["grade"], shown["required_roles"], shown["warnings"]) == ("C", ["AR"], [])
    assert shown["amount"] == {"amount": "200000.00", "currency": "CNY"}
    [correction] = shown["corrections"]
    assert correction["amount"] == {"amount": "200000.00", "currency": "CNY"}
    assert correction["previous"]["amount"] == {"amount": "4000000.00", "currency": "CNY"}
    assert (correction["expected_close"], correction["previous"]["expected_close"]) == (
        "2026-09-30", "2026-06-30")
    assert correction["by"] == "alice" and correction["position"] < corrected.position
    assert shown["expected_close"] == "2026-09-30"


def test_a_support_request_shows_its_due_state_and_measured_hours_through_its_life(
        world: Services, clock: Clock) -> None:
    oid = open_wms(world.app, amount="200000.00")
    rid = world.app.open_request(ALICE, oid, to_member="carol", kind="delivery_estimate",
                                 summary="Effort for three sites", due=clock.day(2)).id

    [asked] = board(world, oid)["requests"]
    assert (asked["status"], asked["due_state"], asked["response_hours"]) == ("open", "open_on_time", None)
    assert (asked["requested_by"], asked["to_member"], asked["due"]) == ("alice", "carol", "2026-03-18")

    clock.advance(hours=2, minutes=30)
    world.app.accept_request(CAROL, rid)
    [asked] = board(world, oid)["requests"]
    assert (asked["status"], asked["supporter"], asked["response_hours"]) == ("accepted", "carol", "2.5")
    assert asked["delivery_hours"] is None

    clock.advance(days=2)
    assert board(world, oid)["requests"][0]["due_state"] == "due_today"
    clock.advance(days=1)
    shown = board(world, oid)
    assert shown["requests"][0]["due_state"] == "overdue"
    assert (shown["open_requests"], shown["overdue_requests"]) == (1, 1)

    clock.advance(minutes=30)
    delivered = world.app.deliver_request(CAROL, rid, summary="Estimate: 120 days", hours="6")
    world.app.rate_request(ALICE, rid, 4, comment="late but thorough")
    shown = board(world, oid)
    [asked] = shown["requests"]
    assert (asked["status"], asked["rating"], asked["comment"]) == ("rated", 4, "late but thorough")
    assert (asked["due_state"], asked["delivery_hours"]) == ("delivered_late", "72.5")
    assert asked["contribution_id"] == delivered.contribution_id
    assert (shown["open_requests"], shown["overdue_requests"]) == (0, 0)
    [work] = shown["contributions"]
    assert (work["kind"], work["member_id"], work["status"], work["request_id"]) == (
        "support_delivered", "carol", "recorded", rid)  # it counts once the AR confirms it


def test_a_declined_request_shows_the_reason_and_how_long_the_answer_took(
        world: Services, clock: Clock) -> None:
    oid = open_wms(world.app, amount="200000.00")
    rid = world.app.open_request(ALICE, oid, to_department="presales", kind="demo",
                                 summary="Demo for the CFO", due=clock.day(5)).id
    clock.advance(hours=1)
    world.app.decline_request(BOB, rid, "no demo system free this month")

    [asked] = board(world, oid)["requests"]
    assert (asked["status"], asked["due_state"], asked["response_hours"]) == ("declined", "declined", "1.0")
    assert asked["decline_reason"] == "no demo system free this month"
    assert asked["to_department"] == "presales" and asked["supporter"] is None


def test_assessments_keep_their_history_and_the_latest_probability(world: Services) -> None:
    oid = open_wms(world.app, amount="200000.00")
    first = world.app.assess(ALICE, oid, WARM)
    second = world.app.assess(ALICE, oid, HOT)

    shown = board(world, oid)
    assert [(a["id"], a["score"], a["win_probability"]) for a in shown["assessments"]] == [
        (first.id, 46, "0.35"), (second.id, 84, "0.85")]
    latest = shown["assessment"]
    assert (latest["id"], latest["win_probability"], latest["standard_version"]) == (second.id, "0.85", 1)
    assert latest["standard"]["name"] == "default" and latest["standard"]["hash"].startswith("sha256:")
    assert (latest["answers"], latest["by"], latest["position"]) == (HOT, "alice", second.position)


def test_an_old_board_document_without_the_new_keys_still_presents(world: Services) -> None:
    oid = open_wms(world.app, amount="200000.00")
    contribute(world.app, oid, ALICE, "visit", hours="2")
    board(world, oid)
    old = copy.deepcopy(world.views.get(BOARDS, oid))
    for key in ("required_roles", "grading", "corrections", "assessments"):
        del old[key]
    for contribution in old["contributions"]:
        del contribution["request_id"]

    shown = present_board(old, world.app.incentive_policy_in_force(today(world)), today(world), 0)

    assert (shown["required_roles"], shown["warnings"], shown["assessments"]) == ([], [], [])
    assert shown["contributions"][0]["request_id"] is None and shown["open_requests"] == 0


# -- the account board -------------------------------------------------------------------------

ACME = {"annual_potential": "6000000", "strategic_fit": "high", "relationship_depth": "trusted",
        "share_of_wallet": "0.3"}  # 70x.40 + 100x.25 + 70x.20 + 60x.15 = 76 -> A


def test_the_account_board_keeps_the_grade_history_through_attribute_and_policy_changes(
        world: Services) -> None:
    world.app.register_account(ALICE, name="Acme", industry="logistics", attributes=ACME,
                               account_id="acme")
    world.app.change_account_attributes(ALICE, "acme", {"relationship_depth": "partner"})  # 82: A
    world.app.change_account_attributes(ALICE, "acme", {"annual_potential": "25000000"})  # 94 -> S
    stricter = {**copy.deepcopy(DEFAULT_ACCOUNT_GRADING_DOCUMENT), "name": "stricter",
                "grades": {"S": 95, "A": 80, "B": 50, "C": 0}}
    world.app.add_policy(FINANCE, "account-grading", stricter)  # in force at once: 94 -> A

    shown = account_board(world, "acme")
    history = shown["grade_history"]
    assert [(g["grade"], g["score"], g["reason"], g["policy"]["version"]) for g in history] == [
        ("A", "76.00", "registered", 1), ("A", "82.00", "attributes changed", 1),
        ("S", "94.00", "attributes changed", 1), ("A", "94.00", "policy version 2", 2)]
    assert (shown["grade"], shown["score"], shown["registered"]) == ("A", "94.00", True)
    assert shown["attributes"]["relationship_depth"] == "partner"
    assert shown["grade_history"][0]["reasons"][-1] == "score 76.00 reaches A (from 65)"
    assert (shown["name"], shown["industry"], shown["team"]) == ("Acme", "logistics",
                                                                 {"alice": "account_manager"})


def test_a_grading_version_that_takes_effect_later_shows_a_regrade_due_until_one_runs(
        world: Services, clock: Clock) -> None:
    world.app.register_account(ALICE, name="Acme", attributes=ACME, account_id="acme")
    stricter = {**copy.deepcopy(DEFAULT_ACCOUNT_GRADING_DOCUMENT), "name": "stricter",
                "effective_from": clock.day(3), "grades": {"S": 95, "A": 90, "B": 50, "C": 0}}
    world.app.add_policy(FINANCE, "account-grading", stricter)

    def shown() -> dict:
        world.runner.catch_up()
        today = world.app.clock().date()
        return present_account_board(
            world.views.get(ACCOUNTS, "acme"), today, world.runner.position(),
            grading_in_force=world.app.policy_in_force("account-grading", today).reference())

    assert (shown()["grade"], shown()["regrade_due"]) == ("A", False)
    clock.advance(days=3)
    assert (shown()["grade"], shown()["regrade_due"]) == ("A", True)
    world.app.regrade_accounts(FINANCE)
    assert (shown()["grade"], shown()["regrade_due"]) == ("B", False)


def test_the_account_team_keeps_who_joined_and_left(world: Services) -> None:
    world.app.register_account(ALICE, name="Acme", attributes=ACME, account_id="acme")
    world.app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    world.app.add_account_team_member(ALICE, "acme", "carol", "delivery_lead")
    world.app.remove_account_team_member(ALICE, "acme", "bob")

    shown = account_board(world, "acme")
    assert shown["team"] == {"alice": "account_manager", "carol": "delivery_lead"}
    assert [(h["member_id"], h["role"], h["change"]) for h in shown["team_history"]] == [
        ("alice", "account_manager", "added"), ("bob", "solution_lead", "added"),
        ("carol", "delivery_lead", "added"), ("bob", "solution_lead", "removed")]


def test_opportunities_show_on_their_account_even_when_opened_before_it_was_registered(
        world: Services, clock: Clock) -> None:
    early = open_wms(world.app, amount="200000.00", account_id="globex", name="Globex pilot")
    world.runner.catch_up()
    assert world.views.get(ACCOUNTS, "globex")["registered"] is False

    world.app.register_account(ALICE, name="Globex", attributes={}, account_id="globex")
    late = open_wms(world.app, account_id="globex", name="Globex roll-out")
    world.app.correct_opportunity(LEAD, early, amount="250000.00", reason="a second site")
    world.app.win(LEAD, early, closed_on=clock.day(0), amount="260000.00", reason="signed with options")
    world.app.lose(ALICE, late, reason="budget frozen", closed_on=clock.day(0))

    shown = account_board(world, "globex")
    assert (shown["registered"], shown["name"], shown["grade"]) == (True, "Globex", "C")
    listed = shown["opportunities"]
    assert [(o["opportunity_id"], o["name"], o["grade"], o["stage"], o["amount"]) for o in listed] == [
        (early, "Globex pilot", "C", "won", {"amount": "260000.00", "currency": "CNY"}),
        (late, "Globex roll-out", "A", "lost", {"amount": "4000000.00", "currency": "CNY"})]


def test_tasks_close_the_loop_and_show_overdue_on_the_account_and_member_boards(
        world: Services, clock: Clock) -> None:
    world.app.register_account(ALICE, name="Acme", attributes=ACME, account_id="acme")
    mapped = world.app.create_task(ALICE, "acme", title="Map the buying centre", assignee="bob",
                                   due=clock.day(2)).id
    later = world.app.create_task(ALICE, "acme", title="Executive dinner", due=clock.day(4)).id

    clock.advance(days=3)  # the first task is a day late, the second not yet due
    shown = account_board(world, "acme")
    assert [(t["id"], t["status"], t["overdue"]) for t in shown["tasks"]] == [
        (mapped, "assigned", True), (later, "created", False)]
    assert shown["overdue_tasks"] == 1
    assert shown["tasks_by_status"] == {"created": 1, "assigned": 1, "done": 0, "verified": 0}
    assert [(t["task_id"], t["overdue"]) for t in member_board(world, "bob")["tasks"]] == [(mapped, True)]

    world.app.complete_task(BOB, mapped, note="org chart in the CRM")
    assert account_board(world, "acme")["overdue_tasks"] == 0  # done, waiting for verification
    world.app.reopen_task(ALICE, mapped, "the CFO is missing")
    reopened = account_board(world, "acme")["tasks"][0]
    assert (reopened["status"], reopened["overdue"], reopened["completed_at"]) == ("assigned", True, None)
    assert [(r["reason"], r["by"]) for r in reopened["reopened"]] == [("the CFO is missing", "alice")]
    world.app.complete_task(BOB, mapped)
    world.app.verify_task(ALICE, mapped)

    world.app.assign_task(ALICE, later, "bob")
    world.app.assign_task(ALICE, later, "carol")  # leaves bob's board
    shown = account_board(world, "acme")
    assert [(t["status"], t["assignee"], t["overdue"]) for t in shown["tasks"]] == [
        ("verified", "bob", False), ("assigned", "carol", False)]
    assert shown["tasks"][0]["verified_at"] == clock.now.isoformat()
    bobs = member_board(world, "bob")["tasks"]
    assert [(t["task_id"], t["status"]) for t in bobs] == [(mapped, "verified")]
    assert [t["task_id"] for t in member_board(world, "carol")["tasks"]] == [later]


# -- the member board --------------------------------------------------------------------------

def test_the_member_board_shows_my_requests_contributions_and_projected_earnings(
        world: Services, clock: Clock) -> None:
    app = world.app
    big = open_wms(app)  # A: pool 3% of 4,000,000.00 = 120,000.00
    app.assign_triangle_role(ALICE, big, "SR", "bob")
    app.assign_triangle_role(ALICE, big, "FR", "carol")
    app.confirm_contribution(LEAD, big, contribute(app, big, ALICE, "visit", hours="2"))  # AR 1
    app.confirm_contribution(ALICE, big, contribute(app, big, BOB, "solution_design", hours="2"))  # SR 5
    app.reverse_contribution(LEAD, big, contribute(app, big, ALICE, "visit", hours="2"), "duplicate")
    rid = app.open_request(ALICE, big, to_department="delivery", kind="delivery_plan",
                           summary="Roll-out plan", due=clock.day(3)).id

    waiting = member_board(world, "carol")["requests_to_me"]
    assert [(r["id"], r["via_department"], r["due_state"]) for r in waiting] == [
        (rid, "delivery", "open_on_time")]
    app.accept_request(CAROL, rid)
    clock.advance(days=1)
    delivered = app.deliver_request(CAROL, rid, summary="Plan over three sites", hours="8")  # FR 3
    app.confirm_contribution(ALICE, big, delivered.contribution_id)

    small = open_wms(app, amount="200000.00", name="Acme spare parts")  # C: pool 1% = 2,000.00
    app.assign_triangle_role(ALICE, small, "SR", "bob")
    app.confirm_contribution(LEAD, small, contribute(app, small, ALICE, "visit", hours="2"))  # AR 1
    app.confirm_contribution(ALICE, small, contribute(app, small, BOB, "demo", hours="2"))  # SR 3
    won = app.win(ALICE, small, closed_on=clock.day(0))

    carol = member_board(world, "carol")
    [to_carol] = carol["requests_to_me"]  # on her own board now, not twice
    assert (to_carol["status"], to_carol["due_state"], to_carol["via_department"]) == (
        "delivered", "delivered_on_time", "delivery")
    work = carol["contributions"]
    assert [(c["kind"], c["role"], c["status"], c["points"], c["request_id"]) for c in work] == [
        ("support_delivered", "FR", "confirmed", 3, rid)]

    alice = member_board(world, "alice")
    assert [(r["id"], r["status"]) for r in alice["requests_from_me"]] == [(rid, "delivered")]
    assert [(c["kind"], c["status"], c["points"]) for c in alice["contributions"]] == [
        ("visit", "confirmed", 1), ("visit", "reversed", 0), ("visit", "confirmed", 1)]
    assert alice["points"] == {"confirmed": 2, "pending": 0}
    # Open deal: AR, SR, FR active -> 4/9, 3/9, 2/9 of 12,000,000 cents; the odd cent goes to carol.
    # Won deal: AR, SR active -> 4/7 and 3/7 of 200,000 cents: 114,285.71 and 85,714.29 -> alice +1.
    # What is earned (the won deal's allocation) and what is projected are never added up.
    projected, earned = alice["projected"], alice["earned"]
    assert [(e["opportunity_id"], e["basis"], e["amount"]) for e in projected["opportunities"]] == [
        (big, "projected_split", "53333.33")]
    assert projected["totals"] == {"CNY": "53333.33"} and alice["projected_earnings"] == projected
    assert [(e["opportunity_id"], e["allocation_id"], e["allocation_status"], e["current"], e["paid"])
            for e in earned["allocations"]] == [
        (small, won.allocation_id, "proposed", "1142.86", "0.00")]
    assert earned["totals"] == {"proposed": {"CNY": "1142.86"}, "approved": {}}
    carol = member_board(world, "carol")
    assert (carol["projected"]["totals"], carol["earned"]["allocations"]) == ({"CNY": "26666.67"}, [])
    bob = member_board(world, "bob")
    assert (bob["projected"]["totals"], bob["earned"]["totals"]["proposed"]) == (
        {"CNY": "40000.00"}, {"CNY": "857.14"})
    assert set(alice["opportunities"]) == {big, small}


def test_someone_who_is_not_a_registered_member_gets_a_board_stub(world: Services, clock: Clock) -> None:
    oid = open_wms(world.app, amount="200000.00")
    rid = world.app.open_request(LEAD, oid, to_member="bob", kind="demo", summary="Demo",
                                 due=clock.day(1)).id

    lead = member_board(world, "lin")
    assert (lead["registered"], lead["department"]) == (False, None)
    assert [r["id"] for r in lead["requests_from_me"]] == [rid]
    assert [(r["id"], r["via_department"]) for r in member_board(world, "bob")["requests_to_me"]] == [
        (rid, None)]


# -- calibration -------------------------------------------------------------------------------

def test_calibration_counts_only_assessments_made_on_or_before_the_close_date(
        world: Services, clock: Clock) -> None:
    app = world.app
    oid = open_wms(app, amount="200000.00")
    app.assess(ALICE, oid, WARM)  # 0.35, made two days before the close date
    clock.advance(days=3)
    app.assess(ALICE, oid, HOT)  # 0.85, made the day after it: hindsight
    app.lose(ALICE, oid, reason="lost", closed_on=clock.day(-1))
    late = open_wms(app, amount="200000.00")
    app.assess(ALICE, late, HOT)
    app.win(ALICE, late, closed_on=clock.day(-1))  # only assessed after its close: not calibrated
    world.runner.catch_up()
    [group] = present_calibration(world.views, "member")["groups"]
    assert (group["key"], group["count"], group["brier"]) == ("member:alice", 1, "0.1225")


def test_calibration_by_member_team_and_standard_version_matches_the_arithmetic_by_hand(
        world: Services, clock: Clock) -> None:
    app = world.app

    def closed(opener: Actor, outcome: str, *answers: dict) -> None:
        oid = open_wms(app, amount="200000.00", opener=opener)
        for given in answers:
            app.assess(opener, oid, given)
        if outcome == "won":
            app.win(opener, oid, closed_on=clock.day(0))
        else:
            app.lose(opener, oid, reason="lost", closed_on=clock.day(0))

    closed(ALICE, "won", HOT)  # 0.85, won: 0.0225
    closed(ALICE, "lost", WARM, HOT)  # the last assessment counts: 0.85, lost: 0.7225
    closed(DAN, "lost", WARM)  # 0.35, lost: 0.1225
    closed(DAN, "won", COLD)  # 0.05, won: 0.9025
    closed(DAN, "won")  # never assessed: not calibrated
    sharper = {**copy.deepcopy(DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT), "effective_from": "2026-03-01",
               "win_probability": [{"from_score": 0, "probability": "0.10"},
                                   {"from_score": 50, "probability": "0.50"},
                                   {"from_score": 80, "probability": "0.90"}]}
    app.add_policy(FINANCE, "relationship-standard", sharper)
    closed(ALICE, "won", HOT)  # version 2: 0.90, won: 0.01
    world.runner.catch_up()

    by_member = present_calibration(world.views, "member")
    assert [(g["key"], g["count"], g["brier"]) for g in by_member["groups"]] == [
        ("member:alice", 3, "0.2517"), ("member:dan", 2, "0.5125")]  # 0.755 / 3, 1.025 / 2
    alice = by_member["groups"][0]
    filled = [b for b in alice["bins"] if b["count"]]
    assert [(b["from"], b["to"], b["count"], b["predicted"], b["observed"]) for b in filled] == [
        ("0.8", "0.9", 2, "0.8500", "0.5000"), ("0.9", "1", 1, "0.9000", "1.0000")]
    assert (by_member["overall"]["count"], by_member["overall"]["brier"]) == (5, "0.3560")  # 1.78 / 5

    by_team = present_calibration(world.views, "team")
    assert [(g["key"], g["brier"]) for g in by_team["groups"]] == [("team:east", "0.2517"),
                                                                  ("team:west", "0.5125")]
    by_version = present_calibration(world.views, "standard_version")
    assert [(g["key"], g["count"], g["brier"]) for g in by_version["groups"]] == [
        ("standard_version:1", 4, "0.4425"), ("standard_version:2", 1, "0.0100")]  # 1.77 / 4

    own = present_calibration(world.views.all("calibration"), "member", only_key="member:dan")
    assert [g["key"] for g in own["groups"]] == ["member:dan"]
    with pytest.raises(InvalidInput) as refusal:
        present_calibration(world.views, "planet")
    assert refusal.value.field == "by"
