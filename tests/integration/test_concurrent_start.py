"""Processes that start together on a new PostgreSQL database create its tables one at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import build_services

pytestmark = pytest.mark.postgres


def test_many_processes_starting_at_once_on_a_new_database_all_start(postgres_url: str) -> None:
    def start(_: int):
        return build_services(postgres_url)

    # four: each holds about ten connections (the event store's pool opens eight at once), and
    # PostgreSQL serves a hundred
    with ThreadPoolExecutor(4) as pool:
        started = list(pool.map(start, range(4)))  # one failing raises here
    try:
        for services in started:
            assert services.app.recorder.max_notification_id() >= 1  # the default policies
            services.views.positions()  # the tracking table answers
            assert services.counts.all() == {}
    finally:
        for services in started:
            services.close()
