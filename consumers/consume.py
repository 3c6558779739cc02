"""The consumer: messages of the inbound topics, as commands, in a consumer group.

For each polled batch it runs every message's command (consumers/inbound.py), sends what cannot be
accepted to `<topic>.dlq` unchanged with an `error` header, adds the outcomes to the counts, and
only then commits the batch's offsets. When the store does not answer, it commits what took effect,
rewinds to the message it could not run, backs off and tries again: nothing is skipped. A consumer
killed at any moment re-reads from the last commit, and the messages it had already applied are
recognised by their source ids and change nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from consumers.counts import Counts
from consumers.inbound import Rejected, accept, dlq_topic
from domain.application import Goldsplit
from domain.exceptions import ConcurrencyConflict

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 30


class Consume:
    def __init__(self, app: Goldsplit, counts: Counts, consumer: Any, producer: Any) -> None:
        self.app = app
        self.counts = counts
        self.consumer = consumer
        self.producer = producer  # for the DLQ
        self.seen: Counter[tuple[str, str]] = Counter()

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Take one batch from Kafka and apply it; answer how many messages took their course."""
        from kafka.structs import OffsetAndMetadata

        batch = self.consumer.poll(timeout_ms=timeout_ms)
        counted: Counter[tuple[str, str]] = Counter()
        offsets: dict[Any, Any] = {}
        dead: list[Any] = []
        pending = {tp: messages[0].offset for tp, messages in batch.items() if messages}
        try:
            for tp, messages in batch.items():
                for record in messages:
                    counted[(record.topic, self._apply(record, dead))] += 1
                    offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                    pending[tp] = record.offset + 1
                del pending[tp]
        except Exception:
            for tp, offset in pending.items():  # read again from the first message without effect
                self.consumer.seek(tp, offset)
            raise
        finally:
            self._settle(dead, counted, offsets)
        return sum(counted.values())

    def _apply(self, record: Any, dead: list[Any]) -> str:
        try:
            return accept(self.app, record.topic, record.value, record.partition, record.offset)
        except ConcurrencyConflict:
            raise  # others kept writing the same deal: a retry succeeds, it is no reason to reject
        except Rejected as rejected:
            log.info("%s[%d]@%d to the DLQ: %s", record.topic, record.partition, record.offset,
                     rejected.reason)
            headers = [(k, v) for k, v in (record.headers or []) if k != "error"]
            dead.append(self.producer.send(
                dlq_topic(record.topic), key=record.key, value=record.value,
                headers=[*headers, ("error", rejected.reason.encode())]))
            return rejected.outcome

    def _settle(self, dead: list[Any], counted: Counter, offsets: dict) -> None:
        """DLQ sends acknowledged, outcomes counted, offsets committed: in that order."""
        if not offsets:
            return
        if dead:
            self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
            for future in dead:
                future.get(timeout=ACK_TIMEOUT_SECONDS)
        self.counts.add(counted)
        self.seen.update(counted)
        self.consumer.commit(offsets)

    def run(self, stop: threading.Event, health: Any) -> None:
        """Consume until `stop`, backing off while Kafka or the database is down."""
        pause = 0.5
        while not stop.is_set():
            try:
                self.poll_once()
                health.ok(consumer_messages_total=sum(self.seen.values()))
                pause = 0.5
            except Exception as error:  # noqa: BLE001 - report, back off, keep the offsets
                log.warning("consumer round failed, retrying in %.1f s: %s", pause, error)
                health.failing(f"{type(error).__name__}: {error}")
                stop.wait(pause)
                pause = min(pause * 2, 30.0)
