"""Strict input and honest Idempotency-Keys at the HTTP edge, on SQLite and PostgreSQL.

A body is UTF-8 JSON or it is refused before any route runs; a request names one token, checked
before its body is read; a key replays only a 2xx answer, to the same member in the same role, for
the same bytes; a store that does not answer is 503 with Retry-After. Every refusal records nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg_pool
import pytest
from eventsourcing.persistence import ConnectionUnavailableError
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from main.services import Services
from tests.conftest import build_services
from tests.e2e.test_api import assert_problem, auth, day, log_position

OPPORTUNITIES = "/v1/opportunities"
JSON = {"Content-Type": "application/json"}


def deal(**changes: Any) -> dict:
    return {"account_id": "acme", "name": "Acme", "amount": "1000.00", "currency": "CNY",
            "expected_close": day(30), **changes}


LATIN_1 = json.dumps(deal(name="Acmé"), ensure_ascii=False).encode("latin-1")
E_ACUTE_AT = LATIN_1.index("é".encode("latin-1"))


@pytest.fixture
def send(client: TestClient, token: Callable[..., str]) -> Callable[..., Response]:
    """POST raw bytes as `who` (a lead by default) with extra headers."""

    def post(raw: bytes, headers: dict | None = None, path: str = OPPORTUNITIES,
             who: str = "lee", role: str = "lead") -> Response:
        return client.post(path, content=raw, headers={**auth(token(who, role)), **JSON, **(headers or {})})

    return post


def refused(client: TestClient, respond: Callable[[], Response], status: int, field: str,
            detail: str) -> dict:
    """`respond()` is a problem with `status` naming `field` in `detail`, and the log does not move."""
    before = log_position(client)
    problem = assert_problem(respond(), status, field)
    assert problem["detail"] == detail
    assert log_position(client) == before
    return problem


# -- UTF-8 JSON only -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, detail", [
    pytest.param(json.dumps(deal()).encode("utf-16-le"),
                 "body: not UTF-8 (UTF-16 or UTF-32, by the NUL bytes it begins with)", id="UTF-16"),
    pytest.param(json.dumps(deal()).encode("utf-16"), "body: a byte order mark is not allowed",
                 id="UTF-16 with its byte order mark"),
    pytest.param(b"\xef\xbb\xbf" + json.dumps(deal()).encode(), "body: a byte order mark is not allowed",
                 id="UTF-8 with a byte order mark"),
    pytest.param(b'{"name": "Acme \xff"}', "body: not UTF-8 (byte 0xff at 15)", id="invalid UTF-8"),
    pytest.param(LATIN_1, f"body: not UTF-8 (byte 0xe9 at {E_ACUTE_AT})",
                 id="Latin-1 sent as UTF-8"),
    pytest.param(json.dumps(deal(expected_close="2030-01-01")).encode().replace(b"01-01", b"01-01\x00"),
                 "body: NUL characters are not allowed", id="a raw NUL in a date"),
])
def test_a_body_that_is_not_utf8_is_refused_with_400_before_any_route_runs(
        client: TestClient, send, raw: bytes, detail: str) -> None:
    problem = refused(client, lambda: send(raw), 400, "body", detail)
    assert problem["type"] == "urn:goldsplit:invalid-input"


def test_a_nul_escaped_in_a_date_is_refused_naming_the_date(client: TestClient, send) -> None:
    raw = json.dumps(deal(expected_close="2030-01-01\x00")).encode()
    assert b"\\u0000" in raw
    refused(client, lambda: send(raw), 422, "expected_close",
            "expected_close: NUL characters are not allowed")


def test_a_nul_escaped_in_a_nested_key_is_refused_naming_its_object(client: TestClient, send) -> None:
    raw = json.dumps(deal(attributes={"crm": [{"no\x00te": 1}]})).encode()
    refused(client, lambda: send(raw), 422, "attributes.crm.0",
            "attributes.crm.0: NUL characters are not allowed")


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: TestClient, send) -> None:
    response = send(json.dumps(deal(name="C:\\u0000 drive")).encode())
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("content_type, detail", [
    ("text/plain", "Content-Type: text/plain is not accepted; send application/json"),
    ("application/x-www-form-urlencoded",
     "Content-Type: application/x-www-form-urlencoded is not accepted; send application/json"),
    ("application/json; charset=latin-1", "Content-Type: charset=latin-1 is not accepted; send UTF-8"),
    ("application/json; charset=utf-16", "Content-Type: charset=utf-16 is not accepted; send UTF-8"),
])
def test_a_body_that_is_not_json_in_utf8_by_its_content_type_is_refused_with_415(
        client: TestClient, send, content_type: str, detail: str) -> None:
    raw = json.dumps(deal()).encode()
    refused(client, lambda: send(raw, {"Content-Type": content_type}), 415, "Content-Type", detail)


@pytest.mark.parametrize("content_type", ["application/json; charset=UTF-8", 'application/json;charset="utf-8"',
                                          "application/merge-patch+json"])
def test_json_declared_as_utf8_or_as_a_json_subtype_is_taken(client: TestClient, send,
                                                             content_type: str) -> None:
    response = send(json.dumps(deal()).encode(), {"Content-Type": content_type})
    assert response.status_code == 201, response.text


def test_a_body_without_a_content_type_is_refused_with_415(client: TestClient, token) -> None:
    raw = json.dumps(deal()).encode()
    refused(client, lambda: client.post(OPPORTUNITIES, content=raw, headers=auth(token("lee", "lead"))),
            415, "Content-Type", "Content-Type: missing; send application/json")


# -- duplicate keys --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, field", [
    pytest.param(b'{"account_id": "acme", "name": "Acme", "amount": "1.00", "amount": "1000000.00", '
                 b'"currency": "CNY", "expected_close": "2030-01-01"}', "amount", id="top level"),
    pytest.param(b'{"account_id": "acme", "name": "Acme", "amount": "1.00", "currency": "CNY", '
                 b'"expected_close": "2030-01-01", "attributes": {"segment": "retail", "tier": 1, '
                 b'"segment": "banking"}}', "attributes.segment", id="nested"),
    pytest.param(b'{"account_id": "acme", "name": "Acme", "amount": "1.00", "currency": "CNY", '
                 b'"expected_close": "2030-01-01", "attributes": {"crm": [{"id": 1}, {"id": 2, "id": 3}]}}',
                 "attributes.crm.1.id", id="in a list"),
])
def test_a_key_given_twice_is_refused_naming_its_path(client: TestClient, send, raw: bytes,
                                                      field: str) -> None:
    refused(client, lambda: send(raw), 422, field, f"{field}: given twice")


# -- one token, checked first ----------------------------------------------------------------------

@pytest.mark.parametrize("second", ["same", "another member's", "forged"])
def test_two_authorization_headers_are_refused_with_400_naming_the_header(
        client: TestClient, token, second: str) -> None:
    lead = token("lee", "lead")
    other = {"same": lead, "another member's": token("ana", "admin"), "forged": lead[:-2] + "xx"}[second]
    headers = [("Authorization", f"Bearer {lead}"), ("Authorization", f"Bearer {other}"),
               ("Content-Type", "application/json"), ("Idempotency-Key", "two-tokens")]
    refused(client, lambda: client.post(OPPORTUNITIES, content=json.dumps(deal()).encode(), headers=headers),
            400, "Authorization", "Authorization: given 2 times; send one")
    response = client.post(OPPORTUNITIES, json=deal(), headers={**auth(lead), "Idempotency-Key": "two-tokens"})
    assert response.status_code == 201, response.text  # the refusal kept no key


def test_two_idempotency_keys_are_refused_with_400_naming_the_header(client: TestClient, token) -> None:
    headers = [("Authorization", f"Bearer {token('lee', 'lead')}"), ("Content-Type", "application/json"),
               ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    refused(client, lambda: client.post(OPPORTUNITIES, content=json.dumps(deal()).encode(), headers=headers),
            400, "Idempotency-Key", "Idempotency-Key: given 2 times; send one")


@pytest.mark.parametrize("authorization", [None, "Bearer gs1.forged.token", "Basic bGVlOnB3"])
@pytest.mark.parametrize("raw", [b'{"a":', b"\xff\xfe", b'{"amount": 1, "amount": 2}'])
def test_a_request_without_a_valid_token_is_401_whatever_its_body(
        client: TestClient, authorization: str | None, raw: bytes) -> None:
    headers = {**JSON, **({"Authorization": authorization} if authorization else {})}
    before = log_position(client)
    response = client.post(OPPORTUNITIES, content=raw, headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert log_position(client) == before


def test_malformed_json_with_a_valid_token_is_still_422_naming_the_body(client: TestClient, send) -> None:
    before = log_position(client)
    assert_problem(send(b'{"a":'), 422, "body")
    assert log_position(client) == before


# -- Idempotency-Key -------------------------------------------------------------------------------

def test_two_different_bodies_under_one_key_are_409_even_when_they_mean_the_same(
        client: TestClient, send) -> None:
    key = {"Idempotency-Key": "two-bodies"}
    first = send(json.dumps(deal()).encode(), key)
    assert first.status_code == 201, first.text
    before = log_position(client)
    for other in (json.dumps(deal(name="Acme 2")).encode(), json.dumps(deal(), indent=1).encode()):
        assert_problem(send(other, key), 409)
    assert log_position(client) == before
    again = send(json.dumps(deal()).encode(), key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"


def test_two_bodies_that_differ_only_in_bytes_that_are_not_utf8_never_replay_each_other(
        client: TestClient, send) -> None:
    key = {"Idempotency-Key": "not-utf8"}
    for raw in (b'{"name": "\xff"}', b'{"name": "\xfe"}'):
        refused(client, lambda raw=raw: send(raw, key), 400, "body", f"body: not UTF-8 (byte 0x{raw[10]:02x} at 10)")
    response = send(json.dumps(deal()).encode(), key)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_a_refused_request_keeps_no_key_so_the_corrected_retry_goes_through(
        client: TestClient, send) -> None:
    key, before = {"Idempotency-Key": "corrected"}, log_position(client)
    assert_problem(send(json.dumps(deal(amount="-5.00")).encode(), key), 422, "amount")
    assert log_position(client) == before
    retried = send(json.dumps(deal()).encode(), key)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    replayed = send(json.dumps(deal()).encode(), key)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == retried.json()


def test_a_refused_request_is_answered_afresh_on_every_retry(client: TestClient, send) -> None:
    key, raw = {"Idempotency-Key": "refused-twice"}, json.dumps(deal(currency="XXX")).encode()
    for _ in range(2):
        response = send(raw, key)
        assert_problem(response, 422, "currency")
        assert "Idempotent-Replayed" not in response.headers


@pytest.mark.parametrize("role, status", [("auditor", 403), ("member", 403)])
def test_a_replay_for_the_same_member_in_another_role_is_not_served_the_stored_answer(
        client: TestClient, send, role: str, status: int) -> None:
    key = {"Idempotency-Key": "role-change"}
    raw = json.dumps(deal(grade="A", reason="a lighthouse deal")).encode()  # a lead's call
    first = send(raw, key)
    assert first.status_code == 201, first.text
    before = log_position(client)
    response = send(raw, key, role=role)
    assert_problem(response, status)
    assert "Idempotent-Replayed" not in response.headers
    assert log_position(client) == before
    again = send(raw, key)  # the lead still gets the stored answer
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()


# -- a store that does not answer: 503 with Retry-After ---------------------------------------------

def assert_unavailable(response: Response) -> None:
    assert_problem(response, 503)
    assert response.headers["Retry-After"].isdigit(), response.headers


@pytest.mark.parametrize("error", [psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
                                   ConnectionUnavailableError("could not connect")])
def test_a_store_that_does_not_answer_is_503_with_retry_after_on_reads_commands_and_keys(
        client: TestClient, token, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    services: Services = client.app.state.services
    opened = client.post(OPPORTUNITIES, json=deal(), headers=auth(token("lee", "lead")))
    board = f"{OPPORTUNITIES}/{opened.json()['id']}/board?after={opened.json()['position']}"
    before = log_position(client)

    def no_answer(*_: Any, **__: Any) -> Any:
        raise error

    with monkeypatch.context() as patched:
        patched.setattr(services.views, "get", no_answer)
        assert_unavailable(client.get(board, headers=auth(token("lee", "lead"))))
    with monkeypatch.context() as patched:
        patched.setattr(services.app, "open_opportunity", no_answer)
        assert_unavailable(client.post(OPPORTUNITIES, json=deal(), headers={
            **auth(token("lee", "lead")), "Idempotency-Key": "store-down"}))
    with monkeypatch.context() as patched:
        patched.setattr(services.idempotency, "reserve", no_answer)
        assert_unavailable(client.post(OPPORTUNITIES, json=deal(), headers={
            **auth(token("lee", "lead")), "Idempotency-Key": "store-down"}))
    assert log_position(client) == before
    retried = client.post(OPPORTUNITIES, json=deal(), headers={  # a 503 kept no key
        **auth(token("lee", "lead")), "Idempotency-Key": "store-down"})
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


def test_a_read_that_waits_in_vain_for_the_read_models_is_503_with_retry_after(
        client: TestClient, token, monkeypatch: pytest.MonkeyPatch) -> None:
    services: Services = client.app.state.services
    opened = client.post(OPPORTUNITIES, json=deal(), headers=auth(token("lee", "lead")))
    monkeypatch.setattr(services.runner, "wait_for", lambda *_, **__: False)
    response = client.get(f"{OPPORTUNITIES}/{opened.json()['id']}/board?after={opened.json()['position']}",
                          headers=auth(token("lee", "lead")))
    assert_unavailable(response)


@pytest.fixture
def pg_client(postgres_url: str) -> Iterator[tuple[TestClient, Services]]:
    services = build_services(postgres_url)
    try:
        with TestClient(create_app(services=services)) as test_client:
            yield test_client, services
    finally:
        services.close()


@pytest.mark.postgres
def test_a_connection_dropped_mid_request_is_503_with_retry_after_and_the_next_request_is_served(
        pg_client: tuple[TestClient, Services], token, monkeypatch: pytest.MonkeyPatch) -> None:
    client, services = pg_client
    lead = auth(token("lee", "lead"))
    opened = client.post(OPPORTUNITIES, json=deal(), headers=lead).json()
    board = f"{OPPORTUNITIES}/{opened['id']}/board?after={opened['position']}"
    read = services.views.get

    def dropped(view: str, key: str) -> Any:
        services.db.read("SELECT pg_terminate_backend(pg_backend_pid())")  # the connection in use dies
        return read(view, key)

    with monkeypatch.context() as patched:
        patched.setattr(services.views, "get", dropped)
        assert_unavailable(client.get(board, headers=lead))
    assert client.get(board, headers=lead).status_code == 200
    with services.db.transaction() as cur:  # every pooled connection of the store dies between requests
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    response = client.post(OPPORTUNITIES, json=deal(), headers={**lead, "Idempotency-Key": "after-the-drop"})
    assert response.status_code in (201, 503), response.text
    if response.status_code == 503:
        assert_unavailable(response)
        response = client.post(OPPORTUNITIES, json=deal(), headers={**lead, "Idempotency-Key": "after-the-drop"})
    assert response.status_code == 201, response.text
