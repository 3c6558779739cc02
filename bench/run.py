"""`make bench`: goldsplit's figures next to a raw PostgreSQL baseline measured in the same run,
each benchmark on a fresh database it creates and drops; it prints figures, never asserts on time.
Settings (environment; the README's Benchmarks section says what each sets, and its default):
GOLDSPLIT_BENCH_SERVER_URL, GOLDSPLIT_BENCH_SECONDS, GOLDSPLIT_BENCH_THREADS,
GOLDSPLIT_BENCH_REPLAY_EVENTS (bench/replay.py), GOLDSPLIT_BENCH_MESSAGES (bench/ingest.py),
GOLDSPLIT_BENCH_BOARD_RATE, GOLDSPLIT_BENCH_BOARD_WRITES, and bench/web.py's GOLDSPLIT_BENCH_PAGE_*
and GOLDSPLIT_BENCH_STREAM*. `python -m bench web board` runs only the benchmarks named (http,
replay, board, ingest, web).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import urlparse, urlunparse

import psycopg

from api.auth import issue_token
from domain.application import Actor
from main.services import Services
from main.settings import Settings

SERVER_URL = os.environ.get("GOLDSPLIT_BENCH_SERVER_URL",
                            "postgresql://postgres@127.0.0.1:5432/postgres")
SECONDS = float(os.environ.get("GOLDSPLIT_BENCH_SECONDS", "8"))
THREADS = int(os.environ.get("GOLDSPLIT_BENCH_THREADS", "8"))
BOARD_RATE = float(os.environ.get("GOLDSPLIT_BENCH_BOARD_RATE", "500"))
BOARD_WRITES = int(os.environ.get("GOLDSPLIT_BENCH_BOARD_WRITES", "3000"))
SECRET = "bench-secret"
ADMIN, LEAD, FINANCE = Actor("admin", "admin"), Actor("lena", "lead"), Actor("dave", "finance")
REPS = ["alice", "mia", "noah", "olga"]

results: list[tuple[str, str, str, str]] = []  # figure, measured, target, met


def say(text: str) -> None:
    print(text, flush=True)


def record(figure: str, measured: str, target: str, met: bool | None) -> None:
    results.append((figure, measured, target, "n/a" if met is None else ("yes" if met else "NO")))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- databases ---------------------------------------------------------------------------------

@contextmanager
def fresh_database() -> Iterator[str]:
    """A database of this benchmark's own, dropped afterwards."""
    name = f"goldsplit_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(SERVER_URL)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(url: str) -> Services:
    return Services.build(Settings(database_url=url, secret=SECRET, in_process_projections=False))


def seed(services: Services, opportunities: int, won_on: date | None = None) -> list[str]:
    """Members and open opportunities, each with one of the reps as AR."""
    app = services.app
    for member_id, department in [("lena", "management"), ("dave", "finance"),
                                  *((rep, "sales") for rep in REPS)]:
        app.register_member(ADMIN, member_id, member_id.title(), department)
    ids = []
    for n in range(opportunities):
        opened = app.open_opportunity(LEAD, account_id=f"bench-{n % 8}", name=f"Bench deal {n}",
                                      amount="1000000.00", currency="CNY",
                                      expected_close=(won_on or date.today()).isoformat())
        app.assign_triangle_role(LEAD, opened.id, "AR", REPS[n % len(REPS)])
        ids.append(opened.id)
    return ids


def contribution(rep: str, n: int, when: datetime) -> dict:
    return {"member_id": rep, "kind": "visit", "summary": f"Customer visit {n}", "hours": "2",
            "occurred_at": when.isoformat()}


