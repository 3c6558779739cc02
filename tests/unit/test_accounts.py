"""Accounts farmed, not just harvested: grading by policy with its history, regrading when the
policy changes, and the account team, through the Application in memory with a clock stopped at
NOW (account-plan tasks: test_tasks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.aggregates import Account
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    AccountAlreadyExists,
    AccountNotFound,
    InvalidInput,
    MemberNotFound,
    NotAllowed,
    NotOnAccountTeam,
)
from domain.grading import DEFAULT_ACCOUNT_GRADING_DOCUMENT
from tests.ledger import (
    ALICE,
    BOB,
    ERIN,
    FINANCE,
    LEAD,
    Clock,
    events,
    head,
    refused,
)

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
NEXT_WEEK = (TODAY + timedelta(days=7)).isoformat()


MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "erin": "presales",
           "fiona": "finance"}

# 70 x 0.40 + 100 x 0.25 + 70 x 0.20 + 60 x 0.15 = 28 + 25 + 14 + 9 = 76: an A (from 65)
ACME = {"annual_potential": "6000000", "strategic_fit": "high", "relationship_depth": "trusted",
        "share_of_wallet": "0.3"}


# -- the Application -----------------------------------------------------------------------------

# `app` and `clock` (tests/unit/conftest.py): the Application in memory, MEMBERS, a clock at NOW


def account_events(app: Goldsplit, account_id: str = "acme") -> list[Any]:
    return events(app, Account.create_id(account_id))


def grades(app: Goldsplit, account_id: str = "acme") -> list[tuple[str, str, int, str]]:
    """The grade history: (grade, score, policy version, reason) of each Graded event."""
    return [(e.grade, e.score, e.policy["version"], e.reason)
            for e in account_events(app, account_id) if isinstance(e, Account.Graded)]


def account(app: Goldsplit, account_id: str = "acme") -> Account:
    return app.repository.get(Account.create_id(account_id))


def register_acme(app: Goldsplit, **changes: Any) -> str:
    fields = dict(name="Acme Bank", industry="banking", attributes=ACME, account_id="acme")
    return app.register_account(ALICE, **{**fields, **changes}).id


# -- account grading -----------------------------------------------------------------------------

def test_registering_an_account_grades_it_by_the_policy_in_force(app: Goldsplit) -> None:
    recorded = app.register_account(ALICE, name="Acme Bank", industry="banking", attributes=ACME,
                                    account_id="acme")
    assert (recorded.id, recorded.grade, recorded.position) == ("acme", "A", head(app))
    registered, graded, added = account_events(app)
    assert type(registered) is Account.Registered
    assert (registered.name, registered.industry, registered.attributes) == ("Acme Bank", "banking", ACME)
    assert type(graded) is Account.Graded
    assert (graded.grade, graded.score, graded.reason, graded.actor) == ("A", "76.00", "registered", "alice")
    assert graded.policy == app.policies("account-grading")[0].reference()
    assert graded.reasons == [
        "annual_potential=6000000: 70 x 0.40", "strategic_fit=high: 100 x 0.25",
        "relationship_depth=trusted: 70 x 0.20", "share_of_wallet=0.3: 60 x 0.15",
        "score 76.00 reaches A (from 65)"]
    assert (type(added), added.member_id, added.role) == (Account.TeamMemberAdded, "alice", "account_manager")
    assert app.account("acme") == {"id": "acme", "name": "Acme Bank", "grade": "A",
                                   "team": {"alice": "account_manager"}}


def test_a_missing_attribute_scores_zero_and_the_reasons_say_so(app: Goldsplit) -> None:
    register_acme(app, attributes={"strategic_fit": "high", "relationship_depth": "partner"})
    [graded] = [e for e in account_events(app) if isinstance(e, Account.Graded)]
    # 0 + 100 x 0.25 + 100 x 0.20 + 0 = 45: a B (from 40)
    assert (graded.grade, graded.score) == ("B", "45.00")
    assert "annual_potential: missing, scores 0" in graded.reasons
    assert "share_of_wallet: missing, scores 0" in graded.reasons


def test_an_account_without_attributes_is_a_c(app: Goldsplit) -> None:
    assert app.register_account(ALICE, name="Tiny Co", account_id="tiny").grade == "C"
    assert grades(app, "tiny") == [("C", "0.00", 1, "registered")]


@pytest.mark.parametrize(("attributes", "field"), [
    ({"strategic_fit": "very high"}, "attributes.strategic_fit"),
    ({"strategic_fit": 100}, "attributes.strategic_fit"),
    ({"annual_potential": 6000000.0}, "attributes.annual_potential"),
    ({"annual_potential": "6e6"}, "attributes.annual_potential"),
    ({"annual_potential": "-1"}, "attributes.annual_potential"),
    ({"annual_potential": True}, "attributes.annual_potential"),
    ({"share_of_wallet": "30%"}, "attributes.share_of_wallet"),
    ({"relationship_depth": ["trusted"]}, "attributes.relationship_depth"),
])
def test_refuses_registering_an_attribute_the_policy_cannot_read_and_records_nothing(
        app: Goldsplit, attributes: dict, field: str) -> None:
    refused(app, InvalidInput, register_acme, app, attributes={**ACME, **attributes}, field=field)
    with pytest.raises(AccountNotFound):
        app.account("acme")


@pytest.mark.parametrize(("attributes", "field"), [
    ({"strategic_fit": "very high"}, "attributes.strategic_fit"),
    ({"annual_potential": 1.5}, "attributes.annual_potential"),
])
def test_refuses_changing_to_an_attribute_the_policy_cannot_read_and_records_nothing(
        app: Goldsplit, attributes: dict, field: str) -> None:
    register_acme(app)
    refused(app, InvalidInput, app.change_account_attributes, ALICE, "acme", attributes, field=field)
    assert account(app).attributes == ACME


def test_attributes_the_policy_does_not_read_may_be_anything_json(app: Goldsplit) -> None:
    register_acme(app, attributes={**ACME, "region": "east", "headcount": 1200.5, "tags": ["bank"]})
    assert account(app).grade == "A"


def test_changing_attributes_merges_them_and_a_null_removes_one(app: Goldsplit) -> None:
    register_acme(app, attributes={**ACME, "region": "east"})
    app.change_account_attributes(ALICE, "acme", {"region": None, "hq": "Shanghai"})
    assert account(app).attributes == {**ACME, "hq": "Shanghai"}
    changed = account_events(app)[-1]
    assert type(changed) is Account.AttributesChanged
    assert changed.attributes == {**ACME, "hq": "Shanghai"}


def test_a_grade_change_is_recorded_with_why_so_the_account_has_a_grade_history(app: Goldsplit) -> None:
    register_acme(app)
    recorded = app.change_account_attributes(ALICE, "acme", {"strategic_fit": "low",
                                                             "relationship_depth": "none"})
    # 28 + 0 + 0 + 9 = 37: a C
    assert recorded.grade == "C"
    app.change_account_attributes(LEAD, "acme", {"annual_potential": "20000000",
                                                 "relationship_depth": "partner"})
    # 40 + 0 + 20 + 9 = 69: an A
    assert grades(app) == [("A", "76.00", 1, "registered"), ("C", "37.00", 1, "attributes changed"),
                           ("A", "69.00", 1, "attributes changed")]
    assert [type(e).__name__ for e in account_events(app)] == [
        "Registered", "Graded", "TeamMemberAdded", "AttributesChanged", "Graded",
        "AttributesChanged", "Graded"]
    assert account(app).grade == "A"


def test_removing_a_scored_attribute_regrades_with_it_missing(app: Goldsplit) -> None:
    register_acme(app)
    app.change_account_attributes(ALICE, "acme", {"annual_potential": None})
    # 0 + 25 + 14 + 9 = 48: a B
    assert grades(app)[-1] == ("B", "48.00", 1, "attributes changed")


def test_a_change_that_keeps_the_grade_records_the_attributes_but_no_grade(app: Goldsplit) -> None:
    register_acme(app)
    app.change_account_attributes(ALICE, "acme", {"region": "east"})
    assert [type(e).__name__ for e in account_events(app)][-1] == "AttributesChanged"
    assert grades(app) == [("A", "76.00", 1, "registered")]


def test_a_change_that_moves_the_score_within_the_grade_records_the_new_score(app: Goldsplit) -> None:
    """Regression: the grade history (and the board) kept the score of the first grading."""
    register_acme(app)
    app.change_account_attributes(ALICE, "acme", {"share_of_wallet": "0.5"})
    # 28 + 25 + 14 + 100 x 0.15 = 82: still an A
    assert grades(app) == [("A", "76.00", 1, "registered"), ("A", "82.00", 1, "attributes changed")]
    assert (account(app).grade, account(app).score) == ("A", "82.00")


def test_a_change_to_the_same_attributes_records_nothing(app: Goldsplit) -> None:
    register_acme(app)
    before = head(app)
    recorded = app.change_account_attributes(ALICE, "acme", {"strategic_fit": "high"})
    assert (recorded.position, head(app), recorded.grade) == (before, before, "A")


def test_only_the_account_team_or_a_lead_changes_attributes(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, AccountNotFound, app.change_account_attributes, ERIN, "acme", {"region": "east"})  # not hers to see
    app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    app.change_account_attributes(BOB, "acme", {"region": "east"})
    app.change_account_attributes(LEAD, "acme", {"region": "west"})
    assert account(app).attributes["region"] == "west"


def test_refuses_registering_the_same_account_id_twice(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, AccountAlreadyExists, register_acme, app, name="Acme Other", field="id")
    assert account(app).name == "Acme Bank"


def test_a_lead_registers_an_account_without_joining_its_team(app: Goldsplit) -> None:
    app.register_account(LEAD, name="Globex", attributes=ACME, account_id="globex")
    assert app.account("globex")["team"] == {}


def test_refuses_registering_by_a_member_who_is_not_registered(app: Goldsplit) -> None:
    refused(app, MemberNotFound, app.register_account, Actor("ghost", "member"), name="Acme",
            account_id="acme", field="member_id")


# -- regrading when the policy changes -----------------------------------------------------------

STRICTER = {**DEFAULT_ACCOUNT_GRADING_DOCUMENT, "name": "stricter", "effective_from": "2026-03-01",
            "grades": {"S": 95, "A": 80, "B": 60, "C": 0}}


def test_a_new_version_in_force_regrades_every_account(app: Goldsplit) -> None:
    register_acme(app)  # 76: A
    app.register_account(LEAD, name="Globex", account_id="globex", attributes={
        "annual_potential": "1000000", "strategic_fit": "medium"})  # 16 + 12.5 = 28.5: C
    recorded = app.add_policy(FINANCE, "account-grading", STRICTER)
    assert recorded.regraded == 2
    assert recorded.position == head(app)
    assert grades(app) == [("A", "76.00", 1, "registered"), ("B", "76.00", 2, "policy version 2")]
    # the grade letter stays C, but the history records which version graded it
    assert grades(app, "globex") == [("C", "28.50", 1, "registered"), ("C", "28.50", 2, "policy version 2")]
    regraded = account_events(app)[-1]
    assert (regraded.actor, regraded.policy) == ("fiona", app.policies("account-grading")[1].reference())


def test_a_version_effective_in_the_future_regrades_nothing_until_its_day(app: Goldsplit,
                                                                           clock: Clock) -> None:
    register_acme(app)
    recorded = app.add_policy(FINANCE, "account-grading", {**STRICTER, "effective_from": "2026-04-01"})
    assert recorded.regraded is None
    assert grades(app) == [("A", "76.00", 1, "registered")]
    app.change_account_attributes(ALICE, "acme", {"region": "east"})  # still graded by version 1
    assert grades(app) == [("A", "76.00", 1, "registered")]

    clock.now = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert app.regrade_accounts(LEAD).regraded == 1
    assert grades(app)[-1] == ("B", "76.00", 2, "policy version 2")


def test_regrading_again_by_the_same_version_records_nothing(app: Goldsplit) -> None:
    register_acme(app)
    app.add_policy(FINANCE, "account-grading", STRICTER)
    before = head(app)
    recorded = app.regrade_accounts(FINANCE)
    assert (recorded.regraded, recorded.position, head(app)) == (0, before, before)


def test_only_finance_a_lead_or_an_admin_regrades(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, NotAllowed, app.regrade_accounts, ALICE)


def test_an_attribute_a_new_version_cannot_read_scores_zero_with_the_reason(app: Goldsplit) -> None:
    register_acme(app)  # strategic_fit "high"
    by_numbers = {**STRICTER, "criteria": {
        **DEFAULT_ACCOUNT_GRADING_DOCUMENT["criteria"],
        "strategic_fit": {"weight": "0.25", "bands": [{"from": "0", "score": 0}, {"from": "5", "score": 100}]}}}
    app.add_policy(FINANCE, "account-grading", by_numbers)
    [*_, regraded] = [e for e in account_events(app) if isinstance(e, Account.Graded)]
    # 28 + 0 + 14 + 9 = 51: a C under the stricter thresholds
    assert (regraded.grade, regraded.score) == ("C", "51.00")
    assert any(r.startswith("strategic_fit: 'high' is not a plain decimal number") and r.endswith("scores 0")
               for r in regraded.reasons)


# -- the account team ----------------------------------------------------------------------------

def test_the_account_manager_builds_the_team_across_departments(app: Goldsplit) -> None:
    register_acme(app)
    app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    app.add_account_team_member(ALICE, "acme", "carol", "delivery_lead")
    assert app.account("acme")["team"] == {"alice": "account_manager", "bob": "solution_lead",
                                           "carol": "delivery_lead"}
    added = account_events(app)[-1]
    assert (type(added), added.member_id, added.role, added.actor) == (
        Account.TeamMemberAdded, "carol", "delivery_lead", "alice")


def test_a_lead_changes_any_account_team(app: Goldsplit) -> None:
    register_acme(app)
    app.add_account_team_member(LEAD, "acme", "erin", "account_manager")
    assert account(app).managers() == ["alice", "erin"]
    app.add_account_team_member(ERIN, "acme", "bob", "member")  # erin now manages it
    assert account(app).team["bob"] == "member"


def test_a_team_member_who_is_not_a_manager_cannot_change_the_team(app: Goldsplit) -> None:
    register_acme(app)
    app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    refused(app, NotAllowed, app.add_account_team_member, BOB, "acme", "carol", "delivery_lead")
    refused(app, AccountNotFound, app.add_account_team_member, ERIN, "acme", "erin", "member")
    refused(app, NotAllowed, app.remove_account_team_member, BOB, "acme", "alice")


def test_refuses_an_unknown_member_on_the_team_naming_the_field(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, MemberNotFound, app.add_account_team_member, ALICE, "acme", "ghost", "member",
            field="member_id")


def test_refuses_a_role_that_is_not_an_account_team_role(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, InvalidInput, app.add_account_team_member, ALICE, "acme", "bob", "AR", field="role")


def test_refuses_a_team_change_on_an_unknown_account(app: Goldsplit) -> None:
    refused(app, AccountNotFound, app.add_account_team_member, LEAD, "nowhere", "bob", "member",
            field="account_id")


def test_changing_a_members_role_records_it_and_the_same_role_again_records_nothing(
        app: Goldsplit) -> None:
    register_acme(app)
    app.add_account_team_member(ALICE, "acme", "bob", "member")
    app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    assert account(app).team["bob"] == "solution_lead"
    before = head(app)
    assert app.add_account_team_member(ALICE, "acme", "bob", "solution_lead").position == before


def test_removing_a_team_member_and_refusing_one_who_is_not_on_it(app: Goldsplit) -> None:
    register_acme(app)
    app.add_account_team_member(ALICE, "acme", "bob", "member")
    app.remove_account_team_member(ALICE, "acme", "bob")
    assert "bob" not in account(app).team
    assert type(account_events(app)[-1]) is Account.TeamMemberRemoved
    refused(app, NotOnAccountTeam, app.remove_account_team_member, ALICE, "acme", "bob",
            field="member_id")
