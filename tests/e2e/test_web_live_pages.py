"""Every screen follows what it shows: the page opens its stream on the right topics, from the
position it was read at, says "as of position N", and the topic is one the reader may follow
(web/render.py `follows`, web/signals.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from main.services import Services
from main.settings import Settings
from tests.builders import register_team, won_deal
from tests.e2e.test_web_queues import signed_in
from tests.ledger import ALICE, BOB
from web import events as live
from web.signals import read_position


@pytest.fixture
def world() -> Iterator[Services]:
    """The team, Acme registered by alice with bob on its team, and a won deal on it."""
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app)
        services.app.register_account(ALICE, name="Acme Logistics", account_id="acme")
        services.app.add_account_team_member(ALICE, "acme", "bob", "solution_lead")
        yield services


def stream_of(page: str) -> tuple[list[str], int | None]:
    """The topics and `since` of the stream a page opens."""
    connect = re.search(r'hx-sse:connect="([^"]+)"', page)
    assert connect, "the page opens no live stream"
    query = parse_qs(urlsplit(html.unescape(connect.group(1))).query)
    since = query.get("since", [None])[0]
    return query["topics"][0].split(","), None if since is None else int(since)


@pytest.mark.parametrize("who, path, topics", [
    ("bob", "/", ["member:bob", "payables"]),  # the won deal is no open deal of his
    ("bob", "/opportunities/{oid}", ["board:{oid}"]),
    ("bob", "/allocations/{aid}", ["allocation:{aid}"]),
    ("bob", "/allocations/{aid}/members/bob", ["allocation:{aid}"]),
    ("bob", "/queues/confirmations", ["boards"]),
    ("bob", "/queues/disputes", ["allocations"]),
    ("fiona", "/queues/approvals", ["allocations"]),
    ("bob", "/accounts/acme", ["account:acme"]),
    ("lin", "/members/bob", ["member:bob"]),
    ("bob", "/calibration", ["calibration"]),
    ("fiona", "/audit", ["audit"]),
    ("bob", "/opportunities", ["boards"]),
    ("bob", "/accounts", ["accounts"]),
    ("bob", "/members", ["members"]),
    ("bob", "/allocations", ["allocations"]),
    ("bob", "/statements/{month}/bob", ["payables"]),
    ("fiona", "/periods/{month}", ["payables"]),
    ("fiona", "/periods/{month}/journal", ["payables"]),
    ("fiona", "/periods/{month}/payroll", ["payables"]),
])
def test_each_screen_follows_its_topics_from_the_position_it_was_read_at(
        world: Services, who: str, path: str, topics: list[str]) -> None:
    won = won_deal(world.app)
    world.runner.catch_up()
    role = {"fiona": "finance", "lin": "lead"}.get(who, "member")
    month = world.app.clock().strftime("%Y-%m")
    path = path.format(oid=won.oid, aid=won.aid, month=month)
    topics = [t.format(oid=won.oid, aid=won.aid) for t in topics]
    with signed_in(world, who, role) as reader:
        page = reader.get(path)
        assert page.status_code == 200, page.text
        followed, since = stream_of(page.text)

    assert followed == topics
    assert since is not None and since <= read_position(world)
    assert re.search(r"as of position \d+, \d\d:\d\d UTC", page.text)


@pytest.mark.parametrize("who, topic", [
    ("bob", "account:acme"),
    ("bob", "boards"), ("bob", "allocations"), ("bob", "accounts"), ("bob", "members"),
    ("bob", "payables"), ("bob", "calibration"), ("bob", "audit"),
])
def test_the_topics_of_the_pages_are_ones_their_reader_may_follow(world: Services, who: str, topic: str) -> None:
    won_deal(world.app)
    world.runner.catch_up()
    assert live._topics(world, BOB, topic) == [tuple(topic.split(":")) if ":" in topic else (topic, "")]


def test_an_account_off_the_reader_s_team_is_no_topic(world: Services) -> None:
    won_deal(world.app)
    world.runner.catch_up()
    with signed_in(world, "dave") as dave:
        assert dave.get("/events?topics=account:acme").status_code == 404
        assert dave.get("/events?topics=account:nowhere").status_code == 404
