"""The allocation arithmetic (docs/policies.md): worked examples done by hand, then properties."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.allocation import (
    STATUSES,
    AllocationResult,
    CountedContribution,
    allocate,
    round_half_even,
    steps,
)
from domain.exceptions import InvalidAmount, InvalidInput, MemberNotFound
from domain.money import parse_amount
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT, GRADES, ROLES, IncentivePolicy

CLOSED_ON = date(2026, 3, 31)
BEFORE_CLOSE = date(2026, 3, 2)
AR_ONLY = {"AR": "1", "SR": "0", "FR": "0", "SUPPORT": "0"}

_ids = itertools.count(1)


def incentive_policy(**changes) -> IncentivePolicy:
    return IncentivePolicy.from_document({**DEFAULT_INCENTIVE_DOCUMENT, **changes}, version=1)


def work(member_id: str, role: str, kind: str, *, status: str = "confirmed",
         on: date = BEFORE_CLOSE) -> CountedContribution:
    n = next(_ids)
    return CountedContribution(contribution_id=f"c{n}", member_id=member_id, role=role, kind=kind,
                               occurred_on=on, status=status, event_id=f"e{n}", position=n)


def split(contributions, *, amount: int, grade: str = "A", policy: IncentivePolicy | None = None,
          closed_on: date = CLOSED_ON) -> AllocationResult:
    return allocate(amount=amount, grade=grade, closed_on=closed_on, contributions=contributions,
                    policy=policy or incentive_policy())


def amounts(result: AllocationResult) -> dict[str, int]:
    return {line.member_id: line.amount for line in result.lines}


# Worked examples, computed by hand in the comments.


def test_three_members_share_the_pool_by_role_and_points():
    # amount 1 000 000 (USD 10 000.00), grade A: pool = 1 000 000 × 0.03 = 30 000.
    # AR: alice visit 1 + demo 3 = 4, bob visit 1 -> P_AR = 5; SR: bob solution_design 5;
    # FR: carol delivery_plan 4; SUPPORT: carol support_delivered 3. All roles active, w = s.
    # alice = 30 000 × 0.40 × 4/5 = 9 600
    # bob   = 30 000 × 0.40 × 1/5 + 30 000 × 0.30 = 2 400 + 9 000 = 11 400
    # carol = 30 000 × 0.20 + 30 000 × 0.10 = 6 000 + 3 000 = 9 000
    result = split([
        work("alice", "AR", "visit"), work("alice", "AR", "demo"), work("bob", "AR", "visit"),
        work("bob", "SR", "solution_design"), work("carol", "FR", "delivery_plan"),
        work("carol", "SUPPORT", "support_delivered"),
    ], amount=1_000_000)

    assert result.pool == 30_000
    assert amounts(result) == {"alice": 9_600, "bob": 11_400, "carol": 9_000}
    assert result.unallocated == 0
    assert result.role_points == {"AR": 5, "SR": 5, "FR": 4, "SUPPORT": 3}
    bob = result.line("bob")
    assert bob.roles == ["AR", "SR"] and bob.points == {"AR": 1, "SR": 5} and bob.total_points == 6


def test_shares_of_inactive_roles_are_renormalised_over_the_active_ones():
    # amount 1 000 000, grade B: pool = 20 000. Only AR (alice visit 1) and SR (bob poc 8) have points,
    # so w_AR = 0.40 / 0.70 = 4/7 and w_SR = 0.30 / 0.70 = 3/7.
    # alice = 20 000 × 4/7 = 11 428 4/7, bob = 20 000 × 3/7 = 8 571 3/7.
    # Floors 11 428 + 8 571 = 19 999: one unit missing, alice has the larger remainder (4/7 > 3/7).
    result = split([work("alice", "AR", "visit"), work("bob", "SR", "poc")], amount=1_000_000, grade="B")

    assert result.active_weights == {"AR": Fraction(4, 7), "SR": Fraction(3, 7)}
    alice = result.line("alice")
    assert (alice.exact, alice.floor, alice.remainder, alice.rounding_unit) == (
        Fraction(80_000, 7), 11_428, Fraction(4, 7), 1)
    assert amounts(result) == {"alice": 11_429, "bob": 8_571}
    assert result.unallocated == 0


def test_whole_pool_is_unallocated_when_no_role_has_eligible_points():
    # amount 12 345, grade C: pool = round_half_even(123.45) = 123. Nothing is eligible, so the
    # 123 are one explicit unallocated amount and nobody gets a line.
    late = date(2026, 4, 1)
    contributions = [
        work("alice", "AR", "visit", status="recorded"),
        work("bob", "SR", "poc", status="reversed"),
        work("carol", "FR", "delivery_plan", on=late),
        work("dave", "SUPPORT", "coffee"),
    ]
    result = split(contributions, amount=12_345, grade="C")

    assert result.pool == 123
    assert result.lines == [] and result.counted == [] and result.active_weights == {}
    assert (result.unallocated, result.unallocated_exact) == (123, 123)
    assert [(e.contribution.member_id, e.reason) for e in result.excluded] == [
        ("alice", "not confirmed"), ("bob", "reversed"), ("carol", "after close"),
        ("dave", "kind has no weight")]


def test_whole_pool_is_unallocated_when_the_active_roles_have_no_share():
    # Only SR has points but the policy gives all to AR: Σ_active s = 0, so bob's line is 0
    # and the pool of 300 (10 000 × 0.03) is unallocated.
    result = split([work("bob", "SR", "poc")], amount=10_000, policy=incentive_policy(role_shares=AR_ONLY))

    assert amounts(result) == {"bob": 0}
    assert result.unallocated == 300


def test_excess_above_the_cap_is_spread_over_uncapped_members_until_stable():
    # pool 20 000 (1 000 000, grade B), one member per role: x = 8 000, 6 000, 4 000, 2 000.
    # cap 0.3 -> 6 000. Round 1: alice 8 000 -> 6 000, excess 2 000 over 12 000 of the others:
    #   bob 7 000, carol 4 666 2/3, dave 2 333 1/3.
    # Round 2: bob 7 000 -> 6 000, excess 1 000 over 7 000 of carol and dave:
    #   carol 5 333 1/3, dave 2 666 2/3. Nobody is above the cap: stable; sum 20 000.
    # Rounding: floors 6 000 + 6 000 + 5 333 + 2 666 = 19 999, dave's 2/3 beats carol's 1/3.
    result = split([
        work("alice", "AR", "visit"), work("bob", "SR", "poc"), work("carol", "FR", "demo"),
        work("dave", "SUPPORT", "support_delivered"),
    ], amount=1_000_000, grade="B", policy=incentive_policy(member_cap="0.3"))

    assert result.cap_amount == 6_000
    assert {line.member_id: line.capped for line in result.lines} == {
        "alice": 6_000, "bob": 6_000, "carol": Fraction(16_000, 3), "dave": Fraction(8_000, 3)}
    assert amounts(result) == {"alice": 6_000, "bob": 6_000, "carol": 5_333, "dave": 2_667}
    assert result.unallocated == 0


def test_what_the_cap_leaves_nobody_to_take_is_unallocated():
    # pool 20 000, alice 11 428 4/7 and bob 8 571 3/7 (as in the renormalisation example), cap 0.3
    # -> 6 000. alice is cut, her excess lifts bob to 14 000, he is cut too, and no uncapped member
    # is left: 20 000 − 2 × 6 000 = 8 000 unallocated.
    result = split([work("alice", "AR", "visit"), work("bob", "SR", "poc")], amount=1_000_000,
                   grade="B", policy=incentive_policy(member_cap="0.3"))

    assert amounts(result) == {"alice": 6_000, "bob": 6_000}
    assert (result.unallocated, result.unallocated_exact) == (8_000, 8_000)


def test_a_rounding_unit_that_would_pass_the_cap_goes_to_unallocated():
    # pool 10 (1 000 at rate 0.01), all to AR, three equal members: 10/3 each, under the cap
    # 0.35 × 10 = 3.5. Floors 3 + 3 + 3 = 9; the missing unit would take a line to 4 > 3.5.
    policy = incentive_policy(role_shares=AR_ONLY, member_cap="0.35",
                              pool_rate_by_grade={"A": "0.01", "B": "0", "C": "0"})
    result = split([work(m, "AR", "visit") for m in ("ann", "ben", "cat")], amount=1_000, policy=policy)

    assert amounts(result) == {"ann": 3, "ben": 3, "cat": 3}
    assert result.unallocated == 1 and result.unallocated_exact == 0


def test_rounding_ties_go_to_the_smaller_member_id_in_string_order():
    # pool 11 (1 100 at grade C), all to AR, two members with one visit each: 5 1/2 each.
    # Floors 5 + 5 = 10, one unit for two equal remainders: "m10" < "m9" as strings, so m10 wins.
    result = split([work("m9", "AR", "visit"), work("m10", "AR", "visit")], amount=1_100, grade="C",
                   policy=incentive_policy(role_shares=AR_ONLY))

    assert amounts(result) == {"m10": 6, "m9": 5}
    assert [line.member_id for line in result.lines] == ["m10", "m9"]


def test_holdback_keeps_part_of_each_line_rounded_half_even():
    # Renormalisation example (alice 11 429, bob 8 571) with holdback 0.2:
    # alice held = round_half_even(2 285.8) = 2 286, upfront 9 143;
    # bob held = round_half_even(1 714.2) = 1 714, upfront 6 857.
    result = split([work("alice", "AR", "visit"), work("bob", "SR", "poc")], amount=1_000_000,
                   grade="B", policy=incentive_policy(holdback="0.2"))

    assert [(line.amount, line.upfront, line.held) for line in result.lines] == [
        (11_429, 9_143, 2_286), (8_571, 6_857, 1_714)]


def test_holdback_of_an_exact_half_rounds_to_even():
    # Tie example (m10 6, m9 5) with holdback 0.5: 6 × 0.5 = 3; 5 × 0.5 = 2.5 -> 2 (even).
    result = split([work("m9", "AR", "visit"), work("m10", "AR", "visit")], amount=1_100, grade="C",
                   policy=incentive_policy(role_shares=AR_ONLY, holdback="0.5"))

    assert [(line.amount, line.upfront, line.held) for line in result.lines] == [(6, 3, 3), (5, 3, 2)]


def test_without_holdback_the_whole_line_is_upfront():
    result = split([work("alice", "AR", "visit")], amount=1_000_000)

    assert [(line.amount, line.upfront, line.held) for line in result.lines] == [(30_000, 30_000, 0)]


@pytest.mark.parametrize(("amount", "pool"), [(250, 2), (350, 4), (251, 3), (249, 2)])
def test_pool_rounds_half_to_even(amount, pool):
    # grade C, rate 0.01: 2.5 -> 2, 3.5 -> 4, 2.51 -> 3, 2.49 -> 2.
    assert split([], amount=amount, grade="C").pool == pool


@pytest.mark.parametrize(("value", "rounded"), [
    (Fraction(1, 2), 0), (Fraction(3, 2), 2), (Fraction(-1, 2), 0), (Fraction(-3, 2), -2),
    (Fraction(7, 3), 2), (Fraction(8, 3), 3), (Fraction(5), 5)])
def test_round_half_even_rounds_to_nearest_and_halves_to_even(value, rounded):
    assert round_half_even(value) == rounded


@pytest.mark.parametrize(("currency", "text", "grade", "pool"), [
    ("JPY", "12345679", "A", 370_370),       # 0 decimals: ¥12 345 679 × 0.03 = 370 370.37 -> ¥370 370
    ("CNY", "1000000.05", "A", 3_000_000),   # 2 decimals: 100 000 005 fen × 0.03 = 3 000 000.15 fen
    ("KWD", "1234.567", "B", 24_691),        # 3 decimals: 1 234 567 fils × 0.02 = 24 691.34 fils
    ("KWD", "1.250", "B", 25),               # 1 250 fils × 0.02 = 25 fils
    ("JPY", "50", "C", 0),                   # ¥50 × 0.01 = 0.5 -> 0 (half to even)
])
def test_the_arithmetic_works_on_minor_units_of_any_currency(currency, text, grade, pool):
    contributions = [work("alice", "AR", "visit"), work("bob", "SR", "poc"), work("carol", "FR", "demo")]
    result = split(contributions, amount=parse_amount(text, currency), grade=grade)

    assert result.pool == pool
    assert sum(amounts(result).values()) + result.unallocated == pool


def test_a_contribution_after_the_close_date_earns_nothing_but_one_on_that_day_counts():
    on_close = work("alice", "AR", "visit", on=CLOSED_ON)
    after = work("bob", "AR", "poc", on=CLOSED_ON + timedelta(days=1))
    result = split([on_close, after], amount=1_000_000)

    assert result.counted == [on_close]
    assert amounts(result) == {"alice": 30_000}


def test_a_member_whose_only_points_are_in_a_role_without_share_gets_a_zero_line():
    # AR-only shares; bob has SR points, so SR is active with w_SR = 0: bob's line is 0.
    result = split([work("alice", "AR", "visit"), work("bob", "SR", "poc")], amount=10_000,
                   policy=incentive_policy(role_shares=AR_ONLY))

    assert amounts(result) == {"alice": 300, "bob": 0}


def test_refuses_a_negative_amount():
    with pytest.raises(InvalidAmount):
        split([], amount=-1)


def test_refuses_an_unknown_grade():
    with pytest.raises(InvalidInput) as refused:
        split([], amount=100, grade="S")
    assert refused.value.field == "grade"


def test_refuses_the_same_contribution_twice():
    visit = work("alice", "AR", "visit")
    with pytest.raises(InvalidInput) as refused:
        split([visit, visit], amount=100)
    assert refused.value.field == "contributions"


def test_refuses_an_unknown_role():
    with pytest.raises(InvalidInput) as refused:
        split([replace(work("alice", "AR", "visit"), role="CEO")], amount=100)
    assert refused.value.field == "role"


# Explain.


def test_steps_let_anyone_redo_one_members_line_by_hand():
    result = split([work("alice", "AR", "visit"), work("bob", "SR", "poc")], amount=1_000_000, grade="B",
                   policy=incentive_policy(member_cap="0.75", holdback="0.2"))

    alice = steps(result, "alice")

    assert [s["step"] for s in alice] == list(range(1, 8))
    assert [s["name"] for s in alice] == [
        "pool", "eligible points", "active roles", "member share per role", "member cap", "rounding",
        "holdback"]
    values = {s["name"]: s["value"] for s in alice}
    assert values["pool"] == "20000"
    assert values["active roles"] == "w_AR = 4/7, w_SR = 3/7"
    assert values["member share per role"] == "80000/7"
    assert values["rounding"] == "11429"
    assert values["holdback"] == "upfront 9143, held 2286"
    assert "20000 × 4/7 × 1/1 = 80000/7" in alice[3]["formula"]
    assert all("." not in s["value"] for s in alice)


def test_steps_leave_out_the_cap_when_the_policy_has_none():
    result = split([work("alice", "AR", "visit")], amount=1_000)

    assert "member cap" not in [s["name"] for s in steps(result, "alice")]


def test_steps_refuse_a_member_without_a_line():
    result = split([work("alice", "AR", "visit", status="recorded")], amount=1_000)

    with pytest.raises(MemberNotFound):
        steps(result, "alice")


def test_as_dict_is_json_with_exact_numbers_and_no_floats():
    result = split([work("alice", "AR", "visit"), work("bob", "SR", "poc"), work("carol", "FR", "coffee")],
                   amount=1_000_000, grade="B", policy=incentive_policy(member_cap="0.5", holdback="0.2"))

    doc = result.as_dict()

    assert json.loads(json.dumps(doc)) == doc
    assert not any(isinstance(v, float) for v in _leaves(doc))
    assert doc["policy"] == incentive_policy(member_cap="0.5", holdback="0.2").reference()
    assert doc["active_weights"] == {"AR": "4/7", "SR": "3/7"}
    assert doc["cap_amount"] == 10_000 and doc["member_cap"] == "0.5" and doc["rate"] == "0.02"
    assert doc["lines"][0]["exact"] == "80000/7" and doc["lines"][0]["capped"] == 10_000
    assert doc["lines"][0]["contributions"][0]["points"] == 1
    assert doc["excluded"][0]["reason"] == "kind has no weight"
    assert sum(line["amount"] for line in doc["lines"]) + doc["unallocated"] == doc["pool"]


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


# Properties.

KINDS = ("visit", "demo", "poc", "bid_document", "coffee")
MEMBER_IDS = ("m1", "m10", "m2", "alice", "bob", "Zed")


def _decimal(units: int, places: int) -> str:
    return str(Decimal(units).scaleb(-places))


@st.composite
def role_shares(draw) -> dict[str, str]:
    places = draw(st.integers(0, 3))
    whole = 10**places
    cuts = sorted(draw(st.lists(st.integers(0, whole), min_size=3, max_size=3)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, whole])]
    return {role: _decimal(part, places) for role, part in zip(ROLES, parts)}


CAPS = st.integers(1, 100).map(lambda n: _decimal(n, 2))


@st.composite
def policies(draw, caps=st.none() | CAPS) -> IncentivePolicy:
    return IncentivePolicy.from_document({
        "name": "generated",
        "effective_from": "2000-01-01",
        "pool_rate_by_grade": {g: _decimal(draw(st.integers(0, 50_000)), 5) for g in GRADES},
        "role_shares": draw(role_shares()),
        "kind_weights": draw(st.dictionaries(st.sampled_from(KINDS[:4]), st.integers(0, 9), min_size=1)),
        "member_cap": draw(caps),
        "holdback": draw(st.none() | st.integers(0, 99).map(lambda n: _decimal(n, 2))),
    }, version=1)


def _contribution(i: int, member_id: str, role: str, kind: str, days: int, status: str,
                  known_position: bool) -> CountedContribution:
    return CountedContribution(contribution_id=f"c{i}", member_id=member_id, role=role, kind=kind,
                               occurred_on=CLOSED_ON + timedelta(days=days), status=status,
                               event_id=f"e{i}", position=i if known_position else None)


@st.composite
def deals(draw, caps=st.none() | CAPS) -> dict:
    members = draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True))
    work_done = draw(st.lists(st.tuples(
        st.sampled_from(members), st.sampled_from(ROLES), st.sampled_from(KINDS), st.integers(-2, 1),
        st.sampled_from(("confirmed", "confirmed", *STATUSES)), st.booleans(),
    ), max_size=12))
    return {
        "amount": draw(st.integers(1, 10**13)),
        "grade": draw(st.sampled_from(GRADES)),
        "closed_on": CLOSED_ON,
        "contributions": [_contribution(i, *done) for i, done in enumerate(work_done)],
        "policy": draw(policies(caps)),
    }


@given(deals())
def test_lines_and_unallocated_always_sum_to_the_pool(deal):
    result = allocate(**deal)

    assert sum(line.amount for line in result.lines) + result.unallocated == result.pool
    assert result.unallocated >= 0
    for line in result.lines:
        assert line.amount >= 0 and line.upfront >= 0 and line.held >= 0
        assert line.upfront + line.held == line.amount
        assert line.floor <= line.amount <= line.floor + 1


@given(deals(), st.data())
def test_the_same_contributions_in_any_order_give_the_same_allocation(deal, data):
    shuffled = data.draw(st.permutations(deal["contributions"]))

    assert allocate(**{**deal, "contributions": shuffled}) == allocate(**deal)


@given(deals())
def test_a_member_gets_a_line_exactly_when_they_have_eligible_points(deal):
    weights = deal["policy"].kind_weights
    eligible_points = {m: 0 for m in MEMBER_IDS}
    for c in deal["contributions"]:
        if c.status == "confirmed" and c.occurred_on <= deal["closed_on"]:
            eligible_points[c.member_id] += weights.get(c.kind, 0)

    result = allocate(**deal)

    assert [line.member_id for line in result.lines] == sorted(m for m, p in eligible_points.items() if p > 0)


@given(deals(), st.data())
def test_reversing_a_contribution_never_raises_its_members_exact_amount(deal, data):
    contributions = deal["contributions"]
    if not contributions:
        return
    index = data.draw(st.integers(0, len(contributions) - 1))
    member_id = contributions[index].member_id
    reversed_ = [*contributions]
    reversed_[index] = replace(contributions[index], status="reversed")

    before = allocate(**deal).line(member_id)
    after = allocate(**{**deal, "contributions": reversed_}).line(member_id)

    capped_before = before.capped if before else Fraction(0)
    capped_after = after.capped if after else Fraction(0)
    amount_before = before.amount if before else 0
    amount_after = after.amount if after else 0
    assert capped_after <= capped_before
    # Largest remainder is not monotone (others' remainders move too), so only this band holds.
    assert math.floor(capped_after) <= amount_after <= math.ceil(capped_after)
    assert amount_after <= amount_before + 1


@given(deals(caps=CAPS))
def test_no_line_ever_exceeds_the_member_cap(deal):
    result = allocate(**deal)

    cap_amount = Fraction(deal["policy"].member_cap) * result.pool
    assert result.cap_amount == cap_amount
    for line in result.lines:
        assert line.capped <= cap_amount
        assert line.amount <= cap_amount


@given(deals())
def test_exact_amounts_before_the_cap_split_the_whole_pool_when_a_role_is_active(deal):
    result = allocate(**deal)

    total = sum((line.exact for line in result.lines), Fraction(0))
    assert total == (result.pool if result.active_weights else 0)
    assert sum((line.capped for line in result.lines), Fraction(0)) + result.unallocated_exact == result.pool


def test_explain_says_a_line_exactly_at_the_cap_stays_there() -> None:
    policy = IncentivePolicy.from_document({**DEFAULT_INCENTIVE_DOCUMENT, "member_cap": "0.40"},
                                           version=1)
    work = [CountedContribution(f"c{n}", member, role, "visit", date(2026, 1, 5), "confirmed")
            for n, (member, role) in enumerate([("ana", "AR"), ("sam", "SR"), ("fay", "FR"),
                                                ("fin", "SUPPORT")])]
    result = allocate(amount=100_000, grade="A", closed_on=date(2026, 1, 31), contributions=work,
                      policy=policy)
    [cap] = [step for step in steps(result, "ana") if step["name"] == "member cap"]
    assert "exactly the cap" in cap["formula"] and cap["value"] == "1200"
