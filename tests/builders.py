"""Builders of the domain story, told through the Application: the team registered, a deal opened
and its triangle seated, work contributed and confirmed, the deal won. Tests call them so that they
read as the story (the cast and the clock: tests/ledger.py; the unit fixtures: tests/unit/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from domain.application import Actor, Goldsplit
from main.services import Services
from main.settings import Settings
from tests.ledger import ADMIN, ALICE, LEAD

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # where a stopped clock stands, unless a module's NOW says

# The members a story registers (id -> department), unless a module's MEMBERS says otherwise.
TEAM = {"alice": "sales", "bob": "presales", "carol": "delivery", "dave": "commercial",
        "erin": "presales", "fiona": "finance"}

# Acme's deal: CNY 1,000,000.00 is grade B by the default grading policy (AR and SR required).
DEAL = {"account_id": "acme", "name": "Acme core banking", "amount": "1000000.00", "currency": "CNY",
        "expected_close": "2026-06-30"}
# Acme's warehouse deal: CNY 4,000,000.00 is grade A (AR, SR and FR required); 200,000.00 is C.
WMS = {"name": "Acme WMS", "amount": "4000000.00"}

# Who sits where on a won deal, and the piece of work each did (1, 3 and 4 points by HELD/default).
TRIANGLE = {"AR": ("alice", "visit"), "SR": ("bob", "demo"), "FR": ("carol", "delivery_plan")}


# -- the team ------------------------------------------------------------------------------------

def register_team(app: Goldsplit, members: Mapping[str, str | tuple[str, str | None]] = TEAM) -> None:
    """An admin registers each member: id -> department, or id -> (department, team)."""
    for member_id, where in members.items():
        department, team = where if isinstance(where, tuple) else (where, None)
        app.register_member(ADMIN, member_id, member_id.title(), department, team=team)


@contextmanager
def in_memory(clock: Callable[[], datetime],
              members: Mapping[str, str | tuple[str, str | None]] = TEAM) -> Iterator[Goldsplit]:
    """An Application on the in-memory store with these members registered."""
    application = Goldsplit(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    register_team(application, members)
    try:
        yield application
    finally:
        application.close()


def services_in_memory(clock: Callable[[], datetime],
                       members: Mapping[str, str | tuple[str, str | None]] = TEAM) -> Services:
    """The Application and its read models in memory (projected when the runner catches up), with
    these members registered; the caller closes it."""
    built = Services.build(Settings(database_url="memory://", secret="test-secret"), clock=clock)
    register_team(built.app, members)
    return built


# -- a deal and its people -----------------------------------------------------------------------

def open_deal(app: Goldsplit, opener: Actor = ALICE, **changes: Any) -> str:
    """`opener` opens Acme's deal (DEAL with `changes`); a lead's grade comes with a reason."""
    if "grade" in changes and opener.leads:
        changes.setdefault("reason", "a lighthouse deal")
    return app.open_opportunity(opener, **{**DEAL, **changes}).id


def open_wms(app: Goldsplit, opener: Actor = ALICE, **changes: Any) -> str:
    """`opener` opens Acme's warehouse deal (WMS with `changes`)."""
    return open_deal(app, opener, **{**WMS, **changes})


def seat_triangle(app: Goldsplit, oid: str, by: Actor = LEAD, *, supporters: Sequence[str] = (),
                  **roles: str) -> None:
    """`by` seats each member in their role (AR="alice", SR="bob", ...), then adds the supporters."""
    for role, member in roles.items():
        app.assign_triangle_role(by, oid, role, member)
    for member in supporters:
        app.add_supporter(by, oid, member)


def contribute(app: Goldsplit, oid: str, actor: Actor, kind: str, at: datetime | str | None = None,
               **changes: Any) -> str:
    """`actor` records a piece of `kind` work (their own, unless member_id says whose) done at `at`
    (by default a day before the Application's clock): its contribution id."""
    when = app.clock() - timedelta(days=1) if at is None else at
    fields = dict(member_id=actor.member_id, kind=kind, summary=f"{kind} for Acme",
                  occurred_at=when if isinstance(when, str) else when.isoformat())
    return app.record_contribution(actor, oid, **{**fields, **changes}).id


def confirm(app: Goldsplit, oid: str, cid: str, by: Actor = LEAD) -> str:
    """`by` confirms the contribution (nobody confirms their own): its id."""
    app.confirm_contribution(by, oid, cid)
    return cid


def worked(app: Goldsplit, oid: str, actor: Actor, kind: str, at: datetime | str | None = None,
           confirmed_by: Actor = LEAD, **changes: Any) -> str:
    """`actor` contributes a piece of `kind` work and `confirmed_by` confirms it: its id."""
    return confirm(app, oid, contribute(app, oid, actor, kind, at, **changes), confirmed_by)


def win(app: Goldsplit, oid: str, closed_on: str | None = None, by: Actor = LEAD, **how: Any) -> str:
    """`by` wins the deal, closed on `closed_on` (by default the Application's today): the id of
    the allocation it proposes."""
    closed_on = closed_on or app.clock().date().isoformat()
    return app.win(by, oid, closed_on=closed_on, **how).allocation_id


class WonDeal(NamedTuple):
    oid: str
    aid: str
    contributions: dict[str, str]  # member -> contribution id


def won_deal(app: Goldsplit, *, worked_at: datetime | str | None = None, closed_on: str | None = None,
             summary: str | None = None, **opened: Any) -> WonDeal:
    """A lead opens the deal graded A (DEAL with `opened`), seats the TRIANGLE, each of them does
    their piece of work (`summary`, by default its kind) at `worked_at`, the lead confirms it, and
    the lead wins the deal on `closed_on` (defaults as contribute's and win's)."""
    oid = open_deal(app, LEAD, **{"grade": "A", "reason": "the rate this test pins", **opened})
    contributions = {}
    for role, (member, kind) in TRIANGLE.items():
        seat_triangle(app, oid, LEAD, **{role: member})
        contributions[member] = worked(app, oid, Actor(member, "member"), kind, worked_at,
                                       summary=summary or kind)
    return WonDeal(oid, win(app, oid, closed_on), contributions)
