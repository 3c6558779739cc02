"""The audit chain in memory: deterministic, rebuilt equal to live, equal to one computed by hand, and
`verify` naming each kind of tampering over a stand-in recorder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest
from eventsourcing.persistence import Notification

from domain.application import Goldsplit
from main.services import Services
from projections.audit import (
    GENESIS,
    HEAD,
    HEAD_KEY,
    VIEW,
    AuditChainProjection,
    chain_of,
    event_digest,
    head_at,
    key_of,
    recorded_chain,
    verify,
)
from projections.base import Changes
from projections.store import ViewStore
from tests.ledger import ADMIN, ALICE, BOB, LEAD, play_projecting_each_save


def tell_story(app: Goldsplit) -> str:
    """Two members, an opportunity with its triangle, contributions recorded and confirmed, a win."""
    app.register_member(ADMIN, "alice", "Alice", "sales")
    app.register_member(ADMIN, "bob", "Bob", "presales")
    oid = app.open_opportunity(ALICE, account_id="acme", name="Acme core banking", amount="250000.00",
                               currency="CNY", expected_close=app.clock().date().isoformat()).id
    app.assign_triangle_role(ALICE, oid, "SR", "bob")
    earlier = (app.clock() - timedelta(hours=2)).isoformat()
    for actor, kind, confirmer in ((BOB, "solution_design", ALICE), (ALICE, "visit", LEAD)):
        cid = app.record_contribution(actor, oid, member_id=actor.member_id, kind=kind,
                                      summary=f"{kind} at Acme", occurred_at=earlier).id
        app.confirm_contribution(confirmer, oid, cid)
    app.win(ALICE, oid, closed_on=app.clock().date().isoformat())
    return oid


@pytest.fixture
def told(memory_services: Services) -> Services:
    tell_story(memory_services.app)
    memory_services.runner.catch_up()
    return memory_services


def recorded(store: ViewStore) -> dict:
    return {"links": store.all(VIEW), "head": store.get(HEAD, HEAD_KEY)}


def stored_events(app: Goldsplit) -> list[Notification]:
    return list(app.recorder.select_notifications(start=1, limit=100_000))


# -- the arithmetic ----------------------------------------------------------------------------


def test_the_digest_covers_every_field_of_the_stored_event() -> None:
    oid = UUID("1b4c2ca0-7328-500a-a469-90955987076b")
    event = dict(position=7, originator_id=oid, originator_version=2, topic="domain.aggregates:X.Done",
                 state=b'{"a":1}')
    same = event_digest(**event)
    assert same == event_digest(**{**event, "originator_id": str(oid)})
    assert len(same) == 32
    for field, other in (("position", 8), ("originator_id", UUID(int=1)), ("originator_version", 3),
                         ("topic", "domain.aggregates:X.Undone"), ("state", b'{"a":2}')):
        assert event_digest(**{**event, field: other}) != same, field


def test_the_chain_is_deterministic(told: Services) -> None:
    notifications = stored_events(told.app)
    assert chain_of(notifications) == chain_of(notifications) != GENESIS
    assert chain_of(notifications[3:], chain_of(notifications[:3])) == chain_of(notifications)
    assert chain_of(notifications[::-1]) != chain_of(notifications)


def test_a_chain_computed_by_hand_over_three_events_equals_the_recorded_one(told: Services) -> None:
    """The README's recipe, literally, with hashlib."""
    chain = bytes(32)
    by_hand = []
    for n in stored_events(told.app)[:3]:
        data = f"{n.id}\n{n.originator_id}\n{n.originator_version}\n{n.topic}\n".encode() + n.state
        digest = hashlib.sha256(data).digest()
        chain = hashlib.sha256(chain + digest).digest()
        by_hand.append({"position": n.id, "digest": digest.hex(), "chain": chain.hex()})

    assert recorded_chain(told.views, 1, 3) == by_hand
    assert head_at(told.views, 3) == by_hand[-1]["chain"]


def test_the_recorded_head_is_the_chain_over_every_stored_event(told: Services) -> None:
    notifications = stored_events(told.app)
    head = told.views.get(HEAD, HEAD_KEY)
    assert head == {"position": notifications[-1].id, "chain": chain_of(notifications).hex()}
    assert len(told.views.all(VIEW)) == len(notifications)
    assert [link["position"] for link in recorded_chain(told.views, 1, 10_000)] == [
        n.id for n in notifications]


