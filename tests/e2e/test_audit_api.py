"""The audit chain over HTTP and the command line: `GET /v1/audit/verify` and `/v1/audit/chain`
answer finance, auditors and admins, page through the links, and name a tampered event as
`goldsplit verify` does (the tampering itself: tests/integration/test_audit_tampering.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from main.cli import main
from tests.integration import test_audit_tampering as tampering
from tests.integration.test_audit_tampering import Told, located

told = tampering.told  # the told story's fixture, with its raw access to the log


def test_get_audit_verify_answers_finance_auditors_and_admins_only(
        told: Told, client: TestClient, token: Callable[..., str]) -> None:
    def get(path: str, role: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token('someone', role)}"} if role else {}
        return client.get(path, headers=headers)

    for role in ("finance", "auditor", "admin"):
        answer = get(f"/v1/audit/verify?after={told.head}", role)
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] is True
    for role in ("member", "lead"):
        for path in ("/v1/audit/verify", "/v1/audit/chain"):
            refused = get(path, role)
            assert refused.status_code == 403
            assert refused.headers["content-type"] == "application/problem+json"
    assert get("/v1/audit/verify", None).status_code == 401

    told.raw.edit(told.contributions[0])
    answer = get("/v1/audit/verify", "auditor").json()
    assert answer["ok"] is False
    assert located(answer) == [(told.contributions[0], "edited")]


def test_get_audit_chain_pages_through_the_recorded_links(
        told: Told, client: TestClient, token: Callable[..., str]) -> None:
    headers = {"Authorization": f"Bearer {token('ada', 'auditor')}"}
    first = client.get("/v1/audit/chain?from=1&limit=5", headers=headers).json()
    assert [link["position"] for link in first["links"]] == told.raw.positions()[:5]
    rest = client.get(f"/v1/audit/chain?from={first['next']}&limit=1000", headers=headers).json()
    links = first["links"] + rest["links"]
    assert rest["next"] is None
    assert [link["position"] for link in links] == told.raw.positions()
    assert links[-1]["chain"] == rest["head"]["chain"] == told.verify()["head"]["chain"]
    assert client.get("/v1/audit/chain?limit=0", headers=headers).status_code == 422


def test_goldsplit_verify_exits_0_when_ok_and_3_naming_the_problems(
        told: Told, database_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", database_url)
    assert main(["verify"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True

    told.raw.delete(told.contributions[1])
    assert main(["verify"]) == 3
    printed = json.loads(capsys.readouterr().out)
    assert located(printed) == [(told.contributions[1], "deleted")]
