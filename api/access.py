"""Who may read what: leads, finance, auditors and admins read everything; a member reads the
boards and allocations of opportunities they are or were on, and of an allocation only their line.
"""

from __future__ import annotations

from api.errors import Refused
from api.services import Services
from domain.application import Actor
from domain.exceptions import AllocationNotFound, OpportunityNotFound
from domain.values import identifier
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import VIEW as BOARDS

READ_ALL = ("lead", "finance", "auditor", "admin")


def reads_all(actor: Actor) -> bool:
    return actor.role in READ_ALL


def own_line_only(actor: Actor) -> str | None:
    """The member whose line alone this actor may see in an allocation (None: every line)."""
    return None if reads_all(actor) else actor.member_id


def was_on(board: dict, member_id: str) -> bool:
    return (member_id in board["triangle"].values() or member_id in board["supporters"]
            or any(h["member_id"] == member_id for h in board["triangle_history"]))


def readable_board(services: Services, opportunity_id: str, actor: Actor) -> dict:
    """The board document, if it exists (404) and the actor may read it (403)."""
    oid = identifier(opportunity_id, "opportunity", OpportunityNotFound)
    board = services.views.get(BOARDS, str(oid))
    if board is None:
        raise OpportunityNotFound(f"no opportunity {opportunity_id}", field="opportunity_id")
    if not reads_all(actor) and not was_on(board, actor.member_id):
        raise Refused(403, "only the opportunity's team, leads, finance and auditors read it")
    return board


def readable_allocation(services: Services, allocation_id: str, actor: Actor) -> dict:
    """The allocation document, if it exists (404) and the actor may read it (403)."""
    aid = identifier(allocation_id, "allocation", AllocationNotFound)
    allocation = services.views.get(ALLOCATIONS, str(aid))
    if allocation is None:
        raise AllocationNotFound(f"no allocation {allocation_id}", field="allocation_id")
    readable_board(services, allocation["opportunity_id"], actor)
    return allocation
