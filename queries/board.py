"""The opportunity board as a reader sees it: points by the policy in force, support requests
with their due state, the split if won today, and the asks of a lead's call."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import Field

from domain.allocation import CountedContribution, allocate
from domain.application import Actor, Goldsplit
from domain.grading import OpportunityGradingPolicy
from domain.money import format_amount
from domain.policy import IncentivePolicy
from projections.board import OPEN_STATUSES, BoardProjection
from projections.store import ViewStore
from queries.access import own_line_only, readable_ask, readable_board
from queries.models import Absent, Money, Out, PolicyRef

ROLE_TITLES = {"AR": "account responsible", "SR": "solution responsible", "FR": "fulfilment responsible"}
DELIVERED_STATUSES = ("delivered", "rated")


class BoardQuery:
    """Reads the board read model for an actor: what they may not see is not there."""

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def board(self, actor: Actor, opportunity_id: str) -> BoardOut:
        position = self.views.position(BoardProjection.name)  # before the document: it is as fresh
        doc = readable_board(self.views, opportunity_id, actor)
        today = self.app.clock().date()
        return BoardOut.model_validate(present_board(
            doc, self.app.incentive_policy_in_force(today), today, position,
            only_member=own_line_only(actor),
            grading=self.app.policy_in_force("opportunity-grading", today)))

    def ask(self, actor: Actor, ask_id: str) -> AskOut:
        found, board = readable_ask(self.views, ask_id, actor)
        return AskOut.model_validate(present_ask(found, board["currency"]))




def present_ask(ask: dict, currency: str) -> dict:
    """An ask as clients read it: amounts as decimal strings of the deal's currency."""
    arguments = dict(ask["arguments"])
    if arguments.get("amount") is not None:
        arguments["amount"] = format_amount(arguments["amount"], currency)
    return {**ask, "arguments": arguments}


def due_state(request: dict, today: date) -> str:
    """open_on_time | due_today | overdue while unanswered; delivered_on_time | delivered_late
    (the delivery's UTC date against the due date); declined."""
    due = date.fromisoformat(request["due"])
    if request["status"] == "declined":
        return "declined"
    if request["status"] in DELIVERED_STATUSES and request.get("delivered_at"):
        delivered = datetime.fromisoformat(request["delivered_at"]).date()
        return "delivered_on_time" if delivered <= due else "delivered_late"
    if today < due:
        return "open_on_time"
    return "due_today" if today == due else "overdue"


def _hours(start: str | None, end: str | None) -> str | None:
    if not start or not end:
        return None
    micros = (datetime.fromisoformat(end) - datetime.fromisoformat(start)) // timedelta(microseconds=1)
    return str((Decimal(micros) / Decimal(3_600_000_000)).quantize(Decimal("0.1"), ROUND_HALF_EVEN))


def present_request(request: dict, today: date) -> dict:
    """A request with its due state and measured times: response (opened -> accepted or declined)
    and delivery (accepted -> delivered), in hours to one decimal place, None until they happen."""
    answered = request.get("accepted_at") or request.get("declined_at")
    return {**request, "due_state": due_state(request, today),
            "response_hours": _hours(request.get("opened_at"), answered),
            "delivery_hours": _hours(request.get("accepted_at"), request.get("delivered_at"))}


def warnings(doc: dict) -> list[dict]:
    """A graded open opportunity whose grade requires a triangle seat that is empty says so."""
    if doc["stage"] != "open" or not doc.get("grading"):
        return []
    return [{"code": "missing_required_role", "role": role,
             "message": f"grade {doc['grade']} requires an {role} ({ROLE_TITLES.get(role, role)}); "
                        f"the seat is empty"}
            for role in doc.get("required_roles", []) if doc["triangle"].get(role) is None]


def grade_if_won(doc: dict, grading: OpportunityGradingPolicy | None) -> str:
    """The grade a win today would split the pool by: a lead's override if one stands, else the
    grade of the deal's current amount by `grading` (the policy in force today; without one, the
    grade the board has)."""
    if grading is None or (doc.get("grading") or {}).get("overridden"):
        return doc["grade"]
    return grading.grade(doc["amount"], doc["currency"], doc.get("attributes") or {}).grade


