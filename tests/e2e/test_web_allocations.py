"""The allocation screens without a browser: a won deal's split as each reader may see it (a member
their own line only, a lead every line adding up to the pool), the explanation of a line step by
step, the dispute form (once per submit, never cross-site) and the allocation's live topic."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from fractions import Fraction

import pytest

from main.services import Services
from main.settings import Settings
from projections.allocations import VIEW as ALLOCATIONS
from tests.builders import WonDeal, register_team, won_deal
from tests.e2e.test_web import HERE, browser, form_of, signals, signed_in
from tests.ledger import BOB, LEAD, events, head
from web import events as live

OTHERS = ("13333.33", "6666.67", "4000000/3", "2000000/3")  # alice's and carol's lines, exact and rounded


@pytest.fixture
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app)
        yield services


@pytest.fixture
def won(world: Services) -> WonDeal:
    """Acme's deal won: alice AR, bob SR, carol FR; the pool of 30000.00 CNY split 13333.33 /
    10000.00 / 6666.67."""
    deal = won_deal(world.app)
    world.runner.catch_up()
    return deal


def _cells(page: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def test_a_member_sees_only_their_own_line_and_none_of_the_others_amounts(world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/allocations/{won.aid}")
        region = bob.get(f"/allocations/{won.aid}/region")

    assert page.status_code == region.status_code == 200
    assert _cells(page.text, "line-bob")[:4] == ["bob", "SR 3", "1000000", "10000.00"]
    for text in (page.text, region.text):
        assert 'id="line-alice"' not in text and 'id="line-carol"' not in text
        assert "/members/alice" not in text and "/members/carol" not in text
        assert not any(amount in text for amount in OTHERS)
        assert 'id="equation"' not in text  # the sum of the others' lines is not for a member
    assert 'role="img"' in page.text and "hx-trigger=\"allocation from:#live\"" in page.text
    assert f"allocation%3A{won.aid}" in page.text  # the page follows its allocation's topic


@pytest.mark.parametrize("member, role", [("lin", "lead"), ("fiona", "finance")])
def test_a_lead_or_finance_sees_every_line_and_lines_plus_unallocated_make_the_pool(
        world: Services, won: WonDeal, member: str, role: str) -> None:
    with signed_in(browser(world), world, member, role) as reader:
        page = reader.get(f"/allocations/{won.aid}").text

    amounts = {m: Fraction(_cells(page, f"line-{m}")[3]) for m in ("alice", "bob", "carol")}
    unallocated = Fraction(_cells(page, "line-unallocated")[3])
    assert amounts == {"alice": Fraction("13333.33"), "bob": 10000, "carol": Fraction("6666.67")}
    assert sum(amounts.values()) + unallocated == 30000
    equation = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'id="equation".*?</p>', page, re.S).group(0)))
    assert "13333.33 (alice) + 10000.00 (bob) + 6666.67 (carol) + 0.00 (unallocated) = 30000.00 CNY, the pool" \
        in equation
    # the 100 % bar: one segment per line plus the unallocated one, exactly the bar's width
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="0" width="(\d+)" height="40"', page)]
    assert len(widths) == 4 and sum(widths) == 1000
    assert "<title id=\"pool-bar-title\">" in page and "<desc id=\"pool-bar-desc\">" in page


def test_the_opportunity_board_links_a_won_deal_to_its_allocation(world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        board = bob.get(f"/opportunities/{won.oid}").text
    assert f'<a href="/allocations/{won.aid}">Allocation</a>' in board


def test_the_explain_page_shows_each_steps_value_and_the_counted_contributions(
        world: Services, won: WonDeal) -> None:
    explained = world.queries.allocations.explain(BOB, won.aid, "bob")
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(f"/allocations/{won.aid}/members/bob")

    assert page.status_code == 200
    text = html.unescape(page.text)
    steps = re.findall(r'<li id="step-(\d+)">\s*<strong>(.*?)</strong>.*?<output>(.*?)</output>', text, re.S)
    assert steps == [(str(s.step), s.name, s.value) for s in explained.steps]
    assert all(s.formula in text for s in explained.steps)
    (counted,) = explained.contributions
    assert f"/opportunities/{won.oid}#contribution-{won.contributions['bob']}" in page.text
    assert f"<td>{counted.position}</td>" in page.text
    assert 'id="reason"' in page.text and "Dispute this line" in page.text  # bob's own line
    assert not any(amount in page.text for amount in OTHERS)


def test_a_lead_reads_any_line_but_never_sees_a_dispute_form_on_another_members_line(
        world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "lin", "lead") as lead:
        page = lead.get(f"/allocations/{won.aid}/members/alice")
    assert page.status_code == 200 and "13333.33" in page.text
    assert 'action="/allocations' not in page.text


def test_a_member_opening_another_members_explanation_gets_a_403_page_with_nothing_of_that_line(
        world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        refused = bob.get(f"/allocations/{won.aid}/members/alice")

    assert refused.status_code == 403
    assert "their own line only" in refused.text
    assert not any(amount in refused.text for amount in OTHERS) and "AR 1" not in refused.text


def test_a_member_off_the_deal_gets_404_pages_with_nothing_of_it(world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "dave") as dave:
        pages = [dave.get(f"/allocations/{won.aid}"), dave.get(f"/allocations/{won.aid}/region"),
                 dave.get(f"/allocations/{won.aid}/members/bob"), dave.get(f"/allocations/{won.aid}/members/dave")]
    for page in pages:
        assert page.status_code == 404
        assert "30000.00" not in page.text and "10000.00" not in page.text and "Acme" not in page.text


def _disputes(world: Services, won: WonDeal) -> list:
    return [e for e in events(world.app, won.oid) if type(e).__name__.endswith("DisputeOpened")]


def test_the_dispute_form_raises_one_dispute_even_sent_twice_and_the_page_shows_it(
        world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        form = {**form_of(bob.get(f"/allocations/{won.aid}/members/bob").text), "reason": "my demo won it"}
        first = bob.post(f"/allocations/{won.aid}/disputes", data=form, headers={"Origin": HERE},
                         follow_redirects=False)
        second = bob.post(f"/allocations/{won.aid}/disputes", data=form, headers={"Origin": HERE},
                          follow_redirects=False)
        shown = bob.get(first.headers["location"])

    assert first.status_code == second.status_code == 303
    assert re.fullmatch(rf"/allocations/{won.aid}/members/bob\?after=\d+", first.headers["location"])
    assert len(_disputes(world, won)) == 1
    assert shown.status_code == 200 and shown.text.count("my demo won it") == 1
    assert 'id="reason"' not in shown.text  # one open dispute per line: no second form


def test_a_refused_dispute_shows_the_rule_next_to_the_field_and_records_nothing(
        world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        form = {**form_of(bob.get(f"/allocations/{won.aid}/members/bob").text), "reason": "   "}
        before = head(world.app)
        refused = bob.post(f"/allocations/{won.aid}/disputes", data=form, headers={"Origin": HERE})

    assert refused.status_code == 422
    assert re.search(r'id="reason"[^>]*aria-invalid="true"', refused.text)
    assert re.search(r'id="refusal" role="alert">[^<]*non-empty', refused.text)
    assert head(world.app) == before


@pytest.mark.parametrize("headers, token", [
    ({"Origin": "https://evil.example"}, "right"),
    ({}, "right"),
    ({"Origin": HERE}, "wrong"),
], ids=["other-origin", "no-origin", "other-token"])
def test_a_cross_site_dispute_is_refused_and_records_nothing(
        world: Services, won: WonDeal, headers: dict, token: str) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        form = {**form_of(bob.get(f"/allocations/{won.aid}/members/bob").text), "reason": "forged"}
        if token == "wrong":
            form["csrf"] = "forged"
        before = head(world.app)
        posted = bob.post(f"/allocations/{won.aid}/disputes", data=form, headers=headers)

    assert posted.status_code == 403
    assert head(world.app) == before and not _disputes(world, won)


def test_a_member_off_the_deal_cannot_dispute_it(world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        csrf = form_of(bob.get(f"/allocations/{won.aid}/members/bob").text)["csrf"]
    with signed_in(browser(world), world, "dave") as dave:
        token = re.search(r'name="csrf" value="([^"]+)"', dave.get("/").text).group(1)
        before = head(world.app)
        posted = dave.post(f"/allocations/{won.aid}/disputes", data={"csrf": token, "key": "k", "reason": "mine"},
                           headers={"Origin": HERE})
    assert csrf != token
    assert posted.status_code == 404 and "10000.00" not in posted.text
    assert head(world.app) == before


# -- the allocation's live topic ---------------------------------------------------------------------

def test_the_allocation_topic_is_refused_to_a_reader_off_the_deal(world: Services, won: WonDeal) -> None:
    with signed_in(browser(world), world, "dave") as dave:
        assert dave.get(f"/events?topics=allocation:{won.aid}").status_code == 404
        assert dave.get("/events?topics=allocation:not-an-id").status_code == 404
    assert live._topics(world, BOB, f"allocation:{won.aid}") == [("allocation", won.aid)]
    assert live._topics(world, LEAD, f"allocation:{won.aid.upper()}") == [("allocation", won.aid)]


def test_a_dispute_signals_the_allocation_topic(world: Services, won: WonDeal) -> None:
    seen = world.views.get(ALLOCATIONS, won.aid)["position"]
    world.app.raise_dispute(BOB, won.aid, member_id="bob", reason="my demo won it")
    world.runner.catch_up()

    _, signal = signals(world, [("allocation", won.aid)], seen, 2)

    assert (signal.event, signal.raw_data) == ("allocation", won.aid)
    assert signal.id == str(head(world.app))  # its document's position stays where the dispute left it
