"""The audit chain against tampering with the stored events table itself, on SQLite and PostgreSQL.

A small story is recorded through the Application (with a gap in the log positions, as a rolled-back
PostgreSQL transaction leaves one) and chained by the runner; then raw SQL edits, deletes, inserts
and swaps stored event rows, and `verify`, `GET /v1/audit/verify` and `goldsplit verify` must name
each change at its position. The documented recipe (docs/audit.md), run literally with psql / sqlite3 and Python,
gives the same chain as the API.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from main.services import Services
from projections.audit import verify
from storage.database import Database
from tests.unit.test_audit_chain import ADMIN, tell_story

AUDIT_DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


class RawLog:
    """The stored events table under raw SQL, as someone with write access to the database has it."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            self.conn: Any = psycopg.connect(url, autocommit=True)
            self.table, self.position = "goldsplit_events", "notification_id"
        else:
            self.conn = sqlite3.connect(Database(url).sqlite_path, isolation_level=None)
            self.table, self.position = "stored_events", "rowid"

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = sql.format(table=self.table, position=self.position)
        cursor = self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return cursor.fetchall() if cursor.description else []

    def positions(self) -> list[int]:
        return [row[0] for row in self.run("SELECT {position} FROM {table} ORDER BY {position}")]

    def where(self, topic_suffix: str) -> list[int]:
        return [position for position, topic in self.run("SELECT {position}, topic FROM {table} "
                                                          "ORDER BY {position}")
                if topic.endswith(topic_suffix)]

    def edit(self, position: int) -> None:
        (state,) = self.run("SELECT state FROM {table} WHERE {position} = ?", (position,))[0]
        edited = bytes(state).replace(b'"hours":"', b'"hours":"1', 1)
        assert edited != bytes(state)
        self.run("UPDATE {table} SET state = ? WHERE {position} = ?", (edited, position))

    def delete(self, position: int) -> None:
        self.run("DELETE FROM {table} WHERE {position} = ?", (position,))

    def insert_copy(self, source: int, at: int) -> None:
        """A copy of one event under a new position and a new originator version."""
        self.run("INSERT INTO {table} ({position}, originator_id, originator_version, topic, state) "
                 "SELECT ?, originator_id, originator_version + 1000, topic, state FROM {table} "
                 "WHERE {position} = ?", (at, source))

    def swap(self, first: int, second: int) -> None:
        for old, new in ((first, -1), (second, first), (-1, second)):
            self.run("UPDATE {table} SET {position} = ? WHERE {position} = ?", (new, old))

    def reserve_gap(self) -> int:
        """A position no event will have: a sequence number used up (PostgreSQL), or a row put in
        the way of the next events and taken out later (SQLite)."""
        if self.postgres:
            return self.run("SELECT nextval(pg_get_serial_sequence('goldsplit_events', "
                            "'notification_id'))")[0][0]
        gap = self.positions()[-1] + 1
        self.run("INSERT INTO {table} ({position}, originator_id, originator_version, topic, state) "
                 "VALUES (?, 'not-an-event', 1, 'gap', x'')", (gap,))
        return gap

    def release_gap(self, gap: int) -> None:
        if not self.postgres:
            self.delete(gap)


class Told:
    """The story as recorded and chained, with the positions the tests tamper with."""

    def __init__(self, services: Services, raw: RawLog, gap: int) -> None:
        self.services, self.raw, self.gap = services, raw, gap
        self.contributions = raw.where("ContributionRecorded")
        self.members = raw.where("Member.Registered")
        self.head = raw.positions()[-1]

    def verify(self) -> dict:
        return verify(self.services.app, self.services.views)


@pytest.fixture
def told(services: Services, database_url: str) -> Iterator[Told]:
    raw = RawLog(database_url)
    tell_story(services.app)
    gap = raw.reserve_gap()
    services.app.register_member(ADMIN, "carol", "Carol", "delivery")
    services.app.register_member(ADMIN, "dave", "Dave", "commercial")
    raw.release_gap(gap)
    services.runner.catch_up()
    yield Told(services, raw, gap)
    raw.conn.close()


