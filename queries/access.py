"""Who may read what: leads, finance, auditors and admins read everything; a member reads the
boards and allocations of opportunities they are or were on, and of an allocation only their line.
What a reader may not see does not exist for them: 404, exactly as for an id that names nothing.
"""

from __future__ import annotations

from domain.application import MAY, Actor
from domain.exceptions import (
    AllocationNotFound,
    AskNotFound,
    DisputeNotFound,
    MemberNotFound,
    OpportunityNotFound,
)
from domain.values import identifier
from projections.allocations import DISPUTES
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import LINKS
from projections.board import VIEW as BOARDS
from projections.store import ViewStore

READ_ALL = MAY["see every deal"]  # the domain's rule for commands is the reads' rule too


def reads_all(actor: Actor) -> bool:
    return actor.role in READ_ALL


def own_line_only(actor: Actor) -> str | None:
    """The member whose line alone this actor may see in an allocation (None: every line)."""
    return None if reads_all(actor) else actor.member_id


def was_on(board: dict, member_id: str) -> bool:
    return (member_id in board["triangle"].values() or member_id in board["supporters"]
            or any(h["member_id"] == member_id for h in board["triangle_history"]))


def board_seen(views: ViewStore, opportunity_id: str, actor: Actor) -> dict | None:
    """The board document, if it exists and the actor may read it (None: it does not, for them)."""
    board = views.get(BOARDS, str(opportunity_id))
    return board if board is not None and (reads_all(actor) or was_on(board, actor.member_id)) else None


def readable_board(views: ViewStore, opportunity_id: str, actor: Actor) -> dict:
    """The board document, if it exists and the actor may read it (404 either way)."""
    oid = identifier(opportunity_id, "opportunity", OpportunityNotFound)
    board = board_seen(views, str(oid), actor)
    if board is None:
        raise OpportunityNotFound(f"no opportunity {opportunity_id}", field="opportunity_id")
    return board


def readable_allocation(views: ViewStore, allocation_id: str, actor: Actor) -> dict:
    """The allocation document, if it exists and the actor may read its deal's board (404 either way)."""
    aid = identifier(allocation_id, "allocation", AllocationNotFound)
    allocation = views.get(ALLOCATIONS, str(aid))
    if allocation is None or board_seen(views, allocation["opportunity_id"], actor) is None:
        raise AllocationNotFound(f"no allocation {allocation_id}", field="allocation_id")
    return allocation


def readable_ask(views: ViewStore, ask_id: str, actor: Actor) -> tuple[dict, dict]:
    """An ask and its deal's board, if it exists and the actor may read that board (404 either way)."""
    aid = str(identifier(ask_id, "ask", AskNotFound))
    link = views.get(LINKS, f"ask:{aid}")
    board = link and board_seen(views, link["opportunity_id"], actor)
    found = next((a for a in board.get("asks", []) if a["id"] == aid), None) if board else None
    if found is None:
        raise AskNotFound(f"no ask {ask_id}", field="ask_id")
    return found, board


def readable_dispute(views: ViewStore, dispute_id: str, actor: Actor) -> dict:
    """A dispute, for the member who raised it, leads, finance, auditors and admins (404 for the rest)."""
    did = identifier(dispute_id, "dispute", DisputeNotFound)
    doc = views.get(DISPUTES, str(did))
    if doc is None or not (reads_all(actor) or actor.member_id == doc["member_id"]):
        raise DisputeNotFound(f"no dispute {dispute_id}", field="dispute_id")
    return doc


def require_own(actor: Actor, member_id: str, readers: tuple[str, ...] = READ_ALL) -> None:
    """A member's board and statements are theirs (and `readers`'): to anyone else, 404 as for no
    such member."""
    if actor.role not in readers and actor.member_id != member_id:
        raise MemberNotFound(f"no member {member_id}", field="member_id")
