"""Statements, the journal, payroll, periods and disputes over HTTP, on the embedded store and on
PostgreSQL: who may read what, in JSON, CSV and XLSX, and the refusals.

The money is set up through the Application (won last month, approved, a quarter of the cash
this month, one member's work reversed, one dispute rejected and one open); everything is read
over HTTP.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from domain.application import Actor
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from tests.e2e.test_api import assert_problem, auth

LEAD = Actor("lee", "lead")
FINANCE = Actor("fin", "finance")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def months() -> tuple[str, str]:
    """Last month and this month (UTC, the application's clock)."""
    today = datetime.now(UTC).date()
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}", f"{today:%Y-%m}"


@pytest.fixture
def members(client: TestClient) -> None:
    """ana (sales), sam (presales) and fay (delivery), named Ana, Sam and Fay."""
    for member, department in (("ana", "sales"), ("sam", "presales"), ("fay", "delivery")):
        client.app.state.services.app.register_member(Actor("root", "admin"), member, member.title(), department)


@pytest.fixture
def books(client: TestClient, members: None) -> dict:
    """A CNY 4,000,000.00 deal won on the first of last month (pool 120,000.00: ana 53,333.33,
    sam 40,000.00, fay 26,666.67; 40% held back until the cash comes), approved; this month a quarter of the cash, fay's work
    reversed, sam's dispute rejected and ana's open."""
    app = client.app.state.services.app
    app.add_policy(FINANCE, "incentive", {**copy.deepcopy(DEFAULT_INCENTIVE_DOCUMENT),
                                          "effective_from": "2020-01-01", "holdback": "0.4"})
    last, this = months()
    won_on = f"{last}-01"
    oid = app.open_opportunity(LEAD, account_id="acme", name="Acme WMS", amount="4000000.00",
                               currency="CNY", expected_close=won_on).id
    work = {}
    for member, role, kind in (("ana", "AR", "visit"), ("sam", "SR", "demo"), ("fay", "FR", "delivery_plan")):
        app.assign_triangle_role(LEAD, oid, role, member)
        work[member] = app.record_contribution(Actor(member, "member"), oid, member_id=member, kind=kind,
                                               summary="work", occurred_at=f"{won_on}T08:00:00+00:00").id
        app.confirm_contribution(LEAD, oid, work[member])
    aid = app.win(LEAD, oid, closed_on=won_on, reason="signed on that day").allocation_id
    app.approve_allocation(FINANCE, aid)
    app.receive_payment(FINANCE, oid, amount="1000000.00", currency="CNY",
                        received_on=datetime.now(UTC).date().isoformat(), payment_id="erp-1")
    app.reverse_contribution(LEAD, oid, work["fay"], "the plan was never delivered")
    rejected = app.raise_dispute(Actor("sam", "member"), aid, member_id="sam", reason="demo won it").id
    app.resolve_dispute(FINANCE, rejected, decision="reject", reason="the split follows the policy")
    open_dispute = app.raise_dispute(Actor("ana", "member"), aid, member_id="ana", reason="visits").id
    return {"last": last, "this": this, "oid": oid, "aid": aid, "rejected": rejected,
            "open": open_dispute, "head": app.recorder.max_notification_id()}


def get(client: TestClient, token: str, path: str, books: dict, **params: str):
    return client.get(path, params={"after": books["head"], **params}, headers=auth(token))


