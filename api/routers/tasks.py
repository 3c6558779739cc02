"""Account-plan tasks: the closed loop assigned -> done -> verified, or reopened with a reason."""

from fastapi import APIRouter

from api.deps import ServicesDep, TaskId, Writer
from api.schemas import PROBLEMS, AssigneeIn, CommandOut, NoteIn, ReasonIn, recorded

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=PROBLEMS)


@router.post("/{task_id}/assign", response_model=CommandOut)
def assign(task_id: TaskId, body: AssigneeIn, actor: Writer, services: ServicesDep) -> dict:
    """Give the task to a member (the account team or a lead), before it is done."""
    return recorded(services.app.assign_task(actor, task_id, body.assignee))


@router.post("/{task_id}/complete", response_model=CommandOut)
def complete(task_id: TaskId, actor: Writer, services: ServicesDep, body: NoteIn | None = None) -> dict:
    """The assignee (or a lead) says the task is done."""
    return recorded(services.app.complete_task(actor, task_id, body.note if body else None))


@router.post("/{task_id}/verify", response_model=CommandOut)
def verify(task_id: TaskId, actor: Writer, services: ServicesDep) -> dict:
    """The account manager (or a lead), never the assignee, verifies the work."""
    return recorded(services.app.verify_task(actor, task_id))


@router.post("/{task_id}/reopen", response_model=CommandOut)
def reopen(task_id: TaskId, body: ReasonIn, actor: Writer, services: ServicesDep) -> dict:
    """Send a done or verified task back to its assignee, with a reason."""
    return recorded(services.app.reopen_task(actor, task_id, body.reason))
