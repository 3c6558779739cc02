"""The money screens without a browser: a member's statement (their own only; the downloads are the
JSON API's own files), the period page, the journal and payroll for readers of the books, and
finance closing a period from its page while the page follows the close's progress.

The books: Acme's deal won on 2026-03-15 (alice AR, bob SR, carol FR), approved and paid in part the
same day; the clock then moves to 2026-04-02, so March is over and may be closed."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.auth import issue_token
from books.close import CloseRefused
from main.services import Services
from main.settings import Settings
from tests.builders import WonDeal, register_team, won_deal
from tests.e2e.test_web import HERE, browser, signed_in
from tests.ledger import BOB, FINANCE, head
from web.screens.money import Closes

MARCH = "2026-03"
SECRET = "s"


class Clock:
    """The application's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret=SECRET), clock=clock) as services:
        register_team(services.app)
        yield services


@pytest.fixture
def books(world: Services, clock: Clock) -> WonDeal:
    """Won on 2026-03-15, approved, a payment received that day; today is 2026-04-02."""
    deal = won_deal(world.app)
    world.app.approve_allocation(FINANCE, deal.aid)
    world.app.receive_payment(FINANCE, deal.oid, amount="400000.00", currency="CNY",
                              received_on="2026-03-15", payment_id="erp-1")
    clock.now = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    world.runner.catch_up()
    return deal


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def api_get(client: TestClient, member: str, role: str, path: str, **params: str):
    token = issue_token(SECRET, member, role, 600)
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


# -- statements ----------------------------------------------------------------------------------

def test_a_member_sees_their_own_statement_linked_to_its_lines_and_deals_and_a_404_page_for_anothers(
        world: Services, books: WonDeal) -> None:
    mine = world.queries.periods.statement(BOB, MARCH, "bob")
    theirs = world.queries.periods.statement(FINANCE, MARCH, "alice")
    assert mine.lines and theirs.lines
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/statements/{MARCH}/bob")
        other = bob.get(f"/statements/{MARCH}/alice")
        other_csv = bob.get(f"/statements/{MARCH}/alice?format=csv")
        landing = bob.get("/statements", follow_redirects=False)

    assert page.status_code == 200
    assert "My statement, 2026-03" in page.text
    for line in mine.lines:
        assert f'id="entry-{line.entry_id}"' in page.text
        assert f"{line.amount} {line.currency}" in page.text
    assert f'href="/allocations/{books.aid}/members/bob"' in page.text
    assert f'href="/opportunities/{books.oid}"' in page.text
    assert "/audit/positions/" not in page.text  # the events are for readers of the books
    for currency, total in mine.currency_totals.items():
        assert f"<strong>{total}</strong>" in page.text and f'id="total-{currency}"' in page.text
    assert 'href="/statements/2026-02/bob" rel="prev"' in page.text
    assert 'href="/statements/2026-04/bob" rel="next"' in page.text
    assert 'href="/statements" aria-current="page"' in page.text and 'href="/periods"' not in page.text

    assert other.status_code == other_csv.status_code == 404
    for refused in (other, other_csv):
        assert "Not found" in refused.text
        assert not any(line.entry_id in refused.text or line.amount in refused.text for line in theirs.lines)
    assert landing.status_code == 303 and landing.headers["location"] == "/statements/2026-04/bob"


def test_finance_reads_anyones_statement_with_each_entrys_event(world: Services, books: WonDeal) -> None:
    theirs = world.queries.periods.statement(FINANCE, MARCH, "alice")
    with signed_in(browser(world), world, "fiona", "finance") as finance:
        page = finance.get(f"/statements/{MARCH}/alice")
        chosen = finance.get("/statements", params={"period": "2026-Q1", "member": "alice"},
                             follow_redirects=False)
    assert page.status_code == 200 and "Statement of Alice, 2026-03" in page.text
    assert all(f'href="/audit/positions/{line.position}"' in page.text for line in theirs.lines)
    assert 'id="member-choice"' in page.text and 'href="/periods"' in page.text
    assert chosen.headers["location"] == "/statements/2026-Q1/alice"


