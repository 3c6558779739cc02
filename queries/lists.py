"""Lists (issue 13): opportunities, accounts, members and allocations, filtered, searched by name and
paged with an opaque cursor, each row a small summary that links to its own page.

The access rules are the boards': a member lists the deals they are or were on, the accounts whose
team they are on, and the allocations of their deals, showing only whether they have a line there
(never anyone's amount); every reader lists the members (the directory: id, name, department and
team, no money). Leads, finance, auditors and admins list everything.

Rows are ordered by name (case-insensitively, then as spelled), then id, a total order; the cursor
is the last row's (name, id) as base64url JSON, so the next page starts right after it whatever
was written meanwhile, and a cursor this module did not make is refused naming `cursor`.

Each list reads the small rows its projection writes beside the documents (`Projection.rows`:
`board_row`, `account_row`, `member_row`, `allocation_row`), not the boards with every
contribution, and filters them in Python. A store whose rows are not written yet (from before
them, until one `goldsplit rebuild`) is read from the documents, the same way. Paging in SQL
(an index on name) is later work.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from pydantic import Field

from domain.aggregates import DEPARTMENTS
from domain.application import Actor, Goldsplit
from domain.exceptions import InvalidInput, NotAllowed
from domain.grading import ACCOUNT_GRADES
from domain.money import format_amount
from domain.policy import GRADES
from projections.accounts import AccountBoardProjection
from projections.allocations import AllocationProjection
from projections.base import COMPLETE, Projection
from projections.board import BoardProjection
from projections.members import MemberBoardProjection
from projections.store import ViewStore
from queries.access import reads_all
from queries.models import Money, Out

STATES = ("open", "won", "lost")
STATUSES = ("proposed", "approved")
LIMIT, MAX_LIMIT = 50, 200
PERIOD = re.compile(r"[2-9][0-9]{3}-(?:0[1-9]|1[0-2]|Q[1-4])")  # api/schemas.py PERIOD
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2048}")  # base64url without padding

Row = TypeVar("Row")


# -- the answer models --------------------------------------------------------------------------

class OpportunityItemOut(Out):
    id: str = Field(description="the opportunity's id: its page is /opportunities/{id}")
    name: str
    account_id: str
    state: str = Field(description="open | won | lost")
    grade: str | None
    amount: Money = Field(description="the current amount (a won deal: the won amount)")
    expected_close: str
    closed_on: str | None


class AccountItemOut(Out):
    id: str = Field(description="the account's id: its page is /accounts/{id}")
    name: str
    industry: str | None
    grade: str | None
    my_role: str | None = Field(description="the reader's role on the account team (null: none)")


class MemberItemOut(Out):
    id: str = Field(description="the member's id: their page is /members/{id}")
    name: str
    department: str
    team: str


class AllocationItemOut(Out):
    id: str = Field(description="the allocation's id: its page is /allocations/{id}")
    opportunity_id: str
    name: str = Field(description="the won deal's name")
    status: str = Field(description="proposed | approved")
    cancelled: bool
    grade: str
    closed_on: str
    pool: Money = Field(description="the pool as the facts stand now (cancelled: 0)")
    has_line: bool = Field(description="whether the reader has a line in it")


class Page(Out):
    next: str | None = Field(description="the cursor of the next page (null: this is the last)")
    position: int = Field(description="the read models had processed every event up to this log position")


class OpportunityPageOut(Page):
    items: list[OpportunityItemOut]


class AccountPageOut(Page):
    items: list[AccountItemOut]


class MemberPageOut(Page):
    items: list[MemberItemOut]


class AllocationPageOut(Page):
    items: list[AllocationItemOut]


# -- the query ----------------------------------------------------------------------------------

class ListQuery:
    """The four lists, each keeping to what its reader may see."""

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def opportunities(self, actor: Actor, *, state: str | None = None, grade: str | None = None,
                      member: str | None = None, account: str | None = None, q: str | None = None,
                      cursor: str | None = None, limit: int = LIMIT) -> OpportunityPageOut:
        """The deals the reader may see (a member: those they are or were on), by name."""
        _one_of(state, STATES, "state")
        _one_of(grade, GRADES, "grade")
        after, limit, q = _cursor(cursor), _limit(limit), _search(q)
        position = self.views.position(BoardProjection.name)
        rows = [b for b in self._rows(BoardProjection).values()
                if (reads_all(actor) or actor.member_id in b["people"])
                and (state is None or b["stage"] == state) and (grade is None or b["grade"] == grade)
                and (member is None or member in b["people"])
                and (account is None or b["account_id"] == account) and _matches(b["name"], q)]
        items, nxt = _page(rows, lambda b: (b["name"], b["opportunity_id"]), after, limit)
        return OpportunityPageOut.model_validate({
            "items": [_opportunity(b) for b in items], "next": nxt, "position": position})

    def accounts(self, actor: Actor, *, grade: str | None = None, q: str | None = None,
                 cursor: str | None = None, limit: int = LIMIT) -> AccountPageOut:
        """The registered accounts the reader may see (a member: those whose team they are on)."""
        _one_of(grade, ACCOUNT_GRADES, "grade")
        after, limit, q = _cursor(cursor), _limit(limit), _search(q)
        position = self.views.position(AccountBoardProjection.name)
        rows = [a for a in self._rows(AccountBoardProjection).values()
                if a["registered"] and (reads_all(actor) or actor.member_id in a["team"])
                and (grade is None or a["grade"] == grade) and _matches(a["name"] or "", q)]
        items, nxt = _page(rows, lambda a: (a["name"] or "", a["account_id"]), after, limit)
        return AccountPageOut.model_validate({
            "items": [{"id": a["account_id"], "name": a["name"] or "", "industry": a["industry"],
                       "grade": a["grade"], "my_role": a["team"].get(actor.member_id)} for a in items],
            "next": nxt, "position": position})

    def members(self, actor: Actor, *, department: str | None = None, team: str | None = None,
                q: str | None = None, cursor: str | None = None, limit: int = LIMIT) -> MemberPageOut:
        """The directory: every registered member, for every reader (no money in it)."""
        _one_of(department, DEPARTMENTS, "department")
        after, limit, q = _cursor(cursor), _limit(limit), _search(q)
        position = self.views.position(MemberBoardProjection.name)
        rows = [m for m in self._rows(MemberBoardProjection).values()
                if m.get("registered") and m.get("member_id")
                and (department is None or m["department"] == department)
                and (team is None or m["team"] == team) and _matches(m["name"], q)]
        items, nxt = _page(rows, lambda m: (m["name"], m["member_id"]), after, limit)
        return MemberPageOut.model_validate({
            "items": [{"id": m["member_id"], "name": m["name"], "department": m["department"],
                       "team": m["team"] or m["department"]} for m in items],
            "next": nxt, "position": position})

    def allocations(self, actor: Actor, *, status: str | None = None, period: str | None = None,
                    member: str | None = None, cursor: str | None = None,
                    limit: int = LIMIT) -> AllocationPageOut:
        """The allocations of the deals the reader may see, by the deal's name; `period` is the
        close date's month (2026-11) or quarter (2026-Q4); `member`: those they have a line in
        (a member asks only about their own)."""
        _one_of(status, STATUSES, "status")
        if period is not None and not PERIOD.fullmatch(period):
            raise InvalidInput(f"period {period!r} is not a month (2026-11) or a quarter (2026-Q4)",
                               field="period")
        if member is not None and not reads_all(actor) and member != actor.member_id:
            raise NotAllowed("a member lists allocations by their own line only", field="member")
        after, limit = _cursor(cursor), _limit(limit)
        position = min(self.views.position(AllocationProjection.name),
                       self.views.position(BoardProjection.name))
        boards = self._rows(BoardProjection)
        rows = []
        for row in self._rows(AllocationProjection).values():
            board = boards.get(row["opportunity_id"])
            if board is None or not (reads_all(actor) or actor.member_id in board["people"]):
                continue
            if ((status is None or row["status"] == status)
                    and (period is None or _in_period(row["latest"]["closed_on"], period))
                    and (member is None or member in row["lines"])):
                rows.append((board["name"], row))
        items, nxt = _page(rows, lambda r: (r[0], r[1]["id"]), after, limit)
        return AllocationPageOut.model_validate({
            "items": [_allocation(name, row, actor) for name, row in items],
            "next": nxt, "position": position})

    def _rows(self, projection: type[Projection]) -> dict[str, dict]:
        """The rows of the one view `projection` lists, by key; made from its documents while the
        rows' view is not complete (a store from before the rows: the same rows, the slow way)."""
        ((view, (rows_view, row)),) = projection.rows.items()
        rows = self.views.all(rows_view)
        if rows.pop(COMPLETE, None) is not None:
            return rows
        made = ((key, row(key, doc)) for key, doc in self.views.all(view).items())
        return {key: found for key, found in made if found is not None}


