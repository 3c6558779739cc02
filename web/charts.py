"""The geometry of the allocation screens' charts, drawn as SVG on the server (web/templates/_charts.html).

Pure functions from exact numbers (minor units as `int` or `Fraction`) to rectangles in a
viewBox of integer units. A coordinate is the exact value scaled and rounded half-even, and a
rectangle's width is the difference of its two rounded ends, so adjacent rectangles meet exactly
and the segments of a 100 % bar add up to the bar's width to the unit, however the pool divides.
No float is ever involved: the charts say what the tables beside them say.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

WIDTH = 1000  # viewBox units across a chart


def round_half_even(value: Fraction) -> int:
    """The nearest integer, ties to the even one (as the allocation rounds)."""
    floor = math.floor(value)
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2):
        return floor + 1
    return floor


def exact(value: int | str | Fraction) -> Fraction:
    """An exact number from an int, a Fraction, "n/d" or a decimal string ("10000.00")."""
    return value if isinstance(value, Fraction) else Fraction(value)


def percent(part: Fraction, whole: Fraction) -> str:
    """`part` of `whole` as a percentage with one decimal, for labels (the tables are exact)."""
    if whole == 0:
        return "0.0 %"
    tenths = round_half_even(Fraction(part) * 1000 / whole)
    sign = "-" if tenths < 0 else ""
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10} %"


# -- the 100 % bar of the pool ----------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """One part of a 100 % bar: where it starts, how wide it is (viewBox units), what it is."""

    key: str
    label: str
    value: Fraction  # minor units, exactly
    share: str  # of the whole, for the label
    x: int
    width: int
    kind: str  # "line" | "unallocated" | "rest"


def boundaries(values: Sequence[Fraction], width: int = WIDTH) -> list[int]:
    """The rounded cumulative positions 0 = b_0 <= b_1 <= ... <= b_n = width of `values` laid end
    to end across `width` (their total must be positive): b_i = round(width × Σ_{j<i} v_j / total)."""
    if any(v < 0 for v in values):
        raise ValueError("a 100 % bar has no negative parts")
    total = sum(values, Fraction(0))
    if total <= 0:
        raise ValueError("a 100 % bar needs a positive whole")
    points, running = [0], Fraction(0)
    for value in values:
        running += value
        points.append(round_half_even(running * width / total))
    return points


def split_bar(parts: Iterable[tuple[str, str, int | str | Fraction, str]],
              width: int = WIDTH) -> list[Segment]:
    """The segments of a 100 % bar of (key, label, value, kind) parts, in order; the widths add up
    to `width` exactly. A whole of 0 (nothing to split) gives segments of width 0."""
    parts = [(key, label, exact(value), kind) for key, label, value, kind in parts]
    values = [value for _, _, value, _ in parts]
    total = sum(values, Fraction(0))
    points = boundaries(values, width) if total > 0 else [0] * (len(parts) + 1)
    return [Segment(key, label, value, percent(value, total), points[i], points[i + 1] - points[i], kind)
            for i, (key, label, value, kind) in enumerate(parts)]


# -- the waterfall of one line ------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One bar of a waterfall, from `start` to `end` in exact minor units: a `total` (from 0), a
    `change` (from the running amount) or a `part` (of a total: upfront, held)."""

    label: str
    start: Fraction
    end: Fraction
    kind: str  # "total" | "change" | "part"
    note: str = ""

    @property
    def change(self) -> Fraction:
        return self.end - self.start


@dataclass(frozen=True)
class Bar:
    """A waterfall step drawn: its row, where it starts and how wide it is (viewBox units)."""

    step: Step
    row: int
    x: int
    width: int
    direction: str  # "up" | "down" | "none" (a total or a part is "up")


def _holdback(value: str) -> tuple[Fraction, Fraction] | None:
    """(upfront, held) from the holdback step's value "upfront U, held H"."""
    parts = dict(p.strip().split(" ", 1) for p in value.split(",") if " " in p.strip())
    if "upfront" not in parts or "held" not in parts:
        return None
    return exact(parts["upfront"]), exact(parts["held"])


