"""Accounts: graded customers with their account team, account-plan tasks and board."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import (
    AccountPath,
    ActorDep,
    After,
    Cursor,
    IdempotencyKey,
    Limit,
    MemberPath,
    Search,
    ServicesDep,
    Writer,
    created_id,
    wait_for,
)
from api.schemas import (
    NOT_THE_ACTION,
    PROBLEMS,
    AccountIn,
    AttributesIn,
    CommandOut,
    GradedOut,
    RegradedOut,
    StatusOut,
    TaskIn,
    TeamSeatIn,
    recorded,
)
from domain.grading import ACCOUNT_GRADES
from queries.accounts import AccountBoardOut
from queries.lists import AccountPageOut

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=PROBLEMS)


@router.get("", response_model=AccountPageOut)
def list_accounts(
        actor: ActorDep, services: ServicesDep,
        grade: Annotated[Literal[ACCOUNT_GRADES] | None, Query(description="the account's grade")] = None,
        q: Search = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        after: After = None) -> AccountPageOut:
    """The registered accounts the caller may see (a member: those whose team they are on), by name
    then id, a page at a time: pass a page's `next` as `cursor` for the one after it."""
    wait_for(services, after)
    return services.queries.lists.accounts(actor, grade=grade, q=q, cursor=cursor, limit=limit)


@router.post("", status_code=201, response_model=GradedOut)
def register_account(body: AccountIn, actor: Writer, services: ServicesDep,
                     key: IdempotencyKey = None) -> dict:
    """Register a customer; the account grading policy grades it. A member registering it manages it."""
    account_id = body.id if body.id is not None else (str(created_id(actor, key)) if key else None)
    return recorded(services.app.register_account(
        actor, name=body.name, industry=body.industry, attributes=body.attributes,
        account_id=account_id))


@router.patch("/{account_id:account}", response_model=GradedOut, responses=NOT_THE_ACTION)
def change_attributes(account_id: AccountPath, body: AttributesIn, actor: Writer,
                      services: ServicesDep) -> dict:
    """Change the account's attributes (the account team or a lead); the grade follows."""
    return recorded(services.app.change_account_attributes(actor, account_id, body.attributes))


@router.post("/regrade", response_model=RegradedOut)
def regrade(actor: ActorDep, services: ServicesDep) -> dict:
    """Grade every account again by the policy in force today (finance, a lead or an admin)."""
    return recorded(services.app.regrade_accounts(actor))


@router.post("/{account_id}/team", status_code=201, response_model=CommandOut)
def add_team_member(account_id: AccountPath, body: TeamSeatIn, actor: Writer, services: ServicesDep) -> dict:
    """Put a member on the account team with a role (the account manager or a lead)."""
    return recorded(services.app.add_account_team_member(actor, account_id, body.member_id, body.role))


@router.delete("/{account_id}/team/{member_id}", response_model=CommandOut)
def remove_team_member(account_id: AccountPath, member_id: MemberPath, actor: Writer, services: ServicesDep) -> dict:
    """Take a member off the account team (the account manager or a lead)."""
    return recorded(services.app.remove_account_team_member(actor, account_id, member_id))


@router.post("/{account_id}/tasks", status_code=201, response_model=StatusOut)
def create_task(account_id: AccountPath, body: TaskIn, actor: Writer, services: ServicesDep,
                key: IdempotencyKey = None) -> dict:
    """Add a task to the account plan (the account team or a lead)."""
    return recorded(services.app.create_task(actor, account_id, title=body.title, due=body.due,
                                             assignee=body.assignee, task_id=created_id(actor, key)))


@router.get("/{account_id}/board", response_model=AccountBoardOut)
def board(account_id: AccountPath, actor: ActorDep, services: ServicesDep,
          after: After = None) -> AccountBoardOut:
    """Grade history, team, tasks with overdue ones flagged, and the account's opportunities."""
    wait_for(services, after)
    return services.queries.accounts.board(actor, account_id)
