"""The account board as a reader sees it: grade history, team, tasks flagged overdue, and the
deals filed under the account that the reader may see."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from domain.application import Actor, Goldsplit
from domain.exceptions import AccountNotFound
from domain.money import format_amount
from projections.accounts import VIEW, AccountBoardProjection
from projections.store import ViewStore
from queries.access import board_seen, reads_all
from queries.models import INTERNAL, Money, Out, PolicyRef

FINISHED = ("done", "verified")
TASK_STATUSES = ("created", "assigned", "done", "verified")


class AccountQuery:
    """Reads the account board for its team, leads, finance, auditors and admins (404 for others)."""

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def board(self, actor: Actor, account_id: str) -> AccountBoardOut:
        position = self.views.position(AccountBoardProjection.name)
        doc = self.views.get(VIEW, account_id)
        if doc is None or not doc["registered"] or not (reads_all(actor) or actor.member_id in doc["team"]):
            raise AccountNotFound(f"no account {account_id}", field="account_id")  # or not one to see
        if not reads_all(actor):
            # the team sees the deals they are on: an account id is free text on an opportunity, so
            # whoever registers it must not see every deal filed under it
            doc = {**doc, "opportunities": [o for o in doc["opportunities"]
                                            if board_seen(self.views, o["opportunity_id"], actor)]}
        today = self.app.clock().date()
        return AccountBoardOut.model_validate(present_account_board(
            doc, today, position,
            grading_in_force=self.app.policy_in_force("account-grading", today).reference()))


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


# -- the answer models --------------------------------------------------------------------------

class GradeChangeOut(Out):
    grade: str
    score: str | None
    reasons: list[str]
    policy: PolicyRef
    reason: str | None
    by: str
    at: str
    position: int


class TeamChangeOut(Out):
    member_id: str
    role: str | None = Field(description="null when a member not on the team was taken off")
    change: str = Field(description="added | removed")
    by: str
    at: str
    position: int


class ReopenedOut(Out):
    reason: str
    by: str
    at: str
    completed_at: str | None


class TaskOut(Out):
    id: str
    title: str
    assignee: str | None
    due: str
    status: str = Field(description="created | assigned | done | verified")
    created_by: str
    created_at: str
    completed_at: str | None
    completion_note: str | None
    verified_at: str | None
    verified_by: str | None
    reopened: list[ReopenedOut]
    position: int
    changed_at: int
    overdue: bool


class TasksByStatusOut(Out):
    created: int
    assigned: int
    done: int
    verified: int


class AccountOpportunityOut(Out):
    opportunity_id: str
    name: str
    grade: str
    stage: str
    amount: Money
    currency: str
    expected_close: str
    closed_on: str | None


class AccountBoardOut(Out):
    account_id: str
    registered: bool = Field(description=f"always true here (an unregistered account is 404); {INTERNAL}")
    name: str | None
    industry: str | None
    attributes: dict[str, Any]
    grade: str | None
    score: str | None
    grade_history: list[GradeChangeOut]
    regrade_due: bool = Field(description="the grade was given by another version than the one in "
                                          "force today")
    team: dict[str, str] = Field(description="each member's role on the account team")
    team_history: list[TeamChangeOut]
    tasks: list[TaskOut]
    overdue_tasks: int
    tasks_by_status: TasksByStatusOut
    opportunities: list[AccountOpportunityOut]
    registered_by: str | None
    registered_at: str | None
    position: int
    changed_at: int
