"""The queues in the web app without a browser: the AR confirms others' work from their queue,
finance approves splits it has no line in and decides disputes with a reason, a member reads only
their own disputes; every refusal records nothing, and so does a post from another site."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from domain.application import Actor
from main.serve import application
from main.services import Services
from main.settings import Settings
from tests.builders import TEAM, contribute, open_deal, register_team, seat_triangle, win, won_deal, worked
from tests.ledger import ALICE, BOB, CAROL, LEAD, events, head

HERE = "http://127.0.0.1"
ORIGIN = {"Origin": HERE}


@pytest.fixture
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app, {**TEAM, "frank": "finance"})  # a second member of finance
        yield services


@pytest.fixture
def deal(world: Services) -> str:
    """alice's deal (she is its AR), with bob seated as SR and carol as FR."""
    oid = open_deal(world.app, ALICE)
    seat_triangle(world.app, oid, LEAD, SR="bob", FR="carol")
    return oid


def browser(world: Services, host: str = HERE) -> TestClient:
    return TestClient(application(world.settings, services=world), base_url=host)


def signed_in(world: Services, member: str, role: str = "member") -> TestClient:
    client = browser(world)
    opened = client.get(f"/signin?code={world.sessions.issue_code(member, role, 60)}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    return client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def kinds(aggregate_events: list) -> list[str]:
    return [type(e).__name__ for e in aggregate_events]


# -- confirmations --------------------------------------------------------------------------------

def test_the_ar_confirms_others_work_from_the_queue_once(world: Services, deal: str) -> None:
    cid = contribute(world.app, deal, BOB, "demo", summary="Demo for the CFO")
    contribute(world.app, deal, ALICE, "visit", summary="alice's own visit")
    with signed_in(world, "alice") as alice:
        page = alice.get("/queues/confirmations")
        buttons = re.findall(r'aria-label="Confirm (\w+) by (\w+) on', page.text)
        action = f"/queues/confirmations/{deal}/{cid}/confirm"

        first = alice.post(action, data={"csrf": csrf_of(page.text)}, headers=ORIGIN, follow_redirects=False)
        again = alice.post(action, data={"csrf": csrf_of(page.text)}, headers=ORIGIN, follow_redirects=False)
        after = alice.get(first.headers["location"])

    assert page.status_code == 200 and "Demo for the CFO" in page.text
    assert "alice&#39;s own visit" not in page.text and "alice's own visit" not in page.text
    assert 'href="/queues/confirmations" aria-current="page"' in page.text
    assert buttons == [("demo", "bob")]
    assert first.status_code == 303
    assert re.fullmatch(r"/queues/confirmations\?after=\d+", first.headers["location"])
    assert again.status_code == 303  # a double post is harmless
    assert after.status_code == 200 and "Demo for the CFO" not in after.text
    assert kinds(events(world.app, deal)).count("ContributionConfirmed") == 1


def test_a_lead_is_offered_every_open_deals_work_but_not_their_own(world: Services, deal: str) -> None:
    contribute(world.app, deal, BOB, "demo", summary="bob's demo")
    contribute(world.app, deal, CAROL, "delivery_plan", summary="carol's plan")
    with signed_in(world, "lin", "lead") as lead:
        page = lead.get("/queues/confirmations").text
    assert re.findall(r'aria-label="Confirm (\w+) by (\w+) on', page) == [("demo", "bob"),
                                                                          ("delivery_plan", "carol")]


def test_who_is_neither_the_ar_nor_a_lead_sees_an_empty_queue_and_cannot_confirm(
        world: Services, deal: str) -> None:
    cid = contribute(world.app, deal, CAROL, "delivery_plan", summary="carol's plan")
    action = f"/queues/confirmations/{deal}/{cid}/confirm"
    before = head(world.app)
    with signed_in(world, "bob") as bob:
        page = bob.get("/queues/confirmations")
        refused = bob.post(action, data={"csrf": csrf_of(page.text)}, headers=ORIGIN)
    with signed_in(world, "dave") as dave:
        hidden = dave.post(action, data={"csrf": csrf_of(dave.get("/queues/confirmations").text)},
                           headers=ORIGIN)

    assert page.status_code == 200 and "Nothing waits for your confirmation" in page.text
    assert "carol&#39;s plan" not in page.text and 'aria-label="Confirm' not in page.text
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert hidden.status_code == 404 and "carol" not in hidden.text  # dave is not on the deal
    assert head(world.app) == before


# -- approvals ------------------------------------------------------------------------------------

def test_a_member_gets_the_403_page_for_approvals_and_no_link_to_it(world: Services) -> None:
    won_deal(world.app)
    with signed_in(world, "bob") as bob:
        refused = bob.get("/queues/approvals")
        desk = bob.get("/")

    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert "Acme core banking" not in refused.text
    assert 'href="/queues/approvals"' not in desk.text and 'href="/queues/disputes"' in desk.text


def test_finance_approves_a_split_from_the_queue(world: Services) -> None:
    won = won_deal(world.app)
    with signed_in(world, "fiona", "finance") as fiona:
        page = fiona.get("/queues/approvals")
        action = f"/queues/approvals/{won.aid}/approve"
        approved = fiona.post(action, data={"csrf": csrf_of(page.text)}, headers=ORIGIN,
                              follow_redirects=False)
        again = fiona.post(action, data={"csrf": csrf_of(page.text)}, headers=ORIGIN, follow_redirects=False)
        after = fiona.get(approved.headers["location"])

    assert page.status_code == 200 and "Acme core banking" in page.text
    assert 'aria-label="Approve the split of Acme core banking"' in page.text
    assert 'href="/queues/approvals"' in page.text  # finance's nav has the queue
    assert approved.status_code == 303 and again.status_code == 303
    assert approved.headers["location"].startswith("/queues/approvals?after=")
    assert "No allocation waits for approval" in after.text
    assert kinds(events(world.app, won.aid)).count("Approved") == 1


def test_finance_with_a_line_sees_the_warning_and_no_button_and_a_forged_post_records_nothing(
        world: Services, deal: str) -> None:
    world.app.add_supporter(ALICE, deal, "fiona")
    worked(world.app, deal, Actor("fiona", "member"), "pricing_review", confirmed_by=ALICE)
    worked(world.app, deal, BOB, "demo", confirmed_by=ALICE)
    contribute(world.app, deal, CAROL, "delivery_plan", summary="never confirmed")
    aid = win(world.app, deal, by=ALICE)
    world.app.raise_dispute(BOB, aid, member_id="bob", reason="the demo weighs more")
    before = head(world.app)
    with signed_in(world, "fiona", "finance") as fiona:
        page = fiona.get("/queues/approvals")
        forged = fiona.post(f"/queues/approvals/{aid}/approve", data={"csrf": csrf_of(page.text)},
                            headers=ORIGIN)

    assert page.status_code == 200
    assert 'data-code="own_line">you have a line in it' in page.text
    assert 'data-code="open_disputes"' in page.text and 'data-code="unconfirmed_work"' in page.text
    assert "aria-label=\"Approve" not in page.text and "another member of finance approves it" in page.text
    assert forged.status_code == 403 and "you have a line in this allocation" in forged.text
    assert head(world.app) == before
    with signed_in(world, "frank", "finance") as frank:
        assert 'aria-label="Approve the split of Acme core banking"' in frank.get("/queues/approvals").text


# -- disputes -------------------------------------------------------------------------------------

@pytest.fixture
def disputed(world: Services) -> tuple[str, str, str]:
    """A won deal, with bob's dispute and carol's: (allocation, bob's, carol's)."""
    won = won_deal(world.app)
    bobs = world.app.raise_dispute(BOB, won.aid, member_id="bob", reason="the demo weighs more").id
    carols = world.app.raise_dispute(CAROL, won.aid, member_id="carol", reason="the plan weighs more").id
    return won.aid, bobs, carols


def test_a_member_sees_only_their_own_disputes(world: Services, disputed: tuple[str, str, str]) -> None:
    with signed_in(world, "bob") as bob:
        page = bob.get("/queues/disputes")

    assert page.status_code == 200
    assert "the demo weighs more" in page.text and "awaiting finance" in page.text
    assert "the plan weighs more" not in page.text
    assert "Open disputes to decide" not in page.text and "/resolve" not in page.text


def test_finance_upholds_one_with_a_corrected_amount_and_rejects_one_with_a_reason(
        world: Services, disputed: tuple[str, str, str]) -> None:
    aid, bobs, carols = disputed
    with signed_in(world, "fiona", "finance") as fiona:
        page = fiona.get("/queues/disputes").text
        order = re.findall(r'<tr id="dispute-([0-9a-f-]+)"', page)
        upheld = fiona.post(f"/queues/disputes/{bobs}/resolve", headers=ORIGIN, follow_redirects=False,
                            data={"csrf": csrf_of(page), "decision": "uphold",
                                  "corrected_amount": "1000.00", "reason": "the demo won the deal"})
        rejected = fiona.post(f"/queues/disputes/{carols}/resolve", headers=ORIGIN, follow_redirects=False,
                              data={"csrf": csrf_of(page), "decision": "reject",
                                    "reason": "the policy says 4"})
        after = fiona.get(rejected.headers["location"]).text
    with signed_in(world, "bob") as bob:
        bobs_page = bob.get("/queues/disputes").text

    assert order == [bobs, carols]  # oldest first
    assert upheld.status_code == rejected.status_code == 303
    assert rejected.headers["location"].startswith("/queues/disputes?after=")
    assert "No dispute is open" in after
    assert kinds(events(world.app, bobs))[-1] == "Upheld" and events(world.app, bobs)[-1].corrected_amount == 100_000
    rejection = events(world.app, carols)[-1]
    assert (type(rejection).__name__, rejection.reason, rejection.actor) == ("Rejected", "the policy says 4", "fiona")
    assert "uphold by fiona: corrected to 1000.00 CNY (the demo won the deal)" in bobs_page
    assert "the policy says 4" not in bobs_page


@pytest.mark.parametrize("form, field, status", [
    ({"decision": "reject", "reason": ""}, "reason", 422),
    ({"decision": "uphold", "reason": "agreed", "corrected_amount": ""}, "corrected_amount", 422),
    ({"decision": "uphold", "reason": "agreed", "corrected_amount": "-5"}, "corrected_amount", 422),
], ids=["no-reason", "uphold-without-amount", "negative-amount"])
def test_a_refused_decision_shows_beside_its_field_with_its_status_and_records_nothing(
        world: Services, disputed: tuple[str, str, str], form: dict, field: str, status: int) -> None:
    _, bobs, _ = disputed
    before = head(world.app)
    with signed_in(world, "fiona", "finance") as fiona:
        csrf = csrf_of(fiona.get("/queues/disputes").text)
        refused = fiona.post(f"/queues/disputes/{bobs}/resolve", headers=ORIGIN, data={"csrf": csrf, **form})

    assert refused.status_code == status
    assert re.search(rf'id="refusal-{bobs}" role="alert">[^<]+', refused.text)
    named = {"reason": f"reason-{bobs}", "corrected_amount": f"corrected-{bobs}"}[field]
    assert re.search(rf'id="{named}"[^>]*aria-invalid="true" aria-describedby="refusal-{bobs}"', refused.text)
    assert head(world.app) == before
    assert kinds(events(world.app, bobs)) == ["Raised"]


def test_finance_is_not_offered_its_own_dispute_and_a_forged_decision_is_refused(world: Services,
                                                                                 deal: str) -> None:
    world.app.add_supporter(ALICE, deal, "fiona")
    worked(world.app, deal, Actor("fiona", "member"), "pricing_review", confirmed_by=ALICE)
    aid = win(world.app, deal, by=ALICE)
    own = world.app.raise_dispute(Actor("fiona", "finance"), aid, member_id="fiona", reason="worth more").id
    before = head(world.app)
    with signed_in(world, "fiona", "finance") as fiona:
        page = fiona.get("/queues/disputes").text
        forged = fiona.post(f"/queues/disputes/{own}/resolve", headers=ORIGIN,
                            data={"csrf": csrf_of(page), "decision": "uphold", "reason": "yes",
                                  "corrected_amount": "1.00"})

    assert f"/queues/disputes/{own}/resolve" not in page and "your own dispute" in page
    assert forged.status_code == 403 and "nobody resolves their own dispute" in forged.text
    assert head(world.app) == before


def test_finance_with_a_line_is_not_offered_another_s_dispute_on_that_split_and_a_forged_decision_is_refused(
        world: Services, deal: str) -> None:
    world.app.add_supporter(ALICE, deal, "fiona")
    worked(world.app, deal, Actor("fiona", "member"), "pricing_review", confirmed_by=ALICE)
    worked(world.app, deal, BOB, "demo", confirmed_by=ALICE)
    aid = win(world.app, deal, by=ALICE)
    bobs = world.app.raise_dispute(BOB, aid, member_id="bob", reason="the demo won it").id
    before = head(world.app)
    with signed_in(world, "fiona", "finance") as fiona:
        page = fiona.get("/queues/disputes").text
        forged = fiona.post(f"/queues/disputes/{bobs}/resolve", headers=ORIGIN,
                            data={"csrf": csrf_of(page), "decision": "reject", "reason": "mine stays"})

    assert "the demo won it" in page and f"/queues/disputes/{bobs}/resolve" not in page
    assert "you have a line in this split" in page
    assert forged.status_code == 403 and "you have a line in this allocation" in forged.text
    assert head(world.app) == before


def test_a_decision_sent_twice_records_once_and_a_different_one_after_it_is_a_conflict(
        world: Services, disputed: tuple[str, str, str]) -> None:
    _, bobs, _ = disputed
    with signed_in(world, "fiona", "finance") as fiona:
        form = {"csrf": csrf_of(fiona.get("/queues/disputes").text), "decision": "reject",
                "reason": "the policy says 3"}
        first = fiona.post(f"/queues/disputes/{bobs}/resolve", headers=ORIGIN, data=form, follow_redirects=False)
        after_first = head(world.app)
        again = fiona.post(f"/queues/disputes/{bobs}/resolve", headers=ORIGIN, data=form, follow_redirects=False)
        other = fiona.post(f"/queues/disputes/{bobs}/resolve", headers=ORIGIN,
                           data={**form, "decision": "uphold", "corrected_amount": "1.00"})

    assert first.status_code == again.status_code == 303
    assert kinds(events(world.app, bobs)) == ["Raised", "Rejected"]
    assert other.status_code == 409 and "the dispute is rejected" in other.text
    assert head(world.app) == after_first


def test_a_member_cannot_decide_a_dispute(world: Services, disputed: tuple[str, str, str]) -> None:
    _, bobs, carols = disputed
    before = head(world.app)
    with signed_in(world, "bob") as bob:
        refused = bob.post(f"/queues/disputes/{carols}/resolve", headers=ORIGIN,
                           data={"csrf": csrf_of(bob.get("/queues/disputes").text), "decision": "reject",
                                 "reason": "not yours"})
    assert refused.status_code == 403 and "the plan weighs more" not in refused.text
    assert head(world.app) == before


# -- posts from another site ----------------------------------------------------------------------

@pytest.mark.parametrize("headers, token", [
    ({"Origin": "https://evil.example"}, "right"),
    ({}, "right"),  # no Origin at all
    (ORIGIN, "forged"),
], ids=["other-origin", "no-origin", "other-token"])
def test_a_cross_site_post_to_any_queue_is_refused_and_records_nothing(
        world: Services, deal: str, disputed: tuple[str, str, str], headers: dict, token: str) -> None:
    aid, bobs, _ = disputed
    cid = contribute(world.app, deal, BOB, "demo")
    before = head(world.app)
    posts = [("alice", "member", f"/queues/confirmations/{deal}/{cid}/confirm", {}),
             ("frank", "finance", f"/queues/approvals/{aid}/approve", {}),
             ("frank", "finance", f"/queues/disputes/{bobs}/resolve",
              {"decision": "reject", "reason": "cross-site"})]
    for member, role, action, form in posts:
        with signed_in(world, member, role) as client:
            csrf = csrf_of(client.get("/").text) if token == "right" else "forged"
            posted = client.post(action, data={"csrf": csrf, **form}, headers=headers)
        assert posted.status_code == 403, action
        assert "not sent from this site" in posted.text
    assert head(world.app) == before


@pytest.mark.parametrize("path", ["/opportunities/{oid}/contributions/{cid}/confirm",
                                  "/queues/confirmations/{oid}/{cid}/confirm"])
def test_a_finance_session_confirms_no_work_from_a_page_as_the_api_refuses_it(
        world: Services, path: str) -> None:
    """fiona is the deal's AR as a member; signed in as finance she is refused the collaboration
    commands from a page exactly as the API's role gate refuses her token."""
    oid = open_deal(world.app, Actor("fiona", "member"))
    seat_triangle(world.app, oid, LEAD, SR="bob")
    cid = contribute(world.app, oid, BOB, "demo")
    before = head(world.app)
    with signed_in(world, "fiona", "finance") as fiona:
        csrf = csrf_of(fiona.get("/queues/confirmations").text)
        refused = fiona.post(path.format(oid=oid, cid=cid), headers=ORIGIN, data={"csrf": csrf})
    assert refused.status_code == 403 and "the finance role may not do this" in refused.text
    assert head(world.app) == before
