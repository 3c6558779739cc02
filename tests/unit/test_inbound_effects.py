"""Inbound messages that take effect: a good message of each topic takes effect once through
`consumers.inbound.accept` on the in-memory ledger, and a repeat answers "duplicate" and records nothing."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from consumers import inbound
from consumers.inbound import (
    ACCEPTED,
    CONTRIBUTIONS,
    DUPLICATE,
    OPPORTUNITIES,
    PAYMENTS,
    Rejected,
    derived_id,
)
from domain.aggregates import Allocation
from domain.application import Goldsplit
from tests.ledger import head
from tests.unit import test_inbound as inbound_tests
from tests.unit.test_inbound import (
    contribution,
    deal,
    opened,
    payment,
    send,
    upsert,
    won,
)

MEMBERS, NOW = inbound_tests.MEMBERS, inbound_tests.NOW  # the team and clock of the app and clock fixtures


# -- good messages take effect, once ------------------------------------------------------------


def test_a_contribution_message_records_an_unconfirmed_contribution_with_the_id_of_its_source_id(
        app: Goldsplit) -> None:
    oid = opened(app)

    assert send(app, CONTRIBUTIONS, contribution(oid, hours=3)) == ACCEPTED

    [(cid, recorded)] = deal(app, oid).contributions.items()
    assert cid == str(derived_id("contribution", "timesheet", "T-1"))
    assert recorded["status"] == "recorded"  # unconfirmed: the AR confirms it
    assert (recorded["member_id"], recorded["kind"], recorded["summary"], recorded["hours"]) == (
        "alice", "visit", "on site", "3")


def test_a_contribution_delivered_again_is_a_duplicate_and_records_nothing(app: Goldsplit) -> None:
    oid = opened(app)
    send(app, CONTRIBUTIONS, contribution(oid))
    before = head(app)

    assert send(app, CONTRIBUTIONS, contribution(oid), offset=7) == DUPLICATE
    assert send(app, CONTRIBUTIONS, contribution(oid, summary="edited upstream")) == DUPLICATE

    assert head(app) == before
    assert [c["summary"] for c in deal(app, oid).contributions.values()] == ["on site"]


def test_optional_contribution_fields_may_be_null_or_left_out(app: Goldsplit) -> None:
    oid = opened(app)
    assert send(app, CONTRIBUTIONS, contribution(oid, "T-1", hours=None, evidence_url=None)) == ACCEPTED
    message = contribution(oid, "T-2")
    del message["hours"]
    assert send(app, CONTRIBUTIONS, message) == ACCEPTED
    assert send(app, CONTRIBUTIONS, contribution(oid, "T-3", evidence_url="https://x.example/1",
                                                 schema_version=1)) == ACCEPTED
    assert len(deal(app, oid).contributions) == 3


def test_a_payment_message_records_the_cash_once(app: Goldsplit) -> None:
    oid = won(app)

    assert send(app, PAYMENTS, payment(oid)) == ACCEPTED
    before = head(app)
    assert send(app, PAYMENTS, payment(oid)) == DUPLICATE
    assert send(app, PAYMENTS, payment(oid, "INV-2", amount=100)) == ACCEPTED  # an integer is whole units

    assert deal(app, oid).cash == 50000
    assert head(app) > before
    assert set(deal(app, oid).payments) == {str(derived_id("payment", "erp", s)) for s in ("INV-1", "INV-2")}


def test_an_upsert_opens_the_opportunity_with_the_id_derived_from_its_source_id(app: Goldsplit) -> None:
    assert send(app, OPPORTUNITIES, upsert()) == ACCEPTED

    opportunity = deal(app, str(derived_id("opportunity", "crm", "OPP-1")))
    assert (opportunity.name, opportunity.account_id, opportunity.amount, opportunity.currency,
            opportunity.expected_close, opportunity.stage) == (
        "Acme renewal", "acme", 500000, "USD", "2026-01-31", "open")


def test_a_later_upsert_corrects_the_opportunity_and_the_same_one_again_changes_nothing(
        app: Goldsplit) -> None:
    oid = opened(app)

    assert send(app, OPPORTUNITIES, upsert(amount="6000.00", expected_close="2026-02-28"),
                offset=5) == ACCEPTED
    before = head(app)
    assert send(app, OPPORTUNITIES, upsert(amount="6000.00", expected_close="2026-02-28"),
                offset=5) == DUPLICATE

    assert head(app) == before
    assert (deal(app, oid).amount, deal(app, oid).expected_close) == (600000, "2026-02-28")


def test_an_upsert_replayed_from_an_older_offset_changes_nothing(app: Goldsplit) -> None:
    oid = opened(app)
    send(app, OPPORTUNITIES, upsert(amount="6000.00"), offset=5)
    before = head(app)

    assert send(app, OPPORTUNITIES, upsert(amount="5500.00"), offset=4) == DUPLICATE  # read again after a crash
    assert send(app, OPPORTUNITIES, upsert(), offset=0) == DUPLICATE

    assert head(app) == before
    assert deal(app, oid).amount == 600000


@pytest.mark.parametrize("stage", ["won", "closed_won", "Closed Won", " WON "])
def test_an_upsert_at_a_won_stage_wins_the_deal_and_proposes_its_allocation(
        app: Goldsplit, stage: str) -> None:
    oid = opened(app)
    send(app, CONTRIBUTIONS, contribution(oid))

    assert send(app, OPPORTUNITIES, upsert(stage=stage), offset=1) == ACCEPTED

    opportunity = deal(app, oid)
    assert (opportunity.stage, opportunity.closed_on) == ("won", "2026-01-31")
    allocation = app.repository.get(Allocation.create_id(UUID(oid)))
    assert allocation.status == "proposed"
    assert str(allocation.opportunity_id) == oid


def test_a_first_upsert_already_won_opens_and_wins_the_deal(app: Goldsplit) -> None:
    assert send(app, OPPORTUNITIES, upsert("OPP-W", stage="closed_won")) == ACCEPTED
    oid = derived_id("opportunity", "crm", "OPP-W")
    assert deal(app, str(oid)).stage == "won"
    assert app.repository.get(Allocation.create_id(oid)).status == "proposed"


@pytest.mark.parametrize("stage", ["lost", "closed_lost", "Closed Lost"])
def test_an_upsert_at_a_lost_stage_loses_the_deal(app: Goldsplit, stage: str) -> None:
    oid = opened(app)

    assert send(app, OPPORTUNITIES, upsert(stage=stage), offset=1) == ACCEPTED

    opportunity = deal(app, oid)
    assert (opportunity.stage, opportunity.closed_on) == ("lost", "2026-01-31")
    assert "crm" in opportunity.loss_reason


def test_an_upsert_at_another_stage_only_corrects(app: Goldsplit) -> None:
    oid = opened(app)
    assert send(app, OPPORTUNITIES, upsert(stage="negotiation", amount="5100.00"), offset=1) == ACCEPTED
    assert (deal(app, oid).stage, deal(app, oid).amount) == ("open", 510000)


@pytest.mark.parametrize("stage", ["won", "lost"])
def test_a_closed_deal_takes_no_corrections_from_the_crm(app: Goldsplit, stage: str) -> None:
    oid = opened(app)
    send(app, OPPORTUNITIES, upsert(stage=stage), offset=1)
    before = head(app)

    assert send(app, OPPORTUNITIES, upsert(amount="9000.00", expected_close="2026-03-01"),
                offset=2) == DUPLICATE
    assert send(app, OPPORTUNITIES, upsert(stage="lost" if stage == "won" else "won"),
                offset=3) == DUPLICATE

    assert head(app) == before
    assert (deal(app, oid).stage, deal(app, oid).amount) == (stage, 500000)


def test_a_source_id_repeated_on_another_opportunity_records_once(app: Goldsplit) -> None:
    first, second = opened(app, "OPP-A"), opened(app, "OPP-B")
    send(app, CONTRIBUTIONS, contribution(first))
    before = head(app)
    with pytest.raises(Rejected) as rejected:
        send(app, CONTRIBUTIONS, contribution(second))
    assert rejected.value.reason.startswith("source_id:") and first not in rejected.value.reason
    assert head(app) == before


def test_a_source_id_twice_in_one_batch_on_two_opportunities_records_once(app: Goldsplit) -> None:
    first, second = opened(app, "OPP-A"), opened(app, "OPP-B")
    outcomes = inbound.accept_batch(app, [
        (CONTRIBUTIONS, json.dumps(contribution(first)).encode(), 0, 1),
        (CONTRIBUTIONS, json.dumps(contribution(second)).encode(), 0, 2)])
    assert outcomes[0] == inbound.ACCEPTED
    assert isinstance(outcomes[1], Rejected) and outcomes[1].reason.startswith("source_id:")
    assert len(app.repository.get(UUID(first)).contributions) == 1
    assert not app.repository.get(UUID(second)).contributions
