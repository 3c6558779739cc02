"""The member board over HTTP lists the latest contributions and counts points over all of them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from projections.members import LATEST
from tests.e2e.test_api import auth, moment, opportunity_body


def test_the_member_board_lists_the_latest_contributions_and_counts_points_over_all(
        client: TestClient, token: Callable[..., str]) -> None:
    admin, lead, ana = token("root", "admin"), token("lee", "lead"), token("ana")
    client.post("/v1/members", headers=auth(admin),
                json={"id": "ana", "name": "Ana", "department": "sales"}).raise_for_status()
    opened = client.post("/v1/opportunities", headers=auth(lead), json=opportunity_body()).json()
    path = f"/v1/opportunities/{opened['id']}"
    client.put(f"{path}/triangle/AR", headers=auth(lead), json={"member_id": "ana"}).raise_for_status()
    ids = []
    for n in range(LATEST + 3):
        answer = client.post(f"{path}/contributions", headers=auth(ana), json={
            "member_id": "ana", "kind": "demo" if n == 0 else "visit", "summary": f"visit {n}",
            "hours": "1", "occurred_at": moment(-1)})
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    position = client.post(f"{path}/contributions/{ids[0]}/confirm", headers=auth(lead)).json()["position"]

    board = client.get(f"/v1/members/ana/board?after={position}", headers=auth(ana)).json()
    assert [c["contribution_id"] for c in board["contributions"]] == ids[-LATEST:]
    assert (board["contributions_total"], board["list_limits"]["contributions"]) == (LATEST + 3, LATEST)
    assert board["points"] == {"confirmed": 3, "pending": LATEST + 2}  # the demo (3) is not listed
