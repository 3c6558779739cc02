"""An event the projections cannot read stops them just before it, loudly, on both stores."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from domain.application import Actor
from main.services import Services
from projections.runner import ProjectionStalled
from tests.conftest import SECRET


def test_an_unreadable_event_stalls_the_projections_just_before_it(services: Services) -> None:
    app = services.app
    good = app.register_member(Actor("root", "admin"), "alice", "Alice", "sales")
    opened = app.open_opportunity(Actor("alice", "member"), account_id="acme", name="Acme",
                                  amount="100.00", currency="USD", expected_close="2030-01-01")
    [poison] = app.recorder.insert_events([StoredEvent(
        originator_id=uuid4(), originator_version=1, topic="nowhere:Nothing", state=b"{}")])
    later = app.register_member(Actor("root", "admin"), "bob", "Bob", "presales")
    assert good.position < opened.position < poison < later.position

    with pytest.raises(ProjectionStalled) as stall:
        services.runner.catch_up()

    assert stall.value.position == poison
    assert services.runner.position() == poison - 1
    assert services.views.get("board", opened.id)["name"] == "Acme"

    token = issue_token(SECRET, "lead", "lead", 60)
    with TestClient(create_app(services=services)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        read = client.get(f"/v1/opportunities/{opened.id}/board?after={later.position}",
                          headers=headers)
        earlier = client.get(f"/v1/opportunities/{opened.id}/board?after={opened.position}",
                             headers=headers)
        health = client.get("/health").json()

    assert read.status_code == 503 and f"before position {poison}" in read.json()["detail"]
    assert earlier.status_code == 200  # what was projected before the stall stays readable
    assert health["status"] == "degraded" and health["stalled"]["position"] == poison
