"""Allocations of won deals as proposed, with the log position of every counted contribution."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from domain.aggregates import Allocation, Opportunity, event_id
from domain.exceptions import MemberNotFound
from domain.money import exponent, format_amount
from projections.base import Changes, Projection

VIEW = "allocation"
POSITIONS = "contribution_position"


class AllocationProjection(Projection):
    """One document per allocation; an index from contribution event id to log position."""

    name = "allocation"
    views = (VIEW, POSITIONS)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        if isinstance(event, Opportunity.ContributionRecorded):
            changes.put(POSITIONS, str(event_id(event.originator_id, event.originator_version)),
                        {"position": position})
        elif isinstance(event, Allocation.Proposed):
            result = copy.deepcopy(event.result)
            for contribution in _cited(result):
                known = changes.get(POSITIONS, contribution["event_id"])
                contribution["position"] = known["position"] if known else None
            changes.put(VIEW, str(event.originator_id), {
                "id": str(event.originator_id), "opportunity_id": str(event.opportunity_id),
                "status": "proposed", "currency": event.currency, "result": result,
                "policy": event.policy, "proposed_by": event.actor,
                "proposed_at": event.timestamp.isoformat(), "position": position})


def _cited(result: dict) -> Iterator[dict]:
    """Every contribution an allocation result cites: counted, excluded, and per line."""
    yield from result["counted"]
    yield from result["excluded"]
    for line in result["lines"]:
        yield from line["contributions"]


def present_allocation(doc: dict, only_member: str | None = None) -> dict:
    """The allocation as clients read it; `only_member` keeps just that member's line."""
    currency = doc["currency"]
    result = doc["result"]

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    lines = [
        {"member_id": line["member_id"], "roles": line["roles"], "points": line["total_points"],
         "points_by_role": line["points"], "amount": money(line["amount"]),
         "upfront": money(line["upfront"]), "held": money(line["held"]), "exact": line["capped"]}
        for line in result["lines"]
        if only_member is None or line["member_id"] == only_member
    ]
    return {
        "id": doc["id"], "opportunity_id": doc["opportunity_id"], "status": doc["status"],
        "grade": result["grade"], "closed_on": result["closed_on"],
        "deal": {"amount": money(result["amount"]), "currency": currency},
        "rate": result["rate"],
        "pool": {"amount": money(result["pool"]), "currency": currency},
        "policy": {k: doc["policy"][k] for k in ("name", "version", "hash")},
        "lines": lines,
        "unallocated": {"amount": money(result["unallocated"]), "currency": currency},
        "visible_lines": "all" if only_member is None else "own",
        "position": doc["position"],
    }


def explain(doc: dict, member_id: str) -> dict:
    """From one line's amount back to the pool, the policy and every counted contribution.

    A member without a line but with recorded work is told why none of it counted.
    """
    currency = doc["currency"]
    result = doc["result"]
    line = next((line for line in result["lines"] if line["member_id"] == member_id), None)
    excluded = [
        {"event_id": c["event_id"], "position": c["position"], "kind": c["kind"], "role": c["role"],
         "contribution_id": c["contribution_id"], "occurred_on": c["occurred_on"],
         "reason": c["reason"]}
        for c in result["excluded"] if c["member_id"] == member_id
    ]
    if line is None and not excluded:
        raise MemberNotFound(f"{member_id} has no line in allocation {doc['id']}", field="member_id")
    if line is None:
        steps = [{"step": 1, "name": "no eligible points",
                  "formula": "none of this member's contributions counted: " + "; ".join(
                      f"{c['kind']} ({c['reason']})" for c in excluded),
                  "value": "0"}]
    else:
        steps = result["explain"][member_id]
    return {
        "allocation_id": doc["id"], "opportunity_id": doc["opportunity_id"],
        "member_id": member_id, "amount": format_amount(line["amount"] if line else 0, currency),
        "currency": currency, "minor_units_per_unit": 10 ** exponent(currency),
        "steps": steps,
        "contributions": [
            {"event_id": c["event_id"], "position": c["position"], "kind": c["kind"],
             "weight": c["points"], "role": c["role"], "contribution_id": c["contribution_id"],
             "occurred_on": c["occurred_on"]}
            for c in (line["contributions"] if line else [])
        ],
        "excluded": excluded,
        "policy": {k: doc["policy"][k] for k in ("name", "version", "hash")},
    }