def test_head_at_answers_the_chain_at_a_cut_off_and_none_before_the_chain_reaches_it(
        told: Services) -> None:
    notifications = stored_events(told.app)
    middle = notifications[len(notifications) // 2]
    expected = chain_of(n for n in notifications if n.id <= middle.id).hex()
    assert head_at(told.views, middle.id) == expected
    assert head_at(told.views, 0) == GENESIS.hex()
    assert head_at(told.views, notifications[-1].id + 1) is None


def test_the_audit_chain_rebuilt_from_the_log_equals_the_live_one(memory_services: Services) -> None:
    play_projecting_each_save(memory_services, tell_story)
    live = recorded(memory_services.views)
    assert len(live["links"]) == len(stored_events(memory_services.app)) > 10
    memory_services.runner.rebuild()
    assert recorded(memory_services.views) == live


def test_the_projection_refuses_a_decoded_event_it_cannot_hash(told: Services) -> None:
    notification = stored_events(told.app)[0]
    event = told.app.mapper.to_domain_event(notification)
    with pytest.raises(TypeError, match="stored events"):
        AuditChainProjection().process(event, notification.id, Changes(told.views))


def test_every_projection_but_the_chain_still_gets_the_decoded_event(told: Services) -> None:
    assert [p.name for p in told.runner.projections if getattr(p, "reads_stored_events", False)] == [
        "audit_chain"]
    assert told.views.get("board", next(iter(told.views.all("board"))))  # decoded events projected


# -- verify over a recorder that can be tampered with ------------------------------------------


class Tamperable:
    """A stand-in recorder over a list of notifications that a test edits at will."""

    def __init__(self, notifications: Sequence[Notification]) -> None:
        self.rows = {n.id: n for n in notifications}

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             *, inclusive_of_start: bool = True) -> list[Notification]:
        low = (start or 0) if inclusive_of_start else (start or 0) + 1
        ids = sorted(i for i in self.rows if i >= low and (stop is None or i <= stop))
        return [self.rows[i] for i in ids[:limit]]

    def max_notification_id(self) -> int | None:
        return max(self.rows, default=None)


@pytest.fixture
def tamperable(told: Services) -> Iterator[tuple[Tamperable, ViewStore]]:
    yield Tamperable(stored_events(told.app)), told.views


def test_an_untouched_log_verifies(tamperable) -> None:
    recorder, store = tamperable
    result = verify(recorder, store, batch_size=4)  # small batches: the walk crosses batches
    assert result["ok"] and result["problems"] == []
    assert result["checked"] == len(recorder.rows) == result["head"]["position"]
    assert result["head"] == result["recorded_head"] == store.get(HEAD, HEAD_KEY)


def test_each_kind_of_tampering_is_named_at_its_position(tamperable) -> None:
    recorder, store = tamperable
    rows = recorder.rows
    head = max(rows)
    rows[3] = replace(rows[3], state=rows[3].state.replace(b"}", b',"x":1}', 1))  # edited
    del rows[5]  # deleted
    rows[7], rows[9] = replace(rows[9], id=7), replace(rows[7], id=9)  # reordered
    result = verify(recorder, store, batch_size=4)

    assert not result["ok"]
    assert [(p["position"], p["kind"]) for p in result["problems"]] == [
        (3, "edited"), (5, "deleted"), (7, "reordered"), (9, "reordered")]
    assert "position 9" in result["problems"][2]["detail"]
    assert result["head"]["position"] == result["recorded_head"]["position"] == head
    assert result["head"]["chain"] != result["recorded_head"]["chain"]


def test_a_gap_is_no_deletion_but_an_event_planted_in_it_is_an_insertion(
        memory_services: Services) -> None:
    tell_story(memory_services.app)
    notifications = stored_events(memory_services.app)
    gapped = [replace(n, id=n.id + (n.id > 4)) for n in notifications]  # position 5 never used
    recorder, store = Tamperable(gapped), memory_services.views
    changes = Changes(store)
    for n in gapped:
        AuditChainProjection().process(n, n.id, changes)
    store.commit({}, changes.written)
    assert verify(recorder, store)["ok"]

    recorder.rows[5] = replace(gapped[0], id=5, originator_version=99)
    result = verify(recorder, store)
    assert [(p["position"], p["kind"]) for p in result["problems"]] == [(5, "inserted")]


def test_an_event_moved_to_another_position_is_reordered_at_both(tamperable) -> None:
    recorder, store = tamperable
    recorder.rows[4] = replace(recorder.rows.pop(6), id=4)  # 4's own event gone, 6's moved there
    result = verify(recorder, store)
    assert [(p["position"], p["kind"]) for p in result["problems"]] == [
        (4, "reordered"), (6, "reordered")]
    assert "now at position 4" in result["problems"][1]["detail"]


def test_a_changed_chain_record_is_reported_where_it_no_longer_follows(tamperable) -> None:
    recorder, store = tamperable
    forged = {**store.get(VIEW, key_of(6)), "chain": "ab" * 32}
    store.commit({}, {(VIEW, key_of(6)): forged})
    result = verify(recorder, store)
    assert [(p["position"], p["kind"]) for p in result["problems"]] == [
        (6, "chain_record"), (7, "chain_record")]


def test_events_after_the_recorded_head_are_not_checked_yet(told: Services) -> None:
    head = told.views.get(HEAD, HEAD_KEY)
    told.app.register_member(ADMIN, "carol", "Carol", "delivery")
    result = verify(told.app, told.views)
    assert result["ok"] and result["head"] == head
    assert result["log_position"] > head["position"]
