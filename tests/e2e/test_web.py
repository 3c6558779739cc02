"""The web app without a browser: sign-in links and sessions, pages that show a reader only what the
API shows them, forms that record once and refuse cross-site posts, and the live signal stream."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from main.serve import application
from main.services import Services
from main.settings import Settings
from projections.board import VIEW as BOARDS
from tests.builders import contribute, open_deal, register_team, seat_triangle
from tests.ledger import ALICE, BOB, LEAD, events, head
from web import events as live
from web.signals import Signals

HERE = "http://127.0.0.1"


@pytest.fixture
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app)
        yield services


@pytest.fixture
def deal(world: Services) -> str:
    """alice's deal (she is its AR), with bob seated as SR."""
    oid = open_deal(world.app, ALICE)
    seat_triangle(world.app, oid, LEAD, SR="bob")
    return oid


def browser(world: Services, host: str = HERE) -> TestClient:
    return TestClient(application(world.settings, services=world), base_url=host)


def signed_in(client: TestClient, world: Services, member: str, role: str = "member") -> TestClient:
    opened = client.get(f"/signin?code={world.sessions.issue_code(member, role, 60)}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    return client


def form_of(page: str) -> dict[str, str]:
    """The hidden fields of the page's contribution form: its session token and its fresh key."""
    return {name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1) for name in ("csrf", "key")}


WORK = {"kind": "demo", "summary": "Demo for the CFO", "occurred_at": "2026-01-05T10:00", "hours": "2"}


def test_a_sign_in_link_works_once_starts_a_session_in_an_http_only_cookie_and_leaves_the_address_bar(
        world: Services) -> None:
    code = world.sessions.issue_code("bob", "member", 60)
    with browser(world) as client:
        opened = client.get(f"/signin?code={code}", follow_redirects=False)
        cookie = opened.headers["set-cookie"]

        assert opened.status_code == 303 and opened.headers["location"] == "/"  # no code in the address
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # loopback
        assert client.get("/").status_code == 200
    with browser(world) as other:
        again = other.get(f"/signin?code={code}", follow_redirects=False)
        assert again.status_code == 401 and "already used or has expired" in again.text
        assert other.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_off_loopback_the_session_cookie_is_secure(world: Services) -> None:
    with browser(world, "https://goldsplit.example") as client:
        opened = client.get(f"/signin?code={world.sessions.issue_code('bob', 'member', 60)}",
                            follow_redirects=False)
        assert "Secure" in opened.headers["set-cookie"]


def test_an_expired_link_signs_nobody_in(world: Services) -> None:
    code = world.sessions.issue_code("bob", "member", -1)
    with browser(world) as client:
        assert client.get(f"/signin?code={code}", follow_redirects=False).status_code == 401


def test_signing_out_ends_the_session_at_once_even_for_a_copy_of_the_cookie(world: Services) -> None:
    with signed_in(browser(world), world, "bob") as client:
        session = client.cookies["goldsplit_session"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)

        out = client.post("/signout", data={"csrf": csrf}, headers={"Origin": HERE}, follow_redirects=False)

        assert out.status_code == 303 and out.headers["location"] == "/signin"
    with browser(world) as thief:
        thief.cookies.set("goldsplit_session", session)
        assert thief.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_every_page_sends_a_policy_without_inline_scripts_that_forbids_framing(world: Services) -> None:
    with signed_in(browser(world), world, "bob") as client:
        policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_a_member_on_the_deal_sees_its_board_and_a_member_off_it_sees_a_404_page_with_nothing_of_it(
        world: Services, deal: str) -> None:
    contribute(world.app, deal, ALICE, "visit", summary="Site walk with the COO")
    world.runner.catch_up()
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/opportunities/{deal}")
        assert page.status_code == 200 and "Site walk with the COO" in page.text
        assert "Acme core banking" in page.text and "as of position" in page.text
    with signed_in(browser(world), world, "dave") as dave:
        hidden = dave.get(f"/opportunities/{deal}")
        assert hidden.status_code == 404
        assert "Site walk" not in hidden.text and "Acme core banking" not in hidden.text
        assert dave.get(f"/opportunities/{deal}/board").status_code == 404


