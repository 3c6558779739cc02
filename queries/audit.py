"""The audit chain as finance and auditors read it: verified against the stored events, and its
recorded links from a position on, to compare with an auditor's own computation."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from domain.application import Actor, Goldsplit, require
from domain.exceptions import NotFound
from projections.audit import VIEW, digest_of, key_of, recorded_chain, recorded_head, verify
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

    def event(self, actor: Actor, position: int) -> EventOut:
        """The stored event at a log position, as stored, with its digest and the chain recorded
        there (what an auditor follows a "position N" to)."""
        require(actor, "read the books", "read the stored events")
        found = self.app.recorder.select_notifications(start=position, limit=1, stop=position)
        if not found or found[0].id != position:
            raise NotFound(f"no event at position {position}", field="position")
        stored = found[0]
        link = self.views.get(VIEW, key_of(position))
        return EventOut(position=position, originator_id=str(stored.originator_id),
                        originator_version=stored.originator_version, topic=stored.topic,
                        state=_readable(stored.state), digest=digest_of(stored).hex(),
                        chain=link["chain"] if link else None)


def _readable(state: bytes) -> Any:
    """The stored state as JSON when it is (the default transcoder's), else its bytes in hex."""
    try:
        return json.loads(state)
    except ValueError:
        return bytes(state).hex()


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


class EventOut(Out):
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: Any = Field(description="the stored state, as JSON (hex when it is not)")
    digest: str = Field(description="sha256 of the event's canonical bytes (hex)")
    chain: str | None = Field(description="the recorded chain at this position; null before the "
                                          "audit chain projection reached it")
