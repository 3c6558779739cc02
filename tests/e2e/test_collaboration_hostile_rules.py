"""Hostile use of the collaboration API past the bodies (issue 3), on the embedded store and on
PostgreSQL: assessments, dates, calibration and boards, roles, idempotency keys, steps out of order."""

from __future__ import annotations

from typing import Any

from tests.e2e import test_collaboration_hostile as hostile
from tests.e2e.test_api import assert_problem, day, log_position
from tests.e2e.test_collaboration_hostile import POLICY_CASES, SURROGATE, WARM, World

world = hostile.world  # the fixture: the team, Acme's account and its WMS opportunity


# -- assessments, dates, calibration, boards -------------------------------------------------------

def test_assessment_answers_that_are_not_levels_are_refused_naming_the_criterion(world: World) -> None:
    with world.records_nothing():
        for answer in (40, 0.5, True, None, ["neutral"], {"level": "neutral"}, "NEUTRAL", "neutral ",
                       "a\x00b", SURROGATE, "x" * 5000):
            world.refused("POST", f"{world.path}/assessments", "ana",
                          {"answers": {**WARM, "decision_maker_stance": answer}}, 422,
                          "answers.decision_maker_stance")
        world.refused("POST", f"{world.path}/assessments", "ana", {"answers": {**WARM, "_type_": "x"}},
                      422, "answers._type_")
        world.refused("POST", f"{world.path}/assessments", "ana", {"answers": {}}, 422,
                      "answers.decision_maker_stance")


def test_dates_at_the_ends_of_the_calendar_impossible_days_and_date_times_are_refused(
        world: World) -> None:
    with world.records_nothing():
        for when in ("0001-01-01", "1999-12-31", "2026-02-30", "2027-02-29", day(1) + "T00:00:00",
                     day(1) + "T00:00:00Z", " " + day(1), "+2030-01-01", "2030-1-1", "２０３０-01-01",
                     day(1) + "\x00", day(-1)):
            world.refused("POST", "/v1/accounts/acme/tasks", "ana", {"title": "Call", "due": when}, 422, "due")
            world.refused("POST", f"{world.path}/requests", "ana", {
                "to_member": "sam", "kind": "demo", "summary": "s", "due": when}, 422, "due")
            if when != day(-1):  # a deal may be expected to have closed already
                world.refused("PATCH", world.path, "ana", {"expected_close": when}, 422, "expected_close")


def test_the_last_day_of_the_calendar_is_a_due_date_every_board_can_show(world: World) -> None:
    task = world.ok("POST", "/v1/accounts/acme/tasks", "ana",
                    {"title": "Renew", "assignee": "sam", "due": "9999-12-31"}, 201)
    request = world.ok("POST", f"{world.path}/requests", "ana", {
        "to_member": "sam", "kind": "demo", "summary": "s", "due": "9999-12-31"}, 201)
    world.ok("POST", f"/v1/requests/{request['id']}/accept", "sam")
    delivered = world.ok("POST", f"/v1/requests/{request['id']}/deliver", "sam")
    after = f"?after={delivered['position']}"
    assert [t["due"] for t in world.ok("GET", f"/v1/accounts/acme/board{after}", "ana")["tasks"]] == [
        "9999-12-31"]
    assert [t["task_id"] for t in world.ok("GET", f"/v1/members/sam/board{after}", "sam")["tasks"]] == [
        task["id"]]
    [asked] = world.ok("GET", f"{world.path}/board{after}", "ana")["requests"]
    assert asked["due_state"] == "delivered_on_time"


def test_calibration_refuses_a_grouping_it_does_not_know_naming_by(world: World) -> None:
    for by in ("planet", "", "MEMBER", "member%20", "%00", "%ED%A0%80", "a" * 3000):
        for who in ("lee", "ana", "aud"):
            assert_problem(world.call("GET", f"/v1/calibration?by={by}", who), 422, "by")
    for after in ("-1", "abc", "1.5", "9" * 30):
        assert_problem(world.call("GET", f"/v1/calibration?by=team&after={after}", "lee"), 422, "after")


def test_member_boards_of_unknown_members_and_of_other_members_answer_404_alike(
        world: World) -> None:
    for member in ("ghost", "%20", "%00", "a" * 300):
        for reader in ("lee", "fin", "aud", "ana"):
            assert_problem(world.call("GET", f"/v1/members/{member}/board", reader), 404, "member_id")
    assert_problem(world.call("GET", "/v1/members/sam/board", "ana"), 404, "member_id")
    after = log_position(world.client)
    assert_problem(world.call("GET", f"/v1/accounts/acme/board?after={after}", "oz"), 404, "account_id")


