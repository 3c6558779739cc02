"""Exactly-once answers: keyed writes under a kill -9 of `serve` and under dropped database
connections are each recorded once, and every retry is answered as the first answer was.

Clients do what the contract tells them: on a lost connection, a 503 or a 409 "in progress" they
send the same request with the same Idempotency-Key again, until they get an answer. Meanwhile the
server is killed and restarted, or PostgreSQL's backends are terminated. At the end, every key's
contribution is on the board once, its answer is the 201 that names it, and a further retry
replays that very answer.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from domain.application import Actor
from main.services import Services
from tests.conftest import SECRET, build_services
from tests.e2e.test_docs import free_port
from tests.ledger import ADMIN

WORKERS, WRITES = 4, 40  # keyed contributions per worker, each on its own deal
RETRY = {"urn:goldsplit:idempotency-key-in-progress", "urn:goldsplit:concurrency-conflict"}


class Server:
    """`goldsplit serve` on PostgreSQL in a process of its own, which a test may kill -9."""

    def __init__(self, database_url: str, log_path: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GOLDSPLIT_DATABASE_URL": database_url, "GOLDSPLIT_SECRET": SECRET,
                    "GOLDSPLIT_IDEMPOTENCY_TAKEOVER_SECONDS": "3", "GOLDSPLIT_ACCESS_LOG": "false"}
        self.log = open(log_path, "a")  # noqa: SIM115 (kept open across restarts)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "main.cli", "serve", "--port", str(self.port)], env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, "serve exited while starting"
            time.sleep(0.1)
        raise AssertionError("serve did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown, whatever is in flight
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self.log.close()


@pytest.fixture
def deals(postgres_url: str) -> Iterator[tuple[Services, list[str]]]:
    """Alice's deals, one per worker, in a fresh PostgreSQL database."""
    services = build_services(postgres_url)
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    alice = Actor("alice", "member")
    opened = [app.open_opportunity(alice, account_id="acme", name=f"Deal {n}", amount="1000.00",
                                   currency="USD", expected_close="2030-01-01").id
              for n in range(WORKERS)]
    yield services, opened
    services.close()


