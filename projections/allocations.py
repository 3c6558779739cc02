"""Allocations of won deals: the split as proposed (with the log position of every counted
contribution), its approval, each member's target and what is payable to them so far (their
entries), the overrides of upheld disputes, and the disputes raised on it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from domain.aggregates import Allocation, Dispute, Opportunity, event_id
from domain.exceptions import MemberNotFound
from domain.money import exponent, format_amount
from projections.base import Changes, Projection

VIEW = "allocation"
POSITIONS = "contribution_position"
DISPUTES = "dispute"
BOOKINGS = (Allocation.Approved, Allocation.Released, Allocation.Adjusted)


class AllocationProjection(Projection):
    """One document per allocation and per dispute; an index from contribution event id to log
    position."""

    name = "allocation"
    views = (VIEW, POSITIONS, DISPUTES)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        if isinstance(event, Opportunity.ContributionRecorded):
            changes.put(POSITIONS, str(event_id(event.originator_id, event.originator_version)),
                        {"position": position})
        elif isinstance(event, Allocation.Proposed):
            result = self._positioned(event.result, changes)
            changes.put(VIEW, str(event.originator_id), {
                "id": str(event.originator_id), "opportunity_id": str(event.opportunity_id),
                "status": "proposed", "currency": event.currency, "result": result,
                "policy": event.policy, "proposed_by": event.actor,
                "proposed_at": event.timestamp.isoformat(), "position": position,
                "approved_by": None, "approved_at": None,
                "targets": {line["member_id"]: {"upfront": line["upfront"], "held": line["held"]}
                            for line in result["lines"]},
                "paid": {}, "overrides": {}, "entries": [], "history": [], "disputes": []})
        elif isinstance(event, BOOKINGS):
            self._booked(event, position, changes)
        elif isinstance(event, Dispute.Event):
            self._dispute(event, position, changes)

    @staticmethod
    def _positioned(result: dict, changes: Changes) -> dict:
        result = copy.deepcopy(result)
        for contribution in _cited(result):
            known = changes.get(POSITIONS, contribution["event_id"])
            contribution["position"] = known["position"] if known else None
        return result

    def _booked(self, event: Any, position: int, changes: Changes) -> None:
        doc = changes.get(VIEW, str(event.originator_id))
        if doc is None:
            return
        at = getattr(event, "at", None)
        if isinstance(event, Allocation.Approved):
            doc.update(status="approved", approved_by=event.actor, approved_at=at,
                       approved_position=position)
        elif isinstance(event, Allocation.Released):
            doc["history"].append({"cause": f"payment:{event.payment_id}", "reason": None,
                                   "by": event.actor, "at": at, "position": position})
        else:
            doc.update(targets=event.targets, overrides=event.overrides)
            if event.result is not None and doc["status"] == "proposed":
                doc["result"] = self._positioned(event.result, changes)
            doc["history"].append({"cause": event.cause, "reason": event.reason, "by": event.actor,
                                   "at": at, "position": position})
            if event.cause.startswith("dispute:"):
                dispute = changes.get(DISPUTES, event.cause.removeprefix("dispute:"))
                if dispute is not None and dispute["resolution"] and dispute["resolution"]["reason"] is None:
                    dispute["resolution"]["reason"] = event.reason.removeprefix("dispute upheld: ")
                    changes.put(DISPUTES, dispute["id"], dispute)
        for entry in event.entries:
            paid = doc["paid"].setdefault(entry["member_id"], {"upfront": 0, "release": 0})
            paid[entry["pays"]] += entry["amount"]
            doc["entries"].append({**entry, "position": position})
        doc["position"] = position
        changes.put(VIEW, doc["id"], doc)

    @staticmethod
    def _dispute(event: Any, position: int, changes: Changes) -> None:
        key = str(event.originator_id)
        at = event.timestamp.isoformat()
        if isinstance(event, Dispute.Raised):
            allocation = changes.get(VIEW, str(event.allocation_id))
            if allocation is None:
                return
            dispute = {"id": key, "allocation_id": allocation["id"],
                       "opportunity_id": allocation["opportunity_id"],
                       "currency": allocation["currency"], "member_id": event.member_id,
                       "reason": event.reason, "status": "open", "raised_by": event.actor,
                       "raised_at": at, "position": position, "resolution": None}
        else:
            dispute = changes.get(DISPUTES, key)
            if dispute is None:
                return
            allocation = changes.get(VIEW, dispute["allocation_id"])
            if isinstance(event, Dispute.Rejected):
                dispute.update(status="rejected", resolution={
                    "decision": "reject", "reason": event.reason, "corrected_amount": None,
                    "by": event.actor, "at": at, "position": position})
            elif isinstance(event, Dispute.Upheld):
                # Upheld carries no reason: the adjustment it causes does, and fills it in.
                dispute.update(status="upheld", resolution={
                    "decision": "uphold", "reason": getattr(event, "reason", None),
                    "corrected_amount": event.corrected_amount,
                    "by": event.actor, "at": at, "position": position})
            else:
                return
        dispute["changed_at"] = position
        changes.put(DISPUTES, key, dispute)
        if allocation is not None:
            allocation["disputes"] = [*(d for d in allocation["disputes"] if d["id"] != key),
                                      {k: dispute[k] for k in ("id", "member_id", "reason", "status",
                                                               "raised_at", "position")}]
            allocation["disputes"].sort(key=lambda d: d["position"])
            changes.put(VIEW, allocation["id"], allocation)


def _cited(result: dict) -> Iterator[dict]:
    """Every contribution an allocation result cites: counted, excluded, and per line."""
    yield from result["counted"]
    yield from result["excluded"]
    for line in result["lines"]:
        yield from line["contributions"]


def present_allocation(doc: dict, only_member: str | None = None) -> dict:
    """The allocation as clients read it; `only_member` keeps just that member's line.

    Each line shows its `target` as it stands now (an upheld dispute or a late fact changes it;
    the proposal's `amount` does not) and what is `paid` of it so far: the sum of the member's
    entries (payable, by what they pay for). `open_disputes` counts the disputes still open.
    """
    currency = doc["currency"]
    result = doc["result"]

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    def visible(member_id: str) -> bool:
        return only_member is None or member_id == only_member

    targets = doc.get("targets", {})
    paid = doc.get("paid", {})

    def target(member_id: str) -> dict:
        parts = targets.get(member_id, {"upfront": 0, "held": 0})
        return {"amount": money(parts["upfront"] + parts["held"]), "upfront": money(parts["upfront"]),
                "held": money(parts["held"])}

    def paid_of(member_id: str) -> dict:
        parts = paid.get(member_id, {"upfront": 0, "release": 0})
        return {"amount": money(parts["upfront"] + parts["release"]), "upfront": money(parts["upfront"]),
                "release": money(parts["release"])}

    lines = [
        {"member_id": line["member_id"], "roles": line["roles"], "points": line["total_points"],
         "points_by_role": line["points"], "amount": money(line["amount"]),
         "upfront": money(line["upfront"]), "held": money(line["held"]), "exact": line["capped"],
         "target": target(line["member_id"]), "paid": paid_of(line["member_id"])}
        for line in result["lines"] if visible(line["member_id"])
    ]
    disputes = [d for d in doc.get("disputes", []) if visible(d["member_id"])]
    hidden = {f"dispute:{d['id']}" for d in doc.get("disputes", []) if not visible(d["member_id"])}
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
        "approved_by": doc.get("approved_by"), "approved_at": doc.get("approved_at"),
        "overrides": {m: money(amount) for m, amount in sorted(doc.get("overrides", {}).items())
                      if visible(m)},
        "history": [h for h in doc.get("history", []) if h["cause"] not in hidden],  # others' disputes
        "entries": [{**e, "amount": money(e["amount"])} for e in doc.get("entries", [])
                    if visible(e["member_id"])],
        "disputes": disputes,
        "open_disputes": sum(d["status"] == "open" for d in disputes),
        "position": doc["position"],
    }


def present_dispute(doc: dict) -> dict:
    """A dispute as clients read it: who raised it, why, and how finance resolved it."""
    resolution = doc["resolution"]
    if resolution is not None and resolution["corrected_amount"] is not None:
        resolution = {**resolution,
                      "corrected_amount": format_amount(resolution["corrected_amount"], doc["currency"])}
    return {**doc, "resolution": resolution}


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
