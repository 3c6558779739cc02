"""Kafka in and out against a real broker (tansu) and PostgreSQL: the relay publishes the log at
least once and in order, the consumer turns messages into commands once each, rejects to the DLQ
with the reason, and a kill -9 of either loses nothing and doubles nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from consumers import kafka
from consumers.consume import Consume
from consumers.inbound import CONTRIBUTIONS, OPPORTUNITIES, PAYMENTS, TOPICS, derived_id, dlq_topic
from consumers.relay import EVENTS, Relay
from main.health import Health
from main.services import Services
from projections.audit import chain_of
from storage.counts import Counts
from tests.broker import produce, read_all, running_broker
from tests.conftest import build_services
from tests.ledger import ADMIN, ALICE, wait_until
from tests.scrape import sample

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]



@pytest.fixture
def pg_services(postgres_url: str):
    built = build_services(postgres_url)
    yield built
    built.close()




def some_history(services: Services, contributions: int = 20) -> str:
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                               currency="USD", expected_close="2030-01-01").id
    when = (app.clock() - timedelta(hours=1)).isoformat()
    for n in range(contributions):
        app.record_contribution(ALICE, oid, member_id="alice", kind="visit", summary=f"visit {n}",
                                occurred_at=when)
    return oid


def process(command: str, database_url: str, bootstrap: str) -> subprocess.Popen:
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": database_url, "GOLDSPLIT_KAFKA_BOOTSTRAP": bootstrap,
           "GOLDSPLIT_KAFKA_TOPIC_PARTITIONS": "3", "GOLDSPLIT_PROJECTION_POLL_SECONDS": "0.05"}
    return subprocess.Popen([sys.executable, "-m", "main.cli", command], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stopped(worker: subprocess.Popen) -> None:
    worker.kill()
    worker.wait(timeout=10)


# -- out: the relay ------------------------------------------------------------------------------


def test_the_relay_publishes_every_event_once_in_log_order_keyed_by_aggregate(
        pg_services: Services, kafka_bootstrap: str) -> None:
    oid = some_history(pg_services)
    kafka.ensure_topics(kafka_bootstrap, [EVENTS], 3)
    producer = kafka.producer(kafka_bootstrap)
    try:
        head = Relay(pg_services.app, pg_services.views, producer, batch_size=7).catch_up()
    finally:
        producer.close()

    stored = pg_services.app.recorder.select_notifications(start=1, limit=10_000)
    assert head == stored[-1].id == len(stored)
    records = read_all(kafka_bootstrap, EVENTS, head)
    values = [json.loads(r.value) for r in records]
    assert sorted(v["position"] for v in values) == list(range(1, head + 1))  # each once
    for record, value in zip(records, values):
        assert record.key.decode() == value["aggregate_id"]
        assert set(value) >= {"position", "event_id", "topic", "aggregate_id", "aggregate_version",
                              "occurred_at", "data", "schema_version", "chain"}
        assert value["schema_version"] == 1
    by_aggregate: dict[str, list[int]] = {}
    for value in values:  # a partition keeps an aggregate's events in their order
        by_aggregate.setdefault(value["aggregate_id"], []).append(value["aggregate_version"])
    assert all(versions == sorted(versions) for versions in by_aggregate.values())
    recorded = [v for v in values if v["aggregate_id"] == oid and v["topic"].endswith("Recorded")]
    assert {v["data"]["summary"] for v in recorded} == {f"visit {n}" for n in range(20)}
    last = max(values, key=lambda v: v["position"])
    assert last["chain"] == chain_of(stored).hex()  # the audit chain's head, published


def test_a_killed_relay_resumes_from_its_tracked_position_and_loses_nothing(
        pg_services: Services, postgres_url: str, kafka_bootstrap: str) -> None:
    oid = some_history(pg_services, contributions=300)
    app = pg_services.app
    relay = process("relay", postgres_url, kafka_bootstrap)
    try:
        wait_until(lambda: pg_services.views.position(f"relay:{EVENTS}") > 0, what="a first batch")
        relay.send_signal(signal.SIGKILL)
        relay.wait(timeout=10)
        head = app.record_contribution(ALICE, oid, member_id="alice", kind="visit",
                                       summary="after the kill",
                                       occurred_at=(app.clock() - timedelta(minutes=1)).isoformat()
                                       ).position
        relay = process("relay", postgres_url, kafka_bootstrap)
        wait_until(lambda: pg_services.views.position(f"relay:{EVENTS}") >= head, what="the relay")
    finally:
        stopped(relay)
    values = [json.loads(r.value) for r in read_all(kafka_bootstrap, EVENTS, head)]
    assert {v["position"] for v in values} == set(range(1, head + 1))  # at least once, no gap


# -- in: the consumer ----------------------------------------------------------------------------


def _consumer(services: Services, bootstrap: str) -> Consume:
    kafka.ensure_topics(bootstrap, [*TOPICS, *map(dlq_topic, TOPICS)], 3)
    return Consume(services.app, Counts(services.db),
                   kafka.consumer(bootstrap, "goldsplit-test", TOPICS),
                   kafka.producer(bootstrap))


def _drain(consume: Consume, expected: int, timeout: float = 60.0) -> None:
    wait_until(lambda: (consume.poll_once(200), sum(consume.seen.values()))[1] >= expected,
               timeout, f"{expected} messages")


def _upsert(source_id: str, **changes: object) -> dict:
    return {"source": "crm", "source_id": source_id, "account_id": "acme", "name": "Acme renewal",
            "amount": "5000.00", "currency": "USD", "expected_close": "2026-01-31", **changes}


def test_messages_become_commands_once_and_the_rejected_go_to_the_dlq_with_the_reason(
        pg_services: Services, kafka_bootstrap: str) -> None:
    app = pg_services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    oid = str(derived_id("opportunity", "crm", "OPP-1"))
    produce(kafka_bootstrap, OPPORTUNITIES, [_upsert("OPP-1")], key=b"OPP-1")
    consume = _consumer(pg_services, kafka_bootstrap)
    try:
        _drain(consume, 1)
        app.assign_triangle_role(ADMIN, oid, "AR", "alice")
        when = (app.clock() - timedelta(hours=2)).isoformat()
        visit = {"source": "timesheet", "source_id": "T-1", "opportunity_id": oid,
                 "member_id": "alice", "kind": "visit", "summary": "on site", "hours": 3,
                 "occurred_at": when}
        produce(kafka_bootstrap, CONTRIBUTIONS, [
            visit, visit,  # delivered twice
            {**visit, "source_id": "T-2", "summary": "second visit"},
            b"{not json",
            {**visit, "source_id": "T-3", "colour": "blue"},
            {**visit, "source_id": "T-4", "kind": "karaoke"},
            {**visit, "source_id": "T-5", "opportunity_id": str(derived_id("opportunity", "crm", "nope"))},
            {**visit, "source_id": "T-6", "schema_version": 2},
        ], key=oid.encode())
        produce(kafka_bootstrap, OPPORTUNITIES, [_upsert("OPP-1", amount="6000.00")], key=b"OPP-1")
        _drain(consume, 10)
    finally:
        consume.consumer.close()
        consume.producer.close()

    opportunity = app.repository.get(derived_id("opportunity", "crm", "OPP-1"))
    assert opportunity.amount == 600000
    assert sorted(c["summary"] for c in opportunity.contributions.values()) == ["on site", "second visit"]
    assert all(c["status"] == "recorded" for c in opportunity.contributions.values())
    dead = read_all(kafka_bootstrap, dlq_topic(CONTRIBUTIONS), 5)
    reasons = {r.value: dict(r.headers)["error"].decode() for r in dead}
    assert len(dead) == 5
    assert "not UTF-8 JSON" in reasons[b"{not json"]
    assert any("colour" in reason and "unknown field" in reason for reason in reasons.values())
    assert any("karaoke" in reason for reason in reasons.values())
    assert any(reason.startswith("opportunity_id:") for reason in reasons.values())
    assert any(reason.startswith("schema_version:") for reason in reasons.values())
    counts = Counts(pg_services.db).all()
    assert counts[(CONTRIBUTIONS, "accepted")] == 2
    assert counts[(CONTRIBUTIONS, "duplicate")] == 1
    assert counts[(CONTRIBUTIONS, "unknown_opportunity")] == 1
    assert counts[(CONTRIBUTIONS, "rejected")] == 4
    assert counts[(OPPORTUNITIES, "accepted")] == 2
    replica = create_app(pg_services.settings, build=lambda: Services.build(pg_services.settings))
    with TestClient(replica) as client:  # any API replica shows them
        metrics = client.get("/metrics").text
    counted = {outcome: sample(metrics, "goldsplit_consumer_messages_total", topic=CONTRIBUTIONS,
                               outcome=outcome) for outcome in ("duplicate", "rejected")}
    assert counted == {"duplicate": 1, "rejected": 4}
    assert "goldsplit_relay_position{" not in metrics  # no relay has run here
    assert sample(metrics, "goldsplit_projection_listener_reconnects_total") == 0  # it follows by NOTIFY


def test_a_crm_win_and_erp_payments_take_effect_once(pg_services: Services,
                                                     kafka_bootstrap: str) -> None:
    app = pg_services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    oid = str(derived_id("opportunity", "crm", "OPP-9"))
    produce(kafka_bootstrap, OPPORTUNITIES, [_upsert("OPP-9", amount="1000.00")], key=b"OPP-9")
    consume = _consumer(pg_services, kafka_bootstrap)
    try:
        _drain(consume, 1)
        app.assign_triangle_role(ADMIN, oid, "AR", "alice")
        produce(kafka_bootstrap, OPPORTUNITIES, [_upsert("OPP-9", amount="1000.00", stage="Closed Won")],
                key=b"OPP-9")
        _drain(consume, 2)
        today = app.clock().date().isoformat()
        paid = {"source": "erp", "source_id": "INV-1", "opportunity_id": oid, "amount": "400.00",
                "currency": "USD", "received_on": today}
        produce(kafka_bootstrap, PAYMENTS, [paid, paid, {**paid, "source_id": "INV-2", "amount": 50000}],
                key=oid.encode())
        _drain(consume, 5)
    finally:
        consume.consumer.close()
        consume.producer.close()
    opportunity = app.repository.get(derived_id("opportunity", "crm", "OPP-9"))
    assert opportunity.stage == "won"
    assert opportunity.cash == 40000  # once, and the overpayment went to the DLQ
    counts = Counts(pg_services.db).all()
    assert counts[(PAYMENTS, "accepted")] == 1
    assert counts[(PAYMENTS, "duplicate")] == 1
    assert counts[(PAYMENTS, "rejected")] == 1
    [over] = read_all(kafka_bootstrap, dlq_topic(PAYMENTS), 1)
    assert dict(over.headers)["error"].decode().startswith("amount:")


def test_a_consumer_killed_mid_batch_loses_nothing_and_doubles_nothing(
        pg_services: Services, postgres_url: str, kafka_bootstrap: str) -> None:
    app = pg_services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    deals = [app.open_opportunity(ALICE, account_id="acme", name=f"Acme {n}", amount="100.00",
                                  currency="USD", expected_close="2030-01-01").id for n in range(20)]
    when = (app.clock() - timedelta(hours=1)).isoformat()
    total = 3000
    kafka.ensure_topics(kafka_bootstrap, [*TOPICS, *map(dlq_topic, TOPICS)], 3)
    produce(kafka_bootstrap, CONTRIBUTIONS, [
        {"source": "ticketing", "source_id": f"TCK-{n}", "opportunity_id": deals[n % len(deals)],
         "member_id": "alice", "kind": "visit", "summary": f"ticket {n}", "occurred_at": when}
        for n in range(total)])

    def summaries() -> Counter:
        return Counter(c["summary"] for oid in deals
                       for c in app.repository.get(UUID(oid)).contributions.values())

    worker = process("consume", postgres_url, kafka_bootstrap)
    try:
        wait_until(lambda: sum(summaries().values()) > 0, what="the first contributions")
        worker.send_signal(signal.SIGKILL)  # in the middle of a batch, or between two
        worker.wait(timeout=10)
        assert sum(summaries().values()) < total
        worker = process("consume", postgres_url, kafka_bootstrap)
        wait_until(lambda: sum(summaries().values()) >= total, timeout=120, what="every contribution")
        time.sleep(1)  # would a repeat slip in after the last one?
    finally:
        stopped(worker)
    recorded = summaries()
    assert len(recorded) == total and set(recorded.values()) == {1}


def test_the_consumer_and_the_relay_report_unhealthy_when_the_broker_goes_away(
        pg_services: Services) -> None:
    some_history(pg_services, contributions=3)
    broker = running_broker()
    bootstrap = broker.__enter__()
    try:
        kafka.ensure_topics(bootstrap, [EVENTS, *TOPICS, *map(dlq_topic, TOPICS)], 3)
        consume = Consume(pg_services.app, Counts(pg_services.db),
                          kafka.consumer(bootstrap, "goldsplit-test", TOPICS), kafka.producer(bootstrap))
        relay = Relay(pg_services.app, pg_services.views, kafka.producer(bootstrap))
        stop = threading.Event()
        healths = {"consume": Health("consume"), "relay": Health("relay")}
        workers = [
            threading.Thread(target=consume.run, daemon=True, args=(
                stop, healths["consume"], 0.5, lambda: kafka.reachable(bootstrap))),
            threading.Thread(target=relay.run, daemon=True, args=(
                stop, healths["relay"], 0.05, lambda: kafka.reachable(bootstrap), 0.5))]
        for worker in workers:
            worker.start()
        wait_until(lambda: all(h.status()[0] for h in healths.values()), what="both healthy")
        head = pg_services.app.recorder.max_notification_id()
        wait_until(lambda: relay.position() == head, what="the relay to catch up")
    finally:
        broker.__exit__(None, None, None)
    try:
        wait_until(lambda: not any(h.status()[0] for h in healths.values()), what="both unhealthy")
        for health in healths.values():
            assert "no Kafka bootstrap server answers" in health.status()[1]["reason"]
        assert relay.position() == head  # the position is kept
        assert all(worker.is_alive() for worker in workers)  # backing off, not dead
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=40)
