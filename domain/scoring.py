"""Weighted criteria: the machinery the grading policies and the relationship standard share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from domain.exceptions import InvalidInput, InvalidPolicy
from domain.money import MAX_WHOLE_DIGITS
from domain.policy import MAX_PLACES, at_most_entries, fraction_field, mapping, name_of
from domain.values import plain_decimal


def _score(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InvalidPolicy(f"must be a whole score from 0 to 100, got {value!r}", field=field)
    return value


@dataclass(frozen=True)
class Criterion:
    """One weighted criterion: levels by name, or bands over a number.

    A criterion has a weight (the weights of a policy sum to 1) and turns one answer into a score
    from 0 to 100, either by named levels (`{"none": 0, "met": 50, "trusted": 100}`) or, for a
    number, by ascending bands (`[{"from": "0", "score": 0}, {"from": "1000000", "score": 60}]`: a
    value scores the band with the largest `from` at or below it). The weighted sum is exact.
    """

    name: str
    weight: Decimal
    levels: Mapping[str, int] | None = None
    bands: tuple[tuple[Decimal, int], ...] | None = None

    def score(self, answer: object, field: str) -> int:
        """The 0-100 score of one answer; InvalidInput naming `field` if it does not fit."""
        if self.levels is not None:
            if not isinstance(answer, str) or answer not in self.levels:
                raise InvalidInput(f"{answer!r} is not a level of {self.name}; levels are "
                                   f"{list(self.levels)}", field=field)
            return self.levels[answer]
        number = _number(answer, field)
        return next(score for start, score in reversed(self.bands or ()) if number >= start)

    def document(self) -> dict:
        if self.levels is not None:
            return {"weight": str(self.weight), "levels": dict(self.levels)}
        return {"weight": str(self.weight),
                "bands": [{"from": str(start), "score": score} for start, score in self.bands or ()]}


def _number(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"must be a number (an integer or a decimal string), got {value!r}",
                           field=field)
    return plain_decimal(str(value), field, places=MAX_PLACES)


def parse_criteria(doc: Mapping, key: str, *, bands: bool) -> dict[str, Criterion]:
    """Validate `doc[key]`: at least one criterion, weights summing to 1, levels or bands.
    A policy has at most 100 criteria, a criterion at most 100 levels or bands, and a band starts
    below 10^15 (the money limit: the numbers banded are amounts and shares)."""
    given = mapping(doc, key)
    if not given:
        raise InvalidPolicy("must name at least one criterion", field=key)
    at_most_entries(given, key, "criteria")
    criteria: dict[str, Criterion] = {}
    for name, spec in given.items():
        field = f"{key}.{name}"
        name_of(name, key, "criterion")
        if not isinstance(spec, Mapping):
            raise InvalidPolicy("must be an object with a weight and levels" +
                                (" or bands" if bands else ""), field=field)
        unknown = set(spec) - {"weight", "levels", "bands"} if bands else set(spec) - {"weight", "levels"}
        if unknown:
            raise InvalidPolicy(f"unknown keys {sorted(unknown)}", field=field)
        weight = fraction_field(spec.get("weight"), f"{field}.weight", low=Decimal(0), high=Decimal(1))
        if ("levels" in spec) == ("bands" in spec):
            raise InvalidPolicy("needs exactly one of levels or bands" if bands else "needs levels",
                                field=field)
        if "levels" in spec:
            levels = mapping(spec, "levels") if isinstance(spec.get("levels"), Mapping) else None
            if not levels:
                raise InvalidPolicy("must be an object naming at least one level", field=f"{field}.levels")
            at_most_entries(levels, f"{field}.levels", "levels")
            criteria[name] = Criterion(name, weight, levels={
                name_of(level, f"{field}.levels", "level"): _score(score, f"{field}.levels.{level}")
                for level, score in levels.items()})
        else:
            criteria[name] = Criterion(name, weight, bands=_bands(spec.get("bands"), f"{field}.bands"))
    total = sum(c.weight for c in criteria.values())
    if total != 1:
        raise InvalidPolicy(f"the criteria's weights sum to {total}, not 1", field=key)
    return criteria


def _bands(value: object, field: str) -> tuple[tuple[Decimal, int], ...]:
    if not isinstance(value, list) or not value:
        raise InvalidPolicy("must be a non-empty list of {from, score}", field=field)
    at_most_entries(value, field, "bands")
    bands: list[tuple[Decimal, int]] = []
    for i, band in enumerate(value):
        if not isinstance(band, Mapping) or set(band) != {"from", "score"}:
            raise InvalidPolicy("each band is {from, score}", field=f"{field}[{i}]")
        start = plain_decimal(str(band["from"]) if isinstance(band["from"], int) else band["from"],
                              f"{field}[{i}].from", places=MAX_PLACES, error=InvalidPolicy)
        if start >= 10**MAX_WHOLE_DIGITS:
            raise InvalidPolicy(f"{start} is too large (over {MAX_WHOLE_DIGITS} digits)",
                                field=f"{field}[{i}].from")
        bands.append((start, _score(band["score"], f"{field}[{i}].score")))
    ascending_from_zero(bands, field)
    return tuple(bands)


def ascending_from_zero(bands: list[tuple[Decimal, object]], field: str) -> None:
    """Bands start at 0 and their lower bounds strictly ascend, so every value >= 0 has one band."""
    if bands[0][0] != 0:
        raise InvalidPolicy("the first band must start from 0, so every value has a band", field=field)
    for (low, _), (high, _) in zip(bands, bands[1:]):
        if high <= low:
            raise InvalidPolicy(f"bands must ascend: {high} follows {low}", field=field)


def criteria_document(criteria: Mapping[str, Criterion]) -> dict:
    return {name: c.document() for name, c in criteria.items()}


def criteria_from_stored(doc: Mapping) -> dict[str, Criterion]:
    return {
        name: Criterion(name, Decimal(spec["weight"]), levels=spec.get("levels"),
                        bands=tuple((Decimal(b["from"]), b["score"]) for b in spec["bands"])
                        if "bands" in spec else None)
        for name, spec in doc.items()
    }


def weighted(criteria: Mapping[str, Criterion], scores: Mapping[str, int]) -> Fraction:
    """Σ weight × score over the criteria (a missing score counts 0): exact, from 0 to 100."""
    return sum((Fraction(c.weight) * scores.get(name, 0) for name, c in criteria.items()), Fraction(0))


def two_places(value: Fraction) -> str:
    """A score as a decimal string with two places, rounded down: a shown score never reaches a
    threshold the exact score missed."""
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"),
                                                                                 ROUND_FLOOR))
