"""`goldsplit project` as a process of its own: it follows writes of another process, and a
kill -9 at any moment loses nothing and applies nothing twice after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from domain.application import Actor
from main.services import Services
from tests.ledger import ADMIN, ALICE, wait_until
from tests.scrape import sample


def start_projecting(database_url: str) -> subprocess.Popen:
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": database_url,
           "GOLDSPLIT_PROJECTION_POLL_SECONDS": "0.05"}
    return subprocess.Popen([sys.executable, "-m", "main.cli", "project"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)




def test_a_killed_projection_process_resumes_without_loss_or_duplicates(
        services: Services, database_url: str) -> None:
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                               currency="USD", expected_close="2030-01-01").id
    when = (app.clock() - timedelta(hours=1)).isoformat()

    def contribute(count: int) -> int:
        return max(app.record_contribution(ALICE, oid, member_id="alice", kind="visit",
                                           summary=f"visit {n}", occurred_at=when).position
                   for n in range(count))

    worker = start_projecting(database_url)
    try:
        first = contribute(30)
        time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)  # somewhere in the middle of following the log
        worker.wait(timeout=10)
        head = contribute(30)
        worker = start_projecting(database_url)
        wait_until(lambda: services.views.position("board") >= head)
    finally:
        worker.kill()
        worker.wait(timeout=10)

    assert first < head
    ids = [c["id"] for c in services.views.get("board", oid)["contributions"]]
    assert len(ids) == len(set(ids)) == 60  # every contribution once: none lost, none doubled


def test_metrics_show_how_long_the_oldest_unprojected_event_has_waited(tmp_path) -> None:
    """With the projections in another process (not running here), lag grows in seconds too."""
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app
    from main.services import Services
    from main.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lag.db'}", secret="s",
                        in_process_projections=False)
    with Services.build(settings) as services, TestClient(create_app(services=services)) as client:
        services.runner.catch_up()
        caught_up = client.get("/metrics").text
        assert sample(caught_up, "goldsplit_projection_lag_seconds", projection="board") == 0
        services.app.register_member(Actor("root", "admin"), "ana", "Ana", "sales")
        time.sleep(0.05)
        behind = client.get("/metrics").text
        assert sample(behind, "goldsplit_projection_lag_seconds", projection="board") >= 0.05


def test_the_projection_process_answers_its_probes_and_stops_on_sigterm(
        services: Services, database_url: str) -> None:
    import json
    import socket
    import urllib.error
    import urllib.request
    from uuid import uuid4

    from eventsourcing.persistence import StoredEvent

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": database_url, "GOLDSPLIT_HEALTH_PORT": str(port),
           "GOLDSPLIT_HEALTH_HOST": "127.0.0.1", "GOLDSPLIT_PROJECTION_POLL_SECONDS": "0.05"}
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    worker = subprocess.Popen([sys.executable, "-m", "main.cli", "project"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def probe(path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())
        except OSError:
            return 0, {}

    try:
        wait_until(lambda: probe("/health")[0] == 200)
        status, doc = probe("/health")
        assert doc["projection_lag_events"] == 0 and doc["projection_position"] >= 1
        assert probe("/live")[0] == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            metrics = answer.read().decode()
        assert sample(metrics, "goldsplit_process_healthy", process="project") == 1
        assert sample(metrics, "goldsplit_projection_lag_events", process="project") == 0
        [poison] = app.recorder.insert_events([StoredEvent(
            originator_id=uuid4(), originator_version=1, topic="nowhere:Nothing", state=b"{}")])
        wait_until(lambda: probe("/health")[0] == 503)
        assert f"before position {poison}" in probe("/health")[1]["reason"]
        assert probe("/live")[0] == 200  # unready, not restarted: a restart would stall again
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_read_models_split_over_processes_each_follow_the_log(services: Services,
                                                              database_url: str) -> None:
    from projections.runner import default_projections

    names = [p.name for p in default_projections()]
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": database_url,
           "GOLDSPLIT_PROJECTION_POLL_SECONDS": "0.05"}
    refused = subprocess.run([sys.executable, "-m", "main.cli", "project", "--only", "board,nonsense"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "nonsense is not a read model" in refused.stderr
    app = services.app
    app.register_member(ADMIN, "alice", "Alice", "sales")
    oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100.00",
                               currency="USD", expected_close="2030-01-01").id
    workers = [subprocess.Popen([sys.executable, "-m", "main.cli", "project", "--only", only], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for only in ("board", ",".join(names[1:]))]
    try:
        head = app.record_contribution(ALICE, oid, member_id="alice", kind="visit", summary="visit",
                                       occurred_at=(app.clock() - timedelta(hours=1)).isoformat()
                                       ).position
        wait_until(lambda: all(services.views.position(name) >= head for name in names))
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=10)
    assert [c["summary"] for c in services.views.get("board", oid)["contributions"]] == ["visit"]
