"""A member's board as they (or a lead, finance, an auditor) see it: tasks, requests to them and
from them, their contributions and points, what they earned and what they would if their open
deals were won today, never added up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import Field

from domain.aggregates import Allocation
from domain.application import Actor, Goldsplit
from domain.exceptions import MemberNotFound
from domain.grading import OpportunityGradingPolicy
from domain.money import exponent, format_amount
from domain.policy import IncentivePolicy
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import OPEN_STATUSES
from projections.board import VIEW as BOARDS
from projections.members import (
    COUNTS,
    FROM_ME,
    LATEST,
    TO_ME,
    VIEW,
    MemberBoardProjection,
    department_key,
    latest_closed,
    request_closed,
    upgraded,
)
from projections.payables import DEALS as PAYABLE_DEALS
from projections.payables import PAYABLE, PERIOD, payable_key
from projections.store import ViewStore
from queries.access import require_own
from queries.accounts import is_overdue
from queries.board import RequestOut, RequestToMeOut, present_board, present_request
from queries.explain import line_figures
from queries.models import INTERNAL, Absent, Out


class MemberQuery:
    """Reads a member's board for the member, leads, finance, auditors and admins (404 for others)."""

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def board(self, actor: Actor, member_id: str) -> MemberBoardOut:
        require_own(actor, member_id)
        position = self.views.position(MemberBoardProjection.name)
        doc = self.views.get(VIEW, member_id)
        if doc is None:
            raise MemberNotFound(f"no member {member_id}", field="member_id")
        today = self.app.clock().date()
        department = doc.get("department")
        return MemberBoardOut.model_validate(present_member_board(
            doc, today=today, position=position, policy=self.app.incentive_policy_in_force(today),
            grading=self.app.policy_in_force("opportunity-grading", today),
            board_of=lambda oid: self.views.get(BOARDS, oid),
            allocation_of=lambda oid: self.views.get(ALLOCATIONS, str(Allocation.create_id(UUID(oid)))),
            department_doc=self.views.get(VIEW, department_key(department)) if department else None))


    def money(self, actor: Actor, member_id: str) -> MemberMoneyOut:
        """A member's money as a commission statement shows it, per currency and per deal: payable
        now, held, paid and adjustments (the member, leads, finance, auditors, admins; 404 for
        others, as their board)."""
        require_own(actor, member_id)
        doc = self.views.get(VIEW, member_id)
        if doc is None:
            raise MemberNotFound(f"no member {member_id}", field="member_id")
        return MemberMoneyOut.model_validate(present_member_money(
            member_id, doc.get("opportunities", []),
            allocation_of=lambda oid: self.views.get(ALLOCATIONS, str(Allocation.create_id(UUID(oid)))),
            payables_of=lambda month: self.views.get(PAYABLE, payable_key(month, member_id)),
            month_of=lambda month: self.views.get(PERIOD, month),
            name_of=lambda oid: ((self.views.get(BOARDS, oid) or self.views.get(PAYABLE_DEALS, oid) or {})
                                 .get("name"))))


