"""(d) Kafka ingest, end to end: contribution messages into the ledger through `goldsplit consume`
as its own process, against a tansu broker (the one the tests use), next to a raw baseline
(`_raw_rate`) in the same run. GOLDSPLIT_BENCH_MESSAGES: how many messages (default 5000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.run import REPS, build, fresh_database, record, say, seed
from consumers import kafka
from consumers.inbound import CONTRIBUTIONS, TOPICS, dlq_topic
from storage.counts import Counts
from tests.broker import running_broker  # the same broker the tests start

MESSAGES = int(os.environ.get("GOLDSPLIT_BENCH_MESSAGES", "5000"))
PARTITIONS = 6
TARGET = 10_000


def _messages(opportunities: list[str], count: int) -> list[tuple[bytes, bytes]]:
    when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    out = []
    for n in range(count):
        oid = opportunities[n % len(opportunities)]
        rep = REPS[(n % len(opportunities)) % len(REPS)]
        out.append((oid.encode(), json.dumps({
            "source": "bench", "source_id": f"B-{n}", "opportunity_id": oid, "member_id": rep,
            "kind": "visit", "summary": f"visit {n}", "hours": "1", "occurred_at": when}).encode()))
    return out


def _raw_rate(bootstrap: str, url: str, count: int) -> float:
    """A bare kafka-python consumer group reading the same messages and inserting each as one row
    of a plain table, one commit per poll batch: messages per second."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_ingest (id BIGSERIAL PRIMARY KEY, doc TEXT NOT NULL)")
    consumer = kafka.consumer(bootstrap, "bench-raw", [CONTRIBUTIONS])
    try:
        with psycopg.connect(url) as conn:
            while not consumer.assignment():
                consumer.poll(timeout_ms=200)  # joining the group is not part of the rate
            consumer.seek_to_beginning()
            started, seen = time.perf_counter(), 0
            while seen < count:
                for records in consumer.poll(timeout_ms=500).values():
                    with conn.cursor() as cur:
                        cur.executemany("INSERT INTO raw_ingest (doc) VALUES (%s)",
                                        [(r.value.decode(),) for r in records])
                    conn.commit()
                    seen += len(records)
            return count / (time.perf_counter() - started)
    finally:
        consumer.close()


def bench_ingest() -> None:
    say(f"\n(d) Kafka ingest: {MESSAGES} contribution messages through `goldsplit consume`")
    with fresh_database() as url, running_broker() as bootstrap:
        services = build(url)
        try:
            opportunities = seed(services, 40)
            counts = Counts(services.db)
            kafka.ensure_topics(bootstrap, [*TOPICS, *map(dlq_topic, TOPICS)], PARTITIONS)
            producer = kafka.producer(bootstrap)
            for key, value in _messages(opportunities, MESSAGES):
                producer.send(CONTRIBUTIONS, key=key, value=value)
            producer.flush(timeout=60)
            producer.close()
            raw = _raw_rate(bootstrap, url, MESSAGES)
            say(f"    raw: consumer group + one INSERT per message, a commit per batch: {raw:,.0f}/s")
            env = {**os.environ, "GOLDSPLIT_DATABASE_URL": url, "GOLDSPLIT_KAFKA_BOOTSTRAP": bootstrap}
            worker = subprocess.Popen([sys.executable, "-m", "main.cli", "consume"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                first = None
                while True:  # from the first message in the ledger to the last
                    done = sum(n for (topic, _), n in counts.all().items() if topic == CONTRIBUTIONS)
                    if done and first is None:
                        first, first_done = time.perf_counter(), done
                    if done >= MESSAGES:
                        break
                    if worker.poll() is not None:
                        raise RuntimeError(f"goldsplit consume exited with {worker.returncode}")
                    time.sleep(0.05)
                rate = (done - first_done) / max(time.perf_counter() - first, 1e-9)
            finally:
                worker.kill()
                worker.wait(timeout=10)
            outcomes = {outcome: n for (topic, outcome), n in counts.all().items() if topic == CONTRIBUTIONS}
            say(f"    goldsplit consume: {rate:,.0f} messages/s into the ledger ({outcomes})")
            record("(d) Kafka ingest, messages/s end to end",
                   f"{rate:,.0f}/s = {rate / raw:.2f}x raw {raw:,.0f}/s", f">= {TARGET:,}/s",
                   rate >= TARGET)
        finally:
            services.close()
