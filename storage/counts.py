"""What the consumers did with messages, by topic and outcome, kept in the database.

Written by `goldsplit consume`, read by /metrics (so any API replica shows every consumer's
counts). A count is added after the batch it belongs to took effect and before its offsets are
committed, so a consumer killed in between counts that batch again when it re-reads it (the
second time as duplicates)."""

from __future__ import annotations

from collections import Counter

from storage.database import Database

SCHEMA = ("CREATE TABLE IF NOT EXISTS goldsplit_consumer_counts ("
          " topic TEXT NOT NULL, outcome TEXT NOT NULL, count BIGINT NOT NULL,"
          " PRIMARY KEY (topic, outcome))")


class Counts:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as cur:
            cur.execute(SCHEMA)

    def add(self, counted: Counter[tuple[str, str]]) -> None:
        if not counted:
            return
        with self.db.transaction() as cur:
            for (topic, outcome), n in sorted(counted.items()):
                cur.execute("INSERT INTO goldsplit_consumer_counts (topic, outcome, count) "
                            "VALUES (?, ?, ?) ON CONFLICT (topic, outcome) "
                            "DO UPDATE SET count = goldsplit_consumer_counts.count + excluded.count",
                            (topic, outcome, n))

    def all(self) -> dict[tuple[str, str], int]:
        with self.db.transaction() as cur:
            cur.execute("SELECT topic, outcome, count FROM goldsplit_consumer_counts "
                        "ORDER BY topic, outcome")
            return {(topic, outcome): int(n) for topic, outcome, n in cur.fetchall()}
