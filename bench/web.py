"""The web app through HTTP only, as `goldsplit serve` serves it beside the JSON API, on a fresh
PostgreSQL database: (h) an opportunity's page and its board fragment with 500 contributions,
(i) commit -> signal on 500 open `/events` streams while contributions are written through the
JSON API at 100/s, and (e2) the serve process's RSS while those streams are open.

Members sign in as a browser does: a one-time code from `services.sessions.issue_code` (what
`goldsplit signin-link` prints) redeemed by GET /signin?code=..., whose cookie the requests send.
Times are the client's on loopback (the app sends no Server-Timing header): request sent to
response read in full. The streams are held by one asyncio loop on raw sockets; the writes come
from a process of their own (so neither side's timestamps wait for the other's GIL), and both
use CLOCK_MONOTONIC, which is the same clock in every process.

  GOLDSPLIT_BENCH_PAGE_CONTRIBUTIONS  contributions on the deal whose page is read (default 500)
  GOLDSPLIT_BENCH_PAGE_READS          sequential GETs of the page, and as many of its fragment (default 200)
  GOLDSPLIT_BENCH_STREAMS             /events streams held open (default 500)
  GOLDSPLIT_BENCH_STREAM_DEALS        deals the streams are spread over, round robin (default 10; 1: all on one)
  GOLDSPLIT_BENCH_STREAM_RATE         contributions/s written through the JSON API meanwhile (default 100)
  GOLDSPLIT_BENCH_STREAM_WRITES       how many (default 1,000: 10 s at 100/s)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing
import os
import threading
import time
from bisect import bisect_left
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from itertools import accumulate
from pathlib import Path

import psycopg

from api.auth import issue_token
from bench.run import (
    LEAD,
    REPS,
    SECRET,
    build,
    contribution,
    fresh_database,
    percentile,
    record,
    say,
    seed,
    serving,
)
from domain.application import Actor
from main.services import Services
from storage.database import EVENTS_TABLES
from web.auth import COOKIE

PAGE_CONTRIBUTIONS = int(os.environ.get("GOLDSPLIT_BENCH_PAGE_CONTRIBUTIONS", "500"))
PAGE_READS = int(os.environ.get("GOLDSPLIT_BENCH_PAGE_READS", "200"))
STREAMS = int(os.environ.get("GOLDSPLIT_BENCH_STREAMS", "500"))
STREAM_DEALS = int(os.environ.get("GOLDSPLIT_BENCH_STREAM_DEALS", "10"))
STREAM_RATE = float(os.environ.get("GOLDSPLIT_BENCH_STREAM_RATE", "100"))
STREAM_WRITES = int(os.environ.get("GOLDSPLIT_BENCH_STREAM_WRITES", "1000"))
WRITERS = 32  # client threads of the writing process, each on its own keep-alive connection
GRACE_SECONDS = 15.0  # after the last write, how long the streams may take to signal it


def bench_web() -> None:
    say(f"\n(h, i, e2) the web app: a page with {PAGE_CONTRIBUTIONS} contributions read {PAGE_READS} "
        f"times; {STREAMS} /events streams on {STREAM_DEALS} deals while {STREAM_WRITES} contributions "
        f"are written at {STREAM_RATE:.0f}/s through the JSON API")
    with fresh_database() as url, build(url) as services:
        deals = seed(services, max(STREAM_DEALS, 1))
        ars = {deal: REPS[n % len(REPS)] for n, deal in enumerate(deals)}  # seed's AR of each deal
        fill(services, deals[0], ars[deals[0]], PAGE_CONTRIBUTIONS)
        names = [p.name for p in services.runner.projections]
        for separate in (True, False):
            where = "their own process" if separate else "the API process"
            label = "" if separate else ", projections in the API process"
            with serving(url, separate) as (port, server):
                _caught_up(services)
                cookies = {member: sign_in(port, services, member) for member in sorted(set(ars.values()))}
                if separate:
                    pages(port, deals[0], cookies[ars[deals[0]]], ars[deals[0]])
                say(f"    streams with the projections in {where}:")
                fan_out(port, server.pid, url, names, deals, ars, cookies, label)


def fill(services: Services, deal: str, ar: str, count: int) -> None:
    """`count` contributions on `deal` in one save (record_contributions, as the Kafka consumer
    records a batch), from its three triangle seats in turn; the AR confirms every other one of
    the others' (a board of recorded and confirmed work, with Confirm buttons for its AR)."""
    app = services.app
    sr, fr = [rep for rep in REPS if rep != ar][:2]
    app.assign_triangle_role(LEAD, deal, "SR", sr)
    app.assign_triangle_role(LEAD, deal, "FR", fr)
    when = datetime.now(UTC) - timedelta(days=1)
    batch = [(LEAD, contribution((ar, sr, fr)[n % 3], n, when - timedelta(minutes=n)))
             for n in range(count)]
    answers = app.record_contributions({deal: batch})[deal]
    refused = [a for a in answers if not isinstance(a, str)]
    if refused:
        raise RuntimeError(f"{len(refused)} of the page's contributions refused: {refused[0]}")
    for n, cid in enumerate(answers):
        if n % 3 and n % 2:
            app.confirm_contribution(Actor(ar, "member"), deal, cid)


