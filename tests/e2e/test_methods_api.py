"""A method a path does not answer is 405, and `Allow` lists every method the path does answer:
the router alone names only the first route it matched."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api import assert_problem, auth


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/v1/policies/incentive", "GET, POST"),
    ("DELETE", "/v1/policies/bonus-scheme", "GET, POST"),  # an unknown kind: GET and POST answer 404
    ("PUT", "/v1/opportunities/regrade", "POST"),  # `regrade` is the action, never an id to PATCH
    ("PATCH", "/v1/accounts/regrade", "POST"),
    ("GET", "/v1/accounts/acme", "PATCH"),
    ("DELETE", "/v1/periods/2026-11/close", "POST"),
])
def test_a_method_the_path_does_not_answer_is_405_listing_every_method_it_does(
        client: TestClient, token: Callable[..., str], method: str, path: str, allowed: str) -> None:
    headers = auth(token("lee", "lead"))
    answer = client.request(method, path, headers=headers)
    assert_problem(answer, 405)
    assert answer.headers["Allow"] == allowed
    for listed in allowed.split(", "):  # each listed method is routed (whatever it then answers)
        assert client.request(listed, path, headers=headers, json={}).status_code != 405
