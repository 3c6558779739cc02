"""The queues of what waits on a reader's decision: work to confirm, allocations to approve,
disputes to resolve (and a member's own disputes), each keeping to who may do what.

Listing scans the read models with `views.all(...)` (the boards, the allocations, the disputes):
acceptable while they are a few thousand documents; a read model keyed by what waits on whom is
later work.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from domain.application import MAY, Actor, Goldsplit, require
from domain.money import format_amount
from projections.allocations import DISPUTES, latest_result
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import VIEW as BOARDS
from projections.board import BoardProjection
from projections.store import ViewStore
from queries.allocations import DisputeOut, present_dispute, review
from queries.explain import line_figures
from queries.models import Money, Out, PolicyRef

ALLOCATION_PROJECTION = "allocation"


def decides_money(actor: Actor) -> bool:
    """Finance approves allocations and resolves disputes (the domain's rule, MAY)."""
    return actor.role in MAY["move money"]


class QueueQuery:
    """What waits on the reader, read from the boards, the allocations and the disputes.

    Each list scans its view (`views.all`): see the module's docstring.
    """

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def confirmations(self, actor: Actor) -> ConfirmationsOut:
        """Work recorded by others on open deals and not yet confirmed, oldest first: every open
        deal's for a lead, the deals they are the AR of for anyone else; never the reader's own."""
        position = self.views.position(BoardProjection.name)  # before the documents: as fresh
        waiting = []
        for board in self.views.all(BOARDS).values():
            if board["stage"] != "open":
                continue
            as_ar = board["triangle"].get("AR") == actor.member_id
            if not (as_ar or actor.leads):
                continue
            waiting.extend({
                "opportunity_id": board["opportunity_id"], "opportunity_name": board["name"],
                "account_id": board["account_id"], "contribution_id": c["id"],
                "member_id": c["member_id"], "role": c["role"], "kind": c["kind"],
                "summary": c["summary"], "hours": c["hours"], "occurred_at": c["occurred_at"],
                "evidence_url": c.get("evidence_url"), "recorded_by": c["recorded_by"],
                "recorded_at": c["recorded_at"], "position": c["position"],
                "confirms_as": "AR" if as_ar else "lead"}
                for c in board["contributions"]
                if c["status"] == "recorded" and c["member_id"] != actor.member_id)
        waiting.sort(key=lambda c: (c["position"], c["contribution_id"]))
        return ConfirmationsOut.model_validate({
            "member_id": actor.member_id, "position": position, "confirmations": waiting})

    def approvals(self, actor: Actor) -> ApprovalsOut:
        """Finance's queue: allocations proposed and not yet approved, oldest first, each with what
        to look at twice, and whether the reader may approve it (not with a line in it)."""
        require(actor, "move money", "reads the approvals queue")
        position = min(self.views.position(ALLOCATION_PROJECTION),
                       self.views.position(BoardProjection.name))
        proposed = [doc for doc in self.views.all(ALLOCATIONS).values() if doc["status"] == "proposed"]
        proposed.sort(key=lambda doc: (doc.get("proposed_at") or "", doc["id"]))
        return ApprovalsOut.model_validate({
            "position": position,
            "allocations": [self._approval(doc, actor) for doc in proposed]})

    def _approval(self, doc: dict, actor: Actor) -> dict:
        currency = doc["currency"]
        latest = latest_result(doc)
        board = self.views.get(BOARDS, doc["opportunity_id"]) or {}

        def money(minor: int) -> dict:
            return {"amount": format_amount(minor, currency), "currency": currency}

        warnings = []
        open_disputes = sum(d["status"] == "open" for d in doc.get("disputes", []))
        if open_disputes:
            warnings.append({"code": "open_disputes",
                             "message": f"{open_disputes} open dispute(s) on its lines"})
        closed_on = date.fromisoformat(latest["closed_on"])
        unconfirmed = [c for c in board.get("contributions", []) if c["status"] == "recorded"
                       and datetime.fromisoformat(c["occurred_at"]).date() <= closed_on]
        if unconfirmed:
            warnings.append({"code": "unconfirmed_work",
                             "message": f"{len(unconfirmed)} contribution(s) on or before the close "
                                        f"date {latest['closed_on']} were never confirmed and do not "
                                        "count"})
        warnings.extend({"code": flag["code"], "message": flag["message"]} for flag in review(doc))
        if doc.get("cancelled"):
            warnings.append({"code": "cancelled", "message": "the deal is cancelled: nothing of it is "
                                                             "payable"})
        has_line = actor.member_id in doc.get("targets", {})
        if has_line:
            warnings.append({"code": "own_line", "message": "you have a line in it: another member of "
                                                            "finance approves it"})
        return {
            "allocation_id": doc["id"], "opportunity_id": doc["opportunity_id"],
            "opportunity_name": board.get("name", doc["opportunity_id"]),
            "grade": latest["grade"], "closed_on": latest["closed_on"],
            "deal": money(latest["amount"]), "pool": money(latest["pool"]),
            "unallocated": money(latest["unallocated"]),
            "policy": {k: doc["policy"][k] for k in ("name", "version", "hash")},
            "lines": len(latest["lines"]), "proposed_by": doc.get("proposed_by"),
            "proposed_at": doc.get("proposed_at"), "position": doc["position"],
            "open_disputes": open_disputes, "unconfirmed_contributions": len(unconfirmed),
            "warnings": warnings, "has_line": has_line,
            "approvable": not has_line and not doc.get("cancelled")}

    def disputes(self, actor: Actor) -> DisputesOut:
        """The reader's own disputes (any status), and for finance the open ones by age, oldest
        first, each saying whether the reader may resolve it (never their own)."""
        position = self.views.position(ALLOCATION_PROJECTION)
        today = self.app.clock().date()
        documents = sorted(self.views.all(DISPUTES).values(), key=lambda d: (d["position"], d["id"]))
        allocations: dict[str, dict | None] = {}
        names: dict[str, str] = {}

        def queued(doc: dict) -> dict:
            aid = doc["allocation_id"]
            if aid not in allocations:
                allocations[aid] = self.views.get(ALLOCATIONS, aid)
            oid = doc["opportunity_id"]
            if oid not in names:
                names[oid] = (self.views.get(BOARDS, oid) or {}).get("name", oid)
            allocation = allocations[aid]
            figures = line_figures(allocation, doc["member_id"]) if allocation else None
            own = doc["member_id"] == actor.member_id
            has_line = bool(allocation) and actor.member_id in allocation.get("targets", {})
            raised = datetime.fromisoformat(doc["raised_at"]).date()
            return {**present_dispute(doc), "opportunity_name": names[oid],
                    "line": None if figures is None else format_amount(figures["current"],
                                                                       doc["currency"]),
                    "age_days": max((today - raised).days, 0), "own": own, "has_line": has_line,
                    "resolvable": decides_money(actor) and not own and not has_line
                                  and doc["status"] == "open"}

        mine = [queued(d) for d in documents if d["member_id"] == actor.member_id]
        queue = ([queued(d) for d in documents if d["status"] == "open"]
                 if decides_money(actor) else [])
        return DisputesOut.model_validate({
            "member_id": actor.member_id, "position": position, "decides": decides_money(actor),
            "mine": mine, "open": queue})


# -- the answer models --------------------------------------------------------------------------

class ConfirmationOut(Out):
    opportunity_id: str
    opportunity_name: str
    account_id: str
    contribution_id: str
    member_id: str = Field(description="whose work it is (never the reader)")
    role: str
    kind: str
    summary: str
    hours: str
    occurred_at: str
    evidence_url: str | None
    recorded_by: str
    recorded_at: str
    position: int = Field(description="where it was recorded in the log")
    confirms_as: str = Field(description="AR | lead: why the reader may confirm it")


class ConfirmationsOut(Out):
    member_id: str
    position: int = Field(description="the boards show every event up to this log position")
    confirmations: list[ConfirmationOut] = Field(description="oldest first")


class QueueWarningOut(Out):
    code: str = Field(description="open_disputes | unconfirmed_work | own_line | cancelled | the "
                                   "review's codes (won_above_pipeline, backdated_close, "
                                   "confirmed_work_excluded, reversed_after_win, cap_reached, "
                                   "unallocated_pool)")
    message: str


class ApprovalOut(Out):
    allocation_id: str
    opportunity_id: str
    opportunity_name: str
    grade: str
    closed_on: str
    deal: Money
    pool: Money
    unallocated: Money
    policy: PolicyRef
    lines: int = Field(description="how many lines the split has")
    proposed_by: str | None
    proposed_at: str | None
    position: int
    open_disputes: int
    unconfirmed_contributions: int = Field(description="work on or before the close date never "
                                                       "confirmed")
    warnings: list[QueueWarningOut]
    has_line: bool = Field(description="the reader has a line in it (four eyes: they do not approve)")
    approvable: bool


class ApprovalsOut(Out):
    position: int
    allocations: list[ApprovalOut] = Field(description="proposed and not yet approved, oldest first")


class QueuedDisputeOut(DisputeOut):
    opportunity_name: str
    line: str | None = Field(description="the disputed line as it stands now (current)")
    age_days: int
    own: bool = Field(description="the reader's own dispute")
    has_line: bool = Field(description="the reader has a line in the allocation")
    resolvable: bool = Field(description="the reader may resolve it now")


class DisputesOut(Out):
    member_id: str
    position: int
    decides: bool = Field(description="the reader is finance: `open` is their queue")
    mine: list[QueuedDisputeOut] = Field(description="the reader's own disputes, any status")
    open: list[QueuedDisputeOut] = Field(description="finance: every open dispute, oldest first; "
                                                     "empty for anyone else")
