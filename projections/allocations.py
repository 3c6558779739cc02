"""Allocations of won deals: the split as proposed and approved (`result`, with the log position of
every counted contribution), the split as the facts stand now (`latest`), each member's target and
what is payable to them so far (their entries), what each adjustment changed per member, the
overrides of upheld disputes, the disputes raised on it, and the facts of the deal finance looks
at twice (`deal`: the opened amount, its amount corrections while open, the win; and the
contributions reversed after the win).

`latest` is the latest Adjusted event's result (the Proposed one's before any): the domain records
an Adjusted event for every late fact that changes the split, also one that moves no line."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from domain.aggregates import Allocation, Dispute, Opportunity, event_id
from domain.allocation import AFTER_CLOSE
from domain.exceptions import MemberNotFound
from domain.money import exponent, format_amount
from projections.base import Changes, Projection, happened_at, on_event

VIEW = "allocation"
POSITIONS = "contribution_position"
DISPUTES = "dispute"
DEALS = "allocation_deal"  # opportunity id -> its opened amount, amount corrections while open, win


def _amounts(targets: dict) -> dict[str, int]:
    return {m: t["upfront"] + t["held"] for m, t in targets.items()}


def latest_result(doc: dict) -> dict:
    """The split as the facts stand now (a document written before `latest` was kept: `result`)."""
    return doc.get("latest") or doc["result"]


class AllocationProjection(Projection):
    """One document per allocation and per dispute; an index from contribution event id to log
    position; one small document per opportunity with what the allocation's review reads."""

    name = "allocation"
    views = (VIEW, POSITIONS, DISPUTES, DEALS)

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
            "opened_amount": event.amount, "amount": event.amount, "corrections": [], "won": None})

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
        """Keep the dispute's document, and its summary on its allocation's."""
        key = dispute["id"]
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


def _positions(result: dict) -> dict[str, int | None]:
    return {c["event_id"]: c.get("position") for c in _cited(result)}


# -- reading an allocation -----------------------------------------------------------------------

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


def _members(doc: dict) -> list[str]:
    """Every member with a line: the split's, then anyone else with a target or entries."""
    listed = [line["member_id"] for line in doc["result"]["lines"]]
    others = set(doc.get("targets", {})) | set(doc.get("paid", {})) | set(doc.get("approved_amounts") or {})
    return listed + sorted(others - set(listed))


def _current(doc: dict, money: Callable[[int], str]) -> dict:
    latest = latest_result(doc)
    cancelled = bool(doc.get("cancelled"))
    currency = doc["currency"]
    return {"deal": {"amount": money(latest["amount"]), "currency": currency},
            "grade": latest["grade"],
            "pool": {"amount": money(0 if cancelled else latest["pool"]), "currency": currency},
            "unallocated": {"amount": money(0 if cancelled else latest["unallocated"]),
                            "currency": currency},
            "cancelled": cancelled}


def present_allocation(doc: dict, only_member: str | None = None) -> dict:
    """The allocation as clients read it; `only_member` keeps just that member's line.

    Each line shows `amount` (as proposed and, once approved, as approved: with `unallocated` it
    adds up to `pool`), `approved` (the line at approval, None before), `current` (what the member
    is owed now, after late facts and upheld disputes: their `target`), and `paid` (the sum of
    their entries; `paid_parts` by what they pay for). A member who no longer has a line in the
    split as it stands but was paid keeps one, with current 0. `current` is the deal, pool and
    unallocated amount as the facts stand now; `review` what makes finance look twice (a member
    sees only the flags about their own line). `open_disputes` counts the disputes still open.
    """
    currency = doc["currency"]
    result = doc["result"]

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    def visible(member_id: str) -> bool:
        return only_member is None or member_id == only_member

    targets = doc.get("targets", {})
    paid = doc.get("paid", {})
    by_member = {line["member_id"]: line for line in result["lines"]}

    def target(member_id: str) -> dict:
        parts = targets.get(member_id, {"upfront": 0, "held": 0})
        return {"amount": money(parts["upfront"] + parts["held"]), "upfront": money(parts["upfront"]),
                "held": money(parts["held"])}

    def paid_of(member_id: str) -> dict:
        parts = paid.get(member_id, {"upfront": 0, "release": 0})
        return {"amount": money(parts["upfront"] + parts["release"]), "upfront": money(parts["upfront"]),
                "release": money(parts["release"])}

    lines = []
    for member_id in filter(visible, _members(doc)):
        line = by_member.get(member_id) or {
            "roles": [], "total_points": 0, "points": {}, "amount": 0, "upfront": 0, "held": 0,
            "capped": 0}
        figures = line_figures(doc, member_id)
        lines.append({
            "member_id": member_id, "roles": line["roles"], "points": line["total_points"],
            "points_by_role": line["points"], "amount": money(line["amount"]),
            "upfront": money(line["upfront"]), "held": money(line["held"]), "exact": line["capped"],
            "approved": None if figures["approved"] is None else money(figures["approved"]),
            "current": money(figures["current"]), "paid": money(figures["paid"]),
            "target": target(member_id), "paid_parts": paid_of(member_id)})
    disputes = [d for d in doc.get("disputes", []) if visible(d["member_id"])]
    hidden = {f"dispute:{d['id']}" for d in doc.get("disputes", []) if not visible(d["member_id"])}
    won = (doc.get("deal") or {}).get("won") or {}
    return {
        "id": doc["id"], "opportunity_id": doc["opportunity_id"], "status": doc["status"],
        "grade": result["grade"], "closed_on": result["closed_on"],
        "deal": {"amount": money(result["amount"]), "currency": currency},
        "rate": result["rate"],
        "pool": {"amount": money(result["pool"]), "currency": currency},
        "policy": {k: doc["policy"][k] for k in ("name", "version", "hash")},
        "lines": lines,
        "unallocated": {"amount": money(result["unallocated"]), "currency": currency},
        "current": _current(doc, money),
        "visible_lines": "all" if only_member is None else "own",
        "won_by": won.get("by"), "win_reason": won.get("reason"), "lead_call": won.get("lead_call", []),
        "approved_by": doc.get("approved_by"), "approved_at": doc.get("approved_at"),
        "overrides": {m: money(amount) for m, amount in sorted(doc.get("overrides", {}).items())
                      if visible(m)},
        "history": [h for h in doc.get("history", []) if h["cause"] not in hidden],  # others' disputes
        "entries": [{**e, "amount": money(e["amount"])} for e in doc.get("entries", [])
                    if visible(e["member_id"])],
        "disputes": disputes,
        "open_disputes": sum(d["status"] == "open" for d in disputes),
        "review": review(doc, only_member),
        "position": doc["position"],
    }


