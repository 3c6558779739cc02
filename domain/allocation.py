"""Split the gold: the pure arithmetic that turns a won deal into allocation lines (docs/policies.md).

Exact throughout: amounts are integers in minor units (the currency does not matter here), shares
are Fractions, and policy numbers enter as Decimals converted exactly. No floats, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from domain.exceptions import InvalidAmount, InvalidInput, MemberNotFound
from domain.policy import ROLES, IncentivePolicy

STATUSES = ("recorded", "confirmed", "reversed")

NOT_CONFIRMED = "not confirmed"
REVERSED = "reversed"
AFTER_CLOSE = "after close"
NO_WEIGHT = "kind has no weight"


@dataclass(frozen=True)
class CountedContribution:
    """One contribution as the arithmetic sees it."""

    contribution_id: str
    member_id: str
    role: str
    kind: str
    occurred_on: date
    status: str
    event_id: str = ""
    position: int | None = None

    @classmethod
    def from_record(cls, record: Mapping) -> CountedContribution:
        """From a contribution as the Opportunity and its board keep it (`id`, `occurred_at`, ...)."""
        return cls(
            contribution_id=record["id"], member_id=record["member_id"], role=record["role"],
            kind=record["kind"], occurred_on=datetime.fromisoformat(record["occurred_at"]).date(),
            status=record["status"], event_id=record["event_id"], position=record.get("position"))

    def as_dict(self) -> dict:
        return {
            "contribution_id": self.contribution_id,
            "member_id": self.member_id,
            "role": self.role,
            "kind": self.kind,
            "occurred_on": self.occurred_on.isoformat(),
            "status": self.status,
            "event_id": self.event_id,
            "position": self.position,
        }


@dataclass(frozen=True)
class ExcludedContribution:
    """A contribution that earns no points in this allocation, and why."""

    contribution: CountedContribution
    reason: str

    def as_dict(self) -> dict:
        return {**self.contribution.as_dict(), "reason": self.reason}


@dataclass(frozen=True)
class AllocationLine:
    """One member's part of the pool, with every intermediate number of the arithmetic."""

    member_id: str
    roles: list[str]
    points: dict[str, int]
    total_points: int
    exact: Fraction
    capped: Fraction
    floor: int
    remainder: Fraction
    rounding_unit: int
    amount: int
    upfront: int
    held: int
    contributions: list[CountedContribution]


@dataclass(frozen=True)
class AllocationResult:
    """A won deal's pool split into lines; enough to redo the arithmetic by hand."""

    amount: int
    grade: str
    closed_on: date
    policy: dict
    rate: Decimal
    pool: int
    role_shares: dict[str, Decimal]
    kind_weights: dict[str, int]
    role_points: dict[str, int]
    active_weights: dict[str, Fraction]
    member_cap: Decimal | None
    cap_amount: Fraction | None
    holdback: Decimal | None
    lines: list[AllocationLine]
    unallocated: int
    unallocated_exact: Fraction
    counted: list[CountedContribution]
    excluded: list[ExcludedContribution]

    def line(self, member_id: str) -> AllocationLine | None:
        return next((line for line in self.lines if line.member_id == member_id), None)

    def as_dict(self) -> dict:
        """JSON-safe: ints stay ints, Fractions become "n/d" (or ints when whole), Decimals strings."""
        return {
            "amount": self.amount,
            "grade": self.grade,
            "closed_on": self.closed_on.isoformat(),
            "policy": dict(self.policy),
            "rate": str(self.rate),
            "pool": self.pool,
            "role_shares": {r: str(s) for r, s in self.role_shares.items()},
            "kind_weights": dict(self.kind_weights),
            "role_points": dict(self.role_points),
            "active_weights": {r: _json_fraction(w) for r, w in self.active_weights.items()},
            "member_cap": _json_decimal(self.member_cap),
            "cap_amount": None if self.cap_amount is None else _json_fraction(self.cap_amount),
            "holdback": _json_decimal(self.holdback),
            "lines": [self._line_dict(line) for line in self.lines],
            "unallocated": self.unallocated,
            "unallocated_exact": _json_fraction(self.unallocated_exact),
            "counted": [self._counted_dict(c) for c in self.counted],
            "excluded": [e.as_dict() for e in self.excluded],
        }

    def _counted_dict(self, contribution: CountedContribution) -> dict:
        return {**contribution.as_dict(), "points": self.kind_weights[contribution.kind]}

    def _line_dict(self, line: AllocationLine) -> dict:
        return {
            "member_id": line.member_id,
            "roles": list(line.roles),
            "points": dict(line.points),
            "total_points": line.total_points,
            "exact": _json_fraction(line.exact),
            "capped": _json_fraction(line.capped),
            "floor": line.floor,
            "remainder": _json_fraction(line.remainder),
            "rounding_unit": line.rounding_unit,
            "amount": line.amount,
            "upfront": line.upfront,
            "held": line.held,
            "contributions": [self._counted_dict(c) for c in line.contributions],
        }