# -- roles -----------------------------------------------------------------------------------------

def every_command(w: World) -> list[tuple[str, str, Any]]:
    """Each write of the API with a body that is valid, on targets in the state it needs."""
    task, done, request = w.task(), w.task("done"), w.request()
    accepted, delivered = w.request("accepted"), w.request("delivered")
    return [
        ("POST", "/v1/accounts", {"id": "globex", "name": "Globex"}),
        ("PATCH", "/v1/accounts/acme", {"attributes": {"strategic_fit": "high"}}),
        ("POST", "/v1/accounts/regrade", None),
        ("POST", "/v1/accounts/acme/team", {"member_id": "fay", "role": "member"}),
        ("DELETE", "/v1/accounts/acme/team/sam", None),
        ("POST", "/v1/accounts/acme/tasks", {"title": "Call", "due": day(3)}),
        ("POST", f"/v1/tasks/{task}/assign", {"assignee": "fay"}),
        ("POST", f"/v1/tasks/{task}/complete", None),
        ("POST", f"/v1/tasks/{done}/verify", None),
        ("POST", f"/v1/tasks/{done}/reopen", {"reason": "r"}),
        ("POST", f"{w.path}/requests", {"to_member": "sam", "kind": "demo", "summary": "s", "due": day(3)}),
        ("POST", f"/v1/requests/{request}/accept", None),
        ("POST", f"/v1/requests/{request}/decline", {"reason": "r"}),
        ("POST", f"/v1/requests/{accepted}/deliver", None),
        ("POST", f"/v1/requests/{delivered}/rate", {"score": 5}),
        ("POST", f"{w.path}/assessments", {"answers": WARM}),
        ("PATCH", w.path, {"expected_close": day(45)}),
        ("POST", "/v1/opportunities", {"account_id": "acme", "name": "Deal", "amount": "1.00",
                                       "currency": "CNY", "expected_close": day(9)}),
        ("PUT", f"{w.path}/triangle/SR", {"member_id": "sam"}),
        ("POST", f"{w.path}/supporters", {"member_id": "fay"}),
        ("POST", f"{w.path}/win", {"closed_on": day(0)}),
        ("POST", f"{w.path}/lose", {"reason": "budget", "closed_on": day(0)}),
        ("POST", "/v1/members", {"id": "zed", "name": "Zed", "department": "sales"}),
        *[("POST", f"/v1/policies/{kind}", w.policy(kind)) for kind in POLICY_CASES],
    ]


def test_an_auditor_changes_nothing_anywhere_even_with_a_malformed_body(world: World) -> None:
    commands = every_command(world)
    with world.records_nothing():
        for method, path, body in commands:
            world.refused(method, path, "aud", body, 403)
            world.refused(method, path, "aud", {"horoscope": "good"}, 403)


def test_roles_without_the_right_are_refused_with_403_and_record_nothing(world: World) -> None:
    commands = {(method, path): body for method, path, body in every_command(world)}
    finance_may = {("POST", "/v1/accounts/regrade")} | {
        ("POST", f"/v1/policies/{kind}") for kind in POLICY_CASES}
    with world.records_nothing():
        for (method, path), body in commands.items():
            if (method, path) not in finance_may:
                world.refused(method, path, "fin", body, 403)
        for who in ("ana", "lee"):
            for kind in POLICY_CASES:
                world.refused("POST", f"/v1/policies/{kind}", who, commands["POST", f"/v1/policies/{kind}"], 403)
            world.refused("POST", "/v1/members", who, commands["POST", "/v1/members"], 403)
        world.refused("POST", "/v1/accounts/regrade", "ana", None, 403)
        outsider = [("PATCH", "/v1/accounts/acme"), ("POST", "/v1/accounts/acme/team"),
                    ("DELETE", "/v1/accounts/acme/team/sam"), ("POST", "/v1/accounts/acme/tasks")]
        for method, path in outsider:  # an account oz is not on does not exist for him
            world.refused(method, path, "oz", commands[method, path], 404, "account_id")
        for method, path in [("POST", f"{world.path}/requests"), ("POST", f"{world.path}/assessments"),
                             ("PATCH", world.path)]:  # a deal oz is not on does not exist for him
            world.refused(method, path, "oz", commands[method, path], 404, "opportunity_id")
        delivered = next(p for m, p in commands if p.endswith("/rate"))
        world.refused("POST", delivered, "lee", {"score": 5}, 403)  # only the requester rates
        done = next(p for m, p in commands if p.endswith("/verify"))
        world.refused("POST", done, "sam", None, 403)  # never the assignee
        world.refused("PATCH", world.path, "ana", {"grade": "A"}, 403, "grade")  # only a lead overrides