def _caught_up(services: Services, timeout: float = 300) -> None:
    """Wait until every read model has read the whole log (what the streams' positions cover)."""
    head = services.app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout
    while min(services.views.position(p.name) for p in services.runner.projections) < head:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the read models did not reach position {head} in {timeout:.0f} s")
        time.sleep(0.1)


def sign_in(port: int, services: Services, member: str) -> str:
    """A session's cookie, from a sign-in link opened over HTTP."""
    code = services.sessions.issue_code(member, "member", 600)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/signin?code={code}")
    response = conn.getresponse()
    response.read()
    conn.close()
    cookie = SimpleCookie(response.getheader("set-cookie") or "").get(COOKIE)
    if response.status != 303 or cookie is None:
        raise RuntimeError(f"signing {member} in answered {response.status} without a session cookie")
    return cookie.value


# -- (h) page render ---------------------------------------------------------------------------

def timed_gets(port: int, path: str, headers: dict[str, str], count: int) -> tuple[list[float], int, int]:
    """`count` sequential GETs on one keep-alive connection after 5 to warm up:
    (seconds each, how many were not 200, bytes of the last)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, failed, size = [], 0, 0
    for n in range(count + 5):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if n >= 5:
            latencies.append(time.perf_counter() - started)
            failed += response.status != 200
        size = len(body)
    conn.close()
    return latencies, failed, size


def pages(port: int, deal: str, cookie: str, ar: str) -> None:
    """(h) the deal's page and its board fragment as its AR sees them, sequentially, against the
    same board as JSON from /v1 and GET /health on the same kind of connection (HTTP's floor)."""
    browser = {"Cookie": f"{COOKIE}={cookie}"}
    token = {"Authorization": f"Bearer {issue_token(SECRET, ar, 'member', 3600)}"}
    figures = {}
    for label, path, headers in (("page", f"/opportunities/{deal}", browser),
                                 ("board fragment", f"/opportunities/{deal}/board", browser),
                                 ("JSON board", f"/v1/opportunities/{deal}/board", token),
                                 ("/health", "/health", {})):
        latencies, failed, size = timed_gets(port, path, headers, PAGE_READS)
        p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
        figures[label] = (p50, p95)
        say(f"    GET {path}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({size / 1024:,.0f} KB, "
            f"{failed} not 200)")
        if failed:
            raise RuntimeError(f"{failed} of {PAGE_READS} GETs of {path} were not 200")
    json_p50, json_p95 = figures["JSON board"]
    floor = f"/health p95 {figures['/health'][1]:.1f} ms"
    for label in ("page", "board fragment"):
        p50, p95 = figures[label]
        record(f"(h) {label} with {PAGE_CONTRIBUTIONS} contributions, client time on loopback",
               f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (the JSON board p95 {json_p95:.1f} ms; {floor})",
               "p95 <= 50 ms", p95 <= 50 and PAGE_CONTRIBUTIONS >= 500)


# -- (i) SSE fan-out and (e2) RSS --------------------------------------------------------------

def write_paced(port: int, targets: list[tuple[str, str]], count: int, rate: float, url: str,
                names: list[str]) -> tuple[list[tuple[int, int, float, float]], list[tuple[float, int, int]],
                                           int, float]:
    """In a process of its own: `count` contributions through the JSON API at `rate` in all, open
    loop (write n is due at start + n / rate, sent at once when late), write n on targets[n % len]
    ((deal, member)), from WRITERS keep-alive connections. Meanwhile a thread reads every 2 ms the
    head of the event log (when a write's commit is visible, before its answer may come back) and
    how far all read models have read (the floor of any signal). (writes as (target index,
    position, sent at, answered at), the readings as (at, log head, read models' position),
    refused, seconds)"""
    headers = {"Authorization": f"Bearer {issue_token(SECRET, 'lena', 'lead', 3600)}",
               "Content-Type": "application/json"}
    writes: list[tuple[int, int, float, float]] = []
    refused = [0]
    lock = threading.Lock()
    done = threading.Event()
    readings: list[tuple[float, int, int]] = []

    def observe() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            last = None
            while not done.is_set():
                head, reached = conn.execute(
                    f"SELECT (SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLES['postgresql']}), "
                    "(SELECT coalesce(min(position), 0) FROM goldsplit_tracking WHERE projection = ANY(%s))",
                    (names,)).fetchone()
                if (head, reached) != last:
                    readings.append((time.monotonic(), int(head), int(reached)))
                    last = head, reached
                time.sleep(0.002)

    start = time.monotonic() + 0.2

    def work(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in range(i, count, WRITERS):
            pause = start + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            deal, member = targets[n % len(targets)]
            body = json.dumps(contribution(member, n, datetime.now(UTC) - timedelta(minutes=1)))
            sent = time.monotonic()
            conn.request("POST", f"/v1/opportunities/{deal}/contributions", body, headers)
            response = conn.getresponse()
            answer = response.read()
            answered = time.monotonic()
            with lock:
                if response.status == 201:
                    writes.append((n % len(targets), json.loads(answer)["position"], sent, answered))
                else:
                    refused[0] += 1
        conn.close()

    observer = threading.Thread(target=observe, daemon=True)
    observer.start()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    time.sleep(GRACE_SECONDS / 3)  # let the readings pass the last write
    done.set()
    observer.join()
    return writes, readings, refused[0], elapsed


class Stream:
    """One /events stream on a raw socket: the `event: board` signals it got, (when, id)."""

    def __init__(self, deal: int) -> None:
        self.deal = deal
        self.opened = asyncio.Event()
        self.boards: list[tuple[float, int]] = []
        self.reached: list[int] = []  # the highest id so far at each board signal: nondecreasing
        self.others: dict[str, int] = {}  # stalled, flowing, resync: counted

    async def run(self, port: int, path: str, cookie: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                         f"Cookie: {COOKIE}={cookie}\r\n\r\n".encode())
            status = await reader.readline()
            headers = (await reader.readuntil(b"\r\n\r\n")).lower()
            if b" 200 " not in status or b"transfer-encoding: chunked" not in headers:
                raise RuntimeError(f"GET {path} answered {status.decode().strip()!r}")
            pending = b""
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    return
                pending += (await reader.readexactly(size + 2))[:-2]
                at = time.monotonic()
                *events, pending = pending.replace(b"\r\n", b"\n").split(b"\n\n")
                for event in events:
                    fields = dict(line.split(b": ", 1) for line in event.split(b"\n")
                                  if b": " in line and not line.startswith(b":"))
                    kind = fields.get(b"event", b"").decode()
                    if kind == "board":
                        self.boards.append((at, int(fields[b"id"])))
                        self.reached.append(max(self.boards[-1][1], self.reached[-1] if self.reached else 0))
                    elif kind:
                        self.others[kind] = self.others.get(kind, 0) + 1
                self.opened.set()  # its first comment came
        finally:
            writer.close()

    def first_covering(self, position: int) -> float | None:
        """When the first board signal with id >= position came (None: none did)."""
        index = bisect_left(self.reached, position)
        return self.boards[index][0] if index < len(self.reached) else None


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def _hold(port: int, pid: int, url: str, names: list[str], deals: list[str], ars: dict[str, str],
                cookies: dict[str, str]) -> tuple[list[Stream], tuple, dict[str, float]]:
    streams = [Stream(k % len(deals)) for k in range(STREAMS)]
    rss = {"before": rss_kb(pid)[0] / 1024}
    opening = asyncio.Semaphore(50)

    async def open_one(stream: Stream) -> None:
        deal = deals[stream.deal]
        async with opening:  # 50 at a time; each is held open once its first comment came
            task = asyncio.create_task(stream.run(port, f"/events?topics=board:{deal}", cookies[ars[deal]]))
            tasks.append(task)
            waiting = asyncio.create_task(stream.opened.wait())
            await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED, timeout=60)
            if not stream.opened.is_set():
                waiting.cancel()
                raise RuntimeError(f"a stream did not open: {task.exception() if task.done() else 'timeout'}")

    tasks: list[asyncio.Task] = []
    started = time.monotonic()
    try:
        await asyncio.gather(*(open_one(stream) for stream in streams))
        say(f"      {STREAMS} streams open in {time.monotonic() - started:.1f} s")
        rss["open"] = rss_kb(pid)[0] / 1024
        peak = [rss["open"]]
        sampling = True

        async def sample() -> None:
            while sampling:
                peak[0] = max(peak[0], rss_kb(pid)[0] / 1024)
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        targets = [(deal, ars[deal]) for deal in deals]
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            written = await asyncio.get_running_loop().run_in_executor(
                pool, write_paced, port, targets, STREAM_WRITES, STREAM_RATE, url, names)
        last = {}
        for target, position, *_ in written[0]:
            last[target] = max(last.get(target, 0), position)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and any(
                s.first_covering(last.get(s.deal, 0)) is None for s in streams):
            await asyncio.sleep(0.1)
        sampling = False
        await sampler
        rss["peak"] = peak[0]
        rss["hwm"] = rss_kb(pid)[1] / 1024
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} streams broke: {failed[0].exception()}")
        return streams, written, rss
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def fan_out(port: int, pid: int, url: str, names: list[str], deals: list[str], ars: dict[str, str],
            cookies: dict[str, str], label: str) -> None:
    """(i) each write's commit (its answer's position, and when the answer came back) to every
    stream on its deal: the first `event: board` with id >= that position. Beside it the same from
    the moment the log's head showed the write committed (the answer comes back later when the
    server is busy), and the floor no signal can beat: commit to every read model at the position.
    (e2) the serve process's RSS sampled every 100 ms while the streams are open and writes flow."""
    streams, (writes, readings, refused, elapsed), rss = asyncio.run(
        _hold(port, pid, url, names, deals, ars, cookies))
    rate = len(writes) / elapsed
    by_deal: dict[int, list[Stream]] = {}
    for stream in streams:
        by_deal.setdefault(stream.deal, []).append(stream)
    read_at = [at for at, _, _ in readings]
    heads = list(accumulate((head for _, head, _ in readings), max))
    reached = list(accumulate((position for _, _, position in readings), max))

    def first(seen: list[int], position: int) -> float:
        index = bisect_left(seen, position)
        return read_at[index] if index < len(read_at) else float("inf")

    from_answer, from_commit, floor, missing, early = [], [], [], 0, 0
    for target, position, _, answered in writes:
        committed = min(first(heads, position), answered)
        floor.append(max(first(reached, position) - committed, 0.0))
        for stream in by_deal.get(target, []):
            at = stream.first_covering(position)
            if at is None:
                missing += 1
                at = float("inf")
            early += at < answered
            from_answer.append(max(at - answered, 0.0))
            from_commit.append(max(at - committed, 0.0))
    answers = [answered - sent for _, _, sent, answered in writes]
    others: dict[str, int] = {}
    for stream in streams:
        for kind, n in stream.others.items():
            others[kind] = others.get(kind, 0) + n

    def ms(values: list[float]) -> str:
        return f"p50 {percentile(values, 50) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms"

    p99 = percentile(from_answer, 99) * 1000
    say(f"      {len(writes)} writes at {rate:,.0f}/s ({refused} refused), answered in {ms(answers)}")
    say(f"      {len(from_answer):,} (write, stream) pairs: answer back -> signal {ms(from_answer)}; "
        f"commit in the log -> signal {ms(from_commit)}; {missing} never signalled in "
        f"{GRACE_SECONDS:.0f} s, {early} signalled before the answer came back (counted 0); other "
        f"events {others or 'none'}")
    say(f"      floor, commit in the log -> every read model at the position: {ms(floor)}")
    say(f"      serve RSS: {rss['before']:.0f} MB before the streams, {rss['open']:.0f} MB with them "
        f"open, peak {rss['peak']:.0f} MB while writes flow (VmHWM {rss['hwm']:.0f} MB)")
    spread = "all on one deal" if len(deals) == 1 else f"on {len(deals)} deals"
    full = STREAMS >= 500 and rate >= 100 * 0.95
    record(f"(i) SSE commit -> signal, {STREAMS} streams {spread}{label}",
           f"from the answer {ms(from_answer)} at {rate:,.0f} writes/s, {missing} of {len(from_answer):,} "
           f"never; from the commit in the log {ms(from_commit)}; floor (read models) {ms(floor)}",
           "p99 <= 250 ms, 500 streams at 100 writes/s", p99 <= 250 and full)
    record(f"(e2) peak RSS, serve with {STREAMS} streams open{label}",
           f"{rss['peak']:.0f} MB ({rss['before']:.0f} MB before them)", "<= 200 MB",
           rss["peak"] <= 200 and STREAMS >= 500)
