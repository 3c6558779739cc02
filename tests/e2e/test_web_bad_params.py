"""A page given a malformed parameter (`?after=abc`, `?limit=-1`, a format too long to be one, a
position that is not a number) answers the 422 page naming the parameter and its rule, like any
other refusal on a page, never FastAPI's JSON; the JSON API and the live stream keep their problem
documents. A form posted without its fields is the same page, and records nothing."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from datetime import UTC, datetime

import annotated_types
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.auth import issue_token
from main.serve import application
from main.services import Services
from main.settings import Settings
from tests.builders import WonDeal, register_team, won_deal
from tests.e2e.test_web import HERE, signed_in
from tests.ledger import FINANCE, head
from web.render import PageRoute

SECRET = "s"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
PERIOD = "2026-03"


@pytest.fixture(scope="module")
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret=SECRET), clock=lambda: NOW) as services:
        register_team(services.app)
        yield services


@pytest.fixture(scope="module")
def deal(world: Services) -> WonDeal:
    """Acme registered and its deal won and approved on 2026-03-15 (alice AR, bob SR, carol FR)."""
    world.app.register_account(FINANCE, name="Acme", account_id="acme")
    won = won_deal(world.app)
    world.app.approve_allocation(FINANCE, won.aid)
    world.runner.catch_up()
    return won


@pytest.fixture(scope="module")
def fiona(world: Services) -> Iterator[TestClient]:
    """Finance, who may open every page."""
    with signed_in(TestClient(application(world.settings, services=world), base_url=HERE),
                   world, "fiona", "finance") as client:
        yield client


def refused_with_the_page(answer, *names: str) -> str:
    """The 422 page's text, after checking it is the page (HTML, the page's headers) naming `names`."""
    assert answer.status_code == 422, (answer.request.url, answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html"), answer.headers["content-type"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "<h1>Invalid input</h1>" in answer.text
    detail = re.search(r"</h1>\s*<p>(.*?)</p>", answer.text, re.S).group(1)
    for name in names:
        assert f"{name}: " in detail, (name, detail)
    return detail


# -- named cases: each parameter and the rule the page says it broke ------------------------------

CASES = [  # (path, the parameter named, part of its rule)
    ("/?after=abc", "after", "valid integer"),
    ("/?after=-1", "after", "greater than or equal to 0"),
    ("/opportunities/{oid}?after=1.5", "after", "valid integer"),
    ("/allocations/{aid}?line=" + "x" * 65, "line", "at most 64 characters"),
    ("/allocations/{aid}/members/bob?after=abc", "after", "valid integer"),
    ("/queues/confirmations?after=abc", "after", "valid integer"),
    ("/queues/approvals?after=-1", "after", "greater than or equal to 0"),
    ("/queues/disputes?after=x", "after", "valid integer"),
    ("/audit?from=abc", "from", "valid integer"),
    ("/audit?from=0", "from", "greater than or equal to 1"),
    ("/audit?verify=maybe", "verify", "valid boolean"),
    ("/audit/positions/abc", "position", "valid integer"),
    ("/accounts/acme?after=abc", "after", "valid integer"),
    ("/members/bob?after=abc", "after", "valid integer"),
    ("/calibration?by=" + "x" * 41, "by", "at most 40 characters"),
    ("/policies/incentive?from=abc&to=0", "from", "valid integer"),
    ("/statements?period=" + "x" * 17, "period", "at most 16 characters"),
    ("/statements/{period}/bob?format=spreadsheet", "format", "at most 8 characters"),
    ("/periods?page=journalpage", "page", "at most 8 characters"),
    ("/periods/{period}?after=abc", "after", "valid integer"),
    ("/periods/{period}/journal?part=everything", "part", "at most 8 characters"),
    ("/periods/{period}/payroll?after=abc", "after", "valid integer"),
    ("/opportunities?limit=-1", "limit", "greater than or equal to 1"),
    ("/opportunities?limit=abc", "limit", "valid integer"),
    ("/accounts?limit=201", "limit", "less than or equal to 200"),
    ("/members?limit=0", "limit", "greater than or equal to 1"),
    ("/allocations?limit=1000", "limit", "less than or equal to 200"),
    ("/allocations?cursor=" + "x" * 2049, "cursor", "at most 2048 characters"),
]


@pytest.mark.parametrize("path, name, rule", CASES, ids=[path[:60] for path, _, _ in CASES])
def test_a_malformed_parameter_is_the_422_page_naming_it_and_its_rule(
        deal: WonDeal, fiona: TestClient, path: str, name: str, rule: str) -> None:
    answer = fiona.get(path.format(oid=deal.oid, aid=deal.aid, period=PERIOD))
    detail = refused_with_the_page(answer, name)
    assert rule in detail, detail


def test_every_parameter_broken_together_is_named_on_one_page(fiona: TestClient) -> None:
    detail = refused_with_the_page(fiona.get("/opportunities?limit=0&after=abc"), "limit", "after")
    assert "greater than or equal to 1" in detail and "valid integer" in detail


def test_a_value_the_page_itself_refuses_is_the_same_page(fiona: TestClient) -> None:
    """`format=bogus` fits the parameter's declared length: the statement refuses it by name."""
    detail = refused_with_the_page(fiona.get(f"/statements/{PERIOD}/bob?format=bogus"))
    assert "format must be one of html, csv, xlsx" in detail


