"""Front-office/back-office support requests: open -> accepted | declined; accepted -> delivered ->
rated 1-5 by the requester. A delivery becomes the supporter's confirmed support_delivered
contribution, pointing to the request, and so counts when the deal is won.

A small core of domain tests (given events, when a command, then events or a refusal) for the
request's states, then the use cases through the Application in memory, with a clock stopped at NOW.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from domain.aggregates import Allocation, Opportunity, SupportRequest
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    DomainError,
    InvalidInput,
    MemberNotFound,
    NotAllowed,
    OpportunityClosed,
    OpportunityNotFound,
    RequestNotFound,
    TransitionRefused,
)
from tests.builders import open_deal, seat_triangle
from tests.ledger import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    LEAD,
    events,
    head,
    refused,
    replay,
    then,
    when,
)

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
EARLIER = (NOW - timedelta(days=5)).isoformat()
DUE = (TODAY + timedelta(days=3)).isoformat()

RITA = Actor("rita", "member")  # rnd, not on the opportunity

MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "dave": "commercial",
           "erin": "presales", "rita": "rnd"}


# -- given / when / then for a request -----------------------------------------------------------

RequestCommand = Callable[[SupportRequest], object]


def given(*commands: RequestCommand) -> SupportRequest:
    """A request from alice to the rnd department, rebuilt from its events after `commands`."""
    request = SupportRequest(opportunity_id=uuid5(UUID(int=0), "deal"), requested_by="alice",
                             to_member=None, to_department="rnd", kind="poc_environment",
                             summary="A PoC environment for the customer", due="2026-03-20",
                             actor="alice")
    for command in commands:
        command(request)
    rebuilt = replay(request.collect_events())
    assert not rebuilt.pending_events
    return rebuilt


def then_refused(request: SupportRequest, command: RequestCommand) -> None:
    version, status = request.version, request.status
    with pytest.raises(TransitionRefused) as refusal:
        command(request)
    assert refusal.value.field == "status"
    assert (request.pending_events, request.version, request.status) == ([], version, status)


def accept(member_id: str = "rita") -> RequestCommand:
    return lambda r: r.accept(member_id, member_id)


def decline(reason: str = "no capacity this month") -> RequestCommand:
    return lambda r: r.decline(reason, "rita")


def deliver(contribution_id: str | None = "c1", not_counted: str | None = None) -> RequestCommand:
    return lambda r: r.deliver(summary="environment ready", hours="6", evidence_url=None,
                               contribution_id=contribution_id, not_counted=not_counted, actor="rita")


def rate(score: int = 5) -> RequestCommand:
    return lambda r: r.rate(score, "fast and solid", "alice")


def test_a_request_goes_open_accepted_delivered_rated() -> None:
    request = given()
    assert request.status == "open"
    then(when(request, accept()), (SupportRequest.Accepted, {"member_id": "rita", "actor": "rita"}))
    then(when(request, deliver()), (SupportRequest.Delivered, {
        "summary": "environment ready", "hours": "6", "contribution_id": "c1", "not_counted": None}))
    then(when(request, rate(4)), (SupportRequest.Rated, {"score": 4, "comment": "fast and solid",
                                                         "actor": "alice"}))
    assert (request.status, request.supporter, request.contribution_id, request.rating) == (
        "rated", "rita", "c1", 4)


def test_a_declined_request_records_the_reason() -> None:
    request = given()
    then(when(request, decline()), (SupportRequest.Declined, {"reason": "no capacity this month"}))
    assert request.status == "declined"


@pytest.mark.parametrize(("commands", "command"), [
    ((), deliver()),  # deliver before accept
    ((), rate()),  # rate before deliver
    ((accept(),), rate()),
    ((decline(),), accept()),  # accept after decline
    ((accept(),), decline()),  # decline after accept
    ((accept(),), accept("erin")),
    ((decline(),), deliver()),
    ((accept(), deliver()), deliver()),
    ((accept(), deliver()), decline()),
    ((accept(), deliver(), rate()), rate()),
], ids=["deliver-open", "rate-open", "rate-accepted", "accept-declined", "decline-accepted",
        "accept-accepted", "deliver-declined", "deliver-delivered", "decline-delivered", "rate-rated"])
def test_refuses_a_request_transition_out_of_order(commands, command) -> None:
    then_refused(given(*commands), command)


# -- the Application -----------------------------------------------------------------------------

def staffed_deal(app: Goldsplit) -> str:
    """A lead opened it (grade A) with alice as AR; bob is SR, carol FR; nobody supports yet."""
    oid = open_deal(app, LEAD, grade="A", reason="strategic account")
    seat_triangle(app, oid, LEAD, AR="alice")
    seat_triangle(app, oid, ALICE, SR="bob", FR="carol")
    return oid


def opportunity(app: Goldsplit, oid: str) -> Opportunity:
    return app.repository.get(UUID(oid))


def request(app: Goldsplit, rid: str) -> SupportRequest:
    return app.repository.get(UUID(rid))


def ask(app: Goldsplit, oid: str, by: Actor = ALICE, **changes: Any) -> str:
    fields = dict(kind="poc_environment", summary="A PoC environment for the customer", due=DUE)
    if "to_member" not in changes:
        fields["to_department"] = "rnd"
    return app.open_request(by, oid, **{**fields, **changes}).id


def delivered(app: Goldsplit, oid: str) -> str:
    """alice asked rnd for help; rita accepted and delivered."""
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    app.deliver_request(RITA, rid, summary="PoC environment ready", hours="6")
    return rid


# -- opening -------------------------------------------------------------------------------------

def test_opening_a_request_records_who_asks_whom_for_what(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    recorded = app.open_request(BOB, oid, to_member="dave", kind="pricing_review",
                                summary="Price the three-year option", due=DUE)
    assert (recorded.status, recorded.position) == ("open", head(app))
    [opened] = events(app, recorded.id)
    assert (type(opened), opened.opportunity_id, opened.requested_by, opened.to_member,
            opened.to_department, opened.kind, opened.due) == (
        SupportRequest.Opened, UUID(oid), "bob", "dave", None, "pricing_review", DUE)


@pytest.mark.parametrize(("target", "error", "field"), [
    ({"to_member": "ghost"}, MemberNotFound, "to_member"),
    ({"to_department": "marketing"}, InvalidInput, "to_department"),
    ({"to_member": "dave", "to_department": "rnd"}, InvalidInput, "to_member"),
    ({}, InvalidInput, "to_member"),
])
def test_refuses_a_request_to_an_unknown_member_or_department_or_to_both_or_neither(
        app: Goldsplit, target: dict, error: type[DomainError], field: str) -> None:
    oid = staffed_deal(app)
    count = len(app.recorder.select_notifications(1, 1000))
    refused(app, error, app.open_request, ALICE, oid, kind="poc_environment", summary="PoC",
            due=DUE, **target, field=field)
    assert len(app.recorder.select_notifications(1, 1000)) == count


@pytest.mark.parametrize(("changes", "field"), [
    ({"due": (TODAY - timedelta(days=1)).isoformat()}, "due"),
    ({"due": "tomorrow"}, "due"),
    ({"kind": "PoC Environment"}, "kind"),
    ({"summary": " "}, "summary"),
])
def test_refuses_a_request_with_bad_fields_naming_them(app: Goldsplit, changes: dict, field: str) -> None:
    oid = staffed_deal(app)
    refused(app, InvalidInput, ask, app, oid, **changes, field=field)


def test_only_the_opportunitys_team_or_a_lead_asks_for_support_on_it(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, OpportunityNotFound, ask, app, oid, by=ERIN, field="opportunity_id")  # she sees nothing of it
    app.assign_triangle_role(ALICE, oid, "SR", "erin")  # bob hands over: he sees the deal, is off it
    refused(app, NotAllowed, ask, app, oid, by=BOB)
    assert request(app, ask(app, oid, by=LEAD)).requested_by == "lin"


def test_refuses_a_request_on_an_unknown_or_closed_opportunity(app: Goldsplit) -> None:
    refused(app, OpportunityNotFound, ask, app, str(uuid4()), by=LEAD)
    oid = staffed_deal(app)
    app.lose(ALICE, oid, reason="budget frozen", closed_on=TODAY.isoformat())
    refused(app, OpportunityClosed, ask, app, oid)


def test_a_retried_request_with_the_same_id_is_recorded_once(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = uuid5(UUID(int=0), "request-1")
    first = app.open_request(ALICE, oid, to_department="rnd", kind="poc_environment",
                             summary="PoC", due=DUE, request_id=rid)
    again = app.open_request(ALICE, oid, to_department="rnd", kind="poc_environment",
                             summary="PoC", due=DUE, request_id=rid)
    assert (first.id, again.id) == (str(rid), str(rid))
    assert (again.position, again.status) == (first.position, "open")
    assert len(events(app, rid)) == 1


# -- accepting and declining ---------------------------------------------------------------------

def test_accepting_adds_the_supporter_to_the_opportunity(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    assert (request(app, rid).status, request(app, rid).supporter) == ("accepted", "rita")
    deal = opportunity(app, oid)
    assert deal.supporters == ["rita"]
    assert deal.roles_of("rita") == ["SUPPORT"]
    added = events(app, oid)[-1]
    assert (type(added), added.member_id, added.actor) == (Opportunity.SupporterAdded, "rita", "rita")


def test_accepting_by_someone_already_on_the_opportunity_adds_no_seat(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid, to_member="carol")
    before = len(events(app, oid))
    app.accept_request(CAROL, rid)
    assert opportunity(app, oid).supporters == []
    assert len(events(app, oid)) == before


def test_a_lead_accepts_on_the_addressees_behalf(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid, to_member="dave")
    app.accept_request(LEAD, rid)
    assert request(app, rid).supporter == "dave"
    assert opportunity(app, oid).supporters == ["dave"]


def test_refuses_acceptance_by_a_member_the_request_is_not_addressed_to(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid, to_member="dave")
    refused(app, RequestNotFound, app.accept_request, ERIN, rid, field="request_id")  # not on the deal
    refused(app, NotAllowed, app.accept_request, CAROL, rid, field="member_id")
    refused(app, NotAllowed, app.accept_request, LEAD, rid, member_id="erin", field="member_id")
    assert request(app, rid).status == "open"


def test_refuses_acceptance_by_a_member_of_another_department(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)  # to rnd
    refused(app, RequestNotFound, app.accept_request, ERIN, rid, field="request_id")  # not on the deal
    refused(app, NotAllowed, app.accept_request, BOB, rid, field="member_id")
    refused(app, NotAllowed, app.accept_request, LEAD, rid, member_id="dave", field="member_id")
    assert opportunity(app, oid).supporters == []


def test_a_member_accepts_only_for_themselves(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid, to_member="dave")
    refused(app, NotAllowed, app.accept_request, CAROL, rid, member_id="dave", field="member_id")
    refused(app, NotAllowed, app.accept_request, DAVE, rid, member_id="carol", field="member_id")


def test_the_requester_never_takes_on_their_own_request(app: Goldsplit) -> None:
    """Otherwise a member could mint confirmed support_delivered contributions for themselves."""
    oid = staffed_deal(app)
    refused(app, InvalidInput, app.open_request, BOB, oid, kind="demo", summary="help me",
            due="2099-01-01", to_member="bob", field="to_member")
    to_own_department = ask(app, oid, by=BOB, to_department="presales")
    refused(app, NotAllowed, app.accept_request, BOB, to_own_department, field="member_id")
    app.add_supporter(ALICE, oid, "erin")  # bob may not bring erin onto the deal: the AR does
    app.accept_request(ERIN, to_own_department)  # a colleague of the same department may
    assert request(app, to_own_department).supporter == "erin"


def test_a_request_brings_nobody_onto_the_deal_its_requester_could_not_add_directly(
        app: Goldsplit) -> None:
    """Adding a supporter is the AR's or a lead's; a request of the SR is no way around that."""
    oid = staffed_deal(app)
    by_the_sr = ask(app, oid, by=BOB)
    refused(app, NotAllowed, app.accept_request, RITA, by_the_sr, field="member_id")
    assert opportunity(app, oid).supporters == []
    by_the_ar = ask(app, oid, by=ALICE)
    app.accept_request(RITA, by_the_ar)
    assert opportunity(app, oid).supporters == ["rita"]
    app.accept_request(RITA, by_the_sr)  # now on the deal, she may help the SR too
    assert request(app, by_the_sr).supporter == "rita"


def test_a_lead_accepting_for_a_member_may_bring_them_onto_the_deal(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    app.accept_request(LEAD, ask(app, oid, by=BOB), member_id="rita")
    assert opportunity(app, oid).supporters == ["rita"]


def test_declining_records_the_reason_and_the_request_cannot_be_accepted_after(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    refused(app, InvalidInput, app.decline_request, RITA, rid, " ", field="reason")
    app.decline_request(RITA, rid, "no lab capacity this month")
    declined = events(app, rid)[-1]
    assert (type(declined), declined.reason, declined.actor) == (
        SupportRequest.Declined, "no lab capacity this month", "rita")
    refused(app, TransitionRefused, app.accept_request, RITA, rid, field="status")
    assert opportunity(app, oid).supporters == []


def test_refuses_declining_an_accepted_request(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    refused(app, TransitionRefused, app.decline_request, RITA, rid, "changed my mind", field="status")


def test_only_the_addressee_or_a_lead_declines(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid, to_member="dave")
    refused(app, RequestNotFound, app.decline_request, ERIN, rid, "not mine", field="request_id")
    refused(app, NotAllowed, app.decline_request, BOB, rid, "not mine")
    refused(app, NotAllowed, app.decline_request, ALICE, rid, "never mind")
    app.decline_request(LEAD, rid, "dave is on leave")
    assert request(app, rid).status == "declined"


@pytest.mark.parametrize("rid", ["not-a-uuid", "00000000-0000-0000-0000-000000000001"])
def test_answers_request_not_found_for_an_unknown_request(app: Goldsplit, rid: str) -> None:
    refused(app, RequestNotFound, app.accept_request, RITA, rid, field="request_id")


def test_an_opportunity_id_is_not_a_request(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, RequestNotFound, app.decline_request, LEAD, oid, "no")


# -- delivering ----------------------------------------------------------------------------------

def test_refuses_delivering_before_the_request_is_accepted(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    refused(app, TransitionRefused, app.deliver_request, LEAD, rid, summary="done", field="status")
    # the addressee too is told the request is not accepted yet, not that they are not its supporter
    refused(app, TransitionRefused, app.deliver_request, RITA, rid, summary="done", field="status")
    assert opportunity(app, oid).contributions == {}


def test_delivering_records_a_support_delivered_contribution_pointing_to_the_request(
        app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    recorded = app.deliver_request(RITA, rid, summary="PoC environment ready", hours="6",
                                   evidence_url="https://wiki.example/poc")
    cid = recorded.contribution_id
    assert cid == str(uuid5(UUID(rid), "delivered"))
    contribution = opportunity(app, oid).contributions[cid]
    assert {k: contribution[k] for k in ("member_id", "role", "kind", "status", "request_id", "hours",
                                         "summary", "evidence_url", "occurred_at")} == {
        "member_id": "rita", "role": "SUPPORT", "kind": "support_delivered", "status": "recorded",
        "request_id": rid, "hours": "6", "summary": "PoC environment ready",
        "evidence_url": "https://wiki.example/poc", "occurred_at": NOW.isoformat()}
    recorded_event = events(app, oid)[-1]
    assert (type(recorded_event), recorded_event.request_id, recorded_event.actor) == (
        Opportunity.ContributionRecorded, rid, "rita")
    done = events(app, rid)[-1]
    assert (type(done), done.contribution_id, done.not_counted, done.hours) == (
        SupportRequest.Delivered, cid, None, "6")
    assert request(app, rid).status == "delivered"


def test_delivered_support_counts_once_the_ar_or_a_lead_not_the_supporter_confirms_it(
        app: Goldsplit) -> None:
    """Otherwise two teammates asking each other for help would confirm each other's points."""
    oid = staffed_deal(app)
    rid = ask(app, oid, by=BOB, to_member="carol")  # the SR asks the FR, who is on the deal
    app.accept_request(CAROL, rid)
    cid = app.deliver_request(CAROL, rid, summary="delivery plan reviewed").contribution_id
    assert opportunity(app, oid).contributions[cid]["status"] == "recorded"
    refused(app, NotAllowed, app.confirm_contribution, CAROL, oid, cid)
    refused(app, NotAllowed, app.confirm_contribution, BOB, oid, cid)  # the requester is no checker
    app.confirm_contribution(ALICE, oid, cid)
    assert opportunity(app, oid).contributions[cid]["status"] == "confirmed"


