"""Payables: every payable entry by month and member, the months with their totals and close, and
what people read of them: statements, the journal and payroll, in JSON, CSV and XLSX.

Entries come from the allocation events that book them (Approved, Released, Adjusted), each
exactly once, into the month the entry names. Amounts stay integers in minor units in the views
and become decimal strings of their currency only when presented. A quarter (`2026-Q4`) is read as
its three months (domain.payables.months_of).

The journal is double entry per member and currency: one "bonus expense" debit and one
"bonus payable:<member>" credit of the member's net for the period; a net clawback swaps the
sides. Debits equal credits in every currency by construction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from domain.aggregates import Allocation, Period, event_id
from domain.money import exponent, format_amount
from domain.payables import KINDS, months_of
from projections.base import Changes, Projection

PAYABLE = "payable"  # "<month>:<member_id>" -> that member's entries booked in that month
PERIOD = "period"  # "<month>" -> how many entries, whose, totals per currency, and its close
PERIOD_MONTHS = "period_month"  # a Period aggregate's id -> its month (Closed does not name it)

BOOKINGS = (Allocation.Approved, Allocation.Released, Allocation.Adjusted)
EXPENSE = "bonus expense"
PAYABLE_ACCOUNT = "bonus payable"


def payable_key(month: str, member_id: str) -> str:
    return f"{month}:{member_id}"


def new_period(month: str) -> dict:
    return {"period": month, "entries": 0, "members": [], "totals": {}, "closed": False,
            "closed_report": None, "cutoff": None, "closed_by": None, "closed_at": None,
            "closed_position": None, "position": None}


class PayablesProjection(Projection):
    """One document per member and month with their entries; one per month with its totals."""

    name = "payables"
    views = (PAYABLE, PERIOD, PERIOD_MONTHS)

    def process(self, event: Any, position: int, changes: Changes) -> None:
        if isinstance(event, BOOKINGS):
            booked_by = {"event": type(event).__qualname__,
                         "event_id": str(event_id(event.originator_id, event.originator_version)),
                         "at": getattr(event, "at", None), "position": position}
            for entry in event.entries:
                self._book(entry, booked_by, changes)
        elif isinstance(event, Period.Started):
            changes.put(PERIOD_MONTHS, str(event.originator_id), {"month": event.month})
        elif isinstance(event, Period.Closed):
            known = changes.get(PERIOD_MONTHS, str(event.originator_id))
            if known is None:
                return
            doc = changes.get(PERIOD, known["month"]) or new_period(known["month"])
            doc.update(closed=True, closed_report=event.report, cutoff=event.cutoff,
                       closed_by=event.actor, closed_at=event.timestamp.isoformat(),
                       closed_position=position, position=position)
            changes.put(PERIOD, known["month"], doc)

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


def statement(docs: Iterable[dict], member_id: str, period: str) -> dict:
    """One member's statement for a month or a quarter: every entry, and totals per currency
    (overall and by kind: upfront, release, adjustment)."""
    months = months_of(period)
    entries = _entries(docs, months, member_id)
    totals: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for entry in entries:
        currency = entry["currency"]
        totals[currency] = totals.get(currency, 0) + entry["amount"]
        kinds = by_kind.setdefault(currency, dict.fromkeys(KINDS, 0))
        kinds[entry["kind"]] += entry["amount"]
    return {
        "member_id": member_id, "period": period, "months": months,
        "currency_totals": _formatted(totals),
        "totals_by_kind": {currency: {kind: format_amount(minor, currency) for kind, minor in kinds.items()}
                           for currency, kinds in sorted(by_kind.items())},
        "lines": [
            {"kind": e["kind"], "allocation_id": e["allocation_id"],
             "opportunity_id": e["opportunity_id"], "amount": format_amount(e["amount"], e["currency"]),
             "currency": e["currency"], "on": e["on"], "period": e["period"], "cause": e["cause"],
             "reason": e["reason"], "corrects": e["corrects"], "entry_id": e["entry_id"],
             "pays": e["pays"], "event_id": e["event_id"], "position": e["position"]}
            for e in entries
        ],
    }


def journal(docs: Iterable[dict], period: str) -> dict:
    """Balanced double-entry lines for a period: per member and currency, bonus expense against
    the member's bonus payable account, of the member's net (sides swapped for a net clawback)."""
    lines = []
    sums: dict[str, dict[str, int]] = {}
    for (member, currency), net in _nets(docs, months_of(period)).items():
        if net == 0:
            continue  # nothing to book: what was paid was clawed back within the period
        amount = abs(net)
        expense, payable = (amount, 0), (0, amount)
        if net < 0:
            expense, payable = payable, expense
        for account, (debit, credit) in ((EXPENSE, expense), (f"{PAYABLE_ACCOUNT}:{member}", payable)):
            lines.append({"account": account, "member_id": member, "currency": currency,
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


def payroll(docs: Iterable[dict], period: str) -> dict:
    """What to pay each member per currency for a period (negative: to recover)."""
    nets = {key: net for key, net in _nets(docs, months_of(period)).items() if net}
    totals: dict[str, int] = {}
    for (_, currency), net in nets.items():
        totals[currency] = totals.get(currency, 0) + net
    return {"period": period,
            "rows": [{"member_id": member, "currency": currency, "amount": format_amount(net, currency)}
                     for (member, currency), net in nets.items()],
            "totals": _formatted(totals)}


def _formatted(totals: dict[str, int]) -> dict[str, str]:
    return {currency: format_amount(minor, currency) for currency, minor in sorted(totals.items())}


# -- renderers ---------------------------------------------------------------------------------

STATEMENT_COLUMNS = ("kind", "allocation_id", "opportunity_id", "amount", "currency", "on", "period",
                     "cause", "reason", "corrects_allocation_id", "corrects_member_id", "entry_id")
JOURNAL_COLUMNS = ("account", "member_id", "debit", "credit", "currency")
PAYROLL_COLUMNS = ("member_id", "currency", "amount")
TOTAL_COLUMNS = ("member_id", "period", "currency", "upfront", "release", "adjustment", "total")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    """Free text in a CSV cell: a spreadsheet must not run it as a formula."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _statement_fields(line: dict) -> dict[str, str | None]:
    corrects = line["corrects"] or {}
    return {**{c: line.get(c) for c in STATEMENT_COLUMNS}, "corrects_allocation_id": corrects.get("allocation_id"),
            "corrects_member_id": corrects.get("member_id")}


