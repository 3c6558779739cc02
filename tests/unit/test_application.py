"""The Application's use cases, fast: events in memory, read models in an in-memory SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

import pytest

from domain.aggregates import Member, Opportunity, PolicyBook
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    ContributionAlreadyRecorded,
    ContributorNotOnOpportunity,
    InvalidAmount,
    InvalidInput,
    InvalidPolicy,
    MemberAlreadyExists,
    MemberNotFound,
    NotAllowed,
    OpportunityAlreadyExists,
    OpportunityClosed,
    OpportunityNotFound,
    UnknownContributionKind,
    UnknownCurrency,
)
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT, IncentivePolicy
from main.services import Services
from main.settings import Settings
from storage.database import Database
from tests import builders
from tests.builders import open_deal, seat_triangle
from tests.ledger import ADMIN, ALICE, BOB, CAROL, DAVE, ERIN, FINANCE, LEAD, head, refused

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
EARLIER = (NOW - timedelta(days=5)).isoformat()


MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "dave": "commercial",
           "erin": "presales", "fiona": "finance"}


@pytest.fixture
def fixed_services() -> Iterator[Services]:
    """Memory stores and a clock stopped at NOW, so dates in the story never drift."""
    built = Services.build(Settings(database_url="memory://", secret="test-secret"),
                           clock=lambda: NOW)
    yield built
    built.close()


@pytest.fixture
def app(fixed_services: Services) -> Goldsplit:
    return fixed_services.app


def register_team(app: Goldsplit) -> None:
    builders.register_team(app, MEMBERS)


def staffed_deal(app: Goldsplit) -> str:
    """A lead opened it (grade A) with alice as AR; bob is SR, carol FR, dave supports."""
    register_team(app)
    oid = open_deal(app, LEAD, grade="A")
    seat_triangle(app, oid, LEAD, AR="alice")
    seat_triangle(app, oid, ALICE, SR="bob", FR="carol", supporters=["dave"])
    return oid


def seats(app: Goldsplit, oid: str) -> dict:
    """Who is on the opportunity, as the aggregate has it."""
    opportunity = app.repository.get(UUID(oid))
    return {"triangle": dict(opportunity.triangle), "supporters": list(opportunity.supporters)}


def contribute(app: Goldsplit, oid: str, actor: Actor, kind: str, **changes) -> str:
    """Work done five days ago, three hours of it."""
    return builders.contribute(app, oid, actor, kind, EARLIER, **{"hours": "3", **changes})


# -- members -------------------------------------------------------------------------------------

def test_registers_a_member_and_reads_it_back(app: Goldsplit) -> None:
    recorded = app.register_member(ADMIN, "alice", "Alice Chen", "sales")
    assert (recorded.id, recorded.position) == ("alice", head(app))
    assert app.member("alice") == {"id": "alice", "name": "Alice Chen", "department": "sales",
                                   "team": "sales"}


def test_refuses_registering_a_member_id_twice(app: Goldsplit) -> None:
    app.register_member(ADMIN, "alice", "Alice Chen", "sales")
    refused(app, MemberAlreadyExists, app.register_member, ADMIN, "alice", "Alice Other", "finance",
            field="id")
    assert app.member("alice")["department"] == "sales"


def test_refuses_a_department_that_does_not_exist(app: Goldsplit) -> None:
    refused(app, InvalidInput, app.register_member, ADMIN, "alice", "Alice", "marketing",
            field="department")


def test_answers_member_not_found_for_an_unknown_member(app: Goldsplit) -> None:
    with pytest.raises(MemberNotFound):
        app.member("nobody")


# -- opening -------------------------------------------------------------------------------------

def test_a_member_who_opens_an_opportunity_becomes_its_ar(app: Goldsplit) -> None:
    register_team(app)
    recorded = app.open_opportunity(ALICE, account_id="acme", name="Acme core banking",
                                    amount="1000000.00", currency="CNY",
                                    expected_close="2026-06-30")
    assert recorded.position == head(app)
    assert recorded.grade == "B"  # the default grading policy's band from 1,000,000.00 CNY
    assert seats(app, recorded.id) == {
        "triangle": {"AR": "alice", "SR": None, "FR": None}, "supporters": []}
    opportunity = app.repository.get(UUID(recorded.id))
    assert opportunity.amount == 100_000_000


def test_a_lead_who_opens_an_opportunity_takes_no_seat(app: Goldsplit) -> None:
    oid = open_deal(app, LEAD, grade="A")
    assert seats(app, oid)["triangle"] == {"AR": None, "SR": None, "FR": None}


def test_the_grade_defaults_to_c(app: Goldsplit) -> None:
    register_team(app)
    recorded = app.open_opportunity(ALICE, account_id="acme", name="Small deal", amount="500",
                                    currency="EUR", expected_close="2026-06-30")
    assert recorded.grade == "C"


def test_refuses_opening_by_a_member_who_is_not_registered(app: Goldsplit) -> None:
    refused(app, MemberNotFound, open_deal, app, opener=Actor("ghost", "member"))


@pytest.mark.parametrize(("changes", "error", "field"), [
    ({"amount": "-5"}, InvalidAmount, "amount"),
    ({"amount": "0"}, InvalidAmount, "amount"),
    ({"amount": "a lot"}, InvalidAmount, "amount"),
    ({"amount": "10.001"}, InvalidAmount, "amount"),
    ({"currency": "RMB"}, UnknownCurrency, "currency"),
    ({"grade": "S"}, InvalidInput, "grade"),
    ({"expected_close": "soon"}, InvalidInput, "expected_close"),
    ({"name": " "}, InvalidInput, "name"),
])
def test_refuses_opening_with_bad_input_naming_the_field(app: Goldsplit, changes, error,
                                                         field) -> None:
    register_team(app)
    refused(app, error, open_deal, app, opener=LEAD, **{"grade": "A", **changes}, field=field)


def test_refuses_a_grade_from_a_member_because_the_grade_sets_the_pool_rate(app: Goldsplit) -> None:
    register_team(app)
    refused(app, NotAllowed, open_deal, app, grade="A", field="grade")


def test_refuses_opening_the_same_opportunity_id_twice(app: Goldsplit) -> None:
    register_team(app)
    oid = uuid5(UUID(int=0), "crm:42")
    assert open_deal(app, opportunity_id=oid) == str(oid)
    refused(app, OpportunityAlreadyExists, open_deal, app, opportunity_id=oid)


# -- the triangle and supporters -----------------------------------------------------------------

def test_the_ar_staffs_the_triangle_and_supporters(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    assert seats(app, oid) == {
        "triangle": {"AR": "alice", "SR": "bob", "FR": "carol"}, "supporters": ["dave"]}


def test_reassigning_the_same_ar_records_nothing(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    before, version = head(app), app.repository.get(UUID(oid)).version
    recorded = app.assign_triangle_role(ALICE, oid, "AR", "alice")
    assert (recorded.id, recorded.position) == (oid, before)
    assert head(app) == before
    assert app.repository.get(UUID(oid)).version == version


def test_refuses_triangle_changes_by_a_member_who_is_not_the_ar(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, NotAllowed, app.assign_triangle_role, BOB, oid, "FR", "erin")
    refused(app, NotAllowed, app.add_supporter, BOB, oid, "erin")


def test_a_lead_may_hand_a_seat_over(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    app.assign_triangle_role(LEAD, oid, "SR", "erin")
    assert seats(app, oid)["triangle"]["SR"] == "erin"


def test_after_handing_over_the_ar_seat_the_earlier_ar_may_no_longer_confirm(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    cid = contribute(app, oid, BOB, "demo")
    app.assign_triangle_role(LEAD, oid, "AR", "erin")
    refused(app, NotAllowed, app.confirm_contribution, ALICE, oid, cid)
    app.confirm_contribution(ERIN, oid, cid)


def test_refuses_seating_a_member_who_is_not_registered(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, MemberNotFound, app.assign_triangle_role, ALICE, oid, "SR", "ghost",
            field="member_id")
    refused(app, MemberNotFound, app.add_supporter, ALICE, oid, "ghost", field="member_id")


@pytest.mark.parametrize("oid", ["not-a-uuid", "00000000-0000-0000-0000-000000000001"])
def test_answers_opportunity_not_found_for_an_unknown_opportunity(app: Goldsplit, oid: str) -> None:
    register_team(app)
    refused(app, OpportunityNotFound, app.add_supporter, LEAD, oid, "dave")


def test_a_member_id_is_not_an_opportunity(app: Goldsplit) -> None:
    register_team(app)
    refused(app, OpportunityNotFound, app.add_supporter, LEAD, str(Member.create_id("alice")), "dave")


# -- contributions -------------------------------------------------------------------------------

def test_records_a_contribution_in_the_members_seat(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    recorded = app.record_contribution(BOB, oid, member_id="bob", kind="solution_design",
                                       summary="Architecture for the core", occurred_at=EARLIER,
                                       hours="6.5", evidence_url="https://wiki.example/arch")
    assert recorded.position == head(app)
    contribution = app.repository.get(UUID(oid)).contributions[recorded.id]
    assert {k: contribution[k] for k in ("member_id", "role", "kind", "hours", "status")} == {
        "member_id": "bob", "role": "SR", "kind": "solution_design", "hours": "6.5",
        "status": "recorded"}


def test_refuses_a_member_recording_for_someone_else(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, NotAllowed, contribute, app, oid, BOB, "demo", member_id="carol",
            field="member_id")


def test_a_lead_may_record_for_a_member(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    cid = contribute(app, oid, LEAD, "delivery_plan", member_id="carol")
    contribution = app.repository.get(UUID(oid)).contributions[cid]
    assert (contribution["member_id"], contribution["role"]) == ("carol", "FR")


def test_refuses_an_unknown_contribution_kind(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, UnknownContributionKind, contribute, app, oid, BOB, "golf", field="kind")


def test_refuses_a_lead_recording_for_a_member_who_is_not_on_the_opportunity(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, ContributorNotOnOpportunity, contribute, app, oid, LEAD, "demo", member_id="erin",
            field="member_id")


def test_a_member_not_on_the_opportunity_is_told_it_does_not_exist(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refusal = refused(app, OpportunityNotFound, contribute, app, oid, ERIN, "demo",
                      field="opportunity_id")
    assert refusal.detail == f"no opportunity {oid}"


def test_refuses_a_contribution_dated_in_the_future(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, InvalidInput, contribute, app, oid, BOB, "demo",
            occurred_at=(NOW + timedelta(hours=1)).isoformat(), field="occurred_at")


@pytest.mark.parametrize(("changes", "field"), [
    ({"hours": "-1"}, "hours"),
    ({"hours": 2.5}, "hours"),
    ({"hours": "many"}, "hours"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"summary": ""}, "summary"),
])
def test_refuses_contributions_with_bad_fields(app: Goldsplit, changes: dict, field: str) -> None:
    oid = staffed_deal(app)
    refused(app, InvalidInput, contribute, app, oid, BOB, "demo", **changes, field=field)


def test_a_retried_contribution_with_the_same_id_is_refused_not_duplicated(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    cid = uuid5(UUID(int=0), "timesheet:7")
    contribute(app, oid, BOB, "demo", contribution_id=cid)
    refused(app, ContributionAlreadyRecorded, contribute, app, oid, BOB, "demo",
            contribution_id=cid)


def test_nobody_confirms_their_own_contribution_not_even_the_ar_or_a_lead(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    own = contribute(app, oid, ALICE, "visit")
    refused(app, NotAllowed, app.confirm_contribution, ALICE, oid, own)
    lead_work = contribute(app, oid, LEAD, "visit", member_id="dave")
    app.confirm_contribution(LEAD, oid, own)
    app.confirm_contribution(ALICE, oid, lead_work)


def test_only_the_ar_or_a_lead_confirms_or_reverses(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    first = contribute(app, oid, BOB, "demo")
    second = contribute(app, oid, CAROL, "delivery_plan")
    refused(app, NotAllowed, app.confirm_contribution, BOB, oid, first)
    refused(app, NotAllowed, app.confirm_contribution, DAVE, oid, first)
    refused(app, NotAllowed, app.reverse_contribution, CAROL, oid, second, "not mine")
    assert app.confirm_contribution(ALICE, oid, first).position == head(app)
    assert app.reverse_contribution(LEAD, oid, second, "duplicate").position == head(app)
    contributions = app.repository.get(UUID(oid)).contributions
    assert (contributions[first]["status"], contributions[second]["status"]) == (
        "confirmed", "reversed")


def test_refuses_a_reversal_without_a_reason(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    cid = contribute(app, oid, BOB, "demo")
    refused(app, InvalidInput, app.reverse_contribution, ALICE, oid, cid, "  ", field="reason")


# -- win, lose and the allocation ----------------------------------------------------------------

def test_winning_proposes_an_allocation_that_splits_the_whole_pool(
        fixed_services: Services) -> None:
    app = fixed_services.app
    oid = staffed_deal(app)
    app.confirm_contribution(LEAD, oid, contribute(app, oid, ALICE, "visit"))
    app.confirm_contribution(ALICE, oid, contribute(app, oid, BOB, "solution_design"))
    app.confirm_contribution(ALICE, oid, contribute(app, oid, CAROL, "delivery_plan"))
    app.confirm_contribution(ALICE, oid, contribute(app, oid, DAVE, "pricing_review"))
    poc = contribute(app, oid, BOB, "poc")
    app.confirm_contribution(ALICE, oid, poc)
    app.reverse_contribution(LEAD, oid, poc, "the PoC was cancelled")  # bob's confirmed work: a lead's call
    contribute(app, oid, CAROL, "poc")  # never confirmed

    won = app.win(ALICE, oid, closed_on=TODAY.isoformat())
    assert won.position == head(app)
    allocation_id = won.allocation_id
    assert allocation_id == str(uuid5(UUID(oid), "allocation"))
    allocation = app.repository.get(UUID(allocation_id))
    assert (str(allocation.opportunity_id), allocation.status) == (oid, "proposed")

    assert fixed_services.runner.wait_for(won.position)
    doc = fixed_services.views.get("allocation", allocation_id)
    result = doc["result"]
    # 1,000,000.00 CNY at grade A: pool = 100,000,000 × 0.03 = 3,000,000 minor units.
    assert result["pool"] == 3_000_000
    # Every role is active, so the shares are the policy's: 40/30/20/10 %.
    assert {line["member_id"]: line["amount"] for line in result["lines"]} == {
        "alice": 1_200_000, "bob": 900_000, "carol": 600_000, "dave": 300_000}
    assert sum(line["amount"] for line in result["lines"]) + result["unallocated"] == result["pool"]
    assert doc["policy"]["version"] == 1
    assert {e["reason"] for e in result["excluded"]} == {"reversed", "not confirmed"}


def test_winning_without_eligible_work_leaves_the_whole_pool_unallocated(
        fixed_services: Services) -> None:
    app = fixed_services.app
    oid = staffed_deal(app)
    contribute(app, oid, BOB, "demo")  # never confirmed
    won = app.win(ALICE, oid, closed_on=TODAY.isoformat(), amount="999999.99")
    assert fixed_services.runner.wait_for(won.position)
    result = fixed_services.views.get("allocation", won.allocation_id)["result"]
    assert result["lines"] == []
    # round_half_even(99,999,999 × 0.03) = round_half_even(2,999,999.97) = 3,000,000
    assert result["unallocated"] == result["pool"] == 3_000_000


def test_refuses_winning_twice_and_keeps_the_first_allocation(fixed_services: Services) -> None:
    app = fixed_services.app
    oid = staffed_deal(app)
    app.win(ALICE, oid, closed_on=TODAY.isoformat())
    refused(app, OpportunityClosed, app.win, ALICE, oid, closed_on=TODAY.isoformat())


def test_refuses_winning_by_a_member_who_is_not_the_ar(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, NotAllowed, app.win, BOB, oid, closed_on=TODAY.isoformat())


def test_refuses_winning_with_a_bad_amount(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, InvalidAmount, app.win, ALICE, oid, closed_on=TODAY.isoformat(), amount="-1",
            field="amount")


def test_refuses_work_on_a_lost_opportunity(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    app.lose(ALICE, oid, reason="went with a competitor", closed_on=TODAY.isoformat())
    refused(app, OpportunityClosed, contribute, app, oid, BOB, "demo")
    refused(app, OpportunityClosed, app.win, ALICE, oid, closed_on=TODAY.isoformat())


# -- incentive policies --------------------------------------------------------------------------

def test_the_default_incentive_policy_exists_on_first_start(app: Goldsplit) -> None:
    [policy] = app.policies("incentive")
    assert policy == IncentivePolicy.from_document(DEFAULT_INCENTIVE_DOCUMENT, version=1)
    assert app.incentive_policy_in_force(TODAY).version == 1


def test_a_second_start_on_the_same_store_adds_no_second_default_policy(tmp_path) -> None:
    env = Database(f"sqlite:///{tmp_path / 'goldsplit.db'}").eventsourcing_env()
    first = Goldsplit(env=env, clock=lambda: NOW)
    written = head(first)
    first.close()
    second = Goldsplit(env=env, clock=lambda: NOW)
    try:
        assert head(second) == written
        assert [p.version for p in second.policies("incentive")] == [1]
        book = second.repository.get(PolicyBook.create_id("incentive"))
        assert book.version == 2  # Started, VersionAdded
    finally:
        second.close()


@pytest.mark.parametrize("actor", [ALICE, LEAD, Actor("audrey", "auditor")])
def test_refuses_policy_versions_from_anyone_but_finance(app: Goldsplit, actor: Actor) -> None:
    refused(app, NotAllowed, app.add_policy, actor, "incentive", DEFAULT_INCENTIVE_DOCUMENT)


def test_finance_adds_a_validated_policy_version(app: Goldsplit) -> None:
    recorded = app.add_policy(FINANCE, "incentive", {**DEFAULT_INCENTIVE_DOCUMENT,
                                                  "effective_from": "2026-01-01"})
    assert (recorded.id, recorded.version, recorded.position) == ("2", 2, head(app))
    assert [p.version for p in app.policies("incentive")] == [1, 2]
    assert recorded.hash == app.policies("incentive")[1].hash
    refused(app, InvalidPolicy, app.add_policy, FINANCE, "incentive",
            {**DEFAULT_INCENTIVE_DOCUMENT, "member_cap": "0"}, field="member_cap")


def test_a_version_effective_in_the_future_does_not_apply_today(fixed_services: Services) -> None:
    app = fixed_services.app
    tomorrow = TODAY + timedelta(days=1)
    app.add_policy(FINANCE, "incentive", {
        **DEFAULT_INCENTIVE_DOCUMENT, "name": "fy27", "effective_from": tomorrow.isoformat(),
        "pool_rate_by_grade": {"A": "0.05", "B": "0.02", "C": "0.01"},
        "kind_weights": {**DEFAULT_INCENTIVE_DOCUMENT["kind_weights"], "workshop": 2}})
    assert app.incentive_policy_in_force(TODAY).version == 1
    assert app.incentive_policy_in_force(tomorrow).version == 2

    oid = staffed_deal(app)
    refused(app, UnknownContributionKind, contribute, app, oid, BOB, "workshop", field="kind")
    won = app.win(ALICE, oid, closed_on=TODAY.isoformat())
    assert fixed_services.runner.wait_for(won.position)
    doc = fixed_services.views.get("allocation", won.allocation_id)
    assert (doc["policy"]["version"], doc["result"]["pool"]) == (1, 3_000_000)


def test_the_version_in_force_is_the_highest_already_effective(app: Goldsplit) -> None:
    for effective_from in ("2026-02-01", "2026-01-01"):
        app.add_policy(FINANCE, "incentive", {**DEFAULT_INCENTIVE_DOCUMENT,
                                           "effective_from": effective_from})
    assert app.incentive_policy_in_force(TODAY).version == 3
    assert app.incentive_policy_in_force(datetime(2026, 1, 15).date()).version == 3
    assert app.incentive_policy_in_force(datetime(2025, 12, 31).date()).version == 1


def test_no_policy_in_force_before_the_first_effective_date(app: Goldsplit) -> None:
    with pytest.raises(InvalidInput):
        app.incentive_policy_in_force(datetime(1999, 12, 31).date())


# -- the memory store behaves like the others ----------------------------------------------------

def test_memory_services_run_the_story_and_project_it(memory_services: Services) -> None:
    app = memory_services.app
    register_team(app)
    oid = open_deal(app)
    app.assign_triangle_role(ALICE, oid, "SR", "bob")
    cid = app.record_contribution(BOB, oid, member_id="bob", kind="demo", summary="Demo day",
                                  occurred_at=(app.clock() - timedelta(days=1)).isoformat()).id
    confirmed = app.confirm_contribution(ALICE, oid, cid)
    assert memory_services.runner.wait_for(confirmed.position)
    board = memory_services.views.get("board", oid)
    assert board["triangle"] == {"AR": "alice", "SR": "bob", "FR": None}
    assert [(c["id"], c["status"], c["role"]) for c in board["contributions"]] == [
        (cid, "confirmed", "SR")]
    assert board["position"] == confirmed.position
    assert isinstance(app.repository.get(UUID(oid)), Opportunity)


def test_a_busy_opportunity_loaded_from_its_snapshot_equals_its_events_replayed(app: Goldsplit) -> None:
    """Opportunities are snapshotted every 50 events; what a snapshot restores must be exact."""
    from tests.ledger import events, replay
    register_team(app)
    oid = app.open_opportunity(ALICE, account_id="acme", name="Busy", amount="1000000.00",
                               currency="CNY", expected_close="2026-06-30").id
    for n in range(120):
        cid = contribute(app, oid, ALICE, "visit", summary=f"visit {n}")
        if n % 3 == 0:
            app.confirm_contribution(LEAD, oid, cid)
    assert app.snapshots is not None and list(app.snapshots.get(UUID(oid)))  # snapshots were taken
    loaded = app.repository.get(UUID(oid))
    replayed = replay(events(app, oid))
    assert (loaded.version, loaded.contributions, loaded.triangle, loaded.amount) == (
        replayed.version, replayed.contributions, replayed.triangle, replayed.amount)
