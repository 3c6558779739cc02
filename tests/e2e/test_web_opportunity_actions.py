"""The opportunity page's actions without a browser: reverse a contribution with a reason, ask for
support, assess, seat the triangle, win or lose. Each is offered only to whom the domain allows it,
records through the same command as the API, once for a form sent twice, and shows the write on the
page it leads to; a refusal shows the problem's detail beside the field it names and records
nothing, and so does a post from another site or by someone the domain refuses."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from main.services import Services
from tests.builders import DEAL, confirm, contribute
from tests.e2e import test_web
from tests.e2e.test_web import HERE, browser, signed_in
from tests.ledger import ADMIN, ALICE, BOB, LEAD, events, head

world, deal = test_web.world, test_web.deal  # the team registered; alice's deal (her AR seat), bob its SR

ORIGIN = {"Origin": HERE}
# the default relationship standard's best level of each criterion: score 100, win probability 0.85
ANSWERS = {"answers.decision_maker_stance": "champion", "answers.coach_inside": "active",
           "answers.budget_confirmed": "approved", "answers.technical_preference": "ours",
           "answers.competitive_position": "ahead", "answers.executive_relationship": "trusted"}


def day(days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def action(oid: str, name: str, cid: str | None = None) -> str:
    """The path each form posts to."""
    return {"reverse": f"/opportunities/{oid}/contributions/{cid}/reverse",
            "request": f"/opportunities/{oid}/requests", "assess": f"/opportunities/{oid}/assessments",
            "seat": f"/opportunities/{oid}/triangle", "win": f"/opportunities/{oid}/win",
            "lose": f"/opportunities/{oid}/lose"}[name]


def good(name: str) -> dict[str, str]:
    """What a form sends when it is filled in right (by the deal's AR)."""
    return {"reverse": {"reason": "recorded on the wrong deal"},
            "request": {"to_member": "carol", "to_department": "", "kind": "delivery_estimate",
                        "summary": "A delivery plan for the three sites", "due": day(7)},
            "assess": ANSWERS,
            "seat": {"role": "FR", "member_id": "carol"},
            "win": {"closed_on": day(), "amount": ""},
            "lose": {"reason": "lost on price", "closed_on": day()}}[name]


EVENT = {"reverse": "ContributionReversed", "request": "Opened", "assess": "Assessed",
         "seat": "TriangleRoleAssigned", "win": "Won", "lose": "Lost"}
BEFORE = {"seat": 2}  # the deal's story seated alice (opening it) and bob already
NAMES = list(EVENT)


def form_keys(page: str, path: str) -> dict[str, str]:
    """The session's token and the fresh key of the form that posts to `path` on the page."""
    found = re.search(rf'action="{re.escape(path)}"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)">'
                      r'\s*<input type="hidden" name="key" value="([^"]+)">', page)
    assert found, f"no form posting to {path} on the page"
    return {"csrf": found.group(1), "key": found.group(2)}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def recorded(world: Services, kind: str, aggregate: str = "") -> int:
    """How many events of this class the log holds (`aggregate`: of that aggregate class only)."""
    notifications = world.app.recorder.select_notifications(1, 100_000)
    return sum(n.topic.rsplit(":", 1)[-1] == f"{aggregate}.{kind}" if aggregate
               else n.topic.endswith(f".{kind}") for n in notifications)


def count(world: Services, name: str) -> int:
    """How many times the form's command has recorded its event, beyond the deal's own story."""
    return recorded(world, EVENT[name], "SupportRequest" if name == "request" else "") - BEFORE.get(name, 0)


def send(client: TestClient, oid: str, name: str, fields: dict[str, str], cid: str | None = None,
         page: str | None = None) -> Response:
    """Fill in the reader's own form (read from the page) and send it."""
    path = action(oid, name, cid)
    page = page if page is not None else client.get(f"/opportunities/{oid}").text
    return client.post(path, data={**form_keys(page, path), **fields}, headers=ORIGIN,
                       follow_redirects=False)


def forge(client: TestClient, oid: str, name: str, fields: dict[str, str],
          cid: str | None = None) -> Response:
    """Post an action the reader's page does not offer them, with their session's own token."""
    token = csrf_of(client.get("/").text)
    return client.post(action(oid, name, cid), data={"csrf": token, "key": "forged", **fields},
                       headers=ORIGIN, follow_redirects=False)


@pytest.fixture
def work(world: Services, deal: str) -> str:
    """bob's demo on alice's deal, recorded (not confirmed yet): its contribution id."""
    return contribute(world.app, deal, BOB, "demo", summary="Demo for the CFO")


# -- success: recorded once through the command, shown on the page it leads to ---------------------

SHOWN = {
    "reverse": r"<td>reversed: recorded on the wrong deal</td>",
    "request": r'<tr id="request-[0-9a-f-]+">\s*<td>carol</td><td>delivery_estimate</td>'
               r"<td>A delivery plan for the three sites</td>",
    "assess": r"<dt>Win probability</dt><dd>0\.85 <small>\(score 100, standard v1, by alice\)",
    "seat": r'<th scope="row">FR</th><td>carol</td>',
    "win": rf"<p>{DEAL['account_id']} · won</p>[\s\S]*<a href=\"/allocations/[0-9a-f-]+\">Allocation</a>",
    "lose": rf"<p>{DEAL['account_id']} · lost</p>",
}


@pytest.mark.parametrize("name", NAMES)
def test_the_ar_s_form_records_through_the_command_and_the_page_shows_the_write(
        world: Services, deal: str, work: str, name: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        sent = send(alice, deal, name, good(name), work)
        location = sent.headers["location"]
        shown = alice.get(location)

    assert sent.status_code == 303
    assert re.fullmatch(rf"/opportunities/{deal}\?after=(\d+)", location)
    assert int(location.rsplit("=", 1)[1]) == head(world.app)  # the page waited for the write
    assert count(world, name) == 1
    assert shown.status_code == 200 and re.search(SHOWN[name], shown.text), shown.text


def test_the_reversal_keeps_the_work_on_the_record_with_who_reversed_it_and_why(
        world: Services, deal: str, work: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        send(alice, deal, "reverse", {"reason": "the CFO was not there"}, work)

    reversed_ = [e for e in events(world.app, deal) if type(e).__name__ == "ContributionReversed"]
    assert [(e.contribution_id, e.reason, e.actor) for e in reversed_] == [
        (work, "the CFO was not there", "alice")]


def test_a_request_to_a_department_and_a_handover_of_the_ar_seat(world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        asked = send(alice, deal, "request",
                     {**good("request"), "to_member": "", "to_department": "presales"})
        handed = send(alice, deal, "seat", {"role": "AR", "member_id": "dave"})
        after = alice.get(handed.headers["location"]).text

    board = world.queries.boards.board(LEAD, deal)
    assert asked.status_code == handed.status_code == 303
    assert [(r.to_member, r.to_department, r.requested_by) for r in board.requests] == [
        (None, "presales", "alice")]
    assert board.triangle.AR == "dave"
    assert [(h.role, h.member_id, h.previous) for h in board.triangle_history][-1] == ("AR", "dave", "alice")
    assert DEAL["name"] in after and 'id="actions"' not in after  # she reads it still, on it no more


def test_a_lead_with_no_stake_wins_above_the_open_amount_with_a_reason(world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "lin", "lead") as lin:
        won = send(lin, deal, "win", {"closed_on": day(), "amount": "1200000.00",
                                      "reason": "the customer added a site at signature"})

    assert won.status_code == 303
    [event] = [e for e in events(world.app, deal) if type(e).__name__ == "Won"]
    assert (event.amount, event.lead_call, event.reason) == (120000000, ["above_open_amount"],
                                                            "the customer added a site at signature")


# -- who gets which form ----------------------------------------------------------------------------

@pytest.mark.parametrize("member, role, forms, reverses", [
    ("alice", "member", {"ask", "assess", "seat", "close"}, True),  # the AR
    ("bob", "member", {"ask", "assess"}, False),  # on the deal, not its AR
    ("lin", "lead", {"ask", "assess", "seat", "close"}, True),
    ("fiona", "finance", set(), False),  # reads every deal, changes none of it
    ("audrey", "auditor", set(), False),
], ids=["ar", "sr", "lead", "finance", "auditor"])
def test_each_reader_gets_the_forms_the_domain_allows_them_and_no_other(
        world: Services, deal: str, work: str, member: str, role: str, forms: set, reverses: bool) -> None:
    with signed_in(browser(world), world, member, role) as reader:
        page = reader.get(f"/opportunities/{deal}").text
        region = reader.get(f"/opportunities/{deal}/board").text

    shown = {form for form in ("ask", "assess", "seat", "close") if f'<article id="{form}"' in page}
    assert shown == forms
    assert ('id="actions"' in page) == bool(forms)
    assert ("Reverse demo by bob" in page) == ("Reverse demo by bob" in region) == reverses
    assert 'id="actions"' not in region  # the forms stay outside the live region


def test_after_the_win_the_ar_has_nothing_left_to_do_and_a_lead_may_still_reverse(
        world: Services, deal: str, work: str) -> None:
    world.app.win(ALICE, deal, closed_on=day())
    world.runner.catch_up()
    with signed_in(browser(world), world, "alice") as alice:
        hers = alice.get(f"/opportunities/{deal}").text
    with signed_in(browser(world), world, "lin", "lead") as lin:
        leads = lin.get(f"/opportunities/{deal}").text

    assert 'id="actions"' not in hers and "Reverse demo by bob" not in hers
    assert 'id="actions"' not in leads and "Reverse demo by bob" in leads


def test_a_lead_with_a_stake_is_offered_no_reversal_of_others_confirmed_work(
        world: Services, deal: str, work: str) -> None:
    confirm(world.app, deal, work, LEAD)
    world.runner.catch_up()
    with signed_in(browser(world), world, "lin", "lead") as lin:
        free = lin.get(f"/opportunities/{deal}").text
    world.app.register_member(ADMIN, "lin", "Lin", "management")
    world.app.assign_triangle_role(LEAD, deal, "FR", "lin")  # now lin has a stake in the deal
    before = head(world.app)
    with signed_in(browser(world), world, "lin", "lead") as lin:
        staked = lin.get(f"/opportunities/{deal}").text
        refused = forge(lin, deal, "reverse", {"reason": "not really a demo"}, work)

    assert "Reverse demo by bob" in free and "Reverse demo by bob" not in staked
    assert refused.status_code == 403 and "another lead decides it" in refused.text
    assert head(world.app) == before


# -- refusals: the problem's detail beside the field it names, nothing recorded ----------------------

def element(name: str, field: str, cid: str) -> str:
    """The id of the form's element for a field."""
    if name == "reverse":
        return f"reverse-reason-{cid}"
    if name == "assess":
        return f"assess-{field.removeprefix('answers.')}"
    return f"{'ask' if name == 'request' else name}-{field}"


REFUSALS = [
    ("reverse", {"reason": "   "}, 422, "reason"),
    ("request", {"kind": "Solution Design"}, 422, "kind"),
    ("request", {"to_member": "", "to_department": ""}, 422, "to_member"),
    ("request", {"to_member": "carol", "to_department": "presales"}, 422, "to_member"),
    ("request", {"to_member": "alice"}, 422, "to_member"),  # not herself
    ("request", {"to_member": "nobody"}, 404, "to_member"),
    ("request", {"due": day(-1)}, 422, "due"),
    ("request", {"summary": ""}, 422, "summary"),
    ("assess", {"answers.coach_inside": ""}, 422, "answers.coach_inside"),
    ("assess", {"answers.coach_inside": "bribed"}, 422, "answers.coach_inside"),
    ("seat", {"member_id": "nobody"}, 404, "member_id"),
    ("seat", {"role": "XR"}, 422, "role"),
    ("seat", {"role": "SR", "member_id": "alice"}, 403, "member_id"),  # she holds the AR seat
    ("win", {"closed_on": day(1)}, 422, "closed_on"),
    ("win", {"closed_on": "31/12/2026"}, 422, "closed_on"),
    ("win", {"amount": "2000000.00"}, 403, "amount"),  # above the open amount: a lead's call
    ("win", {"amount": "-5"}, 422, "amount"),
    ("lose", {"reason": ""}, 422, "reason"),
    ("lose", {"closed_on": day(1)}, 422, "closed_on"),
]


@pytest.mark.parametrize("name, changes, status, field", REFUSALS,
                         ids=[f"{n}-{f}-{s}-{i}" for i, (n, _, s, f) in enumerate(REFUSALS)])
def test_a_refused_form_shows_the_detail_beside_its_field_and_records_nothing(
        world: Services, deal: str, work: str, name: str, changes: dict, status: int, field: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        before = head(world.app)
        refused = send(alice, deal, name, {**good(name), **changes}, work)
        after_refusal = head(world.app)
        again = send(alice, deal, name, good(name), work, page=refused.text)  # the fresh form, corrected

    form = "request" if name == "request" else name
    assert refused.status_code == status
    assert re.search(rf'id="{re.escape(element(name, field, work))}"[^>]*aria-invalid="true"[^>]*'
                     rf'aria-describedby="[^"]*{form}-refusal"', refused.text), refused.text
    assert re.search(rf'id="{form}-refusal" class="refusal" role="alert">{re.escape(field)}: ', refused.text)
    assert refused.text.count('role="alert">') == 1
    assert after_refusal == before
    assert again.status_code == 303 and count(world, name) == 1


def test_the_refused_form_keeps_what_was_typed(world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        refused = send(alice, deal, "request", {**good("request"), "due": day(-1)})
    assert refused.status_code == 422
    assert ">A delivery plan for the three sites</textarea>" in refused.text
    assert 'value="delivery_estimate"' in refused.text and 'value="carol"' in refused.text


# -- a form sent twice records once -------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_the_same_form_sent_twice_records_once_and_both_lead_to_the_write(
        world: Services, deal: str, work: str, name: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        page = alice.get(f"/opportunities/{deal}").text
        first = send(alice, deal, name, good(name), work, page=page)
        second = send(alice, deal, name, good(name), work, page=page)

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert count(world, name) == 1


def test_a_double_click_while_the_first_post_still_runs_waits_for_it_and_records_once(
        world: Services, deal: str, monkeypatch: pytest.MonkeyPatch) -> None:
    winning = world.app.win

    def slow_win(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # the second post arrives while the first holds the key
        return winning(*args, **kwargs)

    monkeypatch.setattr(world.app, "win", slow_win)
    with signed_in(browser(world), world, "alice") as alice, browser(world) as again:
        again.cookies.set("goldsplit_session", alice.cookies["goldsplit_session"])  # the same tab
        page = alice.get(f"/opportunities/{deal}").text
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(send, alice, deal, "win", good("win"), page=page)
            time.sleep(0.1)
            second = pool.submit(send, again, deal, "win", good("win"), page=page)
            answers = [first.result(10), second.result(10)]

    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    assert count(world, "win") == 1


def test_the_same_form_sent_again_with_other_values_is_refused_and_records_nothing(
        world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        page = alice.get(f"/opportunities/{deal}").text
        send(alice, deal, "seat", {"role": "FR", "member_id": "carol"}, page=page)
        before = head(world.app)
        changed = send(alice, deal, "seat", {"role": "FR", "member_id": "dave"}, page=page)

    assert changed.status_code == 409 and "sent already with other values" in changed.text
    assert head(world.app) == before
    assert world.queries.boards.board(LEAD, deal).triangle.FR == "carol"


def test_two_forms_each_record_their_own_request(world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        send(alice, deal, "request", good("request"))
        send(alice, deal, "request", good("request"))  # a fresh page: a fresh key
    assert count(world, "request") == 2


# -- posts from elsewhere -----------------------------------------------------------------------------

@pytest.mark.parametrize("headers, token", [
    ({"Origin": "https://evil.example"}, "right"), ({}, "right"), (ORIGIN, "wrong"),
], ids=["other-origin", "no-origin", "other-token"])
@pytest.mark.parametrize("name", NAMES)
def test_a_post_from_another_site_is_refused_and_records_nothing(
        world: Services, deal: str, work: str, name: str, headers: dict, token: str) -> None:
    with signed_in(browser(world), world, "alice") as alice:
        path = action(deal, name, work)
        form = {**form_keys(alice.get(f"/opportunities/{deal}").text, path), **good(name)}
        if token == "wrong":
            form["csrf"] = "forged"
        before = head(world.app)
        posted = alice.post(path, data=form, headers=headers, follow_redirects=False)

    assert posted.status_code == 403 and "not sent from this site" in posted.text
    assert head(world.app) == before


# -- what the domain refuses, forged by hand ------------------------------------------------------------

def test_a_rep_who_is_not_the_ar_cannot_reverse_anyones_work(world: Services, deal: str, work: str) -> None:
    visit = contribute(world.app, deal, ALICE, "visit", summary="alice's visit")
    before = head(world.app)
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/opportunities/{deal}").text
        others = forge(bob, deal, "reverse", {"reason": "I do not believe it"}, visit)
        own = forge(bob, deal, "reverse", {"reason": "mine, but still"}, work)

    assert ">Reverse<" not in page
    for refused in (others, own):
        assert refused.status_code == 403
        assert ('id="action-refusal" class="refusal" role="alert">only the AR of this opportunity or a lead'
                in refused.text)
    assert head(world.app) == before


def test_the_ar_cannot_reverse_someone_elses_confirmed_work_that_is_a_leads_call(
        world: Services, deal: str, work: str) -> None:
    confirm(world.app, deal, work, LEAD)
    world.runner.catch_up()
    before = head(world.app)
    with signed_in(browser(world), world, "alice") as alice:
        page = alice.get(f"/opportunities/{deal}").text
        refused = forge(alice, deal, "reverse", {"reason": "I changed my mind"}, work)

    assert "Reverse demo by bob" not in page
    assert refused.status_code == 403
    assert "contribution_id: reversing someone else&#39;s confirmed work" in refused.text
    assert head(world.app) == before


@pytest.mark.parametrize("member, seat", [("bob", "AR"), ("bob", "FR"), ("dave", "SR")],
                         ids=["sr-takes-ar", "sr-takes-fr", "off-the-deal"])
def test_a_member_cannot_seat_themselves_in_the_triangle(
        world: Services, deal: str, member: str, seat: str) -> None:
    before = head(world.app)
    with signed_in(browser(world), world, member) as who:
        refused = forge(who, deal, "seat", {"role": seat, "member_id": member})

    if member == "dave":  # not on the deal: it does not exist for him, nothing of it on the page
        assert refused.status_code == 404 and DEAL["name"] not in refused.text
    else:
        assert refused.status_code == 403 and "only the AR of this opportunity or a lead" in refused.text
    assert head(world.app) == before
    triangle = world.queries.boards.board(LEAD, deal).triangle
    assert triangle.model_dump() == {"AR": "alice", "SR": "bob", "FR": None}


@pytest.mark.parametrize("name", ["win", "lose"])
def test_a_member_on_the_deal_who_is_not_its_ar_cannot_win_or_lose_it(
        world: Services, deal: str, name: str) -> None:
    before = head(world.app)
    with signed_in(browser(world), world, "bob") as bob:
        refused = forge(bob, deal, name, good(name))

    assert refused.status_code == 403 and "only the AR of this opportunity or a lead" in refused.text
    assert 'id="close"' not in refused.text
    assert head(world.app) == before
    assert world.queries.boards.board(LEAD, deal).stage == "open"


@pytest.mark.parametrize("name", NAMES)
def test_finance_changes_nothing_on_a_deal_it_reads(world: Services, deal: str, work: str, name: str) -> None:
    before = head(world.app)
    with signed_in(browser(world), world, "fiona", "finance") as fiona:
        refused = forge(fiona, deal, name, good(name), work)

    assert refused.status_code == 403
    assert "the finance role may not do this; allowed: member, lead, admin" in refused.text
    assert head(world.app) == before


@pytest.mark.parametrize("name", NAMES)
def test_a_member_off_the_deal_gets_the_not_found_page_for_any_action(
        world: Services, deal: str, work: str, name: str) -> None:
    before = head(world.app)
    with signed_in(browser(world), world, "dave") as dave:
        refused = forge(dave, deal, name, good(name), work)

    assert refused.status_code == 404
    assert DEAL["name"] not in refused.text and "Demo for the CFO" not in refused.text
    assert head(world.app) == before