@pytest.mark.parametrize("part", ["lines", "totals"])
def test_the_statements_downloads_are_the_json_apis_own_files(world: Services, books: WonDeal, part: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/statements/{MARCH}/bob").text
        assert f'href="/statements/{MARCH}/bob?format=csv&amp;part=totals"' in page
        web_csv = bob.get(f"/statements/{MARCH}/bob", params={"format": "csv", "part": part})
        web_xlsx = bob.get(f"/statements/{MARCH}/bob", params={"format": "xlsx"})
    with browser(world) as api:
        api_csv = api_get(api, "bob", "member", f"/v1/periods/{MARCH}/statements/bob", format="csv", part=part)
        api_xlsx = api_get(api, "bob", "member", f"/v1/periods/{MARCH}/statements/bob", format="xlsx")

    assert web_csv.status_code == api_csv.status_code == 200
    assert web_csv.text == api_csv.text and len(list(csv.reader(io.StringIO(web_csv.text)))) > 1
    for header in ("content-type", "content-disposition"):
        assert web_csv.headers[header] == api_csv.headers[header]
        assert web_xlsx.headers[header] == api_xlsx.headers[header]
    ours, theirs = (load_workbook(io.BytesIO(r.content)) for r in (web_xlsx, api_xlsx))
    assert ours.sheetnames == theirs.sheetnames == ["Lines", "Totals"]
    for name in ours.sheetnames:
        cells = [[(c.value, c.number_format) for c in row] for row in ours[name].iter_rows()]
        assert cells == [[(c.value, c.number_format) for c in row] for row in theirs[name].iter_rows()]
        assert len(cells) > 1


def test_the_journal_and_payroll_pages_show_the_queries_answers_and_their_csv(
        world: Services, books: WonDeal) -> None:
    journal = world.queries.periods.journal(FINANCE, MARCH)
    payroll = world.queries.periods.payroll(FINANCE, MARCH)
    with signed_in(browser(world), world, "audrey", "auditor") as auditor:
        journal_page = auditor.get(f"/periods/{MARCH}/journal")
        payroll_page = auditor.get(f"/periods/{MARCH}/payroll")
        journal_csv = auditor.get(f"/periods/{MARCH}/journal?format=csv")
        payroll_csv = auditor.get(f"/periods/{MARCH}/payroll?format=csv&part=totals")
    with browser(world) as api:
        api_journal = api_get(api, "audrey", "auditor", f"/v1/periods/{MARCH}/journal", format="csv")
        api_payroll = api_get(api, "audrey", "auditor", f"/v1/periods/{MARCH}/payroll", format="csv",
                              part="totals")

    assert journal_page.status_code == payroll_page.status_code == 200
    for currency, totals in journal.totals.items():
        assert re.search(rf'id="journal-total-{currency}">.*?{totals.debit}.*?{totals.credit}',
                         journal_page.text, re.S)
    assert all(row.amount in payroll_page.text for row in payroll.rows) and payroll.rows
    assert journal_csv.text == api_journal.text and payroll_csv.text == api_payroll.text


# -- periods: who reads them ---------------------------------------------------------------------

@pytest.mark.parametrize("member, role", [("lin", "lead"), ("bob", "member")])
def test_periods_are_a_403_page_to_whoever_does_not_read_the_books(
        world: Services, books: WonDeal, member: str, role: str) -> None:
    with signed_in(browser(world), world, member, role) as reader:
        for path in (f"/periods/{MARCH}", f"/periods/{MARCH}/journal", f"/periods/{MARCH}/payroll",
                     f"/periods/{MARCH}/progress", f"/periods/{MARCH}/journal?format=csv", "/periods"):
            refused = reader.get(path, follow_redirects=False)
            assert refused.status_code == 403, path
            assert "Not allowed" in refused.text and "CNY" not in refused.text


def test_an_auditor_reads_the_period_without_the_close_form(world: Services, books: WonDeal) -> None:
    shown = world.queries.periods.period(FINANCE, MARCH)
    with signed_in(browser(world), world, "audrey", "auditor") as auditor:
        page = auditor.get(f"/periods/{MARCH}")
    assert page.status_code == 200 and 'id="period-status">Open' in page.text
    assert all(f"{amount}" in page.text for amount in shown.totals.values())
    assert all(f'href="/statements/{MARCH}/{m}"' in page.text for m in shown.members)
    assert 'action="/periods/2026-03/close"' not in page.text


# -- closing a period ----------------------------------------------------------------------------

def _poll(client: TestClient, period: str, seconds: float = 20) -> str:
    """The progress region, re-fetched (as the page does every second) until it stops polling."""
    deadline = time.monotonic() + seconds
    while True:
        region = client.get(f"/periods/{period}/progress")
        assert region.status_code == 200
        if 'hx-trigger="every 1s"' not in region.text:
            return region.text
        assert time.monotonic() < deadline, "the close did not finish"
        time.sleep(0.05)


def test_finance_closes_a_period_from_its_page_and_the_page_then_shows_the_report(
        world: Services, books: WonDeal) -> None:
    with signed_in(browser(world), world, "fiona", "finance") as finance:
        page = finance.get(f"/periods/{MARCH}")
        assert 'action="/periods/2026-03/close"' in page.text and "Close this period" in page.text
        posted = finance.post(f"/periods/{MARCH}/close", data={"csrf": csrf_of(page.text)},
                              headers={"Origin": HERE}, follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"] == f"/periods/{MARCH}"
        done = _poll(finance, MARCH)
        after = finance.get(f"/periods/{MARCH}")

    shown = world.queries.periods.period(FINANCE, MARCH)
    assert shown.closed
    report = shown.months[0].closed_report
    assert "2026-03 is closed" in done and report.chain_head in done
    assert after.status_code == 200 and 'id="period-status">Closed' in after.text
    assert f'<code class="hash chain-head">{report.chain_head}</code>' in after.text
    assert f"<dt>Events replayed</dt><dd>{report.events}</dd>" in after.text
    assert "fiona" in after.text and "Close this period" not in after.text


def test_a_members_post_to_close_is_a_403_page_and_closes_nothing(world: Services, books: WonDeal) -> None:
    before = head(world.app)
    with signed_in(browser(world), world, "bob") as bob:
        refused = bob.post(f"/periods/{MARCH}/close", data={"csrf": csrf_of(bob.get("/").text)},
                           headers={"Origin": HERE})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    time.sleep(0.1)  # a close started anyway would have recorded by now
    assert head(world.app) == before and not world.queries.periods.period(FINANCE, MARCH).closed


@pytest.mark.parametrize("headers, token", [
    ({"Origin": "https://evil.example"}, "right"), ({}, "right"), ({"Origin": HERE}, "wrong")],
    ids=["other-origin", "no-origin", "other-token"])
def test_a_cross_site_close_is_refused_and_closes_nothing(
        world: Services, books: WonDeal, headers: dict, token: str) -> None:
    before = head(world.app)
    with signed_in(browser(world), world, "fiona", "finance") as finance:
        csrf = csrf_of(finance.get(f"/periods/{MARCH}").text) if token == "right" else "forged"
        refused = finance.post(f"/periods/{MARCH}/close", data={"csrf": csrf}, headers=headers)
        region = finance.get(f"/periods/{MARCH}/progress").text
    assert refused.status_code == 403 and "not sent from this site" in refused.text
    assert "No close of 2026-03 has run" in region
    assert head(world.app) == before and not world.queries.periods.period(FINANCE, MARCH).closed


def test_a_period_not_over_shows_why_and_its_close_is_refused_beside_the_form(
        world: Services, books: WonDeal) -> None:
    with signed_in(browser(world), world, "fiona", "finance") as finance:
        page = finance.get("/periods/2026-04")
        refused = finance.post("/periods/2026-04/close", data={"csrf": csrf_of(page.text)},
                               headers={"Origin": HERE})
    assert "Not closable now: 2026-04 is not over yet" in page.text and "Close this period" not in page.text
    assert refused.status_code == 422 and 'id="refusal" role="alert"' in refused.text
    assert "2026-04 is not over yet" in refused.text


def test_while_a_close_runs_the_region_polls_and_shows_its_progress_then_stops(
        world: Services, books: WonDeal) -> None:
    """The progress as a `<progress>` with its text; once done the region has no trigger."""
    closes, release = Closes(world.closes), threading.Event()

    def work(progress) -> dict:
        progress(3, 12)
        release.wait(10)
        raise CloseRefused("the replay differs from the books in 1 place(s); the period stays open",
                           [{"where": "entries", "position": 7, "replayed": {"bob:upfront": 1},
                             "recorded": {"bob:upfront": 2}}])

    with signed_in(browser(world), world, "fiona", "finance") as finance:
        finance.app.state.goldsplit_closes = closes
        assert closes.start(MARCH, "fiona", work) is None
        assert closes.start("2026-Q1", "fiona", work).period == MARCH  # one close per month at a time
        running = finance.get(f"/periods/{MARCH}/progress").text
        page = finance.get(f"/periods/{MARCH}").text
        release.set()
        refused = _poll(finance, MARCH)

    assert 'hx-get="/periods/2026-03/progress" hx-trigger="every 1s" hx-swap="outerHTML"' in running
    assert '<progress id="close-bar" max="12" value="3"' in running and "Replayed 3 of 12 events (25 %)" in running
    assert 'hx-trigger="every 1s"' in page and "Close this period" not in page
    assert "2026-03 stays open" in refused and 'id="close-differences"' in refused
    assert '<a href="/audit/positions/7">position 7</a>' in refused
    assert "{&#34;bob:upfront&#34;: 1}" in refused and "{&#34;bob:upfront&#34;: 2}" in refused
