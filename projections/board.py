"""The opportunity board: grade, triangle, supporters, the timeline of contributions, support
requests and assessments, and the disputes raised on its allocation, per opportunity.

Support requests live on the board of their opportunity; the shape of one request and how its
due state and response times are read (`new_request`, `apply_request`, `present_request`) are
defined here once and reused by the member board.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from domain.aggregates import Allocation, Ask, Dispute, Opportunity, SupportRequest, event_id
from domain.allocation import CountedContribution, allocate
from domain.grading import OpportunityGradingPolicy
from domain.money import format_amount
from domain.policy import IncentivePolicy
from projections.base import Changes, Projection, happened_at

VIEW = "board"
REQUESTS = "board_request"  # support request id -> the opportunity whose board shows it
LINKS = "board_link"  # "allocation:<id>" and "dispute:<id>" -> the opportunity whose board shows it

ROLE_TITLES = {"AR": "account responsible", "SR": "solution responsible", "FR": "fulfilment responsible"}
OPEN_STATUSES = ("open", "accepted")  # asked for and not yet answered with a delivery or a refusal
DELIVERED_STATUSES = ("delivered", "rated")


class BoardProjection(Projection):
    """Keeps one document per opportunity with the facts its board shows."""

    name = "board"
    views = (VIEW, REQUESTS, LINKS)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        if isinstance(event, SupportRequest.Event):
            self._request(event, position, changes)
            return
        if isinstance(event, Allocation.Proposed):
            changes.put(LINKS, f"allocation:{event.originator_id}",
                        {"opportunity_id": str(event.opportunity_id)})
            return
        if isinstance(event, Dispute.Event):
            self._dispute(event, position, changes)
            return
        if isinstance(event, Ask.Event):
            self._ask(event, position, changes)
            return
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
                "assessments": [], "required_roles": [], "grading": None, "corrections": [],
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
                "request_id": getattr(event, "request_id", None),
                "event_id": str(event_id(event.originator_id, event.originator_version)),
                "position": position})
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
        elif isinstance(event, Opportunity.Graded):
            doc.update(grade=event.grade, required_roles=list(event.required_roles),
                       grading={"reasons": list(event.reasons), "policy": dict(event.policy),
                                "overridden": event.overridden})
        elif isinstance(event, Opportunity.Corrected):
            doc.setdefault("corrections", []).append({
                "amount": event.amount, "expected_close": event.expected_close,
                "attributes": event.attributes,
                "previous": {"amount": doc["amount"], "expected_close": doc["expected_close"],
                             "attributes": doc["attributes"]},
                "by": event.actor, "at": at, "position": position})
            doc.update(amount=event.amount, expected_close=event.expected_close,
                       attributes=event.attributes)
        elif isinstance(event, Opportunity.Assessed):
            assessment = {
                "id": event.assessment_id, "score": event.score,
                "win_probability": event.win_probability,
                "standard_version": event.standard["version"],
                "standard": {k: event.standard[k] for k in ("name", "version", "hash")},
                "answers": dict(event.answers), "scores": dict(event.scores),
                "by": event.actor, "at": at, "position": position}
            doc.setdefault("assessments", []).append(assessment)
            doc["assessment"] = dict(assessment)

    @staticmethod
    def _request(event: Any, position: int, changes: Changes) -> None:
        request_id = str(event.originator_id)
        if isinstance(event, SupportRequest.Opened):
            key = str(event.opportunity_id)
            changes.put(REQUESTS, request_id, {"opportunity_id": key})
        else:
            known = changes.get(REQUESTS, request_id)
            if known is None:
                return
            key = known["opportunity_id"]
        doc = changes.get(VIEW, key)
        if doc is None:
            return
        if isinstance(event, SupportRequest.Opened):
            doc["requests"].append(new_request(event, position))
        else:
            item = next((r for r in doc["requests"] if r["id"] == request_id), None)
            if item is None:
                return
            apply_request(item, event, position)
        doc["position"] = position
        changes.put(VIEW, key, doc)


    @staticmethod
    def _dispute(event: Any, position: int, changes: Changes) -> None:
        dispute_id = str(event.originator_id)
        raised = isinstance(event, Dispute.Raised)
        link, doc = _linked(changes, f"dispute:{dispute_id}",
                            changes.get(LINKS, f"allocation:{event.allocation_id}") if raised else None)
        if not doc:
            return
        disputes = doc.setdefault("disputes", [])
        if raised:
            disputes.append({"id": dispute_id, "allocation_id": str(event.allocation_id),
                             "member_id": event.member_id, "reason": event.reason, "status": "open",
                             "raised_at": event.timestamp.isoformat(), "position": position})
        else:
            status = {Dispute.Rejected: "rejected", Dispute.Upheld: "upheld"}.get(type(event))
            for dispute in disputes:
                if dispute["id"] == dispute_id and status:
                    dispute.update(status=status, resolved_position=position)
        doc["position"] = position
        changes.put(VIEW, link["opportunity_id"], doc)


    @staticmethod
    def _ask(event: Any, position: int, changes: Changes) -> None:
        """What the AR asked a lead to decide, and how it was decided."""
        ask_id = str(event.originator_id)
        opened = isinstance(event, Ask.Opened)
        link, doc = _linked(changes, f"ask:{ask_id}",
                            {"opportunity_id": str(event.opportunity_id)} if opened else None)
        if not doc:
            return
        asks = doc.setdefault("asks", [])
        at = happened_at(event)
        if opened:
            asks.append({"id": ask_id, "opportunity_id": link["opportunity_id"], "action": event.action,
                         "arguments": dict(event.arguments), "reason": event.reason,
                         "calls": list(event.calls), "asked_by": event.actor, "asked_at": at,
                         "status": "open", "decision": None, "position": position,
                         "changed_at": position})
        else:
            status = {Ask.Approved: "approved", Ask.Rejected: "rejected"}.get(type(event))
            item = next((a for a in asks if a["id"] == ask_id), None)
            if item is None or status is None:
                return
            item.update(status=status, changed_at=position, decision={
                "by": event.actor, "reason": event.reason, "at": at, "position": position})
        doc["position"] = position
        changes.put(VIEW, link["opportunity_id"], doc)


def _linked(changes: Changes, key: str, new: dict | None) -> tuple[dict | None, dict | None]:
    """The link `key` (a dispute's, an ask's) to the opportunity whose board shows it, and that
    board: `new` is recorded as the link when its first event gives one."""
    if new is not None:
        changes.put(LINKS, key, new)
    link = new or changes.get(LINKS, key)
    return link, (changes.get(VIEW, link["opportunity_id"]) if link else None)


def present_ask(ask: dict, currency: str) -> dict:
    """An ask as clients read it: amounts as decimal strings of the deal's currency."""
    arguments = dict(ask["arguments"])
    if arguments.get("amount") is not None:
        arguments["amount"] = format_amount(arguments["amount"], currency)
    return {**ask, "arguments": arguments}


