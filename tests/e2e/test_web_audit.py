"""The audit screens: finance, auditors and admins verify the chain, browse it and open the stored
event behind any log position; nobody else sees them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from main.serve import application
from main.services import Services
from main.settings import Settings
from tests.builders import contribute, open_deal, register_team, seat_triangle
from tests.ledger import ALICE, BOB, FINANCE, LEAD, head

HERE = "http://127.0.0.1"


@pytest.fixture
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app)
        oid = open_deal(services.app, ALICE)
        seat_triangle(services.app, oid, LEAD, SR="bob")
        contribute(services.app, oid, BOB, "demo", summary="Demo for the CFO")
        services.runner.catch_up()
        yield services


def reader(world: Services, member: str, role: str) -> TestClient:
    client = TestClient(application(world.settings, services=world), base_url=HERE)
    client.get(f"/signin?code={world.sessions.issue_code(member, role, 60)}")
    return client


def test_an_auditor_verifies_the_chain_and_browses_its_links(world: Services) -> None:
    with reader(world, "audrey", "auditor") as auditor:
        page = auditor.get("/audit?verify=true")
    assert page.status_code == 200
    assert f"Verified: the {head(world.app)} stored events give the recorded chain" in page.text
    assert 'href="/audit/positions/1"' in page.text


def test_a_position_opens_the_event_as_stored_with_the_digest_and_chain_the_api_reports(world: Services) -> None:
    at = head(world.app)
    link = world.queries.audit.chain(FINANCE, at, 1).links[0]
    with reader(world, "fiona", "finance") as finance:
        page = finance.get(f"/audit/positions/{at}")
        board = finance.get(f"/opportunities/{world.app.recorder.select_notifications(start=at, limit=1)[0].originator_id}")
    assert page.status_code == 200
    assert "ContributionRecorded" in page.text and "Demo for the CFO" in page.text
    assert link.digest in page.text and link.chain in page.text
    assert f'href="/audit/positions/{at}"' in board.text  # the board's positions link here


@pytest.mark.parametrize("path", ["/audit", "/audit/positions/1"])
def test_a_member_or_a_lead_sees_a_403_page_and_nothing_of_the_log(world: Services, path: str) -> None:
    for member, role in (("bob", "member"), ("lin", "lead")):
        with reader(world, member, role) as client:
            page = client.get(path)
            assert page.status_code == 403 and "ContributionRecorded" not in page.text


def test_a_position_beyond_the_log_is_a_404_page_and_one_no_store_can_hold_is_refused(world: Services) -> None:
    with reader(world, "fiona", "finance") as finance:
        assert finance.get(f"/audit/positions/{head(world.app) + 1}").status_code == 404
        assert finance.get(f"/audit/positions/{2**64}").status_code == 422
        assert finance.get(f"/audit?from={2**64}").status_code == 422


def test_a_member_sees_positions_without_links_to_the_audit_screens(world: Services) -> None:
    oid = world.app.recorder.select_notifications(start=head(world.app), limit=1)[0].originator_id
    with reader(world, "bob", "member") as bob:
        assert "/audit/positions/" not in bob.get(f"/opportunities/{oid}").text