def present_board(doc: dict, policy: IncentivePolicy, today: date, position: int,
                  only_member: str | None = None,
                  grading: OpportunityGradingPolicy | None = None) -> dict:
    """The board as clients read it: points by the policy in force and the split if won today.

    `position` is how far the board projection had read when `doc` was fetched: the board shows
    every event up to it (`changed_at` is the last event that changed this board). The work and
    points are open to the whole team; of the money, `only_member` sees only their own line (and
    only their own disputes: `open_disputes` counts the disputes still open that the reader sees).
    Requests carry their due state as of `today`; `warnings` name the empty seats the grade requires.
    The split if won today is at the grade the win would take (`grade_if_won`, by `grading`).
    """
    weights = policy.kind_weights
    currency = doc["currency"]
    contributions = [
        {**c, "request_id": c.get("request_id"),
         "points": 0 if c["status"] == "reversed" else weights.get(c["kind"], 0)}
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
        grade = grade_if_won(doc, grading)
        result = allocate(amount=doc["amount"], grade=grade, closed_on=today,
                          contributions=[CountedContribution.from_record(c)
                                         for c in doc["contributions"]], policy=policy)
        projected = {
            "as_of": today.isoformat(), "policy": policy.reference(), "grade": grade,
            "pool": {"amount": format_amount(result.pool, currency), "currency": currency},
            "lines": [{"member_id": line.member_id, "roles": line.roles,
                       "points": line.total_points,
                       "amount": format_amount(line.amount, currency)} for line in result.lines
                      if only_member in (None, line.member_id)],
            "visible_lines": "all" if only_member is None else "own",
            "unallocated": {"amount": format_amount(result.unallocated, currency),
                            "currency": currency},
        }
    requests = [present_request(r, today) for r in doc.get("requests", [])]
    disputes = [d for d in doc.get("disputes", []) if only_member in (None, d["member_id"])]

    def money(minor: int) -> dict:
        return {"amount": format_amount(minor, currency), "currency": currency}

    return {
        **{k: v for k, v in doc.items() if k not in ("amount", "contributions", "position")},
        "position": max(position, doc["position"]), "changed_at": doc["position"],
        "amount": money(doc["amount"]),
        "contributions": contributions,
        "points_by_member": dict(sorted(points_by_member.items())),
        "pending_points_by_member": dict(sorted(pending_by_member.items())),
        "projected_split": projected,
        "required_roles": doc.get("required_roles", []),
        "grading": doc.get("grading"),
        "warnings": warnings(doc),
        "corrections": [{**c, "amount": money(c["amount"]),
                         "previous": {**c["previous"], "amount": money(c["previous"]["amount"])}}
                        for c in doc.get("corrections", [])],
        "assessment": doc.get("assessment"),
        "assessments": doc.get("assessments", []),
        "requests": requests,
        "open_requests": sum(r["status"] in OPEN_STATUSES for r in requests),
        "overdue_requests": sum(r["due_state"] == "overdue" for r in requests),
        "disputes": disputes,
        "open_disputes": sum(d["status"] == "open" for d in disputes),
        "asks": [present_ask(a, currency) for a in doc.get("asks", [])],
        "open_asks": sum(a["status"] == "open" for a in doc.get("asks", [])),
    }


# -- the answer models --------------------------------------------------------------------------

class ContributionOut(Out):
    id: str
    member_id: str
    role: str
    kind: str
    points: int = Field(description="the kind's weight under the policy in force; 0 when reversed")
    status: str = Field(description="recorded | confirmed | reversed")
    summary: str
    hours: str
    occurred_at: str
    evidence_url: str | None
    request_id: str | None = Field(description="the support request the work delivered, if any")
    recorded_by: str
    recorded_at: str
    event_id: str
    position: int
    confirmed_by: str = Absent("once confirmed")
    confirmed_position: int = Absent("once confirmed")
    reversed_by: str = Absent("once reversed")
    reversal_reason: str = Absent("once reversed")
    reversed_position: int = Absent("once reversed")


class ProjectedLineOut(Out):
    member_id: str
    roles: list[str]
    points: int
    amount: str


class ProjectedSplitOut(Out):
    as_of: str
    policy: PolicyRef
    grade: str = Field(description="the grade a win today would take: a lead's override, else the "
                                   "grading policy in force today on the current amount")
    pool: Money
    lines: list[ProjectedLineOut]
    visible_lines: str = Field(description="all | own (a member sees only their own line)")
    unallocated: Money


class WarningOut(Out):
    code: str = Field(description="missing_required_role")
    role: str = Field(description="the empty seat")
    message: str


class TriangleOut(Out):
    AR: str | None
    SR: str | None
    FR: str | None


class SeatChangeOut(Out):
    role: str
    member_id: str
    previous: str | None
    by: str
    at: str
    position: int


class DeliveryOut(Out):
    summary: str | None
    hours: str | None
    evidence_url: str | None
    by: str


class RequestOut(Out):
    """A support request as a board shows it, with its due state and measured times."""

    id: str
    opportunity_id: str
    kind: str
    summary: str
    requested_by: str
    to_member: str | None
    to_department: str | None
    due: str
    status: str = Field(description="open | accepted | declined | delivered | rated")
    opened_at: str | None
    accepted_at: str | None
    declined_at: str | None
    delivered_at: str | None
    rated_at: str | None
    supporter: str | None
    decline_reason: str | None
    delivery: DeliveryOut | None
    rating: int | None
    comment: str | None
    contribution_id: str | None
    not_counted: str | None = Field(description="why a delivery earns no points (the deal was closed)")
    position: int = Field(description="where the request was opened")
    changed_at: int = Field(description="the last event that changed it")
    due_state: str = Field(description="open_on_time | due_today | overdue | delivered_on_time | "
                                       "delivered_late | declined")
    response_hours: str | None
    delivery_hours: str | None


class RequestToMeOut(RequestOut):
    via_department: str | None = Field(description="the department the request was addressed to, "
                                                   "when it was")


class AssessmentRecordOut(Out):
    id: str
    score: int
    win_probability: str
    standard_version: int
    standard: PolicyRef
    answers: dict[str, str] = Field(description="the level answered, per criterion")
    scores: dict[str, int] = Field(description="the score of each answer, per criterion")
    by: str
    at: str
    position: int


class GradingOut(Out):
    reasons: list[str]
    policy: PolicyRef
    overridden: bool


class CorrectedFieldsOut(Out):
    amount: Money
    expected_close: str
    attributes: dict[str, Any]


class CorrectionOut(CorrectedFieldsOut):
    previous: CorrectedFieldsOut
    by: str
    at: str
    position: int


class BoardDisputeOut(Out):
    id: str
    allocation_id: str
    member_id: str
    reason: str
    status: str = Field(description="open | rejected | upheld")
    raised_at: str
    position: int
    resolved_position: int = Absent("once resolved")


class AskArgumentsOut(Out):
    amount: str = Absent("win, correct: the amount, a decimal string")
    closed_on: str = Absent("win: the close date")
    contribution_id: str = Absent("reverse: the confirmed work")


class AskDecisionOut(Out):
    by: str
    reason: str
    at: str
    position: int


class AskOut(Out):
    id: str
    opportunity_id: str
    action: str = Field(description="win | correct | reverse")
    arguments: AskArgumentsOut = Field(description="what the AR asked for (amount as a decimal string)")
    reason: str
    calls: list[str] = Field(description="why it is a lead's call, e.g. above_open_amount")
    asked_by: str
    asked_at: str
    status: str = Field(description="open | approved | rejected")
    decision: AskDecisionOut | None = Field(description="who decided, why, when")
    position: int
    changed_at: int


class BoardOut(Out):
    opportunity_id: str
    account_id: str
    name: str
    amount: Money
    currency: str
    expected_close: str
    grade: str
    grading: GradingOut | None = Field(description="how the grade was given; null before any grading")
    attributes: dict[str, Any]
    stage: str = Field(description="open | won | lost")
    closed_on: str | None
    loss_reason: str = Absent("once lost")
    opened_by: str
    opened_at: str
    triangle: TriangleOut
    triangle_history: list[SeatChangeOut]
    supporters: list[str]
    contributions: list[ContributionOut]
    points_by_member: dict[str, int] = Field(description="confirmed points per member")
    pending_points_by_member: dict[str, int] = Field(description="points awaiting confirmation")
    projected_split: ProjectedSplitOut | None = Field(description="the split if won today")
    requests: list[RequestOut]
    open_requests: int
    overdue_requests: int
    assessment: AssessmentRecordOut | None = Field(description="the latest assessment")
    assessments: list[AssessmentRecordOut]
    corrections: list[CorrectionOut] = Field(description="each correction of the amount, the close "
                                                         "date or the attributes")
    required_roles: list[str] = Field(description="the triangle roles the grade requires")
    warnings: list[WarningOut]
    disputes: list[BoardDisputeOut] = Field(description="of the allocation; a member sees their own")
    open_disputes: int
    asks: list[AskOut]
    open_asks: int
    position: int = Field(description="the board shows every event up to this log position")
    changed_at: int = Field(description="the last event that changed this board")