@contextmanager
def serving(database_url: str, tmp_path) -> Iterator[Server]:
    server = Server(database_url, str(tmp_path / "serve.log"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def body(key: str, when: str) -> dict:
    return {"member_id": "alice", "kind": "visit", "summary": key, "occurred_at": when}


def send(http: httpx.Client, server: Server, deal: str, key: str, when: str) -> httpx.Response:
    token = issue_token(SECRET, "alice", "member", 3600)
    return http.post(f"{server.url}/v1/opportunities/{deal}/contributions", json=body(key, when),
                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


def keyed_load(server: Server, deals: list[str], when: str,
               answers: dict[str, list[tuple[int, dict]]]) -> Callable[[], None]:
    """Each worker records WRITES contributions on its deal, each retried until it is answered."""

    def worker(n: int) -> None:
        with httpx.Client(timeout=10) as http:
            for i in range(WRITES):
                key = f"w{n}-{i}"
                while True:
                    try:
                        response = send(http, server, deals[n], key, when)
                    except httpx.HTTPError:  # the server is down or went away mid-request
                        time.sleep(0.05)
                        continue
                    answers.setdefault(key, []).append((response.status_code, response.json()))
                    if response.status_code == 503 or response.json().get("type") in RETRY:
                        time.sleep(0.05)
                        continue
                    break

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()

    def join() -> None:
        for thread in threads:
            thread.join(timeout=240)
            assert not thread.is_alive(), "a worker never got its answer"

    return join


def check(server: Server, services: Services, deals: list[str], when: str,
          answers: dict[str, list[tuple[int, dict]]]) -> None:
    """Every key answered 201 once it was answered at all, recorded once, and replayed alike."""
    assert sorted(answers) == sorted(f"w{n}-{i}" for n in range(WORKERS) for i in range(WRITES))
    statuses = Counter(status for replies in answers.values() for status, _ in replies)
    assert statuses[500] == 0, statuses
    finals = {}
    for key, replies in answers.items():
        final = [(status, body) for status, body in replies
                 if status != 503 and body.get("type") not in RETRY]
        assert [status for status, _ in final] == [201], (key, replies)
        finals[key] = final[0][1]
    recorded = [c for deal in deals for c in services.app._opportunity(deal).contributions.values()]
    assert Counter(c["summary"] for c in recorded) == Counter(list(answers)), \
        "a keyed write was lost or recorded twice"
    ids = {c["summary"]: c["id"] for c in recorded}
    assert {key: answer["id"] for key, answer in finals.items()} == ids
    with httpx.Client(timeout=10) as http:
        for n, deal in enumerate(deals):
            for i in range(WRITES):  # a retry now replays the first answer
                replay = send(http, server, deal, f"w{n}-{i}", when)
                assert (replay.status_code, replay.json()) == (201, finals[f"w{n}-{i}"])
                assert replay.headers["Idempotent-Replayed"] == "true"
    return statuses


@pytest.mark.postgres
def test_keyed_writes_under_kill_9_of_serve_are_recorded_once_and_answered_alike(
        deals: tuple[Services, list[str]], postgres_url: str, tmp_path) -> None:
    services, opened = deals
    when = (services.app.clock() - timedelta(hours=1)).isoformat()
    answers: dict[str, list[tuple[int, dict]]] = {}
    with serving(postgres_url, tmp_path) as server:
        join = keyed_load(server, opened, when, answers)
        random.seed(7)
        for _ in range(4):
            time.sleep(random.uniform(0.4, 1.2))
            server.kill()
            server.start()
        join()
        statuses = check(server, services, opened, when, answers)
    assert statuses[201] == WORKERS * WRITES  # every key answered once; the rest were retries


@pytest.mark.postgres
def test_keyed_writes_under_dropped_database_connections_are_recorded_once_and_answered_alike(
        deals: tuple[Services, list[str]], postgres_url: str, tmp_path) -> None:
    services, opened = deals
    when = (services.app.clock() - timedelta(hours=1)).isoformat()
    answers: dict[str, list[tuple[int, dict]]] = {}
    database = postgres_url.rsplit("/", 1)[1]
    with serving(postgres_url, tmp_path) as server:
        join = keyed_load(server, opened, when, answers)
        with psycopg.connect(postgres_url, autocommit=True) as killer:
            for _ in range(12):  # every connection the server holds, now and then
                time.sleep(0.25)
                killer.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
        join()
        statuses = check(server, services, opened, when, answers)
    assert statuses[201] == WORKERS * WRITES


def test_a_command_that_committed_before_its_process_died_is_answered_on_the_retry(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies between the commit and storing the answer (its `complete` never runs):
    the retry does not wait for the key to be taken over, nor run the command again, but gets the
    answer committed with the events."""
    services.app.register_member(ADMIN, "alice", "Alice", "sales")
    deal = services.app.open_opportunity(Actor("alice", "member"), account_id="acme", name="Deal",
                                         amount="1000.00", currency="USD",
                                         expected_close="2030-01-01").id
    when = (services.app.clock() - timedelta(hours=1)).isoformat()
    headers = {"Authorization": f"Bearer {issue_token(SECRET, 'alice', 'member', 3600)}",
               "Idempotency-Key": "dies-after-commit"}
    path = f"/v1/opportunities/{deal}/contributions"
    with TestClient(create_app(services=services)) as client:
        with monkeypatch.context() as dying:
            dying.setattr(services.idempotency, "complete", lambda *_: None)
            first = client.post(path, json=body("once", when), headers=headers)
        head = services.app.recorder.max_notification_id()
        retried = client.post(path, json=body("once", when), headers=headers)
    assert first.status_code == 201
    assert (retried.status_code, retried.json()) == (201, first.json())
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert services.app.recorder.max_notification_id() == head
    assert [c["summary"] for c in services.app._opportunity(deal).contributions.values()] == ["once"]
