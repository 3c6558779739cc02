"""Domain tests: given events, when a command, then new events or a refusal.

`given(...)` opens an opportunity, runs the commands, and rebuilds the aggregate by replaying the
events they recorded (so the private @event bodies are what builds the state under test);
`when(...)` runs one command and answers the new events; `then(...)` compares their types and
attributes exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.aggregates import Member, Opportunity, PolicyBook, event_id
from domain.exceptions import (
    ContributionAlreadyConfirmed,
    ContributionAlreadyRecorded,
    ContributionAlreadyReversed,
    ContributionNotFound,
    ContributorNotOnOpportunity,
    InvalidAmount,
    InvalidInput,
    InvalidPolicy,
    OpportunityClosed,
    SupporterAlreadyAdded,
    UnknownCurrency,
)
from domain.money import format_amount, parse_amount
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT, IncentivePolicy
from tests.ledger import replay, then, when

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
EARLIER = NOW - timedelta(days=3)

Command = Callable[[Opportunity], object]


# -- given / when / then -------------------------------------------------------------------------


def given(*commands: Command) -> Opportunity:
    """An opportunity rebuilt from the events of opening it and running `commands`."""
    opportunity = Opportunity(account_id="acme", name="Acme core banking", amount=125_000_000,
                              currency="CNY", expected_close="2026-06-30", grade="A",
                              attributes={"region": "east"}, actor="alice")
    for command in commands:
        command(opportunity)
    rebuilt = replay(opportunity.collect_events())
    assert not rebuilt.pending_events
    return rebuilt


def then_refused(opportunity: Opportunity, command: Command, error: type[Exception],
                 field: str | None = None) -> None:
    version = opportunity.version
    with pytest.raises(error) as refusal:
        command(opportunity)
    assert type(refusal.value) is error
    if field is not None:
        assert refusal.value.field == field
    assert opportunity.pending_events == []
    assert opportunity.version == version


# -- commands ------------------------------------------------------------------------------------

def assign(role: str, member_id: str, by: str = "alice") -> Command:
    return lambda o: o.assign_role(role, member_id, by)


def support(member_id: str, by: str = "alice") -> Command:
    return lambda o: o.add_supporter(member_id, by)


def record(cid: str, member_id: str, kind: str = "visit", *, role: str | None = None,
           at: datetime = EARLIER, by: str | None = None) -> Command:
    return lambda o: o.record_contribution(
        contribution_id=cid, member_id=member_id, role=role, kind=kind,
        summary=f"{kind} by {member_id}", hours="2.5", occurred_at=at,
        evidence_url="https://crm.example/e/1", actor=by or member_id, now=NOW)


def confirm(cid: str, by: str = "alice") -> Command:
    return lambda o: o.confirm_contribution(cid, by)


def reverse(cid: str, reason: str = "logged twice", by: str = "alice") -> Command:
    return lambda o: o.reverse_contribution(cid, reason, by)


def win(amount: int = 120_000_000, on: date = TODAY, by: str = "alice") -> Command:
    return lambda o: o.win(amount, on, by, today=TODAY)


def lose(reason: str = "price", on: date = TODAY, by: str = "alice") -> Command:
    return lambda o: o.lose(reason, on, by, today=TODAY)


TRIANGLE = (assign("AR", "alice"), assign("SR", "bob"), assign("FR", "carol"))
TEAM = (*TRIANGLE, support("dave"))


# -- opening and the triangle --------------------------------------------------------------------

def test_opening_records_the_deal_with_an_empty_triangle() -> None:
    opportunity = Opportunity(account_id="acme", name="Acme core banking", amount=125_000_000,
                              currency="CNY", expected_close="2026-06-30", grade="A",
                              attributes={}, actor="lead-lin")
    then(opportunity.pending_events, (Opportunity.Opened, {
        "account_id": "acme", "name": "Acme core banking", "amount": 125_000_000,
        "currency": "CNY", "expected_close": "2026-06-30", "grade": "A", "attributes": {},
        "actor": "lead-lin", "originator_version": 1}))
    assert opportunity.stage == "open"
    assert opportunity.triangle == {"AR": None, "SR": None, "FR": None}


def test_assigning_a_triangle_role_records_who_took_the_seat() -> None:
    opportunity = given()
    then(when(opportunity, assign("SR", "bob")),
         (Opportunity.TriangleRoleAssigned,
          {"role": "SR", "member_id": "bob", "previous": None, "actor": "alice"}))
    assert opportunity.triangle == {"AR": None, "SR": "bob", "FR": None}


def test_handover_names_the_earlier_holder_and_history_keeps_both() -> None:
    opportunity = given(*TRIANGLE)
    then(when(opportunity, assign("SR", "erin")),
         (Opportunity.TriangleRoleAssigned,
          {"role": "SR", "member_id": "erin", "previous": "bob", "actor": "alice"}))
    assert opportunity.triangle["SR"] == "erin"
    assert [h for h in opportunity.triangle_history if h["role"] == "SR"] == [
        {"role": "SR", "member_id": "bob", "previous": None},
        {"role": "SR", "member_id": "erin", "previous": "bob"},
    ]


def test_handover_keeps_author_and_role_of_earlier_contributions() -> None:
    opportunity = given(*TRIANGLE, record("c1", "bob", "solution_design"), confirm("c1"),
                        assign("SR", "erin"))
    then(when(opportunity, record("c2", "erin", "demo")),
         (Opportunity.ContributionRecorded, {"member_id": "erin", "role": "SR"}))
    earlier = opportunity.contributions["c1"]
    assert (earlier["member_id"], earlier["role"], earlier["status"]) == ("bob", "SR", "confirmed")


def test_refuses_contribution_from_the_earlier_holder_after_handover() -> None:
    opportunity = given(*TRIANGLE, assign("SR", "erin"))
    then_refused(opportunity, record("c1", "bob"), ContributorNotOnOpportunity, field="member_id")


def test_assigning_the_same_holder_again_records_nothing() -> None:
    opportunity = given(*TRIANGLE)
    then(when(opportunity, assign("AR", "alice")))


def test_refuses_a_role_that_is_not_a_triangle_role() -> None:
    opportunity = given()
    then_refused(opportunity, assign("SUPPORT", "dave"), InvalidInput, field="role")
    then_refused(opportunity, assign("CEO", "dave"), InvalidInput, field="role")


# -- supporters ----------------------------------------------------------------------------------

def test_adding_a_supporter_records_it() -> None:
    opportunity = given(*TRIANGLE)
    then(when(opportunity, support("dave")),
         (Opportunity.SupporterAdded, {"member_id": "dave", "actor": "alice"}))
    assert opportunity.roles_of("dave") == ["SUPPORT"]


def test_refuses_adding_the_same_supporter_twice() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, support("dave"), SupporterAlreadyAdded, field="member_id")


# -- contributions -------------------------------------------------------------------------------

def test_recording_a_contribution_resolves_the_role_from_the_members_seat() -> None:
    opportunity = given(*TEAM)
    then(when(opportunity, record("c1", "carol", "delivery_plan")),
         (Opportunity.ContributionRecorded, {
             "contribution_id": "c1", "member_id": "carol", "role": "FR",
             "kind": "delivery_plan", "summary": "delivery_plan by carol", "hours": "2.5",
             "occurred_at": EARLIER.isoformat(), "evidence_url": "https://crm.example/e/1",
             "actor": "carol"}))
    assert opportunity.contributions["c1"]["status"] == "recorded"


def test_a_supporter_contributes_in_the_support_role() -> None:
    opportunity = given(*TEAM)
    then(when(opportunity, record("c1", "dave", "pricing_review")),
         (Opportunity.ContributionRecorded, {"member_id": "dave", "role": "SUPPORT"}))


def test_a_member_in_two_seats_contributes_in_the_role_they_name() -> None:
    opportunity = given(*TRIANGLE, support("alice"))
    then(when(opportunity, record("c1", "alice", "pricing_review", role="SUPPORT")),
         (Opportunity.ContributionRecorded, {"member_id": "alice", "role": "SUPPORT"}))


def test_refuses_a_named_role_the_member_does_not_hold() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, record("c1", "bob", role="AR"), InvalidInput, field="role")


def test_refuses_contribution_from_a_member_not_on_the_opportunity() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, record("c1", "mallory"), ContributorNotOnOpportunity, field="member_id")


def test_refuses_contribution_dated_in_the_future() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, record("c1", "bob", at=NOW + timedelta(minutes=1)), InvalidInput,
                 field="occurred_at")


def test_accepts_contribution_dated_exactly_now() -> None:
    opportunity = given(*TEAM)
    then(when(opportunity, record("c1", "bob", at=NOW)),
         (Opportunity.ContributionRecorded, {"occurred_at": NOW.isoformat()}))


def test_refuses_recording_the_same_contribution_id_twice() -> None:
    opportunity = given(*TEAM, record("c1", "bob"))
    then_refused(opportunity, record("c1", "bob"), ContributionAlreadyRecorded)


def test_a_contribution_remembers_the_id_of_the_event_that_recorded_it() -> None:
    opportunity = given(*TEAM)
    [recorded] = when(opportunity, record("c1", "bob"))
    assert opportunity.contributions["c1"]["event_id"] == str(
        event_id(recorded.originator_id, recorded.originator_version))


def test_confirming_a_contribution_records_who_confirmed() -> None:
    opportunity = given(*TEAM, record("c1", "bob"))
    then(when(opportunity, confirm("c1")),
         (Opportunity.ContributionConfirmed, {"contribution_id": "c1", "actor": "alice"}))
    assert opportunity.contributions["c1"]["status"] == "confirmed"


def test_refuses_confirming_twice() -> None:
    opportunity = given(*TEAM, record("c1", "bob"), confirm("c1"))
    then_refused(opportunity, confirm("c1"), ContributionAlreadyConfirmed)


def test_refuses_confirming_a_reversed_contribution() -> None:
    opportunity = given(*TEAM, record("c1", "bob"), reverse("c1"))
    then_refused(opportunity, confirm("c1"), ContributionAlreadyReversed)


def test_refuses_confirming_an_unknown_contribution() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, confirm("nope"), ContributionNotFound, field="contribution_id")


def test_reversing_a_confirmed_contribution_records_the_reason() -> None:
    opportunity = given(*TEAM, record("c1", "bob"), confirm("c1"))
    then(when(opportunity, reverse("c1", "the demo was cancelled")),
         (Opportunity.ContributionReversed,
          {"contribution_id": "c1", "reason": "the demo was cancelled", "actor": "alice"}))
    c1 = opportunity.contributions["c1"]
    assert (c1["status"], c1["reversal_reason"], c1["member_id"]) == (
        "reversed", "the demo was cancelled", "bob")


def test_refuses_reversing_twice() -> None:
    opportunity = given(*TEAM, record("c1", "bob"), reverse("c1"))
    then_refused(opportunity, reverse("c1"), ContributionAlreadyReversed)


@pytest.mark.parametrize("reason", ["", "   "])
def test_refuses_reversing_without_a_reason(reason: str) -> None:
    opportunity = given(*TEAM, record("c1", "bob"))
    then_refused(opportunity, reverse("c1", reason), InvalidInput, field="reason")


# -- win and lose --------------------------------------------------------------------------------

def test_winning_records_the_amount_and_close_date() -> None:
    opportunity = given(*TEAM, record("c1", "bob"), confirm("c1"))
    then(when(opportunity, win(120_000_000, on=TODAY - timedelta(days=1))),
         (Opportunity.Won, {"amount": 120_000_000,
                            "closed_on": (TODAY - timedelta(days=1)).isoformat(),
                            "actor": "alice"}))
    assert (opportunity.stage, opportunity.amount) == ("won", 120_000_000)


def test_refuses_winning_twice() -> None:
    opportunity = given(*TEAM, win())
    then_refused(opportunity, win(), OpportunityClosed)


def test_refuses_winning_with_a_close_date_in_the_future() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, win(on=TODAY + timedelta(days=1)), InvalidInput, field="closed_on")


def test_losing_records_the_reason() -> None:
    opportunity = given(*TEAM)
    then(when(opportunity, lose("went with a competitor")),
         (Opportunity.Lost, {"reason": "went with a competitor", "closed_on": TODAY.isoformat(),
                             "actor": "alice"}))
    assert opportunity.stage == "lost"


def test_refuses_losing_without_a_reason() -> None:
    opportunity = given(*TEAM)
    then_refused(opportunity, lose("  "), InvalidInput, field="reason")


CHANGES_AFTER_CLOSE = {
    "assign": assign("FR", "erin"),
    "support": support("erin"),
    "record": record("c9", "bob"),
    "confirm": confirm("c1"),
    "reverse": reverse("c1"),
    "win": win(),
    "lose": lose(),
}


REFUSED_AFTER_CLOSE = [  # a reversal after the win is a late fact the allocation follows (below)
    pytest.param(closing, change, id=f"{name}-{closed}")
    for closed, closing in (("won", win()), ("lost", lose()))
    for name, change in CHANGES_AFTER_CLOSE.items() if (name, closed) != ("reverse", "won")
]


@pytest.mark.parametrize(("closing", "change"), REFUSED_AFTER_CLOSE)
def test_refuses_every_change_after_the_deal_is_won_or_lost(closing: Command, change: Command) -> None:
    opportunity = given(*TEAM, record("c1", "bob"), closing)
    then_refused(opportunity, change, OpportunityClosed)


def test_a_contribution_is_reversed_after_the_win_as_a_late_fact() -> None:
    opportunity = given(*TEAM, record("c1", "bob"), win())
    then(when(opportunity, reverse("c1")), (Opportunity.ContributionReversed, {"contribution_id": "c1"}))


# -- members and policy books --------------------------------------------------------------------

def test_registering_a_member_records_name_and_department_under_a_stable_id() -> None:
    member = Member(member_id="bob", name="Bob Wu", department="presales", actor="admin")
    then(member.pending_events, (Member.Registered, {
        "member_id": "bob", "name": "Bob Wu", "department": "presales", "actor": "admin"}))
    assert member.id == Member.create_id("bob")


def given_book(*documents: dict) -> PolicyBook:
    """An incentive policy book rebuilt from the events of starting it and adding `documents`."""
    book = PolicyBook(kind="incentive", actor="system")
    for document in documents:
        book.add_version(document, "system")
    return replay(book.collect_events())


def test_a_policy_book_numbers_its_versions_and_hashes_each() -> None:
    book = given_book(DEFAULT_INCENTIVE_DOCUMENT)
    second = {**DEFAULT_INCENTIVE_DOCUMENT, "effective_from": "2026-07-01",
              "pool_rate_by_grade": {"A": "0.04", "B": "0.02", "C": "0.01"}}
    [added] = when(book, lambda b: b.add_version(second, "fiona"))
    assert type(added) is PolicyBook.VersionAdded
    assert added.actor == "fiona"
    assert added.document == IncentivePolicy.from_document(second, version=2).document()
    assert added.document["version"] == 2
    assert [p.version for p in book.versions()] == [1, 2]
    assert book.versions()[1].hash == IncentivePolicy.from_document(second, version=2).hash


def test_a_policy_book_refuses_an_invalid_version_and_records_nothing() -> None:
    book = given_book(DEFAULT_INCENTIVE_DOCUMENT)
    with pytest.raises(InvalidPolicy) as refusal:
        book.add_version({**DEFAULT_INCENTIVE_DOCUMENT, "holdback": "1"}, "fiona")
    assert refusal.value.field == "holdback"
    assert book.pending_events == []
    assert len(book.documents) == 1


# -- money ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("1250000", "JPY", 1_250_000),
    ("1250000.00", "CNY", 125_000_000),
    ("0.01", "CNY", 1),
    ("12.5", "CNY", 1250),
    ("1.234", "KWD", 1234),
    ("0.001", "KWD", 1),
    (7, "JPY", 7),
    (" 42 ", "CNY", 4200),
])
def test_parses_amounts_into_minor_units_by_the_currencys_decimals(text, currency, minor) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (1_250_000, "JPY", "1250000"),
    (125_000_000, "CNY", "1250000.00"),
    (5, "CNY", "0.05"),
    (-5, "CNY", "-0.05"),
    (1234, "KWD", "1.234"),
    (7, "KWD", "0.007"),
    (0, "CNY", "0.00"),
])
def test_formats_minor_units_with_the_currencys_decimals(minor, currency, text) -> None:
    assert format_amount(minor, currency) == text


@pytest.mark.parametrize("currency", ["JPY", "CNY", "KWD"])
def test_format_then_parse_gives_back_the_same_minor_units(currency: str) -> None:
    for minor in (1, 9, 10, 999, 1000, 123_456_789):
        assert parse_amount(format_amount(minor, currency), currency) == minor


@pytest.mark.parametrize(("value", "currency"), [
    ("-1", "CNY"), (-1, "JPY"),
    ("0", "JPY"), ("0.00", "CNY"), ("0.000", "KWD"), (0, "CNY"),
    ("abc", "CNY"), ("", "CNY"), ("1e3", "CNY"), ("1,000", "CNY"), ("1.", "CNY"), (".5", "CNY"),
    ("NaN", "CNY"), ("Infinity", "CNY"),
    (1.5, "CNY"), (None, "CNY"), (True, "JPY"), (Decimal("1.5"), "CNY"),
    ("1.5", "JPY"), ("1.234", "CNY"), ("1.2345", "KWD"), ("1.000", "CNY"),
])
def test_refuses_amounts_that_are_not_positive_decimals_in_the_currency(value, currency) -> None:
    with pytest.raises(InvalidAmount) as refusal:
        parse_amount(value, currency, field="amount")
    assert refusal.value.field == "amount"


@pytest.mark.parametrize("currency", ["XYZ", "cny", "RMB", "", "CNYY", None])
def test_refuses_currencies_that_are_not_iso_4217(currency) -> None:
    with pytest.raises(UnknownCurrency) as refusal:
        parse_amount("10", currency)
    assert refusal.value.field == "currency"
    with pytest.raises(UnknownCurrency):
        format_amount(10, currency)


@pytest.mark.parametrize("text", ["1234567890123456789012345678.99",
                                  "12345678901234567890123456789"])
def test_never_rounds_an_amount_silently(text: str) -> None:
    try:
        minor = parse_amount(text, "CNY")
    except InvalidAmount:
        return  # refusing an absurd amount is fine; changing it is not
    assert format_amount(minor, "CNY").removesuffix(".00") == text


def test_names_the_field_that_carries_a_bad_amount() -> None:
    with pytest.raises(InvalidAmount) as refusal:
        parse_amount("-3", "CNY", field="win.amount")
    assert refusal.value.field == "win.amount"


# -- incentive policy documents ------------------------------------------------------------------

def policy_document(**changes: Any) -> dict:
    return {**DEFAULT_INCENTIVE_DOCUMENT, **changes}


def test_the_default_policy_document_is_valid() -> None:
    policy = IncentivePolicy.from_document(DEFAULT_INCENTIVE_DOCUMENT, version=1)
    assert policy.role_shares == {"AR": Decimal("0.40"), "SR": Decimal("0.30"),
                                  "FR": Decimal("0.20"), "SUPPORT": Decimal("0.10")}
    assert policy.kind_weights["poc"] == 8
    assert policy.hash.startswith("sha256:")


def test_the_policy_hash_follows_the_content() -> None:
    one = IncentivePolicy.from_document(policy_document(), version=1)
    same = IncentivePolicy.from_document(policy_document(), version=1)
    other = IncentivePolicy.from_document(policy_document(member_cap="0.5"), version=1)
    assert one.hash == same.hash != other.hash


@pytest.mark.parametrize(("changes", "field"), [
    ({"role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.20"}}, "role_shares"),
    ({"role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20"}}, "role_shares"),
    ({"role_shares": {"AR": "1.2", "SR": "-0.2"}}, "role_shares.AR"),
    ({"role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10", "CEO": "0"}},
     "role_shares"),
    ({"role_shares": {"AR": 0.4, "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10"}}, "role_shares.AR"),
    ({"kind_weights": {"visit": -1}}, "kind_weights.visit"),
    ({"kind_weights": {"visit": 1.5}}, "kind_weights.visit"),
    ({"kind_weights": {}}, "kind_weights"),
    ({"kind_weights": {"Site Visit": 1}}, "kind_weights"),
    ({"kind_weights": {"visit": 1001}}, "kind_weights.visit"),
    ({"kind_weights": {"visit": 1, "poc": 10**18}}, "kind_weights.poc"),
    ({"kind_weights": {f"kind_{n}": 1 for n in range(101)}}, "kind_weights"),
    ({"pool_rate_by_grade": {"A": "1", "B": "0.02", "C": "0.01"}}, "pool_rate_by_grade.A"),
    ({"pool_rate_by_grade": {"A": "1.5", "B": "0.02", "C": "0.01"}}, "pool_rate_by_grade.A"),
    ({"pool_rate_by_grade": {"A": "0.03", "B": "-0.01", "C": "0.01"}}, "pool_rate_by_grade.B"),
    ({"pool_rate_by_grade": {"A": "0.03", "S": "0.05"}}, "pool_rate_by_grade"),
    ({"pool_rate_by_grade": {"A": "lots"}}, "pool_rate_by_grade.A"),
    ({"pool_rate_by_grade": {"A": "0.6", "B": "0.02", "C": "0.01"}}, "pool_rate_by_grade.A"),
    ({"pool_rate_by_grade": {"A": "0.03", "B": "0.500000000001", "C": "0.01"}}, "pool_rate_by_grade.B"),
    ({"member_cap": "0"}, "member_cap"),
    ({"member_cap": "1.01"}, "member_cap"),
    ({"holdback": "1"}, "holdback"),
    ({"holdback": "-0.1"}, "holdback"),
    ({"effective_from": "next monday"}, "effective_from"),
    ({"name": ""}, "name"),
    ({"name": "fy27\nrevised"}, "name"),
    ({"name": "fy27\u202e"}, "name"),
    ({"name": "fy\x1b[2J27"}, "name"),
    ({"role_shares": None}, "role_shares"),
])
def test_refuses_invalid_policy_documents_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(InvalidPolicy) as refusal:
        IncentivePolicy.from_document(policy_document(**changes), version=1)
    assert refusal.value.field == field


def test_accepts_the_edges_of_the_policy_ranges() -> None:
    policy = IncentivePolicy.from_document(policy_document(
        member_cap="1", holdback="0", pool_rate_by_grade={"A": "0", "B": "0.5", "C": "0.01"},
        role_shares={"AR": "1"}), version=3)
    assert (policy.member_cap, policy.holdback, policy.version) == (Decimal(1), Decimal(0), 3)
    assert policy.role_shares == {"AR": Decimal(1), "SR": 0, "FR": 0, "SUPPORT": 0}
    assert policy.pool_rate_by_grade["B"] == Decimal("0.5")


def test_accepts_a_hundred_kinds_weighted_from_0_to_1000_points() -> None:
    weights = {f"kind_{n:03d}": n * 10 for n in range(101)}
    del weights["kind_050"]
    policy = IncentivePolicy.from_document(policy_document(kind_weights=weights), version=1)
    assert len(policy.kind_weights) == 100
    assert (policy.kind_weights["kind_000"], policy.kind_weights["kind_100"]) == (0, 1000)


def test_a_kind_weight_over_1000_is_refused_as_a_typo() -> None:
    with pytest.raises(InvalidPolicy) as refusal:
        IncentivePolicy.from_document(policy_document(kind_weights={"visit": 1, "poc": 8000}), version=1)
    assert (refusal.value.field, refusal.value.detail) == ("kind_weights.poc",
                                                           "must be at most 1000 points, got 8000")


def test_a_stored_policy_version_reads_back_equal_without_being_validated_again() -> None:
    policy = IncentivePolicy.from_document({**DEFAULT_INCENTIVE_DOCUMENT, "member_cap": "0.35",
                                            "holdback": "0.2"}, version=3)
    assert IncentivePolicy.from_stored(policy.document()) == policy
    assert IncentivePolicy.from_stored(policy.document()).hash == policy.hash
