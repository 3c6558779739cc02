"""The policy documents' schemas (api/policy_documents.py) say what the domain accepts: each pattern
matches exactly the strings the domain takes, every default document and example is valid, a
valid document reaches the domain as it was posted, and a refusal is the domain's, naming the
field its way."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.policy_documents import (
    ABOVE_0_TO_1,
    BAND_START,
    FROM_0_BELOW_1,
    FROM_0_TO_1,
    FROM_0_TO_HALF,
    POLICY_DOCUMENTS,
    POLICY_NAME,
)
from domain.aggregates import DEFAULT_POLICY_DOCUMENTS
from domain.exceptions import InvalidInput, InvalidPolicy
from domain.money import MAX_WHOLE_DIGITS
from domain.policy import MAX_PLACES, MAX_POOL_RATE, fraction_field, header
from domain.values import plain_decimal


def matches(pattern: str, value: str) -> bool:
    """As JSON Schema reads `pattern`: its final $ ends the string (Python's $ also matches before
    a final newline)."""
    assert pattern.endswith("$")
    return re.search(pattern[:-1] + r"\Z", value) is not None


def accepted(check, value: str) -> bool:  # noqa: ANN001
    try:
        check(value)
    except InvalidInput:
        return False
    return True


def band_start(value: str) -> None:
    """What domain/scoring.py takes as a band's `from` (a string)."""
    if plain_decimal(value, "from", places=MAX_PLACES) >= 10**MAX_WHOLE_DIGITS:
        raise InvalidInput("too large", field="from")


ZERO, ONE = Decimal(0), Decimal(1)
FRACTIONS = {
    "from 0 to 1": (FROM_0_TO_1, lambda v: fraction_field(v, "f", low=ZERO, high=ONE)),
    "from 0 to 0.5": (FROM_0_TO_HALF, lambda v: fraction_field(v, "f", low=ZERO, high=MAX_POOL_RATE)),
    "above 0 to 1": (ABOVE_0_TO_1, lambda v: fraction_field(v, "f", low=ZERO, high=ONE, low_open=True)),
    "from 0 below 1": (FROM_0_BELOW_1, lambda v: fraction_field(v, "f", low=ZERO, high=ONE, high_open=True)),
    "a band's start": (BAND_START, band_start),
}
EDGES = ["0", "1", "0.5", "0.50", "0.500000000000", "0.5000000000001", "0.4999999999999", "0.49", "0.51",
         "00.5", "1.0", "1.000000000000", "1.0000000000000", "1.01", "01", "0.000000000001",
         "0.0000000000001", "0.000000000000", "10", "2", ".5", "0.", "-0", "+0.1", "1e-3", " 0.3 ",
         "\t0.3\n", "0 .3", "", " ", "0.3\n", "999999999999999", "1000000000000000",
         "000000000000000999999999999999.5", "0" * 31, "1" * 16, "0,5", "٣", "0.3\u2028"]


@pytest.mark.parametrize("what", list(FRACTIONS))
def test_each_decimal_pattern_matches_exactly_what_the_domain_accepts_at_the_edges(what: str) -> None:
    pattern, check = FRACTIONS[what]
    assert [v for v in EDGES if matches(pattern, v) != accepted(check, v)] == []


DECIMALISH = st.text(alphabet="0001123455599.. \t\n\xa0-e", max_size=34)


@pytest.mark.parametrize("what", list(FRACTIONS))
@settings(max_examples=400, deadline=None, derandomize=True)
@given(data=st.data())
def test_each_decimal_pattern_matches_exactly_what_the_domain_accepts(what: str, data: st.DataObject) -> None:
    pattern, check = FRACTIONS[what]
    value = data.draw(st.one_of(DECIMALISH, st.from_regex(pattern[:-1] + r"\Z")))
    assert matches(pattern, value) == accepted(check, value), repr(value)


def named(value: str) -> None:
    header({"name": value, "effective_from": "2026-01-01"}, ())


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.one_of(st.text(alphabet="ab \t\n\r\x0b\x1c\x85\xa0\u2028\u202e\u200e\x00\x7f", max_size=8),
                 st.from_regex(POLICY_NAME[:-1] + r"\Z")))
def test_the_name_pattern_matches_exactly_the_names_the_domain_accepts(value: str) -> None:
    within = matches(POLICY_NAME, value) and len(value) <= 100
    assert within == accepted(named, value), repr(value)


@pytest.mark.parametrize("kind", list(POLICY_DOCUMENTS))
def test_the_defaults_and_the_examples_are_valid_and_reach_the_domain_as_posted(kind: str) -> None:
    model = POLICY_DOCUMENTS[kind]
    for document in (DEFAULT_POLICY_DOCUMENTS[kind], *model.model_json_schema()["examples"]):
        assert model.model_validate(document).document is document
        model.parses.from_document(document, version=1)


@pytest.mark.parametrize("document, field", [
    ({**DEFAULT_POLICY_DOCUMENTS["incentive"], "kind_weights": {"visit": 5000}}, "kind_weights.visit"),
    ({**DEFAULT_POLICY_DOCUMENTS["incentive"], "kind_weights": {"visit": 1.5}}, "kind_weights.visit"),
    ({**DEFAULT_POLICY_DOCUMENTS["incentive"], "version": 2}, "version"),
    ({**DEFAULT_POLICY_DOCUMENTS["incentive"], "effective_from": "20260101"}, "effective_from"),
    ({**DEFAULT_POLICY_DOCUMENTS["incentive"], "kind_weights": {"visit\n": 1}}, "kind_weights"),
])
def test_a_refused_document_is_answered_by_the_domain_naming_the_field(document: dict, field: str) -> None:
    """Refused by the model (which asks the domain first) or, past it, by the domain itself (as
    the route does): the refusal is the domain's either way."""
    model = POLICY_DOCUMENTS["incentive"]
    with pytest.raises(InvalidPolicy) as refused:
        model.parses.from_document(model.model_validate(document).document, version=1)
    assert refused.value.field == field


def test_a_body_that_is_not_an_object_is_pydantics_to_refuse() -> None:
    with pytest.raises(ValidationError):
        POLICY_DOCUMENTS["incentive"].model_validate([DEFAULT_POLICY_DOCUMENTS["incentive"]])


def test_win_probability_takes_at_most_100_bands() -> None:
    bands = [{"from_score": 0, "probability": "0"}] * 101
    with pytest.raises(InvalidPolicy, match="at most 100"):
        POLICY_DOCUMENTS["relationship-standard"].model_validate(
            {**DEFAULT_POLICY_DOCUMENTS["relationship-standard"], "win_probability": bands})