def present_member_money(member_id: str, opportunities: list[str], *,
                         allocation_of: Callable[[str], dict | None],
                         payables_of: Callable[[str], dict | None],
                         month_of: Callable[[str], dict | None],
                         name_of: Callable[[str], str | None]) -> dict:
    """What a member is owed, by what the payables read model booked to them and the allocations
    they have a line in, in minor units until formatted:

    - `payable`: their entries (upfront, released, adjustments) booked in months not closed yet:
      approved amounts made payable, not yet in a closed month's payroll;
    - `paid`: their entries booked in closed months (a closed month's payroll is paid out; it never
      changes again);
    - `held`: of each approved allocation not cancelled, their line's held part not yet released by
      the cash collected (the held target less the releases booked to them);
    - `adjustments`: their adjustment entries (late facts and upheld disputes after approval),
      which `payable` and `paid` already include;
    - `awaiting_approval`: their current line of each allocation not approved yet (not payable).

    `payable + paid` is everything booked to them: what the statements of all their months add up
    to. Per currency in `totals`, and per deal in `deals`.
    """
    allocations: dict[str, dict] = {}
    months: set[str] = set()
    for oid in opportunities:
        allocation = allocation_of(oid)
        if allocation is None or line_figures(allocation, member_id) is None:
            continue
        allocations[oid] = allocation
        months |= {e["period"] for e in allocation.get("entries", []) if e["member_id"] == member_id}
    closed = sorted(m for m in months if (month_of(m) or {}).get("closed"))
    zero = {"payable": 0, "held": 0, "paid": 0, "adjustments": 0, "awaiting_approval": 0}
    rows: dict[str, dict] = {}

    def row(oid: str, currency: str) -> dict:
        return rows.setdefault(oid, {"opportunity_id": oid, "currency": currency, **zero})

    for month in sorted(months):
        for entry in (payables_of(month) or {}).get("entries", []):
            figures = row(entry["opportunity_id"], entry["currency"])
            figures["paid" if month in closed else "payable"] += entry["amount"]
            if entry["kind"] == "adjustment":
                figures["adjustments"] += entry["amount"]
    for oid, allocation in allocations.items():
        figures = row(oid, allocation["currency"])
        target = allocation.get("targets", {}).get(member_id, {"upfront": 0, "held": 0})
        if allocation["status"] == "approved":
            released = allocation.get("paid", {}).get(member_id, {}).get("release", 0)
            figures["held"] = target["held"] - released if not allocation.get("cancelled") else 0
        else:
            figures["awaiting_approval"] = target["upfront"] + target["held"]
    totals: dict[str, dict[str, int]] = {}
    deals = []
    for oid, figures in sorted(rows.items(), key=lambda r: (name_of(r[0]) or "", r[0])):
        currency = figures["currency"]
        total = totals.setdefault(currency, dict(zero))
        for name in zero:
            total[name] += figures[name]
        allocation = allocations.get(oid)
        deals.append({
            "opportunity_id": oid, "name": name_of(oid),
            "allocation_id": allocation["id"] if allocation else None,
            "allocation_status": allocation["status"] if allocation else None,
            "cancelled": bool(allocation and allocation.get("cancelled")),
            "currency": currency, **{name: format_amount(figures[name], currency) for name in zero}})
    return {"member_id": member_id, "closed_months": closed,
            "totals": {currency: {name: format_amount(minor, currency) for name, minor in total.items()}
                       for currency, total in sorted(totals.items())},
            "deals": deals}


def _minor(amount: str, currency: str) -> int:
    """A decimal string of `currency` back to integer minor units, exactly."""
    return int(Decimal(amount).scaleb(exponent(currency)))


