"""What the application keeps between commands (policy versions, the aggregates it just saved) is
brought up to date with what any process saved since, before a command decides on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.aggregates import PolicyBook
from domain.application import Goldsplit
from domain.exceptions import UnknownContributionKind
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from storage.database import Database
from tests.builders import in_memory
from tests.ledger import ADMIN, FINANCE, LEAD, Clock

NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)
TODAY = NOW.date()
WITH_WORKSHOPS = {**DEFAULT_INCENTIVE_DOCUMENT, "effective_from": "2026-01-01",
                  "kind_weights": {**DEFAULT_INCENTIVE_DOCUMENT["kind_weights"], "workshop": 4}}


def book_loads(app: Goldsplit) -> list[Any]:
    """Record every time the application loads a policy book from the store."""
    loads: list[Any] = []
    books = {PolicyBook.create_id(kind) for kind in ("incentive", "opportunity-grading")}
    original = app.repository.get

    def get(aggregate_id: Any, **kwargs: Any) -> Any:
        if aggregate_id in books:
            loads.append(aggregate_id)
        return original(aggregate_id, **kwargs)

    app.repository.get = get  # type: ignore[method-assign]
    return loads


@pytest.fixture
def app() -> Iterator[Goldsplit]:
    with in_memory(Clock(NOW), {"alice": "sales"}) as application:
        yield application


def test_commands_read_the_policy_book_once_while_no_version_is_added(app: Goldsplit) -> None:
    app.incentive_policy_in_force(TODAY)
    loads = book_loads(app)
    for _ in range(5):
        assert app.incentive_policy_in_force(TODAY).version == 1
    assert loads == []


def test_a_version_added_in_this_process_is_in_force_at_once(app: Goldsplit) -> None:
    assert "workshop" not in app.incentive_policy_in_force(TODAY).kind_weights
    app.add_policy(FINANCE, "incentive", WITH_WORKSHOPS)
    loads = book_loads(app)
    assert app.incentive_policy_in_force(TODAY).kind_weights["workshop"] == 4
    assert [p.version for p in app.policies("incentive")] == [1, 2]
    assert loads == []  # add_policy kept what it saved


def test_the_list_of_versions_given_out_is_a_copy(app: Goldsplit) -> None:
    app.policies("incentive").clear()
    assert [p.version for p in app.policies("incentive")] == [1]


def test_a_version_added_by_another_process_is_seen_by_the_next_command(database_url: str) -> None:
    env = Database(database_url).eventsourcing_env()
    clock = Clock(NOW)
    here, there = Goldsplit(env=env, clock=clock), Goldsplit(env=env, clock=clock)
    try:
        here.register_member(ADMIN, "alice", "Alice", "sales")
        oid = here.open_opportunity(LEAD, account_id="acme", name="Acme", amount="1000.00",
                                    currency="USD", expected_close="2026-12-01").id
        here.assign_triangle_role(LEAD, oid, "AR", "alice")
        workshop = dict(member_id="alice", kind="workshop", summary="Workshop",
                        occurred_at=NOW.isoformat())
        with pytest.raises(UnknownContributionKind):
            here.record_contribution(LEAD, oid, **workshop)  # the versions are kept now

        there.add_policy(FINANCE, "incentive", WITH_WORKSHOPS)

        assert here.incentive_policy_in_force(TODAY).version == 2
        assert here.record_contribution(LEAD, oid, **workshop).position > 0
        assert [p.version for p in here.policies("incentive")] == [1, 2]
    finally:
        here.close()
        there.close()


def test_a_kept_opportunity_takes_in_another_processs_save_before_deciding(database_url: str) -> None:
    env = Database(database_url).eventsourcing_env()
    clock = Clock(NOW)
    here, there = Goldsplit(env=env, clock=clock), Goldsplit(env=env, clock=clock)
    try:
        here.register_member(ADMIN, "alice", "Alice", "sales")
        oid = here.open_opportunity(LEAD, account_id="acme", name="Acme", amount="1000.00",
                                    currency="USD", expected_close="2026-12-01").id
        here.assign_triangle_role(LEAD, oid, "AR", "alice")  # here keeps the opportunity now
        visit = dict(member_id="alice", kind="visit", occurred_at=NOW.isoformat())
        theirs = there.record_contribution(LEAD, oid, summary="there", **visit).id
        saves: list[Any] = []
        original = here.save

        def save(*aggregates: Any, **kwargs: Any) -> Any:
            saves.append(aggregates)
            return original(*aggregates, **kwargs)

        here.save = save  # type: ignore[method-assign]
        ours = here.record_contribution(LEAD, oid, summary="here", **visit).id

        assert len(saves) == 1  # decided on the state with theirs: no lost race, no retry
        contributions = there._opportunity(oid).contributions
        assert {theirs, ours} <= set(contributions)
    finally:
        here.close()
        there.close()