def test_finance_reads_statements_in_json_csv_and_xlsx_that_agree_to_the_cent(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    fin = token("fin", "finance")
    path = f"/v1/periods/{books['this']}/statements/ana"

    shown = get(client, fin, path, books)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    # a quarter of ana's 21,333.33 held, then the reversal: 68,571.43 as 41,142.86 + 27,428.57 held
    assert [(line["kind"], line["amount"]) for line in body["lines"]] == [
        ("release", "5333.33"), ("adjustment", "9142.86"), ("adjustment", "1523.81")]
    assert body["currency_totals"] == {"CNY": "16000.00"}
    assert get(client, fin, f"/v1/periods/{books['last']}/statements/ana", books).json()[
        "currency_totals"] == {"CNY": "32000.00"}

    as_csv = get(client, fin, path, books, format="csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == (
        f'attachment; filename="statement-ana-{books["this"]}.csv"')
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["amount"] for r in rows] == ["5333.33", "9142.86", "1523.81"]  # the totals: part=totals

    as_xlsx = get(client, fin, path, books, format="xlsx")
    assert as_xlsx.status_code == 200 and as_xlsx.headers["content-type"] == XLSX
    assert as_xlsx.headers["content-disposition"].endswith(f'statement-ana-{books["this"]}.xlsx"')
    book = load_workbook(io.BytesIO(as_xlsx.content))
    amounts = [Decimal(str(row[6])).quantize(Decimal("0.01"))
               for row in book["Lines"].iter_rows(min_row=2, values_only=True)]
    assert amounts == [Decimal(line["amount"]) for line in body["lines"]]
    assert book["Totals"]["H2"].number_format == '#,##0.00 "CNY"'


def test_a_member_reads_only_their_own_statement(client: TestClient, token: Callable[..., str],
                                                 books: dict) -> None:
    path = f"/v1/periods/{books['this']}/statements/fay"
    fay = get(client, token("fay"), path, books)
    assert fay.status_code == 200 and fay.json()["currency_totals"] == {"CNY": "-16000.00"}
    for who in (token("ana"), token("lee", "lead")):  # not theirs to read: as if fay had none
        assert_problem(get(client, who, path, books), 404, "member_id")
        assert_problem(get(client, who, path, books, format="csv"), 404, "member_id")
    for reader in (token("aud", "auditor"), token("root", "admin")):
        assert get(client, reader, path, books).json() == fay.json()
    quarter = f"{books['this'][:4]}-Q{(int(books['this'][5:]) + 2) // 3}"
    assert get(client, token("fay"), f"/v1/periods/{quarter}/statements/fay", books).status_code == 200


def test_the_journal_and_payroll_balance_and_are_for_finance_auditors_and_admins(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    period = books["this"]
    journal = get(client, token("aud", "auditor"), f"/v1/periods/{period}/journal", books).json()
    assert journal["totals"] == {"CNY": {"debit": "43999.99", "credit": "43999.99", "balance": "0.00",
                                         "net_expense": "11999.99"}}
    fay = [line for line in journal["lines"] if line["member_id"] == "fay"]
    assert fay == [{"account": "bonus expense", "account_code": "6400", "member_id": "fay",
                    "member_name": "Fay", "currency": "CNY", "debit": "0.00", "credit": "16000.00"},
                   {"account": "bonus payable:fay", "account_code": "2400", "member_id": "fay",
                    "member_name": "Fay", "currency": "CNY", "debit": "16000.00", "credit": "0.00"}]
    as_csv = get(client, token("fin", "finance"), f"/v1/periods/{period}/journal", books, format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(as_csv.text))) == journal["lines"]

    payroll = get(client, token("root", "admin"), f"/v1/periods/{period}/payroll", books).json()
    assert [(r["member_id"], r["member_name"], r["currency"], r["amount"]) for r in payroll["rows"]] == [
        ("ana", "Ana", "CNY", "16000.00"), ("fay", "Fay", "CNY", "-16000.00"), ("sam", "Sam", "CNY", "11999.99")]
    assert payroll["totals"] == {"CNY": "11999.99"}
    as_csv = get(client, token("fin", "finance"), f"/v1/periods/{period}/payroll", books, format="csv")
    assert as_csv.headers["content-disposition"] == f'attachment; filename="payroll-{period}.csv"'
    assert as_csv.text.splitlines() == ["member_id,member_name,employee_id,cost_center,currency,amount",
                                        "ana,Ana,,,CNY,16000.00", "fay,Fay,,,CNY,-16000.00",
                                        "sam,Sam,,,CNY,11999.99"]

    for path in (f"/v1/periods/{period}/journal", f"/v1/periods/{period}/payroll", f"/v1/periods/{period}"):
        for who in (token("ana"), token("lee", "lead")):
            assert_problem(get(client, who, path, books), 403)
        assert_problem(client.get(path), 401)


