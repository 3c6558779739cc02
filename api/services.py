"""What the HTTP side needs from its process: the ports the composition root's container fills
(main/services.py builds it; the HTTP side never imports the composition root)."""

from __future__ import annotations

from typing import Protocol

from domain.application import Goldsplit
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from queries import Queries
from storage.answers import AnswerStore
from storage.closes import CloseRuns
from storage.counts import Counts
from storage.database import Database
from storage.sessions import Sessions


class Settings(Protocol):
    """The settings a request reads (GOLDSPLIT_* variables, main/settings.py)."""

    secret: str
    in_process_projections: bool
    projection_poll_seconds: float
    read_wait_seconds: float


class Services(Protocol):
    """The collaborators of a request: the application, the read models and the tables around."""

    settings: Settings
    db: Database
    app: Goldsplit
    views: ViewStore
    runner: ProjectionRunner
    idempotency: AnswerStore
    counts: Counts
    queries: Queries
    sessions: Sessions
    closes: CloseRuns

    def close(self) -> None: ...
