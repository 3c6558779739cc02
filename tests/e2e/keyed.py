"""A client that keys every write and checks what the key promises (tests/e2e/test_keyed_*.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from main.services import Services

WRITES = {"POST", "PUT", "PATCH"}


class KeyedClient(TestClient):
    """A test client that keys every write and checks what the key promises. Requests sent at
    once (the race tests) are checked for their replay only: the store's counts and the log head
    then move for the others too."""

    _flight = threading.Lock()
    _in_flight = 0
    _started = 0

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        if method.upper() not in WRITES:
            return super().request(method, url, **kwargs)
        headers = dict(kwargs.pop("headers", None) or {})
        if not any(name.lower() == "idempotency-key" for name in headers):
            headers["Idempotency-Key"] = f"story-{uuid.uuid4()}"
        services: Services = self.app.state.services
        store = services.idempotency
        with self._flight:
            KeyedClient._in_flight += 1
            KeyedClient._started += 1
            alone, started = KeyedClient._in_flight == 1, KeyedClient._started
        try:
            head = services.app.recorder.max_notification_id() or 0
            kept, disagreements = store.kept, store.disagreements
            first = super().request(method, url, headers=headers, **kwargs)
            answer = first.json() if first.headers.get("content-type") == "application/json" else None
            if not (200 <= first.status_code < 300 and isinstance(answer, dict)
                    and answer.get("position", 0) > head):
                return first  # recorded nothing: nothing was kept with events
            # a policy version that a regrade follows keeps none: a retry adds nothing and regrades
            regraded = "regraded" in answer and str(url).startswith("/v1/policies/")
            alone = alone and KeyedClient._started == started  # none began meanwhile
            if alone:
                assert (store.kept, store.disagreements) == (kept + (not regraded), disagreements), \
                    f"{method} {url}: its answer was not kept with its events, or differs from the one sent"
            recorded = services.app.recorder.max_notification_id()
            again = super().request(method, url, headers=headers, **kwargs)
            assert (again.status_code, again.content) == (first.status_code, first.content), \
                f"{method} {url}"
            assert again.headers["Idempotent-Replayed"] == "true"
            if alone:
                assert services.app.recorder.max_notification_id() == recorded  # nothing recorded
            return first
        finally:
            with self._flight:
                KeyedClient._in_flight -= 1


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:  # noqa: F811  (this module's client)
    with KeyedClient(create_app(services=services)) as test_client:
        yield test_client
