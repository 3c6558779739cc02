"""Allocations of won deals: the split as proposed and approved (`result`), as the facts stand
now (`latest`: the last Adjusted event's result), each member's target and entries, the overrides
of upheld disputes, the disputes, and the deal's facts finance looks at twice (`deal`).
queries/allocations.py reads the documents.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from domain.aggregates import Allocation, Dispute, Opportunity, event_id
from projections.base import Changes, Projection, happened_at, on_event

VIEW = "allocation"
POSITIONS = "contribution_position"
DISPUTES = "dispute"
ROWS = "allocation_row"  # allocation id -> what the allocations list shows and filters on
DEALS = "allocation_deal"  # opportunity id -> its opened amount, amount corrections while open, win,
#                             and its cash: payments, refunds and cancellation with their positions


def _amounts(targets: dict) -> dict[str, int]:
    return {m: t["upfront"] + t["held"] for m, t in targets.items()}


def latest_result(doc: dict) -> dict:
    """The split as the facts stand now (a document written before `latest` was kept: `result`)."""
    return doc.get("latest") or doc["result"]


def allocation_row(doc: dict) -> dict:
    """An allocation as the lists read it: its state, the split as it stands (grade, close date,
    pool), and `lines`, whoever has a line in it (queries/explain.py `line_figures` is not None)."""
    latest = latest_result(doc)
    lines = ({x["member_id"] for x in doc["result"]["lines"]} | set(doc.get("targets", {}))
             | set(doc.get("paid", {})) | set(doc.get("approved_amounts") or {}))
    return {"id": doc["id"], "opportunity_id": doc["opportunity_id"], "status": doc["status"],
            "cancelled": bool(doc.get("cancelled")), "currency": doc["currency"],
            "latest": {"grade": latest["grade"], "closed_on": latest["closed_on"], "pool": latest["pool"]},
            "lines": sorted(lines)}


class AllocationProjection(Projection):
    """One document per allocation and per dispute; an index from contribution event id to log
    position; one small document per opportunity with what the allocation's review reads."""

    name = "allocation"
    views = (VIEW, POSITIONS, DISPUTES, DEALS, ROWS)
    rows = {VIEW: (ROWS, lambda key, doc: allocation_row(doc))}

    def process(self, event: Any, position: int, changes: Changes) -> None:
        self._on(event, position, changes)

    @on_event
    def _on(self, event: Any, position: int, changes: Changes) -> None:
        """An event no allocation reads."""

    # -- the deal: what the allocation cites and its review reads --------------------------------

    @_on.register(Opportunity.ContributionRecorded)
    def _recorded(self, event: Opportunity.ContributionRecorded, position: int, changes: Changes) -> None:
        changes.put(POSITIONS, str(event_id(event.originator_id, event.originator_version)),
                    {"position": position})

    @_on.register(Opportunity.Opened)
    def _opened(self, event: Opportunity.Opened, position: int, changes: Changes) -> None:
        changes.put(DEALS, str(event.originator_id), {
            "opened_amount": event.amount, "amount": event.amount, "corrections": [], "won": None,
            "payments": [], "refunds": [], "cash": 0, "cancellation": None})

    @_on.register(Opportunity.Won)
    def _won(self, event: Opportunity.Won, position: int, changes: Changes) -> None:
        deal = changes.get(DEALS, str(event.originator_id))
        if deal is None:
            return
        deal["won"] = {"amount": event.amount, "closed_on": event.closed_on, "by": event.actor,
                       "at": happened_at(event), "reason": getattr(event, "reason", None),
                       "lead_call": list(getattr(event, "lead_call", None) or []),
                       "position": position}
        changes.put(DEALS, str(event.originator_id), deal)

    @_on.register(Opportunity.Corrected)
    def _corrected(self, event: Opportunity.Corrected, position: int, changes: Changes) -> None:
        """An amount correction while the deal is open goes to the deal's index."""
        oid = str(event.originator_id)
        deal = changes.get(DEALS, oid)
        if deal is None or deal["won"] is not None or event.amount == deal["amount"]:
            return
        deal["corrections"].append({
            "amount": event.amount, "previous": deal["amount"], "by": event.actor,
            "at": happened_at(event), "reason": getattr(event, "reason", None), "position": position})
        deal["amount"] = event.amount
        changes.put(DEALS, oid, deal)

    # -- the deal's cash: what finance records after the win (web/screens/cash.py reads it) -------

    @_on.register(Opportunity.PaymentReceived)
    def _payment(self, event: Opportunity.PaymentReceived, position: int, changes: Changes) -> None:
        deal = self._cash_of(changes, str(event.originator_id), position)
        if deal is None:
            return
        deal["payments"].append({
            "payment_id": event.payment_id, "amount": event.amount, "received_on": event.received_on,
            "source": event.source, "by": event.actor, "at": happened_at(event), "position": position})
        deal["cash"] += event.amount
        changes.put(DEALS, str(event.originator_id), deal)

    @_on.register(Opportunity.Refunded)
    def _refund(self, event: Opportunity.Refunded, position: int, changes: Changes) -> None:
        deal = self._cash_of(changes, str(event.originator_id), position)
        if deal is None:
            return
        deal["refunds"].append({
            "refund_id": event.refund_id, "amount": event.amount, "refunded_on": event.refunded_on,
            "reason": event.reason, "by": event.actor, "at": happened_at(event), "position": position})
        deal["cash"] -= event.amount
        changes.put(DEALS, str(event.originator_id), deal)

    @_on.register(Opportunity.Cancelled)
    def _cancelled(self, event: Opportunity.Cancelled, position: int, changes: Changes) -> None:
        deal = self._cash_of(changes, str(event.originator_id), position)
        if deal is None:
            return
        deal["cancellation"] = {"reason": event.reason, "cancelled_on": event.cancelled_on,
                                "by": event.actor, "at": happened_at(event), "position": position}
        changes.put(DEALS, str(event.originator_id), deal)

    @staticmethod
    def _cash_of(changes: Changes, opportunity_id: str, position: int) -> dict | None:
        """The deal's index with its cash kept. A document written before the index kept cash
        starts keeping it here: `cash_from` says so, since what came earlier is not in it (until
        `goldsplit rebuild` replays the log into a fresh one)."""
        deal = changes.get(DEALS, opportunity_id)
        if deal is not None and "payments" not in deal:
            deal.update(payments=[], refunds=[], cash=0, cancellation=None, cash_from=position)
        return deal

    @_on.register(Opportunity.ContributionReversed)
    def _reversed(self, event: Opportunity.ContributionReversed, position: int, changes: Changes) -> None:
        """A reversal after the win goes to the allocation's review (the Adjusted event that follows
        it, if any, carries the split as it then stands)."""
        deal = changes.get(DEALS, str(event.originator_id))
        if deal is None or deal["won"] is None:
            return
        doc = changes.get(VIEW, str(Allocation.create_id(event.originator_id)))
        if doc is None:
            return
        cited = next((c for c in _cited(latest_result(doc))
                      if c["contribution_id"] == event.contribution_id), None)
        doc.setdefault("reversed_after_win", []).append({
            "contribution_id": event.contribution_id,
            "member_id": cited["member_id"] if cited else None,
            "kind": cited["kind"] if cited else None,
            "status_before": cited["status"] if cited else None,
            "by": event.actor, "reason": event.reason, "at": happened_at(event), "position": position})
        doc["position"] = position
        changes.put(VIEW, doc["id"], doc)

    # -- the allocation ------------------------------------------------------------------------

    @_on.register(Allocation.Proposed)
    def _proposed(self, event: Allocation.Proposed, position: int, changes: Changes) -> None:
        result = self._positioned(event.result, changes)
        deal = changes.get(DEALS, str(event.opportunity_id))
        changes.put(VIEW, str(event.originator_id), {
            "id": str(event.originator_id), "opportunity_id": str(event.opportunity_id),
            "status": "proposed", "currency": event.currency, "result": result,
            "latest": copy.deepcopy(result), "cancelled": False,
            "policy": event.policy, "proposed_by": event.actor,
            "proposed_at": event.timestamp.isoformat(), "position": position,
            "approved_by": None, "approved_at": None, "approved_amounts": None,
            "targets": {line["member_id"]: {"upfront": line["upfront"], "held": line["held"]}
                        for line in result["lines"]},
            "paid": {}, "overrides": {}, "entries": [], "history": [], "adjustments": [],
            "disputes": [], "reversed_after_win": [],
            "deal": None if deal is None else {k: deal[k] for k in ("opened_amount", "corrections",
                                                                     "won")}})

    @staticmethod
    def _positioned(result: dict, changes: Changes, known: dict[str, int | None] | None = None) -> dict:
        result = copy.deepcopy(result)
        for contribution in _cited(result):
            if known and contribution["event_id"] in known:
                contribution["position"] = known[contribution["event_id"]]
                continue
            found = changes.get(POSITIONS, contribution["event_id"])
            contribution["position"] = found["position"] if found else None
        return result

    @_on.register(Allocation.Approved)
    def _approved(self, event: Allocation.Approved, position: int, changes: Changes) -> None:
        doc = changes.get(VIEW, str(event.originator_id))
        if doc is None:
            return
        doc.update(status="approved", approved_by=event.actor, approved_at=getattr(event, "at", None),
                   approved_position=position, approved_amounts=_amounts(doc["targets"]))
        self._booked(doc, event, position, changes)

    @_on.register(Allocation.Released)
    def _released(self, event: Allocation.Released, position: int, changes: Changes) -> None:
        doc = changes.get(VIEW, str(event.originator_id))
        if doc is None:
            return
        doc["history"].append({"cause": f"payment:{event.payment_id}", "reason": None,
                               "by": event.actor, "at": getattr(event, "at", None), "position": position})
        self._booked(doc, event, position, changes)

    @_on.register(Allocation.Adjusted)
    def _adjusted(self, event: Allocation.Adjusted, position: int, changes: Changes) -> None:
        doc = changes.get(VIEW, str(event.originator_id))
        if doc is None:
            return
        at = getattr(event, "at", None)
        before, after = _amounts(doc["targets"]), _amounts(event.targets)
        doc.update(targets=event.targets, overrides=event.overrides)
        if event.result is not None:
            latest = self._positioned(event.result, changes, _positions(latest_result(doc)))
            doc.update(latest=latest, cancelled=False)
            if doc["status"] == "proposed":
                doc["result"] = copy.deepcopy(latest)
        else:
            doc["cancelled"] = True
        doc["history"].append({"cause": event.cause, "reason": event.reason, "by": event.actor,
                               "at": at, "position": position})
        doc.setdefault("adjustments", []).append({
            "cause": event.cause, "reason": event.reason, "by": event.actor, "at": at,
            "position": position,
            "event_id": str(event_id(event.originator_id, event.originator_version)),
            "before": before, "after": after,
            "entries": [{k: e[k] for k in ("entry_id", "member_id", "amount", "pays", "kind",
                                           "period")} for e in event.entries]})
        if event.cause.startswith("dispute:"):
            dispute = changes.get(DISPUTES, event.cause.removeprefix("dispute:"))
            if dispute is not None and dispute["resolution"] and dispute["resolution"]["reason"] is None:
                dispute["resolution"]["reason"] = event.reason.removeprefix("dispute upheld: ")
                changes.put(DISPUTES, dispute["id"], dispute)
        self._booked(doc, event, position, changes)

    @staticmethod
    def _booked(doc: dict, event: Allocation.Event, position: int, changes: Changes) -> None:
        """What the event books: its entries, each member's paid total."""
        for entry in event.entries:
            paid = doc["paid"].setdefault(entry["member_id"], {"upfront": 0, "release": 0})
            paid[entry["pays"]] += entry["amount"]
            doc["entries"].append({**entry, "position": position})
        doc["position"] = position
        changes.put(VIEW, doc["id"], doc)

    # -- disputes ------------------------------------------------------------------------------

    @_on.register(Dispute.Raised)
    def _dispute_raised(self, event: Dispute.Raised, position: int, changes: Changes) -> None:
        allocation = changes.get(VIEW, str(event.allocation_id))
        if allocation is None:
            return
        self._dispute_changed({
            "id": str(event.originator_id), "allocation_id": allocation["id"],
            "opportunity_id": allocation["opportunity_id"], "currency": allocation["currency"],
            "member_id": event.member_id, "reason": event.reason, "status": "open",
            "raised_by": event.actor, "raised_at": event.timestamp.isoformat(),
            "position": position, "resolution": None}, allocation, position, changes)

    @_on.register(Dispute.Rejected)
    def _dispute_rejected(self, event: Dispute.Rejected, position: int, changes: Changes) -> None:
        self._dispute_resolved(event, "rejected", {
            "decision": "reject", "reason": event.reason, "corrected_amount": None}, position, changes)

    @_on.register(Dispute.Upheld)
    def _dispute_upheld(self, event: Dispute.Upheld, position: int, changes: Changes) -> None:
        # Upheld carries no reason: the adjustment it causes does, and fills it in.
        self._dispute_resolved(event, "upheld", {
            "decision": "uphold", "reason": getattr(event, "reason", None),
            "corrected_amount": event.corrected_amount}, position, changes)

    def _dispute_resolved(self, event: Dispute.Event, status: str, decision: dict, position: int,
                          changes: Changes) -> None:
        dispute = changes.get(DISPUTES, str(event.originator_id))
        if dispute is None:
            return
        allocation = changes.get(VIEW, dispute["allocation_id"])
        dispute.update(status=status, resolution={
            **decision, "by": event.actor, "at": event.timestamp.isoformat(), "position": position})
        self._dispute_changed(dispute, allocation, position, changes)

    @staticmethod
    def _dispute_changed(dispute: dict, allocation: dict | None, position: int, changes: Changes) -> None:
        """Keep the dispute's document, and its summary on its allocation's (which it changed)."""
        key = dispute["id"]
        dispute["changed_at"] = position
        changes.put(DISPUTES, key, dispute)
        if allocation is not None:
            allocation["disputes"] = [*(d for d in allocation["disputes"] if d["id"] != key),
                                      {k: dispute[k] for k in ("id", "member_id", "reason", "status",
                                                               "raised_at", "position")}]
            allocation["disputes"].sort(key=lambda d: d["position"])
            allocation["position"] = position
            changes.put(VIEW, allocation["id"], allocation)


def _cited(result: dict) -> Iterator[dict]:
    """Every contribution an allocation result cites: counted, excluded, and per line."""
    yield from result["counted"]
    yield from result["excluded"]
    for line in result["lines"]:
        yield from line["contributions"]


def _positions(result: dict) -> dict[str, int | None]:
    return {c["event_id"]: c.get("position") for c in _cited(result)}


# -- reading an allocation -----------------------------------------------------------------------