def line_steps(steps: Sequence[dict], *, amount: str, approved: str | None = None,
               adjustments: Sequence[dict] = (), minor_units: int = 100) -> list[Step]:
    """The waterfall of one line from its explanation (queries/explain.py): the member's exact
    share, the cap's cut or the redistribution it brought, the rounding to the minor unit, the line,
    its upfront and held parts, an upheld dispute or the cancellation that replaced it; then, once
    approved and changed since, the approved amount and each adjustment, to the current amount.
    `steps` carry minor units; `amount`, `approved` and the adjustments' before/after are money
    strings of `minor_units` per unit."""

    def money(text: str) -> Fraction:
        return exact(text) * minor_units

    by_name = {s["name"]: s for s in steps}
    found: list[Step] = []
    running = Fraction(0)
    if "member share per role" in by_name:
        running = exact(by_name["member share per role"]["value"])
        found.append(Step("share", Fraction(0), running, "total", "pool × Σ w_r × p_r / P_r"))
    if "member cap" in by_name and found:
        capped = exact(by_name["member cap"]["value"])
        label = ("cap: cut" if capped < running else "cap: redistribution" if capped > running
                 else "cap: unchanged")
        found.append(Step(label, running, capped, "change", "member cap × pool"))
        running = capped
    if "rounding" in by_name:
        rounded = exact(by_name["rounding"]["value"])
        found.append(Step("rounding", running, rounded, "change", "to the minor unit"))
        running = rounded
    found.append(Step("line", Fraction(0), running, "total", "as the facts stand now"))
    holdback = _holdback(by_name["holdback"]["value"]) if "holdback" in by_name else None
    if holdback is not None and holdback[1]:
        upfront, held = holdback
        found.append(Step("upfront", Fraction(0), upfront, "part", "paid when approved"))
        found.append(Step("held", upfront, upfront + held, "part", "paid as cash is collected"))
    for name in ("upheld dispute", "cancellation"):
        if name in by_name:
            replaced = exact(by_name[name]["value"])
            found.append(Step(name, running, replaced, "change", "replaces the computed line"))
            running = replaced
    current = money(amount)
    if approved is not None and adjustments:
        found.append(Step("approved", Fraction(0), money(approved), "total", "the line at approval"))
        for adjustment in adjustments:
            cause = adjustment["cause"].split(":", 1)[0]
            found.append(Step(f"adjustment: {cause}", money(adjustment["before"]),
                              money(adjustment["after"]), "change", adjustment.get("reason") or ""))
    if current != running or (approved is not None and adjustments):
        found.append(Step("current", Fraction(0), current, "total", "what the member is owed now"))
    return found


def waterfall(steps: Sequence[Step], width: int = WIDTH) -> tuple[list[Bar], int]:
    """The bars of a waterfall, one row each, and the x of the zero line: every value v is drawn at
    round((v − lo) × width / (hi − lo)) over the range [lo, hi] that holds 0 and every end, so
    the end of one bar and the start of the next meet exactly when their values are equal."""
    ends = [v for s in steps for v in (s.start, s.end)] + [Fraction(0)]
    lo, hi = min(ends), max(ends)
    span = hi - lo

    def at(value: Fraction) -> int:
        return 0 if span == 0 else round_half_even((value - lo) * width / span)

    bars = []
    for row, step in enumerate(steps):
        left, right = at(min(step.start, step.end)), at(max(step.start, step.end))
        direction = ("none" if step.change == 0 else "up" if step.kind != "change" or step.change > 0
                     else "down")
        bars.append(Bar(step, row, left, right - left, direction))
    return bars, at(Fraction(0))


# -- the reliability diagram of calibration -----------------------------------------------------------

RELIABILITY_SIZE = 400  # viewBox units of the square plot, for probabilities 0 to 1 on both axes
RELIABILITY_RADIUS = 24  # the radius of the point of the bin that holds the most outcomes


@dataclass(frozen=True)
class ReliabilityPoint:
    """One bin of a reliability table drawn: the mean predicted probability across (`x`), the
    observed frequency of wins up (`y`, from the top of the plot, as SVG counts), a radius `r`
    whose area is proportional to the bin's count, and the bin's span on the x axis."""

    low: str
    high: str
    count: int
    predicted: Fraction
    observed: Fraction
    x: int
    y: int
    r: int
    span_x: int
    span_width: int


def reliability(bins: Iterable[dict], size: int = RELIABILITY_SIZE,
                radius: int = RELIABILITY_RADIUS) -> list[ReliabilityPoint]:
    """The points of a reliability diagram from a reliability table's bins (`from`, `to`,
    `count`, `predicted`, `observed` as decimal strings, as the calibration query answers), in a
    square plot of `size` units: x = round(predicted × size), y = size − round(observed × size),
    r = ⌊√(radius² × count / most)⌋ but at least 2 (so the area follows the count exactly up to
    the floor); a bin without outcomes has no point. The perfectly calibrated diagonal runs from
    (0, size) to (size, 0)."""
    bins = [dict(b) for b in bins]
    if any(b["count"] < 0 for b in bins):
        raise ValueError("a bin counts no fewer than 0 outcomes")
    counted = [b for b in bins if b["count"]]
    most = max((b["count"] for b in counted), default=0)
    points = []
    for b in counted:
        predicted, observed = exact(b["predicted"]), exact(b["observed"])
        if not (0 <= predicted <= 1 and 0 <= observed <= 1):
            raise ValueError("a probability lies between 0 and 1")
        low, high = exact(b["from"]), exact(b["to"])
        left, right = round_half_even(low * size), round_half_even(high * size)
        r = max(2, math.isqrt(radius * radius * b["count"] // most))
        points.append(ReliabilityPoint(str(b["from"]), str(b["to"]), b["count"], predicted, observed,
                                       round_half_even(predicted * size),
                                       size - round_half_even(observed * size), r, left, right - left))
    return points


def reliability_ticks(size: int = RELIABILITY_SIZE, step: str = "0.2") -> list[tuple[str, int]]:
    """The labels and positions of a probability axis from 0 to 1 every `step`."""
    every = exact(step)
    count = int(1 / every)
    return [(_tenths(i * every), round_half_even(i * every * size)) for i in range(count + 1)]


def _tenths(value: Fraction) -> str:
    """A probability with one decimal ("0.4"); the ticks fall on tenths."""
    tenths = round_half_even(value * 10)
    return f"{tenths // 10}.{tenths % 10}"
