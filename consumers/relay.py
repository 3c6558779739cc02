"""The relay: every event of the log, in log order, to the Kafka topic `goldsplit.events.v1`, at
least once. A request handler never writes to Kafka: the log is the only thing the relay reads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from consumers.rounds import Reporter, run_rounds
from domain.aggregates import event_id
from domain.application import Goldsplit
from projections.audit import GENESIS, digest_of, link
from projections.store import ViewStore

log = logging.getLogger(__name__)

EVENTS = "goldsplit.events.v1"
SCHEMA_VERSION = 1
NAME = f"relay:{EVENTS}"  # its row in goldsplit_tracking
VIEW = "relay"  # its chain value, keyed by topic
ACK_TIMEOUT_SECONDS = 30


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def message(app: Goldsplit, notification: Any, chain: bytes) -> dict:
    """The `goldsplit.events.v1` value of one stored event (the README's "Kafka in and out")."""
    event = app.mapper.to_domain_event(notification)
    data = {k: v for k, v in vars(event).items()
            if k not in ("originator_id", "originator_version", "timestamp")}
    return {"schema_version": SCHEMA_VERSION, "position": notification.id,
            "event_id": str(event_id(notification.originator_id, notification.originator_version)),
            "topic": notification.topic, "aggregate_id": str(notification.originator_id),
            "aggregate_version": notification.originator_version,
            "occurred_at": event.timestamp.isoformat(), "data": data, "chain": chain.hex()}


def encode(doc: dict) -> bytes:
    return json.dumps(doc, default=_plain, separators=(",", ":"), sort_keys=True).encode()


class Relay:
    """Reads the log from the position it has tracked in the database, publishes a batch, waits
    until Kafka has acknowledged every message of it, and only then moves its position (in the
    tracking table the projections use, with the audit chain value reached, in one transaction).
    A relay killed at any moment publishes again what it had not recorded as done: at least once,
    nothing lost; downstream readers drop repeats by `event_id` or `position`. Each message also
    carries `chain`, the audit chain value at its position (docs/audit.md), so the chain's heads
    live outside the database too."""

    def __init__(self, app: Goldsplit, store: ViewStore, producer: Any, batch_size: int = 1000) -> None:
        self.app = app
        self.store = store
        self.producer = producer
        self.batch_size = batch_size
        self.published = 0

    def position(self) -> int:
        return self.store.position(NAME)

    def publish_batch(self) -> int:
        """Publish the next batch of the log; answer how many events were published (0: caught up)."""
        checkpoint = self.store.checkpoints([NAME])[NAME]
        notifications = self.app.recorder.select_notifications(
            start=checkpoint.position, limit=self.batch_size, inclusive_of_start=False)
        if not notifications:
            return 0
        kept = self.store.get(VIEW, EVENTS) if checkpoint.position else None
        chain = bytes.fromhex(kept["chain"]) if kept else GENESIS
        if kept and kept["position"] != checkpoint.position:
            raise RuntimeError(f"the relay's chain is at {kept['position']}, its position at "
                               f"{checkpoint.position}")
        sent = []
        for notification in notifications:
            chain = link(chain, digest_of(notification))
            sent.append(self.producer.send(
                EVENTS, key=str(notification.originator_id).encode(),
                value=encode(message(self.app, notification, chain))))
        self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
        for future in sent:
            future.get(timeout=ACK_TIMEOUT_SECONDS)  # raises if Kafka did not take one of them
        last = notifications[-1].id
        if not self.store.commit({NAME: (checkpoint, last)},
                                 {(VIEW, EVENTS): {"position": last, "chain": chain.hex()}}):
            log.warning("another relay moved the position first; events %d..%d went out twice",
                        notifications[0].id, last)
            return 0
        self.published += len(notifications)
        return len(notifications)

    def catch_up(self) -> int:
        """Publish until the head of the log; answer the position reached."""
        while self.publish_batch():
            pass
        return self.position()

    def run(self, stop: threading.Event, health: Reporter, interval: float = 0.2,
            probe: Callable[[], None] | None = None, check_every: float = 10.0) -> None:
        """Follow the log until `stop`, retrying with backoff while Kafka or the database is down.

        An idle relay does not talk to Kafka, so every `check_every` seconds it calls `probe`
        (which raises when the broker does not answer) to keep its health true.
        """
        checked = [time.monotonic()]

        def round_() -> tuple[dict, bool]:
            published = self.publish_batch()
            if not published and probe is not None and time.monotonic() - checked[0] > check_every:
                probe()
                checked[0] = time.monotonic()
            position, head = self.position(), self.app.recorder.max_notification_id() or 0
            return {"relay_position": position, "relay_lag_events": head - position,
                    "relay_published_total": self.published}, not published

        def failed() -> None:
            self.producer.reset()  # a producer failed for good would fail every round
            checked[0] = 0.0

        run_rounds(stop, health, round_, on_failure=failed, idle_wait=interval, first_pause=interval)
