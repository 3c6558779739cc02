"""axe-core on every screen of the web app, as finance sees them on a won, approved and paid deal:
each answers 200, with no serious or critical violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import LiveServer
from tests.browser.test_live_board import serious_violations
from tests.builders import won_deal
from tests.ledger import ALICE, FINANCE


def screens(oid: str, aid: str, period: str) -> list[str]:
    return ["/", f"/opportunities/{oid}", f"/allocations/{aid}", f"/allocations/{aid}/members/bob",
            "/queues/confirmations", "/queues/approvals", "/queues/disputes", "/audit?verify=true",
            "/audit/positions/1", f"/statements/{period}/bob", f"/periods/{period}",
            f"/periods/{period}/journal", f"/periods/{period}/payroll", "/accounts/acme",
            "/members/bob", "/calibration", "/policies", "/policies/incentive", "/opportunities",
            "/accounts", "/members", "/allocations"]


@pytest.fixture
def paid(live: LiveServer) -> tuple[str, str, str]:
    """Acme registered; its deal won, approved and paid in full: (the deal's id, its allocation's
    id, the month it closed)."""
    app = live.services.app
    app.register_account(ALICE, name="Acme", account_id="acme")
    deal = won_deal(app)
    app.approve_allocation(FINANCE, deal.aid)
    closed_on = app.clock().date().isoformat()
    app.receive_payment(FINANCE, deal.oid, amount="1000000.00", currency="CNY", received_on=closed_on,
                        payment_id="erp-1")
    return deal.oid, deal.aid, closed_on[:7]


def test_no_screen_has_a_serious_accessibility_violation(live: LiveServer, context: BrowserContext,
                                                         paid: tuple[str, str, str]) -> None:
    page = context.new_page()
    live.sign_in(page, "fiona", "finance")
    found = {}
    for path in screens(*paid):
        opened = page.goto(path)
        assert opened is not None and opened.status == 200, (path, opened and opened.status)
        if violations := serious_violations(page):
            found[path] = [(v["id"], v["impact"], v["help"]) for v in violations]
    assert found == {}
