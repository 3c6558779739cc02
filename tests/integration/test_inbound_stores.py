"""Inbound messages on the real stores: a source message is recorded once across the ledger."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import UUID

from consumers.inbound import ACCEPTED, CONTRIBUTIONS, DUPLICATE, PAYMENTS, Rejected, accept_batch
from main.services import Services
from tests.ledger import ADMIN, ALICE


def test_a_source_message_naming_another_opportunity_later_is_refused(services: Services) -> None:
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    deals = [app.open_opportunity(ALICE, account_id="acme", name=f"Acme {n}", amount="100.00",
                                  currency="USD", expected_close="2030-01-01").id for n in range(2)]
    when = (app.clock() - timedelta(hours=1)).isoformat()

    def message(oid: str) -> bytes:
        return json.dumps({"source": "crm", "source_id": "A-1", "opportunity_id": oid,
                           "member_id": "alice", "kind": "visit", "summary": "visit",
                           "occurred_at": when}).encode()

    assert accept_batch(app, [(CONTRIBUTIONS, message(deals[0]), 0, 1)]) == [ACCEPTED]
    head = app.recorder.max_notification_id()
    [refused] = accept_batch(app, [(CONTRIBUTIONS, message(deals[1]), 0, 2)])  # a later batch
    assert isinstance(refused, Rejected) and refused.reason.startswith("source_id:")
    assert deals[0] not in refused.reason  # the other deal is not named to whoever sent it
    assert app.recorder.max_notification_id() == head  # nothing recorded
    assert [len(app.repository.get(UUID(oid)).contributions) for oid in deals] == [1, 0]


def test_a_payment_naming_another_deal_with_the_same_id_is_refused(services: Services) -> None:
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    today = app.clock().date().isoformat()
    deals = []
    for n in range(2):
        oid = app.open_opportunity(ALICE, account_id="acme", name=f"Acme {n}", amount="100.00",
                                   currency="USD", expected_close=today).id
        app.win(ALICE, oid, closed_on=today)
        deals.append(oid)

    def paid(oid: str) -> bytes:
        return json.dumps({"source": "erp", "source_id": "INV-1", "opportunity_id": oid,
                           "amount": "40.00", "currency": "USD", "received_on": today}).encode()

    assert accept_batch(app, [(PAYMENTS, paid(deals[0]), 0, 1)]) == [ACCEPTED]
    assert accept_batch(app, [(PAYMENTS, paid(deals[0]), 0, 1)]) == [DUPLICATE]  # delivered again
    head = app.recorder.max_notification_id()
    [refused] = accept_batch(app, [(PAYMENTS, paid(deals[1]), 0, 2)])
    assert isinstance(refused, Rejected) and refused.reason.startswith("source_id:")
    assert app.recorder.max_notification_id() == head
    assert [app.repository.get(UUID(oid)).cash for oid in deals] == [4000, 0]
