"""The explanation of one member's line of an allocation: from their current amount back to the
pool, the policy, every counted contribution (and why others did not count), and every fact after
the proposal that changed it."""

from __future__ import annotations

import copy

from pydantic import Field

from domain.exceptions import MemberNotFound
from domain.money import exponent, format_amount
from projections.allocations import latest_result
from queries.models import Out, PolicyRef


def line_figures(doc: dict, member_id: str) -> dict | None:
    """A member's line in minor units, or None when they have none: `amount` (as proposed and,
    once approved, as approved), `approved` (the target at approval; None before), `current` (the
    target now: after late facts and upheld disputes) and `paid` (the sum of their entries)."""
    line = next((x for x in doc["result"]["lines"] if x["member_id"] == member_id), None)
    target = doc.get("targets", {}).get(member_id)
    paid = doc.get("paid", {}).get(member_id)
    at_approval = doc.get("approved_amounts")
    if line is None and target is None and paid is None and member_id not in (at_approval or {}):
        return None
    approved = None
    if doc["status"] == "approved":
        approved = (at_approval.get(member_id, 0) if at_approval is not None
                    else line["amount"] if line else 0)  # a document from before approvals were kept
    return {"amount": line["amount"] if line else 0, "approved": approved,
            "current": 0 if target is None else target["upfront"] + target["held"],
            "paid": 0 if paid is None else paid["upfront"] + paid["release"]}


def explain(doc: dict, member_id: str) -> dict:
    """From one member's current amount back to the pool, the policy, every counted contribution
    and every fact after the proposal that changed it.

    `steps` are the arithmetic of the split as the facts stand now, then an upheld dispute's
    corrected amount or the cancellation where one replaced it; `adjustments` each late fact that
    changed this member's line (its amount before and after, and the entries it booked them). A
    member without a line but with recorded work is told why none of it counted.
    """
    currency = doc["currency"]
    latest = latest_result(doc)
    cancelled = bool(doc.get("cancelled"))

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    line = next((x for x in latest["lines"] if x["member_id"] == member_id), None)
    excluded = [
        {"event_id": c["event_id"], "position": c["position"], "kind": c["kind"], "role": c["role"],
         "contribution_id": c["contribution_id"], "occurred_on": c["occurred_on"],
         "reason": c["reason"]}
        for c in latest["excluded"] if c["member_id"] == member_id
    ]
    figures = line_figures(doc, member_id)
    if line is None and not excluded and figures is None:
        raise MemberNotFound(f"{member_id} has no line in allocation {doc['id']}", field="member_id")
    figures = figures or {"amount": 0, "approved": None, "current": 0, "paid": 0}
    if line is None:
        steps = [{"step": 1, "name": "no eligible points",
                  "formula": "none of this member's contributions counts: " + ("; ".join(
                      f"{c['kind']} ({c['reason']})" for c in excluded) or "none recorded"),
                  "value": "0"}]
    else:
        steps = copy.deepcopy(latest["explain"][member_id])
    override = doc.get("overrides", {}).get(member_id)
    if cancelled:
        steps.append({"step": len(steps) + 1, "name": "cancellation",
                      "formula": "the deal was cancelled: nothing of it is payable, every line is 0",
                      "value": "0"})
    elif override is not None:
        upheld = [d["id"] for d in doc.get("disputes", [])
                  if d["member_id"] == member_id and d["status"] == "upheld"]
        parts = doc.get("targets", {}).get(member_id, {"upfront": 0, "held": 0})
        steps.append({
            "step": len(steps) + 1, "name": "upheld dispute",
            "formula": f"dispute {upheld[-1] if upheld else '?'} upheld: the computed line "
                       f"{line['amount'] if line else 0} is replaced by the corrected amount {override} "
                       f"(upfront {parts['upfront']}, held {parts['held']})",
            "value": str(override)})
    adjustments = []
    for adjustment in doc.get("adjustments", []):
        before, after = adjustment["before"].get(member_id, 0), adjustment["after"].get(member_id, 0)
        booked = [e for e in adjustment["entries"] if e["member_id"] == member_id]
        if before == after and not booked:
            continue
        adjustments.append({
            **{k: adjustment[k] for k in ("cause", "reason", "event_id", "position", "by", "at")},
            "before": money(before), "after": money(after),
            "entries": [{"entry_id": e["entry_id"], "amount": money(e["amount"]), "pays": e["pays"],
                         "kind": e["kind"], "period": e["period"]} for e in booked]})
    return {
        "allocation_id": doc["id"], "opportunity_id": doc["opportunity_id"],
        "member_id": member_id, "amount": money(figures["current"]),
        "approved_amount": None if figures["approved"] is None else money(figures["approved"]),
        "paid": money(figures["paid"]), "cancelled": cancelled,
        "currency": currency, "minor_units_per_unit": 10 ** exponent(currency),
        "steps": steps,
        "contributions": [
            {"event_id": c["event_id"], "position": c["position"], "kind": c["kind"],
             "weight": c["points"], "role": c["role"], "contribution_id": c["contribution_id"],
             "occurred_on": c["occurred_on"]}
            for c in (line["contributions"] if line else [])
        ],
        "excluded": excluded,
        "adjustments": adjustments,
        "policy": {k: doc["policy"][k] for k in ("name", "version", "hash")},
    }


class StepOut(Out):
    step: int
    name: str
    formula: str
    value: str


class CitedContributionOut(Out):
    event_id: str
    position: int | None
    kind: str
    role: str
    contribution_id: str
    occurred_on: str


class CountedContributionOut(CitedContributionOut):
    weight: int


class ExcludedContributionOut(CitedContributionOut):
    reason: str


class AdjustmentEntryOut(Out):
    entry_id: str
    amount: str
    pays: str
    kind: str
    period: str


class AdjustmentOut(Out):
    cause: str = Field(description="reversal:<cid> | correction:<n> | refund:<id> | cancellation | "
                                   "dispute:<id>")
    reason: str | None
    event_id: str
    position: int
    by: str
    at: str | None
    before: str
    after: str
    entries: list[AdjustmentEntryOut]


class ExplainOut(Out):
    allocation_id: str
    opportunity_id: str
    member_id: str
    amount: str = Field(description="the line's current amount")
    approved_amount: str | None
    paid: str
    cancelled: bool
    currency: str
    minor_units_per_unit: int
    steps: list[StepOut] = Field(description="the arithmetic in minor units, exact fractions")
    contributions: list[CountedContributionOut]
    excluded: list[ExcludedContributionOut]
    adjustments: list[AdjustmentOut] = Field(description="each fact after the proposal that changed "
                                                         "this member's line")
    policy: PolicyRef