def present_member_board(doc: dict, *, today: date, position: int, policy: IncentivePolicy,
                         board_of: Callable[[str], dict | None],
                         allocation_of: Callable[[str], dict | None],
                         department_doc: dict | None = None,
                         grading: OpportunityGradingPolicy | None = None) -> dict:
    """The member board as clients read it, as of `today`.

    Tasks (a list, soonest due first) are flagged overdue; requests carry their due state and
    measured times, and the requests to the member's department are merged into `requests_to_me`
    with `via_department`. Tasks, requests and disputes are every open one and the `LATEST`
    latest closed ones (a verified task, a declined, delivered or rated request, a resolved
    dispute). `contributions` are the latest `LATEST` of `contributions_total`, each with its
    points by `policy` (reversed: 0); `points` counts them all, confirmed and pending, by
    `policy`. `list_limits` says how many of each are kept.
    `earned` lists the allocations of won deals the member has a line in (`allocation_of(opportunity_id)`
    gives the allocation document), each with its current amount and what is paid, totals per
    allocation status and currency; `projected` their line of the split if each open deal they
    are on were won today (`board_of(opportunity_id)` gives the board document; `grading` grades
    it), totals per currency. The two are never added up (`projected_earnings` is `projected`).
    """
    doc = upgraded(doc)
    member_id = doc["member_id"]
    tasks = sorted(({**t, "overdue": is_overdue(t, today)} for t in doc.get("tasks", {}).values()),
                   key=lambda t: (t["due"], t["task_id"]))
    to_me = [{**present_request(r, today), "via_department": r.get("to_department")}
             for r in doc.get(TO_ME, [])]
    mine = {r["id"] for r in to_me}
    if department_doc is not None:
        to_me += [{**present_request(r, today), "via_department": r.get("to_department")}
                  for r in department_doc.get(TO_ME, []) if r["id"] not in mine]
    to_me.sort(key=lambda r: r["position"])
    to_me = latest_closed(to_me, request_closed)  # each document keeps its latest: so do both
    from_me = [present_request(r, today) for r in doc.get(FROM_ME, [])]
    weights = policy.kind_weights
    contributions = [{**c, "points": 0 if c["status"] == "reversed" else weights.get(c["kind"], 0)}
                     for c in doc.get("contributions", [])]
    counts = doc.get(COUNTS, {})

    def points(status: str) -> int:
        return sum(n * weights.get(kind, 0) for kind, n in counts.get(status, {}).items())

    positions = [doc["position"], *([department_doc["position"]] if department_doc else [])]
    earned, projected = _earnings(member_id, doc.get("opportunities", []), today, position, policy,
                                  board_of, allocation_of, grading)
    return {
        **{k: v for k, v in doc.items()
           if k not in ("tasks", TO_ME, FROM_ME, "contributions", COUNTS, "position")},
        "position": max(position, *positions), "changed_at": max(positions),
        "tasks": tasks,
        "overdue_tasks": sum(t["overdue"] for t in tasks),
        TO_ME: to_me,
        FROM_ME: from_me,
        "open_requests_to_me": sum(r["status"] in OPEN_STATUSES for r in to_me),
        "overdue_requests_to_me": sum(r["due_state"] == "overdue" for r in to_me),
        "contributions": contributions,
        "contributions_total": sum(n for kinds in counts.values() for n in kinds.values()),
        "list_limits": {"contributions": LATEST, "closed_tasks": LATEST, "closed_requests": LATEST,
                        "closed_disputes": LATEST},
        "disputes": doc.get("disputes", []),
        "open_disputes": sum(d["status"] == "open" for d in doc.get("disputes", [])),
        "points": {"confirmed": points("confirmed"), "pending": points("recorded")},
        "earned": earned,
        "projected": projected,
        "projected_earnings": projected,
    }


def _add(tally: dict[str, int], currency: str, minor: int) -> None:
    tally[currency] = tally.get(currency, 0) + minor


def _formatted(tally: dict[str, int]) -> dict[str, str]:
    return {c: format_amount(m, c) for c, m in sorted(tally.items())}


def _earnings(member_id: str | None, opportunities: list[str], today: date, position: int,
              policy: IncentivePolicy, board_of: Callable[[str], dict | None],
              allocation_of: Callable[[str], dict | None],
              grading: OpportunityGradingPolicy | None) -> tuple[dict, dict]:
    """(earned, projected): the member's lines of won deals' allocations, and of the open deals'
    splits if won today; lost deals show in neither, a cancelled one earns 0."""
    earned: list[dict] = []
    by_status: dict[str, dict[str, int]] = {"proposed": {}, "approved": {}}
    paid: dict[str, int] = {}
    projected: list[dict] = []
    projected_totals: dict[str, int] = {}
    for oid in opportunities:
        board = board_of(oid)
        if board is None or board["stage"] == "lost":
            continue
        if board["stage"] == "open":
            split = present_board(board, policy, today, position, only_member=member_id,
                                  grading=grading)["projected_split"]
            currency = board["currency"]
            minor = _minor(split["lines"][0]["amount"], currency) if split["lines"] else 0
            projected.append({"opportunity_id": oid, "name": board["name"], "stage": "open",
                              "currency": currency, "basis": "projected_split",
                              "grade": split["grade"], "amount": format_amount(minor, currency)})
            _add(projected_totals, currency, minor)
            continue
        allocation = allocation_of(oid)
        figures = None if allocation is None else line_figures(allocation, member_id or "")
        if figures is None:
            continue
        currency = allocation["currency"]
        cancelled = bool(allocation.get("cancelled"))
        earned.append({
            "opportunity_id": oid, "name": board["name"],
            "stage": "cancelled" if cancelled else board["stage"], "currency": currency,
            "allocation_id": allocation["id"], "allocation_status": allocation["status"],
            "amount": format_amount(figures["amount"], currency),
            "approved": None if figures["approved"] is None else format_amount(figures["approved"],
                                                                               currency),
            "current": format_amount(figures["current"], currency),
            "paid": format_amount(figures["paid"], currency)})
        _add(by_status.setdefault(allocation["status"], {}), currency, figures["current"])
        _add(paid, currency, figures["paid"])
    return ({"allocations": earned,
             "totals": {status: _formatted(tally) for status, tally in by_status.items()},
             "paid_totals": _formatted(paid)},
            {"as_of": today.isoformat(), "opportunities": projected,
             "totals": _formatted(projected_totals)})


