"""The plain values commands carry: text, decimals, dates (in UTC, from 2000 on), attributes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.exceptions import InvalidInput
from domain.values import attributes, iso_date, iso_datetime, plain_decimal, text


def test_a_date_time_with_an_offset_is_taken_in_utc_so_it_never_moves_across_a_close_date() -> None:
    assert iso_datetime("2026-03-02T01:00:00+14:00", "occurred_at") == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert iso_datetime("2026-03-01T20:00:00-10:00", "occurred_at").date().isoformat() == "2026-03-02"
    assert iso_datetime("2026-03-01T20:00:00", "occurred_at").tzinfo is UTC


@pytest.mark.parametrize("parse, value", [(iso_date, "1999-12-31"),
                                          (iso_datetime, "0001-01-01T00:00:00"),
                                          (iso_datetime, "0001-01-01T00:00:00+05:00"),
                                          (iso_datetime, "9999-12-31T23:59:59-05:00")])
def test_refuses_dates_outside_the_years_deals_happen_in(parse, value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        parse(value, "when")
    assert refusal.value.field == "when" and "2000-01-01" in refusal.value.detail


@pytest.mark.parametrize("value", ["1e3", "-1", "+1", " 1 2", "1.", ".5", "NaN", "١٢٣", 1.5, True])
def test_refuses_anything_but_a_plain_decimal(value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        plain_decimal(value, "hours", places=2)
    assert refusal.value.field == "hours"


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"])
def test_refuses_text_that_cannot_be_stored(value) -> None:
    with pytest.raises(InvalidInput):
        text(value, "summary")


def test_accepts_ordinary_attributes_and_names_the_path_of_a_bad_one() -> None:
    assert attributes({"segment": "banking", "sites": [1, 2.5, None, True]}) == {
        "segment": "banking", "sites": [1, 2.5, None, True]}
    with pytest.raises(InvalidInput) as refusal:
        attributes({"sites": [{"_type_": "x"}]})
    assert refusal.value.field == "attributes.sites.0"


@pytest.mark.parametrize("value", ["20260101", "2026-W01-1", 20260101, "2026-01-01T00:00:00", " 2026-01-01"])
def test_a_date_is_spelled_year_month_day_and_nothing_else(value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        iso_date(value, "due")
    assert refusal.value.field == "due"
    assert iso_date("2026-01-01", "due").isoformat() == "2026-01-01"