def test_a_period_shows_its_totals_and_that_it_is_open(client: TestClient, token: Callable[..., str],
                                                       books: dict) -> None:
    shown = get(client, token("fin", "finance"), f"/v1/periods/{books['last']}", books).json()
    assert (shown["entries"], shown["members"], shown["totals"], shown["closed"]) == (
        3, ["ana", "fay", "sam"], {"CNY": "72000.00"}, False)
    [month] = shown["months"]
    assert (month["period"], month["closed_report"], month["cutoff"]) == (books["last"], None, None)
    this = get(client, token("aud", "auditor"), f"/v1/periods/{books['this']}", books).json()
    assert this["totals"] == {"CNY": "11999.99"} and this["entries"] == 9


def test_bad_periods_and_formats_are_refused_naming_them(client: TestClient, token: Callable[..., str],
                                                         books: dict) -> None:
    fin = token("fin", "finance")
    for bad in ("2026-13", "2026-Q0", "last-month", "2026-1"):
        for path in (f"/v1/periods/{bad}", f"/v1/periods/{bad}/journal", f"/v1/periods/{bad}/payroll",
                     f"/v1/periods/{bad}/statements/ana"):
            assert_problem(get(client, fin, path, books), 422, "period")
    assert_problem(get(client, token("ana"), "/v1/periods/2026-13/statements/ana", books), 422, "period")
    this = books["this"]
    assert_problem(get(client, fin, f"/v1/periods/{this}/statements/ana", books, format="pdf"), 422, "format")
    assert_problem(get(client, fin, f"/v1/periods/{this}/journal", books, format="xlsx"), 422, "format")
    assert_problem(get(client, fin, f"/v1/periods/{this}/statements/nobody", books), 404, "member_id")


def test_a_dispute_is_read_by_its_member_leads_finance_and_auditors(
        client: TestClient, token: Callable[..., str], books: dict) -> None:
    path = f"/v1/disputes/{books['rejected']}"
    mine = get(client, token("sam"), path, books)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert (body["status"], body["member_id"], body["allocation_id"], body["opportunity_id"]) == (
        "rejected", "sam", books["aid"], books["oid"])
    assert (body["resolution"]["decision"], body["resolution"]["reason"], body["resolution"]["by"]) == (
        "reject", "the split follows the policy", "fin")
    for reader in (token("lee", "lead"), token("fin", "finance"), token("aud", "auditor")):
        assert get(client, reader, path, books).json() == body
    assert_problem(get(client, token("ana"), path, books), 404, "dispute_id")
    open_one = get(client, token("ana"), f"/v1/disputes/{books['open']}", books).json()
    assert (open_one["status"], open_one["resolution"]) == ("open", None)
    assert_problem(get(client, token("fin", "finance"), "/v1/disputes/not-a-dispute", books), 404,
                   "dispute_id")
    assert_problem(get(client, token("fin", "finance"), f"/v1/disputes/{books['aid']}", books), 404,
                   "dispute_id")

    allocation = get(client, token("fin", "finance"), f"/v1/allocations/{books['aid']}", books).json()
    assert allocation["open_disputes"] == 1 and allocation["status"] == "approved"
    ana = next(line for line in allocation["lines"] if line["member_id"] == "ana")
    assert ana["paid_parts"] == {"amount": "48000.00", "upfront": "41142.86", "release": "6857.14"}
    assert (ana["approved"], ana["current"], ana["paid"]) == ("53333.33", "68571.43", "48000.00")
    assert ana["target"] == {"amount": "68571.43", "upfront": "41142.86", "held": "27428.57"}
    board = get(client, token("lee", "lead"), f"/v1/opportunities/{books['oid']}/board", books).json()
    assert board["open_disputes"] == 1 and len(board["disputes"]) == 2
    own = get(client, token("sam"), f"/v1/opportunities/{books['oid']}/board", books).json()
    assert (own["open_disputes"], [d["id"] for d in own["disputes"]]) == (0, [books["rejected"]])
