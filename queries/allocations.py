"""An allocation as a reader sees it (a member: only their own line), the explanation of one
line from the pool down to every counted contribution and late fact, and disputes."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from uuid import UUID

from pydantic import Field

from domain.aggregates import Allocation
from domain.allocation import AFTER_CLOSE
from domain.application import Actor, require
from domain.exceptions import AllocationNotFound, NotAllowed
from domain.money import format_amount
from projections.allocations import DEALS, VIEW, latest_result
from projections.store import ViewStore
from queries.access import own_line_only, readable_allocation, readable_board, readable_dispute
from queries.explain import ExplainOut, explain, line_figures
from queries.models import Absent, Money, Out, PolicyRef


class AllocationQuery:
    """Reads the allocation read model for an actor: a member sees only their own line."""

    def __init__(self, views: ViewStore) -> None:
        self.views = views

    def get(self, actor: Actor, allocation_id: str) -> AllocationOut:
        doc = readable_allocation(self.views, allocation_id, actor)
        return AllocationOut.model_validate(present_allocation(doc, only_member=own_line_only(actor)))

    def of_opportunity(self, actor: Actor, opportunity_id: str) -> AllocationOut:
        board = readable_board(self.views, opportunity_id, actor)
        doc = self.views.get(VIEW, str(Allocation.create_id(UUID(board["opportunity_id"]))))
        if doc is None:
            raise AllocationNotFound("has no allocation: the opportunity is not won", field="opportunity_id")
        return AllocationOut.model_validate(present_allocation(doc, only_member=own_line_only(actor)))

    def explain(self, actor: Actor, allocation_id: str, member_id: str | None = None) -> ExplainOut:
        """How one member's line (default the actor's) was computed; a member: only their own."""
        member_id = member_id or actor.member_id
        doc = readable_allocation(self.views, allocation_id, actor)
        if own_line_only(actor) not in (None, member_id):
            raise NotAllowed("a member sees the explanation of their own line only", field="member_id")
        return ExplainOut.model_validate(explain(doc, member_id))

    def dispute(self, actor: Actor, dispute_id: str) -> DisputeOut:
        return DisputeOut.model_validate(present_dispute(readable_dispute(self.views, dispute_id, actor)))

    def cash(self, actor: Actor, opportunity_id: str) -> DealCashOut:
        """A won deal's cash as finance, auditors and admins read it: its payments, refunds and
        cancellation with their log positions, the cash collected and the fraction of the held
        parts it releases (others: NotAllowed, before the deal is looked for)."""
        require(actor, "read the books", "read a deal's cash")
        board = readable_board(self.views, opportunity_id, actor)
        oid = board["opportunity_id"]
        doc = self.views.get(VIEW, str(Allocation.create_id(UUID(oid))))
        if doc is None:
            raise AllocationNotFound("has no allocation: the opportunity is not won", field="opportunity_id")
        return DealCashOut.model_validate(present_cash(board, doc, self.views.get(DEALS, oid) or {}))


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


def present_cash(board: dict, doc: dict, deal: dict) -> dict:
    """A won deal's cash: `amount` is the deal as its facts stand now (after refunds and
    corrections), `cash` what was collected net of refunds, `released` the fraction of every held
    part that cash releases, exactly (cash / amount, at most 1: domain/payables.py `released`),
    each payment, refund and the cancellation with who recorded it and its log position."""
    currency = doc["currency"]

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    amount = latest_result(doc)["amount"]
    cash = deal.get("cash", 0)
    won = deal.get("won") or {}
    cancellation = deal.get("cancellation")
    cancelled = bool(doc.get("cancelled")) or cancellation is not None
    facts = [*deal.get("payments", []), *deal.get("refunds", []), *([cancellation] if cancellation else [])]
    return {
        "opportunity_id": board["opportunity_id"], "name": board["name"], "allocation_id": doc["id"],
        "allocation_status": doc["status"], "stage": "cancelled" if cancelled else "won",
        "currency": currency, "closed_on": doc["result"]["closed_on"],
        "won_amount": money(won.get("amount", doc["result"]["amount"])), "amount": money(amount),
        "cash": money(cash), "outstanding": money(max(amount - cash, 0)),
        "released": str(Fraction(1) if amount <= 0 or cash >= amount else Fraction(max(cash, 0), amount)),
        "payments": [{**p, "amount": money(p["amount"])} for p in deal.get("payments", [])],
        "refunds": [{**r, "amount": money(r["amount"])} for r in deal.get("refunds", [])],
        "cancellation": cancellation,
        "members_with_a_line": sorted(doc.get("targets", {})),
        "kept_from": deal.get("cash_from", 1) if "payments" in deal else None,
        "position": max([doc["position"], *(f["position"] for f in facts)]),
    }


def present_dispute(doc: dict) -> dict:
    """A dispute as clients read it: who raised it, why, and how finance resolved it."""
    resolution = doc["resolution"]
    if resolution is not None and resolution["corrected_amount"] is not None:
        resolution = {**resolution,
                      "corrected_amount": format_amount(resolution["corrected_amount"], doc["currency"])}
    return {**doc, "resolution": resolution}


# -- the answer models --------------------------------------------------------------------------

class PaidPartsOut(Out):
    amount: str
    upfront: str
    release: str


class TargetOut(Out):
    amount: str
    upfront: str
    held: str


class AllocationLineOut(Out):
    member_id: str
    roles: list[str]
    points: int
    points_by_role: dict[str, int]
    amount: str
    upfront: str
    held: str
    exact: int | str = Field(description="the line in minor units before rounding, after the cap, "
                                         "exactly (an integer or n/d)")
    approved: str | None = Field(description="the line at approval; null before")
    current: str = Field(description="what the member is owed now, after late facts and upheld "
                                     "disputes (the target's upfront + held)")
    paid: str = Field(description="the sum of the member's entries so far")
    paid_parts: PaidPartsOut = Field(description="paid by what it pays for: amount, upfront, release")
    target: TargetOut = Field(description="current by part: amount, upfront, held")


class CurrentSplitOut(Out):
    deal: Money
    grade: str
    pool: Money
    unallocated: Money
    cancelled: bool


class DealCorrectionOut(Out):
    amount: str
    previous: str
    by: str
    at: str
    reason: str | None
    position: int


class ExcludedWorkOut(Out):
    """confirmed_work_excluded: a confirmed contribution after the close date."""

    contribution_id: str
    member_id: str
    kind: str
    role: str
    occurred_on: str
    event_id: str
    position: int | None


class ReversedWorkOut(Out):
    """reversed_after_win: a contribution reversed after the win."""

    contribution_id: str
    member_id: str | None
    kind: str | None
    status_before: str | None
    by: str
    reason: str
    at: str
    position: int


class CappedLineOut(Out):
    member_id: str
    exact: int | str
    capped: int | str
    amount: str


class ReviewFlagOut(Out):
    code: str = Field(description="won_above_pipeline | backdated_close | confirmed_work_excluded | "
                                   "reversed_after_win | cap_reached | unallocated_pool")
    message: str
    opened_amount: str = Absent("won_above_pipeline")
    won_amount: str = Absent("won_above_pipeline")
    won_by: str = Absent("won_above_pipeline, backdated_close")
    win_position: int = Absent("won_above_pipeline, backdated_close")
    corrections: list[DealCorrectionOut] = Absent("won_above_pipeline: the amount's corrections "
                                                  "while open")
    closed_on: str = Absent("backdated_close, confirmed_work_excluded")
    recorded_at: str = Absent("backdated_close: when the win was recorded")
    contributions: list[ExcludedWorkOut | ReversedWorkOut] = Absent(
        "confirmed_work_excluded, reversed_after_win")
    member_cap: str = Absent("cap_reached")
    cap_amount: int | str = Absent("cap_reached: in minor units, exactly")
    lines: list[CappedLineOut] = Absent("cap_reached")
    amount: str = Absent("unallocated_pool: what goes to nobody")
    pool: str = Absent("unallocated_pool")


class AllocationEventOut(Out):
    cause: str = Field(description="payment:<id> | reversal:<cid> | correction:<n> | refund:<id> | "
                                   "cancellation | dispute:<id>")
    reason: str | None
    by: str
    at: str | None
    position: int


class CorrectsOut(Out):
    allocation_id: str
    member_id: str


class EntryOut(Out):
    entry_id: str
    allocation_id: str
    opportunity_id: str
    member_id: str
    kind: str = Field(description="upfront | release | adjustment")
    pays: str = Field(description="upfront | release")
    amount: str
    currency: str
    on: str
    period: str
    cause: str
    reason: str | None
    corrects: CorrectsOut | None = Field(description="an adjustment: the line it corrects")
    position: int


class AllocationDisputeOut(Out):
    id: str
    member_id: str
    reason: str
    status: str
    raised_at: str
    position: int


class AllocationOut(Out):
    id: str
    opportunity_id: str
    status: str = Field(description="proposed | approved")
    grade: str
    closed_on: str
    deal: Money
    rate: str
    pool: Money
    policy: PolicyRef
    lines: list[AllocationLineOut]
    unallocated: Money
    current: CurrentSplitOut = Field(description="the deal, pool and unallocated as the facts stand now")
    visible_lines: str = Field(description="all | own (a member sees only their own line)")
    won_by: str | None
    win_reason: str | None = Field(description="a lead's reason when the win was a lead's call")
    lead_call: list[str] = Field(description="why the win was a lead's call")
    approved_by: str | None
    approved_at: str | None
    overrides: dict[str, str] = Field(description="per member: the corrected amount of an upheld "
                                                  "dispute")
    history: list[AllocationEventOut] = Field(description="each payment and late fact, in log order")
    entries: list[EntryOut] = Field(description="the payable entries it booked (a member: their own)")
    disputes: list[AllocationDisputeOut]
    open_disputes: int
    review: list[ReviewFlagOut] = Field(description="what makes finance look twice; a member sees "
                                                    "only the flags about their own line")
    position: int


class CashPaymentOut(Out):
    payment_id: str
    amount: str
    received_on: str
    source: str | None = Field(description="the system an inbound message came from (goldsplit "
                                           "consume); null when recorded through a command")
    by: str
    at: str
    position: int


class CashRefundOut(Out):
    refund_id: str
    amount: str
    refunded_on: str
    reason: str
    by: str
    at: str
    position: int


class CancellationOut(Out):
    reason: str
    cancelled_on: str
    by: str
    at: str
    position: int


class DealCashOut(Out):
    opportunity_id: str
    name: str
    allocation_id: str
    allocation_status: str = Field(description="proposed | approved")
    stage: str = Field(description="won | cancelled")
    currency: str
    closed_on: str
    won_amount: str = Field(description="the deal's amount when it was won")
    amount: str = Field(description="the deal's amount as its facts stand now (after refunds and "
                                    "corrections)")
    cash: str = Field(description="collected, net of refunds")
    outstanding: str = Field(description="amount - cash, never below 0")
    released: str = Field(description="the fraction of each held part the cash releases, exactly: "
                                      "cash / amount, at most 1 (\"2/5\", \"1\")")
    payments: list[CashPaymentOut] = Field(description="in log order")
    refunds: list[CashRefundOut] = Field(description="in log order")
    cancellation: CancellationOut | None
    members_with_a_line: list[str] = Field(description="whose line the cash moves: none of them "
                                                       "records its payments (four eyes)")
    kept_from: int | None = Field(description="the log position from which the read model keeps "
                                              "the deal's cash: 1 (all of it), or where a read "
                                              "model older than the cash facts started keeping "
                                              "them (null: none kept yet); `goldsplit rebuild` "
                                              "makes it 1")
    position: int = Field(description="the last event of the allocation or of the deal's cash")


class ResolutionOut(Out):
    decision: str = Field(description="reject | uphold")
    reason: str | None
    corrected_amount: str | None
    by: str
    at: str
    position: int


class DisputeOut(Out):
    id: str
    allocation_id: str
    opportunity_id: str
    member_id: str
    reason: str
    status: str = Field(description="open | rejected | upheld")
    currency: str
    raised_by: str
    raised_at: str
    position: int = Field(description="where it was raised")
    changed_at: int = Field(description="the last event that changed it")
    resolution: ResolutionOut | None
