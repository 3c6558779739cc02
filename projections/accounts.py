"""The account board: grade with its history, the account team, account-plan tasks, opportunities.

One document per account, keyed by the account's own id (what clients call it, not the aggregate
uuid). An opportunity opened on an account id that is not registered (yet) is kept under that id
with `registered: False`, so it shows once the account is registered.
"""

from __future__ import annotations

from typing import Any

from domain.aggregates import Account, Opportunity, Task
from projections.base import Changes, Projection, on_event

VIEW = "account"
ACCOUNT_IDS = "account_uuid"  # Account aggregate uuid -> account id
OPPORTUNITIES = "account_opportunity"  # opportunity uuid -> account id
TASKS = "account_task"  # task uuid -> account id
ACCOUNT = "account_id"  # the parent the three link views name (Changes.link)
ROWS = "account_row"  # account id -> what the accounts list shows and filters on (queries/lists.py)


def _account(account_id: str) -> dict:
    return {"account_id": account_id, "registered": False, "name": None, "industry": None,
            "attributes": {}, "grade": None, "score": None, "grade_history": [], "team": {},
            "team_history": [], "tasks": [], "opportunities": [], "registered_by": None,
            "registered_at": None, "position": 0}


ROW_FIELDS = ("account_id", "registered", "name", "industry", "grade", "team")


