"""The relationship standard: one company-wide way to judge a customer relationship
(`RelationshipStandard`). Reps never type a percentage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

from domain.exceptions import InvalidInput, InvalidPolicy
from domain.policy import Versioned, at_most_entries, fraction_field, header
from domain.scoring import (
    Criterion,
    ascending_from_zero,
    criteria_document,
    criteria_from_stored,
    parse_criteria,
    weighted,
)

DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT: dict = {
    "name": "default",
    "effective_from": "2000-01-01",
    "criteria": {
        "decision_maker_stance": {"weight": "0.25", "levels": {
            "opposed": 0, "unknown": 20, "neutral": 40, "supportive": 80, "champion": 100}},
        "coach_inside": {"weight": "0.15", "levels": {"none": 0, "informal": 50, "active": 100}},
        "budget_confirmed": {"weight": "0.15", "levels": {"unknown": 0, "estimated": 50, "approved": 100}},
        "technical_preference": {"weight": "0.15", "levels": {
            "competitor": 0, "open": 50, "ours": 100}},
        "competitive_position": {"weight": "0.15", "levels": {
            "behind": 0, "even": 50, "ahead": 100}},
        "executive_relationship": {"weight": "0.15", "levels": {
            "none": 0, "met": 40, "regular": 70, "trusted": 100}},
    },
    "win_probability": [
        {"from_score": 0, "probability": "0.05"}, {"from_score": 20, "probability": "0.15"},
        {"from_score": 40, "probability": "0.35"}, {"from_score": 60, "probability": "0.60"},
        {"from_score": 80, "probability": "0.85"},
    ],
}


@dataclass(frozen=True)
class Assessed:
    """What the standard makes of one set of answers."""

    score: int
    win_probability: Decimal
    scores: Mapping[str, int]


@dataclass(frozen=True)
class RelationshipStandard(Versioned):
    """One version of the relationship standard and its score-to-probability mapping:

        {"name": "default", "effective_from": "2026-01-01",
         "criteria": {"decision_maker_stance": {"weight": "0.25",
                                                "levels": {"opposed": 0, "neutral": 40, "supportive": 100}},
                      ...},
         "win_probability": [{"from_score": 0, "probability": "0.05"}, {"from_score": 40, ...}, ...]}

    An assessment answers every criterion with one of its levels. The score is the weighted sum of
    the levels' scores, rounded half even to a whole number from 0 to 100; the win probability is
    the one of the band the score falls in.
    """

    kind: ClassVar[str] = "relationship-standard"
    name: str
    version: int
    effective_from: date
    criteria: Mapping[str, Criterion]
    win_probability: tuple[tuple[int, Decimal], ...]

    @classmethod
    def from_document(cls, doc: Mapping, *, version: int) -> RelationshipStandard:
        name, effective_from = header(doc, ("criteria", "win_probability"))
        criteria = parse_criteria(doc, "criteria", bands=False)
        given = doc.get("win_probability")
        if not isinstance(given, list) or not given:
            raise InvalidPolicy("must be a non-empty list of {from_score, probability}",
                                field="win_probability")
        at_most_entries(given, "win_probability", "bands")
        mapping: list[tuple[Decimal, Decimal]] = []
        for i, band in enumerate(given):
            field = f"win_probability[{i}]"
            if not isinstance(band, Mapping) or set(band) != {"from_score", "probability"}:
                raise InvalidPolicy("each band is {from_score, probability}", field=field)
            start = band["from_score"]
            if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= 100:
                raise InvalidPolicy(f"must be a whole score from 0 to 100, got {start!r}",
                                    field=f"{field}.from_score")
            mapping.append((Decimal(start), fraction_field(
                band["probability"], f"{field}.probability", low=Decimal(0), high=Decimal(1))))
        ascending_from_zero(mapping, "win_probability")
        if any(later < earlier for (_, earlier), (_, later) in zip(mapping, mapping[1:])):
            raise InvalidPolicy("a higher score must never give a lower probability",
                                field="win_probability")
        return cls(name, version, effective_from, criteria,
                   tuple((int(start), p) for start, p in mapping))

    @classmethod
    def from_stored(cls, doc: Mapping) -> RelationshipStandard:
        return cls(doc["name"], doc["version"], date.fromisoformat(doc["effective_from"]),
                   criteria_from_stored(doc["criteria"]),
                   tuple((b["from_score"], Decimal(b["probability"])) for b in doc["win_probability"]))

    def document(self) -> dict:
        return {"name": self.name, "version": self.version,
                "effective_from": self.effective_from.isoformat(),
                "criteria": criteria_document(self.criteria),
                "win_probability": [{"from_score": s, "probability": str(p)}
                                    for s, p in self.win_probability]}

    def assess(self, answers: object) -> Assessed:
        """Score a full set of answers; InvalidInput naming `answers.<criterion>` otherwise."""
        if not isinstance(answers, Mapping):
            raise InvalidInput("must be an object with one answer per criterion", field="answers")
        unknown = sorted(set(answers) - set(self.criteria))
        if unknown:
            raise InvalidInput(f"{unknown[0]!r} is not a criterion of standard version {self.version}; "
                               f"criteria are {list(self.criteria)}", field=f"answers.{unknown[0]}")
        missing = [name for name in self.criteria if name not in answers]
        if missing:
            raise InvalidInput(f"is not answered; every criterion of the standard needs an answer "
                               f"(levels: {list(self.criteria[missing[0]].levels or ())})",
                               field=f"answers.{missing[0]}")
        scores = {name: c.score(answers[name], f"answers.{name}") for name, c in self.criteria.items()}
        exact = weighted(self.criteria, scores)
        score = round(exact)  # a Fraction rounds half to even
        probability = next(p for start, p in reversed(self.win_probability) if score >= start)
        return Assessed(score, probability, scores)
