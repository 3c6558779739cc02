"""The reliability diagram's geometry (web/charts.py): exact from the calibration query's decimal
strings, integer in the viewBox, a point only for a bin with outcomes, its area by its count."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from web.charts import RELIABILITY_RADIUS, reliability, reliability_ticks


def _bins(**cells: tuple[int, str, str]) -> list[dict]:
    """The ten bins of a reliability table as the calibration query answers, empty but for
    `cells` (bin "b3" -> (count, predicted, observed))."""
    found = []
    for i in range(10):
        count, predicted, observed = cells.get(f"b{i}", (0, None, None))
        found.append({"from": str(Decimal(i) / 10), "to": str(Decimal(i + 1) / 10), "count": count,
                      "predicted": predicted, "observed": observed})
    return found


def test_a_bin_is_a_point_at_its_mean_prediction_and_observed_frequency_with_y_up() -> None:
    [point] = reliability(_bins(b8=(4, "0.8500", "0.2500")), size=400)

    assert (point.low, point.high, point.count) == ("0.8", "0.9", 4)
    assert (point.predicted, point.observed) == (Fraction(17, 20), Fraction(1, 4))
    assert (point.x, point.y) == (340, 300)  # 0.85 × 400 across; 400 − 0.25 × 400 down from the top
    assert (point.span_x, point.span_width) == (320, 40)  # the bin 0.8–0.9
    assert point.r == RELIABILITY_RADIUS  # the fullest bin


def test_bins_without_outcomes_have_no_point_and_an_empty_table_draws_nothing() -> None:
    assert reliability(_bins()) == []
    points = reliability(_bins(b0=(1, "0.0500", "0.0000"), b9=(1, "0.9500", "1.0000")), size=400)
    assert [(p.x, p.y) for p in points] == [(20, 400), (380, 0)]  # the corners of the diagonal


def test_the_area_follows_the_count_in_integers() -> None:
    points = reliability(_bins(b2=(1, "0.2500", "0.0000"), b5=(4, "0.5500", "0.5000"),
                               b7=(16, "0.7500", "0.7500")), radius=24)

    radii = [p.r for p in points]
    assert radii == [6, 12, 24]  # √(count / most) × 24: areas 1 : 4 : 16
    assert all(isinstance(v, int) for p in points for v in (p.x, p.y, p.r, p.span_x, p.span_width))


def test_a_tiny_bin_stays_visible_and_rounding_is_half_even() -> None:
    points = reliability(_bins(b0=(1, "0.0125", "0.0000"), b3=(1000, "0.3375", "0.5000")), size=400)
    assert points[0].r == 2  # ⌊√(576 / 1000)⌋ = 0, drawn at the least radius
    assert points[0].x == 5  # 0.0125 × 400 = 5 exactly
    assert points[1].x == 135  # 0.3375 × 400 = 135


def test_half_way_coordinates_round_to_even() -> None:
    [point] = reliability(_bins(b1=(1, "0.10125", "0.00125")), size=200)
    # 0.10125 × 200 = 20.25 -> 20; 0.00125 × 200 = 0.25 -> 0
    assert (point.x, point.y) == (20, 200)
    [half] = reliability(_bins(b1=(1, "0.1025", "0.0025")), size=200)
    # 20.5 -> 20 (even), 0.5 -> 0 (even)
    assert (half.x, half.y) == (20, 200)


def test_a_probability_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        reliability(_bins(b9=(1, "1.2000", "1.0000")))
    with pytest.raises(ValueError, match="no fewer than 0"):
        reliability(_bins(b9=(-1, "0.9000", "1.0000")))


def test_the_axis_ticks_fall_on_fifths_of_the_plot() -> None:
    assert reliability_ticks(400) == [("0.0", 0), ("0.2", 80), ("0.4", 160), ("0.6", 240),
                                      ("0.8", 320), ("1.0", 400)]
    assert [label for label, _ in reliability_ticks(400, "0.1")][-2:] == ["0.9", "1.0"]