# -- (a) contributions through HTTP ------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_insert_rate(url: str, threads: int, seconds: float) -> float:
    """Single-row INSERT + COMMIT per statement, `threads` connections, a table like the event log."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_events (id bigserial PRIMARY KEY, originator_id uuid NOT NULL, "
                     "originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, "
                     "UNIQUE (originator_id, originator_version))")
    state = json.dumps(contribution("alice", 1, datetime.now(UTC)) | {
        "contribution_id": str(uuid.uuid4()), "role": "AR", "actor": "lena",
        "timestamp": datetime.now(UTC).isoformat()}).encode()
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        originator = uuid.uuid4()
        with psycopg.connect(url) as conn:
            version = 0
            while time.monotonic() < stop:
                version += 1
                conn.execute("INSERT INTO raw_events (originator_id, originator_version, topic, state) "
                             "VALUES (%s, %s, %s, %s)",
                             (originator, version, "domain.aggregates:Opportunity.ContributionRecorded", state))
                conn.commit()
                counts[i] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return sum(counts) / (time.monotonic() - started)


def drive(port: int, threads: int, seconds: float, request: Callable[[int, int], tuple[str, str, str | None]],
          expect: int, rate: float | None = None) -> tuple[int, int, list[float], float]:
    """`threads` clients, each on its own keep-alive connection, sending `request(client, n)` ->
    (method, path, body); paced to `rate` in total if given. (answered as `expect`, others,
    latencies, seconds)"""
    token = issue_token(SECRET, "lena", "lead", 3600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop = time.monotonic() + seconds
    interval = threads / rate if rate else 0.0

    def work(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n, due = 0, time.monotonic() + random.random() * interval
        while time.monotonic() < stop:
            if interval:
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                due += interval
            method, path, body = request(i, n)
            started = time.perf_counter()
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            response.read()
            latencies[i].append(time.perf_counter() - started)
            if response.status != expect:
                errors[i] += 1
            n += 1
        conn.close()

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    elapsed = time.monotonic() - started
    flat = [x for part in latencies for x in part]
    return len(flat) - sum(errors), sum(errors), flat, elapsed


def post_contributions(port: int, opportunities: list[str], threads: int, seconds: float,
                       rate: float | None = None) -> tuple[int, int, list[float], float]:
    """Contributions on `opportunities` through HTTP (see `drive`)."""

    def request(i: int, n: int) -> tuple[str, str, str]:
        opportunity = opportunities[(i + n * threads) % len(opportunities)]
        rep = REPS[opportunities.index(opportunity) % len(REPS)]
        body = json.dumps(contribution(rep, n, datetime.now(UTC) - timedelta(minutes=1)))
        return "POST", f"/v1/opportunities/{opportunity}/contributions", body

    return drive(port, threads, seconds, request, 201, rate)


def fresh_reads(port: int, opportunities: list[str], writes_per_second: float) -> None:
    """(g) what fresh reads cost: board reads while contributions are written at a steady rate,
    by default (each read waits until the read models reach the log head as it arrived) and with
    ?after=0 (whatever the read model has, possibly stale)."""
    clients = max(1, THREADS // 2)
    figures = {}
    for label, query in (("fresh (default)", ""), ("?after=0", "?after=0")):
        writer = threading.Thread(target=post_contributions, args=(port, opportunities, clients, SECONDS / 2),
                                  kwargs={"rate": writes_per_second})
        writer.start()

        def request(i: int, n: int, query: str = query) -> tuple[str, str, None]:
            return "GET", f"/v1/opportunities/{opportunities[(i + n) % len(opportunities)]}/board{query}", None

        ok, failed, latencies, elapsed = drive(port, clients, SECONDS / 2, request, 200)
        writer.join()
        figures[label] = (ok / elapsed, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000)
        say(f"    board reads {label} under {writes_per_second:,.0f} writes/s: {ok / elapsed:,.0f}/s "
            f"({failed} not 200), p50 {figures[label][1]:.1f} ms, p99 {figures[label][2]:.1f} ms")
    fresh, stale = figures["fresh (default)"], figures["?after=0"]
    record("(g) fresh board reads (projections in their own process)",
           f"{fresh[0]:,.0f}/s, p50 {fresh[1]:.1f} ms, p99 {fresh[2]:.1f} ms; with ?after=0 "
           f"{stale[0]:,.0f}/s, p50 {stale[1]:.1f} ms, p99 {stale[2]:.1f} ms "
           f"(under {writes_per_second:,.0f} writes/s)", "-", None)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_http() -> None:
    say(f"(a) contributions through HTTP: {THREADS} clients, {SECONDS:.0f} s per run")
    with fresh_database() as url:
        raw = raw_insert_rate(url, THREADS, SECONDS)
        say(f"    raw psycopg INSERT+COMMIT, {THREADS} connections: {raw:,.0f} rows/s")
        with build(url) as services:  # each run below on 32 fresh opportunities of its own
            opportunities = seed(services, 3 * 32)
            application_rate(services, opportunities[64:], THREADS, SECONDS / 2)
        http_rate(url, opportunities[:32], raw, separate_projections=True)
        http_rate(url, opportunities[32:64], raw, separate_projections=False)


def application_rate(services: Services, opportunities: list[str], threads: int, seconds: float) -> None:
    """The write path without HTTP: `threads` threads calling record_contribution, no projections.
    Shows how many saves the group commit puts in one transaction."""
    app, recorder = services.app, services.app.recorder
    saves, transactions = getattr(recorder, "saves", 0), getattr(recorder, "transactions", 0)
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            index = (i + n * threads) % len(opportunities)
            app.record_contribution(LEAD, opportunities[index], **contribution(
                REPS[index % len(REPS)], n, datetime.now(UTC) - timedelta(minutes=1)))
            counts[i] += 1
            n += 1

    started = time.monotonic()
    _run_all(work, threads)
    rate = sum(counts) / (time.monotonic() - started)
    saves, transactions = getattr(recorder, "saves", 0) - saves, getattr(recorder, "transactions", 0) - transactions
    grouped = f", {saves / transactions:.1f} saves per insert transaction" if transactions else ""
    say(f"    Application alone, {threads} threads: {rate:,.0f} contributions/s{grouped}")
    record("(a) through the Application alone", f"{rate:,.0f}/s{grouped}", "-", None)


def http_rate(url: str, opportunities: list[str], raw: float, separate_projections: bool) -> None:
    """`goldsplit serve` at saturation, then paced at half its peak. As deployed (deploy/), the
    projections run as `goldsplit project` beside it; otherwise in the API process."""
    where = "their own process" if separate_projections else "the API process"
    with serving(url, separate_projections) as (port, server):
        post_contributions(port, opportunities, THREADS, 1.0)  # warm up
        ok, failed, latencies, elapsed = post_contributions(port, opportunities, THREADS, SECONDS)
        rate = ok / elapsed
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        say(f"    API, projections in {where}: {rate:,.0f} accepted/s ({failed} refused), "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rate / raw:.3f}x raw")
        label = "" if separate_projections else ", projections in the API process"
        record(f"(a) contributions/s through HTTP{label}", f"{rate:,.0f}/s = {rate / raw:.3f}x raw "
               f"({raw:,.0f}/s)", ">= 1.0x raw", rate >= raw)
        record(f"(a) latency at saturation{label}", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", "-", None)
        half = rate / 2
        ok, failed, latencies, elapsed = post_contributions(port, opportunities, THREADS, SECONDS,
                                                            rate=half)
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        say(f"    API paced at {half:,.0f}/s (half its own peak): {ok / elapsed:,.0f}/s, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        record(f"(a) p99 at half load{label}", f"{p99:.1f} ms at {half:,.0f}/s (half the API's peak; "
               f"half of raw would be {raw / 2:,.0f}/s)", "<= 25 ms at raw/2", p99 <= 25 and half >= raw / 2)
        if separate_projections:
            fresh_reads(port, opportunities, half / 2)
        rss = peak_rss_mb(server.pid)
        say(f"    API process peak RSS (VmHWM, projections in {where}): {rss:.0f} MB")
        if not separate_projections:
            record("(e) peak RSS, API process", f"{rss:.0f} MB (projections in process)", "<= 150 MB",
                   rss <= 150)


@contextmanager
def serving(url: str, separate_projections: bool) -> Iterator[tuple[int, subprocess.Popen]]:
    """`goldsplit serve` (the API and the web app), as bench (a) starts it: with the projections
    in a `goldsplit project` process of their own, as deploy/ runs them, or in its own process."""
    port = free_port()
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": url, "GOLDSPLIT_SECRET": SECRET,
           "GOLDSPLIT_IN_PROCESS_PROJECTIONS": "false" if separate_projections else "true"}
    exe = Path(sys.executable).with_name("goldsplit")
    errors = tempfile.TemporaryFile()  # not a pipe: nobody reads it while the server runs
    processes = [subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=errors)]
    if separate_projections:
        processes.append(subprocess.Popen([str(exe), "project"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=errors))
    try:
        _wait_healthy(port, processes[0], errors)
        yield port, processes[0]
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        errors.close()


def _wait_healthy(port: int, server: subprocess.Popen, errors: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            errors.seek(0)
            raise RuntimeError(f"goldsplit serve exited: {errors.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("goldsplit serve did not become healthy in 30 s")


# -- (b) period-close replay -------------------------------------------------------------------

def raw_read_rate(url: str) -> tuple[int, float]:
    """Select every stored event in batches and json.loads its state: the floor of any replay."""
    with psycopg.connect(url) as conn:
        table = conn.execute("SELECT table_name FROM information_schema.tables "
                             "WHERE table_name LIKE '%%events' ORDER BY table_name").fetchone()[0]
        started = time.perf_counter()
        count, last = 0, 0
        while True:
            rows = conn.execute(f"SELECT notification_id, originator_id, originator_version, topic, state "
                                f"FROM {table} WHERE notification_id > %s ORDER BY notification_id "
                                f"LIMIT 5000", (last,)).fetchall()
            if not rows:
                break
            for row in rows:
                json.loads(row[4])
            count += len(rows)
            last = rows[-1][0]
        return count, count / (time.perf_counter() - started)


# -- (c) commit to board -----------------------------------------------------------------------

def bench_board() -> None:
    """Writers record contributions through the Application at BOARD_RATE in all, open loop (a
    write never waits for the board); the board is projected by `goldsplit project --only board`,
    its own process, as deployed; one observer reads the board's tracking position every
    millisecond, and a write's latency runs from its commit to the first reading that covers it."""
    say(f"(c) commit-to-board: {BOARD_WRITES} writes at {BOARD_RATE:.0f}/s, the board projected by "
        "its own process (woken by the event store's NOTIFY)")
    with fresh_database() as url, build(url) as services:
        opportunities = seed(services, 16)
        app, views = services.app, services.views
        env = {**os.environ, "GOLDSPLIT_DATABASE_URL": url, "GOLDSPLIT_SECRET": SECRET}
        projector = subprocess.Popen([str(Path(sys.executable).with_name("goldsplit")), "project",
                                      "--only", "board"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            head = app.recorder.max_notification_id()
            while views.position("board") < head:  # caught up before the clock starts
                time.sleep(0.05)
            committed: list[tuple[int, float]] = []  # (log position, commit time)
            lock = threading.Lock()
            writers = 8
            interval = writers / BOARD_RATE

            def work(i: int) -> None:
                due = time.monotonic() + i * interval / writers
                for n in range(i, BOARD_WRITES, writers):
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    due += interval
                    index = n % len(opportunities)
                    position = app.record_contribution(LEAD, opportunities[index], **contribution(
                        REPS[index % len(REPS)], n, datetime.now(UTC) - timedelta(minutes=1))).position
                    with lock:
                        committed.append((position, time.perf_counter()))

            latencies: list[float] = []
            done = threading.Event()

            def observe() -> None:
                waiting: list[tuple[int, float]] = []
                while not done.is_set() or waiting or len(latencies) < BOARD_WRITES:
                    with lock:
                        waiting += committed
                        committed.clear()
                    if waiting:
                        reached, now = views.position("board"), time.perf_counter()
                        latencies.extend(now - at for position, at in waiting if position <= reached)
                        waiting = [(p, at) for p, at in waiting if p > reached]
                    if done.is_set() and not waiting and len(latencies) >= BOARD_WRITES:
                        return
                    time.sleep(0.001)

            observer = threading.Thread(target=observe, daemon=True)
            observer.start()
            started = time.monotonic()
            _run_all(work, writers)
            rate = BOARD_WRITES / (time.monotonic() - started)
            done.set()
            observer.join(timeout=60)
        finally:
            projector.kill()
            projector.wait(timeout=10)
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        say(f"    {rate:,.0f} writes/s achieved, commit-to-board p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        record("(c) commit-to-board p99", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms at {rate:,.0f} writes/s",
               "p99 <= 50 ms at 500 writes/s", p99 <= 50 and rate >= 500 * 0.95)


def _run_all(work: Callable[[int], None], n: int) -> None:
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(work, range(n)))


# -- the table ---------------------------------------------------------------------------------

def main() -> int:
    say(f"goldsplit benchmarks on {urlparse(SERVER_URL).hostname}:{urlparse(SERVER_URL).port or 5432} "
        f"({os.cpu_count()} CPUs)")
    started = time.monotonic()
    from bench.ingest import bench_ingest
    from bench.replay import bench_replay
    from bench.web import bench_web

    benches = (bench_http, bench_replay, bench_board, bench_ingest, bench_web)
    only = sys.argv[1:]  # `python -m bench web board`: only bench_web and bench_board
    for bench in [b for b in benches if not only or b.__name__.removeprefix("bench_") in only]:
        try:
            bench()
        except Exception as error:  # one failing benchmark must not hide the others' figures
            say(f"    FAILED: {type(error).__name__}: {error}")
            record(bench.__name__, f"failed: {type(error).__name__}", "-", False)
    say(f"\nall done in {time.monotonic() - started:.0f} s\n")
    widths = [max(len(row[i]) for row in [("figure", "measured", "target", "met"), *results])
              for i in range(4)]
    for row in [("figure", "measured", "target", "met"), tuple("-" * w for w in widths), *results]:
        say(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    return 0
