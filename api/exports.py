"""The files finance loads: statements, the journal and payroll as CSV, and statements as XLSX,
each rendered from its JSON answer (queries/periods.py, as `model_dump()` gives it).

CSV: one header row, then data rows only; the totals per currency are a file of their own
(`part="totals"`). Free text a spreadsheet would run as a formula is prefixed with `'`.
XLSX: sheet `Lines` (dates as date cells, amounts as numbers in the currency's decimals with its
code, written exactly) and sheet `Totals` (one row per currency, SUMIFS formulas over `Lines`),
each with a frozen header row and columns as wide as their values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from domain.money import exponent
from domain.payables import KINDS

Part = Literal["lines", "totals"]

STATEMENT_COLUMNS = ("kind", "allocation_id", "member_id", "member_name", "opportunity_id",
                     "opportunity_name", "amount", "currency", "on", "period", "cause", "reason",
                     "corrects_allocation_id", "corrects_member_id", "entry_id")
STATEMENT_TOTAL_COLUMNS = ("member_id", "member_name", "period", "currency", *KINDS, "total")
JOURNAL_COLUMNS = ("account", "account_code", "member_id", "member_name", "currency", "debit", "credit")
JOURNAL_TOTAL_COLUMNS = ("period", "currency", "debit", "credit", "balance", "net_expense")
PAYROLL_COLUMNS = ("member_id", "member_name", "employee_id", "cost_center", "currency", "amount")
PAYROLL_TOTAL_COLUMNS = ("period", "currency", "amount")
MONEY = frozenset({"amount", "debit", "credit", "balance", "net_expense", "total", *KINDS})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"
WIDEST = 48  # characters: a longer reason is cut off at the column's edge, not widening it


# -- CSV -----------------------------------------------------------------------------------------

def _text(value: str | None) -> str:
    """Free text in a CSV cell: a spreadsheet must not run it as a formula."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_cell(column: str, value: object) -> str:
    if value is None:
        return ""
    return str(value) if column in MONEY else _text(str(value))  # a negative amount stays a number


