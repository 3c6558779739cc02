"""The account board: grade with its history, the account team, account-plan tasks, opportunities.

One document per account, keyed by the account's own id (what clients call it, not the aggregate
uuid). An opportunity opened on an account id that is not registered (yet) is kept under that id
with `registered: False`, so it shows once the account is registered.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.aggregates import Account, Opportunity, Task
from domain.money import format_amount
from projections.base import Changes, Projection

VIEW = "account"
ACCOUNT_IDS = "account_uuid"  # Account aggregate uuid -> account id
OPPORTUNITIES = "account_opportunity"  # opportunity uuid -> account id
TASKS = "account_task"  # task uuid -> account id

SHOWN_OPPORTUNITY_EVENTS = (Opportunity.Won, Opportunity.Lost, Opportunity.Graded, Opportunity.Corrected)
TASK_STATUSES = ("created", "assigned", "done", "verified")
FINISHED = ("done", "verified")


def _account(account_id: str) -> dict:
    return {"account_id": account_id, "registered": False, "name": None, "industry": None,
            "attributes": {}, "grade": None, "score": None, "grade_history": [], "team": {},
            "team_history": [], "tasks": [], "opportunities": [], "registered_by": None,
            "registered_at": None, "position": 0}


class AccountBoardProjection(Projection):
    """Keeps one document per account with the facts its board shows."""

    name = "account_board"
    views = (VIEW, ACCOUNT_IDS, OPPORTUNITIES, TASKS)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        account_id = self._account_of(event, changes)
        if account_id is None:
            return
        doc = changes.get(VIEW, account_id) or _account(account_id)
        at = event.timestamp.isoformat()
        if isinstance(event, Account.Event):
            changed = self._account_event(doc, event, position, at)
        elif isinstance(event, Task.Event):
            changed = self._task_event(doc, event, position, at)
        else:
            changed = self._opportunity_event(doc, event)
        if changed:
            doc["position"] = position
            changes.put(VIEW, account_id, doc)

    # -- which account an event is about ------------------------------------------------------

    @staticmethod
    def _account_of(event: Any, changes: Changes) -> str | None:
        """The account id an event is about, remembered from its aggregate's first event."""
        for family, created, index in ((Account.Event, Account.Registered, ACCOUNT_IDS),
                                       (Task.Event, Task.Created, TASKS),
                                       (Opportunity.Event, Opportunity.Opened, OPPORTUNITIES)):
            if not isinstance(event, family):
                continue
            if isinstance(event, created):
                changes.put(index, str(event.originator_id), {"account_id": event.account_id})
                return event.account_id
            if isinstance(event, Opportunity.Event) and not isinstance(event, SHOWN_OPPORTUNITY_EVENTS):
                return None
            known = changes.get(index, str(event.originator_id))
            return known["account_id"] if known else None
        return None

    # -- what it changes ----------------------------------------------------------------------

    @staticmethod
    def _account_event(doc: dict, event: Any, position: int, at: str) -> bool:
        if isinstance(event, Account.Registered):
            doc.update(registered=True, name=event.name, industry=event.industry,
                       attributes=event.attributes, registered_by=event.actor, registered_at=at)
        elif isinstance(event, Account.AttributesChanged):
            doc["attributes"] = event.attributes
        elif isinstance(event, Account.Graded):
            doc.update(grade=event.grade, score=event.score)
            doc["grade_history"].append({
                "grade": event.grade, "score": event.score, "reasons": list(event.reasons),
                "policy": dict(event.policy), "reason": event.reason, "by": event.actor, "at": at,
                "position": position})
        elif isinstance(event, Account.TeamMemberAdded):
            doc["team"][event.member_id] = event.role
            doc["team_history"].append({"member_id": event.member_id, "role": event.role,
                                        "change": "added", "by": event.actor, "at": at,
                                        "position": position})
        elif isinstance(event, Account.TeamMemberRemoved):
            role = doc["team"].pop(event.member_id, None)
            doc["team_history"].append({"member_id": event.member_id, "role": role,
                                        "change": "removed", "by": event.actor, "at": at,
                                        "position": position})
        else:
            return False
        return True

    @staticmethod
    def _task_event(doc: dict, event: Any, position: int, at: str) -> bool:
        task_id = str(event.originator_id)
        if isinstance(event, Task.Created):
            doc["tasks"].append({
                "id": task_id, "title": event.title, "assignee": event.assignee, "due": event.due,
                "status": "assigned" if event.assignee else "created", "created_by": event.actor,
                "created_at": at, "completed_at": None, "completion_note": None,
                "verified_at": None, "verified_by": None, "reopened": [], "position": position,
                "changed_at": position})
            return True
        task = next((t for t in doc["tasks"] if t["id"] == task_id), None)
        if task is None:
            return False
        if isinstance(event, Task.Assigned):
            task.update(assignee=event.assignee, status="assigned")
        elif isinstance(event, Task.Completed):
            task.update(status="done", completed_at=at, completion_note=event.note or None)
        elif isinstance(event, Task.Verified):
            task.update(status="verified", verified_at=at, verified_by=event.actor)
        elif isinstance(event, Task.Reopened):
            task["reopened"].append({"reason": event.reason, "by": event.actor, "at": at,
                                     "completed_at": task["completed_at"]})
            task.update(status="assigned", completed_at=None, completion_note=None,
                        verified_at=None, verified_by=None)
        else:
            return False
        task["changed_at"] = position
        return True

    @staticmethod
    def _opportunity_event(doc: dict, event: Any) -> bool:
        oid = str(event.originator_id)
        if isinstance(event, Opportunity.Opened):
            doc["opportunities"].append({
                "opportunity_id": oid, "name": event.name, "grade": event.grade, "stage": "open",
                "amount": event.amount, "currency": event.currency,
                "expected_close": event.expected_close, "closed_on": None})
            return True
        item = next((o for o in doc["opportunities"] if o["opportunity_id"] == oid), None)
        if item is None:
            return False
        if isinstance(event, Opportunity.Won):
            item.update(stage="won", amount=event.amount, closed_on=event.closed_on)
        elif isinstance(event, Opportunity.Lost):
            item.update(stage="lost", closed_on=event.closed_on)
        elif isinstance(event, Opportunity.Graded):
            item["grade"] = event.grade
        elif isinstance(event, Opportunity.Corrected):
            item.update(amount=event.amount, expected_close=event.expected_close)
        return True


