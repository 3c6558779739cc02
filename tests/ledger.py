"""Helpers the test tiers share: a clock to move, given/when/then over aggregates, refusals that
record nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import CanCreateTimestamp

from domain.application import Actor, Goldsplit
from domain.exceptions import DomainError

# The cast of the stories: who acts, by the role their token carries (departments are the tests').
ADMIN = Actor("root", "admin")
LEAD = Actor("lin", "lead")
FINANCE = Actor("fiona", "finance")
AUDITOR = Actor("audrey", "auditor")
ALICE = Actor("alice", "member")
BOB = Actor("bob", "member")
CAROL = Actor("carol", "member")
DAVE = Actor("dave", "member")
ERIN = Actor("erin", "member")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def day(self, days: int) -> str:
        return (self.now.date() + timedelta(days=days)).isoformat()


def library_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> Clock:
    """A clock the test moves, for the Application and for the event timestamps alike (those come
    from the library's clock, not the Application's)."""
    clock = Clock(now)
    monkeypatch.setattr(CanCreateTimestamp, "create_timestamp", staticmethod(clock))
    return clock


def replay(events: Sequence[Any]) -> Any:
    """The aggregate these events make, as a repository would rebuild it."""
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def when(aggregate: Any, command: Callable[[Any], Any]) -> list[Any]:
    """Run a command on an aggregate; the events it decided."""
    command(aggregate)
    return aggregate.collect_events()


def then(events: Sequence[Any], *expected: tuple[type, dict]) -> None:
    """The events are of these types, in order, with these attribute values."""
    assert [type(e) for e in events] == [kind for kind, _ in expected]
    for event, (_, attributes) in zip(events, expected, strict=True):
        assert {name: getattr(event, name) for name in attributes} == attributes


def head(app: Goldsplit) -> int:
    return app.recorder.max_notification_id() or 0


def refused(app: Goldsplit, error: type[DomainError], call: Callable[..., Any], *args: Any,
            field: str | None = None, **kwargs: Any) -> DomainError:
    """Assert the call raises exactly `error` (naming `field`) and records nothing."""
    before = head(app)
    with pytest.raises(error) as refusal:
        call(*args, **kwargs)
    assert type(refusal.value) is error
    if field is not None:
        assert refusal.value.field == field
    assert head(app) == before
    return refusal.value


def events(app: Goldsplit, aggregate_id: str | UUID) -> list[Any]:
    """Every stored event of one aggregate, oldest first."""
    return list(app.repository.event_store.get(UUID(str(aggregate_id))))


def play_projecting_each_save(services: Any, play: Callable[[Goldsplit], Any]) -> None:
    """Play a story with the projections caught up after every save, as the API does."""
    app = services.app
    original = app.save

    def save_and_project(*aggregates: Any, **kwargs: Any) -> Any:
        recordings = original(*aggregates, **kwargs)
        services.runner.catch_up()
        return recordings

    app.save = save_and_project
    try:
        play(app)
    finally:
        app.save = original


def wait_until(condition: Callable[[], Any], timeout: float = 60.0, what: str = "the condition",
               every: float = 0.05) -> None:
    """Poll `condition` every `every` seconds until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