def round_half_even(value: Fraction) -> int:
    """Round an exact number to the nearest integer, halves to the even neighbour."""
    floor = math.floor(value)
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def allocate(*, amount: int, grade: str, closed_on: date,
             contributions: Sequence[CountedContribution], policy: IncentivePolicy) -> AllocationResult:
    """Split the pool of a deal won for `amount` minor units on `closed_on` (docs/policies.md, steps 1-7)."""
    _check_inputs(amount, grade, contributions, policy)
    rate = policy.pool_rate_by_grade[grade]
    pool = round_half_even(amount * Fraction(rate))
    counted, excluded = _sift(contributions, closed_on, policy.kind_weights)
    member_points = _member_points(counted, policy.kind_weights)
    role_points = {r: sum(p.get(r, 0) for p in member_points.values()) for r in ROLES}
    active_weights = _active_weights(role_points, policy.role_shares)
    exact = {m: _exact_amount(pool, active_weights, role_points, points)
             for m, points in member_points.items()}
    cap_amount = None if policy.member_cap is None else Fraction(policy.member_cap) * pool
    capped = exact if cap_amount is None else _apply_cap(exact, cap_amount)
    unallocated_exact = pool - sum(capped.values(), Fraction(0))
    units, unallocated = _hand_out_units(pool, capped, unallocated_exact, cap_amount)
    return AllocationResult(
        amount=amount,
        grade=grade,
        closed_on=closed_on,
        policy=policy.reference(),
        rate=rate,
        pool=pool,
        role_shares=dict(policy.role_shares),
        kind_weights=dict(policy.kind_weights),
        role_points=role_points,
        active_weights=active_weights,
        member_cap=policy.member_cap,
        cap_amount=cap_amount,
        holdback=policy.holdback,
        lines=[
            _line(m, member_points[m], exact[m], capped[m], units[m], counted, policy.holdback)
            for m in sorted(member_points)
        ],
        unallocated=unallocated,
        unallocated_exact=unallocated_exact,
        counted=counted,
        excluded=excluded,
    )


def _line(member_id: str, points: dict[str, int], exact: Fraction, capped: Fraction, unit: int,
          counted: list[CountedContribution], holdback: Decimal | None) -> AllocationLine:
    floor = math.floor(capped)
    amount = floor + unit
    held = held_part(amount, holdback)
    return AllocationLine(
        member_id=member_id,
        roles=list(points),
        points=dict(points),
        total_points=sum(points.values()),
        exact=exact,
        capped=capped,
        floor=floor,
        remainder=capped - floor,
        rounding_unit=unit,
        amount=amount,
        upfront=amount - held,
        held=held,
        contributions=[c for c in counted if c.member_id == member_id],
    )


def _check_inputs(amount: int, grade: str, contributions: Sequence[CountedContribution],
                  policy: IncentivePolicy) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidAmount(f"must be whole minor units >= 0, got {amount!r}", field="amount")
    if grade not in policy.pool_rate_by_grade:
        raise InvalidInput(f"{grade!r} is not a grade of policy {policy.name}", field="grade")
    seen: set[str] = set()
    for c in contributions:
        if c.role not in ROLES:
            raise InvalidInput(f"{c.role!r} is not a role; roles are {list(ROLES)}", field="role")
        if c.status not in STATUSES:
            raise InvalidInput(f"{c.status!r} is not a contribution status", field="status")
        # Counting one contribution twice would silently move money, so refuse rather than guess.
        if c.contribution_id in seen:
            raise InvalidInput(f"contribution {c.contribution_id} is given twice", field="contributions")
        seen.add(c.contribution_id)


def _log_order(c: CountedContribution) -> tuple:
    """Log order where known; a total order so the caller's ordering never matters."""
    return (c.position is None, c.position or 0, c.occurred_on, c.contribution_id)


def _exclusion(c: CountedContribution, closed_on: date, kind_weights: Mapping[str, int]) -> str | None:
    if c.status == "reversed":
        return REVERSED
    if c.status != "confirmed":
        return NOT_CONFIRMED
    if c.occurred_on > closed_on:
        return AFTER_CLOSE
    if kind_weights.get(c.kind, 0) <= 0:
        return NO_WEIGHT
    return None