# -- every page, whatever its parameters: no JSON 422 ---------------------------------------------

def refused_values(param) -> list[str]:
    """Values the declared type or constraints of a query or path parameter refuse."""
    info = param.field_info
    types = typing.get_args(info.annotation) or (info.annotation,)
    values = ["abc"] if int in types else ["maybe"] if bool in types else []
    for rule in info.metadata:
        if isinstance(rule, annotated_types.Ge):
            values.append(str(rule.ge - 1))
        elif isinstance(rule, annotated_types.Le):
            values.append(str(rule.le + 1))
        elif isinstance(rule, annotated_types.MaxLen):
            values.append("x" * (rule.max_length + 1))
    return values


def page_params(route) -> Iterator[tuple[str, object]]:
    """(where, parameter) of a route and all its dependencies: 'query' or 'path'."""
    seen = [route.dependant]
    while seen:
        dependant = seen.pop()
        yield from (("query", p) for p in dependant.query_params)
        yield from (("path", p) for p in dependant.path_params)
        seen.extend(dependant.dependencies)


def test_no_page_answers_a_malformed_parameter_with_fastapi_s_json(deal: WonDeal, fiona: TestClient) -> None:
    known = {"opportunity_id": deal.oid, "allocation_id": deal.aid, "member_id": "bob", "account_id": "acme",
             "period": PERIOD, "kind": "incentive", "position": "1", "contribution_id": deal.contributions["bob"]}
    pages = [c.original_route for c in iter_route_contexts(fiona.app.router.routes)
             if isinstance(c.original_route, PageRoute) and "GET" in c.original_route.methods]
    tried, wrong = [], []
    for route in pages:
        path = route.path
        for where, param in page_params(route):
            if where == "path" and "{" + param.name + "}" in path and param.name in known:
                path = path.replace("{" + param.name + "}", known[param.name])
        if "{" in path:
            continue  # a path parameter of a page this test has no id for (tried by the named cases)
        for where, param in page_params(route):
            for value in refused_values(param):
                if where == "query":
                    answer = fiona.get(path, params={param.alias: value})
                else:
                    answer = fiona.get(path.replace(known[param.name], value, 1))
                tried.append((route.path, param.alias))
                if answer.status_code != 422 or not answer.headers["content-type"].startswith("text/html"):
                    wrong.append((route.path, param.alias, value[:20], answer.status_code,
                                  answer.headers["content-type"]))
                else:
                    refused_with_the_page(answer, param.alias)
    assert len(set(tried)) > 50, tried  # every page with a typed or bounded parameter was tried
    assert wrong == []


# -- forms, the JSON API and the stream ------------------------------------------------------------

def test_a_form_posted_without_its_fields_is_the_422_page_and_records_nothing(
        world: Services, deal: WonDeal, fiona: TestClient) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', fiona.get(f"/opportunities/{deal.oid}").text).group(1)
    before = head(world.app)

    answer = fiona.post(f"/opportunities/{deal.oid}/contributions", data={"csrf": csrf, "kind": "demo"})

    refused_with_the_page(answer, "summary", "occurred_at", "key")
    assert head(world.app) == before


def test_a_signed_out_visitor_with_a_malformed_parameter_is_sent_to_sign_in_or_shown_the_page(
        world: Services) -> None:
    with TestClient(application(world.settings, services=world), base_url=HERE) as anonymous:
        for path in ("/?after=abc", "/opportunities?limit=-1", "/audit/positions/abc"):
            answer = anonymous.get(path, follow_redirects=False)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/signin") or (
                answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")), path


def test_the_json_api_and_the_stream_still_answer_a_problem_document(world: Services, fiona: TestClient) -> None:
    token = issue_token(SECRET, "fiona", "finance", 600)
    api = fiona.get("/v1/opportunities?limit=-1", headers={"Authorization": f"Bearer {token}"})
    stream = fiona.get("/events?topics=member:fiona&since=abc")
    for answer, name in ((api, "limit"), (stream, "since")):
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == [name]
