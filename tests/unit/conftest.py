"""Fixtures of the unit tests: a clock the test moves, and the Application in memory with the
team registered. Each reads the module it serves, as pytest's `request.module` allows: the clock
starts at the module's NOW and `app` registers the module's MEMBERS (id -> department), else
tests/builders.py's NOW and TEAM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import Goldsplit
from tests import builders
from tests.ledger import Clock, library_clock


@pytest.fixture
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Stopped at the module's NOW; it dates the Application's facts and the events' timestamps."""
    return library_clock(monkeypatch, getattr(request.module, "NOW", builders.NOW))


@pytest.fixture
def app(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Goldsplit]:
    """The Application on the in-memory store, on `clock`, with the module's MEMBERS registered."""
    with builders.in_memory(clock, getattr(request.module, "MEMBERS", builders.TEAM)) as application:
        yield application