def _month(iso: str) -> str:
    return iso[:7]


def review(doc: dict, only_member: str | None = None) -> list[dict]:
    """What makes finance look twice at this allocation, each flag with its numbers.

    A member (`only_member`) sees only the flags about their own line: their capped line, their
    confirmed work after the close date, their work reversed after the win.
    """
    currency = doc["currency"]
    latest = latest_result(doc)
    deal = doc.get("deal") or {}
    won = deal.get("won")

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    def mine(member_id: str | None) -> bool:
        return only_member is None or member_id == only_member

    flags: list[dict] = []
    if only_member is None and won and won["amount"] > deal["opened_amount"]:
        flags.append({
            "code": "won_above_pipeline",
            "message": f"won at {money(won['amount'])} {currency}, above the "
                       f"{money(deal['opened_amount'])} {currency} the deal was opened with",
            "opened_amount": money(deal["opened_amount"]), "won_amount": money(won["amount"]),
            "won_by": won["by"], "win_position": won["position"],
            "corrections": [{**c, "amount": money(c["amount"]), "previous": money(c["previous"])}
                            for c in deal["corrections"]]})
    if only_member is None and won and _month(won["closed_on"]) < _month(won["at"]):
        flags.append({
            "code": "backdated_close",
            "message": f"closed on {won['closed_on']}, in an earlier month than the win was recorded "
                       f"({won['at'][:10]})",
            "closed_on": won["closed_on"], "recorded_at": won["at"], "won_by": won["by"],
            "win_position": won["position"]})
    late = [{k: c[k] for k in ("contribution_id", "member_id", "kind", "role", "occurred_on",
                               "event_id", "position")}
            for c in latest["excluded"] if c["reason"] == AFTER_CLOSE and mine(c["member_id"])]
    if late:
        flags.append({
            "code": "confirmed_work_excluded",
            "message": f"{len(late)} confirmed contribution(s) after the close date "
                       f"{latest['closed_on']} do not count",
            "closed_on": latest["closed_on"], "contributions": late})
    reversed_after = [r for r in doc.get("reversed_after_win", []) if mine(r["member_id"])]
    if reversed_after:
        flags.append({
            "code": "reversed_after_win",
            "message": f"{len(reversed_after)} contribution(s) reversed after the win",
            "contributions": reversed_after})
    cap = latest.get("cap_amount")
    if cap is not None:
        capped = [{"member_id": line["member_id"], "exact": line["exact"], "capped": line["capped"],
                   "amount": money(line["amount"])}
                  for line in latest["lines"]
                  if Fraction(str(line["capped"])) == Fraction(str(cap)) and mine(line["member_id"])]
        if capped:
            flags.append({
                "code": "cap_reached",
                "message": f"{len(capped)} line(s) cut to the member cap of {latest['member_cap']} × "
                           f"pool = {money(math.floor(Fraction(str(cap))))} {currency}",
                "member_cap": latest["member_cap"], "cap_amount": cap, "lines": capped})
    if only_member is None and not doc.get("cancelled") and latest["unallocated"] > 0:
        flags.append({
            "code": "unallocated_pool",
            "message": f"{money(latest['unallocated'])} {currency} of the pool of "
                       f"{money(latest['pool'])} {currency} goes to nobody",
            "amount": money(latest["unallocated"]), "pool": money(latest["pool"])})
    return flags


def present_dispute(doc: dict) -> dict:
    """A dispute as clients read it: who raised it, why, and how finance resolved it."""
    resolution = doc["resolution"]
    if resolution is not None and resolution["corrected_amount"] is not None:
        resolution = {**resolution,
                      "corrected_amount": format_amount(resolution["corrected_amount"], doc["currency"])}
    return {**doc, "resolution": resolution}


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
