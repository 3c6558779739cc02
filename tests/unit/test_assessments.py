"""One relationship standard: answers -> score 0-100 -> win probability, by a versioned standard
that every assessment keeps; and the calibration arithmetic that sets those probabilities against
outcomes (property tests: the sums are exact and do not depend on order).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import calibration
from domain.aggregates import Opportunity
from domain.application import Actor, Goldsplit
from domain.exceptions import InvalidInput, NotAllowed, OpportunityClosed, OpportunityNotFound
from domain.relationship import DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT, RelationshipStandard
from tests.builders import open_deal, seat_triangle
from tests.ledger import ALICE, BOB, DAVE, ERIN, FINANCE, LEAD, head, refused

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


MEMBERS = {"alice": "sales", "bob": "presales", "dave": "commercial", "erin": "presales"}

# 80 x 0.25 + 50 x 0.15 + 100 x 0.15 + 50 x 0.15 + 50 x 0.15 + 40 x 0.15
#   = 20 + 7.5 + 15 + 7.5 + 7.5 + 6 = 63.5 -> 64 (half to even) -> the band from 60: 0.60
AFTER_POC = {"decision_maker_stance": "supportive", "coach_inside": "informal",
             "budget_confirmed": "approved", "technical_preference": "open",
             "competitive_position": "even", "executive_relationship": "met"}
EARLY = {"decision_maker_stance": "unknown", "coach_inside": "none", "budget_confirmed": "unknown",
         "technical_preference": "open", "competitive_position": "behind",
         "executive_relationship": "none"}  # 5 + 0 + 0 + 7.5 + 0 + 0 = 12.5 -> 12: 0.05


# -- the standard by hand ------------------------------------------------------------------------

def standard() -> RelationshipStandard:
    return RelationshipStandard.from_document(DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT, version=1)


@pytest.mark.parametrize(("changes", "score", "probability"), [
    ({}, 64, "0.60"),
    # 20 + 7.5 + 15 + 7.5 + 0 + 70 x 0.15 = 60.5 -> 60 (half to even, down this time): 0.60
    ({"competitive_position": "behind", "executive_relationship": "regular"}, 60, "0.60"),
    # 20 + 7.5 + 15 + 7.5 + 0 + 6 = 56: the band from 40
    ({"competitive_position": "behind"}, 56, "0.35"),
    ({"decision_maker_stance": "champion", "coach_inside": "active", "technical_preference": "ours",
      "competitive_position": "ahead", "executive_relationship": "trusted"}, 100, "0.85"),
    # 0 + 0 + 0 + 0 + 0 + 6 = 6
    ({"decision_maker_stance": "opposed", "coach_inside": "none", "budget_confirmed": "unknown",
      "technical_preference": "competitor", "competitive_position": "behind"}, 6, "0.05"),
    # 5 + 7.5 + 7.5 + 7.5 + 7.5 + 0 = 35: the band from 20
    ({"decision_maker_stance": "unknown", "budget_confirmed": "estimated",
      "executive_relationship": "none"}, 35, "0.15"),
    # 10 + 0 + 0 + 0 + 0 + 10.5 = 20.5 -> 20: exactly the lower bound of its band
    ({"decision_maker_stance": "neutral", "coach_inside": "none", "budget_confirmed": "unknown",
      "technical_preference": "competitor", "competitive_position": "behind",
      "executive_relationship": "regular"}, 20, "0.15"),
])
def test_the_score_and_probability_of_a_set_of_answers_by_hand(changes, score, probability) -> None:
    assessed = standard().assess({**AFTER_POC, **changes})
    assert (assessed.score, assessed.win_probability) == (score, Decimal(probability))


def test_the_assessment_keeps_each_criterions_score() -> None:
    assert dict(standard().assess(AFTER_POC).scores) == {
        "decision_maker_stance": 80, "coach_inside": 50, "budget_confirmed": 100,
        "technical_preference": 50, "competitive_position": 50, "executive_relationship": 40}


@pytest.mark.parametrize(("answers", "field"), [
    ({**AFTER_POC, "gut_feeling": "good"}, "answers.gut_feeling"),
    ({**AFTER_POC, "coach_inside": "very active"}, "answers.coach_inside"),
    ({**AFTER_POC, "coach_inside": "ACTIVE"}, "answers.coach_inside"),
    ({**AFTER_POC, "coach_inside": 100}, "answers.coach_inside"),
    ({**AFTER_POC, "coach_inside": None}, "answers.coach_inside"),
    ({**AFTER_POC, "coach_inside": ["active"]}, "answers.coach_inside"),
    ({k: v for k, v in AFTER_POC.items() if k != "budget_confirmed"}, "answers.budget_confirmed"),
    ({}, "answers.decision_maker_stance"),
    (["supportive"], "answers"),
    ("supportive", "answers"),
    (None, "answers"),
])
def test_refuses_answers_outside_the_standard_naming_the_criterion(answers: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        standard().assess(answers)
    assert refusal.value.field == field


# -- assessing through the Application -----------------------------------------------------------

def deal(app: Goldsplit) -> str:
    """alice opened it (the AR); bob is SR and dave supports."""
    oid = open_deal(app, ALICE)
    seat_triangle(app, oid, ALICE, SR="bob", supporters=["dave"])
    return oid


def assessed_events(app: Goldsplit, oid: str) -> list[Any]:
    return [e for e in app.repository.event_store.get(UUID(oid)) if isinstance(e, Opportunity.Assessed)]


def test_an_assessment_records_answers_score_probability_and_the_standard_version(app: Goldsplit) -> None:
    oid = deal(app)
    recorded = app.assess(BOB, oid, AFTER_POC)
    assert (recorded.score, recorded.win_probability, recorded.standard_version) == (64, "0.60", 1)
    assert recorded.position == head(app)
    [event] = assessed_events(app, oid)
    assert (event.assessment_id, event.answers, event.score, event.win_probability, event.actor) == (
        recorded.id, AFTER_POC, 64, "0.60", "bob")
    assert event.scores["budget_confirmed"] == 100
    assert event.standard == app.policies("relationship-standard")[0].reference()


@pytest.mark.parametrize(("answers", "field"), [
    ({**AFTER_POC, "gut_feeling": "good"}, "answers.gut_feeling"),
    ({**AFTER_POC, "competitive_position": "miles ahead"}, "answers.competitive_position"),
    ({k: v for k, v in AFTER_POC.items() if k != "coach_inside"}, "answers.coach_inside"),
    ([], "answers"),
])
def test_refuses_an_assessment_outside_the_standard_and_records_nothing(
        app: Goldsplit, answers: Any, field: str) -> None:
    oid = deal(app)
    refused(app, InvalidInput, app.assess, BOB, oid, answers, field=field)
    assert assessed_events(app, oid) == []


def test_an_assessment_keeps_its_standard_version_after_a_new_version_is_added(app: Goldsplit) -> None:
    oid = deal(app)
    first = app.assess(ALICE, oid, AFTER_POC)
    app.add_policy(FINANCE, "relationship-standard", {
        **DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT, "name": "stricter", "effective_from": "2026-03-01",
        "win_probability": [{"from_score": 0, "probability": "0.02"},
                            {"from_score": 50, "probability": "0.40"},
                            {"from_score": 75, "probability": "0.80"}]})
    second = app.assess(ALICE, oid, AFTER_POC)
    assert (first.standard_version, second.standard_version) == (1, 2)
    assert (first.win_probability, second.win_probability) == ("0.60", "0.40")
    v1, v2 = app.policies("relationship-standard")
    assert [(e.standard, e.win_probability) for e in assessed_events(app, oid)] == [
        (v1.reference(), "0.60"), (v2.reference(), "0.40")]
    assert [a["standard"]["version"] for a in app.repository.get(UUID(oid)).assessments] == [1, 2]


def test_a_standard_version_effective_later_does_not_apply_today(app: Goldsplit) -> None:
    oid = deal(app)
    app.add_policy(FINANCE, "relationship-standard", {
        **DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT, "effective_from": (TODAY + timedelta(days=1)).isoformat(),
        "win_probability": [{"from_score": 0, "probability": "0.5"}]})
    assert app.assess(ALICE, oid, AFTER_POC).standard_version == 1


def test_assessments_move_the_probability_and_the_opportunity_keeps_them_in_order(app: Goldsplit) -> None:
    oid = deal(app)
    app.assess(ALICE, oid, EARLY)
    app.assess(BOB, oid, AFTER_POC)
    assert [(a["score"], a["win_probability"]) for a in app.repository.get(UUID(oid)).assessments] == [
        (12, "0.05"), (64, "0.60")]


@pytest.mark.parametrize("assessor", [ALICE, BOB, DAVE, LEAD], ids=["ar", "sr", "supporter", "lead"])
def test_the_opportunitys_team_or_a_lead_assesses(app: Goldsplit, assessor: Actor) -> None:
    oid = deal(app)
    app.assess(assessor, oid, AFTER_POC)
    [event] = assessed_events(app, oid)
    assert event.actor == assessor.member_id


def test_refuses_an_assessment_by_someone_not_on_the_opportunity(app: Goldsplit) -> None:
    oid = deal(app)
    refused(app, OpportunityNotFound, app.assess, ERIN, oid, AFTER_POC, field="opportunity_id")
    app.assign_triangle_role(ALICE, oid, "SR", "erin")  # bob hands over and is off the deal
    refused(app, NotAllowed, app.assess, BOB, oid, AFTER_POC)
    app.assess(ERIN, oid, AFTER_POC)
    assert len(assessed_events(app, oid)) == 1


def test_refuses_assessing_a_closed_opportunity(app: Goldsplit) -> None:
    oid = deal(app)
    app.lose(ALICE, oid, reason="went with a competitor", closed_on=TODAY.isoformat())
    refused(app, OpportunityClosed, app.assess, ALICE, oid, AFTER_POC)


def test_a_retried_assessment_with_the_same_id_is_recorded_once(app: Goldsplit) -> None:
    oid = deal(app)
    aid = uuid5(UUID(int=0), "assessment-1")
    first = app.assess(ALICE, oid, AFTER_POC, assessment_id=aid)
    again = app.assess(ALICE, oid, AFTER_POC, assessment_id=aid)
    assert (first.id, again.id, again.position) == (str(aid), str(aid), first.position)
    assert len(assessed_events(app, oid)) == 1


# -- calibration arithmetic ----------------------------------------------------------------------

def probabilities(max_places: int = 12) -> st.SearchStrategy[Decimal]:
    """Probabilities as a standard spells them: decimals in [0, 1] with up to 12 places."""
    return st.integers(0, max_places).flatmap(
        lambda places: st.decimals(min_value=0, max_value=1, places=places))


OUTCOMES = st.lists(st.tuples(probabilities(), st.booleans()), max_size=60)


def summed(outcomes: list[tuple[Decimal, bool]]) -> dict:
    sums = calibration.empty()
    for probability, won in outcomes:
        calibration.add(sums, probability, won)
    return sums


def four_places(value: Fraction) -> str:
    """Rounded half to even at four places, computed with Fractions only."""
    return str(Decimal(round(value * 10_000)) / 10_000)  # Decimal division of an exact ratio


@given(OUTCOMES)
def test_the_brier_score_is_the_mean_squared_error_computed_directly(outcomes) -> None:
    sums = summed(outcomes)
    exact = sum((Fraction(p) - int(won)) ** 2 for p, won in outcomes)
    assert Fraction(Decimal(sums["squared_error"])) == exact
    brier = calibration.summary("all", sums)["brier"]
    if not outcomes:
        assert brier is None
    else:
        assert Decimal(brier) == Decimal(four_places(exact / len(outcomes)))


@given(OUTCOMES)
def test_the_bin_counts_sum_to_the_count_and_the_bins_sum_the_predictions(outcomes) -> None:
    sums = summed(outcomes)
    assert sums["count"] == len(outcomes)
    assert sum(cell["count"] for cell in sums["bins"]) == len(outcomes)
    assert sum(Fraction(Decimal(cell["predicted"])) for cell in sums["bins"]) == sum(
        Fraction(p) for p, _ in outcomes)
    assert sum(cell["wins"] for cell in sums["bins"]) == sum(won for _, won in outcomes)


@given(probabilities(), st.booleans())
def test_every_probability_lands_in_exactly_one_bin_whose_range_holds_it(probability, won) -> None:
    table = calibration.summary("all", calibration.add(calibration.empty(), probability, won))["bins"]
    [hit] = [b for b in table if b["count"]]
    assert hit["count"] == 1
    low, high = Decimal(hit["from"]), Decimal(hit["to"])
    assert low <= probability < high or probability == high == 1
    assert Decimal(hit["predicted"]) == probability.quantize(Decimal("0.0001"))
    assert hit["observed"] == ("1.0000" if won else "0.0000")


@pytest.mark.parametrize(("probability", "index"), [
    ("0", 0), ("0.099999999999", 0), ("0.1", 1), ("0.35", 3), ("0.9", 9), ("0.999", 9),
    ("1", 9), ("1.0", 9), ("1.000000000000", 9)])
def test_bins_are_closed_below_open_above_and_one_lands_in_the_last(probability, index) -> None:
    assert calibration.bin_of(Decimal(probability)) == index
    sums = calibration.add(calibration.empty(), Decimal(probability), True)
    assert [i for i, cell in enumerate(sums["bins"]) if cell["count"]] == [index]


@given(OUTCOMES, st.randoms(use_true_random=False))
def test_adding_outcomes_in_any_order_gives_the_same_sums(outcomes, rng: random.Random) -> None:
    shuffled = list(outcomes)
    rng.shuffle(shuffled)
    assert summed(shuffled) == summed(outcomes)


@given(OUTCOMES, OUTCOMES)
def test_adding_a_group_one_outcome_at_a_time_after_another_gives_the_sums_of_both(first, second) -> None:
    sums = summed(first)
    for probability, won in second:
        calibration.add(sums, probability, won)
    assert sums == summed(first + second)


def test_a_coin_toss_scores_a_quarter_and_a_perfect_forecast_zero() -> None:
    coin = summed([(Decimal("0.5"), True), (Decimal("0.5"), False)])
    assert calibration.summary("all", coin)["brier"] == "0.2500"
    perfect = summed([(Decimal("1"), True), (Decimal("0"), False)])
    summary = calibration.summary("all", perfect)
    assert summary["brier"] == "0.0000"
    assert [(b["from"], b["count"], b["observed"]) for b in summary["bins"] if b["count"]] == [
        ("0", 1, "0.0000"), ("0.9", 1, "1.0000")]
    assert summary["bins"][-1]["to"] == "1"