class AccountBoardProjection(Projection):
    """Keeps one document per account with the facts its board shows."""

    name = "account_board"
    views = (VIEW, ACCOUNT_IDS, OPPORTUNITIES, TASKS, ROWS)
    rows = {VIEW: (ROWS, lambda key, doc: {name: doc.get(name) for name in ROW_FIELDS})}

    def process(self, event: Any, position: int, changes: Changes) -> None:
        account_id = self._account_of(event, changes)
        if account_id is None:
            return
        doc = changes.get(VIEW, account_id) or _account(account_id)
        if self._apply(event, doc, position, event.timestamp.isoformat()):
            doc["position"] = position
            changes.put(VIEW, account_id, doc)

    # -- which account an event is about: the one its aggregate's first event named -------------

    @on_event
    def _account_of(self, event: Any, changes: Changes) -> str | None:
        """An event no account board shows."""
        return None

    @_account_of.register(Account.Registered)
    def _registered_on(self, event: Account.Registered, changes: Changes) -> str | None:
        return changes.link(ACCOUNT_IDS, str(event.originator_id), ACCOUNT, event.account_id)

    @_account_of.register(Task.Created)
    def _created_on(self, event: Task.Created, changes: Changes) -> str | None:
        return changes.link(TASKS, str(event.originator_id), ACCOUNT, event.account_id)

    @_account_of.register(Opportunity.Opened)
    def _opened_on(self, event: Opportunity.Opened, changes: Changes) -> str | None:
        return changes.link(OPPORTUNITIES, str(event.originator_id), ACCOUNT, event.account_id)

    @_account_of.register(Account.Event)
    def _account_event_on(self, event: Account.Event, changes: Changes) -> str | None:
        return changes.parent(ACCOUNT_IDS, str(event.originator_id), ACCOUNT)

    @_account_of.register(Task.Event)
    def _task_event_on(self, event: Task.Event, changes: Changes) -> str | None:
        return changes.parent(TASKS, str(event.originator_id), ACCOUNT)

    @_account_of.register(Opportunity.Won)
    @_account_of.register(Opportunity.Lost)
    @_account_of.register(Opportunity.Graded)
    @_account_of.register(Opportunity.Corrected)
    def _shown_opportunity_event_on(self, event: Opportunity.Event, changes: Changes) -> str | None:
        return changes.parent(OPPORTUNITIES, str(event.originator_id), ACCOUNT)

    # -- what it changes (True: the board changed) ----------------------------------------------

    @on_event
    def _apply(self, event: Any, doc: dict, position: int, at: str) -> bool:
        return False

    @_apply.register(Account.Registered)
    def _registered(self, event: Account.Registered, doc: dict, position: int, at: str) -> bool:
        doc.update(registered=True, name=event.name, industry=event.industry,
                   attributes=event.attributes, registered_by=event.actor, registered_at=at)
        return True

    @_apply.register(Account.AttributesChanged)
    def _attributes(self, event: Account.AttributesChanged, doc: dict, position: int, at: str) -> bool:
        doc["attributes"] = event.attributes
        return True

    @_apply.register(Account.Graded)
    def _graded(self, event: Account.Graded, doc: dict, position: int, at: str) -> bool:
        doc.update(grade=event.grade, score=event.score)
        doc["grade_history"].append({
            "grade": event.grade, "score": event.score, "reasons": list(event.reasons),
            "policy": dict(event.policy), "reason": event.reason, "by": event.actor, "at": at,
            "position": position})
        return True

    @_apply.register(Account.TeamMemberAdded)
    def _member_added(self, event: Account.TeamMemberAdded, doc: dict, position: int, at: str) -> bool:
        doc["team"][event.member_id] = event.role
        doc["team_history"].append({"member_id": event.member_id, "role": event.role,
                                    "change": "added", "by": event.actor, "at": at,
                                    "position": position})
        return True

    @_apply.register(Account.TeamMemberRemoved)
    def _member_removed(self, event: Account.TeamMemberRemoved, doc: dict, position: int, at: str) -> bool:
        role = doc["team"].pop(event.member_id, None)
        doc["team_history"].append({"member_id": event.member_id, "role": role,
                                    "change": "removed", "by": event.actor, "at": at,
                                    "position": position})
        return True

    @_apply.register(Task.Created)
    def _task_created(self, event: Task.Created, doc: dict, position: int, at: str) -> bool:
        doc["tasks"].append({
            "id": str(event.originator_id), "title": event.title, "assignee": event.assignee,
            "due": event.due, "status": "assigned" if event.assignee else "created",
            "created_by": event.actor, "created_at": at, "completed_at": None,
            "completion_note": None, "verified_at": None, "verified_by": None, "reopened": [],
            "position": position, "changed_at": position})
        return True

    @_apply.register(Task.Assigned)
    def _task_assigned(self, event: Task.Assigned, doc: dict, position: int, at: str) -> bool:
        return _task_changed(doc, event, position, assignee=event.assignee, status="assigned")

    @_apply.register(Task.Completed)
    def _task_completed(self, event: Task.Completed, doc: dict, position: int, at: str) -> bool:
        return _task_changed(doc, event, position, status="done", completed_at=at,
                             completion_note=event.note or None)

    @_apply.register(Task.Verified)
    def _task_verified(self, event: Task.Verified, doc: dict, position: int, at: str) -> bool:
        return _task_changed(doc, event, position, status="verified", verified_at=at,
                             verified_by=event.actor)

    @_apply.register(Task.Reopened)
    def _task_reopened(self, event: Task.Reopened, doc: dict, position: int, at: str) -> bool:
        task = _task(doc, event)
        if task is not None:
            task["reopened"].append({"reason": event.reason, "by": event.actor, "at": at,
                                     "completed_at": task["completed_at"]})
        return _task_changed(doc, event, position, status="assigned", completed_at=None,
                             completion_note=None, verified_at=None, verified_by=None)

    @_apply.register(Opportunity.Opened)
    def _opened(self, event: Opportunity.Opened, doc: dict, position: int, at: str) -> bool:
        doc["opportunities"].append({
            "opportunity_id": str(event.originator_id), "name": event.name, "grade": event.grade,
            "stage": "open", "amount": event.amount, "currency": event.currency,
            "expected_close": event.expected_close, "closed_on": None})
        return True

    @_apply.register(Opportunity.Won)
    def _won(self, event: Opportunity.Won, doc: dict, position: int, at: str) -> bool:
        return _opportunity_changed(doc, event, stage="won", amount=event.amount,
                                    closed_on=event.closed_on)

    @_apply.register(Opportunity.Lost)
    def _lost(self, event: Opportunity.Lost, doc: dict, position: int, at: str) -> bool:
        return _opportunity_changed(doc, event, stage="lost", closed_on=event.closed_on)

    @_apply.register(Opportunity.Graded)
    def _regraded(self, event: Opportunity.Graded, doc: dict, position: int, at: str) -> bool:
        return _opportunity_changed(doc, event, grade=event.grade)

    @_apply.register(Opportunity.Corrected)
    def _corrected(self, event: Opportunity.Corrected, doc: dict, position: int, at: str) -> bool:
        return _opportunity_changed(doc, event, amount=event.amount, expected_close=event.expected_close)


def _task(doc: dict, event: Task.Event) -> dict | None:
    task_id = str(event.originator_id)
    return next((t for t in doc["tasks"] if t["id"] == task_id), None)


def _task_changed(doc: dict, event: Task.Event, position: int, **change: Any) -> bool:
    """Update the event's task on the board (False when the board does not list it)."""
    task = _task(doc, event)
    if task is None:
        return False
    task.update(change)
    task["changed_at"] = position
    return True


def _opportunity_changed(doc: dict, event: Opportunity.Event, **change: Any) -> bool:
    """Update the event's opportunity on the board (False when the board does not list it)."""
    oid = str(event.originator_id)
    item = next((o for o in doc["opportunities"] if o["opportunity_id"] == oid), None)
    if item is None:
        return False
    item.update(change)
    return True

