"""Period closes as they run, kept in the database: the close runs in one API process, and its
progress page may be answered by any replica. Each run is a JSON document by period with a
heartbeat; a running close whose heartbeat stopped was cut off with its process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from storage.database import Database

SCHEMA = ("CREATE TABLE IF NOT EXISTS goldsplit_close_runs ("
          " period TEXT PRIMARY KEY, run TEXT NOT NULL, beat DOUBLE PRECISION NOT NULL)",)


class CloseRuns:
    """The latest close run of each period: `start` one (unless one of its months is being
    closed), `put` how it goes, `get` it from any process."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db, self.clock = db, clock
        with db.transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    def start(self, period: str, months: Iterable[str], run: dict, alive_within: float) -> dict | None:
        """Record `run` as the period's close; or, when a live run shares one of its `months`, that
        run (and record nothing). A run is live while running with a heartbeat within `alive_within`."""
        months = set(months)
        with self.db.transaction() as cur:
            cur.execute("SELECT run, beat FROM goldsplit_close_runs")
            for text, beat in cur.fetchall():
                other = json.loads(text)
                if (other["status"] == "running" and self.clock() - beat <= alive_within
                        and months & set(other["months"])):
                    return other
            self._put(cur, period, run)
        return None

    def put(self, period: str, run: dict) -> None:
        """How the period's run goes now (its heartbeat too)."""
        with self.db.transaction() as cur:
            self._put(cur, period, run)

    def get(self, period: str) -> tuple[dict, float] | None:
        """The period's latest run and how many seconds ago it last said it was alive."""
        rows = self.db.read("SELECT run, beat FROM goldsplit_close_runs WHERE period = ?", (period,))
        return (json.loads(rows[0][0]), self.clock() - rows[0][1]) if rows else None

    def _put(self, cur, period: str, run: dict) -> None:  # noqa: ANN001 - a storage.database cursor
        cur.execute("INSERT INTO goldsplit_close_runs (period, run, beat) VALUES (?, ?, ?) "
                    "ON CONFLICT (period) DO UPDATE SET run = excluded.run, beat = excluded.beat",
                    (period, json.dumps(run, sort_keys=True, default=str), self.clock()))
