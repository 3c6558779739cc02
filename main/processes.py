"""`goldsplit project`, `relay` and `consume` put together as long-running processes.

Each connects with backoff (a broker or database that is not up yet makes it wait and report
unhealthy, never crash-loop), serves its probes when GOLDSPLIT_HEALTH_PORT is set, and stops
cleanly on SIGTERM or Ctrl-C after the round it is in.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from consumers import kafka
from consumers.inbound import TOPICS, dlq_topic
from consumers.rounds import MOST_PAUSE_SECONDS
from domain.backoff import Backoff
from main.health import Health
from main.services import Services
from main.settings import Settings
from projections.runner import ProjectionRunner

log = logging.getLogger(__name__)

NO_PROGRESS_SECONDS = 60  # a projection process behind the log that long without moving is unhealthy


def _until_stopped() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
    return stop


def connected(what: str, connect: Callable[[], Any], stop: threading.Event, health: Health) -> Any:
    """`connect()`, retried with backoff until it works; None if stopped first."""
    backoff = Backoff(0.5, MOST_PAUSE_SECONDS)
    while not stop.is_set():
        try:
            return connect()
        except Exception as error:  # noqa: BLE001 - not up yet: wait, report, try again
            pause = backoff.pause()
            log.warning("cannot reach %s, retrying in %.1f s: %s", what, pause, error)
            health.failing(f"cannot reach {what}: {type(error).__name__}: {error}")
            stop.wait(pause)
    return None


@contextmanager
def _running(name: str, settings: Settings) -> Iterator[tuple[threading.Event, Health, Services] | None]:
    """The process's stop signal, its probes and its services once the database answers (None
    when stopped before it did)."""
    health = Health(name)
    if settings.health_port:
        port = health.serve(settings.health_host, settings.health_port)
        log.warning("%s: probes on http://%s:%d/health", name, settings.health_host, port)
    stop = _until_stopped()
    services = connected("the database", lambda: Services.build(settings), stop, health)
    if services is None:
        yield None
        return
    with services:
        yield stop, health, services


def project(settings: Settings, only: Sequence[str] = ()) -> int:
    """The projections (or `only` those named) as a process: follow the log; healthy while
    catch-ups work and none stalls."""
    with _running("project", settings) as running:
        if running is None:
            return 0
        stop, health, services = running
        runner = services.runner
        if only:
            runner = ProjectionRunner(services.app, services.views, database=services.db,
                                      projections=[p for p in runner.projections if p.name in only])
        runner.start(settings.projection_poll_seconds)
        log.warning("projecting %s events into %s", services.db.kind,
                    ", ".join(p.name for p in runner.projections))
        try:
            seen, moved_at = -1, time.monotonic()
            while not stop.wait(1.0):
                if runner.stalled is not None:
                    health.failing(str(runner.stalled))
                    continue
                if runner.failure is not None:
                    health.failing(runner.failure)
                    continue
                if not runner.caught_up_at:
                    continue  # still on its first catch-up: "starting"
                try:
                    head = services.app.recorder.max_notification_id() or 0
                    position = runner.position()
                except Exception as error:  # noqa: BLE001 - the store went away between rounds
                    health.failing(f"{type(error).__name__}: {error}")
                    continue
                if position != seen or position >= head:
                    seen, moved_at = position, time.monotonic()
                if time.monotonic() - moved_at > NO_PROGRESS_SECONDS:
                    health.failing(f"no progress for {NO_PROGRESS_SECONDS} s at position {position}, "
                                   f"{head - position} events behind")
                    continue
                health.ok(projection_position=position, projection_lag_events=head - position,
                          projection_listener_connected=int(runner.listener_connected),
                          projection_listener_reconnects_total=runner.listener_reconnects)
        finally:
            runner.stop()
    return 0


def relay(settings: Settings) -> int:
    from consumers.relay import EVENTS, Relay

    with _running("relay", settings) as running:
        if running is None:
            return 0
        stop, health, services = running
        def connect() -> Any:
            kafka.ensure_topics(settings.kafka_bootstrap, [EVENTS], settings.kafka_topic_partitions)
            return kafka.producer(settings.kafka_bootstrap)

        producer = connected("Kafka", connect, stop, health)
        if producer is None:
            return 0
        try:
            Relay(services.app, services.views, producer).run(
                stop, health, settings.projection_poll_seconds,
                probe=lambda: kafka.reachable(settings.kafka_bootstrap))
        finally:
            producer.close()
    return 0


def consume(settings: Settings) -> int:
    from consumers.consume import Consume

    with _running("consume", settings) as running:
        if running is None:
            return 0
        stop, health, services = running

        def connect() -> tuple[Any, Any]:
            kafka.ensure_topics(settings.kafka_bootstrap, [*TOPICS, *map(dlq_topic, TOPICS)],
                                settings.kafka_topic_partitions)
            return (kafka.consumer(settings.kafka_bootstrap, settings.kafka_group, TOPICS),
                    kafka.producer(settings.kafka_bootstrap))

        clients = connected("Kafka", connect, stop, health)
        if clients is None:
            return 0
        consumer, producer = clients
        try:
            Consume(services.app, services.counts, consumer, producer).run(
                stop, health, probe=lambda: kafka.reachable(settings.kafka_bootstrap))
        finally:
            consumer.close()
            producer.close()
    return 0
