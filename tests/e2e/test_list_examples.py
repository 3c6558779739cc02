"""The list routes' examples (api/examples.json, which the OpenAPI document shows, and the answers in
docs/api.md) were written by hand: no recorder replays a story into them. So each is held to what
the route really answers on a story like the demo's (tests/builders.py): the same field set at
every level and the same JSON type for every field (null only where the route answers null too)."""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from main.services import Services
from main.settings import Settings
from tests.builders import WMS, open_deal, register_team, won_deal
from tests.ledger import ALICE, FINANCE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = json.loads((ROOT / "api" / "examples.json").read_text())
API_MD = (ROOT / "docs" / "api.md").read_text()
SECRET = "test-secret"
ROUTES = ("/v1/opportunities", "/v1/accounts", "/v1/members", "/v1/allocations")
Shape = tuple[dict[tuple, set[frozenset]], dict[tuple, set[str]]]  # keys and JSON types, by path


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, list[Any]]]:
    """Each list's real answers to alice (a member, as the examples' callers are) on the demo-like
    story: Acme and Northwind (alice their account manager), Acme's deal won, approved and paid in
    part, its warehouse deal won, another still open; each list asked as the docs ask it,
    unfiltered, and a page at a time."""
    with Services.build(Settings(database_url="memory://", secret=SECRET)) as services:
        app = services.app
        register_team(app)
        app.register_account(ALICE, name="Acme", account_id="acme", industry="banking")
        deal = won_deal(app)
        app.approve_allocation(FINANCE, deal.aid)
        app.receive_payment(FINANCE, deal.oid, amount="400000.00", currency="CNY",
                            received_on=app.clock().date().isoformat(), payment_id="erp-1")
        won_deal(app, **WMS)  # a second page of allocations
        open_deal(app, ALICE, name="Acme open", amount="100000.00", currency="EUR")
        app.register_account(ALICE, name="Northwind", account_id="northwind", industry="logistics")
        quarter = f"{app.clock().year}-Q{(app.clock().month - 1) // 3 + 1}"
        asked = {"/v1/opportunities": [{"state": "won"}, {"state": "open"}],
                 "/v1/accounts": [{"q": "ac"}], "/v1/members": [{"department": "sales"}],
                 "/v1/allocations": [{"period": quarter}]}
        token = issue_token(SECRET, "alice", "member", 600)
        with TestClient(create_app(services=services)) as client:
            services.runner.catch_up()
            found = defaultdict(list)
            for route in ROUTES:
                for params in [*asked[route], {}, {"limit": "1"}]:
                    answer = client.get(route, params=params, headers={"Authorization": f"Bearer {token}"})
                    assert answer.status_code == 200, (route, params, answer.text)
                    assert answer.json()["items"], (route, params)  # an empty list shows no item's shape
                    found[route].append(answer.json())
            yield found


def shape(*values: Any) -> Shape:
    """Every dict's key sets and every value's JSON types, by path (a list's items at "[]")."""
    keys, types = defaultdict(set), defaultdict(set)

    def walk(value: Any, path: tuple) -> None:
        types[path].add("null" if value is None else type(value).__name__)
        if isinstance(value, dict):
            keys[path].add(frozenset(value))
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, list):
            for item in value:
                walk(item, (*path, "[]"))

    for value in values:
        walk(value, ())
    return keys, types


def mismatches(example: Any, real: list[Any]) -> list[str]:
    """Where the example's fields or types are not the real answers'."""
    (real_keys, real_types), (keys, types) = shape(*real), shape(example)
    found = [f"{'.'.join(path) or 'answer'}: fields {sorted(k)}, the route answers "
             f"{[sorted(r) for r in real_keys[path]]}"
             for path, seen in keys.items() for k in seen if k not in real_keys[path]]
    found += [f"{'.'.join(path)}: a {t}, the route answers {sorted(real_types[path])}"
              for path, seen in types.items() for t in seen if t not in real_types[path]]
    found += [f"{'.'.join(path)}: missing" for path in real_types if path not in types]
    return found


def documented(route: str) -> Any:
    """The answer docs/api.md shows under `### GET <route>`."""
    section = API_MD.split(f"\n### GET {route}\n", 1)[1].split("\n### ", 1)[0]
    return json.loads(re.search(r"Answer `200 OK` \(application/json\):\s*```json\n(.*?)```", section, re.S)[1])


@pytest.mark.parametrize("route", ROUTES)
def test_the_openapi_example_of_a_list_has_the_fields_and_types_the_route_answers(
        answers: dict[str, list[Any]], route: str) -> None:
    assert mismatches(EXAMPLES[f"GET {route}"], answers[route]) == []


@pytest.mark.parametrize("route", ROUTES)
def test_the_docs_answer_of_a_list_has_the_fields_and_types_the_route_answers(
        answers: dict[str, list[Any]], route: str) -> None:
    assert mismatches(documented(route), answers[route]) == []


def cursor_of(answer: dict) -> Any:
    """What a page's `next` opens: the cursor decoded (base64url, unpadded, of JSON)."""
    return json.loads(base64.urlsafe_b64decode(answer["next"] + "=" * (-len(answer["next"]) % 4)))


@pytest.mark.parametrize("route", ROUTES)
def test_a_next_in_the_examples_is_the_cursor_the_route_would_give_after_their_last_item(
        answers: dict[str, list[Any]], route: str) -> None:
    """The route's `next` names its page's last item (learnt from its own answers: [name, id]); an
    example's names the last item it shows."""
    paged = [answer for answer in answers[route] if answer["next"] is not None]
    assert paged, "the story has a second page of every list"
    for answer in paged:
        assert cursor_of(answer) == [answer["items"][-1]["name"], answer["items"][-1]["id"]]
    for example in (EXAMPLES[f"GET {route}"], documented(route)):
        if example["next"] is not None:
            assert cursor_of(example) == [example["items"][-1]["name"], example["items"][-1]["id"]]


def test_a_wrong_example_is_caught() -> None:
    """The check itself: a field too many, a field missing, a type changed, a null the route never
    answers, are each found."""
    real = [{"items": [{"id": "a", "n": 1, "closed_on": None}, {"id": "b", "n": 2, "closed_on": "2026-03-15"}],
             "next": None, "position": 3}]
    assert mismatches({"items": [{"id": "a", "n": 1, "closed_on": None}], "next": None, "position": 3}, real) == []
    assert mismatches({"items": [{"id": "a", "n": 1, "closed_on": None, "x": 0}], "next": None, "position": 3}, real)
    assert mismatches({"items": [{"id": "a", "closed_on": None}], "next": None, "position": 3}, real)
    assert mismatches({"items": [{"id": "a", "n": "1", "closed_on": None}], "next": None, "position": 3}, real)
    assert mismatches({"items": [{"id": None, "n": 1, "closed_on": None}], "next": None, "position": 3}, real)
    assert mismatches({"items": [], "next": None, "position": 3}, real)
