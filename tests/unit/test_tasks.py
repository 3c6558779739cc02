"""Account-plan tasks and their closed loop (created -> assigned -> done -> verified, or reopened):
the task's states as domain tests, then the use cases through the Application in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.aggregates import Account, Task
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    AccountNotFound,
    InvalidInput,
    MemberNotFound,
    NotAllowed,
    TaskNotFound,
    TransitionRefused,
)
from tests.ledger import (
    ALICE,
    BOB,
    CAROL,
    ERIN,
    LEAD,
    events,
    refused,
    replay,
    then,
    when,
)
from tests.unit import test_accounts as accounts
from tests.unit.test_accounts import NEXT_WEEK, TODAY, register_acme

MEMBERS, NOW = accounts.MEMBERS, accounts.NOW  # the team and clock of the app and clock fixtures


# -- given / when / then for a task --------------------------------------------------------------

TaskCommand = Callable[[Task], object]


def given_task(*commands: TaskCommand, assignee: str | None = "bob") -> Task:
    """A task rebuilt from the events of creating it and running `commands`."""
    task = Task(account_id="acme", title="Map the buying centre", assignee=assignee,
                due="2026-03-31", actor="alice")
    for command in commands:
        command(task)
    rebuilt = replay(task.collect_events())
    assert not rebuilt.pending_events
    return rebuilt


def then_refused(task: Task, command: TaskCommand, error: type[Exception] = TransitionRefused) -> None:
    version, status = task.version, task.status
    with pytest.raises(error) as refusal:
        command(task)
    assert type(refusal.value) is error
    assert (task.pending_events, task.version, task.status) == ([], version, status)


def assign(assignee: str, by: str = "alice") -> TaskCommand:
    return lambda t: t.assign(assignee, by)


def complete(note: str = "met the CFO", by: str = "bob") -> TaskCommand:
    return lambda t: t.complete(note, by)


def verify(by: str = "alice") -> TaskCommand:
    return lambda t: t.verify(by)


def reopen(reason: str = "the CFO was not there", by: str = "alice") -> TaskCommand:
    return lambda t: t.reopen(reason, by)


def test_a_task_created_with_an_assignee_starts_assigned() -> None:
    task = Task(account_id="acme", title="Map the buying centre", assignee="bob", due="2026-03-31",
                actor="alice")
    then(task.pending_events, (Task.Created, {"account_id": "acme", "assignee": "bob",
                                              "due": "2026-03-31", "actor": "alice"}))
    assert task.status == "assigned"
    assert given_task(assignee=None).status == "created"


def test_a_task_goes_created_assigned_done_verified_in_that_order() -> None:
    task = given_task(assignee=None)
    then(when(task, assign("bob")), (Task.Assigned, {"assignee": "bob", "actor": "alice"}))
    then(when(task, complete()), (Task.Completed, {"note": "met the CFO", "actor": "bob"}))
    then(when(task, verify()), (Task.Verified, {"actor": "alice"}))
    assert task.status == "verified"


@pytest.mark.parametrize(("commands", "command"), [
    ((), verify()),  # verify before done
    ((), reopen()),  # reopen before done
    ((complete(),), complete()),  # done twice
    ((complete(),), assign("carol")),  # reassign once done
    ((complete(), verify()), verify()),
    ((complete(), verify()), complete()),
], ids=["verify-assigned", "reopen-assigned", "complete-done", "assign-done", "verify-verified",
        "complete-verified"])
def test_refuses_a_task_transition_out_of_order(commands, command) -> None:
    then_refused(given_task(*commands), command)


def test_refuses_completing_a_task_nobody_was_assigned() -> None:
    then_refused(given_task(assignee=None), complete())
    then_refused(given_task(assignee=None), verify())


@pytest.mark.parametrize("done", [(complete(),), (complete(), verify())], ids=["done", "verified"])
def test_reopening_returns_the_task_to_its_assignee_with_the_reason(done) -> None:
    task = given_task(*done)
    then(when(task, reopen()), (Task.Reopened, {"reason": "the CFO was not there", "actor": "alice"}))
    assert (task.status, task.assignee) == ("assigned", "bob")
    then(when(task, complete("met the CFO this time")), (Task.Completed, {"note": "met the CFO this time"}))


def test_assigning_the_same_assignee_again_records_nothing() -> None:
    then(when(given_task(), assign("bob")))


# -- account-plan tasks --------------------------------------------------------------------------

def plan(app: Goldsplit, assignee: str | None = "bob", **changes: Any) -> str:
    """acme registered by alice (its manager), bob on the team, and one task on the plan."""
    if Account.create_id("acme") not in app.repository:
        register_acme(app)
        app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    fields = dict(title="Map the buying centre", due=NEXT_WEEK, assignee=assignee)
    return app.create_task(ALICE, "acme", **{**fields, **changes}).id


def task(app: Goldsplit, task_id: str) -> Task:
    return app.repository.get(UUID(task_id))


def test_creating_a_task_records_it_assigned_or_not(app: Goldsplit) -> None:
    assigned = plan(app)
    unassigned = plan(app, assignee=None)
    [created] = events(app, UUID(assigned))
    assert (type(created), created.account_id, created.assignee, created.due, created.actor) == (
        Task.Created, "acme", "bob", NEXT_WEEK, "alice")
    assert (task(app, assigned).status, task(app, unassigned).status) == ("assigned", "created")


def test_refuses_a_task_for_an_unknown_assignee_and_records_nothing(app: Goldsplit) -> None:
    register_acme(app)
    count = len(list(app.recorder.select_notifications(1, 1000)))
    refused(app, MemberNotFound, app.create_task, ALICE, "acme", title="Call", due=NEXT_WEEK,
            assignee="ghost", field="assignee")
    assert len(list(app.recorder.select_notifications(1, 1000))) == count


def test_refuses_assigning_a_task_to_an_unknown_member(app: Goldsplit) -> None:
    tid = plan(app, assignee=None)
    refused(app, MemberNotFound, app.assign_task, ALICE, tid, "ghost", field="assignee")
    assert task(app, tid).assignee is None


@pytest.mark.parametrize(("due", "field"), [
    ((TODAY - timedelta(days=1)).isoformat(), "due"),
    ("1999-12-31", "due"),
    ("next week", "due"),
])
def test_refuses_a_due_date_in_the_past_or_not_a_date(app: Goldsplit, due: str, field: str) -> None:
    register_acme(app)
    refused(app, InvalidInput, app.create_task, ALICE, "acme", title="Call", due=due, field=field)


def test_a_task_may_be_due_today(app: Goldsplit) -> None:
    assert task(app, plan(app, due=TODAY.isoformat())).due == TODAY.isoformat()


def test_refuses_a_task_without_a_title(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, InvalidInput, app.create_task, ALICE, "acme", title="  ", due=NEXT_WEEK, field="title")


def test_only_the_account_team_or_a_lead_plans_tasks(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, AccountNotFound, app.create_task, ERIN, "acme", title="Call", due=NEXT_WEEK)
    assert task(app, app.create_task(LEAD, "acme", title="Call", due=NEXT_WEEK).id).status == "created"
    refused(app, AccountNotFound, app.create_task, LEAD, "nowhere", title="Call", due=NEXT_WEEK,
            field="account_id")


def test_the_closed_loop_assigned_done_verified(app: Goldsplit) -> None:
    tid = plan(app, assignee=None)
    app.assign_task(ALICE, tid, "bob")
    app.complete_task(BOB, tid, note="met the CFO")
    app.verify_task(ALICE, tid)
    assert task(app, tid).status == "verified"
    assert [(type(e).__name__, e.actor) for e in events(app, UUID(tid))] == [
        ("Created", "alice"), ("Assigned", "alice"), ("Completed", "bob"), ("Verified", "alice")]


def test_refuses_verifying_before_the_task_is_done(app: Goldsplit) -> None:
    tid = plan(app)
    refused(app, TransitionRefused, app.verify_task, ALICE, tid, field="status")
    assert task(app, tid).status == "assigned"


def test_refuses_completing_a_task_that_is_only_created(app: Goldsplit) -> None:
    tid = plan(app, assignee=None)
    refused(app, TransitionRefused, app.complete_task, LEAD, tid)
    refused(app, NotAllowed, app.complete_task, BOB, tid)  # nobody's task yet, so not bob's
    assert task(app, tid).status == "created"


def test_refuses_reassigning_a_done_task(app: Goldsplit) -> None:
    tid = plan(app)
    app.complete_task(BOB, tid)
    refused(app, TransitionRefused, app.assign_task, ALICE, tid, "carol")


def test_reopening_needs_a_reason_and_returns_the_task_to_its_assignee(app: Goldsplit) -> None:
    tid = plan(app)
    app.complete_task(BOB, tid)
    refused(app, InvalidInput, app.reopen_task, ALICE, tid, " ", field="reason")
    app.reopen_task(ALICE, tid, "the CFO was not in the meeting")
    reopened = events(app, UUID(tid))[-1]
    assert (type(reopened), reopened.reason, reopened.actor) == (
        Task.Reopened, "the CFO was not in the meeting", "alice")
    assert (task(app, tid).status, task(app, tid).assignee) == ("assigned", "bob")
    app.complete_task(BOB, tid, note="met the CFO")
    app.verify_task(LEAD, tid)
    assert task(app, tid).status == "verified"


def test_a_verified_task_may_be_reopened(app: Goldsplit) -> None:
    tid = plan(app)
    app.complete_task(BOB, tid)
    app.verify_task(ALICE, tid)
    app.reopen_task(ALICE, tid, "the customer disagrees")
    assert task(app, tid).status == "assigned"


def test_refuses_reopening_a_task_that_is_not_done(app: Goldsplit) -> None:
    tid = plan(app)
    refused(app, TransitionRefused, app.reopen_task, ALICE, tid, "why not")


def test_the_assignee_never_verifies_or_reopens_their_own_task(app: Goldsplit) -> None:
    tid = plan(app, assignee="alice")  # the account manager took the task herself
    app.complete_task(ALICE, tid)
    refused(app, NotAllowed, app.verify_task, ALICE, tid)
    refused(app, NotAllowed, app.reopen_task, ALICE, tid, "redo it")
    app.verify_task(LEAD, tid)
    assert task(app, tid).status == "verified"


def test_a_lead_who_is_the_assignee_does_not_verify_their_own_task(app: Goldsplit) -> None:
    register_acme(app)
    tid = app.create_task(LEAD, "acme", title="Call", due=NEXT_WEEK, assignee="alice").id
    app.complete_task(ALICE, tid)
    lead_alice = Actor("alice", "lead")
    refused(app, NotAllowed, app.verify_task, lead_alice, tid)


def test_only_the_manager_or_a_lead_verifies(app: Goldsplit) -> None:
    tid = plan(app, assignee="carol")
    app.complete_task(CAROL, tid)
    refused(app, NotAllowed, app.verify_task, BOB, tid)  # on the team, but not its manager
    refused(app, TaskNotFound, app.verify_task, ERIN, tid)  # off the team: no task to her


def test_only_the_assignee_or_a_lead_completes(app: Goldsplit) -> None:
    tid = plan(app)
    refused(app, NotAllowed, app.complete_task, ALICE, tid)
    app.complete_task(LEAD, tid, note="done on bob's behalf")
    assert task(app, tid).status == "done"


def test_only_the_team_or_a_lead_assigns(app: Goldsplit) -> None:
    tid = plan(app, assignee=None)
    refused(app, TaskNotFound, app.assign_task, ERIN, tid, "erin")
    app.assign_task(BOB, tid, "carol")
    assert task(app, tid).assignee == "carol"


def test_a_retried_task_with_the_same_id_is_recorded_once(app: Goldsplit) -> None:
    register_acme(app)
    tid = UUID("00000000-0000-0000-0000-0000000000aa")
    first = app.create_task(ALICE, "acme", title="Call", due=NEXT_WEEK, task_id=tid)
    again = app.create_task(ALICE, "acme", title="Call", due=NEXT_WEEK, task_id=tid)
    assert (first.id, again.id, again.position) == (str(tid), str(tid), first.position)
    assert len(events(app, tid)) == 1


@pytest.mark.parametrize("tid", ["not-a-uuid", "00000000-0000-0000-0000-000000000001"])
def test_answers_task_not_found_for_an_unknown_task(app: Goldsplit, tid: str) -> None:
    refused(app, TaskNotFound, app.complete_task, LEAD, tid, field="task_id")


def test_an_account_id_is_not_a_task(app: Goldsplit) -> None:
    register_acme(app)
    refused(app, TaskNotFound, app.complete_task, LEAD, str(Account.create_id("acme")))
