"""A database or a broker that goes away under a running consumer or relay: the loop reports
unhealthy with the reason, backs off and carries on; nothing is lost, skipped, dead-lettered or
doubled, and health comes back once the store or the broker does."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

import psycopg
import pytest
from kafka.errors import KafkaTimeoutError

from consumers import kafka
from consumers.consume import Consume
from consumers.inbound import CONTRIBUTIONS, TOPICS, dlq_topic
from consumers.relay import EVENTS, Relay
from main.health import Health
from main.services import Services
from storage.counts import Counts
from tests import ledger
from tests.broker import broker_on, free_port, produce, read_all
from tests.conftest import SERVER_URL, build_services
from tests.ledger import ADMIN, ALICE

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]



wait_until = partial(ledger.wait_until, timeout=90.0, every=0.1)


@contextmanager
def running(loop: Callable[[threading.Event, Health], None],
            name: str) -> Iterator[tuple[Health, threading.Thread]]:
    """Run `loop(stop, health)` in a thread; stop it and wait for it afterwards: it must not have died."""
    stop, health = threading.Event(), Health(name)
    failures: list[BaseException] = []

    def target() -> None:
        try:
            loop(stop, health)
        except BaseException as error:  # noqa: BLE001 - the test asserts there is none
            failures.append(error)

    thread = threading.Thread(target=target, name=f"test-{name}", daemon=True)
    thread.start()
    try:
        yield health, thread
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive(), f"the {name} loop did not stop"
    assert not failures, f"the {name} loop died: {failures[0]!r}"


def healthy(health: Health) -> bool:
    return health.status()[0]


def unhealthy_reason(health: Health) -> str | None:
    ok, doc = health.status()
    return None if ok else doc["reason"]


# -- the database goes away under the consumer ---------------------------------------------------


@contextmanager
def database_refusing(database_url: str) -> Iterator[None]:
    """No connection to the database is allowed, and the open ones are cut, until the block ends."""
    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def dead_letters(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        assert partitions, f"no topic {topic}"
        return sum(reader.end_offsets(partitions).values())
    finally:
        reader.close()


def contributions(count: int, oid: str, when: str, start: int = 0) -> list[dict]:
    return [{"source": "ticketing", "source_id": f"TCK-{n}", "opportunity_id": oid,
             "member_id": "alice", "kind": "visit", "summary": f"ticket {n}", "occurred_at": when}
            for n in range(start, start + count)]


def test_the_consumer_reports_unhealthy_while_the_database_is_down_and_then_applies_every_message_once(
        postgres_url: str, kafka_bootstrap: str) -> None:
    services = build_services(postgres_url)
    try:
        app = services.app
        app.register_member(ADMIN, "alice", "Alice", "sales")
        oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                                   currency="USD", expected_close="2030-01-01").id
        when = (app.clock() - timedelta(hours=1)).isoformat()
        kafka.ensure_topics(kafka_bootstrap, [*TOPICS, *map(dlq_topic, TOPICS)], 3)
        counts = Counts(services.db)
        consumer = kafka.consumer(kafka_bootstrap, "goldsplit-outage", TOPICS)
        producer = kafka.producer(kafka_bootstrap)
        consume = Consume(app, counts, consumer, producer)

        def recorded() -> int:
            return len(app.repository.get(UUID(oid)).contributions)

        try:
            with running(consume.run, "consume") as (health, thread):
                produce(kafka_bootstrap, CONTRIBUTIONS, contributions(20, oid, when), key=oid.encode())
                wait_until(lambda: recorded() == 20 and healthy(health), what="the first messages")

                with database_refusing(postgres_url):
                    produce(kafka_bootstrap, CONTRIBUTIONS, contributions(30, oid, when, start=20),
                            key=oid.encode())
                    wait_until(lambda: unhealthy_reason(health), what="the consumer to report unhealthy")
                    reason = unhealthy_reason(health)
                    assert reason and reason != "starting"
                    time.sleep(2)  # a few failed rounds: the loop backs off and keeps going
                    assert thread.is_alive()
                    assert not healthy(health)
                    produce(kafka_bootstrap, CONTRIBUTIONS, contributions(10, oid, when, start=50),
                            key=oid.encode())

                wait_until(lambda: recorded() >= 60 and healthy(health), timeout=120,
                           what="every message after the database came back")
                time.sleep(1)  # would a repeat slip in after the last one?
                assert thread.is_alive()
        finally:
            consumer.close()
            producer.close()

        summaries = Counter(c["summary"] for c in app.repository.get(UUID(oid)).contributions.values())
        assert set(summaries) == {f"ticket {n}" for n in range(60)}
        assert set(summaries.values()) == {1}  # each exactly once
        outcomes = {outcome: n for (topic, outcome), n in Counts(services.db).all().items()
                    if topic == CONTRIBUTIONS}
        assert set(outcomes) <= {"accepted", "duplicate"}, outcomes  # nothing rejected for the outage
        assert dead_letters(kafka_bootstrap, dlq_topic(CONTRIBUTIONS)) == 0
    finally:
        with contextlib.suppress(Exception):
            services.close()


class SendFailsOnce:
    """A producer whose first send fails, as when Kafka drops the connection at that moment."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.failed = False

    def send(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise KafkaTimeoutError("the broker did not answer")
        return self.producer.send(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


def test_a_batch_whose_dead_letter_could_not_be_sent_is_read_again_and_dead_lettered(
        postgres_url: str, kafka_bootstrap: str) -> None:
    services = build_services(postgres_url)
    try:
        app = services.app
        app.register_member(ADMIN, "alice", "Alice", "sales")
        oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                                   currency="USD", expected_close="2030-01-01").id
        when = (app.clock() - timedelta(hours=1)).isoformat()
        kafka.ensure_topics(kafka_bootstrap, [*TOPICS, *map(dlq_topic, TOPICS)], 1)
        consumer = kafka.consumer(kafka_bootstrap, "goldsplit-settle", TOPICS)
        producer = kafka.producer(kafka_bootstrap)
        consume = Consume(app, Counts(services.db), consumer, SendFailsOnce(producer))
        try:
            produce(kafka_bootstrap, CONTRIBUTIONS, [b"{not json", *contributions(1, oid, when)])
            with running(consume.run, "consume") as (health, _):
                wait_until(lambda: consume.producer.failed and healthy(health), what="a failed round")
                produce(kafka_bootstrap, CONTRIBUTIONS, contributions(1, oid, when, start=1))
                wait_until(lambda: len(app.repository.get(UUID(oid)).contributions) == 2,
                           what="the later message")
                time.sleep(2)  # its batch settled too
        finally:
            consumer.close()
            producer.close()
        assert dead_letters(kafka_bootstrap, dlq_topic(CONTRIBUTIONS)) == 1
    finally:
        with contextlib.suppress(Exception):
            services.close()


# -- the broker goes away under the relay ---------------------------------------------------------




def more_history(services: Services, oid: str, count: int, label: str) -> int:
    app = services.app
    when = (app.clock() - timedelta(minutes=5)).isoformat()
    for n in range(count):
        position = app.record_contribution(ALICE, oid, member_id="alice", kind="visit",
                                           summary=f"{label} {n}", occurred_at=when).position
    return position


@pytest.fixture
def relay_story(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, str]]:
    """A ledger on PostgreSQL with 20 events and an opportunity to add more to; its id."""
    monkeypatch.setattr("consumers.relay.ACK_TIMEOUT_SECONDS", 5)  # unhealthy in seconds, not 30
    services = build_services(postgres_url)
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                               currency="USD", expected_close="2030-01-01").id
    more_history(services, oid, 20, "before")
    yield services, oid
    with contextlib.suppress(Exception):
        services.close()