# -- rows ---------------------------------------------------------------------------------------

def _opportunity(board: dict) -> dict:
    return {"id": board["opportunity_id"], "name": board["name"], "account_id": board["account_id"],
            "state": board["stage"], "grade": board["grade"],
            "amount": {"amount": format_amount(board["amount"], board["currency"]),
                       "currency": board["currency"]},
            "expected_close": board["expected_close"], "closed_on": board["closed_on"]}


def _allocation(name: str, row: dict, actor: Actor) -> dict:
    latest, cancelled, currency = row["latest"], row["cancelled"], row["currency"]
    return {"id": row["id"], "opportunity_id": row["opportunity_id"], "name": name,
            "status": row["status"], "cancelled": cancelled, "grade": latest["grade"],
            "closed_on": latest["closed_on"],
            "pool": {"amount": format_amount(0 if cancelled else latest["pool"], currency),
                     "currency": currency},
            "has_line": actor.member_id in row["lines"]}


def _in_period(closed_on: str, period: str) -> bool:
    year, part = period.split("-")
    if not closed_on.startswith(f"{year}-"):
        return False
    month = int(closed_on[5:7])
    return part == f"Q{(month - 1) // 3 + 1}" if part.startswith("Q") else month == int(part)


# -- filters, order and the cursor --------------------------------------------------------------

