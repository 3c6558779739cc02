"""The reference screens without a browser: an account for its team only (a 404 page with nothing
of it for anyone else), a member's board for them and the leads, calibration by group with its
reliability diagram, and the policies with a diff between two versions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from main.services import Services
from main.settings import Settings
from tests.builders import open_deal, register_team
from tests.e2e.test_web import browser, signed_in
from tests.ledger import ALICE, BOB, FINANCE, LEAD

WARM = {"decision_maker_stance": "neutral", "coach_inside": "informal", "budget_confirmed": "estimated",
        "technical_preference": "open", "competitive_position": "even", "executive_relationship": "met"}
PLAN = "Map the buying centre"
CALL = "Reference call with Globex"


@pytest.fixture
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app)
        yield services


def _day(world: Services, days: int) -> str:
    return (world.app.clock().date() + timedelta(days=days)).isoformat()


@pytest.fixture
def account(world: Services) -> str:
    """Acme, alice's account (she registered it), with bob on its team; a task the loop took from
    created to done and back (reopened) and to done again, one not assigned, one of bob's still
    open; alice's deal on it, which bob is not on."""
    app = world.app
    app.register_account(ALICE, name="Acme Logistics", industry="logistics", account_id="acme", attributes={
        "annual_potential": "6000000", "strategic_fit": "high", "share_of_wallet": "0.3"})
    app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
    task = app.create_task(ALICE, "acme", title=PLAN, due=_day(world, 3)).id
    app.assign_task(ALICE, task, "bob")
    app.complete_task(BOB, task, note="org chart")
    app.reopen_task(ALICE, task, "the CFO is missing")
    app.complete_task(BOB, task, note="with the CFO")
    app.create_task(ALICE, "acme", title="Executive dinner", due=_day(world, 10))
    app.create_task(ALICE, "acme", title=CALL, due=_day(world, 5), assignee="bob")
    open_deal(app, ALICE)  # "Acme core banking", on account acme; bob is not on it
    world.runner.catch_up()
    return "acme"


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_member_off_the_account_team_gets_the_404_page_with_nothing_of_it(
        world: Services, account: str) -> None:
    with signed_in(browser(world), world, "dave") as dave:
        hidden = dave.get(f"/accounts/{account}")

    assert hidden.status_code == 404
    for secret in ("Acme Logistics", PLAN, "Executive dinner", "solution_lead", "Acme core banking"):
        assert secret not in hidden.text


def test_the_account_team_sees_the_grade_history_team_and_plan_with_its_loop(
        world: Services, account: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/accounts/{account}")
    with signed_in(browser(world), world, "alice") as alice:
        mine = alice.get(f"/accounts/{account}").text

    assert page.status_code == 200
    text = _text(page.text)
    assert "Acme Logistics" in text and "as of position" in text
    assert re.search(r'id="grade-history".*?registered.*?</table>', page.text, re.S)  # why it was graded
    assert "annual_potential" in text and "6000000" in text
    assert "solution_lead" in text and "account_manager" in text  # the team and its history
    task = re.search(rf'<tr id="task-[^"]+">\s*<th scope="row">{PLAN}</th>.*?</tr>', page.text, re.S)
    row = _text(task.group(0))
    assert "done" in row and "with the CFO" in row and "the CFO is missing" in row  # reopened once
    assert "Executive dinner" in text and "not assigned" in text
    # the deals on the account that the reader may see: bob is not on alice's deal, alice is
    assert "Acme core banking" not in page.text and "/opportunities/" not in page.text
    assert "Acme core banking" in mine and re.search(r'href="/opportunities/[0-9a-f-]{36}"', mine)


def test_a_member_sees_their_own_page_and_a_404_for_anothers_and_a_lead_sees_anyones(
        world: Services, account: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        own = bob.get("/members/bob")
        other = bob.get("/members/alice")
    with signed_in(browser(world), world, "lin", "lead") as lead:
        alices = lead.get("/members/alice")

    assert own.status_code == 200
    assert "Bob" in own.text and "presales" in own.text
    tasks = re.search(r'<table id="tasks">.*?</table>', own.text, re.S).group(0)
    assert CALL in tasks and PLAN not in tasks  # his open task; the done one waits on alice
    assert "Points" in own.text and 'id="projected"' in own.text and 'id="earned"' in own.text
    assert other.status_code == 404 and "Alice" not in other.text and "Acme core banking" not in other.text
    assert alices.status_code == 200
    assert "Alice" in alices.text and "Acme core banking" in alices.text  # her deal, projected


def _closed_and_assessed(world: Services) -> None:
    """alice's and bob's deals, each assessed by its AR and lost."""
    for opener in (ALICE, BOB):
        oid = open_deal(world.app, opener, name=f"{opener.member_id}'s deal")
        world.app.assess(opener, oid, WARM)
        world.app.lose(LEAD, oid, reason="budget frozen", closed_on=_day(world, 0))
    world.runner.catch_up()


def test_calibration_by_member_shows_a_member_their_own_group_and_a_lead_every_group(world: Services) -> None:
    _closed_and_assessed(world)
    with signed_in(browser(world), world, "alice") as alice:
        hers = alice.get("/calibration?by=member")
    with signed_in(browser(world), world, "lin", "lead") as lead:
        every = lead.get("/calibration?by=member")
        refused = lead.get("/calibration?by=planet")

    assert hers.status_code == every.status_code == 200
    assert "member:alice" in hers.text and "member:bob" not in hers.text
    assert "member:alice" in every.text and "member:bob" in every.text
    svg = re.search(r"<svg[^>]*reliability[^>]*>.*?</svg>", every.text, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "<circle" in svg and 'class="diagonal"' in svg
    assert 'id="reliability-1-table"' in every.text and "<caption>" in every.text
    assert refused.status_code == 422


def test_the_policies_list_each_kinds_versions_and_the_diff_shows_a_changed_field(world: Services) -> None:
    first = world.app.policies("incentive")[0].document()
    world.app.add_policy(FINANCE, "incentive", {
        **{k: v for k, v in first.items() if k != "version"}, "name": "team selling",
        "effective_from": _day(world, 0), "member_cap": "0.35",
        "kind_weights": {**first["kind_weights"], "demo": 4}})
    with signed_in(browser(world), world, "bob") as bob:
        listed = bob.get("/policies")
        diff = bob.get("/policies/incentive?from=1&to=2")
        grading = bob.get("/policies/account-grading")  # one version: shown in full
        unknown = bob.get("/policies/planets")
        missing = bob.get("/policies/incentive?from=1&to=9")

    assert listed.status_code == 200
    for kind in ("incentive", "opportunity-grading", "account-grading", "relationship-standard"):
        table = re.search(rf'<table id="versions-{kind}">.*?</table>', listed.text, re.S).group(0)
        assert "sha256:" in table and "<th scope=\"row\">1</th>" in table
    incentive = re.search(r'<table id="versions-incentive">.*?</table>', listed.text, re.S).group(0)
    assert "team selling" in incentive and "<th scope=\"row\">2</th>" in incentive

    assert diff.status_code == 200
    rows = {re.sub(r"<[^>]+>", "", path): (before, after) for path, before, after in re.findall(
        r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td><td>(.*?)</td></tr>", diff.text)}
    assert rows["kind_weights.demo"] == ("3", "4")
    assert rows["member_cap"] == ("null", "0.35")
    assert rows["name"] == ("default", "team selling")
    assert "kind_weights.visit" not in rows and "version" not in rows  # only what differs
    assert grading.status_code == 200 and 'id="document"' in grading.text and "<code>grades." in grading.text
    assert unknown.status_code == 404 and missing.status_code == 404
