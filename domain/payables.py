"""What is payable to whom, when: the one rule every payable entry follows (`due`), and periods.
Entries fall in months (`2026-11`); a quarter (`2026-Q4`) is its three months. Amounts are integers
in minor units; a negative entry is a clawback.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from domain.allocation import CountedContribution, allocate, held_part, steps
from domain.exceptions import InvalidInput
from domain.policy import IncentivePolicy
from domain.values import EARLIEST

MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])\Z")
QUARTER = re.compile(r"^([0-9]{4})-Q([1-4])\Z")
KINDS = ("upfront", "release", "adjustment")


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_of(period: object) -> list[str]:
    """The months of a period: `2026-11` is itself, `2026-Q4` is 2026-10, 2026-11, 2026-12; from
    2000 on, like every date (an earlier year is a typo, and year 0 is no calendar year)."""
    text = period if isinstance(period, str) else ""
    month, quarter = MONTH.match(text), QUARTER.match(text)
    if month or quarter:
        year = int((month or quarter).group(1))
        if year < EARLIEST.year:
            raise InvalidInput(f"{text} is before {EARLIEST.year}", field="period")
        if month:
            return [text]
        q = int(quarter.group(2))
        return [f"{year:04d}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    raise InvalidInput(f"{str(period)[:20]!r} is not a period; use a month (2026-11) or a quarter "
                       "(2026-Q4)", field="period")


def last_day(month: str) -> date:
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, calendar.monthrange(year, number)[1])


def released(held: int, cash: int, deal: int) -> int:
    """How much of a held part the cash collected so far releases (floored; all of it when paid)."""
    if deal <= 0 or cash >= deal:
        return held
    return held * max(cash, 0) // deal


@dataclass(frozen=True)
class Target:
    """A member's line as it stands: its upfront and held parts."""

    upfront: int
    held: int

    @property
    def amount(self) -> int:
        return self.upfront + self.held

    @classmethod
    def of(cls, amount: int, holdback: Decimal | None) -> Target:
        held = held_part(amount, holdback)
        return cls(amount - held, held)

    def payable(self, cash: int, deal: int) -> tuple[int, int]:
        """(upfront, released) payable now, given the cash collected on a deal of `deal`."""
        return self.upfront, released(self.held, cash, deal)


def entry_id(allocation_id: UUID, cause: str, member_id: str, kind: str) -> str:
    """A stable id for one entry: the same cause never books twice."""
    return str(uuid5(allocation_id, f"{cause}:{member_id}:{kind}"))


def due(targets: Mapping[str, Target], paid: Mapping[str, Mapping[str, int]], cash: int,
        deal: int) -> dict[str, dict[str, int]]:
    """Per member and kind (upfront, release), what is payable now minus what already is.

    A line of an approved allocation has a target: its upfront part, plus its held part released in
    proportion to the cash collected on the deal (all of it once the deal is paid in full).
    Whenever something changes what is payable (approval, a payment, a late fact, an upheld
    dispute), the entry for a member is the target as it stands now minus everything already
    payable to them. So the entries of a member always add up to their target, and once the deal
    is paid in full, to their line.

    `paid` holds, per member, the sum of their entries so far by what they pay for: `upfront`
    (upfront entries and adjustments to it) and `release`. Members who no longer have a target
    are owed nothing (their entries are clawed back).
    """
    owed: dict[str, dict[str, int]] = {}
    for member in sorted(set(targets) | set(paid)):
        target = targets.get(member, Target(0, 0))
        upfront, release = target.payable(cash, deal)
        so_far = paid.get(member, {})
        owed[member] = {"upfront": upfront - so_far.get("upfront", 0),
                        "release": release - so_far.get("release", 0)}
    return owed


def split(opportunity: Any, policy: IncentivePolicy) -> dict:
    """The allocation of a won deal as its facts stand, with each line's steps for explain."""
    result = allocate(amount=opportunity.amount, grade=opportunity.grade,
                      closed_on=date.fromisoformat(opportunity.closed_on),
                      contributions=[CountedContribution.from_record(c)
                                     for c in opportunity.contributions.values()],
                      policy=policy)
    explained = {line.member_id: steps(result, line.member_id) for line in result.lines}
    return {**result.as_dict(), "explain": explained}


def targets_of(result: dict | None, overrides: Mapping[str, int],
               policy: IncentivePolicy) -> dict[str, dict[str, int]]:
    """Each member's line (upfront, held) as it stands; an upheld dispute's amount replaces a line;
    no result (a cancelled deal) leaves nobody a line."""
    if result is None:
        return {}
    targets = {line["member_id"]: {"upfront": line["upfront"], "held": line["held"]}
               for line in result["lines"]}
    for member, amount in overrides.items():
        corrected = Target.of(amount, policy.holdback)
        targets[member] = {"upfront": corrected.upfront, "held": corrected.held}
    return targets


def as_targets(targets: Mapping[str, Mapping[str, int]]) -> dict[str, Target]:
    return {m: Target(t["upfront"], t["held"]) for m, t in targets.items()}


def over_pool(result: dict, overrides: Mapping[str, int]) -> bool:
    """Whether the lines, with these upheld amounts in place, add up to more than the pool."""
    lines = {line["member_id"]: line["amount"] for line in result["lines"]}
    return sum({**lines, **overrides}.values()) > result["pool"]


def within_pool(result: dict, overrides: Mapping[str, int]) -> dict[str, int]:
    """Upheld amounts, cut (in member order) where a late fact shrank the pool under them: the
    lines never add up to more than the pool."""
    lines = {line["member_id"]: line["amount"] for line in result["lines"]
             if line["member_id"] not in overrides}
    room = result["pool"] - sum(lines.values())
    kept = {}
    for member in sorted(overrides):
        kept[member] = max(0, min(overrides[member], room))
        room -= kept[member]
    return kept
