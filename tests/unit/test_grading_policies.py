"""Grading policies and the relationship standard as data: the documents themselves (every refusal
names its field; stored versions read back equal, with the same hash) and the grade functions by
hand (through the Application: test_grading_in_the_application.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import (
    InvalidPolicy,
)
from domain.grading import (
    DEFAULT_ACCOUNT_GRADING_DOCUMENT,
    DEFAULT_OPPORTUNITY_GRADING_DOCUMENT,
    AccountGradingPolicy,
    OpportunityGradingPolicy,
)
from domain.relationship import DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT, RelationshipStandard

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
EARLIER = (NOW - timedelta(days=5)).isoformat()


MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "erin": "presales"}

ACCOUNT = DEFAULT_ACCOUNT_GRADING_DOCUMENT
OPPORTUNITY = DEFAULT_OPPORTUNITY_GRADING_DOCUMENT
STANDARD = DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT
KINDS = {AccountGradingPolicy: ACCOUNT, OpportunityGradingPolicy: OPPORTUNITY,
         RelationshipStandard: STANDARD}
DELETE = object()


def changed(document: dict, *changes: tuple[tuple[str, ...], Any]) -> dict:
    """A deep copy of `document` with the value at each key path replaced (or removed by DELETE)."""
    result = copy.deepcopy(document)
    for path, value in changes:
        parent = result
        for key in path[:-1]:
            parent = parent[key]
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return result


def refused_document(policy: type, document: dict, field: str) -> InvalidPolicy:
    with pytest.raises(InvalidPolicy) as refusal:
        policy.from_document(document, version=1)
    assert type(refusal.value) is InvalidPolicy
    assert refusal.value.field == field
    return refusal.value


# -- account grading documents -------------------------------------------------------------------

ONE_CRITERION = {"fit": {"weight": "1", "levels": {"low": 0, "high": 100}}}


def criteria(count: int) -> dict:
    """`count` criteria of equal weight (count divides 1 exactly in 12 places: 100 or 101 is
    refused for the count before the weights are summed)."""
    return {f"c{n}": {"weight": str(Decimal(1) / 100), "levels": {"x": 100}} for n in range(count)}


def levels(count: int) -> dict:
    return {f"level_{n}": n % 101 for n in range(count)}


def bands(count: int) -> list:
    return [{"from": str(n), "score": n % 101} for n in range(count)]


@pytest.mark.parametrize(("changes", "field"), [
    # weights that do not add up
    ([(("criteria", "annual_potential", "weight"), "0.50")], "criteria"),
    ([(("criteria", "share_of_wallet"), DELETE)], "criteria"),
    ([(("criteria", "annual_potential", "weight"), "1.5")], "criteria.annual_potential.weight"),
    ([(("criteria", "annual_potential", "weight"), 0.4)], "criteria.annual_potential.weight"),
    ([(("criteria", "annual_potential", "weight"), True)], "criteria.annual_potential.weight"),
    ([(("criteria", "annual_potential", "weight"), "4e-1")], "criteria.annual_potential.weight"),
    ([(("criteria",), {})], "criteria"),
    ([(("criteria",), None)], "criteria"),
    ([(("criteria",), {"Annual Potential": ONE_CRITERION["fit"]})], "criteria"),
    # no more than 100 criteria, levels or bands, and bands within the money limit
    ([(("criteria",), criteria(101))], "criteria"),
    ([(("criteria", "strategic_fit", "levels"), levels(101))], "criteria.strategic_fit.levels"),
    ([(("criteria", "annual_potential", "bands"), bands(101))], "criteria.annual_potential.bands"),
    ([(("criteria", "annual_potential", "bands", 3, "from"), "1" + "0" * 15)],
     "criteria.annual_potential.bands[3].from"),
    ([(("criteria", "annual_potential", "bands", 3, "from"), "9" * 30)],
     "criteria.annual_potential.bands[3].from"),
    # bands that do not start at 0 or do not ascend
    ([(("criteria", "annual_potential", "bands", 0, "from"), "1")], "criteria.annual_potential.bands"),
    ([(("criteria", "annual_potential", "bands", 2, "from"), "1000000")],
     "criteria.annual_potential.bands"),
    ([(("criteria", "annual_potential", "bands", 2, "from"), "500000")],
     "criteria.annual_potential.bands"),
    ([(("criteria", "annual_potential", "bands", 1, "from"), 1000000.0)],
     "criteria.annual_potential.bands[1].from"),
    ([(("criteria", "annual_potential", "bands", 1, "from"), False)],
     "criteria.annual_potential.bands[1].from"),
    ([(("criteria", "annual_potential", "bands", 1, "from"), "-1")],
     "criteria.annual_potential.bands[1].from"),
    ([(("criteria", "annual_potential", "bands", 1, "score"), 40.0)],
     "criteria.annual_potential.bands[1].score"),
    ([(("criteria", "annual_potential", "bands", 1, "score"), 101)],
     "criteria.annual_potential.bands[1].score"),
    ([(("criteria", "annual_potential", "bands", 1, "score"), "40")],
     "criteria.annual_potential.bands[1].score"),
    ([(("criteria", "annual_potential", "bands"), [])], "criteria.annual_potential.bands"),
    ([(("criteria", "annual_potential", "bands", 1), {"from": "1000000"})],
     "criteria.annual_potential.bands[1]"),
    # a criterion needs exactly one of levels or bands, and levels score whole numbers
    ([(("criteria", "strategic_fit", "bands"), [{"from": "0", "score": 0}])], "criteria.strategic_fit"),
    ([(("criteria", "strategic_fit", "levels"), DELETE)], "criteria.strategic_fit"),
    ([(("criteria", "strategic_fit", "levels"), {})], "criteria.strategic_fit.levels"),
    ([(("criteria", "strategic_fit", "levels"), ["low", "high"])], "criteria.strategic_fit.levels"),
    ([(("criteria", "strategic_fit", "levels", "high"), 100.0)], "criteria.strategic_fit.levels.high"),
    ([(("criteria", "strategic_fit", "levels", "high"), True)], "criteria.strategic_fit.levels.high"),
    ([(("criteria", "strategic_fit", "levels", "high"), -1)], "criteria.strategic_fit.levels.high"),
    ([(("criteria", "strategic_fit", "levels", "Very High"), 100)], "criteria.strategic_fit.levels"),
    ([(("criteria", "strategic_fit", "cap"), 80)], "criteria.strategic_fit"),
    # grade thresholds: all four, whole numbers, strictly falling, C from 0
    ([(("grades", "A"), 85)], "grades"),
    ([(("grades", "B"), 70)], "grades"),
    ([(("grades", "C"), 10)], "grades.C"),
    ([(("grades", "S"), DELETE)], "grades"),
    ([(("grades", "S"), 85.0)], "grades.S"),
    ([(("grades", "S"), "85")], "grades.S"),
    ([(("grades", "A"), True)], "grades.A"),
    ([(("grades", "S"), 101)], "grades.S"),
    # the header
    ([(("effective_from",), "next monday")], "effective_from"),
    ([(("effective_from",), None)], "effective_from"),
    ([(("name",), "")], "name"),
    ([(("name",), 7)], "name"),
    ([(("name",), "fy27\nrevised")], "name"),
    ([(("name",), "\u202efy27")], "name"),
    ([(("name",), "fy27\x07")], "name"),
])
def test_refuses_an_account_grading_document_naming_the_field(changes, field) -> None:
    refused_document(AccountGradingPolicy, changed(ACCOUNT, *changes), field)


def test_refuses_an_account_grading_document_that_is_not_an_object() -> None:
    refused_document(AccountGradingPolicy, [ACCOUNT], "policy")  # type: ignore[arg-type]


def test_an_account_grading_document_with_weights_summing_to_exactly_one_is_accepted() -> None:
    policy = AccountGradingPolicy.from_document(changed(ACCOUNT, (("criteria",), {
        "a": {"weight": "0.333333333333", "levels": {"x": 100}},
        "b": {"weight": "0.333333333333", "levels": {"x": 100}},
        "c": {"weight": "0.333333333334", "levels": {"x": 100}}})), version=2)
    assert sum(c.weight for c in policy.criteria.values()) == 1
    assert policy.grade({"a": "x", "b": "x", "c": "x"}).score == "100.00"


def test_an_account_grading_document_at_the_limits_is_accepted() -> None:
    policy = AccountGradingPolicy.from_document(changed(
        ACCOUNT, (("criteria", "strategic_fit", "levels"), levels(100)),
        (("criteria", "annual_potential", "bands"), bands(99) + [
            {"from": "999999999999999.999999999999", "score": 100}])), version=2)
    assert len(policy.criteria["strategic_fit"].levels or {}) == 100
    assert policy.grade({"annual_potential": "999999999999999.999999999999"}).reasons[0] == (
        "annual_potential=999999999999999.999999999999: 100 x 0.40")
    assert len(AccountGradingPolicy.from_document(changed(ACCOUNT, (("criteria",), criteria(100))),
                                                  version=3).criteria) == 100


# -- opportunity grading documents ---------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field"), [
    # amount bands: a known currency, from 0, ascending, never a lower grade for a larger amount
    ([(("amount_bands", "XYZ"), [{"from": "0", "grade": "C"}])], "amount_bands.XYZ"),
    ([(("amount_bands", "RMB"), [{"from": "0", "grade": "C"}])], "amount_bands.RMB"),
    ([(("amount_bands", "CNY", 0, "from"), "100.00")], "amount_bands.CNY"),
    ([(("amount_bands", "CNY", 2, "from"), "1000000.00")], "amount_bands.CNY"),
    ([(("amount_bands", "CNY", 2, "from"), "999999.99")], "amount_bands.CNY"),
    ([(("amount_bands", "CNY", 1, "grade"), "A"), (("amount_bands", "CNY", 2, "grade"), "B")],
     "amount_bands.CNY"),
    ([(("amount_bands", "USD"), [{"from": "0", "grade": "B"}, {"from": "100.00", "grade": "C"}])],
     "amount_bands.USD"),
    ([(("amount_bands", "CNY", 1, "from"), "1000000.001")], "amount_bands.CNY[1].from"),
    ([(("amount_bands", "CNY", 1, "from"), 1000000.0)], "amount_bands.CNY[1].from"),
    ([(("amount_bands", "CNY", 1, "from"), True)], "amount_bands.CNY[1].from"),
    ([(("amount_bands", "CNY", 1, "from"), "-5")], "amount_bands.CNY[1].from"),
    ([(("amount_bands", "CNY", 1, "from"), "1" + "0" * 16)], "amount_bands.CNY[1].from"),
    ([(("amount_bands", "CNY", 1, "grade"), "S")], "amount_bands.CNY[1].grade"),
    ([(("amount_bands", "CNY", 1, "grade"), ["B"])], "amount_bands.CNY[1].grade"),
    ([(("amount_bands", "CNY", 1), {"from": "1000000.00"})], "amount_bands.CNY[1]"),
    ([(("amount_bands", "CNY"), [])], "amount_bands.CNY"),
    ([(("amount_bands", "CNY"), {"from": "0", "grade": "C"})], "amount_bands.CNY"),
    ([(("amount_bands",), None)], "amount_bands"),
    ([(("amount_bands", "CNY"), [{"from": str(n), "grade": "C"} for n in range(101)])],
     "amount_bands.CNY"),
    # strategic attributes: names, and 0, 1 or 2 whole steps
    ([(("strategic_attributes", "new_logo"), 1.0)], "strategic_attributes.new_logo"),
    ([(("strategic_attributes", "new_logo"), True)], "strategic_attributes.new_logo"),
    ([(("strategic_attributes", "new_logo"), "1")], "strategic_attributes.new_logo"),
    ([(("strategic_attributes", "new_logo"), 3)], "strategic_attributes.new_logo"),
    ([(("strategic_attributes", "New Logo"), 1)], "strategic_attributes"),
    ([(("strategic_attributes",), {f"flag_{n}": 1 for n in range(101)})], "strategic_attributes"),
    # required roles: for every grade, distinct triangle roles
    ([(("required_roles", "A"), ["AR", "SR", "SUPPORT"])], "required_roles.A"),
    ([(("required_roles", "B"), ["AR", "CEO"])], "required_roles.B"),
    ([(("required_roles", "C"), ["AR", "AR"])], "required_roles.C"),
    ([(("required_roles", "C"), "AR")], "required_roles.C"),
    ([(("required_roles", "C"), [{"role": "AR"}])], "required_roles.C"),
    ([(("required_roles", "A"), DELETE)], "required_roles"),
    ([(("required_roles", "S"), ["AR"])], "required_roles"),
])
def test_refuses_an_opportunity_grading_document_naming_the_field(changes, field) -> None:
    refused_document(OpportunityGradingPolicy, changed(OPPORTUNITY, *changes), field)


def test_required_roles_are_kept_in_triangle_order_whatever_order_they_are_given_in() -> None:
    policy = OpportunityGradingPolicy.from_document(
        changed(OPPORTUNITY, (("required_roles", "A"), ["FR", "AR", "SR"])), version=1)
    assert policy.required("A") == ("AR", "SR", "FR")


def test_an_opportunity_grading_document_at_the_limits_is_accepted() -> None:
    policy = OpportunityGradingPolicy.from_document(changed(
        OPPORTUNITY, (("amount_bands", "JPY"), [{"from": str(n), "grade": "C"} for n in range(99)] + [
            {"from": "999999999999999", "grade": "A"}]),
        (("strategic_attributes",), {f"flag_{n}": 1 for n in range(100)})), version=2)
    assert len(policy.amount_bands["JPY"]) == 100 and len(policy.strategic_attributes) == 100
    assert policy.grade(999999999999999, "JPY", {}).grade == "A"


# -- relationship standard documents -------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field"), [
    ([(("criteria", "coach_inside", "weight"), "0.25")], "criteria"),
    ([(("criteria", "coach_inside", "weight"), 0.15)], "criteria.coach_inside.weight"),
    ([(("criteria", "coach_inside", "bands"), [{"from": "0", "score": 0}])], "criteria.coach_inside"),
    ([(("criteria", "coach_inside", "levels", "active"), 100.0)], "criteria.coach_inside.levels.active"),
    ([(("criteria", "coach_inside", "levels", "active"), "100")], "criteria.coach_inside.levels.active"),
    # probabilities falling with the score
    ([(("win_probability", 2, "probability"), "0.10")], "win_probability"),
    ([(("win_probability", 4, "probability"), "0.59")], "win_probability"),
    # bands from 0, ascending, whole scores, probabilities as decimal strings in [0, 1]
    ([(("win_probability", 0, "from_score"), 5)], "win_probability"),
    ([(("win_probability", 2, "from_score"), 20)], "win_probability"),
    ([(("win_probability", 2, "from_score"), 10)], "win_probability"),
    ([(("win_probability", 1, "from_score"), 20.0)], "win_probability[1].from_score"),
    ([(("win_probability", 1, "from_score"), "20")], "win_probability[1].from_score"),
    ([(("win_probability", 1, "from_score"), True)], "win_probability[1].from_score"),
    ([(("win_probability", 1, "from_score"), 101)], "win_probability[1].from_score"),
    ([(("win_probability", 1, "probability"), 0.15)], "win_probability[1].probability"),
    ([(("win_probability", 1, "probability"), True)], "win_probability[1].probability"),
    ([(("win_probability", 4, "probability"), "1.5")], "win_probability[4].probability"),
    ([(("win_probability", 1, "probability"), "15%")], "win_probability[1].probability"),
    ([(("win_probability", 1), {"from_score": 20})], "win_probability[1]"),
    ([(("win_probability",), [])], "win_probability"),
    ([(("win_probability",), {"0": "0.05"})], "win_probability"),
    ([(("criteria",), criteria(101))], "criteria"),
    ([(("criteria", "coach_inside", "levels"), levels(101))], "criteria.coach_inside.levels"),
    ([(("name",), "v2\u2066")], "name"),
])
def test_refuses_a_relationship_standard_naming_the_field(changes, field) -> None:
    refused_document(RelationshipStandard, changed(STANDARD, *changes), field)


# -- every kind: stored versions and hashes ------------------------------------------------------

@pytest.mark.parametrize("policy", list(KINDS))
def test_a_stored_version_reads_back_equal_with_the_same_hash_and_document(policy: type) -> None:
    added = policy.from_document(KINDS[policy], version=4)
    stored = policy.from_stored(added.document())
    assert stored == added
    assert stored.hash == added.hash
    assert stored.document() == added.document()
    assert stored.reference() == {"name": "default", "version": 4, "hash": added.hash}


@pytest.mark.parametrize("policy", list(KINDS))
def test_the_hash_is_the_same_for_the_same_content_and_changes_with_it(policy: type) -> None:
    document = KINDS[policy]
    reordered = dict(reversed(list(copy.deepcopy(document).items())))
    one = policy.from_document(document, version=1)
    assert one.hash == policy.from_document(reordered, version=1).hash
    assert one.hash.startswith("sha256:") and len(one.hash) == len("sha256:") + 64
    assert one.hash != policy.from_document(document, version=2).hash
    assert one.hash != policy.from_document({**document, "name": "fy27"}, version=1).hash


def test_the_hash_of_the_default_account_grading_policy_never_drifts() -> None:
    """Recorded grades cite this hash: a change to the canonical document must be deliberate."""
    policy = AccountGradingPolicy.from_document(ACCOUNT, version=1)
    assert policy.hash == "sha256:d4071b122d3ae2033e803c59868fe1fc32064542bcdfbd6c3371503f2f2c503d"


def test_the_hash_of_the_default_opportunity_grading_policy_never_drifts() -> None:
    policy = OpportunityGradingPolicy.from_document(OPPORTUNITY, version=1)
    assert policy.hash == "sha256:7003b3be298dc582b56ddcc22efd13f0b6d64b6ee1d923fc982a64434802b5f8"


def test_the_stored_document_spells_amount_bands_in_both_decimal_and_minor_units() -> None:
    policy = OpportunityGradingPolicy.from_document(OPPORTUNITY, version=1)
    assert policy.document()["amount_bands"]["CNY"][1] == {
        "from": "1000000.00", "from_minor": 100_000_000, "grade": "B"}
    assert policy.amount_bands["CNY"] == ((0, "C"), (100_000_000, "B"), (300_000_000, "A"))


# -- the grade functions by hand -----------------------------------------------------------------

def test_an_account_scores_the_weighted_sum_of_its_criteria() -> None:
    policy = AccountGradingPolicy.from_document(ACCOUNT, version=1)
    grading = policy.grade({"annual_potential": "6000000", "strategic_fit": "high",
                            "relationship_depth": "trusted", "share_of_wallet": "0.3"})
    # 70 x 0.40 + 100 x 0.25 + 70 x 0.20 + 60 x 0.15 = 28 + 25 + 14 + 9 = 76, and A starts at 65
    assert (grading.grade, grading.score) == ("A", "76.00")


@pytest.mark.parametrize(("attributes", "grade", "score"), [
    ({"annual_potential": "20000000", "strategic_fit": "high", "relationship_depth": "partner",
      "share_of_wallet": "0.5"}, "S", "100.00"),
    # 40 x 0.40 + 50 x 0.25 + 30 x 0.20 + 60 x 0.15 = 16 + 12.5 + 6 + 9
    ({"annual_potential": "1000000", "strategic_fit": "medium", "relationship_depth": "contact",
      "share_of_wallet": "0.2"}, "B", "43.50"),
    # just below each band's lower bound: 0 x 0.40 + 0 + 0 + 20 x 0.15
    ({"annual_potential": "999999.99", "strategic_fit": "low", "relationship_depth": "none",
      "share_of_wallet": "0.19"}, "C", "3.00"),
    # a whole number reads as well as a decimal string: 100 x 0.40 + 25 + 70 x 0.20 + 20 x 0.15
    ({"annual_potential": 20000000, "strategic_fit": "high", "relationship_depth": "trusted",
      "share_of_wallet": "0"}, "A", "82.00"),
])
def test_account_grades_at_the_edges_of_the_bands(attributes, grade, score) -> None:
    grading = AccountGradingPolicy.from_document(ACCOUNT, version=1).grade(attributes)
    assert (grading.grade, grading.score) == (grade, score)


@pytest.mark.parametrize(("amount", "currency", "attributes", "grade"), [
    (99_999_999, "CNY", {}, "C"),
    (100_000_000, "CNY", {}, "B"),
    (299_999_999, "CNY", {}, "B"),
    (300_000_000, "CNY", {}, "A"),
    (1, "CNY", {"new_logo": True}, "B"),
    (1, "CNY", {"new_logo": True, "lighthouse": True}, "A"),
    (100_000_000, "CNY", {"new_logo": True, "lighthouse": True}, "A"),  # capped at A
    (300_000_000, "CNY", {"lighthouse": True}, "A"),
    (1, "CNY", {"new_logo": "true", "lighthouse": 1}, "C"),  # only JSON true raises a grade
    (10**12, "JPY", {}, "C"),  # no bands for the currency
    (10**12, "JPY", {"new_logo": True}, "B"),
])
def test_an_opportunity_grade_comes_from_its_amount_band_and_strategic_attributes(
        amount, currency, attributes, grade) -> None:
    policy = OpportunityGradingPolicy.from_document(OPPORTUNITY, version=1)
    grading = policy.grade(amount, currency, attributes)
    assert grading.grade == grade
    assert grading.required_roles == policy.required(grade)


def test_two_steps_from_c_reach_a_and_two_steps_from_b_stop_at_a() -> None:
    policy = OpportunityGradingPolicy.from_document(
        changed(OPPORTUNITY, (("strategic_attributes",), {"lighthouse": 2})), version=1)
    assert policy.grade(1, "CNY", {"lighthouse": True}).grade == "A"
    from_b = policy.grade(100_000_000, "CNY", {"lighthouse": True})
    assert from_b.grade == "A"
    assert from_b.reasons[-1] == "lighthouse: +2 (B -> A)"
