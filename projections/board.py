"""The opportunity board: grade, triangle, supporters, the timeline of contributions, support
requests and assessments, and the disputes and asks about it, one document per opportunity.
A support request's shape (`new_request`, `apply_request`) is defined here once and reused by the
member board; queries/board.py reads the documents.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from domain.aggregates import Allocation, Ask, Dispute, Opportunity, SupportRequest, event_id
from projections.base import STATUS_AFTER, Changes, Projection, happened_at, on_event

VIEW = "board"
REQUESTS = "board_request"  # support request id -> the opportunity whose board shows it
LINKS = "board_link"  # "allocation:<id>", "dispute:<id>", "ask:<id>" -> the opportunity whose board shows it
OPPORTUNITY = "opportunity_id"  # the parent a link document names (Changes.link)
ROWS = "board_row"  # opportunity id -> what the deals list shows and filters on (queries/lists.py)

OPEN_STATUSES = ("open", "accepted")  # asked for and not yet answered with a delivery or a refusal


def board_row(doc: dict) -> dict:
    """A deal as the lists read it: a small row, not its board with every contribution. `people`
    are those who are or were on it (queries/access.py `was_on`)."""
    seated = [*doc.get("triangle", {}).values(), *doc.get("supporters", []),
              *(h["member_id"] for h in doc.get("triangle_history", []))]
    return {"opportunity_id": doc.get("opportunity_id"), "name": doc.get("name"),
            "account_id": doc.get("account_id"), "stage": doc.get("stage"), "grade": doc.get("grade"),
            "amount": doc.get("amount"), "currency": doc.get("currency"),
            "expected_close": doc.get("expected_close"), "closed_on": doc.get("closed_on"),
            "people": sorted({m for m in seated if m})}


class BoardProjection(Projection):
    """Keeps one document per opportunity with the facts its board shows."""

    name = "board"
    views = (VIEW, REQUESTS, LINKS, ROWS)
    rows = {VIEW: (ROWS, lambda key, doc: board_row(doc))}

    def process(self, event: Any, position: int, changes: Changes) -> None:
        self._on(event, position, changes)

    @on_event
    def _on(self, event: Any, position: int, changes: Changes) -> None:
        """An event no board shows."""

    @staticmethod
    def _put(changes: Changes, key: str, doc: dict, position: int) -> None:
        doc["position"] = position
        changes.put(VIEW, key, doc)

    # -- the opportunity's own events -----------------------------------------------------------

    @_on.register(Opportunity.Opened)
    def _opened(self, event: Opportunity.Opened, position: int, changes: Changes) -> None:
        key = str(event.originator_id)
        self._put(changes, key, {
            "opportunity_id": key, "account_id": event.account_id, "name": event.name,
            "amount": event.amount, "currency": event.currency,
            "expected_close": event.expected_close, "grade": event.grade,
            "attributes": event.attributes, "stage": "open", "closed_on": None,
            "triangle": {"AR": None, "SR": None, "FR": None}, "triangle_history": [],
            "supporters": [], "contributions": [], "requests": [], "assessment": None,
            "assessments": [], "required_roles": [], "grading": None, "corrections": [],
            "opened_by": event.actor, "opened_at": event.timestamp.isoformat(),
        }, position)

    @_on.register(Opportunity.Event)
    def _changed(self, event: Opportunity.Event, position: int, changes: Changes) -> None:
        """Every later event of a deal moves its board's position, whether the board shows it or not."""
        key = str(event.originator_id)
        doc = changes.get(VIEW, key)
        if doc is None:
            return
        self._apply(event, doc, position, event.timestamp.isoformat())
        self._put(changes, key, doc, position)

    @on_event
    def _apply(self, event: Any, doc: dict, position: int, at: str) -> None:
        """A deal's event whose facts the board does not show."""

    @_apply.register(Opportunity.TriangleRoleAssigned)
    def _seated(self, event: Opportunity.TriangleRoleAssigned, doc: dict, position: int, at: str) -> None:
        doc["triangle"][event.role] = event.member_id
        doc["triangle_history"].append({
            "role": event.role, "member_id": event.member_id, "previous": event.previous,
            "by": event.actor, "at": at, "position": position})

    @_apply.register(Opportunity.SupporterAdded)
    def _supporter(self, event: Opportunity.SupporterAdded, doc: dict, position: int, at: str) -> None:
        doc["supporters"].append(event.member_id)

    @_apply.register(Opportunity.ContributionRecorded)
    def _recorded(self, event: Opportunity.ContributionRecorded, doc: dict, position: int, at: str) -> None:
        doc["contributions"].append({
            "id": event.contribution_id, "member_id": event.member_id, "role": event.role,
            "kind": event.kind, "summary": event.summary, "hours": event.hours,
            "occurred_at": event.occurred_at, "evidence_url": event.evidence_url,
            "status": "recorded", "recorded_by": event.actor, "recorded_at": at,
            "request_id": getattr(event, "request_id", None),
            "event_id": str(event_id(event.originator_id, event.originator_version)),
            "position": position})

    @_apply.register(Opportunity.ContributionConfirmed)
    def _confirmed(self, event: Opportunity.ContributionConfirmed, doc: dict, position: int,
                   at: str) -> None:
        _contribution(doc, event.contribution_id).update(
            status="confirmed", confirmed_by=event.actor, confirmed_position=position)

    @_apply.register(Opportunity.ContributionReversed)
    def _reversed(self, event: Opportunity.ContributionReversed, doc: dict, position: int,
                  at: str) -> None:
        _contribution(doc, event.contribution_id).update(
            status="reversed", reversed_by=event.actor, reversal_reason=event.reason,
            reversed_position=position)

    @_apply.register(Opportunity.Won)
    def _won(self, event: Opportunity.Won, doc: dict, position: int, at: str) -> None:
        doc.update(stage="won", amount=event.amount, closed_on=event.closed_on)

    @_apply.register(Opportunity.Lost)
    def _lost(self, event: Opportunity.Lost, doc: dict, position: int, at: str) -> None:
        doc.update(stage="lost", closed_on=event.closed_on, loss_reason=event.reason)

    @_apply.register(Opportunity.Graded)
    def _graded(self, event: Opportunity.Graded, doc: dict, position: int, at: str) -> None:
        doc.update(grade=event.grade, required_roles=list(event.required_roles),
                   grading={"reasons": list(event.reasons), "policy": dict(event.policy),
                            "overridden": event.overridden})

    @_apply.register(Opportunity.Corrected)
    def _corrected(self, event: Opportunity.Corrected, doc: dict, position: int, at: str) -> None:
        doc.setdefault("corrections", []).append({
            "amount": event.amount, "expected_close": event.expected_close,
            "attributes": event.attributes,
            "previous": {"amount": doc["amount"], "expected_close": doc["expected_close"],
                         "attributes": doc["attributes"]},
            "by": event.actor, "at": at, "position": position})
        doc.update(amount=event.amount, expected_close=event.expected_close,
                   attributes=event.attributes)

    @_apply.register(Opportunity.Assessed)
    def _assessed(self, event: Opportunity.Assessed, doc: dict, position: int, at: str) -> None:
        assessment = {
            "id": event.assessment_id, "score": event.score,
            "win_probability": event.win_probability,
            "standard_version": event.standard["version"],
            "standard": {k: event.standard[k] for k in ("name", "version", "hash")},
            "answers": dict(event.answers), "scores": dict(event.scores),
            "by": event.actor, "at": at, "position": position}
        doc.setdefault("assessments", []).append(assessment)
        doc["assessment"] = dict(assessment)

    # -- what shows on a deal's board: its requests, allocation's disputes and asks -------------

    @_on.register(SupportRequest.Opened)
    def _request_opened(self, event: SupportRequest.Opened, position: int, changes: Changes) -> None:
        key = changes.link(REQUESTS, str(event.originator_id), OPPORTUNITY, str(event.opportunity_id))
        doc = changes.get(VIEW, key)
        if doc is None:
            return
        doc["requests"].append(new_request(event, position))
        self._put(changes, key, doc, position)

    @_on.register(SupportRequest.Event)
    def _request_moved(self, event: SupportRequest.Event, position: int, changes: Changes) -> None:
        request_id = str(event.originator_id)
        key = changes.parent(REQUESTS, request_id, OPPORTUNITY)
        doc = _board(changes, key)
        if key is None or doc is None:
            return
        item = next((r for r in doc["requests"] if r["id"] == request_id), None)
        if item is None:
            return
        apply_request(item, event, position)
        self._put(changes, key, doc, position)

    @_on.register(Allocation.Proposed)
    def _proposed(self, event: Allocation.Proposed, position: int, changes: Changes) -> None:
        changes.link(LINKS, f"allocation:{event.originator_id}", OPPORTUNITY, str(event.opportunity_id))

    @_on.register(Dispute.Raised)
    def _dispute_raised(self, event: Dispute.Raised, position: int, changes: Changes) -> None:
        key = changes.parent(LINKS, f"allocation:{event.allocation_id}", OPPORTUNITY)
        if key is None:
            return
        dispute_id = str(event.originator_id)
        changes.link(LINKS, f"dispute:{dispute_id}", OPPORTUNITY, key)
        doc = changes.get(VIEW, key)
        if not doc:
            return
        doc.setdefault("disputes", []).append({
            "id": dispute_id, "allocation_id": str(event.allocation_id), "member_id": event.member_id,
            "reason": event.reason, "status": "open", "raised_at": event.timestamp.isoformat(),
            "position": position})
        self._put(changes, key, doc, position)

    @_on.register(Dispute.Rejected)
    @_on.register(Dispute.Upheld)
    def _dispute_resolved(self, event: Dispute.Event, position: int, changes: Changes) -> None:
        status = STATUS_AFTER[type(event)]
        dispute_id = str(event.originator_id)
        key = changes.parent(LINKS, f"dispute:{dispute_id}", OPPORTUNITY)
        doc = _board(changes, key)
        if key is None or not doc:
            return
        for dispute in doc.setdefault("disputes", []):
            if dispute["id"] == dispute_id:
                dispute.update(status=status, resolved_position=position)
        self._put(changes, key, doc, position)

    @_on.register(Ask.Opened)
    def _ask_opened(self, event: Ask.Opened, position: int, changes: Changes) -> None:
        """What the AR asked a lead to decide."""
        ask_id = str(event.originator_id)
        key = changes.link(LINKS, f"ask:{ask_id}", OPPORTUNITY, str(event.opportunity_id))
        doc = changes.get(VIEW, key)
        if not doc:
            return
        doc.setdefault("asks", []).append({
            "id": ask_id, "opportunity_id": key, "action": event.action,
            "arguments": dict(event.arguments), "reason": event.reason, "calls": list(event.calls),
            "asked_by": event.actor, "asked_at": happened_at(event), "status": "open",
            "decision": None, "position": position, "changed_at": position})
        self._put(changes, key, doc, position)

    @_on.register(Ask.Approved)
    @_on.register(Ask.Rejected)
    def _ask_decided(self, event: Ask.Event, position: int, changes: Changes) -> None:
        """How a lead decided an ask."""
        status = STATUS_AFTER[type(event)]
        ask_id = str(event.originator_id)
        key = changes.parent(LINKS, f"ask:{ask_id}", OPPORTUNITY)
        doc = _board(changes, key)
        if key is None or not doc:
            return
        item = next((a for a in doc.setdefault("asks", []) if a["id"] == ask_id), None)
        if item is None:
            return
        item.update(status=status, changed_at=position, decision={
            "by": event.actor, "reason": event.reason, "at": happened_at(event), "position": position})
        self._put(changes, key, doc, position)


