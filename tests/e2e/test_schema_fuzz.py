"""Schemathesis over the whole OpenAPI document, once per token role (issue 11).

A uvicorn server runs the API over a fresh SQLite store seeded with a small ledger: members, an
account with its team and a task, an open deal with work on it and a request, a won deal with its
allocation, an ask and a dispute. Schemathesis then sends, for each role, every example the
document shows and EXAMPLES valid and EXAMPLES invalid requests drawn per operation (some 380 a
role), and as admin its coverage phase too (every boundary, missing field and unanswered method:
some 6800), with a fixed seed; it runs every check it has on each answer:
no 5xx, a documented status code, content type, body and headers, invalid data refused (4xx), valid
data not refused as invalid, a missing token refused, a method no route answers refused with 405
and an honest `Allow`. Generated path ids are sometimes the seeded ones, so the fuzzer reaches real
objects and not only 404s. Commands carry the `Idempotency-Key` the document describes, drawn like
any other parameter: a key drawn again with another request is the documented 409, with the same
one a replay carrying `Idempotent-Replayed: true`. Every policy kind's document is drawn from its
own schema, so valid versions are posted and put in force as the fuzzer goes.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.auth import TOKEN_ROLES, issue_token
from main.services import Services
from main.settings import Settings

pytestmark = pytest.mark.e2e

SECRET = "fuzz-secret"
EXAMPLES = 6  # per operation and generation mode: a few hundred cases per role in all
SEED = 20250611
ACTORS = {"member": "ana", "lead": "lee", "finance": "fin", "auditor": "aud", "admin": "adm"}
TEAM = {"ana": "sales", "sam": "presales", "fay": "delivery", "fin": "finance", "cal": "commercial",
        "lee": "management"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def day(days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def token(role: str) -> str:
    return issue_token(SECRET, ACTORS[role], role, 3600)


class Server:
    """The API on a free port, in a thread of this process."""

    def __init__(self, services: Services) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(services=services), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def seed(url: str) -> dict[str, list[str]]:
    """A small ledger; the ids of what it made, by path parameter name."""
    ids: dict[str, list[str]] = {}

    def call(method: str, path: str, role: str, body: object = None, who: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {issue_token(SECRET, who or ACTORS[role], role, 3600)}"}
        response = httpx.request(method, f"{url}{path}", json=body, headers=headers, timeout=30)
        assert response.is_success, (method, path, response.text)
        return response.json()

    for member, department in TEAM.items():
        call("POST", "/v1/members", "admin", {"id": member, "name": member.title(), "department": department})
    ids["member_id"] = list(TEAM)
    account = call("POST", "/v1/accounts", "member", {"id": "acme", "name": "Acme", "industry": "banking"})
    ids["account_id"] = [account["id"]]
    call("POST", "/v1/accounts/acme/team", "member", {"member_id": "sam", "role": "solution_lead"})
    task = call("POST", "/v1/accounts/acme/tasks", "member", {"title": "Plan the year", "due": day(30)})
    ids["task_id"] = [task["id"]]

    def deal(name: str) -> str:
        opened = call("POST", "/v1/opportunities", "member",
                      {"account_id": "acme", "name": name, "amount": "100000.00", "currency": "EUR",
                       "expected_close": day(30)})
        path = f"/v1/opportunities/{opened['id']}"
        call("PUT", f"{path}/triangle/SR", "member", {"member_id": "sam"})
        call("POST", f"{path}/supporters", "member", {"member_id": "fay"})
        return opened["id"]

    open_deal, won_deal = deal("Acme open"), deal("Acme won")
    ids["opportunity_id"] = [open_deal, won_deal]
    contributions = []
    for opportunity in (open_deal, won_deal):
        path = f"/v1/opportunities/{opportunity}"
        for member, kind in (("ana", "visit"), ("sam", "solution_design")):
            contributions.append(call("POST", f"{path}/contributions", "member",
                                      {"member_id": member, "kind": kind, "summary": f"{kind} by {member}",
                                       "hours": "2", "occurred_at": f"{day(-1)}T09:00:00Z"}, who=member)["id"])
        call("POST", f"{path}/contributions/{contributions[-2]}/confirm", "lead")  # not one's own
        call("POST", f"{path}/contributions/{contributions[-1]}/confirm", "member")
    ids["contribution_id"] = contributions
    request = call("POST", f"/v1/opportunities/{open_deal}/requests", "member",
                   {"to_member": "fay", "kind": "solution_design", "summary": "a design", "due": day(7)})
    ids["request_id"] = [request["id"]]
    ask = call("POST", f"/v1/opportunities/{open_deal}/asks", "member",
               {"action": "correct", "reason": "the customer widened the scope", "amount": "150000.00"})
    ids["ask_id"] = [ask["id"]]
    won = call("POST", f"/v1/opportunities/{won_deal}/win", "member", {"closed_on": day()})
    ids["allocation_id"] = [won["allocation_id"]]
    dispute = call("POST", f"/v1/allocations/{won['allocation_id']}/disputes", "member",
                   {"member_id": "ana", "reason": "my visit is missing"})
    ids["dispute_id"] = [dispute["id"]]
    ids["period"] = [day()[:7], f"{day()[:4]}-Q{(int(day()[5:7]) - 1) // 3 + 1}"]
    ids["kind"] = ["incentive", "account-grading", "opportunity-grading", "relationship-standard"]
    ids["role"] = ["AR", "SR", "FR"]
    return ids


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, list[str]]]]:
    store = tmp_path_factory.mktemp("fuzz") / "goldsplit.db"
    services = Services.build(Settings(database_url=f"sqlite:///{store}", secret=SECRET,
                                       read_wait_seconds=5.0))
    try:
        with Server(services) as server:
            yield server.url, seed(server.url)
    finally:
        services.close()


SEEDED: dict[str, list[str]] = {}  # path parameter -> ids the seeded ledger has, once seeded


def _path_names(operation: schemathesis.APIOperation) -> list[str]:
    return [parameter.name for parameter in operation.path_parameters]


DOCUMENT = create_app(Settings(database_url="memory://", secret=SECRET)).openapi()


def _schema(*, coverage: bool) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict({
        "seed": SEED,
        # the token is the test's to send (every role's); a request without one is the
        # ignored_auth check's, which sends it without and expects 401
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True,
                       "with-security-parameters": False},
        # the coverage phase (every boundary, every missing field, every method a path does not
        # answer: some 6000 requests) once, as admin, the role every route lets furthest in
        "phases": {"coverage": {"enabled": coverage}, "stateful": {"enabled": False}},
    }))


schema = _schema(coverage=False)  # each role: the examples, and EXAMPLES drawn per mode
deep = _schema(coverage=True)


def before_generate_path_parameters(context, strategy):  # noqa: ANN001, ANN202
    """Half the valid cases name seeded objects in the path (drawn from the ids the seed made); an
    invalid case keeps what was drawn, so its invalid part stays invalid."""
    names = [name for name in _path_names(context.operation) if name in SEEDED]
    if not names:
        return strategy
    known = st.fixed_dictionaries({name: st.sampled_from(SEEDED[name]) for name in names})

    def seeded(drawn):  # noqa: ANN001, ANN202
        if isinstance(drawn, dict):
            return st.one_of(st.just(drawn), known.map(lambda ids: {**drawn, **ids}))
        if drawn.meta is not None:  # a mutation: leave it be
            return st.just(drawn)
        return st.one_of(st.just(drawn), known.map(lambda ids: drawn.map_value(lambda v: {**v, **ids})))

    return strategy.flatmap(seeded)


schema.hook(before_generate_path_parameters)
deep.hook(before_generate_path_parameters)


@pytest.fixture(scope="module")
def base_url(api: tuple[str, dict[str, list[str]]]) -> str:
    url, ids = api
    SEEDED.update(ids)
    return url


# Rules no JSON Schema can state: they hold between fields or parameters, or against the ledger's
# state or today's date. A schema-valid request refused by one of them is a truthful 422, so
# schemathesis' positive_data_acceptance (valid data is never 400 or 422) is run through
# `within_the_schema`, which lets exactly these refusals pass: any other 400 or 422 on
# schema-valid data is the schema and the code disagreeing, and fails.
BEYOND_THE_SCHEMA = [  # (the field named, words of the refusal), why no schema says it
    ("after", "is beyond the head of the log"),  # the log's head now
    ("due", "is in the past"),  # today
    ("closed_on", "is in the future"),
    ("received_on", "is in the future"),
    ("received_on", "before the win"),
    ("occurred_at", "in the future"),
    ("occurred_at", "is before"),  # an offset moves 2000-01-01T00:30+01:00 into 1999 (UTC)
    ("to_member", "exactly one of to_member or to_department"),  # between fields
    ("to_member", "someone else for help"),  # the caller
    ("part", "only in CSV"),  # between parameters
    ("amount", "a correction asks for the new amount"),
    ("closed_on", "a win needs its close date"),
    ("contribution_id", "must be a non-empty string"),  # an ask to reverse names the work
    ("corrected_amount", "upholding needs the corrected amount"),
    ("corrected_amount", "a rejection keeps the line"),
    ("reason", "say why"),  # a grade override and a lead's call need a reason
    ("reason", "needs a reason"),
    ("amount", "decimals; at most"),  # the deal's currency
    ("corrected_amount", "decimals; at most"),
    ("corrected_amount", "would add up to more than the pool"),  # the other lines
    ("currency", "the deal is in"),
    ("kind", "is not a contribution kind"),  # the incentive policy in force
    ("kind", "is recorded when a support request is delivered"),
    ("answers", ""),  # the relationship standard in force names the criteria and their levels
    ("to_department", "name the member"),
    ("period", "is not over yet"),  # today: a month closes once it has ended
    ("amount", "is over the outstanding amount"),  # the deal's payments so far
    ("cursor", "not a cursor this list gave"),  # opaque: only a page's `next` decodes to a place in a list
    # a policy document (api/policy_documents.py): sums, orders and agreements between its parts
    ("role_shares", "role shares sum to"),
    ("criteria", "weights sum to"),
    ("criteria", "the first band must start from 0"),
    ("criteria", "bands must ascend"),
    ("grades", "minimum scores must fall strictly"),
    ("amount_bands", "the first band must start from 0"),
    ("amount_bands", "bands must ascend"),
    ("amount_bands", "a larger amount must never give a lower grade"),
    ("amount_bands", "decimals; at most"),  # the currency the bands are for
    ("amount_bands", "the minor units of from"),  # from_minor agrees with from
    ("win_probability", "the first band must start from 0"),
    ("win_probability", "bands must ascend"),
    ("win_probability", "a higher score must never give a lower probability"),
]


# JSON Schema's integer is any number without a fraction, 3.0 as much as 3: no schema can ask for
# the digits alone. A policy document takes JSON integers only where it wants a whole number (and
# a decimal string where it wants a fraction), so each is hashed as it is spelled: its refusal of
# an integral float ("must be a whole score from 0 to 100, got 65.0") is a truthful 422.
AN_INTEGRAL_FLOAT = re.compile(r"got [0-9]+\.0\Z")


def _beyond_the_schema(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    if response.status_code != 422:
        return False
    errors = (response.json() or {}).get("errors") or []
    policy = case.path.startswith("/v1/policies/")
    return bool(errors) and all(
        any((e["field"] == field or e["field"].startswith(f"{field}.")) and words in e["message"]
            for field, words in BEYOND_THE_SCHEMA)
        or (policy and AN_INTEGRAL_FLOAT.search(e["message"]) is not None) for e in errors)


def within_the_schema(ctx, response, case):  # noqa: ANN001, ANN201
    """positive_data_acceptance, but for the refusals BEYOND_THE_SCHEMA lists."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _beyond_the_schema(case, response):
            return None
        raise


FUZZING = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                   suppress_health_check=list(HealthCheck))


def _call_and_validate(case: schemathesis.Case, role: str, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token(role)}"},
                           excluded_checks=[positive_data_acceptance], additional_checks=[within_the_schema])


@pytest.mark.parametrize("role", TOKEN_ROLES)
@schema.parametrize()
@FUZZING
def test_the_api_keeps_its_openapi_contract(case: schemathesis.Case, role: str, base_url: str) -> None:
    _call_and_validate(case, role, base_url)


@deep.parametrize()
@FUZZING
def test_the_api_keeps_its_openapi_contract_at_every_boundary(case: schemathesis.Case, base_url: str) -> None:
    _call_and_validate(case, "admin", base_url)
