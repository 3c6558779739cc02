"""The Kafka clients goldsplit's processes use, configured in one place (kafka-python)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 15_000


def producer(bootstrap: str, **overrides: object) -> Producer:
    """A producer that waits for every in-sync replica and keeps each partition's order on retries."""
    from kafka import KafkaProducer

    options = dict(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5,
                   max_in_flight_requests_per_connection=1, retries=5,
                   request_timeout_ms=REQUEST_TIMEOUT_MS, client_id="goldsplit")
    options.update(overrides)
    return Producer(lambda: KafkaProducer(**options))


class Producer:
    """A kafka-python producer that is made anew after a failed round (`reset`).

    kafka-python's producer can fail for good: a broker that came back without the producer's id
    refuses it, and every later send fails with it. A process that keeps its producer would then
    stay unhealthy until restarted; one that resets it recovers by itself.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._producer: Any = make()  # connects now: a broker that is down is known at once

    def _current(self) -> Any:
        if self._producer is None:
            self._producer = self._make()
        return self._producer

    def send(self, topic: str, **kwargs: Any) -> Any:
        return self._current().send(topic, **kwargs)

    def flush(self, timeout: float | None = None) -> None:
        self._current().flush(timeout=timeout)

    def reset(self) -> None:
        """Drop this producer (what it had not sent is sent again by the caller's next round)."""
        dropped, self._producer = self._producer, None
        if dropped is not None:
            try:
                dropped.close(timeout=0)
            except Exception as error:  # noqa: BLE001 - it is being dropped for failing already
                log.info("closing a failed producer: %s", error)

    def close(self, timeout: float | None = 5.0) -> None:
        dropped, self._producer = self._producer, None
        if dropped is not None:
            try:
                dropped.close(timeout=timeout)
            except Exception as error:  # noqa: BLE001 - Kafka down while stopping: nothing to lose
                log.warning("closing the producer: %s", error)


def consumer(bootstrap: str, group: str, topics: Iterable[str], **overrides: object):
    """A consumer in `group` that commits only when told to (after the ledger has the effect)."""
    from kafka import KafkaConsumer

    options = dict(bootstrap_servers=bootstrap.split(","), group_id=group, enable_auto_commit=False,
                   auto_offset_reset="earliest", max_poll_records=500, client_id="goldsplit",
                   # a short session lets a group (re)form in seconds, not tens of them, when a
                   # consumer starts or dies; a batch of 500 commands takes well under a minute
                   session_timeout_ms=6_000, heartbeat_interval_ms=1_000, max_poll_interval_ms=60_000,
                   request_timeout_ms=REQUEST_TIMEOUT_MS + 5_000)
    options.update(overrides)
    return KafkaConsumer(*topics, **options)


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet (a cluster that refuses is left to its operators)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="goldsplit",
                             request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        missing = sorted(set(topics) - set(admin.list_topics()))
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, partitions, 1)])
                log.info("created topic %s with %d partitions", topic, partitions)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def reachable(bootstrap: str, timeout: float = 2.0) -> None:
    """Raise OSError unless some bootstrap server accepts a connection within `timeout` seconds."""
    import socket

    failures = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout).close()
            return
        except (OSError, ValueError) as error:
            failures.append(f"{server}: {error}")
    raise OSError("no Kafka bootstrap server answers (" + "; ".join(failures) + ")")