def _one_of(value: str | None, allowed: tuple[str, ...], field: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{field} {value!r} is not one of {', '.join(allowed)}", field=field)


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return limit


def _search(q: str | None) -> str | None:
    """What a name must contain, case-insensitively (blank: anything)."""
    return (q.strip().casefold() or None) if q is not None else None


def _matches(name: str, q: str | None) -> bool:
    return q is None or q in name.casefold()


def _key(name: str, row_id: str) -> tuple[str, str, str]:
    return name.casefold(), name, row_id


def encode_cursor(name: str, row_id: str) -> str:
    raw = json.dumps([name, row_id], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _cursor(cursor: str | None) -> tuple[str, str, str] | None:
    """The (name, id) key the page starts after (None: from the start); refused unless made here."""
    if cursor is None:
        return None
    try:
        if not CURSOR.fullmatch(cursor):
            raise ValueError
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise InvalidInput("not a cursor this list gave: pass the `next` of a page",
                           field="cursor")
    return _key(*value)


def _page(rows: Iterable[Row], name_and_id: Callable[[Row], tuple[str, str]],
          after: tuple[str, str, str] | None, limit: int) -> tuple[list[Row], str | None]:
    """The first `limit` rows after `after` in (name, id) order, and the next page's cursor."""
    keyed = sorted(((_key(*name_and_id(r)), r) for r in rows), key=lambda kr: kr[0])
    if after is not None:
        keyed = [(k, r) for k, r in keyed if k > after]
    page = keyed[:limit]
    more = len(keyed) > limit
    return [r for _, r in page], (encode_cursor(*name_and_id(page[-1][1])) if more else None)

