"""Payables: every payable entry by month and member, in minor units, and the months with their
totals and close; with each member's name, employee id and cost center and each deal's name, so a
rebuild shows the same names as the live view. queries/periods.py reads them as periods,
statements, the journal and payroll.
"""

from __future__ import annotations

from typing import Any

from domain.aggregates import Allocation, Member, Opportunity, Period, event_id
from projections.base import Changes, Projection, on_event

PAYABLE = "payable"  # "<month>:<member_id>" -> that member's entries booked in that month
PERIOD = "period"  # "<month>" -> how many entries, whose, totals per currency, and its close
PERIOD_MONTHS = "period_month"  # a Period aggregate's id -> its month (Closed does not name it)
MONTH = "month"  # the parent a period_month link names (Changes.link)
PAYEES = "payable_member"  # member id -> name, employee id and cost center, as registered
DEALS = "payable_deal"  # opportunity id -> the deal's name, as opened



def payable_key(month: str, member_id: str) -> str:
    return f"{month}:{member_id}"


def new_period(month: str) -> dict:
    return {"period": month, "entries": 0, "members": [], "totals": {}, "closed": False,
            "closed_report": None, "cutoff": None, "closed_by": None, "closed_at": None,
            "closed_position": None, "position": None}


class PayablesProjection(Projection):
    """One document per member and month with their entries, one per month with its totals, and
    the names (and payroll numbers) the entries are shown with."""

    name = "payables"
    views = (PAYABLE, PERIOD, PERIOD_MONTHS, PAYEES, DEALS)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        self._on(event, position, changes)

    @on_event
    def _on(self, event: Any, position: int, changes: Changes) -> None:
        """An event that books nothing and names no one."""

    @_on.register(Allocation.Approved)
    @_on.register(Allocation.Released)
    @_on.register(Allocation.Adjusted)
    def _booked(self, event: Allocation.Event, position: int, changes: Changes) -> None:
        booked_by = {"event": type(event).__qualname__,
                     "event_id": str(event_id(event.originator_id, event.originator_version)),
                     "at": getattr(event, "at", None), "position": position}
        for entry in event.entries:
            self._book(entry, booked_by, changes)

    @_on.register(Member.Registered)
    def _registered(self, event: Member.Registered, position: int, changes: Changes) -> None:
        changes.put(PAYEES, event.member_id, {
            "member_id": event.member_id, "name": event.name,
            # events recorded before payroll numbers do not carry them
            "employee_id": getattr(event, "employee_id", None),
            "cost_center": getattr(event, "cost_center", None)})

    @_on.register(Opportunity.Opened)
    def _opened(self, event: Opportunity.Opened, position: int, changes: Changes) -> None:
        changes.put(DEALS, str(event.originator_id),
                    {"opportunity_id": str(event.originator_id), "name": event.name})

    @_on.register(Period.Started)
    def _started(self, event: Period.Started, position: int, changes: Changes) -> None:
        changes.link(PERIOD_MONTHS, str(event.originator_id), MONTH, event.month)

    @_on.register(Period.Closed)
    def _closed(self, event: Period.Closed, position: int, changes: Changes) -> None:
        month = changes.parent(PERIOD_MONTHS, str(event.originator_id), MONTH)
        if month is None:
            return
        doc = changes.get(PERIOD, month) or new_period(month)
        doc.update(closed=True, closed_report=event.report, cutoff=event.cutoff,
                   closed_by=event.actor, closed_at=event.timestamp.isoformat(),
                   closed_position=position, position=position)
        changes.put(PERIOD, month, doc)

    @staticmethod
    def _book(entry: dict, booked_by: dict, changes: Changes) -> None:
        month, member = entry["period"], entry["member_id"]
        key = payable_key(month, member)
        doc = changes.get(PAYABLE, key) or {"period": month, "member_id": member, "entries": []}
        if any(e["entry_id"] == entry["entry_id"] for e in doc["entries"]):
            return  # an entry id is stable per cause: the same entry never counts twice
        doc["entries"].append({**entry, **booked_by})
        changes.put(PAYABLE, key, doc)
        period = changes.get(PERIOD, month) or new_period(month)
        period["entries"] += 1
        if member not in period["members"]:
            period["members"] = sorted([*period["members"], member])
        totals = period["totals"]
        totals[entry["currency"]] = totals.get(entry["currency"], 0) + entry["amount"]
        period["position"] = booked_by["position"]
        changes.put(PERIOD, month, period)


# -- what people read: pure functions over the documents --------------------------------------

