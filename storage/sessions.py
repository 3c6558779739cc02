"""The web app's sign-in of the embedded default: one-time sign-in codes, and the sessions they
start, kept server-side so that sign-out and expiry end a session at once. Only digests of the
codes and session ids are stored: a copy of the table signs nobody in."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.database import Database

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS goldsplit_signin_codes ("
    " code_digest TEXT PRIMARY KEY, member_id TEXT NOT NULL, role TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL, used_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS goldsplit_sessions ("
    " id_digest TEXT PRIMARY KEY, member_id TEXT NOT NULL, role TEXT NOT NULL, csrf TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL)",
)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in member: `id` goes in the cookie, `csrf` in every form the session is shown."""

    id: str
    member_id: str
    role: str
    csrf: str
    expires_at: int


class Sessions:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db, self.clock = db, clock
        with db.transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    def issue_code(self, member_id: str, role: str, ttl_seconds: int) -> str:
        """A code that starts one session for `member_id` in `role`, once, within `ttl_seconds`."""
        code = secrets.token_urlsafe(32)
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO goldsplit_signin_codes (code_digest, member_id, role, expires_at) "
                        "VALUES (?, ?, ?, ?)", (_digest(code), member_id, role, int(self.clock()) + ttl_seconds))
        return code

    def redeem(self, code: str, session_seconds: int) -> Session | None:
        """The session a valid, unused code starts (None: unknown, used or expired). A code works
        once: redeeming it and starting the session are one transaction."""
        now = int(self.clock())
        with self.db.transaction() as cur:
            cur.execute("UPDATE goldsplit_signin_codes SET used_at = ? "
                        "WHERE code_digest = ? AND used_at IS NULL AND expires_at > ?",
                        (now, _digest(code), now))
            if cur.rowcount != 1:
                return None
            cur.execute("SELECT member_id, role FROM goldsplit_signin_codes WHERE code_digest = ?",
                        (_digest(code),))
            member_id, role = cur.fetchone()
            session = Session(secrets.token_urlsafe(32), member_id, role, secrets.token_urlsafe(32),
                              now + session_seconds)
            cur.execute("INSERT INTO goldsplit_sessions (id_digest, member_id, role, csrf, expires_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (_digest(session.id), member_id, role, session.csrf, session.expires_at))
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id (None: unknown, ended or expired)."""
        rows = self.db.read("SELECT member_id, role, csrf, expires_at FROM goldsplit_sessions "
                            "WHERE id_digest = ? AND expires_at > ?", (_digest(session_id), int(self.clock())))
        if not rows:
            return None
        member_id, role, csrf, expires_at = rows[0]
        return Session(session_id, member_id, role, csrf, int(expires_at))

    def end(self, session_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM goldsplit_sessions WHERE id_digest = ?", (_digest(session_id),))
