"""The charts' geometry (web/charts.py): exact numbers in, integer rectangles out; the segments of a
100 % bar add up to its width to the unit, and a waterfall's bars meet where their values do."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web import charts

# The demo's allocation (README "The demo's allocation, by hand"), in fen.
DEMO = {"alice": 5_079_532, "bob": 4_716_709, "carol": 3_144_473, "dave": 943_342, "erin": 628_894}
POOL = 14_512_950


def test_the_demo_pool_bar_adds_up_to_the_width_and_its_segments_follow_each_other() -> None:
    parts = [(m, m, v, "line") for m, v in DEMO.items()] + [("unallocated", "unallocated", 0, "unallocated")]

    segments = charts.split_bar(parts)

    assert sum(s.width for s in segments) == charts.WIDTH
    assert [s.x for s in segments] == [0, *(s.x + s.width for s in segments[:-1])]
    assert [s.width for s in segments] == [350, 325, 217, 65, 43, 0]
    assert [s.share for s in segments][:2] == ["35.0 %", "32.5 %"]
    assert segments[-1].kind == "unallocated" and segments[-1].x == charts.WIDTH


@given(st.lists(st.fractions(min_value=0, max_value=10**12), min_size=1, max_size=30)
       .filter(lambda values: sum(values) > 0),
       st.integers(min_value=1, max_value=5000))
def test_any_split_of_exact_parts_fills_the_bar_exactly(values: list[Fraction], width: int) -> None:
    segments = charts.split_bar([(str(i), str(i), v, "line") for i, v in enumerate(values)], width)

    assert sum(s.width for s in segments) == width
    assert all(s.width >= 0 for s in segments)
    total = sum(values)
    for s, v in zip(segments, values, strict=True):  # each within a unit of its exact width
        assert abs(s.width - v * width / total) <= 1


def test_a_bar_of_nothing_has_empty_segments_and_a_negative_part_is_refused() -> None:
    assert [s.width for s in charts.split_bar([("a", "a", 0, "line"), ("u", "u", 0, "unallocated")])] == [0, 0]
    with pytest.raises(ValueError):
        charts.split_bar([("a", "a", 5, "line"), ("b", "b", -1, "line")])


def test_exact_numbers_come_from_minor_units_fractions_and_decimal_strings() -> None:
    assert charts.exact("4000000/3") == Fraction(4_000_000, 3)
    assert charts.exact("13333.33") == Fraction(1_333_333, 100)
    assert charts.exact(7) == 7
    assert [charts.round_half_even(Fraction(n, 2)) for n in (1, 3, 5, -1)] == [0, 2, 2, 0]
    assert charts.percent(Fraction(1, 3), Fraction(1)) == "33.3 %"
    assert charts.percent(Fraction(0), Fraction(0)) == "0.0 %"


# alice's line in the demo: her exact share cut to the cap, floored, then 20 % held back.
ALICE_STEPS = [
    {"step": 1, "name": "pool", "formula": "…", "value": str(POOL)},
    {"step": 2, "name": "eligible points", "formula": "…", "value": "p_AR = 10 of P_AR = 10"},
    {"step": 3, "name": "active roles", "formula": "…", "value": "w_AR = 2/5"},
    {"step": 4, "name": "member share per role", "formula": "…", "value": "5805180"},
    {"step": 5, "name": "member cap", "formula": "…", "value": "10159065/2"},
    {"step": 6, "name": "rounding", "formula": "…", "value": "5079532"},
    {"step": 7, "name": "holdback", "formula": "…", "value": "upfront 4063626, held 1015906"},
]


def test_a_lines_waterfall_follows_its_explanation_from_the_share_to_the_line() -> None:
    steps = charts.line_steps(ALICE_STEPS, amount="50795.32")

    assert [(s.label, s.start, s.end, s.kind) for s in steps] == [
        ("share", 0, 5_805_180, "total"),
        ("cap: cut", 5_805_180, Fraction(10_159_065, 2), "change"),
        ("rounding", Fraction(10_159_065, 2), 5_079_532, "change"),
        ("line", 0, 5_079_532, "total"),
        ("upfront", 0, 4_063_626, "part"),
        ("held", 4_063_626, 5_079_532, "part"),
    ]


def test_after_approval_the_waterfall_goes_on_through_each_adjustment_to_the_current_amount() -> None:
    upheld = [*ALICE_STEPS, {"step": 8, "name": "upheld dispute", "formula": "…", "value": "5100000"}]
    adjustments = [{"cause": "dispute:d1", "reason": "the bid was hers", "before": "50795.32", "after": "51000.00"}]

    steps = charts.line_steps(upheld, amount="51000.00", approved="50795.32", adjustments=adjustments)

    assert [(s.label, s.start, s.end) for s in steps[-4:]] == [
        ("upheld dispute", 5_079_532, 5_100_000),
        ("approved", 0, 5_079_532),
        ("adjustment: dispute", 5_079_532, 5_100_000),
        ("current", 0, 5_100_000),
    ]


def test_a_redistribution_raises_a_line_and_a_line_with_nothing_counted_is_zero() -> None:
    bob = [{"name": "member share per role", "value": "4353885"},
           {"name": "member cap", "value": "18866835/4"}, {"name": "rounding", "value": "4716709"}]
    assert charts.line_steps(bob, amount="47167.09")[1].label == "cap: redistribution"
    nothing = charts.line_steps([{"name": "no eligible points", "value": "0"}], amount="0.00")
    assert [(s.label, s.end) for s in nothing] == [("line", 0)]


def test_waterfall_bars_meet_exactly_where_their_values_do() -> None:
    steps = charts.line_steps(ALICE_STEPS, amount="50795.32")

    bars, zero = charts.waterfall(steps)

    assert zero == 0 and [b.row for b in bars] == list(range(len(steps)))
    share, cut, rounding, line, upfront, held = bars
    assert share.x == 0 and share.width == charts.WIDTH  # the largest value spans the chart
    assert (cut.x + cut.width, cut.direction) == (share.x + share.width, "down")  # from the share, down
    assert rounding.x + rounding.width == cut.x  # the cut's end is where rounding starts
    assert line.width == rounding.x  # floored: the line ends where the rounding went down to
    assert upfront.width + held.width == line.width and held.x == upfront.x + upfront.width
    assert (rounding.step.change, rounding.direction) == (Fraction(-1, 2), "down")


def test_a_waterfall_below_zero_puts_the_zero_line_inside_the_chart() -> None:
    steps = [charts.Step("line", Fraction(0), Fraction(300), "total"),
             charts.Step("refund", Fraction(300), Fraction(-100), "change")]

    bars, zero = charts.waterfall(steps, width=400)

    assert zero == 100
    assert (bars[0].x, bars[0].width) == (100, 300)
    assert (bars[1].x, bars[1].width, bars[1].direction) == (0, 400, "down")
