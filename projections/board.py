"""The opportunity board: triangle, supporters and the timeline of contributions, per opportunity."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.aggregates import Opportunity, event_id
from domain.allocation import CountedContribution, allocate
from domain.money import format_amount
from domain.policy import IncentivePolicy
from projections.base import Changes, Projection

VIEW = "board"


class BoardProjection(Projection):
    """Keeps one document per opportunity with the facts its board shows."""

    name = "board"
    views = (VIEW,)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        if not isinstance(event, Opportunity.Event):
            return
        key = str(event.originator_id)
        at = event.timestamp.isoformat()
        if isinstance(event, Opportunity.Opened):
            doc = {
                "opportunity_id": key, "account_id": event.account_id, "name": event.name,
                "amount": event.amount, "currency": event.currency,
                "expected_close": event.expected_close, "grade": event.grade,
                "attributes": event.attributes, "stage": "open", "closed_on": None,
                "triangle": {"AR": None, "SR": None, "FR": None}, "triangle_history": [],
                "supporters": [], "contributions": [], "requests": [], "assessment": None,
                "opened_by": event.actor, "opened_at": at,
            }
        else:
            doc = changes.get(VIEW, key)
            if doc is None:
                return
            self._apply(doc, event, position, at)
        doc["position"] = position
        changes.put(VIEW, key, doc)

    @staticmethod
    def _apply(doc: dict, event: Any, position: int, at: str) -> None:
        if isinstance(event, Opportunity.TriangleRoleAssigned):
            doc["triangle"][event.role] = event.member_id
            doc["triangle_history"].append({
                "role": event.role, "member_id": event.member_id, "previous": event.previous,
                "by": event.actor, "at": at, "position": position})
        elif isinstance(event, Opportunity.SupporterAdded):
            doc["supporters"].append(event.member_id)
        elif isinstance(event, Opportunity.ContributionRecorded):
            doc["contributions"].append({
                "id": event.contribution_id, "member_id": event.member_id, "role": event.role,
                "kind": event.kind, "summary": event.summary, "hours": event.hours,
                "occurred_at": event.occurred_at, "evidence_url": event.evidence_url,
                "status": "recorded", "recorded_by": event.actor, "recorded_at": at,
                "event_id": str(event_id(event.originator_id, event.originator_version)), "position": position})
        elif isinstance(event, Opportunity.ContributionConfirmed):
            _contribution(doc, event.contribution_id).update(
                status="confirmed", confirmed_by=event.actor, confirmed_position=position)
        elif isinstance(event, Opportunity.ContributionReversed):
            _contribution(doc, event.contribution_id).update(
                status="reversed", reversed_by=event.actor, reversal_reason=event.reason,
                reversed_position=position)
        elif isinstance(event, Opportunity.Won):
            doc.update(stage="won", amount=event.amount, closed_on=event.closed_on)
        elif isinstance(event, Opportunity.Lost):
            doc.update(stage="lost", closed_on=event.closed_on, loss_reason=event.reason)


def _contribution(doc: dict, contribution_id: str) -> dict:
    return next(c for c in doc["contributions"] if c["id"] == contribution_id)


def present_board(doc: dict, policy: IncentivePolicy, today: date, position: int,
                  only_member: str | None = None) -> dict:
    """The board as clients read it: points by the policy in force and the split if won today.

    `position` is how far the board projection had read when `doc` was fetched: the board shows
    every event up to it (`changed_at` is the last event that changed this board). The work and
    points are open to the whole team; of the money, `only_member` sees only their own line.
    """
    weights = policy.kind_weights
    contributions = [
        {**c, "points": 0 if c["status"] == "reversed" else weights.get(c["kind"], 0)}
        for c in doc["contributions"]
    ]
    points_by_member: dict[str, int] = {}
    pending_by_member: dict[str, int] = {}
    for c in contributions:
        tally = {"confirmed": points_by_member, "recorded": pending_by_member}.get(c["status"])
        if tally is not None:
            tally[c["member_id"]] = tally.get(c["member_id"], 0) + c["points"]
    projected = None
    if doc["stage"] == "open":
        result = allocate(amount=doc["amount"], grade=doc["grade"], closed_on=today,
                          contributions=[CountedContribution.from_record(c)
                                         for c in doc["contributions"]], policy=policy)
        currency = doc["currency"]
        projected = {
            "as_of": today.isoformat(), "policy": policy.reference(),
            "pool": {"amount": format_amount(result.pool, currency), "currency": currency},
            "lines": [{"member_id": line.member_id, "roles": line.roles,
                       "points": line.total_points,
                       "amount": format_amount(line.amount, currency)} for line in result.lines
                      if only_member in (None, line.member_id)],
            "visible_lines": "all" if only_member is None else "own",
            "unallocated": {"amount": format_amount(result.unallocated, currency),
                            "currency": currency},
        }
    return {
        **{k: v for k, v in doc.items() if k not in ("amount", "contributions", "position")},
        "position": max(position, doc["position"]), "changed_at": doc["position"],
        "amount": {"amount": format_amount(doc["amount"], doc["currency"]),
                   "currency": doc["currency"]},
        "contributions": contributions,
        "points_by_member": dict(sorted(points_by_member.items())),
        "pending_points_by_member": dict(sorted(pending_by_member.items())),
        "projected_split": projected,
    }