def _board(changes: Changes, key: str | None) -> dict | None:
    """The board of the opportunity `key` (a child's parent: None when the child's is unknown)."""
    return None if key is None else changes.get(VIEW, key)


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
    _request_moved(event, item, happened_at(event), position)


@singledispatch
def _request_moved(event: Any, item: dict, at: str, position: int) -> None:
    """A request's event that changes nothing of it."""


@_request_moved.register(SupportRequest.Accepted)
def _accepted(event: SupportRequest.Accepted, item: dict, at: str, position: int) -> None:
    item.update(status="accepted", accepted_at=at, supporter=event.member_id, changed_at=position)


@_request_moved.register(SupportRequest.Declined)
def _declined(event: SupportRequest.Declined, item: dict, at: str, position: int) -> None:
    item.update(status="declined", declined_at=at, decline_reason=event.reason, changed_at=position)


@_request_moved.register(SupportRequest.Delivered)
def _delivered(event: SupportRequest.Delivered, item: dict, at: str, position: int) -> None:
    item.update(status="delivered", delivered_at=at, contribution_id=event.contribution_id,
                not_counted=event.not_counted,
                delivery={"summary": event.summary, "hours": event.hours,
                          "evidence_url": event.evidence_url, "by": event.actor},
                changed_at=position)


@_request_moved.register(SupportRequest.Rated)
def _rated(event: SupportRequest.Rated, item: dict, at: str, position: int) -> None:
    item.update(status="rated", rated_at=at, rating=event.score, comment=event.comment,
                changed_at=position)

