"""Calibration: how well the win probabilities of the relationship standard match outcomes.

For each closed opportunity, the probability of its last assessment before close is set against
the outcome (won = 1, lost = 0). A group of such pairs has a Brier score (the mean squared
difference: 0 is perfect, 0.25 is a coin toss) and a reliability table in ten bins of predicted
probability, each with its mean prediction and observed win rate. Sums are kept exactly, so a
group can grow one outcome at a time and always reads the same.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

BINS = 10
PRECISION = 60  # digits: sums of squares of 12-place probabilities stay exact


def empty() -> dict:
    """The sums of a group with no outcome yet (a JSON document)."""
    return {"count": 0, "squared_error": "0",
            "bins": [{"count": 0, "predicted": "0", "wins": 0} for _ in range(BINS)]}


def bin_of(probability: Decimal) -> int:
    """Bins are [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]."""
    return min(int(probability * BINS), BINS - 1)


def add(sums: dict, probability: Decimal, won: bool) -> dict:
    """The sums with one more outcome."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        outcome = Decimal(1 if won else 0)
        cell = sums["bins"][bin_of(probability)]
        cell["count"] += 1
        cell["predicted"] = str(Decimal(cell["predicted"]) + probability)
        cell["wins"] += int(won)
        sums["count"] += 1
        sums["squared_error"] = str(Decimal(sums["squared_error"]) + (probability - outcome) ** 2)
    return sums


def _ratio(numerator: Decimal, count: int) -> str:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return str((numerator / count).quantize(Decimal("0.0001")))


def summary(key: str, sums: dict) -> dict:
    """A group as clients read it: count, Brier score and the reliability table (4 places)."""
    count = sums["count"]
    return {
        "key": key,
        "count": count,
        "brier": _ratio(Decimal(sums["squared_error"]), count) if count else None,
        "bins": [
            {"from": str(Decimal(i) / BINS), "to": str(Decimal(i + 1) / BINS), "count": cell["count"],
             "predicted": _ratio(Decimal(cell["predicted"]), cell["count"]) if cell["count"] else None,
             "observed": _ratio(Decimal(cell["wins"]), cell["count"]) if cell["count"] else None}
            for i, cell in enumerate(sums["bins"])
        ],
    }
