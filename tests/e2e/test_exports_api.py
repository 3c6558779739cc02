"""The files finance loads, over HTTP, on the embedded store and on PostgreSQL: statements as CSV
(the lines, and their totals as a part of their own) and XLSX (date cells, exact amounts, a frozen
header, SUMIFS totals), the journal with the general ledger's account codes from settings, payroll
with employee ids and cost centers, and names beside ids.

The story is test_statements_api's, with ana registered over HTTP with her payroll numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from api.exports import JOURNAL_COLUMNS, PAYROLL_COLUMNS, STATEMENT_COLUMNS
from main.services import Services
from main.settings import Settings
from tests.conftest import SECRET
from tests.e2e import test_statements_api as story
from tests.e2e.test_api import assert_problem, auth
from tests.e2e.test_statements_api import get

EXPENSE_CODE, PAYABLE_CODE = "6410", "2410-BON"
books = story.books  # the story the files show, with the members below


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    """The services, with the general ledger's own account codes."""
    built = Services.build(Settings(database_url=database_url, secret=SECRET, read_wait_seconds=5.0,
                                    journal_expense_account=EXPENSE_CODE,
                                    journal_payable_account=PAYABLE_CODE))
    yield built
    built.close()


@pytest.fixture
def members(client: TestClient, token: Callable[..., str]) -> None:
    """ana registered over HTTP with an employee id and a cost center; sam and fay without."""
    admin = auth(token("root", "admin"))
    for body in ({"id": "ana", "name": "Ana", "department": "sales", "employee_id": "E-1001",
                  "cost_center": "CN-SALES-01"},
                 {"id": "sam", "name": "Sam", "department": "presales"},
                 {"id": "fay", "name": "Fay", "department": "delivery"}):
        registered = client.post("/v1/members", json=body, headers=admin)
        assert registered.status_code == 201, registered.text


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *data = rows
    return [dict(zip(header, row, strict=True)) for row in data]