def located(result: dict) -> list[tuple[int, str]]:
    return [(p["position"], p["kind"]) for p in result["problems"]]


def test_an_untouched_store_verifies_and_a_gap_in_positions_is_no_deletion(told: Told) -> None:
    assert told.gap not in told.raw.positions() and told.gap < told.head
    result = told.verify()
    assert result["ok"] and result["problems"] == []
    assert result["checked"] == len(told.raw.positions())
    assert result["head"] == result["recorded_head"] and result["head"]["position"] == told.head


def test_an_edited_event_is_found_at_its_position(told: Told) -> None:
    edited = told.contributions[0]
    told.raw.edit(edited)
    result = told.verify()
    assert not result["ok"]
    assert located(result) == [(edited, "edited")]
    assert result["head"]["chain"] != result["recorded_head"]["chain"]


def test_a_deleted_event_is_found_at_its_position(told: Told) -> None:
    deleted = told.contributions[1]
    told.raw.delete(deleted)
    assert located(told.verify()) == [(deleted, "deleted")]


def test_an_inserted_event_is_found_at_its_position(told: Told) -> None:
    told.raw.insert_copy(told.contributions[0], at=told.gap)
    assert located(told.verify()) == [(told.gap, "inserted")]


def test_two_swapped_events_are_found_as_reordered_at_both_positions(told: Told) -> None:
    first, second = told.members[0], told.contributions[0]
    told.raw.swap(first, second)
    result = told.verify()
    assert located(result) == [(first, "reordered"), (second, "reordered")]
    assert f"position {second}" in result["problems"][0]["detail"]


def test_every_kind_of_tampering_at_once_is_each_located(told: Told) -> None:
    edited, deleted = told.contributions[0], told.contributions[1]
    first, second, copied = told.members[:3]
    told.raw.edit(edited)
    told.raw.delete(deleted)
    told.raw.insert_copy(copied, at=told.gap)
    told.raw.swap(first, second)
    assert sorted(located(told.verify())) == sorted([
        (edited, "edited"), (deleted, "deleted"), (told.gap, "inserted"),
        (first, "reordered"), (second, "reordered")])


# -- the documented recipe, literally ------------------------------------------------------------


def readme_recipe() -> tuple[dict[str, str], str]:
    """docs/audit.md's recipe over an export: its export command per store, and its Python."""
    text = AUDIT_DOC.read_text()
    section = text[text.index("## Verifying with an export"):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    commands = {line.split()[0]: line for lang, body in blocks if lang == "sh"
                for line in body.splitlines() if line.startswith(("psql", "sqlite3"))}
    (python,) = [body for lang, body in blocks if lang == "python"]
    return commands, python


def test_the_readme_recipe_run_literally_gives_the_chain_the_api_answers(
        told: Told, client: TestClient, token: Callable[..., str], database_url: str,
        tmp_path: Path) -> None:
    commands, python = readme_recipe()
    command = commands["psql" if told.raw.postgres else "sqlite3"]
    if shutil.which(command.split()[0]) is None:
        pytest.skip(f"{command.split()[0]} is not installed")
    env = {"GOLDSPLIT_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, check=True)
    printed = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, check=True,
                             capture_output=True, text=True).stdout.split("\n")
    by_hand = [dict(zip(("position", "digest", "chain"), line.split(), strict=True))
               for line in printed if line]

    headers = {"Authorization": f"Bearer {token('ada', 'auditor')}"}
    api = client.get("/v1/audit/verify", headers=headers).json()
    links = client.get("/v1/audit/chain?limit=1000", headers=headers).json()["links"]
    assert by_hand[-1]["chain"] == api["head"]["chain"] == api["recorded_head"]["chain"]
    assert by_hand == [{**link, "position": str(link["position"])} for link in links]
    assert len(by_hand) == api["checked"] > 15
