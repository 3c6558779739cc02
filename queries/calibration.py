"""Calibration as a reader sees it: Brier score and reliability table per member, team or
standard version; a member sees their own group, their team's, and every standard version."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from domain import calibration
from domain.application import Actor, Goldsplit
from domain.exceptions import InvalidInput, MemberNotFound
from projections.calibration import ALL, GROUPINGS, VIEW
from projections.store import ViewStore
from queries.access import reads_all
from queries.models import Out


class CalibrationQuery:
    """Reads the calibration read model: leads, finance and auditors see every group."""

    def __init__(self, app: Goldsplit, views: ViewStore) -> None:
        self.app, self.views = app, views

    def by(self, actor: Actor, by: str) -> CalibrationOut:
        return CalibrationOut.model_validate(present_calibration(self.views, by,
                                                                 only_key=self._own_group(actor, by)))

    def _own_group(self, actor: Actor, by: str) -> str | None:
        if reads_all(actor) or by == "standard_version":
            return None  # the standard is the company's, not a person's
        if by == "member":
            return f"member:{actor.member_id}"
        try:
            return f"team:{self.app.member(actor.member_id)['team']}"
        except MemberNotFound:
            return "team:"  # not a registered member: no team, no group


def present_calibration(store_or_docs: Any, by: str, only_key: str | None = None) -> dict:
    """Brier score, count and reliability table per group of `by` (member | team |
    standard_version), sorted by key (`member:alice`, ...), and `overall` over every outcome.

    `store_or_docs` is the view store or the calibration view's documents by key; `only_key` keeps
    just that group (a member sees only their own line).
    """
    if by not in GROUPINGS:
        raise InvalidInput(f"{by!r} is not a grouping; use one of {list(GROUPINGS)}", field="by")
    docs = store_or_docs.all(VIEW) if hasattr(store_or_docs, "all") else store_or_docs
    groups = sorted((doc for doc in docs.values()
                     if doc["by"] == by and only_key in (None, doc["key"])), key=lambda d: d["key"])
    everything = docs.get(ALL) or calibration.empty()
    return {"by": by, "groups": [calibration.summary(doc["key"], doc) for doc in groups],
            "overall": calibration.summary(ALL, everything)}


# -- the answer models --------------------------------------------------------------------------

class CalibrationBinOut(Out):
    from_: str = Field(alias="from")
    to: str
    count: int
    predicted: str | None
    observed: str | None


class CalibrationGroupOut(Out):
    key: str
    count: int
    brier: str | None = Field(description="mean squared error of the probabilities; 0 is perfect")
    bins: list[CalibrationBinOut]


class CalibrationOut(Out):
    by: str
    groups: list[CalibrationGroupOut]
    overall: CalibrationGroupOut = Field(description="every closed deal's last assessment")