def test_the_statement_csv_is_one_header_row_and_lines_that_read_back_as_the_json_and_its_totals_sum_them(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    fin = token("fin", "finance")
    path = f"/v1/periods/{books['this']}/statements/ana"
    shown = get(client, fin, path, books).json()

    lines = rows_of(get(client, fin, path, books, format="csv").text)
    totals = get(client, fin, path, books, format="csv", part="totals")

    assert lines[0] == list(STATEMENT_COLUMNS) and len(lines) == 1 + len(shown["lines"]) == 4
    read = as_dicts(lines)
    assert [(r["kind"], r["amount"], r["currency"], r["on"], r["entry_id"]) for r in read] == [
        (line["kind"], line["amount"], line["currency"], line["on"], line["entry_id"])
        for line in shown["lines"]]
    assert {(r["member_id"], r["member_name"], r["opportunity_id"], r["opportunity_name"]) for r in read} == {
        ("ana", "Ana", books["oid"], "Acme WMS")}
    assert shown["member_name"] == "Ana" and {line["opportunity_name"] for line in shown["lines"]} == {
        "Acme WMS"}
    assert totals.headers["content-disposition"] == (
        f'attachment; filename="statement-ana-{books["this"]}-totals.csv"')
    [total] = as_dicts(rows_of(totals.text))
    assert (total["member_id"], total["member_name"], total["currency"], total["total"]) == (
        "ana", "Ana", "CNY", shown["currency_totals"]["CNY"])
    assert sum(Decimal(r["amount"]) for r in read) == Decimal(total["total"]) == sum(
        Decimal(total[kind]) for kind in ("upfront", "release", "adjustment"))


def sumifs(book: Workbook, sheet: str, formula: str) -> Decimal:
    """A `=SUMIFS(sum range, range, criterion, ...)` of the totals sheet, evaluated as a spreadsheet
    would, in exact decimals (a criterion is a quoted text or a cell of `sheet`)."""
    assert formula.startswith("=SUMIFS(") and formula.endswith(")")
    ranges = []
    for argument in formula.removeprefix("=SUMIFS(").removesuffix(")").split(","):
        if "!" in argument:
            name, cells = argument.replace("$", "").split("!")
            ranges.append([row[0].value for row in book[name][cells]])
        else:
            ranges.append(argument.strip('"') if argument.startswith('"')
                          else book[sheet][argument.replace("$", "")].value)
    summed, conditions = ranges[0], list(zip(ranges[1::2], ranges[2::2], strict=True))
    return sum((Decimal(str(value)) for i, value in enumerate(summed)
                if all(cells[i] == wanted for cells, wanted in conditions)), Decimal(0))


def test_the_statement_xlsx_has_date_cells_exact_numbers_a_frozen_header_and_sumifs_totals(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    fin = token("fin", "finance")
    path = f"/v1/periods/{books['this']}/statements/ana"
    shown = get(client, fin, path, books).json()

    book = load_workbook(io.BytesIO(get(client, fin, path, books, format="xlsx").content))

    lines = book["Lines"]
    assert lines.freeze_panes == "A2" and book["Totals"].freeze_panes == "A2"
    header, *rows = list(lines.iter_rows(values_only=True))
    assert header == STATEMENT_COLUMNS and len(rows) == len(shown["lines"])
    read = [dict(zip(header, row, strict=True)) for row in rows]
    assert all(isinstance(r["on"], datetime) for r in read)  # a date cell, never text
    assert [r["on"].date() for r in read] == [date.fromisoformat(line["on"]) for line in shown["lines"]]
    assert all(isinstance(r["amount"], int | float) for r in read)
    assert sum(Decimal(str(r["amount"])) for r in read) == Decimal(shown["currency_totals"]["CNY"])
    on, amount = (STATEMENT_COLUMNS.index(c) + 1 for c in ("on", "amount"))
    assert {lines.cell(row, on).number_format for row in range(2, len(rows) + 2)} == {"yyyy-mm-dd"}
    assert {lines.cell(row, amount).number_format for row in range(2, len(rows) + 2)} == {'#,##0.00 "CNY"'}
    assert lines.column_dimensions["B"].width >= 36  # an allocation id shows whole
    assert [(r["member_name"], r["opportunity_name"]) for r in read] == [("Ana", "Acme WMS")] * len(rows)

    totals = book["Totals"]
    header, [*names, currency, upfront, release, adjustment, total] = [
        [cell.value for cell in row] for row in totals.iter_rows()]
    assert header == ["member_id", "member_name", "period", "currency", "upfront", "release",
                      "adjustment", "total"]
    assert (names, currency) == (["ana", "Ana", books["this"]], "CNY")
    assert all(f.startswith("=SUMIFS(Lines!") for f in (upfront, release, adjustment, total))
    assert totals["H2"].number_format == '#,##0.00 "CNY"'
    assert sumifs(book, "Totals", total) == Decimal(shown["currency_totals"]["CNY"])
    assert [sumifs(book, "Totals", f) for f in (upfront, release, adjustment)] == [
        Decimal(shown["totals_by_kind"]["CNY"][kind]) for kind in ("upfront", "release", "adjustment")]


def test_the_journal_carries_the_general_ledgers_account_codes_from_settings_and_member_names(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    fin = token("fin", "finance")
    path = f"/v1/periods/{books['this']}/journal"
    shown = get(client, fin, path, books).json()

    assert {(line["account"].split(":")[0], line["account_code"]) for line in shown["lines"]} == {
        ("bonus expense", EXPENSE_CODE), ("bonus payable", PAYABLE_CODE)}
    assert {(line["member_id"], line["member_name"]) for line in shown["lines"]} == {
        ("ana", "Ana"), ("sam", "Sam"), ("fay", "Fay")}
    lines = rows_of(get(client, fin, path, books, format="csv").text)
    assert lines[0] == list(JOURNAL_COLUMNS) and as_dicts(lines) == shown["lines"]
    totals = as_dicts(rows_of(get(client, fin, path, books, format="csv", part="totals").text))
    assert totals == [{"period": books["this"], "currency": "CNY", **shown["totals"]["CNY"]}]


def test_payroll_rows_carry_the_employee_id_and_cost_center_a_member_was_registered_with(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    fin = token("fin", "finance")
    path = f"/v1/periods/{books['this']}/payroll"
    shown = get(client, fin, path, books).json()

    assert shown["rows"] == [
        {"member_id": "ana", "member_name": "Ana", "employee_id": "E-1001", "cost_center": "CN-SALES-01",
         "currency": "CNY", "amount": "16000.00"},
        {"member_id": "fay", "member_name": "Fay", "employee_id": None, "cost_center": None,
         "currency": "CNY", "amount": "-16000.00"},
        {"member_id": "sam", "member_name": "Sam", "employee_id": None, "cost_center": None,
         "currency": "CNY", "amount": "11999.99"}]
    lines = rows_of(get(client, fin, path, books, format="csv").text)
    assert lines == [list(PAYROLL_COLUMNS), ["ana", "Ana", "E-1001", "CN-SALES-01", "CNY", "16000.00"],
                     ["fay", "Fay", "", "", "CNY", "-16000.00"], ["sam", "Sam", "", "", "CNY", "11999.99"]]
    totals = get(client, fin, path, books, format="csv", part="totals")
    assert totals.headers["content-disposition"] == f'attachment; filename="payroll-{books["this"]}-totals.csv"'
    assert rows_of(totals.text) == [["period", "currency", "amount"], [books["this"], "CNY", "11999.99"]]
    assert sum(Decimal(row["amount"]) for row in shown["rows"]) == Decimal(shown["totals"]["CNY"])


def test_totals_are_a_part_of_their_own_only_in_csv(client: TestClient, token: Callable[..., str],
                                                     books: dict) -> None:
    fin, this = token("fin", "finance"), books["this"]
    statement = f"/v1/periods/{this}/statements/ana"
    for path, fmt in ((statement, "json"), (statement, "xlsx"), (f"/v1/periods/{this}/journal", "json"),
                      (f"/v1/periods/{this}/payroll", "json")):
        assert_problem(get(client, fin, path, books, format=fmt, part="totals"), 422, "part")
    assert_problem(get(client, fin, statement, books, format="csv", part="sums"), 422, "part")


@pytest.mark.parametrize(("field", "value"), [("employee_id", "E-1\n2"), ("cost_center", "CC\t1"),
                                              ("employee_id", "E" * 65), ("cost_center", "  ")])
def test_a_members_payroll_numbers_are_short_single_line_text(
        client: TestClient, token: Callable[..., str], field: str, value: str) -> None:
    body = {"id": "ivy", "name": "Ivy", "department": "finance", field: value}

    refused = client.post("/v1/members", json=body, headers=auth(token("root", "admin")))

    assert_problem(refused, 422, field)
    assert_problem(client.get("/v1/members/ivy", headers=auth(token("root", "admin"))), 404, "member_id")
