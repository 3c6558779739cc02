"""The consumer: messages of the inbound topics, as commands (consumers/inbound.py), in a consumer
group, with what cannot be accepted sent to `<topic>.dlq`."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from consumers.inbound import Rejected, accept_batch, dlq_topic
from consumers.rounds import Reporter, run_rounds
from domain.application import Goldsplit
from storage.counts import Counts

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 30


class Consume:
    """For each polled batch: run the messages' commands, send what cannot be accepted to
    `<topic>.dlq` unchanged with an `error` header, add the outcomes to the counts, and only then
    commit the batch's offsets. When the store does not answer, rewind to the batch's start, back
    off and try again: nothing is skipped. A consumer killed at any moment re-reads from the last
    commit, and the messages it had already applied are recognised by their source ids and change
    nothing."""

    def __init__(self, app: Goldsplit, counts: Counts, consumer: Any, producer: Any) -> None:
        self.app = app
        self.counts = counts
        self.consumer = consumer
        self.producer = producer  # for the DLQ
        self.seen: Counter[tuple[str, str]] = Counter()

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Take one batch from Kafka and apply it; answer how many messages took their course.

        When the batch cannot be settled (the store does not answer, a dead letter is not
        acknowledged, the commit fails), every partition of it is rewound to the batch's first
        message: read again, the messages that took effect the first time are recognised and change
        nothing (a batch whose counts were added before its commit failed is counted again).
        """
        from kafka.structs import OffsetAndMetadata

        batch = {tp: messages for tp, messages in self.consumer.poll(timeout_ms=timeout_ms).items()
                 if messages}
        records = [record for messages in batch.values() for record in messages]
        if not records:
            return 0
        try:
            outcomes = accept_batch(self.app, [(r.topic, r.value, r.partition, r.offset)
                                               for r in records])
            counted: Counter[tuple[str, str]] = Counter()
            dead = []
            for record, outcome in zip(records, outcomes):
                if isinstance(outcome, Rejected):
                    dead.append(self._dead_letter(record, outcome))
                    outcome = outcome.outcome
                counted[(record.topic, outcome)] += 1
            self._settle(dead, counted, {tp: OffsetAndMetadata(messages[-1].offset + 1, "", -1)
                                         for tp, messages in batch.items()})
        except Exception:  # the commands, a dead letter, the counts or the commit: read it again
            for tp, messages in batch.items():
                self.consumer.seek(tp, messages[0].offset)
            raise
        return len(records)

    def _dead_letter(self, record: Any, rejected: Rejected) -> Any:
        log.info("%s[%d]@%d to the DLQ: %s", record.topic, record.partition, record.offset,
                 rejected.reason)
        headers = [(k, v) for k, v in (record.headers or []) if k != "error"]
        return self.producer.send(dlq_topic(record.topic), key=record.key, value=record.value,
                                  headers=[*headers, ("error", rejected.reason.encode())])

    def _settle(self, dead: list[Any], counted: Counter, offsets: dict) -> None:
        """DLQ sends acknowledged, outcomes counted, offsets committed: in that order."""
        if dead:
            self.producer.flush(timeout=ACK_TIMEOUT_SECONDS)
            for future in dead:
                future.get(timeout=ACK_TIMEOUT_SECONDS)
        self.counts.add(counted)
        self.seen.update(counted)
        self.consumer.commit(offsets)

    def lag(self) -> int:
        """Messages of the assigned partitions not consumed yet."""
        assigned = list(self.consumer.assignment())
        ends = self.consumer.end_offsets(assigned) if assigned else {}
        return sum(max(ends[tp] - self.consumer.position(tp), 0) for tp in assigned)

    def run(self, stop: threading.Event, health: Reporter, check_every: float = 10.0,
            probe: Callable[[], None] | None = None) -> None:
        """Consume until `stop`, backing off while Kafka or the database is down.

        The polls of a consumer whose broker is gone only come back empty, so every `check_every`
        seconds it also calls `probe` (which raises when the broker does not answer).
        """
        checked = [0.0]

        def round_() -> tuple[dict, bool]:
            self.poll_once()  # waits up to half a second for messages itself
            figures = {"consumer_messages_total": sum(self.seen.values())}
            if time.monotonic() - checked[0] > check_every:
                if probe is not None:
                    probe()
                figures["consumer_lag_messages"] = self.lag()
                checked[0] = time.monotonic()
            return figures, False

        def failed() -> None:
            self.producer.reset()  # a producer failed for good would fail every round
            checked[0] = 0.0

        run_rounds(stop, health, round_, on_failure=failed, idle_wait=0.0, first_pause=0.5)
