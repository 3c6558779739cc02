"""Payables: every payable entry by month and member, the months with their totals and close, and
what people read of them: statements, the journal and payroll (api/exports.py writes them as files).

Entries come from the allocation events that book them (Approved, Released, Adjusted), each
exactly once, into the month the entry names. Amounts stay integers in minor units in the views
and become decimal strings of their currency only when presented. A quarter (`2026-Q4`) is read as
its three months (domain.payables.months_of). Who and what an entry names is shown by name too:
the projection keeps each member's name, employee id and cost center (from Member.Registered) and
each deal's name (from Opportunity.Opened), so a rebuild shows the same names as the live view.

The journal is double entry per member and currency: one "bonus expense" debit and one
"bonus payable:<member>" credit of the member's net for the period, each with the general
ledger's account code; a net clawback swaps the sides. Debits equal credits in every currency by
construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from domain.aggregates import Allocation, Member, Opportunity, Period, event_id
from domain.money import format_amount
from domain.payables import KINDS, months_of
from projections.base import Changes, Projection, on_event

PAYABLE = "payable"  # "<month>:<member_id>" -> that member's entries booked in that month
PERIOD = "period"  # "<month>" -> how many entries, whose, totals per currency, and its close
PERIOD_MONTHS = "period_month"  # a Period aggregate's id -> its month (Closed does not name it)
MONTH = "month"  # the parent a period_month link names (Changes.link)
PAYEES = "payable_member"  # member id -> name, employee id and cost center, as registered
DEALS = "payable_deal"  # opportunity id -> the deal's name, as opened

EXPENSE = "bonus expense"
PAYABLE_ACCOUNT = "bonus payable"


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

Lookup = Callable[[str, str], dict | None]  # (view, key) -> document: the view store's get


def _nobody(view: str, key: str) -> None:
    return None


def _payee(lookup: Lookup, member_id: str) -> dict:
    """A member's name, employee id and cost center (None where unknown or not given)."""
    doc = lookup(PAYEES, member_id) or {}
    return {"member_name": doc.get("name"), "employee_id": doc.get("employee_id"),
            "cost_center": doc.get("cost_center")}


def _deal_name(lookup: Lookup, opportunity_id: str) -> str | None:
    return (lookup(DEALS, opportunity_id) or {}).get("name")


def _entries(docs: Iterable[dict], months: list[str], member_id: str | None = None) -> list[dict]:
    """The entries of these documents in the period's months, in log order."""
    found = [e for doc in docs if doc["period"] in months
             and (member_id is None or doc["member_id"] == member_id) for e in doc["entries"]]
    return sorted(found, key=lambda e: (e["position"], months.index(e["period"])))


def _nets(docs: Iterable[dict], months: list[str]) -> dict[tuple[str, str], int]:
    """Each member's net per currency over the period, in minor units."""
    nets: dict[tuple[str, str], int] = {}
    for entry in _entries(docs, months):
        key = (entry["member_id"], entry["currency"])
        nets[key] = nets.get(key, 0) + entry["amount"]
    return dict(sorted(nets.items()))


def present_period(docs: Iterable[dict], period: str) -> dict:
    """A period as finance reads it: per month and in all, the entries, members, totals per
    currency and whether (and how) it was closed."""
    months = months_of(period)
    by_month = {doc["period"]: doc for doc in docs}
    shown = []
    totals: dict[str, int] = {}
    for month in months:
        doc = by_month.get(month) or new_period(month)
        for currency, minor in doc["totals"].items():
            totals[currency] = totals.get(currency, 0) + minor
        shown.append({**doc, "totals": _formatted(doc["totals"])})
    return {
        "period": period, "months": shown,
        "entries": sum(m["entries"] for m in shown),
        "members": sorted({member for m in shown for member in m["members"]}),
        "totals": _formatted(totals),
        "closed": all(m["closed"] for m in shown),
        "closed_months": [m["period"] for m in shown if m["closed"]],
    }