def test_a_delivery_without_a_summary_describes_itself_from_the_request(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    cid = app.deliver_request(RITA, rid).contribution_id
    contribution = opportunity(app, oid).contributions[cid]
    assert (contribution["summary"], contribution["hours"]) == (
        "Delivered: A PoC environment for the customer", "0")


def test_a_supporter_in_the_triangle_delivers_in_their_seat(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid, to_member="carol")
    app.accept_request(CAROL, rid)
    cid = app.deliver_request(CAROL, rid, summary="delivery plan").contribution_id
    assert opportunity(app, oid).contributions[cid]["role"] == "FR"


def test_only_the_supporter_or_a_lead_delivers(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    refused(app, NotAllowed, app.deliver_request, ALICE, rid, summary="I did it")
    refused(app, RequestNotFound, app.deliver_request, ERIN, rid, summary="I did it", field="request_id")
    refused(app, NotAllowed, app.deliver_request, BOB, rid, summary="I did it")
    cid = app.deliver_request(LEAD, rid, summary="rita finished it").contribution_id
    assert opportunity(app, oid).contributions[cid]["member_id"] == "rita"


def test_refuses_delivering_twice(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = delivered(app, oid)
    refused(app, TransitionRefused, app.deliver_request, RITA, rid, summary="again", field="status")
    assert len(opportunity(app, oid).contributions) == 1


def test_refuses_recording_support_delivered_by_hand(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    refused(app, InvalidInput, app.record_contribution, BOB, oid, member_id="bob",
            kind="support_delivered", summary="I helped", occurred_at=EARLIER, field="kind")
    refused(app, InvalidInput, app.record_contribution, LEAD, oid, member_id="bob",
            kind="support_delivered", summary="bob helped", occurred_at=EARLIER, field="kind")


def test_a_delivery_counts_in_the_allocation_when_the_deal_is_won(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    for actor, kind, checker in ((ALICE, "visit", LEAD), (BOB, "demo", ALICE),
                                 (CAROL, "delivery_plan", ALICE)):
        cid = app.record_contribution(actor, oid, member_id=actor.member_id, kind=kind,
                                      summary=kind, occurred_at=EARLIER).id
        app.confirm_contribution(checker, oid, cid)
    rid = delivered(app, oid)
    app.confirm_contribution(ALICE, oid, request(app, rid).contribution_id)
    won = app.win(ALICE, oid, closed_on=TODAY.isoformat())
    allocation = app.repository.get(UUID(won.allocation_id))
    assert isinstance(allocation, Allocation)
    result = allocation.result
    # pool: 1,000,000.00 CNY x 3 % (grade A) = 30,000.00; every role active, so SUPPORT has its 10 %
    assert result["pool"] == 3_000_000
    lines = {line["member_id"]: line for line in result["lines"]}
    assert {m: line["amount"] for m, line in lines.items()} == {
        "alice": 1_200_000, "bob": 900_000, "carol": 600_000, "rita": 300_000}
    [support] = lines["rita"]["contributions"]
    assert (support["kind"], support["role"], support["points"], support["status"]) == (
        "support_delivered", "SUPPORT", 3, "confirmed")
    assert support["contribution_id"] == request(app, rid).contribution_id
    assert result["role_points"]["SUPPORT"] == 3


def test_without_the_delivery_the_support_share_goes_to_the_other_roles(app: Goldsplit) -> None:
    """The counterpart of the test above: the support line exists only because of the delivery."""
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)  # rita supports, but has not delivered
    cid = app.record_contribution(BOB, oid, member_id="bob", kind="demo", summary="demo",
                                  occurred_at=EARLIER).id
    app.confirm_contribution(ALICE, oid, cid)
    won = app.win(ALICE, oid, closed_on=TODAY.isoformat())
    result = app.repository.get(UUID(won.allocation_id)).result
    assert [line["member_id"] for line in result["lines"]] == ["bob"]


def test_a_delivery_after_the_opportunity_closed_is_recorded_but_not_counted(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    app.win(ALICE, oid, closed_on=TODAY.isoformat())
    before = len(events(app, oid))
    recorded = app.deliver_request(RITA, rid, summary="late but done", hours="4")
    assert recorded.contribution_id is None
    done = events(app, rid)[-1]
    assert (type(done), done.contribution_id, done.not_counted, done.summary) == (
        SupportRequest.Delivered, None, "the opportunity was already won", "late but done")
    assert request(app, rid).status == "delivered"
    assert len(events(app, oid)) == before
    assert opportunity(app, oid).contributions == {}


# -- rating --------------------------------------------------------------------------------------

def test_the_requester_rates_the_delivered_help(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = delivered(app, oid)
    app.rate_request(ALICE, rid, 4, comment="fast, one rework")
    rated = events(app, rid)[-1]
    assert (type(rated), rated.score, rated.comment, rated.actor) == (
        SupportRequest.Rated, 4, "fast, one rework", "alice")
    assert (request(app, rid).status, request(app, rid).rating) == ("rated", 4)


def test_refuses_rating_before_delivery(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)
    refused(app, TransitionRefused, app.rate_request, ALICE, rid, 5, field="status")
    app.accept_request(RITA, rid)
    refused(app, TransitionRefused, app.rate_request, ALICE, rid, 5, field="status")


def test_refuses_rating_twice(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = delivered(app, oid)
    app.rate_request(ALICE, rid, 5)
    refused(app, TransitionRefused, app.rate_request, ALICE, rid, 1, field="status")
    assert request(app, rid).rating == 5


@pytest.mark.parametrize("score", [0, 6, -1, 3.0, 4.5, "4", True, None])
def test_refuses_a_rating_outside_one_to_five_or_not_a_whole_number(app: Goldsplit, score) -> None:
    oid = staffed_deal(app)
    rid = delivered(app, oid)
    refused(app, InvalidInput, app.rate_request, ALICE, rid, score, field="score")
    assert request(app, rid).status == "delivered"


@pytest.mark.parametrize("score", [1, 5])
def test_accepts_the_edges_of_the_rating_scale(app: Goldsplit, score: int) -> None:
    oid = staffed_deal(app)
    rid = delivered(app, oid)
    app.rate_request(ALICE, rid, score)
    assert request(app, rid).rating == score


@pytest.mark.parametrize("rater", [LEAD, ADMIN, RITA, BOB, Actor("alice-2", "member")],
                         ids=["lead", "admin", "supporter", "teammate", "another"])
def test_only_the_requester_rates_not_even_a_lead(app: Goldsplit, rater: Actor) -> None:
    oid = staffed_deal(app)
    rid = delivered(app, oid)
    if rater.member_id == "alice-2":  # on no deal: the request does not exist for them
        refused(app, RequestNotFound, app.rate_request, rater, rid, 5, field="request_id")
    else:
        refused(app, NotAllowed, app.rate_request, rater, rid, 5)
    assert request(app, rid).status == "delivered"


def test_a_lead_accepting_for_a_department_names_the_member_who_takes_it_on(app: Goldsplit) -> None:
    oid = staffed_deal(app)
    rid = ask(app, oid)  # to the rnd department
    refused(app, InvalidInput, app.accept_request, LEAD, rid, field="member_id")
    app.accept_request(LEAD, rid, member_id="rita")
    assert request(app, rid).supporter == "rita"


def test_each_step_of_a_request_is_timed_by_the_application_clock(app: Goldsplit) -> None:
    """Response and delivery times are measured on the clock the application runs on."""
    oid = staffed_deal(app)
    rid = ask(app, oid)
    app.accept_request(RITA, rid)
    app.deliver_request(RITA, rid)
    app.rate_request(ALICE, rid, 5)
    assert [(type(e).__name__, e.at) for e in events(app, rid)] == [
        (name, NOW.isoformat()) for name in ("Opened", "Accepted", "Delivered", "Rated")]