def _statement_row(line: dict) -> list[str]:
    fields = _statement_fields(line)
    return [_text(fields[c]) if c == "reason" else fields[c] or "" for c in STATEMENT_COLUMNS]


def _csv(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def statement_csv(shown: dict) -> str:
    """A statement as CSV: a header, one row per entry, then one `total` row per currency."""
    totals = [["total", "", "", amount, currency, "", shown["period"], "", "", "", "", ""]
              for currency, amount in shown["currency_totals"].items()]
    return _csv(STATEMENT_COLUMNS, [*map(_statement_row, shown["lines"]), *totals])


def journal_csv(shown: dict) -> str:
    return _csv(JOURNAL_COLUMNS, ([line[c] for c in JOURNAL_COLUMNS] for line in shown["lines"]))


def payroll_csv(shown: dict) -> str:
    return _csv(PAYROLL_COLUMNS, ([row[c] for c in PAYROLL_COLUMNS] for row in shown["rows"]))


def number_format(currency: str) -> str:
    places = exponent(currency)
    return "#,##0" + ("." + "0" * places if places else "")


def _amount_cell(cell: Any, amount: str, currency: str) -> None:
    # openpyxl writes a Decimal through a float ("%.16g"); a numeric cell holding the exact
    # decimal text is written as it is, so the file carries every digit.
    cell.value = amount
    cell.data_type = "n"
    cell.number_format = number_format(currency)


def _text_cell(cell: Any, value: str | None) -> None:
    # a worksheet cannot hold most control characters (a reason may carry one): shown escaped
    cell.value = ILLEGAL_CHARACTERS_RE.sub(lambda c: f"\\x{ord(c.group()):02x}", value) if value else None
    if cell.data_type == "f":  # openpyxl reads a leading "=" as a formula; a reason is only text
        cell.data_type = "s"


def statement_xlsx(shown: dict) -> bytes:
    """A statement as a workbook: sheet `Lines` (one row per entry) and sheet `Totals` (per
    currency, by kind). Amounts are numbers with the currency's decimals, written exactly."""
    book = Workbook()
    book.properties.title = f"Statement {shown['member_id']} {shown['period']}"
    lines = book.active
    lines.title = "Lines"
    lines.append(STATEMENT_COLUMNS)
    for row, line in enumerate(shown["lines"], start=2):
        for column, (name, value) in enumerate(_statement_fields(line).items(), start=1):
            if name == "amount":
                _amount_cell(lines.cell(row, column), line["amount"], line["currency"])
            else:
                _text_cell(lines.cell(row, column), value)
    totals = book.create_sheet("Totals")
    totals.append(TOTAL_COLUMNS)
    for row, (currency, kinds) in enumerate(shown["totals_by_kind"].items(), start=2):
        totals.cell(row, 1, shown["member_id"])
        totals.cell(row, 2, shown["period"])
        totals.cell(row, 3, currency)
        for column, amount in enumerate([*(kinds[k] for k in KINDS), shown["currency_totals"][currency]],
                                        start=4):
            _amount_cell(totals.cell(row, column), amount, currency)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
