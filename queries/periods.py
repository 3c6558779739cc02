"""Periods as finance and members read them: what is payable in a month or a quarter, a member's
statement, the journal and payroll. CSV and XLSX are renderings of these answers (api/exports.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import ConfigDict, Field

from domain.application import MAY, Actor, Goldsplit, require
from domain.money import format_amount
from domain.payables import KINDS, months_of
from projections.payables import DEALS, PAYABLE, PAYEES, PERIOD, new_period, payable_key
from projections.store import ViewStore
from queries.access import require_own
from queries.allocations import CorrectsOut
from queries.models import Out

EXPENSE = "bonus expense"
PAYABLE_ACCOUNT = "bonus payable"

Lookup = Callable[[str, str], dict | None]  # (view, key) -> document: the view store's get


class PeriodQuery:
    """Reads the payables read model: periods, the journal and payroll for finance, auditors and
    admins; a statement for its member too. `expense_code` and `payable_code` are the general
    ledger's account codes the journal names."""

    def __init__(self, app: Goldsplit, views: ViewStore, *, expense_code: str | None = None,
                 payable_code: str | None = None) -> None:
        self.app, self.views = app, views
        self.expense_code, self.payable_code = expense_code, payable_code

    def period(self, actor: Actor, period: str) -> PeriodOut:
        months = months_of(period)
        require(actor, "read the books", "read periods")
        return PeriodOut.model_validate(present_period(
            [doc for month in months if (doc := self.views.get(PERIOD, month))], period))

    def statement(self, actor: Actor, period: str, member_id: str) -> StatementOut:
        months = months_of(period)
        require_own(actor, member_id, MAY["read the books"])
        self.app.member(member_id)  # a member the ledger does not know is 404, not an empty statement
        return StatementOut.model_validate(statement(
            self._payables(months, member_id), member_id, period, self.views.get))

    def journal(self, actor: Actor, period: str) -> JournalOut:
        months = months_of(period)
        require(actor, "read the books", "read the journal")
        return JournalOut.model_validate(journal(
            self._payables(months), period, expense_code=self.expense_code,
            payable_code=self.payable_code, lookup=self.views.get))

    def payroll(self, actor: Actor, period: str) -> PayrollOut:
        months = months_of(period)
        require(actor, "read the books", "read payroll")
        return PayrollOut.model_validate(payroll(self._payables(months), period, self.views.get))

    def _payables(self, months: list[str], member_id: str | None = None) -> list[dict]:
        """The payable documents of these months: one member's, or every member's."""
        keys = []
        for month in months:
            members = [member_id] if member_id is not None else (
                self.views.get(PERIOD, month) or {}).get("members", [])
            keys += [payable_key(month, member) for member in members]
        return [doc for key in keys if (doc := self.views.get(PAYABLE, key)) is not None]


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


# -- the answer models --------------------------------------------------------------------------

class CloseReportOut(Out):
    period: str
    months: list[str]
    cutoff: int
    events: int
    entries: int
    members: list[str]
    totals: dict[str, str]
    chain_head: str | None


class MonthOut(Out):
    period: str
    entries: int
    members: list[str]
    totals: dict[str, str] = Field(description="per currency, decimal strings")
    closed: bool
    closed_report: CloseReportOut | None
    cutoff: int | None
    closed_by: str | None
    closed_at: str | None
    closed_position: int | None
    position: int | None = Field(description="the last event that changed the month")


class PeriodOut(Out):
    period: str
    months: list[MonthOut]
    entries: int
    members: list[str]
    totals: dict[str, str]
    closed: bool = Field(description="every month of the period is closed")
    closed_months: list[str]


class StatementLineOut(Out):
    kind: str = Field(description="upfront | release | adjustment")
    pays: str = Field(description="upfront | release")
    allocation_id: str
    member_id: str
    member_name: str | None
    opportunity_id: str
    opportunity_name: str | None
    amount: str
    currency: str
    on: str
    period: str
    cause: str
    reason: str | None
    corrects: CorrectsOut | None
    entry_id: str
    event_id: str = Field(description="the event that booked the entry")
    position: int


class StatementOut(Out):
    member_id: str
    member_name: str | None
    period: str
    months: list[str]
    currency_totals: dict[str, str]
    totals_by_kind: dict[str, dict[str, str]]
    lines: list[StatementLineOut]


class JournalLineOut(Out):
    account: str
    account_code: str | None = Field(description="the account's code in the general ledger (settings)")
    member_id: str
    member_name: str | None
    debit: str
    credit: str
    currency: str


class JournalTotalsOut(Out):
    debit: str
    credit: str
    balance: str = Field(description="always zero")
    net_expense: str


class JournalOut(Out):
    period: str
    lines: list[JournalLineOut]
    totals: dict[str, JournalTotalsOut] = Field(description="per currency")


class PayrollRowOut(Out):
    member_id: str
    member_name: str | None
    employee_id: str | None = Field(description="as registered; null when not given")
    cost_center: str | None = Field(description="as registered; null when not given")
    currency: str
    amount: str


class PayrollOut(Out):
    period: str
    rows: list[PayrollRowOut]
    totals: dict[str, str]


class ClosedOut(Out):
    id: str = Field(description="the period")
    period: str
    months: list[str]
    cutoff: int = Field(description="the log position the replay proved the numbers up to")
    events: int
    entries: int
    members: list[str]
    totals: dict[str, str]
    chain_head: str = Field(description="the audit chain at the cut-off (hex)")
    position: int

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "2026-10", "period": "2026-10", "months": ["2026-10"], "cutoff": 120, "events": 120,
         "entries": 14, "members": ["ana"], "totals": {"EUR": "12500.00"}, "chain_head": "9f2c4e1a0b7d",
         "position": 121}]})