def test_a_form_sent_twice_records_the_work_once(world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        form = {**form_of(bob.get(f"/opportunities/{deal}").text), **WORK}
        first = bob.post(f"/opportunities/{deal}/contributions", data=form, headers={"Origin": HERE},
                         follow_redirects=False)
        second = bob.post(f"/opportunities/{deal}/contributions", data=form, headers={"Origin": HERE},
                          follow_redirects=False)
        shown = bob.get(first.headers["location"]).text

    assert first.status_code == second.status_code == 303
    recorded = [e for e in events(world.app, deal) if type(e).__name__ == "ContributionRecorded"]
    assert [(e.member_id, e.summary) for e in recorded] == [("bob", "Demo for the CFO")]
    assert shown.count("Demo for the CFO") == 1


def test_a_refused_form_shows_the_rule_next_to_its_field_and_records_nothing(world: Services, deal: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        form = {**form_of(bob.get(f"/opportunities/{deal}").text), **WORK, "hours": "-3"}
        before = head(world.app)

        refused = bob.post(f"/opportunities/{deal}/contributions", data=form, headers={"Origin": HERE})

    assert refused.status_code == 422
    assert 'id="hours"' in refused.text and 'aria-invalid="true"' in refused.text
    assert re.search(r'id="refusal" role="alert">[^<]*hours', refused.text)
    assert head(world.app) == before


@pytest.mark.parametrize("headers, token", [
    ({"Origin": "https://evil.example"}, "right"),
    ({"Origin": "http://127.0.0.1.evil.example"}, "right"),
    ({}, "right"),  # no Origin at all
    ({"Origin": HERE}, "wrong"),
], ids=["other-origin", "look-alike-origin", "no-origin", "other-token"])
def test_a_post_from_another_site_or_without_the_sessions_token_is_refused_and_records_nothing(
        world: Services, deal: str, headers: dict, token: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        form = {**form_of(bob.get(f"/opportunities/{deal}").text), **WORK}
        if token == "wrong":
            form["csrf"] = "forged"
        before = head(world.app)

        posted = bob.post(f"/opportunities/{deal}/contributions", data=form, headers=headers)

    assert posted.status_code == 403
    assert head(world.app) == before


def test_only_the_ar_sees_confirm_buttons_and_never_on_their_own_work(world: Services, deal: str) -> None:
    contribute(world.app, deal, BOB, "demo", summary="bob's demo")
    contribute(world.app, deal, ALICE, "visit", summary="alice's visit")
    world.runner.catch_up()
    with signed_in(browser(world), world, "alice") as alice:
        buttons = re.findall(r'aria-label="Confirm (\w+) by (\w+)"', alice.get(f"/opportunities/{deal}").text)
    with signed_in(browser(world), world, "bob") as bob:
        assert "aria-label=\"Confirm" not in bob.get(f"/opportunities/{deal}").text
    assert buttons == [("demo", "bob")]


# -- the live signal stream ------------------------------------------------------------------------

def test_the_stream_needs_a_session_and_refuses_a_topic_the_reader_may_not_see(world: Services, deal: str) -> None:
    with browser(world) as anonymous:
        assert anonymous.get(f"/events?topics=board:{deal}").status_code == 401
    with signed_in(browser(world), world, "dave") as dave:
        assert dave.get(f"/events?topics=board:{deal}").status_code == 404
        assert dave.get("/events?topics=member:bob").status_code == 404
        assert dave.get("/events?topics=ledger:everything").status_code == 422


def signals(world: Services, topics: list[tuple[str, str]], cursor: int | None, count: int) -> list:
    """The first `count` signals of a stream resumed at `cursor` (the greeting included)."""

    async def first() -> list:
        got: list = []
        hub = Signals(world)
        watch = hub.watch(topics)
        try:
            async for signal in live._signals(hub, watch.queue, topics, cursor):
                got.append(signal)
                if len(got) == count:
                    return got
        finally:
            hub.leave(watch)
        return got

    # on a thread of its own: Playwright's sync API (tests/browser) keeps a loop running on this one
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(first(), timeout=5)).result()


def test_a_resumed_stream_signals_at_once_each_topic_changed_after_the_last_event_id(
        world: Services, deal: str) -> None:
    world.runner.catch_up()
    seen = world.views.get(BOARDS, deal)["position"]
    contribute(world.app, deal, BOB, "demo")
    world.runner.catch_up()
    at = head(world.app)

    greeting, signal = signals(world, [("board", deal), ("member", "carol")], seen, 2)

    assert greeting.retry == live.RETRY_MILLISECONDS
    assert (signal.event, signal.raw_data, signal.id) == ("board", deal, str(at))  # carol's did not change


def test_a_stream_ahead_of_the_read_models_is_told_to_resync(world: Services, deal: str) -> None:
    world.runner.catch_up()
    at = head(world.app)

    _, resync = signals(world, [("board", deal)], at + 1000, 2)

    assert (resync.event, resync.id) == ("resync", str(at))
