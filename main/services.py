"""The collaborators one goldsplit process holds, built from Settings (nothing at import time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.application import Goldsplit
from main.settings import Settings
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from queries import Queries
from storage.answers import AnswerStore
from storage.closes import CloseRuns
from storage.counts import Counts
from storage.database import Database
from storage.sessions import Sessions


@dataclass
class Services:
    settings: Settings
    db: Database
    app: Goldsplit
    views: ViewStore
    runner: ProjectionRunner
    idempotency: AnswerStore  # keyed requests' answers
    counts: Counts  # what the consumers did with inbound messages
    queries: Queries  # the read side, one query object per read model
    sessions: Sessions  # the web app's sign-in codes and sessions
    closes: CloseRuns  # the web app's period closes as they run, seen from every replica

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], datetime] | None = None) -> Services:
        db = Database(settings.database_url)
        with db.schema_lock():  # every process creates the tables it needs, one at a time
            app = Goldsplit(env=db.eventsourcing_env(), **({"clock": clock} if clock else {}))
            views = ViewStore(db)
            idempotency = AnswerStore(db, takeover_seconds=settings.idempotency_takeover_seconds)
            counts = Counts(db)
            sessions = Sessions(db)
            closes = CloseRuns(db)
        return cls(settings=settings, db=db, app=app, views=views,
                   runner=ProjectionRunner(app, views, database=db), idempotency=idempotency,
                   counts=counts, queries=Queries(
                       app, views, journal_expense_account=settings.journal_expense_account,
                       journal_payable_account=settings.journal_payable_account),
                   sessions=sessions, closes=closes)

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.runner.stop()
        self.app.close()
        self.db.close()
