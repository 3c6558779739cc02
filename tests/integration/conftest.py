"""Fixtures of the integration tests: a real Kafka-protocol broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.broker import running_broker


@pytest.fixture
def kafka_bootstrap() -> Iterator[str]:
    """A tansu broker of this test's own (in memory), killed afterwards."""
    with running_broker() as bootstrap:
        yield bootstrap