def _contribution(doc: dict, contribution_id: str) -> dict:
    return next(c for c in doc["contributions"] if c["id"] == contribution_id)


# -- support requests: one shape, read the same way on every board ----------------------------

def new_request(event: Any, position: int) -> dict:
    """The request as a board shows it, from its Opened event. `position` is where it was opened;
    `changed_at` the last event that changed it."""
    return {
        "id": str(event.originator_id), "opportunity_id": str(event.opportunity_id),
        "kind": event.kind, "summary": event.summary, "requested_by": event.requested_by,
        "to_member": event.to_member, "to_department": event.to_department, "due": event.due,
        "status": "open", "opened_at": happened_at(event), "accepted_at": None,
        "declined_at": None, "delivered_at": None, "rated_at": None, "supporter": None,
        "decline_reason": None, "delivery": None, "rating": None, "comment": None,
        "contribution_id": None, "not_counted": None, "position": position, "changed_at": position,
    }


def apply_request(item: dict, event: Any, position: int) -> None:
    """Move a request (as `new_request` made it) through one of its later events."""
    at = happened_at(event)
    if isinstance(event, SupportRequest.Accepted):
        item.update(status="accepted", accepted_at=at, supporter=event.member_id)
    elif isinstance(event, SupportRequest.Declined):
        item.update(status="declined", declined_at=at, decline_reason=event.reason)
    elif isinstance(event, SupportRequest.Delivered):
        item.update(status="delivered", delivered_at=at, contribution_id=event.contribution_id,
                    not_counted=event.not_counted,
                    delivery={"summary": event.summary, "hours": event.hours,
                              "evidence_url": event.evidence_url, "by": event.actor})
    elif isinstance(event, SupportRequest.Rated):
        item.update(status="rated", rated_at=at, rating=event.score, comment=event.comment)
    else:
        return
    item["changed_at"] = position


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
