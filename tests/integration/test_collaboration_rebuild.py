"""The collaboration read models rebuilt from the log equal the live ones, on SQLite and PostgreSQL.

The story touches every event the collaboration side added: members with teams, accounts graded
by two policy versions, the account team, the task loop, grading and correcting opportunities,
assessments, support requests from opening to rating (and a declined one), wins and losses.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from domain.aggregates import Account, Member, Opportunity, PolicyBook, SupportRequest, Task
from domain.application import Goldsplit
from domain.grading import DEFAULT_ACCOUNT_GRADING_DOCUMENT
from main.services import Services
from projections.store import ViewStore
from tests.ledger import ADMIN, ALICE, BOB, CAROL, FINANCE, LEAD, play_projecting_each_save

NEW_EVENTS = (
    Member.Registered, PolicyBook.VersionAdded,
    Account.Registered, Account.AttributesChanged, Account.Graded, Account.TeamMemberAdded,
    Account.TeamMemberRemoved,
    Task.Created, Task.Assigned, Task.Completed, Task.Verified, Task.Reopened,
    Opportunity.Graded, Opportunity.Corrected, Opportunity.Assessed,
    SupportRequest.Opened, SupportRequest.Accepted, SupportRequest.Declined, SupportRequest.Delivered,
    SupportRequest.Rated,
    Opportunity.ContributionRecorded, Opportunity.ContributionConfirmed, Opportunity.ContributionReversed,
    Opportunity.Won, Opportunity.Lost,
)
ANSWERS = {"decision_maker_stance": "supportive", "coach_inside": "informal",
           "budget_confirmed": "approved", "technical_preference": "open",
           "competitive_position": "even", "executive_relationship": "regular"}


def play_story(app: Goldsplit) -> None:
    today = app.clock().date()

    def day(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    yesterday = (app.clock() - timedelta(days=1)).isoformat()
    for member_id, department, team in (("alice", "sales", "east"), ("bob", "presales", None),
                                        ("carol", "delivery", "projects")):
        app.register_member(ADMIN, member_id, member_id.title(), department, team=team)

    app.register_account(ALICE, name="Acme", industry="logistics", account_id="acme", attributes={
        "annual_potential": "6000000", "strategic_fit": "high", "share_of_wallet": "0.3"})
    app.change_account_attributes(ALICE, "acme", {"relationship_depth": "partner"})
    app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    app.add_account_team_member(ALICE, "acme", "carol", "delivery_lead")
    app.remove_account_team_member(ALICE, "acme", "bob")
    app.add_policy(FINANCE, "account-grading", {**copy.deepcopy(DEFAULT_ACCOUNT_GRADING_DOCUMENT),
                                                "grades": {"S": 95, "A": 90, "B": 50, "C": 0}})
    task = app.create_task(ALICE, "acme", title="Map the buying centre", assignee="bob", due=day(3)).id
    app.assign_task(ALICE, task, "carol")
    app.complete_task(CAROL, task, note="org chart")
    app.reopen_task(ALICE, task, "the CFO is missing")
    app.complete_task(CAROL, task)
    app.verify_task(ALICE, task)
    app.create_task(ALICE, "acme", title="Executive dinner", due=day(1))

    big = app.open_opportunity(ALICE, account_id="acme", name="WMS", amount="4000000.00",
                               currency="CNY", expected_close=day(60)).id
    early = app.open_opportunity(ALICE, account_id="globex", name="Pilot", amount="90000.00",
                                 currency="USD", expected_close=day(30)).id
    app.register_account(ALICE, name="Globex", account_id="globex")
    app.correct_opportunity(LEAD, big, amount="2500000.00", attributes={"lighthouse": True})
    app.assess(ALICE, big, ANSWERS)
    app.assess(ALICE, big, {**ANSWERS, "decision_maker_stance": "champion"})
    app.assign_triangle_role(ALICE, big, "SR", "bob")
    visit = app.record_contribution(ALICE, big, member_id="alice", kind="visit", summary="Visit",
                                    occurred_at=yesterday).id
    app.confirm_contribution(LEAD, big, visit)
    twice = app.record_contribution(BOB, big, member_id="bob", kind="demo", summary="Demo",
                                    occurred_at=yesterday).id
    app.reverse_contribution(ALICE, big, twice, "recorded twice")
    helped = app.open_request(ALICE, big, to_department="delivery", kind="delivery_plan",
                              summary="Roll-out plan", due=day(5)).id
    app.accept_request(CAROL, helped)
    app.deliver_request(CAROL, helped, summary="Plan", hours="8")
    app.rate_request(ALICE, helped, 5, comment="spot on")
    refused = app.open_request(ALICE, big, to_member="bob", kind="demo", summary="Demo", due=day(2)).id
    app.decline_request(BOB, refused, "no demo system free")
    app.win(ALICE, big, closed_on=day(0))
    app.assess(ALICE, early, ANSWERS)
    app.lose(ALICE, early, reason="budget frozen", closed_on=day(0))


def snapshot(services: Services) -> dict[str, dict]:
    views: ViewStore = services.views
    return {view: views.all(view) for p in services.runner.projections for view in p.views}


def test_the_story_touches_every_collaboration_event(services: Services) -> None:
    play_story(services.app)
    topics = {n.topic for n in services.app.recorder.select_notifications(start=1, limit=10_000)}
    assert {f"{e.__module__}:{e.__qualname__}" for e in NEW_EVENTS} <= topics


def test_rebuilt_collaboration_boards_equal_the_live_ones(services: Services) -> None:
    play_story(services.app)
    head = services.runner.catch_up()
    live = snapshot(services)
    assert live["account"]["acme"]["tasks"] and live["account"]["globex"]["opportunities"]
    assert live["member"]["department:delivery"]["requests_to_me"]
    assert live["calibration"]["member:alice"]["count"] == 2
    services.views.commit({}, {("account", "acme"): {"damaged": True},
                               ("member", "left-over"): {"damaged": True},
                               ("calibration", "all"): {"damaged": True},
                               ("board", next(iter(live["board"]))): {"damaged": True}})
    assert snapshot(services) != live

    assert services.runner.rebuild() == head
    assert snapshot(services) == live


def test_collaboration_boards_projected_after_every_command_equal_the_rebuild(
        services: Services) -> None:
    """Catching up after every command (as the API does) gives what one replay from 1 gives."""
    play_projecting_each_save(services, play_story)
    live = snapshot(services)
    services.runner.rebuild()
    assert snapshot(services) == live