def is_overdue(task: dict, today: date) -> bool:
    """Past its due date and not yet done (a done task waiting for verification is not overdue)."""
    return task["status"] not in FINISHED and date.fromisoformat(task["due"]) < today


def present_account_board(doc: dict, today: date, position: int,
                          grading_in_force: dict | None = None) -> dict:
    """The account board as clients read it: tasks flagged overdue as of `today`, counted by
    status, and opportunity amounts as decimal strings. `position` is how far the projection had
    read when `doc` was fetched (`changed_at`: the last event that changed this board).

    Given the reference of the account grading version in force today, `regrade_due` says the
    grade was given by another version (one that took effect later waits for a regrade).
    """
    graded_by = doc["grade_history"][-1]["policy"] if doc["grade_history"] else None
    tasks = [{**t, "overdue": is_overdue(t, today)} for t in doc["tasks"]]
    by_status = dict.fromkeys(TASK_STATUSES, 0)
    for task in tasks:
        by_status[task["status"]] = by_status.get(task["status"], 0) + 1
    return {
        **{k: v for k, v in doc.items() if k not in ("tasks", "opportunities", "position")},
        "position": max(position, doc["position"]), "changed_at": doc["position"],
        "tasks": tasks,
        "overdue_tasks": sum(t["overdue"] for t in tasks),
        "tasks_by_status": by_status,
        "regrade_due": bool(grading_in_force and graded_by
                            and graded_by["version"] != grading_in_force["version"]),
        "opportunities": [
            {**o, "amount": {"amount": format_amount(o["amount"], o["currency"]),
                             "currency": o["currency"]}}
            for o in doc["opportunities"]
        ],
    }
