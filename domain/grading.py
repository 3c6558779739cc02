"""Account and opportunity grading policies: versioned data that turns attributes into a grade
(`AccountGradingPolicy`, `OpportunityGradingPolicy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

from domain.exceptions import InvalidAmount, InvalidInput, InvalidPolicy, UnknownCurrency
from domain.money import exponent, format_amount, parse_amount
from domain.policy import GRADES, TRIANGLE_ROLES, Versioned, at_most_entries, header, mapping, name_of
from domain.scoring import (
    Criterion,
    ascending_from_zero,
    criteria_document,
    criteria_from_stored,
    parse_criteria,
    two_places,
    weighted,
)
from domain.values import plain_decimal

ACCOUNT_GRADES = ("S", "A", "B", "C")

DEFAULT_ACCOUNT_GRADING_DOCUMENT: dict = {
    "name": "default",
    "effective_from": "2000-01-01",
    "criteria": {
        "annual_potential": {"weight": "0.40", "bands": [
            {"from": "0", "score": 0}, {"from": "1000000", "score": 40},
            {"from": "5000000", "score": 70}, {"from": "20000000", "score": 100}]},
        "strategic_fit": {"weight": "0.25", "levels": {"low": 0, "medium": 50, "high": 100}},
        "relationship_depth": {"weight": "0.20", "levels": {
            "none": 0, "contact": 30, "trusted": 70, "partner": 100}},
        "share_of_wallet": {"weight": "0.15", "bands": [
            {"from": "0", "score": 20}, {"from": "0.2", "score": 60}, {"from": "0.5", "score": 100}]},
    },
    "grades": {"S": 85, "A": 65, "B": 40, "C": 0},
}

DEFAULT_OPPORTUNITY_GRADING_DOCUMENT: dict = {
    "name": "default",
    "effective_from": "2000-01-01",
    "amount_bands": {
        "CNY": [{"from": "0", "grade": "C"}, {"from": "1000000.00", "grade": "B"},
                {"from": "3000000.00", "grade": "A"}],
        "USD": [{"from": "0", "grade": "C"}, {"from": "150000.00", "grade": "B"},
                {"from": "450000.00", "grade": "A"}],
        "EUR": [{"from": "0", "grade": "C"}, {"from": "130000.00", "grade": "B"},
                {"from": "400000.00", "grade": "A"}],
    },
    "strategic_attributes": {"new_logo": 1, "lighthouse": 1},
    "required_roles": {"A": ["AR", "SR", "FR"], "B": ["AR", "SR"], "C": ["AR"]},
}


@dataclass(frozen=True)
class Grading:
    """A grade with its score (accounts) and the reasons, by one policy version."""

    grade: str
    reasons: tuple[str, ...]
    policy: Mapping[str, object]
    score: str | None = None
    required_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountGradingPolicy(Versioned):
    """One version of the account grading policy (S, A, B, C):

        {"name": "default", "effective_from": "2026-01-01",
         "criteria": {"annual_potential": {"weight": "0.4", "bands": [{"from": "0", "score": 0}, ...]},
                      "strategic_fit": {"weight": "0.3", "levels": {"low": 0, "high": 100}}, ...},
         "grades": {"S": 85, "A": 70, "B": 50, "C": 0}}

    Each criterion reads the account attribute of its name; a missing attribute scores 0 (and is
    named in the reasons). The grade is the best one whose minimum score the weighted score reaches.
    Criteria are bounded as in scoring.py.
    """

    kind: ClassVar[str] = "account-grading"
    name: str
    version: int
    effective_from: date
    criteria: Mapping[str, Criterion]
    grades: Mapping[str, int]

    @classmethod
    def from_document(cls, doc: Mapping, *, version: int) -> AccountGradingPolicy:
        name, effective_from = header(doc, ("criteria", "grades"))
        criteria = parse_criteria(doc, "criteria", bands=True)
        given = mapping(doc, "grades")
        if set(given) != set(ACCOUNT_GRADES):
            raise InvalidPolicy(f"must give a minimum score for each of {list(ACCOUNT_GRADES)}",
                                field="grades")
        minimums = []
        for grade in ACCOUNT_GRADES:
            value = given[grade]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise InvalidPolicy(f"must be a whole score from 0 to 100, got {value!r}",
                                    field=f"grades.{grade}")
            minimums.append(value)
        if given["C"] != 0:
            raise InvalidPolicy("C must start at 0, so every account has a grade", field="grades.C")
        if any(high <= low for high, low in zip(minimums, minimums[1:])):
            raise InvalidPolicy("minimum scores must fall strictly from S to C", field="grades")
        return cls(name, version, effective_from, criteria, {g: given[g] for g in ACCOUNT_GRADES})

    @classmethod
    def from_stored(cls, doc: Mapping) -> AccountGradingPolicy:
        return cls(doc["name"], doc["version"], date.fromisoformat(doc["effective_from"]),
                   criteria_from_stored(doc["criteria"]), dict(doc["grades"]))

    def document(self) -> dict:
        return {"name": self.name, "version": self.version,
                "effective_from": self.effective_from.isoformat(),
                "criteria": criteria_document(self.criteria), "grades": dict(self.grades)}

    def check(self, attributes: Mapping) -> None:
        """Refuse attributes this version reads but cannot score (naming `attributes.<name>`)."""
        for name, criterion in self.criteria.items():
            if attributes.get(name) is not None:
                criterion.score(attributes[name], f"attributes.{name}")

    def grade(self, attributes: Mapping) -> Grading:
        """The grade of an account with these attributes; what this version cannot read scores 0."""
        scores: dict[str, int] = {}
        reasons: list[str] = []
        for name, criterion in self.criteria.items():
            answer = attributes.get(name)
            if answer is None:
                reasons.append(f"{name}: missing, scores 0")
                continue
            try:
                scores[name] = criterion.score(answer, name)
            except InvalidInput as unreadable:
                reasons.append(f"{name}: {unreadable.detail}, scores 0")
                continue
            reasons.append(f"{name}={answer}: {scores[name]} x {criterion.weight}")
        score = weighted(self.criteria, scores)
        grade = next(g for g in ACCOUNT_GRADES if score >= self.grades[g])
        reasons.append(f"score {two_places(score)} reaches {grade} (from {self.grades[grade]})")
        return Grading(grade, tuple(reasons), self.reference(), score=two_places(score))


@dataclass(frozen=True)
class OpportunityGradingPolicy(Versioned):
    """One version of the opportunity grading policy (A, B, C), with the triangle roles each grade
    requires:

        {"name": "default", "effective_from": "2026-01-01",
         "amount_bands": {"CNY": [{"from": "0", "grade": "C"}, {"from": "1000000.00", "grade": "B"}, ...]},
         "strategic_attributes": {"new_logo": 1, "lighthouse": 1},
         "required_roles": {"A": ["AR", "SR", "FR"], "B": ["AR", "SR"], "C": ["AR"]}}

    The amount band of the deal's currency gives a grade (a currency without bands starts at C);
    each strategic attribute that is `true` on the opportunity raises it by its steps, up to A.
    A document has at most 100 bands per currency and 100 strategic attributes.
    """

    kind: ClassVar[str] = "opportunity-grading"
    name: str
    version: int
    effective_from: date
    amount_bands: Mapping[str, tuple[tuple[int, str], ...]]  # currency -> (from minor units, grade)
    strategic_attributes: Mapping[str, int]
    required_roles: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_document(cls, doc: Mapping, *, version: int) -> OpportunityGradingPolicy:
        name, effective_from = header(doc, ("amount_bands", "strategic_attributes", "required_roles"))
        bands: dict[str, tuple[tuple[int, str], ...]] = {}
        for currency, given in mapping(doc, "amount_bands").items():
            field = f"amount_bands.{currency}"
            try:
                exponent(str(currency), field=field)
            except UnknownCurrency as unknown:  # a policy refusal is InvalidPolicy, whatever the cause
                raise InvalidPolicy(unknown.detail, field=field) from None
            if not isinstance(given, list) or not given:
                raise InvalidPolicy("must be a non-empty list of {from, grade}", field=field)
            at_most_entries(given, field, "bands")
            parsed: list[tuple[Decimal, str]] = []
            for i, band in enumerate(given):
                if not isinstance(band, Mapping) or set(band) - {"from_minor"} != {"from", "grade"}:
                    raise InvalidPolicy("each band is {from, grade} (from_minor, as the policy shows "
                                        "it, may stay)", field=f"{field}[{i}]")
                if band["grade"] not in GRADES:
                    raise InvalidPolicy(f"{band['grade']!r} is not a grade; use {list(GRADES)}",
                                        field=f"{field}[{i}].grade")
                start = str(band["from"]) if isinstance(band["from"], int) else band["from"]
                zero = plain_decimal(start, f"{field}[{i}].from", places=exponent(currency),
                                     error=InvalidPolicy) == 0
                try:
                    minor = 0 if zero else parse_amount(start, currency, field=f"{field}[{i}].from")
                except InvalidAmount as bad:  # too large for a deal
                    raise InvalidPolicy(bad.detail, field=bad.field) from None
                shown = band.get("from_minor", minor)  # a version read back is posted as it is shown
                if type(shown) is not int or shown != minor:
                    raise InvalidPolicy(f"must be {minor}, the minor units of from, or be left out",
                                        field=f"{field}[{i}].from_minor")
                parsed.append((Decimal(minor), band["grade"]))
            ascending_from_zero(parsed, field)
            ranks = [GRADES.index(g) for _, g in parsed]
            if any(later > earlier for earlier, later in zip(ranks, ranks[1:])):
                raise InvalidPolicy("a larger amount must never give a lower grade", field=field)
            bands[currency] = tuple((int(start), grade) for start, grade in parsed)
        strategic: dict[str, int] = {}
        strategic_in = mapping(doc, "strategic_attributes")
        at_most_entries(strategic_in, "strategic_attributes", "attributes")
        for attribute, steps in strategic_in.items():
            name_of(attribute, "strategic_attributes", "attribute")
            if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= 2:
                raise InvalidPolicy(f"must be 0, 1 or 2 grade steps, got {steps!r}",
                                    field=f"strategic_attributes.{attribute}")
            strategic[attribute] = steps
        required_in = mapping(doc, "required_roles")
        if set(required_in) != set(GRADES):
            raise InvalidPolicy(f"must list the required roles of each of {list(GRADES)}",
                                field="required_roles")
        required: dict[str, tuple[str, ...]] = {}
        for grade in GRADES:
            roles = required_in[grade]
            field = f"required_roles.{grade}"
            if not isinstance(roles, list) or any(r not in TRIANGLE_ROLES for r in roles) \
                    or len(set(roles)) != len(roles):
                raise InvalidPolicy(f"must be a list of distinct triangle roles {list(TRIANGLE_ROLES)}",
                                    field=field)
            required[grade] = tuple(r for r in TRIANGLE_ROLES if r in roles)
        return cls(name, version, effective_from, bands, strategic, required)

    @classmethod
    def from_stored(cls, doc: Mapping) -> OpportunityGradingPolicy:
        return cls(
            doc["name"], doc["version"], date.fromisoformat(doc["effective_from"]),
            {currency: tuple((b["from_minor"], b["grade"]) for b in bands)
             for currency, bands in doc["amount_bands"].items()},
            dict(doc["strategic_attributes"]),
            {g: tuple(r) for g, r in doc["required_roles"].items()})

    def document(self) -> dict:
        return {
            "name": self.name, "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "amount_bands": {currency: [{"from": format_amount(start, currency), "from_minor": start,
                                         "grade": grade} for start, grade in bands]
                             for currency, bands in self.amount_bands.items()},
            "strategic_attributes": dict(self.strategic_attributes),
            "required_roles": {g: list(r) for g, r in self.required_roles.items()},
        }

    def grade(self, amount: int, currency: str, attributes: Mapping) -> Grading:
        """The grade of a deal of `amount` minor units with these attributes, and its required roles."""
        bands = self.amount_bands.get(currency)
        if bands is None:
            grade = "C"
            reasons = [f"no amount bands for {currency}: starts at C"]
        else:
            start, grade = next((s, g) for s, g in reversed(bands) if amount >= s)
            reasons = [f"amount {format_amount(amount, currency)} {currency} is in the band from "
                       f"{format_amount(start, currency)}: {grade}"]
        for attribute, steps in self.strategic_attributes.items():
            if attributes.get(attribute) is True and steps and grade != GRADES[0]:
                raised = GRADES[max(GRADES.index(grade) - steps, 0)]
                reasons.append(f"{attribute}: +{steps} ({grade} -> {raised})")
                grade = raised
        return Grading(grade, tuple(reasons), self.reference(),
                       required_roles=self.required_roles[grade])

    def required(self, grade: str) -> tuple[str, ...]:
        return self.required_roles[grade]
