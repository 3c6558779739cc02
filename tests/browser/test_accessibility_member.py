"""axe-core on the screens as a member sees them: alice, a rep with a line on the won, approved and
paid deal (its AR, on Acme's account team). Each screen a member may open answers 200 with no
serious or critical violation; each one she may not (the journal, payroll, periods, audit, the
approvals queue, a deal's money, another member's line, statement or board) answers its 403 or
404 page, which passes axe too and shows nothing of what it refuses."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_accessibility import paid, screens  # noqa: F401 (paid: the story's fixture)
from tests.browser.test_live_board import serious_violations
from tests.ledger import ALICE

TITLES = {403: "Not allowed", 404: "Not found"}
BOBS_LINE = "10000.00"  # bob's amount in the split (tests/builders.py won_deal): on none of alice's refusals


def refused(oid: str, aid: str, period: str) -> dict[str, int]:
    """The screens finance opens that a member may not, each with the status its page answers."""
    return {"/queues/approvals": 403, "/audit?verify=true": 403, "/audit/positions/1": 403,
            f"/periods/{period}": 403, f"/periods/{period}/journal": 403, f"/periods/{period}/payroll": 403,
            "/periods": 403, f"/opportunities/{oid}/money": 403,
            f"/allocations/{aid}/members/bob": 403, f"/statements/{period}/bob": 404, "/members/bob": 404}


def her_screens(oid: str, aid: str, period: str) -> list[str]:
    """Every screen finance opens but the books, audit and approvals; bob's (his line, statement and
    board) as alice's own."""
    books = {path for path in refused(oid, aid, period) if "bob" not in path}
    return [path.replace("/bob", "/alice") for path in screens(oid, aid, period) if path not in books]


@pytest.fixture
def story(paid: tuple[str, str, str]) -> tuple[str, str, str]:  # noqa: F811 (test_accessibility's fixture)
    """test_accessibility's story: (the deal's id, its allocation's id, the month it closed)."""
    return paid


def test_every_screen_finance_opens_is_open_or_refused_to_a_member(story: tuple[str, str, str]) -> None:
    shown, others = her_screens(*story), refused(*story)
    assert len(shown) == 16 and not set(shown) & set(others), shown
    assert {p for p in shown if "alice" in p} == {p.replace("/bob", "/alice") for p in others if "bob" in p}


def test_no_screen_a_member_opens_has_a_serious_accessibility_violation(
        live: LiveServer, context: BrowserContext, story: tuple[str, str, str]) -> None:
    page = context.new_page()
    live.sign_in(page, ALICE)
    found = {}
    for path in her_screens(*story):
        opened = page.goto(path)
        assert opened is not None and opened.status == 200, (path, opened and opened.status)
        if violations := serious_violations(page):
            found[path] = [(v["id"], v["impact"], v["help"]) for v in violations]
    assert found == {}


def test_the_pages_refusing_a_member_pass_axe_and_show_nothing_of_what_they_refuse(
        live: LiveServer, context: BrowserContext, story: tuple[str, str, str]) -> None:
    page = context.new_page()
    live.sign_in(page, ALICE)
    found = {}
    for path, status in refused(*story).items():
        opened = page.goto(path)
        assert opened is not None and opened.status == status, (path, opened and opened.status)
        expect(page.get_by_role("heading", level=1)).to_have_text(TITLES[status])
        assert BOBS_LINE not in page.locator("main").inner_text(), path
        if violations := serious_violations(page):
            found[path] = [(v["id"], v["impact"], v["help"]) for v in violations]
    assert found == {}