def relay_on(services: Services, bootstrap: str) -> Relay:
    producer = kafka.producer(bootstrap, reconnect_backoff_max_ms=1000)
    return Relay(services.app, services.views, producer, batch_size=5)


def closed(producer: Any) -> None:
    """Close a producer once a broker answers again: what it could not send fails then (or goes)."""
    with contextlib.suppress(KafkaTimeoutError):
        producer.close(timeout=10)


def kafka_goes_away(services: Services, oid: str, relay: Relay, broker: subprocess.Popen,
                    health: Health, thread: threading.Thread) -> tuple[int, int]:
    """Kill the broker under the running relay, log more events; (position it stopped at, head)."""
    wait_until(lambda: relay.position() == services.app.recorder.max_notification_id()
               and healthy(health), what="the relay to catch up")
    broker.kill()
    broker.wait(timeout=10)
    stopped_at = relay.position()
    head = more_history(services, oid, 12, "while down")

    wait_until(lambda: unhealthy_reason(health), what="the relay to report unhealthy")
    assert unhealthy_reason(health) != "starting"
    for _ in range(30):  # rounds fail and back off; the position stays: Kafka acknowledged nothing
        assert relay.position() == stopped_at
        assert not healthy(health)
        assert thread.is_alive()
        time.sleep(0.1)
    return stopped_at, head


def test_the_relay_reports_unhealthy_while_kafka_is_down_keeps_its_position_and_resumes_from_it(
        relay_story: tuple[Services, str]) -> None:
    services, oid = relay_story
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    with broker_on(port) as first_broker:
        kafka.ensure_topics(bootstrap, [EVENTS], 3)
        first = relay_on(services, bootstrap)
        with running(lambda stop, health: first.run(stop, health, 0.05), "relay") as (health, thread):
            stopped_at, head = kafka_goes_away(services, oid, first, first_broker, health, thread)

    # a new broker on the same address (empty: tansu keeps messages in memory) and the relay
    # process started again, as its operator or Kubernetes would
    with broker_on(port):
        kafka.ensure_topics(bootstrap, [EVENTS], 3)
        closed(first.producer)
        relay = relay_on(services, bootstrap)
        try:
            with running(lambda stop, health: relay.run(stop, health, 0.05), "relay") as (health, _):
                wait_until(lambda: relay.position() == head and healthy(health),
                           what="the relay to publish the rest")
        finally:
            closed(relay.producer)
        values = [json.loads(r.value) for r in read_all(bootstrap, EVENTS, head - stopped_at)]

    assert {v["position"] for v in values} == set(range(stopped_at + 1, head + 1))  # from where it stopped
    assert services.views.position(f"relay:{EVENTS}") == head


def test_a_running_relay_recovers_by_itself_once_kafka_is_back(relay_story: tuple[Services, str]) -> None:
    services, oid = relay_story
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    with broker_on(port) as first_broker:
        kafka.ensure_topics(bootstrap, [EVENTS], 3)
        relay = relay_on(services, bootstrap)
        with running(lambda stop, health: relay.run(stop, health, 0.05), "relay") as (health, thread):
            _, head = kafka_goes_away(services, oid, relay, first_broker, health, thread)
            with broker_on(port):
                kafka.ensure_topics(bootstrap, [EVENTS], 3)
                try:  # a short outage keeps the backoff short: a relay that can recover has by then
                    wait_until(lambda: relay.position() == head and healthy(health), timeout=40,
                               what="the same relay to publish the rest")
                finally:
                    closed(relay.producer)
