"""Policies and opportunity grading through the Application in memory, with a clock stopped at NOW:
who may add versions, which version is in force, and how an opportunity takes its grade and roles."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain.aggregates import Opportunity, PolicyBook
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    InvalidInput,
    InvalidPolicy,
    NotAllowed,
    NotFound,
    OpportunityClosed,
)
from tests.builders import open_deal
from tests.ledger import ADMIN, ALICE, BOB, ERIN, FINANCE, LEAD, head, refused
from tests.unit import test_grading_policies as documents
from tests.unit.test_grading_policies import ACCOUNT, EARLIER, OPPORTUNITY, STANDARD, TODAY, changed

MEMBERS, NOW = documents.MEMBERS, documents.NOW  # the team and clock of the app and clock fixtures


# -- policies through the Application ------------------------------------------------------------


POLICY_KINDS = {"account-grading": ACCOUNT, "opportunity-grading": OPPORTUNITY,
                "relationship-standard": STANDARD}


@pytest.mark.parametrize("kind", list(POLICY_KINDS))
def test_each_new_kind_of_policy_starts_with_its_default_version(app: Goldsplit, kind: str) -> None:
    [policy] = app.policies(kind)
    assert (policy.version, policy.effective_from) == (1, date(2000, 1, 1))
    assert policy.document() == type(policy).from_document(POLICY_KINDS[kind], version=1).document()


@pytest.mark.parametrize("kind", list(POLICY_KINDS))
@pytest.mark.parametrize("actor", [ALICE, LEAD, Actor("audrey", "auditor")])
def test_only_finance_or_an_admin_adds_a_policy_version(app: Goldsplit, kind: str, actor: Actor) -> None:
    refused(app, NotAllowed, app.add_policy, actor, kind, POLICY_KINDS[kind])
    assert [p.version for p in app.policies(kind)] == [1]


@pytest.mark.parametrize("actor", [FINANCE, ADMIN])
def test_finance_and_admins_add_versions_numbered_and_hashed_by_the_book(app: Goldsplit,
                                                                           actor: Actor) -> None:
    recorded = app.add_policy(actor, "relationship-standard", {**STANDARD, "name": "v2"})
    [_, added] = app.policies("relationship-standard")
    assert (recorded.version, recorded.hash) == (2, added.hash)
    assert (added.name, added.version) == ("v2", 2)
    assert recorded.position == head(app)


@pytest.mark.parametrize(("kind", "document", "field"), [
    ("account-grading", changed(ACCOUNT, (("grades", "C"), 5)), "grades.C"),
    ("opportunity-grading", changed(OPPORTUNITY, (("amount_bands", "XYZ"), [{"from": "0", "grade": "C"}])),
     "amount_bands.XYZ"),
    ("relationship-standard", changed(STANDARD, (("win_probability", 4, "probability"), "0.1")),
     "win_probability"),
])
def test_an_invalid_version_is_refused_naming_the_field_and_nothing_is_recorded(
        app: Goldsplit, kind: str, document: dict, field: str) -> None:
    book_version = app.repository.get(PolicyBook.create_id(kind)).version
    refused(app, InvalidPolicy, app.add_policy, FINANCE, kind, document, field=field)
    assert app.repository.get(PolicyBook.create_id(kind)).version == book_version


def test_an_unknown_kind_of_policy_is_not_found(app: Goldsplit) -> None:
    refused(app, NotFound, app.add_policy, FINANCE, "bonus", STANDARD, field="kind")
    with pytest.raises(NotFound):
        app.policies("bonus")


def test_the_version_in_force_is_the_highest_already_effective_on_that_day(app: Goldsplit) -> None:
    app.add_policy(FINANCE, "opportunity-grading", {**OPPORTUNITY, "effective_from": "2026-02-01"})
    app.add_policy(FINANCE, "opportunity-grading", {**OPPORTUNITY, "effective_from": "2027-01-01"})
    app.add_policy(FINANCE, "opportunity-grading", {**OPPORTUNITY, "effective_from": "2026-03-01"})
    in_force = {day: app.policy_in_force("opportunity-grading", date.fromisoformat(day)).version
                for day in ("2025-12-31", "2026-01-31", "2026-02-01", "2026-02-28", "2026-03-01",
                            "2026-12-31", "2027-01-01")}
    assert in_force == {"2025-12-31": 1, "2026-01-31": 1, "2026-02-01": 2, "2026-02-28": 2,
                        "2026-03-01": 4, "2026-12-31": 4, "2027-01-01": 4}


def test_a_later_version_effective_earlier_takes_over_from_an_earlier_one(app: Goldsplit) -> None:
    app.add_policy(FINANCE, "account-grading", {**ACCOUNT, "effective_from": "2027-01-01"})
    assert app.policy_in_force("account-grading", date(2027, 6, 1)).version == 2
    app.add_policy(FINANCE, "account-grading", {**ACCOUNT, "effective_from": "2026-01-01"})
    assert app.policy_in_force("account-grading", date(2027, 6, 1)).version == 3


def test_no_version_is_in_force_before_the_first_is_effective(app: Goldsplit) -> None:
    with pytest.raises(InvalidInput) as refusal:
        app.policy_in_force("relationship-standard", date(1999, 12, 31))
    assert refusal.value.field == "date"


# -- opportunity grading through the Application -------------------------------------------------

def opportunity(app: Goldsplit, oid: str) -> Opportunity:
    return app.repository.get(UUID(oid))


def graded_events(app: Goldsplit, oid: str) -> list[Any]:
    return [e for e in app.repository.event_store.get(UUID(oid)) if isinstance(e, Opportunity.Graded)]


@pytest.mark.parametrize(("amount", "currency", "attributes", "grade", "required"), [
    ("999999.99", "CNY", None, "C", ["AR"]),
    ("1000000.00", "CNY", None, "B", ["AR", "SR"]),
    ("3000000.00", "CNY", None, "A", ["AR", "SR", "FR"]),
    ("1000000.00", "CNY", {"new_logo": True}, "A", ["AR", "SR", "FR"]),
    ("3000000.00", "CNY", {"new_logo": True, "lighthouse": True}, "A", ["AR", "SR", "FR"]),
    ("5000000", "JPY", {}, "C", ["AR"]),
    ("5000000", "JPY", {"lighthouse": True}, "B", ["AR", "SR"]),
])
def test_opening_grades_the_deal_and_stores_the_roles_its_grade_requires(
        app: Goldsplit, amount, currency, attributes, grade, required) -> None:
    opener = LEAD if attributes else ALICE  # strategic attributes are a lead's call
    recorded = app.open_opportunity(opener, account_id="acme", name="Deal", amount=amount,
                                    currency=currency, expected_close="2026-06-30",
                                    attributes=attributes)
    assert recorded.grade == grade
    deal = opportunity(app, recorded.id)
    assert (deal.grade, deal.required_roles, deal.grade_overridden) == (grade, required, False)
    [graded] = graded_events(app, recorded.id)
    assert (graded.grade, graded.required_roles, graded.overridden) == (grade, required, False)
    assert graded.policy == app.policies("opportunity-grading")[0].reference()
    assert graded.reasons[0].startswith(f"amount {amount}" if currency == "CNY" else "no amount bands")


def test_a_lead_overrides_the_grade_and_it_takes_the_roles_of_that_grade(app: Goldsplit) -> None:
    oid = open_deal(app, opener=LEAD, amount="100.00", grade="A")
    deal = opportunity(app, oid)
    assert (deal.grade, deal.required_roles, deal.grade_overridden) == ("A", ["AR", "SR", "FR"], True)
    [graded] = graded_events(app, oid)
    assert graded.reasons == ["set by lin (lead): a lighthouse deal; the policy gives C"]
    assert graded.actor == "lin"


@pytest.mark.parametrize("call", ["open", "correct"])
def test_a_member_cannot_set_the_grade(app: Goldsplit, call: str) -> None:
    if call == "open":
        refused(app, NotAllowed, open_deal, app, grade="A", field="grade")
    else:
        oid = open_deal(app)
        refused(app, NotAllowed, app.correct_opportunity, ALICE, oid, grade="A", field="grade")
        assert opportunity(app, oid).grade == "B"


def test_the_lead_override_stands_through_corrections(app: Goldsplit) -> None:
    oid = open_deal(app, opener=LEAD, amount="100.00", grade="B")
    app.assign_triangle_role(LEAD, oid, "AR", "alice")
    assert app.correct_opportunity(LEAD, oid, amount="5000000.00", reason="scope grew").grade == "B"
    assert app.correct_opportunity(ALICE, oid, amount="10.00").grade == "B"
    assert app.correct_opportunity(LEAD, oid, attributes={"new_logo": True}).grade == "B"
    deal = opportunity(app, oid)
    assert (deal.amount, deal.grade, deal.grade_overridden) == (1000, "B", True)
    assert len(graded_events(app, oid)) == 1
    # only a lead changes it again
    app.correct_opportunity(LEAD, oid, grade="C", reason="scope cut")
    assert (opportunity(app, oid).grade, opportunity(app, oid).required_roles) == ("C", ["AR"])


def test_correcting_the_amount_regrades_the_deal_by_the_policy(app: Goldsplit) -> None:
    oid = open_deal(app, amount="999999.99")
    assert opportunity(app, oid).grade == "C"
    recorded = app.correct_opportunity(LEAD, oid, amount="3000000.00", reason="scope grew")
    assert recorded.grade == "A"
    deal = opportunity(app, oid)
    assert (deal.amount, deal.grade, deal.required_roles) == (300_000_000, "A", ["AR", "SR", "FR"])
    events = list(app.repository.event_store.get(UUID(oid)))
    assert [type(e).__name__ for e in events[-2:]] == ["Corrected", "Graded"]
    assert [g.grade for g in graded_events(app, oid)] == ["C", "A"]


def test_only_a_lead_sets_the_attributes_that_raise_the_grade(app: Goldsplit) -> None:
    """They raise the grade, and the grade sets the pool rate."""
    refused(app, NotAllowed, app.open_opportunity, ALICE, account_id="acme", name="Deal",
            amount="10.00", currency="CNY", expected_close="2026-06-30", attributes={"new_logo": True},
            field="attributes.new_logo")
    oid = open_deal(app)
    refused(app, NotAllowed, app.correct_opportunity, ALICE, oid, attributes={"lighthouse": False},
            field="attributes.lighthouse")
    app.correct_opportunity(ALICE, oid, attributes={"region": "north"})


def test_correcting_attributes_merges_them_and_a_null_removes_one(app: Goldsplit) -> None:
    oid = open_deal(app, opener=LEAD, attributes={"region": "east", "new_logo": True})
    assert opportunity(app, oid).grade == "A"
    app.correct_opportunity(LEAD, oid, attributes={"new_logo": None, "lighthouse": False})
    deal = opportunity(app, oid)
    assert deal.attributes == {"region": "east", "lighthouse": False}
    assert (deal.grade, deal.required_roles) == ("B", ["AR", "SR"])


def test_a_correction_that_changes_nothing_records_nothing(app: Goldsplit) -> None:
    oid = open_deal(app)
    before = head(app)
    recorded = app.correct_opportunity(ALICE, oid, amount="1000000.00", expected_close="2026-06-30")
    assert (recorded.position, head(app)) == (before, before)


def test_a_correction_that_keeps_the_grade_records_no_second_grade(app: Goldsplit) -> None:
    oid = open_deal(app)
    app.correct_opportunity(LEAD, oid, amount="1500000.00", reason="scope grew")
    assert [g.grade for g in graded_events(app, oid)] == ["B"]
    assert opportunity(app, oid).amount == 150_000_000


@pytest.mark.parametrize("closing", ["win", "lose"])
def test_refuses_correcting_a_closed_opportunity(app: Goldsplit, closing: str) -> None:
    oid = open_deal(app)
    if closing == "win":
        app.win(ALICE, oid, closed_on=TODAY.isoformat())
    else:
        app.lose(ALICE, oid, reason="price", closed_on=TODAY.isoformat())
    refused(app, OpportunityClosed, app.correct_opportunity, ALICE, oid, expected_close="2026-09-30")
    refused(app, OpportunityClosed, app.correct_opportunity, ALICE, oid, attributes={"region": "x"})
    refused(app, OpportunityClosed, app.correct_opportunity, LEAD, oid, grade="A", reason="late")
    if closing == "lose":
        refused(app, OpportunityClosed, app.correct_opportunity, ALICE, oid, amount="5000000.00")
    assert (opportunity(app, oid).amount, opportunity(app, oid).grade) == (100_000_000, "B")


def test_only_the_ar_or_a_lead_corrects_a_deal(app: Goldsplit) -> None:
    oid = open_deal(app)
    app.assign_triangle_role(ALICE, oid, "SR", "bob")
    refused(app, NotAllowed, app.correct_opportunity, BOB, oid, amount="5000000.00")


def test_refuses_a_bad_correction_naming_the_field(app: Goldsplit) -> None:
    oid = open_deal(app)
    refused(app, InvalidInput, app.correct_opportunity, LEAD, oid, grade="S", field="grade")
    refused(app, InvalidInput, app.correct_opportunity, ALICE, oid, expected_close="soon",
            field="expected_close")


def test_a_new_grading_version_in_force_regrades_open_deals_but_not_closed_or_overridden_ones(
        app: Goldsplit) -> None:
    open_before = open_deal(app)
    closed = open_deal(app)
    app.win(ALICE, closed, closed_on="2026-03-10")
    overridden = open_deal(app, opener=LEAD, grade="A")
    added = app.add_policy(FINANCE, "opportunity-grading", changed(
        OPPORTUNITY, (("effective_from",), "2026-03-01"),
        (("amount_bands", "CNY", 1, "from"), "500000.00"), (("required_roles", "B"), ["AR", "FR"])))
    assert added.regraded == 1
    later = open_deal(app, amount="600000.00")
    for oid in (open_before, later):
        assert (opportunity(app, oid).grade, opportunity(app, oid).required_roles) == ("B", ["AR", "FR"])
        assert graded_events(app, oid)[-1].policy["version"] == 2
    assert opportunity(app, closed).required_roles == ["AR", "SR"]
    assert [e.policy["version"] for e in graded_events(app, overridden)] == [1]
    assert app.regrade_opportunities(FINANCE).regraded == 0


def test_a_lead_releases_an_override_back_to_the_policy(app: Goldsplit) -> None:
    oid = open_deal(app, opener=LEAD, grade="A")
    app.correct_opportunity(LEAD, oid, release_grade=True, reason="back to the policy")
    assert (opportunity(app, oid).grade, opportunity(app, oid).grade_overridden) == ("B", False)
    refused(app, NotAllowed, app.correct_opportunity, ALICE, oid, release_grade=True, field="grade")


def test_triangle_handover_keeps_earlier_contributions_with_their_authors(app: Goldsplit) -> None:
    oid = open_deal(app)
    app.assign_triangle_role(ALICE, oid, "SR", "bob")
    demo = app.record_contribution(BOB, oid, member_id="bob", kind="demo", summary="Demo",
                                   occurred_at=EARLIER).id
    app.confirm_contribution(ALICE, oid, demo)
    app.assign_triangle_role(ALICE, oid, "SR", "erin")
    design = app.record_contribution(ERIN, oid, member_id="erin", kind="solution_design",
                                     summary="Design", occurred_at=EARLIER).id
    deal = opportunity(app, oid)
    assert deal.triangle["SR"] == "erin"
    assert [(c["member_id"], c["role"], c["status"]) for c in deal.contributions.values()] == [
        ("bob", "SR", "confirmed"), ("erin", "SR", "recorded")]
    assert list(deal.contributions) == [demo, design]
    assert deal.triangle_history[-1] == {"role": "SR", "member_id": "erin", "previous": "bob"}
    assert Decimal(deal.contributions[demo]["hours"]) == 0
