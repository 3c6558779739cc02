"""Policy versions: data the business owns, validated, hashed, read by pure functions.

Every kind of policy (incentive here; account and opportunity grading in grading.py; the
relationship standard in relationship.py) is a frozen dataclass with a name, a version, an
effective date and a canonical `document()`; `Versioned` gives them the hash and the references.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sized
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar, TypeVar

from domain.exceptions import InvalidInput, InvalidPolicy
from domain.values import EARLIEST, ISO_DATE, plain_decimal, storable

ROLES = ("AR", "SR", "FR", "SUPPORT")
TRIANGLE_ROLES = ("AR", "SR", "FR")
GRADES = ("A", "B", "C")

DEFAULT_INCENTIVE_DOCUMENT: dict = {
    "name": "default",
    "effective_from": "2000-01-01",
    "pool_rate_by_grade": {"A": "0.03", "B": "0.02", "C": "0.01"},
    "role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10"},
    "kind_weights": {
        "visit": 1,
        "solution_design": 5,
        "demo": 3,
        "poc": 8,
        "bid_document": 5,
        "pricing_review": 3,
        "contract_review": 2,
        "delivery_plan": 4,
        "support_delivered": 3,
    },
    "member_cap": None,
    "holdback": None,
}

MAX_PLACES = 12  # rates, shares, cap and holdback: plain decimals, so sums and hashes are exact
MAX_POOL_RATE = Decimal("0.5")  # a bonus pool above half the deal is a typo, not a policy
MAX_KIND_WEIGHT = 1000
MAX_ENTRIES = 100  # kinds, criteria, levels, bands, attributes: a policy people read and review
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")  # \Z: "$" would let a final newline in
P = TypeVar("P", bound="Versioned")


def fraction_field(value: object, field: str, *, low: Decimal, high: Decimal,
                    low_open: bool = False, high_open: bool = False) -> Decimal:
    number = plain_decimal(value, field, places=MAX_PLACES, error=InvalidPolicy)
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise InvalidPolicy(f"{number} is outside {interval}", field=field)
    return number


def _fractions(doc: Mapping, key: str, names: tuple[str, ...], what: str,
               high: Decimal = Decimal(1)) -> dict[str, Decimal]:
    """A fraction in [0, high] for each of `names`; a name left out is 0."""
    given = mapping(doc, key)
    unknown = set(given) - set(names)
    if unknown:
        raise InvalidPolicy(f"unknown {what} {sorted(unknown)}; {what} are {list(names)}", field=key)
    return {name: fraction_field(given.get(name, "0"), f"{key}.{name}", low=Decimal(0), high=high)
            for name in names}


def at_most_entries(entries: Sized, field: str, what: str) -> None:
    if len(entries) > MAX_ENTRIES:
        raise InvalidPolicy(f"has {len(entries)} {what}; at most {MAX_ENTRIES} are allowed", field=field)


class Versioned:
    """The part every policy version shares: the canonical document, its hash, its reference.

    The version number is given by the policy book (1, 2, ...); the hash is sha256 over the
    canonical JSON of the whole version (keys sorted, no spaces), so anyone can recompute it.
    """

    kind: ClassVar[str]
    name: str
    version: int
    effective_from: date

    def document(self) -> dict:
        raise NotImplementedError

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.document(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def as_dict(self) -> dict:
        return {**self.document(), "hash": self.hash}

    def reference(self) -> dict:
        return {"name": self.name, "version": self.version, "hash": self.hash}


def header(doc: object, keys: tuple[str, ...]) -> tuple[str, date]:
    """The name and effective date every policy document starts with, checked; a key that is not
    one of `keys` (besides these two) is refused rather than silently ignored."""
    if not isinstance(doc, Mapping):
        raise InvalidPolicy("the policy must be a JSON object", field="policy")
    unknown = sorted(set(doc) - {"name", "effective_from", *keys}, key=str)
    if unknown:
        raise InvalidPolicy(f"is not part of this kind of policy; its keys are name, effective_from, "
                            f"{', '.join(keys)}", field=str(unknown[0]))
    name = doc.get("name", "default")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidPolicy("must be a non-empty string of at most 100 characters", field="name")
    try:
        storable(name.strip(), "name", single_line=True)
    except InvalidInput as unsafe:  # a policy refusal is InvalidPolicy, whatever the cause
        raise InvalidPolicy(unsafe.detail, field="name") from None
    given = doc.get("effective_from")
    try:
        # YYYY-MM-DD only: date.fromisoformat also reads 20260101 and 2026-W01-4
        effective_from = date.fromisoformat(given) if isinstance(given, str) and ISO_DATE.match(given) \
            else None
    except ValueError:
        effective_from = None
    if effective_from is None:
        raise InvalidPolicy("must be an ISO date such as 2026-01-01", field="effective_from")
    if effective_from < EARLIEST:
        raise InvalidPolicy(f"{effective_from} is before {EARLIEST}", field="effective_from")
    return name.strip(), effective_from


def mapping(doc: Mapping, key: str) -> Mapping:
    value = doc.get(key)
    if not isinstance(value, Mapping):
        raise InvalidPolicy("must be an object", field=key)
    return value


def name_of(value: object, field: str, what: str) -> str:
    """A lower_snake_case name (a kind, a criterion, a level)."""
    if not isinstance(value, str) or not _KIND.match(value):
        raise InvalidPolicy(f"{value!r} is not a {what} name (lower_snake_case)", field=field)
    return value


@dataclass(frozen=True)
class IncentivePolicy(Versioned):
    """One version of the incentive (bonus) policy. Its document (all numbers as decimal strings or
    integers, never floats):

        {"name": "default", "effective_from": "2026-01-01",
         "pool_rate_by_grade": {"A": "0.03", "B": "0.02", "C": "0.01"},
         "role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10"},
         "kind_weights": {"visit": 1, "solution_design": 5, ...},
         "member_cap": "0.5" | null, "holdback": "0.2" | null}

    Pool rates are from 0 to 0.5, role shares from 0 to 1 and sum to 1, kind weights whole points
    from 0 to 1000 (at most 100 kinds), the member cap in (0, 1] and the holdback in [0, 1).
    """

    kind: ClassVar[str] = "incentive"

    name: str
    version: int
    effective_from: date
    pool_rate_by_grade: Mapping[str, Decimal]
    role_shares: Mapping[str, Decimal]
    kind_weights: Mapping[str, int]
    member_cap: Decimal | None = None
    holdback: Decimal | None = None

    @classmethod
    def from_document(cls, doc: Mapping, *, version: int) -> IncentivePolicy:
        """Validate a policy document; raise InvalidPolicy naming the field."""
        name, effective_from = header(doc, ("pool_rate_by_grade", "role_shares", "kind_weights",
                                            "member_cap", "holdback"))

        rates = _fractions(doc, "pool_rate_by_grade", GRADES, "grades", high=MAX_POOL_RATE)
        shares = _fractions(doc, "role_shares", ROLES, "roles")
        if sum(shares.values()) != 1:
            raise InvalidPolicy(f"role shares sum to {sum(shares.values())}, not 1", field="role_shares")

        weights_in = mapping(doc, "kind_weights")
        if not weights_in:
            raise InvalidPolicy("must name at least one contribution kind", field="kind_weights")
        at_most_entries(weights_in, "kind_weights", "kinds")
        weights: dict[str, int] = {}
        for kind, weight in weights_in.items():
            name_of(kind, "kind_weights", "kind")
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                raise InvalidPolicy(f"must be a whole number of points >= 0, got {weight!r}",
                                    field=f"kind_weights.{kind}")
            if weight > MAX_KIND_WEIGHT:
                raise InvalidPolicy(f"must be at most {MAX_KIND_WEIGHT} points, got {weight}",
                                    field=f"kind_weights.{kind}")
            weights[kind] = weight

        cap = doc.get("member_cap")
        holdback = doc.get("holdback")
        return cls(
            name=name,
            version=version,
            effective_from=effective_from,
            pool_rate_by_grade=rates,
            role_shares=shares,
            kind_weights=dict(sorted(weights.items())),
            member_cap=None if cap is None else fraction_field(
                cap, "member_cap", low=Decimal(0), high=Decimal(1), low_open=True),
            holdback=None if holdback is None else fraction_field(
                holdback, "holdback", low=Decimal(0), high=Decimal(1), high_open=True),
        )

    @classmethod
    def from_stored(cls, doc: Mapping) -> IncentivePolicy:
        """A version as its event stored it: validated when added, so only parsed here.

        Stored history must stay readable even if validation is tightened later.
        """
        def decimal(value: object) -> Decimal | None:
            return None if value is None else Decimal(str(value))

        return cls(
            name=doc["name"], version=doc["version"],
            effective_from=date.fromisoformat(doc["effective_from"]),
            pool_rate_by_grade={g: Decimal(r) for g, r in doc["pool_rate_by_grade"].items()},
            role_shares={r: Decimal(v) for r, v in doc["role_shares"].items()},
            kind_weights=dict(doc["kind_weights"]),
            member_cap=decimal(doc["member_cap"]), holdback=decimal(doc["holdback"]),
        )

    def document(self) -> dict:
        """The canonical document of this version (what the hash covers)."""
        return {
            "name": self.name,
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "pool_rate_by_grade": {g: str(r) for g, r in self.pool_rate_by_grade.items()},
            "role_shares": {r: str(s) for r, s in self.role_shares.items()},
            "kind_weights": dict(self.kind_weights),
            "member_cap": None if self.member_cap is None else str(self.member_cap),
            "holdback": None if self.holdback is None else str(self.holdback),
        }



def in_force(versions: list[P], on: date) -> P | None:
    """The highest version whose effective_from is on or before `on`."""
    candidates = [v for v in versions if v.effective_from <= on]
    return max(candidates, key=lambda v: v.version) if candidates else None
