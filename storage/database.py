"""Where goldsplit keeps its data: a database URL -> the event store settings and a SQL connection.

`sqlite:///relative/path.db` or `sqlite:////absolute/path.db` is the embedded store (nothing to
install); `postgresql://user:password@host:port/dbname` is PostgreSQL; `memory://` keeps events in
memory and views in an in-memory SQLite database (for fast tests). Read models use the same database
as the events, so a view and its tracking position commit in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

SCHEMA_LOCK = 0x676F6C6473706C74  # "goldsplt": the advisory lock key of table creation
CONNECT_TIMEOUT_SECONDS = 5  # a database that is down must not hold a request for long
# eventsourcing's events table: on PostgreSQL it is named after the application (Goldsplit.name)
EVENTS_TABLES = {"sqlite": "stored_events", "postgresql": "goldsplit_events"}


class Cursor(Protocol):
    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database:
    """A database URL, the eventsourcing settings it implies, and transactions for our own tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.kind = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql",
                     "memory": "memory"}.get(parsed.scheme)
        if self.kind is None:
            raise ValueError(f"GOLDSPLIT_DATABASE_URL must start with sqlite://, postgresql:// or "
                             f"memory://, got {url!r}")
        self._parsed = parsed
        self._lock = threading.RLock()
        self._sqlite: sqlite3.Connection | None = None
        self._pool: Any = None

    # -- the event store -----------------------------------------------------------------------

    @property
    def sqlite_path(self) -> str:
        return unquote(self._parsed.path[1:]) if self._parsed.path.startswith("/") else self._parsed.path

    def eventsourcing_env(self) -> dict[str, str]:
        if self.kind == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.kind == "sqlite":
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.sqlite_path,
                    "SQLITE_LOCK_TIMEOUT": "10",  # keyed answers commit with the events:
                    "APPLICATION_RECORDER_TOPIC": "storage.answers:SQLiteAnsweringRecorder"}
        p = self._parsed
        return {  # group commit: concurrent saves share a transaction (storage/groupcommit.py)
            "PERSISTENCE_MODULE": "storage.groupcommit",
            "POSTGRES_DBNAME": unquote(p.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": p.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(p.port or 5432),
            "POSTGRES_USER": unquote(p.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(p.password or ""),
            "POSTGRES_POOL_SIZE": "8",
            "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
        }

    # -- our own tables ------------------------------------------------------------------------

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Hold the database's schema lock: processes starting together create the tables one
        after the other (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against itself: two
        at once can both try, and one fails on the catalog's unique index)."""
        if self.kind != "postgresql":
            yield  # SQLite locks the file itself; memory is one process's
            return
        import psycopg

        with psycopg.connect(**self.postgres_connect_kwargs(), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    def ping(self, timeout: float = 1.0) -> None:
        """Raise if the database does not answer within `timeout` seconds (for health checks)."""
        with self.transaction(timeout) as cur:
            cur.execute("SELECT 1")

    @contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[Cursor]:
        """One transaction; statements use `?` placeholders on both stores."""
        if self.kind == "postgresql":
            with self._postgres().connection(timeout=timeout) as conn, conn.transaction():
                yield _QmarkCursor(conn.cursor())
            return
        with self._lock:
            conn = self._connect_sqlite()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn.cursor()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read-only statement. On PostgreSQL it runs outside a transaction block
        (one round trip, not BEGIN, the statement and COMMIT): a single statement reads one
        snapshot anyway."""
        if self.kind != "postgresql":
            with self.transaction() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        with self._postgres().connection() as conn:
            conn.autocommit = True
            try:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
            finally:
                conn.autocommit = False

    def _connect_sqlite(self) -> sqlite3.Connection:
        if self._sqlite is None:
            target = ":memory:" if self.kind == "memory" else self.sqlite_path
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                                   timeout=10)
            if target != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            self._sqlite = conn
        return self._sqlite

    def _postgres(self) -> Any:
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    kwargs=self.postgres_connect_kwargs(),
                    min_size=1, max_size=8, timeout=CONNECT_TIMEOUT_SECONDS, open=True)
            return self._pool

    def postgres_connect_kwargs(self) -> dict[str, Any]:
        """The `psycopg.connect()` arguments for this PostgreSQL database (the pool's, a listener's)."""
        env = self.eventsourcing_env()
        return {"dbname": env["POSTGRES_DBNAME"], "host": env["POSTGRES_HOST"],
                "port": env["POSTGRES_PORT"], "user": env["POSTGRES_USER"],
                "password": env["POSTGRES_PASSWORD"] or None, "connect_timeout": CONNECT_TIMEOUT_SECONDS}

    def listen(self, channel: str, application_name: str) -> Any:
        """A connection of its own that LISTENs on `channel` (PostgreSQL only): a peer that vanished
        without closing the socket is noticed by the keepalives in about a minute."""
        import psycopg
        from psycopg import sql

        conn = psycopg.connect(**self.postgres_connect_kwargs(), autocommit=True,
                               application_name=application_name, keepalives=1,
                               keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def ledger_exists(url: str) -> bool:
    """Whether `url` holds a goldsplit ledger (eventsourcing's events table), asked without creating
    a file, a directory, a database or a table: a read-only command must not leave an empty store."""
    db = Database(url)
    if db.kind == "memory":
        return False  # a memory store starts empty in every process
    if db.kind == "sqlite":
        path = Path(db.sqlite_path)
        if not path.is_file():
            return False
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (EVENTS_TABLES["sqlite"],)).fetchone() is not None
    import psycopg

    kwargs = db.postgres_connect_kwargs()
    try:
        conn = psycopg.connect(**kwargs, autocommit=True)
    except psycopg.OperationalError as unreachable:
        # libpq gives no SQLSTATE for a missing database and the server may word it in any
        # language, so ask the catalogue; anything else (server down, auth) is not ours to hide
        try:
            with psycopg.connect(**{**kwargs, "dbname": "postgres"}, autocommit=True) as server:
                listed = server.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                        (kwargs["dbname"],)).fetchone() is not None
        except psycopg.OperationalError:
            raise unreachable from None
        if listed:
            raise
        return False
    with conn:
        table = f"public.{EVENTS_TABLES['postgresql']}"
        return conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None


class _QmarkCursor:
    """psycopg with the `?` placeholders SQLite uses, so each statement is written once."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()
