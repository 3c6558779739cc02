"""Use cases of members, accounts, account teams and account-plan tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import (
    DEPARTMENTS,
    Account,
    Member,
    Task,
)
from domain.application.access import MAY, Actor
from domain.application.ledger import Answer
from domain.application.results import Graded, Recorded, WithStatus
from domain.exceptions import (
    AccountAlreadyExists,
    InvalidInput,
    MemberAlreadyExists,
    NotAllowed,
)


def known_department(value: object, field: str) -> str:
    if value not in DEPARTMENTS:
        raise InvalidInput(f"{value!r} is not a department; use one of {list(DEPARTMENTS)}", field=field)
    return value


def merge_attributes(attributes: dict, changes: dict) -> dict:
    """Attributes with changes applied: a key set to null is removed."""
    merged = {**attributes, **changes}
    return values.attributes({k: v for k, v in merged.items() if v is not None})  # the size limit holds


class Accounts:
    """Use cases of members, accounts, account teams and account-plan tasks."""

    def register_member(self, actor: Actor, member_id: str, name: str, department: str,
                        team: str | None = None, *, employee_id: str | None = None,
                        cost_center: str | None = None) -> Recorded:
        """Register a member of the selling team; their team (for calibration) defaults to the department."""
        member_id = values.text(member_id, "id", limit=64, single_line=True)
        known_department(department, "department")
        name = values.text(name, "name", limit=200, single_line=True)
        team = None if team is None else values.text(team, "team", limit=100, single_line=True)
        payroll = {field: values.text(value, field, limit=64, single_line=True)
                   for field, value in (("employee_id", employee_id), ("cost_center", cost_center))
                   if value is not None}
        member = Member(member_id=member_id, name=name, department=department, actor=actor.member_id,
                        **({"team": team} if team is not None else {}), **payroll)
        try:
            return self._saved(Recorded(member_id), member)
        except IntegrityError:
            raise MemberAlreadyExists(f"member {member_id} exists already", field="id") from None

    def member(self, member_id: str) -> dict:
        member = self._member(member_id, "member_id")
        return {"id": member.member_id, "name": member.name, "department": member.department,
                "team": member.team}

    def register_account(self, actor: Actor, *, name: str, industry: str | None = None,
                         attributes: dict | None = None, account_id: str | None = None) -> Recorded:
        """Register a customer; the account grading policy in force grades it. A member who
        registers it is its account manager."""
        aid = values.key(account_id, "id") if account_id is not None else str(uuid4())
        attributes = values.attributes(attributes)
        policy = self.policy_in_force("account-grading", self.clock().date())
        policy.check(attributes)
        if not actor.leads:
            self._member(actor.member_id, "member_id")
        name = values.text(name, "name", limit=200, single_line=True)
        industry = values.text(industry, "industry", required=False, limit=100, single_line=True)
        account = Account(account_id=aid, name=name, industry=industry, attributes=attributes,
                          actor=actor.member_id)
        account.grade_by(policy.grade(attributes), "registered", actor.member_id)
        if not actor.leads:
            account.add_to_team(actor.member_id, "account_manager", actor.member_id)
        try:
            return self._saved(Graded(aid, grade=account.grade), account)
        except IntegrityError:
            raise AccountAlreadyExists(f"account {aid} exists already", field="id") from None

    def change_account_attributes(self, actor: Actor, account_id: str, attributes: object) -> Recorded:
        """Change an account's attributes (merged; a null removes one); the grade follows."""
        changes = values.attributes(attributes)

        def decide(account: Account) -> None:
            self._require_seen_account(account, actor)
            self._require_team_or_lead(account, actor, "change its attributes")
            # read inside the turn, so a regrade by a new version is never overwritten by the old
            policy = self.policy_in_force("account-grading", self.clock().date())
            merged = merge_attributes(account.attributes, changes)
            policy.check(merged)
            account.change_attributes(merged, actor.member_id)
            account.grade_by(policy.grade(merged), "attributes changed", actor.member_id)

        return self._account_change(account_id, decide, lambda a: Graded(account_id, grade=a.grade))

    def regrade_accounts(self, actor: Actor) -> Recorded:
        """Grade every account again by the account grading policy in force today."""
        if actor.role not in MAY["regrade"]:
            raise NotAllowed("only finance, a lead or an admin regrades the accounts")
        return self._regrade_accounts(actor.member_id)

    def add_account_team_member(self, actor: Actor, account_id: str, member_id: str,
                                role: str) -> Recorded:
        """Put a member on the account team (the virtual organisation) with a role."""
        self._member(member_id, "member_id")

        def decide(account: Account) -> None:
            self._require_seen_account(account, actor)
            self._require_manager_or_lead(account, actor, "change its team")
            account.add_to_team(member_id, role, actor.member_id)

        return self._account_change(account_id, decide)

    def remove_account_team_member(self, actor: Actor, account_id: str, member_id: str) -> Recorded:
        """Take a member off the account team."""

        def decide(account: Account) -> None:
            self._require_seen_account(account, actor)
            self._require_manager_or_lead(account, actor, "change its team")
            account.remove_from_team(member_id, actor.member_id)

        return self._account_change(account_id, decide)

    def account(self, account_id: str) -> dict:
        account = self._account(account_id)
        return {"id": account.account_id, "name": account.name, "grade": account.grade,
                "team": dict(account.team)}

    def create_task(self, actor: Actor, account_id: str, *, title: str, due: str,
                    assignee: str | None = None, task_id: UUID | None = None) -> Recorded:
        """Add a task to the account plan, assigned to a member or not yet."""
        account = self._account(account_id)
        self._require_seen_account(account, actor)
        self._require_team_or_lead(account, actor, "plan its tasks")
        if assignee is not None:
            self._member(assignee, "assignee")
        title = values.text(title, "title", limit=500, single_line=True)
        task = Task(account_id=account.account_id, title=title, assignee=assignee,
                    due=self._due(due).isoformat(), actor=actor.member_id,
                    **({"id": task_id} if task_id else {}))
        try:
            return self._saved(WithStatus(str(task.id), status=task.status), task)
        except IntegrityError:
            return WithStatus(str(task.id), self._head(), self._task(task.id).status)

    def assign_task(self, actor: Actor, task_id: str, assignee: str) -> Recorded:
        """Give the task to a member (before it is done)."""
        self._member(assignee, "assignee")

        def decide(task: Task) -> None:
            self._require_team_or_lead(self._account(task.account_id), actor, "assign its tasks")
            task.assign(assignee, actor.member_id)

        return self._task_change(task_id, actor, decide)

    def complete_task(self, actor: Actor, task_id: str, note: str | None = None) -> Recorded:
        """The assignee (or a lead) says the task is done."""
        note = values.text(note, "note", required=False)

        def decide(task: Task) -> None:
            if not actor.leads and actor.member_id != task.assignee:
                raise NotAllowed("only the assignee or a lead completes a task")
            task.complete(note, actor.member_id)

        return self._task_change(task_id, actor, decide)

    def verify_task(self, actor: Actor, task_id: str) -> Recorded:
        """The account manager (or a lead), never the assignee, checks the work and closes the loop."""

        def decide(task: Task) -> None:
            self._require_checker(task, actor, "verify")
            task.verify(actor.member_id)

        return self._task_change(task_id, actor, decide)

    def reopen_task(self, actor: Actor, task_id: str, reason: str) -> Recorded:
        """Send a done (or verified) task back to its assignee, with a reason."""
        reason = values.text(reason, "reason")

        def decide(task: Task) -> None:
            self._require_checker(task, actor, "reopen")
            task.reopen(reason, actor.member_id)

        return self._task_change(task_id, actor, decide)

    def _regrade_accounts(self, actor: str) -> Recorded:
        policy = self.policy_in_force("account-grading", self.clock().date())

        def regrade(account: Account) -> None:
            account.grade_by(policy.grade(account.attributes), f"policy version {policy.version}", actor)

        return self._regrade(Account.Registered, self._account, regrade)

    def _due(self, due: object) -> date:
        on = values.iso_date(due, "due")
        if on < self.clock().date():
            raise InvalidInput(f"{on} is in the past", field="due")
        return on

    def _account_change(self, account_id: str, decide: Callable[[Account], None],
                        answer: Answer | None = None) -> Recorded:
        return self._update(self._account_id(account_id), lambda _: self._account(account_id), decide,
                            ident=str(account_id), answer=answer)

    def _task_change(self, task_id: str, actor: Actor, decide: Callable[[Task], None]) -> Recorded:
        """Change a task that `actor` may see (its account's readers and its assignee)."""
        task = self._task(task_id)

        def seen(fresh: Task) -> None:
            self._require_seen_account(self._account(fresh.account_id), actor, fresh)
            decide(fresh)

        return self._update(task.id, self._task, seen, ident=str(task.id))