# -- the answer models --------------------------------------------------------------------------

class MemberTaskOut(Out):
    task_id: str
    account_id: str
    title: str
    due: str
    status: str
    position: int
    overdue: bool


class MemberContributionOut(Out):
    opportunity_id: str
    contribution_id: str
    kind: str
    role: str
    status: str
    summary: str
    hours: str
    occurred_at: str
    request_id: str | None
    position: int
    points: int


class MemberDisputeOut(Out):
    id: str
    allocation_id: str
    reason: str
    status: str
    position: int
    resolution: str | None = Absent("once resolved: finance's reason (null when upheld)")


class ListLimitsOut(Out):
    contributions: int
    closed_tasks: int
    closed_requests: int
    closed_disputes: int


class PointsOut(Out):
    confirmed: int
    pending: int


class EarnedAllocationOut(Out):
    opportunity_id: str
    name: str
    stage: str = Field(description="won | cancelled")
    currency: str
    allocation_id: str
    allocation_status: str
    amount: str
    approved: str | None
    current: str
    paid: str


class EarnedOut(Out):
    allocations: list[EarnedAllocationOut]
    totals: dict[str, dict[str, str]] = Field(description="per allocation status, per currency")
    paid_totals: dict[str, str] = Field(description="per currency")


class ProjectedDealOut(Out):
    opportunity_id: str
    name: str
    stage: str
    currency: str
    basis: str
    grade: str
    amount: str


class ProjectedOut(Out):
    as_of: str
    opportunities: list[ProjectedDealOut]
    totals: dict[str, str] = Field(description="per currency")


class MoneyFiguresOut(Out):
    payable: str = Field(description="booked to the member in months not closed yet: payable now, "
                                     "not yet paid out")
    held: str = Field(description="held parts of approved lines the cash has not released yet")
    paid: str = Field(description="booked in closed months, whose payroll is paid out")
    adjustments: str = Field(description="adjustment entries after approval (late facts, upheld "
                                         "disputes): already within payable and paid")
    awaiting_approval: str = Field(description="current lines of allocations not approved yet")


class MoneyDealOut(MoneyFiguresOut):
    opportunity_id: str
    name: str | None
    allocation_id: str | None
    allocation_status: str | None = Field(description="proposed | approved")
    cancelled: bool
    currency: str


class MemberMoneyOut(Out):
    member_id: str
    closed_months: list[str] = Field(description="the months with entries of the member's that "
                                                 "are closed (their entries count as paid)")
    totals: dict[str, MoneyFiguresOut] = Field(description="per currency")
    deals: list[MoneyDealOut] = Field(description="per deal, by name")


class MemberBoardOut(Out):
    member_id: str
    registered: bool = Field(description=f"false for a member the ledger saw before registering; {INTERNAL}")
    name: str | None
    department: str | None
    team: str | None
    opportunities: list[str] = Field(description=f"the deals the member sits on or worked on; {INTERNAL} "
                                                 "(what earned and projected are read from)")
    tasks: list[MemberTaskOut]
    overdue_tasks: int
    requests_to_me: list[RequestToMeOut]
    requests_from_me: list[RequestOut]
    open_requests_to_me: int
    overdue_requests_to_me: int
    contributions: list[MemberContributionOut]
    contributions_total: int
    list_limits: ListLimitsOut
    disputes: list[MemberDisputeOut]
    open_disputes: int
    points: PointsOut
    earned: EarnedOut = Field(description="allocations of won deals the member has a line in, "
                                          "their current amounts and totals per status")
    projected: ProjectedOut = Field(description="open deals' lines if won today; never added to "
                                                "what is earned")
    projected_earnings: ProjectedOut = Field(description="the same as projected (kept for clients)")
    position: int
    changed_at: int