def _sift(contributions: Sequence[CountedContribution], closed_on: date,
          kind_weights: Mapping[str, int]) -> tuple[list[CountedContribution], list[ExcludedContribution]]:
    counted: list[CountedContribution] = []
    excluded: list[ExcludedContribution] = []
    for c in sorted(contributions, key=_log_order):
        reason = _exclusion(c, closed_on, kind_weights)
        if reason is None:
            counted.append(c)
        else:
            excluded.append(ExcludedContribution(c, reason))
    return counted, excluded


def _member_points(counted: list[CountedContribution],
                   kind_weights: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """Eligible points per member and role, roles in the order AR, SR, FR, SUPPORT."""
    totals: dict[str, dict[str, int]] = {}
    for c in counted:
        by_role = totals.setdefault(c.member_id, {})
        by_role[c.role] = by_role.get(c.role, 0) + kind_weights[c.kind]
    return {m: {r: by_role[r] for r in ROLES if r in by_role} for m, by_role in totals.items()}


def _active_weights(role_points: Mapping[str, int],
                    role_shares: Mapping[str, Decimal]) -> dict[str, Fraction]:
    """w_r = s_r / Σ_active s; empty when no role is active or the active roles share nothing."""
    active = [r for r in ROLES if role_points[r] > 0]
    total_share = sum((Fraction(role_shares[r]) for r in active), Fraction(0))
    if total_share == 0:
        return {}
    return {r: Fraction(role_shares[r]) / total_share for r in active}


def _exact_amount(pool: int, active_weights: Mapping[str, Fraction], role_points: Mapping[str, int],
                  points: Mapping[str, int]) -> Fraction:
    """x_m = pool × Σ_r w_r × p_{m,r} / P_r."""
    return sum(
        (pool * w * Fraction(points.get(r, 0), role_points[r]) for r, w in active_weights.items()),
        Fraction(0),
    )


def _apply_cap(exact: Mapping[str, Fraction], cap_amount: Fraction) -> dict[str, Fraction]:
    """Cut amounts above the cap and spread the excess over the uncapped, until stable.

    The excess nobody can take stays out of the lines: the caller counts it as unallocated.
    """
    amounts = dict(exact)
    capped: set[str] = set()
    while True:
        over = {m for m, x in amounts.items() if x > cap_amount}
        if not over:
            return amounts
        excess = sum((amounts[m] - cap_amount for m in over), Fraction(0))
        for m in over:
            amounts[m] = cap_amount
        capped |= over
        takers = {m: x for m, x in amounts.items() if m not in capped and x > 0}
        base = sum(takers.values(), Fraction(0))
        if base == 0:
            return amounts
        for m, x in takers.items():
            amounts[m] = x + excess * x / base


def _hand_out_units(pool: int, capped: Mapping[str, Fraction], unallocated_exact: Fraction,
                    cap_amount: Fraction | None) -> tuple[dict[str, int], int]:
    """Largest remainder: one minor unit each until the lines and unallocated sum to the pool.

    Ties go to the smaller member id; unallocated competes but loses every tie, and takes the
    units that no line may take without passing the cap.
    """
    floors = {m: math.floor(x) for m, x in capped.items()}
    unallocated = math.floor(unallocated_exact)
    missing = pool - sum(floors.values()) - unallocated
    units = {m: 0 for m in capped}
    candidates = sorted(
        [(-(x - floors[m]), 0, m) for m, x in capped.items() if x > floors[m]]
        + [(-(unallocated_exact - unallocated), 1, "")]
    )
    for _, is_unallocated, member_id in candidates:
        if missing == 0:
            break
        if is_unallocated:
            unallocated += 1
            missing -= 1
        elif cap_amount is None or floors[member_id] + 1 <= cap_amount:
            units[member_id] = 1
            missing -= 1
    return units, unallocated + missing


def held_part(amount: int, holdback: Decimal | None) -> int:
    """The part of a line paid only as cash is collected: round_half_even(amount × holdback)."""
    return 0 if holdback is None else round_half_even(amount * Fraction(holdback))


def steps(result: AllocationResult, member_id: str) -> list[dict]:
    """The arithmetic of one member's line, step by step, with exact numbers."""
    line = result.line(member_id)
    if line is None:
        raise MemberNotFound(f"{member_id} has no line in this allocation", field="member_id")
    found = [
        _pool_step(result),
        _points_step(result, line),
        _active_roles_step(result),
        _share_step(result, line),
    ]
    if result.cap_amount is not None:
        found.append(_cap_step(result, line))
    found += [_rounding_step(result, line), _holdback_step(result, line)]
    return [{"step": n, **step} for n, step in enumerate(found, start=1)]


def _pool_step(result: AllocationResult) -> dict:
    product = result.amount * Fraction(result.rate)
    return {
        "name": "pool",
        "formula": f"pool = round_half_even(amount × rate[{result.grade}]) = "
                   f"round_half_even({result.amount} × {result.rate}) = round_half_even({product})",
        "value": str(result.pool),
    }


def _points_step(result: AllocationResult, line: AllocationLine) -> dict:
    totals = ", ".join(f"P_{r} = {result.role_points[r]}" for r in ROLES)
    mine = "; ".join(
        f"{r}: " + " + ".join(f"{c.kind} {result.kind_weights[c.kind]}"
                              for c in line.contributions if c.role == r)
        + f" = {p}"
        for r, p in line.points.items()
    )
    return {
        "name": "eligible points",
        "formula": f"confirmed contributions on or before {result.closed_on.isoformat()}, "
                   f"points = kind weight: {totals}; {line.member_id}: {mine}",
        "value": ", ".join(f"p_{r} = {p} of P_{r} = {result.role_points[r]}"
                           for r, p in line.points.items()),
    }


def _active_roles_step(result: AllocationResult) -> dict:
    active = [r for r in ROLES if result.role_points[r] > 0]
    if not result.active_weights:
        return {"name": "active roles",
                "formula": f"the active roles {', '.join(active)} have no share: the whole pool is unallocated",
                "value": "none"}
    shares = [result.role_shares[r] for r in active]
    return {
        "name": "active roles",
        "formula": f"w_r = s_r / Σ_active s over the active roles {', '.join(active)}: "
                   f"Σ_active s = {' + '.join(map(str, shares))} = {sum(shares)}",
        "value": ", ".join(f"w_{r} = {w}" for r, w in result.active_weights.items()),
    }


def _share_step(result: AllocationResult, line: AllocationLine) -> dict:
    terms = [
        f"{r}: {result.pool} × {w} × {line.points.get(r, 0)}/{result.role_points[r]} = "
        f"{result.pool * w * Fraction(line.points.get(r, 0), result.role_points[r])}"
        for r, w in result.active_weights.items() if r in line.points
    ]
    return {
        "name": "member share per role",
        "formula": "x = pool × Σ_r w_r × p_r / P_r; " + ("; ".join(terms) or "no share"),
        "value": str(line.exact),
    }


def _cap_step(result: AllocationResult, line: AllocationLine) -> dict:
    cap = f"cap × pool = {result.member_cap} × {result.pool} = {result.cap_amount}"
    if line.exact > result.cap_amount:
        how = f"x = {line.exact} is above the cap: cut to {line.capped}"
    elif line.exact == result.cap_amount:
        how = f"x = {line.exact} is exactly the cap: it stays, and takes no excess"
    elif line.capped == result.cap_amount:
        how = f"x = {line.exact} plus its part of the excess of capped members reached the cap: {line.capped}"
    elif line.capped != line.exact:
        how = (f"x × (capped / x) = {line.exact} × {line.capped / line.exact} = {line.capped}: "
               "the excess of capped members spread in proportion to amounts")
    else:
        how = f"x = {line.exact} stays: no excess spread to it"
    return {"name": "member cap", "formula": f"{cap}; {how}", "value": str(line.capped)}


def _rounding_step(result: AllocationResult, line: AllocationLine) -> dict:
    floors = sum(other.floor for other in result.lines) + math.floor(result.unallocated_exact)
    unit = "+1 minor unit" if line.rounding_unit else "no extra unit"
    return {
        "name": "rounding",
        "formula": f"floor({line.capped}) = {line.floor}, remainder {line.remainder}; "
                   f"pool − Σ floors (unallocated included) = {result.pool} − {floors} = {result.pool - floors} "
                   f"minor unit(s), one each to the largest remainders (ties to the smaller member id, "
                   f"never past the cap, the rest unallocated): {unit}",
        "value": str(line.amount),
    }


def _holdback_step(result: AllocationResult, line: AllocationLine) -> dict:
    if result.holdback is None:
        formula = f"no holdback: upfront = amount = {line.amount}, held = 0"
    else:
        formula = (f"held = round_half_even(amount × holdback) = round_half_even({line.amount} × "
                   f"{result.holdback}) = {line.held}; upfront = {line.amount} − {line.held} = {line.upfront}")
    return {"name": "holdback", "formula": formula, "value": f"upfront {line.upfront}, held {line.held}"}


def _json_fraction(value: Fraction) -> int | str:
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _json_decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
