"""Front/back-office support requests: accepted or declined, delivered, rated by the requester."""

from fastapi import APIRouter

from api.deps import RequestId, ServicesDep, Writer
from api.schemas import PROBLEMS, AcceptIn, CommandOut, DeliveredOut, DeliverIn, RateIn, ReasonIn, recorded

router = APIRouter(prefix="/v1/requests", tags=["requests"], responses=PROBLEMS)


@router.post("/{request_id}/accept", response_model=CommandOut)
def accept(request_id: RequestId, actor: Writer, services: ServicesDep, body: AcceptIn | None = None) -> dict:
    """The addressee (or someone of the addressed department) takes it on and joins the opportunity."""
    return recorded(services.app.accept_request(actor, request_id, body.member_id if body else None))


@router.post("/{request_id}/decline", response_model=CommandOut)
def decline(request_id: RequestId, body: ReasonIn, actor: Writer, services: ServicesDep) -> dict:
    """The addressee (or a lead) declines, with a reason."""
    return recorded(services.app.decline_request(actor, request_id, body.reason))


@router.post("/{request_id}/deliver", response_model=DeliveredOut, response_model_exclude_unset=True)
def deliver(request_id: RequestId, actor: Writer, services: ServicesDep, body: DeliverIn | None = None) -> dict:
    """The supporter delivers; it becomes their confirmed support_delivered contribution."""
    body = body or DeliverIn()
    return recorded(services.app.deliver_request(actor, request_id, summary=body.summary,
                                                 hours=body.hours, evidence_url=body.evidence_url))


@router.post("/{request_id}/rate", response_model=CommandOut)
def rate(request_id: RequestId, body: RateIn, actor: Writer, services: ServicesDep) -> dict:
    """The requester rates the delivered help from 1 to 5."""
    return recorded(services.app.rate_request(actor, request_id, body.score, body.comment))
