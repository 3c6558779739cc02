"""Hostile and malformed input on the collaboration API (issue 3), on the embedded store and on
PostgreSQL: bodies, ids, attributes and policy documents (the rest: test_collaboration_hostile_rules.py).

Every refusal is a problem document with the right status that names the offending field, and
records nothing: the log position GET /health reports does not move. A 5xx on any input is a bug.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.e2e.test_api import assert_problem, auth, day, log_position

TEAM = {"ana": "sales", "sam": "presales", "fay": "delivery", "pia": "presales", "oz": "sales"}
WARM = {"decision_maker_stance": "neutral", "coach_inside": "informal", "budget_confirmed": "estimated",
        "technical_preference": "open", "competitive_position": "even", "executive_relationship": "met"}
DROP = object()  # in a policy change: remove the key
SURROGATE = "\ud800"


class World:
    """ana manages the account acme (sam is on its team) and is the AR of one open opportunity."""

    def __init__(self, client: TestClient, token: Callable[..., str]) -> None:
        self.client = client
        self.tokens = {name: token(name) for name in TEAM}
        self.tokens.update(lee=token("lee", "lead"), fin=token("fin", "finance"),
                           root=token("root", "admin"), aud=token("aud", "auditor"))
        self.opportunity = ""
        self.watching = False

    def call(self, method: str, path: str, who: str, body: Any = None, raw: bytes | None = None,
             headers: dict | None = None) -> Response:
        if raw is None and body is not None:
            raw = json.dumps(body).encode()  # lone surrogates travel escaped, as JSON allows
        return self.client.request(method, path, content=raw, headers={
            **auth(self.tokens[who]), "Content-Type": "application/json", **(headers or {})})

    def ok(self, method: str, path: str, who: str, body: Any = None, status: int = 200) -> dict:
        response = self.call(method, path, who, body)
        assert response.status_code == status, response.text
        return response.json()

    def refused(self, method: str, path: str, who: str, body: Any = None, status: int = 422,
                field: str | None = None, raw: bytes | None = None) -> dict:
        """Refused with `status` as a problem naming `field`; the log does not move."""
        with self.records_nothing():
            return assert_problem(self.call(method, path, who, body, raw), status, field)

    @contextmanager
    def records_nothing(self) -> Iterator[None]:
        """The log does not move in the block (checked once for a whole loop of refusals)."""
        if self.watching:
            yield
            return
        before, self.watching = log_position(self.client), True
        try:
            yield
        finally:
            self.watching = False
        assert log_position(self.client) == before

    @property
    def path(self) -> str:
        return f"/v1/opportunities/{self.opportunity}"

    def task(self, status: str = "assigned") -> str:
        body = {"title": "Map the buying centre", "due": day(5)}
        if status != "created":
            body["assignee"] = "sam"
        task = self.ok("POST", "/v1/accounts/acme/tasks", "ana", body, 201)["id"]
        if status in ("done", "verified"):
            self.ok("POST", f"/v1/tasks/{task}/complete", "sam")
        if status == "verified":
            self.ok("POST", f"/v1/tasks/{task}/verify", "ana")
        return task

    def request(self, status: str = "open") -> str:
        request = self.ok("POST", f"{self.path}/requests", "ana", {
            "to_member": "sam", "kind": "solution_design", "summary": "Target architecture",
            "due": day(5)}, 201)["id"]
        if status in ("accepted", "delivered", "rated"):
            self.ok("POST", f"/v1/requests/{request}/accept", "sam")
        if status in ("delivered", "rated"):
            self.ok("POST", f"/v1/requests/{request}/deliver", "sam")
        if status == "rated":
            self.ok("POST", f"/v1/requests/{request}/rate", "ana", {"score": 4})
        if status == "declined":
            self.ok("POST", f"/v1/requests/{request}/decline", "sam", {"reason": "no capacity"})
        return request

    def policy(self, kind: str) -> dict:
        """The first version of a kind of policy as GET shows it, ready to post again."""
        version = self.ok("GET", f"/v1/policies/{kind}", "fin")["versions"][0]
        return {k: v for k, v in version.items() if k not in ("version", "hash")}


@pytest.fixture
def world(client: TestClient, token: Callable[..., str]) -> World:
    w = World(client, token)
    for member, department in TEAM.items():
        w.ok("POST", "/v1/members", "root", {"id": member, "name": member.title(),
                                             "department": department}, 201)
    w.ok("POST", "/v1/accounts", "ana", {"id": "acme", "name": "Acme"}, 201)
    w.ok("POST", "/v1/accounts/acme/team", "ana", {"member_id": "sam", "role": "solution_lead"}, 201)
    w.opportunity = w.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "WMS roll-out", "amount": "50000.00", "currency": "CNY",
        "expected_close": day(30)}, 201)["id"]
    return w


# -- bodies: every field, every wrong type ---------------------------------------------------------

# name -> (method, path, who, a valid body, its required fields); each path makes a fresh target
COMMANDS: dict[str, tuple[str, Callable[[World], str], str, dict, set[str]]] = {
    "register an account": ("POST", lambda w: "/v1/accounts", "ana", {
        "id": "globex", "name": "Globex", "industry": "retail", "attributes": {}}, {"name"}),
    "change an account's attributes": ("PATCH", lambda w: "/v1/accounts/acme", "ana",
                                       {"attributes": {}}, {"attributes"}),
    "seat an account team member": ("POST", lambda w: "/v1/accounts/acme/team", "ana",
                                    {"member_id": "fay", "role": "member"}, {"member_id", "role"}),
    "plan a task": ("POST", lambda w: "/v1/accounts/acme/tasks", "ana",
                    {"title": "Call", "assignee": "sam", "due": day(3)}, {"title", "due"}),
    "assign a task": ("POST", lambda w: f"/v1/tasks/{w.task()}/assign", "ana",
                      {"assignee": "fay"}, {"assignee"}),
    "complete a task": ("POST", lambda w: f"/v1/tasks/{w.task()}/complete", "sam",
                        {"note": "done"}, set()),
    "reopen a task": ("POST", lambda w: f"/v1/tasks/{w.task('done')}/reopen", "ana",
                      {"reason": "the CFO is missing"}, {"reason"}),
    "open a support request": ("POST", lambda w: f"{w.path}/requests", "ana", {
        "to_member": "sam", "kind": "demo", "summary": "Demo", "due": day(3)}, {"kind", "summary", "due"}),
    "accept a support request": ("POST", lambda w: f"/v1/requests/{w.request()}/accept", "lee",
                                 {"member_id": "sam"}, set()),
    "decline a support request": ("POST", lambda w: f"/v1/requests/{w.request()}/decline", "sam",
                                  {"reason": "no capacity"}, {"reason"}),
    "deliver a support request": ("POST", lambda w: f"/v1/requests/{w.request('accepted')}/deliver",
                                  "sam", {"summary": "Sizing", "hours": "2",
                                          "evidence_url": "https://crm.example/1"}, set()),
    "rate a support request": ("POST", lambda w: f"/v1/requests/{w.request('delivered')}/rate", "ana",
                               {"score": 4, "comment": "spot on"}, {"score"}),
    "assess the relationship": ("POST", lambda w: f"{w.path}/assessments", "ana", {"answers": WARM},
                                {"answers"}),
    "correct an opportunity": ("PATCH", lambda w: w.path, "lee", {
        "amount": "60000.00", "expected_close": day(40), "attributes": {}, "grade": "A",
        "reason": "a lighthouse deal"}, set()),
    "register a member": ("POST", lambda w: "/v1/members", "root", {
        "id": "zed", "name": "Zed", "department": "sales", "team": "north"}, {"id", "name", "department"}),
}
OBJECTS = {"attributes", "answers"}


def wrong_values(field: str, required: bool) -> list[tuple[Any, int]]:
    """Values of the wrong JSON type (or unstorable) for `field`, each with the status it gets."""
    if field in OBJECTS:
        wrong: list[tuple[Any, int]] = [(v, 422) for v in (7, 1.5, True, ["x"], "x")]
    elif field == "score":
        # 4.0 is 4 to JSON (and to the schema's integer): accepted, so not among the wrong ones
        wrong = [(v, 422) for v in (1.5, True, ["4"], {"v": 4}, "4", 10**30)]
    else:
        wrong = [(v, 422) for v in (7, 1.5, True, ["x"], {"x": 1}, "x" * 3000, SURROGATE,
                                     f"a{SURROGATE}b")]
        wrong.append(("a\x00b", 422))  # refused before any route runs, naming the field
    return wrong + ([(None, 422)] if required else [])


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_field_refuses_wrong_json_types_huge_text_nul_and_lone_surrogates_naming_it(
        world: World, command: str) -> None:
    method, path_of, who, body, required = COMMANDS[command]
    path = path_of(world)  # refusals change nothing, so one target serves every case
    with world.records_nothing():
        for field in body:
            for value, status in wrong_values(field, field in required):
                world.refused(method, path, who, {**body, field: value}, status, field)
        world.refused(method, path, who, {**body, "horoscope": "good"}, 422, "horoscope")
        for not_an_object in ([body], "body", 7):
            world.refused(method, path, who, not_an_object, 422, "body")


@pytest.mark.parametrize("raw", [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested too deep"),
    pytest.param(b'{"answers": {"coach_inside": ' + b"9" * 5000 + b"}}", id="an integer of 5000 digits"),
])  # a body that is not UTF-8 is a 400 before any route runs (tests/e2e/test_strict_input_api.py)
def test_a_body_that_cannot_be_read_as_json_is_refused_with_422_naming_the_body(
        world: World, raw: bytes) -> None:
    world.refused("POST", f"{world.path}/assessments", "ana", raw=raw, status=422, field="body")
    world.refused("POST", "/v1/policies/incentive", "fin", raw=raw, status=422, field="body")


# -- ids in paths and in bodies --------------------------------------------------------------------

ODD_IDS = ["abc", "a%20b", "a" * 3000, "%00", "a%00b", "%E2%98%83", "%ED%A0%80"]


def test_path_ids_that_name_nothing_answer_404_naming_the_id(world: World) -> None:
    task, request = world.task(), world.request()
    routes = [  # (method, path with {}, who, body, the field named)
        ("PATCH", "/v1/accounts/{}", "lee", {"attributes": {}}, "account_id"),
        ("POST", "/v1/accounts/{}/team", "lee", {"member_id": "fay", "role": "member"}, "account_id"),
        ("DELETE", "/v1/accounts/{}/team/sam", "lee", None, "account_id"),
        ("POST", "/v1/accounts/{}/tasks", "lee", {"title": "Call", "due": day(3)}, "account_id"),
        ("GET", "/v1/accounts/{}/board", "lee", None, "account_id"),
        ("POST", "/v1/tasks/{}/assign", "lee", {"assignee": "sam"}, "task_id"),
        ("POST", "/v1/tasks/{}/complete", "lee", None, "task_id"),
        ("POST", "/v1/tasks/{}/verify", "lee", None, "task_id"),
        ("POST", "/v1/tasks/{}/reopen", "lee", {"reason": "r"}, "task_id"),
        ("POST", "/v1/requests/{}/accept", "lee", None, "request_id"),
        ("POST", "/v1/requests/{}/decline", "lee", {"reason": "r"}, "request_id"),
        ("POST", "/v1/requests/{}/deliver", "lee", None, "request_id"),
        ("POST", "/v1/requests/{}/rate", "ana", {"score": 3}, "request_id"),
        ("PATCH", "/v1/opportunities/{}", "lee", {"amount": "1.00"}, "opportunity_id"),
        ("POST", "/v1/opportunities/{}/requests", "lee", {
            "to_member": "sam", "kind": "demo", "summary": "s", "due": day(3)}, "opportunity_id"),
        ("POST", "/v1/opportunities/{}/assessments", "lee", {"answers": WARM}, "opportunity_id"),
        ("GET", "/v1/opportunities/{}/board", "lee", None, "opportunity_id"),
        ("GET", "/v1/members/{}", "lee", None, "member_id"),
        ("GET", "/v1/members/{}/board", "lee", None, "member_id"),
    ]
    other_kinds = {"task_id": request, "request_id": task, "opportunity_id": task}
    with world.records_nothing():
        for method, template, who, body, field in routes:
            for odd in [*ODD_IDS, str(uuid4()), other_kinds.get(field, world.opportunity)]:
                world.refused(method, template.format(odd), who, body, 404, field)
            world.refused(method, template.format("a%2Fb"), who, body, 404)  # no such route


def test_account_ids_a_path_cannot_carry_are_refused_naming_the_id(world: World) -> None:
    with world.records_nothing():
        for account_id in (".", "..", "a/b", "a b", "a%2Fb", "é", "", "a" * 65, 7, ["acme"]):
            world.refused("POST", "/v1/accounts", "lee", {"id": account_id, "name": "Odd"}, 422, "id")


def test_account_ids_of_dots_colons_and_dashes_stay_addressable(world: World) -> None:
    for account_id in ("...", "a.b", "crm:42", "-", "_"):
        world.ok("POST", "/v1/accounts", "lee", {"id": account_id, "name": "Odd"}, 201)
        changed = world.ok("PATCH", f"/v1/accounts/{account_id}", "lee", {"attributes": {"note": 1}})
        board = world.ok("GET", f"/v1/accounts/{account_id}/board?after={changed['position']}", "lee")
        assert board["account_id"] == account_id


# -- attributes ------------------------------------------------------------------------------------

DEEP: dict = {}
_level = DEEP
for _ in range(8):
    _level["a"] = {}
    _level = _level["a"]

JUNK_ATTRIBUTES = [  # (attributes, the field named)
    ({"_type_": "decimal_str"}, "attributes"),
    ({"_data_": "1"}, "attributes"),
    ({"crm": {"_type_": "uuid_hex", "_data_": "zz"}}, "attributes.crm"),
    ({"crm": [{"_data_": 1}]}, "attributes.crm.0"),
    (DEEP, "attributes.a.a.a.a.a.a.a"),
    ({"big": 2**64}, "attributes.big"),
    ({"small": -(2**63)}, "attributes.small"),
    ({"note": "a\x00b"}, "attributes.note"),
    ({"no\x00te": 1}, "attributes"),
    ({"note": SURROGATE}, "attributes.note"),
    ({"note": "x" * 20_000}, "attributes"),
]


def test_attributes_with_reserved_keys_deep_nesting_or_unstorable_values_are_refused(world: World) -> None:
    with world.records_nothing():
        for attributes, field in JUNK_ATTRIBUTES:
            world.refused("POST", "/v1/accounts", "ana", {"name": "Globex", "attributes": attributes},
                          422, field)
            world.refused("PATCH", "/v1/accounts/acme", "ana", {"attributes": attributes}, 422, field)
            world.refused("POST", "/v1/opportunities", "ana", {
                "account_id": "acme", "name": "Deal", "amount": "1.00", "currency": "CNY",
                "expected_close": day(9), "attributes": attributes}, 422, field)
            world.refused("PATCH", world.path, "ana", {"attributes": attributes}, 422, field)
        for raw in (b'{"attributes": {"a": NaN}}', b'{"attributes": {"a": -Infinity}}',
                    b'{"attributes": {"a": 1e999}}'):
            world.refused("PATCH", "/v1/accounts/acme", "ana", raw=raw, status=422, field="attributes.a")


UNREADABLE = [  # account attributes the default grading policy reads but cannot score
    ("annual_potential", "1e6"), ("annual_potential", "-5"), ("annual_potential", -5),
    ("annual_potential", "9" * 40), ("annual_potential", 10**30), ("annual_potential", 5_000_000.5),
    ("annual_potential", True), ("annual_potential", ["6000000"]), ("annual_potential", {"v": 1}),
    ("annual_potential", "NaN"), ("annual_potential", "+5"), ("annual_potential", "1_000"),
    ("annual_potential", "１２"), ("share_of_wallet", 0.3), ("share_of_wallet", "3E-1"),
    ("share_of_wallet", "-0"), ("share_of_wallet", "0.1234567890123"),
    ("strategic_fit", "HIGH"), ("strategic_fit", 1), ("strategic_fit", ["high"]),
]


def test_grading_attributes_the_policy_cannot_read_are_refused_naming_the_attribute(world: World) -> None:
    with world.records_nothing():
        for name, value in UNREADABLE:
            field = f"attributes.{name}"
            world.refused("POST", "/v1/accounts", "ana", {"name": "Globex", "attributes": {name: value}},
                          422, field)
            world.refused("PATCH", "/v1/accounts/acme", "ana", {"attributes": {name: value}}, 422, field)


def test_attributes_merged_past_the_size_limit_are_refused_and_record_nothing(world: World) -> None:
    for path in ("/v1/accounts/acme", world.path):
        world.ok("PATCH", path, "ana", {"attributes": {"notes": "x" * 10_000}})
        world.refused("PATCH", path, "ana", {"attributes": {"more_notes": "y" * 10_000}}, 422,
                      "attributes")
        world.ok("PATCH", path, "ana", {"attributes": {"notes": None, "more_notes": "y" * 10_000}})


# -- policy documents ------------------------------------------------------------------------------

THIRDS = {name: {"weight": "0.333333333333", "levels": {"low": 0, "high": 100}}
          for name in ("fit", "depth", "wallet")}
POLICY_CASES: dict[str, list[tuple[tuple, Any, str]]] = {  # kind -> [(path, new value, field)]
    "account-grading": [
        (("criteria",), [], "criteria"),
        (("criteria",), {}, "criteria"),
        (("criteria",), THIRDS, "criteria"),
        (("criteria", "_type_"), {"weight": "0", "levels": {"a": 0}}, "criteria"),
        (("criteria", "strategic_fit"), ["high"], "criteria.strategic_fit"),
        (("criteria", "strategic_fit", "weight"), 0.25, "criteria.strategic_fit.weight"),
        (("criteria", "strategic_fit", "weight"), "1.5", "criteria.strategic_fit.weight"),
        (("criteria", "strategic_fit", "weight"), "-0", "criteria.strategic_fit.weight"),
        (("criteria", "strategic_fit", "weight"), "1e-3", "criteria.strategic_fit.weight"),
        (("criteria", "strategic_fit", "levels"), ["low", "high"], "criteria.strategic_fit.levels"),
        (("criteria", "strategic_fit", "levels", "high"), 99.5, "criteria.strategic_fit.levels.high"),
        (("criteria", "strategic_fit", "levels", "high"), 101, "criteria.strategic_fit.levels.high"),
        (("criteria", "strategic_fit", "bands"), [{"from": "0", "score": 0}], "criteria.strategic_fit"),
        (("criteria", "annual_potential", "bands"), {"from": "0", "score": 0},
         "criteria.annual_potential.bands"),
        (("criteria", "annual_potential", "bands", 1, "from"), "1e6",
         "criteria.annual_potential.bands[1].from"),
        (("criteria", "annual_potential", "bands", 1, "from"), -1,
         "criteria.annual_potential.bands[1].from"),
        (("criteria", "annual_potential", "bands", 1, "score"), 40.0,
         "criteria.annual_potential.bands[1].score"),
        (("criteria", "annual_potential", "bands", 1, "from"), "0", "criteria.annual_potential.bands"),
        (("grades", "S"), DROP, "grades"),
        (("grades", "D"), 0, "grades"),
        (("grades", "A"), 65.0, "grades.A"),
        (("grades", "C"), 1, "grades.C"),
        (("horoscope",), "good", "horoscope"),
    ],
    "opportunity-grading": [
        (("amount_bands",), [], "amount_bands"),
        (("amount_bands", "XXX"), [{"from": "0", "grade": "C"}], "amount_bands.XXX"),
        (("amount_bands", "cny"), [{"from": "0", "grade": "C"}], "amount_bands.cny"),
        (("amount_bands", "CNY"), {"from": "0", "grade": "C"}, "amount_bands.CNY"),
        (("amount_bands", "CNY"), [{"from": "0", "grade": "C"}, {"from": "0.00", "grade": "A"}],
         "amount_bands.CNY"),
        (("amount_bands", "CNY", 1, "from"), "-5", "amount_bands.CNY[1].from"),
        (("amount_bands", "CNY", 1, "from"), "1e6", "amount_bands.CNY[1].from"),
        (("amount_bands", "CNY", 1, "from"), 100.5, "amount_bands.CNY[1].from"),
        (("amount_bands", "CNY", 1, "from"), "9" * 20, "amount_bands.CNY[1].from"),
        (("amount_bands", "CNY", 1, "from_minor"), 5, "amount_bands.CNY[1].from_minor"),
        (("amount_bands", "CNY", 1, "from_minor"), 100_000_000.0, "amount_bands.CNY[1].from_minor"),
        (("amount_bands", "CNY", 0, "grade"), "S", "amount_bands.CNY[0].grade"),
        (("amount_bands", "CNY", 0, "grade"), ["C"], "amount_bands.CNY[0].grade"),
        (("amount_bands", "JPY"), [{"from": "0", "grade": "C"}, {"from": "100.5", "grade": "B"}],
         "amount_bands.JPY[1].from"),
        (("strategic_attributes", "new_logo"), 3, "strategic_attributes.new_logo"),
        (("strategic_attributes", "new_logo"), 1.0, "strategic_attributes.new_logo"),
        (("required_roles", "A"), ["AR", "AR"], "required_roles.A"),
        (("required_roles", "A"), ["SUPPORT"], "required_roles.A"),
        (("required_roles", "A"), [["AR"]], "required_roles.A"),
        (("required_roles", "C"), DROP, "required_roles"),
    ],
    "relationship-standard": [
        (("win_probability",), {"0": "0.05"}, "win_probability"),
        (("win_probability", 1, "probability"), "1.5", "win_probability[1].probability"),
        (("win_probability", 1, "probability"), "-0", "win_probability[1].probability"),
        (("win_probability", 1, "probability"), "1e-3", "win_probability[1].probability"),
        (("win_probability", 1, "probability"), 0.15, "win_probability[1].probability"),
        (("win_probability", 1, "from_score"), 20.5, "win_probability[1].from_score"),
        (("win_probability", 1, "from_score"), "20", "win_probability[1].from_score"),
        (("win_probability", 4, "probability"), "0.10", "win_probability"),
        (("win_probability", 0, "from_score"), 5, "win_probability"),
        (("criteria",), THIRDS, "criteria"),
        (("criteria", "coach_inside", "bands"), [{"from": "0", "score": 0}], "criteria.coach_inside"),
        (("criteria", "coach_inside", "levels", "active"), 100.0, "criteria.coach_inside.levels.active"),
    ],
    "incentive": [
        (("pool_rate_by_grade", "A"), "1", "pool_rate_by_grade.A"),
        (("pool_rate_by_grade", "A"), 0.03, "pool_rate_by_grade.A"),
        (("pool_rate_by_grade", "S"), "0.05", "pool_rate_by_grade"),
        (("role_shares",), {"AR": "0.333333333333", "SR": "0.333333333333", "FR": "0.333333333333"},
         "role_shares"),
        (("role_shares", "XX"), "0", "role_shares"),
        (("kind_weights",), {}, "kind_weights"),
        (("kind_weights", "visit"), 1.5, "kind_weights.visit"),
        (("kind_weights", "visit"), -1, "kind_weights.visit"),
        (("kind_weights", "Visit"), 1, "kind_weights"),
        (("member_cap",), "0", "member_cap"),
        (("member_cap",), "1e-3", "member_cap"),
        (("holdback",), "1", "holdback"),
    ],
}


def changed(document: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(document)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    if value is DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


@pytest.mark.parametrize("kind", list(POLICY_CASES))
def test_malformed_policy_documents_are_refused_naming_the_field(world: World, kind: str) -> None:
    document = world.policy(kind)
    with world.records_nothing():
        for path, value, field in POLICY_CASES[kind]:
            world.refused("POST", f"/v1/policies/{kind}", "fin", changed(document, path, value), 422, field)
        for key in document:
            for wrong in ([], 7, None):
                if wrong is None and key in ("member_cap", "holdback"):
                    continue  # null there means no cap, no holdback
                world.refused("POST", f"/v1/policies/{kind}", "fin", {**document, key: wrong}, 422, key)
        world.refused("POST", f"/v1/policies/{kind}", "fin", [document], 422, "body")


def test_every_kind_of_policy_read_back_is_accepted_again_as_it_is_shown(world: World) -> None:
    for kind in POLICY_CASES:
        shown = world.policy(kind)
        with world.records_nothing():  # the same document as the latest version adds nothing
            again = world.ok("POST", f"/v1/policies/{kind}", "fin", shown, 201)
        assert again["version"] == 1
        added = world.ok("POST", f"/v1/policies/{kind}", "fin",
                         {**shown, "effective_from": "2026-02-01"}, 201)
        assert added["version"] == 2
        versions = world.ok("GET", f"/v1/policies/{kind}", "fin")["versions"]
        assert versions[0]["hash"] != versions[1]["hash"]  # the version number is hashed too


def test_effective_from_is_an_iso_date_string_from_2000_on(world: World) -> None:
    documents = {kind: world.policy(kind) for kind in POLICY_CASES}
    with world.records_nothing():
        for kind, document in documents.items():
            for effective_from in (20260101, "0001-01-01", "1999-12-31", "2026-02-30",
                                   "2026-01-01T00:00:00", None, ["2026-01-01"]):
                world.refused("POST", f"/v1/policies/{kind}", "fin",
                              {**document, "effective_from": effective_from}, 422, "effective_from")