# -- idempotency -----------------------------------------------------------------------------------

def test_an_idempotency_key_replays_the_same_body_and_refuses_another_on_the_new_posts(
        world: World) -> None:
    posts = [
        ("/v1/accounts", "ana", {"name": "Globex"}, {"name": "Initech"}),
        ("/v1/accounts/acme/tasks", "ana", {"title": "Call", "due": day(3)}, {"title": "Visit", "due": day(3)}),
        (f"{world.path}/requests", "ana", {"to_member": "sam", "kind": "demo", "summary": "s", "due": day(3)},
         {"to_member": "pia", "kind": "demo", "summary": "s", "due": day(3)}),
        (f"{world.path}/assessments", "ana", {"answers": WARM},
         {"answers": {**WARM, "coach_inside": "active"}}),
        (f"{world.path}/assessments", "ana", {"answers": {}}, {"answers": WARM}),  # a refusal: not kept
        ("/v1/policies/relationship-standard", "fin", world.policy("relationship-standard"), {}),
    ]
    for n, (path, who, body, other) in enumerate(posts):
        key = {"Idempotency-Key": f"hostile-{n}"}
        first = world.call("POST", path, who, body, headers=key)
        assert first.status_code in (201, 422), first.text
        before = log_position(world.client)
        again = world.call("POST", path, who, body, headers=key)
        assert (again.status_code, again.content) == (first.status_code, first.content)
        if first.status_code == 422:  # a refusal keeps no key: the retry is refused afresh
            assert "Idempotent-Replayed" not in again.headers
            assert log_position(world.client) == before
            continue
        assert again.headers["Idempotent-Replayed"] == "true"
        assert_problem(world.call("POST", path, who, other, headers=key), 409)
        elsewhere = "/v1/accounts" if path != "/v1/accounts" else "/v1/accounts/acme/tasks"
        assert_problem(world.call("POST", elsewhere, who, body, headers=key), 409)
        assert log_position(world.client) == before


# -- steps out of order ----------------------------------------------------------------------------

TASK_STEPS = [  # (the task's status, the step, who takes it, body)
    ("created", "complete", "lee", None), ("created", "verify", "lee", None),
    ("created", "reopen", "lee", {"reason": "r"}), ("assigned", "verify", "ana", None),
    ("assigned", "reopen", "ana", {"reason": "r"}), ("done", "complete", "sam", None),
    ("done", "assign", "ana", {"assignee": "fay"}), ("verified", "verify", "ana", None),
    ("verified", "complete", "sam", None), ("verified", "assign", "ana", {"assignee": "sam"}),
]
REQUEST_STEPS = [  # (the request's status, the step, who takes it, body)
    ("open", "deliver", "sam", None), ("open", "rate", "ana", {"score": 3}),
    ("accepted", "accept", "sam", None), ("accepted", "decline", "sam", {"reason": "r"}),
    ("accepted", "rate", "ana", {"score": 3}), ("delivered", "deliver", "sam", None),
    ("delivered", "decline", "sam", {"reason": "r"}), ("rated", "rate", "ana", {"score": 4}),
    ("declined", "accept", "sam", None), ("declined", "deliver", "lee", None),
    ("declined", "rate", "ana", {"score": 3}), ("declined", "decline", "sam", {"reason": "r"}),
]


def test_a_task_refuses_every_step_out_of_order_naming_its_status(world: World) -> None:
    tasks = {status: world.task(status) for status in ("created", "assigned", "done", "verified")}
    with world.records_nothing():
        for status, step, who, body in TASK_STEPS:
            world.refused("POST", f"/v1/tasks/{tasks[status]}/{step}", who, body, 409, "status")


def test_a_support_request_refuses_every_step_out_of_order_naming_its_status(world: World) -> None:
    requests = {status: world.request(status)
                for status in ("open", "accepted", "delivered", "rated", "declined")}
    with world.records_nothing():
        for status, step, who, body in REQUEST_STEPS:
            world.refused("POST", f"/v1/requests/{requests[status]}/{step}", who, body, 409, "status")