def statement(docs: Iterable[dict], member_id: str, period: str, lookup: Lookup = _nobody) -> dict:
    """One member's statement for a month or a quarter: every entry, with the member's and the
    deal's names, and totals per currency (overall and by kind: upfront, release, adjustment)."""
    months = months_of(period)
    entries = _entries(docs, months, member_id)
    member_name = _payee(lookup, member_id)["member_name"]
    deals = {oid: _deal_name(lookup, oid) for oid in {e["opportunity_id"] for e in entries}}
    totals: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for entry in entries:
        currency = entry["currency"]
        totals[currency] = totals.get(currency, 0) + entry["amount"]
        kinds = by_kind.setdefault(currency, dict.fromkeys(KINDS, 0))
        kinds[entry["kind"]] += entry["amount"]
    return {
        "member_id": member_id, "member_name": member_name, "period": period, "months": months,
        "currency_totals": _formatted(totals),
        "totals_by_kind": {currency: {kind: format_amount(minor, currency) for kind, minor in kinds.items()}
                           for currency, kinds in sorted(by_kind.items())},
        "lines": [
            {"kind": e["kind"], "allocation_id": e["allocation_id"], "member_id": member_id,
             "member_name": member_name, "opportunity_id": e["opportunity_id"],
             "opportunity_name": deals[e["opportunity_id"]], "amount": format_amount(e["amount"], e["currency"]),
             "currency": e["currency"], "on": e["on"], "period": e["period"], "cause": e["cause"],
             "reason": e["reason"], "corrects": e["corrects"], "entry_id": e["entry_id"],
             "pays": e["pays"], "event_id": e["event_id"], "position": e["position"]}
            for e in entries
        ],
    }


def journal(docs: Iterable[dict], period: str, *, expense_code: str | None = None,
            payable_code: str | None = None, lookup: Lookup = _nobody) -> dict:
    """Balanced double-entry lines for a period: per member and currency, bonus expense against
    the member's bonus payable account, of the member's net (sides swapped for a net clawback);
    each line carries its account's code in the general ledger and the member's name."""
    lines = []
    sums: dict[str, dict[str, int]] = {}
    for (member, currency), net in _nets(docs, months_of(period)).items():
        if net == 0:
            continue  # nothing to book: what was paid was clawed back within the period
        amount = abs(net)
        expense, payable = (amount, 0), (0, amount)
        if net < 0:
            expense, payable = payable, expense
        member_name = _payee(lookup, member)["member_name"]
        for account, code, (debit, credit) in ((EXPENSE, expense_code, expense),
                                               (f"{PAYABLE_ACCOUNT}:{member}", payable_code, payable)):
            lines.append({"account": account, "account_code": code, "member_id": member,
                          "member_name": member_name, "currency": currency,
                          "debit": format_amount(debit, currency),
                          "credit": format_amount(credit, currency)})
            total = sums.setdefault(currency, {"debit": 0, "credit": 0, "expense": 0})
            total["debit"] += debit
            total["credit"] += credit
        sums[currency]["expense"] += net
    return {
        "period": period, "lines": lines,
        "totals": {currency: {"debit": format_amount(t["debit"], currency),
                              "credit": format_amount(t["credit"], currency),
                              "balance": format_amount(t["debit"] - t["credit"], currency),
                              "net_expense": format_amount(t["expense"], currency)}
                   for currency, t in sorted(sums.items())},
    }


def payroll(docs: Iterable[dict], period: str, lookup: Lookup = _nobody) -> dict:
    """What to pay each member per currency for a period (negative: to recover), with the member's
    name, employee id and cost center."""
    nets = {key: net for key, net in _nets(docs, months_of(period)).items() if net}
    totals: dict[str, int] = {}
    for (_, currency), net in nets.items():
        totals[currency] = totals.get(currency, 0) + net
    payees = {member: _payee(lookup, member) for member, _ in nets}
    return {"period": period,
            "rows": [{"member_id": member, **payees[member], "currency": currency,
                      "amount": format_amount(net, currency)}
                     for (member, currency), net in nets.items()],
            "totals": _formatted(totals)}


def _formatted(totals: dict[str, int]) -> dict[str, str]:
    return {currency: format_amount(minor, currency) for currency, minor in sorted(totals.items())}
