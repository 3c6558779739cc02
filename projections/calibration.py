"""Calibration: the last assessment of each closed opportunity against its outcome, in groups.

"Last" is the last one made on or before the close date, by the application's clock (an
assessment recorded after a backdated close does not count).

Every group document holds exact sums (domain.calibration) keyed `member:<assessor>`,
`team:<assessor's team>` or `standard_version:<version>`, plus `all` for every outcome. The
assessor's team is the one their registration gave when the deal closed; an assessor who is not
a registered member (a lead, say) is in team `unknown`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain import calibration
from domain.aggregates import Member, Opportunity
from projections.base import Changes, Projection, on_event

VIEW = "calibration"
ASSESSMENTS = "calibration_assessment"  # opportunity id -> its last assessment
TEAMS = "calibration_team"  # member id -> team
TEAM = "team"  # the parent a calibration_team link names (Changes.link)

GROUPINGS = ("member", "team", "standard_version")
ALL = "all"
UNKNOWN_TEAM = "unknown"


class CalibrationProjection(Projection):
    """Adds each closed opportunity's last probability and outcome to its groups' sums."""

    name = "calibration"
    views = (VIEW, ASSESSMENTS, TEAMS)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        self._on(event, position, changes)

    @on_event
    def _on(self, event: Any, position: int, changes: Changes) -> None:
        """An event calibration does not read."""

    @_on.register(Member.Registered)
    def _registered(self, event: Member.Registered, position: int, changes: Changes) -> None:
        changes.link(TEAMS, event.member_id, TEAM, getattr(event, "team", None) or event.department)

    @_on.register(Opportunity.Assessed)
    def _assessed(self, event: Opportunity.Assessed, position: int, changes: Changes) -> None:
        assessed_on = (getattr(event, "at", None) or event.timestamp.isoformat())[:10]
        kept = changes.get(ASSESSMENTS, str(event.originator_id)) or {"assessments": []}
        kept["assessments"].append({
            "assessment_id": event.assessment_id, "win_probability": event.win_probability,
            "assessor": event.actor, "standard_version": event.standard["version"],
            "assessed_on": assessed_on, "position": position})
        changes.put(ASSESSMENTS, str(event.originator_id), kept)

    @_on.register(Opportunity.Won)
    def _won(self, event: Opportunity.Won, position: int, changes: Changes) -> None:
        self._closed(event, True, position, changes)

    @_on.register(Opportunity.Lost)
    def _lost(self, event: Opportunity.Lost, position: int, changes: Changes) -> None:
        self._closed(event, False, position, changes)

    @staticmethod
    def _closed(event: Opportunity.Event, won: bool, position: int, changes: Changes) -> None:
        kept = changes.get(ASSESSMENTS, str(event.originator_id)) or {"assessments": []}
        before = [a for a in kept["assessments"] if a["assessed_on"] <= event.closed_on]
        if not before:
            return
        last = before[-1]
        team = changes.parent(TEAMS, last["assessor"], TEAM)
        probability = Decimal(last["win_probability"])
        for by, value in (("member", last["assessor"]),
                          ("team", UNKNOWN_TEAM if team is None else team),
                          ("standard_version", last["standard_version"]), (ALL, None)):
            key = ALL if by == ALL else f"{by}:{value}"
            doc = changes.get(VIEW, key) or {**calibration.empty(), "by": by, "key": key}
            calibration.add(doc, probability, won)
            doc["position"] = position
            changes.put(VIEW, key, doc)

