"""The loop of a background process (relay, consume): rounds until stopped, backing off on failure."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from domain.backoff import Backoff

log = logging.getLogger(__name__)
MOST_PAUSE_SECONDS = 30.0


class Reporter(Protocol):
    """Where a loop reports how it goes (the process's health, main/health.py)."""

    name: str

    def ok(self, **figures: float) -> None: ...
    def failing(self, reason: str) -> None: ...


def run_rounds(stop: threading.Event, health: Reporter, round_: Callable[[], tuple[dict, bool]], *,
               on_failure: Callable[[], None], idle_wait: float, first_pause: float) -> None:
    """Run `round_` until `stop`. It answers the figures to report and whether it found nothing
    to do (then the loop waits `idle_wait`). A round that raises (Kafka or the database does not
    answer) is reported, `on_failure` runs, and the next round waits, doubling up to 30 s: the
    process backs off and keeps its position, it never dies of an outage."""
    backoff = Backoff(first_pause, MOST_PAUSE_SECONDS)
    while not stop.is_set():
        try:
            figures, idle = round_()
        except Exception as error:  # noqa: BLE001 - report, back off, try again
            pause = backoff.pause()
            log.warning("%s round failed, retrying in %.1f s: %s", health.name, pause, error)
            health.failing(f"{type(error).__name__}: {error}")
            on_failure()
            stop.wait(pause)
            continue
        health.ok(**figures)
        backoff.reset()
        if idle:
            stop.wait(idle_wait)
