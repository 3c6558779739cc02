"""The audit chain as finance and auditors read it: verified against the stored events, and its
recorded links from a position on, to compare with an auditor's own computation."""

from __future__ import annotations

from domain.application import Actor, Goldsplit, require
from projections.audit import recorded_chain, recorded_head, verify
from projections.store import ViewStore
from queries.models import Out


class AuditQuery:
    """Reads the audit chain read model (finance, auditors, admins)."""

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def verify(self, actor: Actor) -> VerifyOut:
        require(actor, "read the books", "verify the audit chain")
        return VerifyOut.model_validate(verify(self.app, self.views))

    def chain(self, actor: Actor, start: int = 1, limit: int = 100) -> ChainOut:
        """At most `limit` links from log position `start`, up to the recorded head; `next` is
        where the following page starts."""
        require(actor, "read the books", "read the audit chain")
        head = recorded_head(self.views)
        links = recorded_chain(self.views, start, limit + 1, stop=head["position"])
        more = len(links) > limit
        return ChainOut.model_validate({"links": links[:limit], "head": head,
                                        "next": links[limit]["position"] if more else None})


# -- the answer models --------------------------------------------------------------------------

class HeadOut(Out):
    position: int
    chain: str


class ChainProblemOut(Out):
    position: int
    kind: str
    detail: str


class VerifyOut(Out):
    ok: bool
    checked: int
    head: HeadOut
    recorded_head: HeadOut
    log_position: int
    problems: list[ChainProblemOut]


class LinkOut(Out):
    position: int
    digest: str
    chain: str


class ChainOut(Out):
    links: list[LinkOut]
    head: HeadOut
    next: int | None
