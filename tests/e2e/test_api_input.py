"""The HTTP API's answers to bad input (docs/api.md), on the embedded store and on PostgreSQL: 422
naming the offending field, 413 for an oversized body, odd bytes and ids; none of them records anything."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from httpx import Response

from tests.e2e import test_api
from tests.e2e.test_api import (
    DEEP,
    DROP,
    NEW_MEMBER,
    Story,
    assert_problem,
    auth,
    changed,
    day,
    log_position,
    moment,
    opportunity_body,
)

story = test_api.story  # the fixture: a grade-A deal with ana AR, sam SR, fay FR


# -- 422: invalid input, the offending field named ----------------------------------------------

def post_opportunity(s: Story, **changes: Any) -> Response:
    return s.request("POST", "/v1/opportunities", "lead", opportunity_body(**changes))


def post_contribution(s: Story, **changes: Any) -> Response:
    return s.request("POST", f"{s.path}/contributions", "sam", s.contribution("sam", **changes))


def post_win(s: Story, **changes: Any) -> Response:
    return s.request("POST", f"{s.path}/win", "ana", changed({"closed_on": day()}, changes))


def post_lose(s: Story, **changes: Any) -> Response:
    return s.request("POST", f"{s.path}/lose", "ana",
                     changed({"reason": "lost on price", "closed_on": day()}, changes))


def post_member(s: Story, **changes: Any) -> Response:
    return s.request("POST", "/v1/members", "admin", changed(NEW_MEMBER, changes))


def post_policy(s: Story, **changes: Any) -> Response:
    version = {k: v for k, v in s.get("/v1/policies/incentive", "finance")["versions"][0].items()
               if k not in ("version", "hash")}
    return s.request("POST", "/v1/policies/incentive", "finance", changed(version, changes))


BAD_INPUT = [
    pytest.param(post_contribution, {"kind": "lunch"}, "kind", id="unknown contribution kind"),
    pytest.param(post_opportunity, {"amount": "-100.00"}, "amount", id="negative amount"),
    pytest.param(post_opportunity, {"amount": "0.00"}, "amount", id="zero amount"),
    pytest.param(post_opportunity, {"amount": "a lot"}, "amount", id="non-numeric amount"),
    pytest.param(post_opportunity, {"amount": "1e6"}, "amount", id="exponent amount"),
    pytest.param(post_opportunity, {"amount": 1000.5}, "amount", id="amount as a JSON number"),
    pytest.param(post_opportunity, {"amount": "10.123"}, "amount", id="three decimals in CNY"),
    pytest.param(post_opportunity, {"amount": "10.5", "currency": "JPY"}, "amount",
                 id="decimals in JPY"),
    pytest.param(post_opportunity, {"currency": "XYZ"}, "currency", id="currency not ISO 4217"),
    pytest.param(post_opportunity, {"currency": "cny"}, "currency", id="currency in lower case"),
    pytest.param(post_opportunity, {"grade": "Z"}, "grade", id="unknown grade"),
    pytest.param(post_opportunity, {"currency": DROP}, "currency", id="missing currency"),
    pytest.param(post_win, {"amount": "-5"}, "amount", id="negative won amount"),
    pytest.param(post_win, {"amount": "5.001"}, "amount", id="won amount with too many decimals"),
    pytest.param(post_win, {"closed_on": day(3)}, "closed_on", id="win closed on in the future"),
    pytest.param(post_lose, {"closed_on": day(3)}, "closed_on", id="loss closed on in the future"),
    pytest.param(post_contribution, {"occurred_at": moment(2)}, "occurred_at",
                 id="contribution in the future"),
    pytest.param(post_contribution, {"occurred_at": "last tuesday"}, "occurred_at",
                 id="occurred at not a date-time"),
    pytest.param(post_contribution, {"summary": DROP}, "summary", id="missing summary"),
    pytest.param(post_contribution, {"points": 99}, "points", id="unknown extra field"),
    pytest.param(post_contribution, {"hours": "-1"}, "hours", id="negative hours"),
    pytest.param(post_contribution, {"role": "FR"}, "role", id="a role the member does not hold"),
    pytest.param(post_member, {"department": "marketing"}, "department", id="unknown department"),
    pytest.param(post_policy, {"role_shares": {"AR": "0.5", "SR": "0.3", "FR": "0.1",
                                               "SUPPORT": "0.05"}},
                 "role_shares", id="role shares not summing to 1"),
    pytest.param(post_policy, {"kind_weights": {"visit": 1.5}}, "kind_weights.visit",
                 id="fractional kind weight"),
    # Hostile input found by fuzzing: each once answered 500 or stored an unreadable event.
    pytest.param(post_opportunity, {"attributes": {"_type_": "nope", "_data_": 1}}, "attributes",
                 id="attributes that mimic the event store's own encoding"),
    pytest.param(post_opportunity, {"attributes": {"a": {"b": {"_type_": "uuid_hex", "_data_": "zz"}}}},
                 "attributes.a.b", id="the event store's encoding nested in attributes"),
    pytest.param(post_opportunity, {"attributes": DEEP}, "attributes" + ".a" * 7,
                 id="attributes nested too deep"),
    pytest.param(post_opportunity, {"attributes": {"note": "a\x00b"}}, "attributes.note",
                 id="NUL in an attribute"),
    pytest.param(post_opportunity, {"amount": "0" * 5000 + "1"}, "amount",
                 id="an amount of five thousand digits"),
    pytest.param(post_opportunity, {"grade": ""}, "grade", id="empty grade"),
    pytest.param(post_win, {"amount": "1" * 20}, "amount", id="an absurdly large won amount"),
    pytest.param(post_contribution, {"hours": "-0"}, "hours", id="signed hours"),
    pytest.param(post_contribution, {"hours": "1E-999999999"}, "hours", id="exponent hours"),
    pytest.param(post_contribution, {"summary": "a\x00b"}, "summary", id="NUL in a summary"),
    pytest.param(post_contribution, {"occurred_at": "1999-12-31T23:00:00"}, "occurred_at",
                 id="contribution before 2000"),
    pytest.param(post_win, {"closed_on": "1999-12-31"}, "closed_on", id="closed before 2000"),
    pytest.param(post_policy, {"member_cap": "1E-5000"}, "member_cap", id="exponent cap"),
    pytest.param(post_policy, {"pool_rate_by_grade": {"A": "0.0000000000001", "B": "0.02",
                                                      "C": "0.01"}},
                 "pool_rate_by_grade.A", id="a rate with more than 12 decimals"),
    pytest.param(post_policy, {"name": "v\x002"}, "name", id="NUL in a policy name"),
]


@pytest.mark.parametrize("send, changes, field", BAD_INPUT)
def test_refuses_bad_input_with_422_naming_the_field_and_records_nothing(
        story: Story, send, changes, field) -> None:
    before, board_before = log_position(story.client), story.board()

    assert_problem(send(story, **changes), 422, field=field)

    assert log_position(story.client) == before
    assert story.board() == board_before


def test_refuses_a_body_that_is_not_json_with_422(story: Story) -> None:
    before = log_position(story.client)
    response = story.client.post(f"{story.path}/contributions", content=b"{not json",
                                 headers={**auth(story.tokens["ana"]),
                                          "Content-Type": "application/json"})
    assert_problem(response, 422)
    assert log_position(story.client) == before


@pytest.mark.parametrize("path, body, field", [
    ("/v1/opportunities", '{"account_id": "acme", "name": "Acme", "amount": "10.00", "currency": "CNY", '
                          '"expected_close": "2030-01-01", "attributes": {"k": "\\udfff"}}', "attributes.k"),
    ("/v1/policies/incentive", None, "name"),
    ("/v1/opportunities", '{"account_id": "acme", "name": "Acme", "amount": "-\\ud800", '
                          '"currency": "CNY", "expected_close": "2030-01-01"}', "amount"),
])
def test_refuses_unpaired_surrogates_naming_the_field(story: Story, path, body, field) -> None:
    if body is None:
        version = story.get("/v1/policies/incentive", "finance")["versions"][0]
        version = {k: v for k, v in version.items() if k not in ("version", "hash")}
        body = json.dumps({**version, "name": "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800")
    before = log_position(story.client)
    response = story.client.post(path, content=body.encode(), headers={
        **auth(story.tokens["finance" if "policies" in path else "ana"]),
        "Content-Type": "application/json"})
    assert_problem(response, 422, field=field)
    assert log_position(story.client) == before


def test_refuses_a_body_over_a_megabyte_with_413(story: Story) -> None:
    before = log_position(story.client)
    body = story.contribution("ana", summary="x" * (1 << 20))
    response = story.request("POST", f"{story.path}/contributions", "ana", body,
                             headers={"Idempotency-Key": "big"})
    assert_problem(response, 413, field="body")
    assert log_position(story.client) == before


def test_refuses_a_chunked_body_over_a_megabyte_with_413(story: Story) -> None:
    before = log_position(story.client)
    chunks = (b'{"account_id": "acme", "attributes": {"note": "' + b"x" * 65536 for _ in range(17))
    response = story.client.post("/v1/opportunities", content=chunks,
                                 headers={**auth(story.tokens["lead"]), "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, field="body")
    assert log_position(story.client) == before


def test_names_the_body_when_it_is_not_json(story: Story) -> None:
    response = story.client.post(f"{story.path}/contributions", content=b'{"a":',
                                 headers={**auth(story.tokens["ana"]), "Content-Type": "application/json"})
    assert_problem(response, 422, field="body")


def test_refuses_a_token_with_bytes_outside_ascii_with_401(story: Story) -> None:
    response = story.client.get(story.path + "/board",
                                headers={"Authorization": "Bearer gs1.a.\xe9".encode("latin-1")})
    assert_problem(response, 401)


def test_a_header_that_is_not_utf8_does_not_break_a_command(story: Story) -> None:
    response = story.client.post(f"{story.path}/contributions", json=story.contribution("ana"),
                                 headers={**auth(story.tokens["ana"]), "X-Note": b"\xff\xfe",
                                          "Idempotency-Key": "latin-1-header"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", ["/v1/allocations/%00", "/v1/allocations/a%00b/explain",
                                  "/v1/opportunities/%00/board"])
def test_answers_404_for_ids_with_nul_characters(story: Story, path) -> None:
    assert_problem(story.request("GET", path, "finance"), 404)


def test_refuses_an_empty_member_id_when_explaining(story: Story) -> None:
    response = story.request("GET", "/v1/allocations/" + str(uuid.uuid4()) + "/explain?member_id=",
                             "finance")
    assert_problem(response, 422, field="member_id")


def test_refuses_a_read_after_a_position_beyond_the_log_with_422(story: Story) -> None:
    head = log_position(story.client)
    response = story.read(f"{story.path}/board", "lead", after=head + 100)
    assert_problem(response, 422, field="after")