def _csv(columns: tuple[str, ...], rows: Iterable[Mapping[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_csv_cell(c, row.get(c)) for c in columns] for row in rows)
    return out.getvalue()


def _statement_fields(line: dict) -> dict[str, Any]:
    corrects = line.get("corrects") or {}
    return {**{c: line.get(c) for c in STATEMENT_COLUMNS}, "corrects_allocation_id": corrects.get("allocation_id"),
            "corrects_member_id": corrects.get("member_id")}


def _statement_totals(shown: dict) -> list[dict]:
    return [{"member_id": shown["member_id"], "member_name": shown.get("member_name"),
             "period": shown["period"], "currency": currency, **kinds,
             "total": shown["currency_totals"][currency]}
            for currency, kinds in shown["totals_by_kind"].items()]


def statement_csv(shown: dict, part: Part = "lines") -> str:
    """A statement as CSV: one row per entry, or (`totals`) one row per currency, by kind."""
    if part == "totals":
        return _csv(STATEMENT_TOTAL_COLUMNS, _statement_totals(shown))
    return _csv(STATEMENT_COLUMNS, map(_statement_fields, shown["lines"]))


def journal_csv(shown: dict, part: Part = "lines") -> str:
    """The journal as CSV: its lines, or (`totals`) debit, credit, balance and net expense per currency."""
    if part == "totals":
        return _csv(JOURNAL_TOTAL_COLUMNS, ({"period": shown["period"], "currency": currency, **sums}
                                            for currency, sums in shown["totals"].items()))
    return _csv(JOURNAL_COLUMNS, shown["lines"])


def payroll_csv(shown: dict, part: Part = "lines") -> str:
    """Payroll as CSV: one row per member and currency, or (`totals`) the sum per currency."""
    if part == "totals":
        return _csv(PAYROLL_TOTAL_COLUMNS, ({"period": shown["period"], "currency": currency, "amount": amount}
                                            for currency, amount in shown["totals"].items()))
    return _csv(PAYROLL_COLUMNS, shown["rows"])


# -- XLSX ----------------------------------------------------------------------------------------

def number_format(currency: str) -> str:
    """Thousands, the currency's decimals and its code: `#,##0.00 "CNY"`, `#,##0 "JPY"`."""
    places = exponent(currency)
    return "#,##0" + ("." + "0" * places if places else "") + f' "{currency}"'


def _amount_width(amount: str) -> int:
    """Characters an amount takes shown in its number format (separators and code included)."""
    whole = amount.lstrip("-").split(".")[0]
    return len(amount) + (len(whole) - 1) // 3 + 4


def _amount_cell(cell: Any, amount: str, currency: str) -> None:
    # openpyxl writes a Decimal through a float ("%.16g"); a numeric cell holding the exact
    # decimal text is written as it is, so the file carries every digit.
    cell.value = amount
    cell.data_type = "n"
    cell.number_format = number_format(currency)


def _date_cell(cell: Any, value: str | None) -> None:
    cell.value = date.fromisoformat(value) if value else None
    cell.number_format = DATE_FORMAT


def _text_cell(cell: Any, value: str | None) -> None:
    # a worksheet cannot hold most control characters (a reason may carry one): shown escaped
    cell.value = ILLEGAL_CHARACTERS_RE.sub(lambda c: f"\\x{ord(c.group()):02x}", value) if value else None
    if cell.data_type == "f":  # openpyxl reads a leading "=" as a formula; a reason is only text
        cell.data_type = "s"


def _header(sheet: Worksheet, columns: tuple[str, ...]) -> None:
    sheet.append(columns)
    sheet.freeze_panes = "A2"


def _fit(sheet: Worksheet, at_least: Mapping[int, int] | None = None) -> None:
    """Each column as wide as its widest value (up to WIDEST), so no number shows as ###."""
    for column in sheet.iter_cols():
        index = column[0].column
        widths = [(at_least or {}).get(index, 0)]
        for cell in column:
            if isinstance(cell.value, date):
                widths.append(len(DATE_FORMAT))
            elif cell.data_type == "n" and isinstance(cell.value, str):
                widths.append(_amount_width(cell.value))
            elif cell.value is not None and cell.data_type != "f":
                widths.append(len(str(cell.value)))
        sheet.column_dimensions[get_column_letter(index)].width = min(max(widths), WIDEST) + 2


def statement_xlsx(shown: dict) -> bytes:
    """A statement as a workbook: sheet `Lines` (one row per entry) and sheet `Totals` (per
    currency, by kind, as SUMIFS formulas over the lines). Amounts are exact numbers."""
    book = Workbook()
    book.properties.title = f"Statement {shown['member_id']} {shown['period']}"
    lines = book.active
    lines.title = "Lines"
    _header(lines, STATEMENT_COLUMNS)
    for row, line in enumerate(shown["lines"], start=2):
        for column, (name, value) in enumerate(_statement_fields(line).items(), start=1):
            if name == "amount":
                _amount_cell(lines.cell(row, column), value, line["currency"])
            elif name == "on":
                _date_cell(lines.cell(row, column), value)
            else:
                _text_cell(lines.cell(row, column), value)
    last = len(shown["lines"]) + 1
    lines.auto_filter.ref = f"A1:{get_column_letter(len(STATEMENT_COLUMNS))}{last}"
    _fit(lines)

    def over_lines(name: str) -> str:
        letter = get_column_letter(STATEMENT_COLUMNS.index(name) + 1)
        return f"Lines!${letter}$2:${letter}${last}"

    amounts, currencies, kinds = over_lines("amount"), over_lines("currency"), over_lines("kind")
    currency_cell = get_column_letter(STATEMENT_TOTAL_COLUMNS.index("currency") + 1)
    totals = book.create_sheet("Totals")
    _header(totals, STATEMENT_TOTAL_COLUMNS)
    widths: dict[int, int] = {}
    for row, total in enumerate(_statement_totals(shown), start=2):
        for column, name in enumerate(STATEMENT_TOTAL_COLUMNS, start=1):
            cell = totals.cell(row, column)
            if name not in MONEY:
                _text_cell(cell, total[name])
                continue
            by_kind = f',{kinds},"{name}"' if name in KINDS else ""
            cell.value = f"=SUMIFS({amounts},{currencies},${currency_cell}{row}{by_kind})"
            cell.number_format = number_format(total["currency"])
            widths[column] = max(widths.get(column, 0), _amount_width(total[name]))
    _fit(totals, widths)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
