"""The reference screens: an account (its grade and how it came to be, its team, the account plan's
tasks with their closed loop, the deals the reader may see), a member's board as a lead sees it,
calibration with its reliability diagram, and the policies with a diff between two versions.

Each reads through the same query objects as the JSON API (an account off the reader's team and
another member's board are 404 pages, as the API answers); the policies are read by every
signed-in member, as `GET /v1/policies/<kind>` is.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ServicesDep, wait_for
from api.policy_documents import POLICY_DOCUMENTS
from domain.exceptions import NotFound
from web import auth, charts
from web.render import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

KINDS = tuple(POLICY_DOCUMENTS)  # account-grading, opportunity-grading, relationship-standard, incentive
ABSENT = "(absent)"


# -- an account -------------------------------------------------------------------------------------

@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account(request: Request, account_id: str, services: ServicesDep, session: auth.SignedIn,
            after: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """An account's board for its team, leads, finance, auditors and admins (404 for others)."""
    wait_for(services, after)
    board = services.queries.accounts.board(auth.actor(session), account_id)
    return render(request, "account.html", {"account": board, "position": board.position}, session=session,
                  follows=[f"account:{account_id}"])


# -- a member ---------------------------------------------------------------------------------------

@router.get("/members/{member_id}", response_class=HTMLResponse)
def member(request: Request, member_id: str, services: ServicesDep, session: auth.SignedIn,
           after: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """A member's board for them, leads, finance, auditors and admins (404 for others)."""
    wait_for(services, after)
    board = services.queries.members.board(auth.actor(session), member_id)
    return render(request, "member.html", {"board": board, "position": board.position}, session=session,
                  follows=[f"member:{member_id}"])


# -- calibration ------------------------------------------------------------------------------------

@router.get("/calibration", response_class=HTMLResponse)
def calibration(request: Request, services: ServicesDep, session: auth.SignedIn,
                by: Annotated[str, Query(max_length=40)] = "member") -> Response:
    """Brier score and reliability per group of `by`; a member sees their own group (the query
    says which)."""
    wait_for(services, None)
    found = services.queries.calibration.by(auth.actor(session), by)
    groups = [_drawn(group) for group in found.groups]
    overall = {**_drawn(found.overall), "key": "every closed deal"}
    return render(request, "calibration.html",
                  {"by": by, "groups": groups, "overall": overall,
                   "size": charts.RELIABILITY_SIZE, "ticks": charts.reliability_ticks()},
                  session=session, follows=["calibration"])


def _drawn(group: Any) -> dict:
    bins = [b.model_dump(by_alias=True) for b in group.bins]
    return {"key": group.key, "count": group.count, "brier": group.brier, "bins": bins,
            "points": charts.reliability(bins)}


# -- policies ---------------------------------------------------------------------------------------

@router.get("/policies", response_class=HTMLResponse)
def policies(request: Request, services: ServicesDep, session: auth.SignedIn) -> Response:
    """Every version of each kind of policy, with its effective date and hash."""
    kinds = {kind: [p.as_dict() for p in services.app.policies(kind)] for kind in KINDS}
    return render(request, "policies.html", {"kinds": kinds}, session=session)


@router.get("/policies/{kind}", response_class=HTMLResponse)
def policy_diff(request: Request, kind: str, services: ServicesDep, session: auth.SignedIn,
                start: Annotated[int | None, Query(alias="from", ge=1)] = None,
                end: Annotated[int | None, Query(alias="to", ge=1)] = None) -> Response:
    """A kind's versions and the fields that differ between two of them (by default the latest
    and the one before it); the same version on both sides shows it in full."""
    versions = {p.version: p.as_dict() for p in services.app.policies(kind)}  # 404 for no such kind
    latest = max(versions)
    end = latest if end is None else end
    start = max(1, end - 1) if start is None else start
    for version, field in ((start, "from"), (end, "to")):
        if version not in versions:
            raise NotFound(f"the {kind} policy has no version {version}", field=field)
    changes = diff(_compared(versions[start]), _compared(versions[end]))
    leaves = flatten(_compared(versions[end])) if start == end else {}  # one version: in full
    whole = [(path, _shown(leaves, path)) for path in leaves]
    return render(request, "policy_diff.html",
                  {"kind": kind, "versions": list(versions.values()), "start": versions[start],
                   "end": versions[end], "changes": changes, "whole": whole}, session=session)


def _compared(document: dict) -> dict:
    """A version's document without what always differs between two versions (its number and
    hash, shown above the diff)."""
    return {k: v for k, v in document.items() if k not in ("version", "hash")}


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON document by its path: `a.b` for an object's member, `a[0]` for a list's
    item; an empty object or list is a leaf of its own."""
    if isinstance(value, dict) and value:
        leaves: dict[str, Any] = {}
        for key in value:
            leaves.update(flatten(value[key], f"{path}.{key}" if path else str(key)))
        return leaves
    if isinstance(value, list) and value:
        leaves = {}
        for i, item in enumerate(value):
            leaves.update(flatten(item, f"{path}[{i}]"))
        return leaves
    return {path: value}


def diff(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """(path, before, after) of each leaf that differs between two documents, in the order of
    `before`'s paths then the paths only `after` has; a leaf one side lacks shows as absent."""
    old, new = flatten(before), flatten(after)
    paths = list(old) + [p for p in new if p not in old]
    return [(path, _shown(old, path), _shown(new, path)) for path in paths
            if path not in old or path not in new or old[path] != new[path]]


def _shown(leaves: dict[str, Any], path: str) -> str:
    if path not in leaves:
        return ABSENT
    value = leaves[path]
    return value if isinstance(value, str) else json.dumps(value)
