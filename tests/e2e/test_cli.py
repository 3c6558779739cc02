"""The `goldsplit` command line: demo, token issue, rebuild, explain, and serve as a real process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import verify_token
from main.cli import main
from tests.conftest import SERVER_URL, build_services

# The demo's allocation redone by hand (the README's "The demo's allocation, by hand"):
#   pool = round_half_even(483765000 fen × 0.03) = 14512950 fen; all four roles active (0.4/0.3/0.2/0.1)
#   points: alice AR 10, bob SR 24, carol FR 9 (one visit unconfirmed), dave 6 + erin 4 SUPPORT
#   exact: alice 5805180, bob 4353885, carol 2902590, dave 870777, erin 580518
#   cap 0.35 × pool = 5079532.5: alice is cut by 725647.5, which is 1/12 of the others' 8707770,
#   so they grow by 13/12: bob 4716708.75, carol 3144472.5, dave 943341.75, erin 628894.5
#   floors sum to 14512947; 3 units: bob .75 and dave .75, then the .5 tie (alice, carol, erin)
#   skips alice (one more unit would pass the cap) and goes to carol
#   holdback 0.20: held = round_half_even(line × 0.2), e.g. alice 1015906.4 -> 1015906
DEMO_LINES = {  # member: (amount, upfront, held)
    "alice": ("50795.32", "40636.26", "10159.06"),
    "bob": ("47167.09", "37733.67", "9433.42"),
    "carol": ("31444.73", "25155.78", "6288.95"),
    "dave": ("9433.42", "7546.74", "1886.68"),
    "erin": ("6288.94", "5031.15", "1257.79"),
}


@dataclass(frozen=True)
class DemoRun:
    out: str
    store: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo played once for this module, its store kept."""
    folder = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--no-serve", "--keep", str(folder)]) == 0
    return DemoRun(printed.getvalue(), folder / "goldsplit.db")


def test_the_demo_plays_on_a_throwaway_store(capsys) -> None:
    assert main(["demo", "--no-serve"]) == 0
    assert "Why bob gets" in capsys.readouterr().out


def test_the_demo_allocation_matches_the_arithmetic_redone_by_hand(demo: DemoRun) -> None:
    out = demo.out
    table = out[out.index("member   roles"):out.index("unallocated")]
    lines = {row.split()[0]: tuple(row.split()[3:6]) for row in table.splitlines()[1:] if row.strip()}
    unallocated = Decimal(re.search(r"^unallocated\s+(\S+)", out, re.M).group(1))
    pool = Decimal(re.search(r"^total = pool\s+(\S+)", out, re.M).group(1))
    assert lines == DEMO_LINES
    assert sum(Decimal(amount) for amount, _, _ in lines.values()) + unallocated == pool
    assert pool == Decimal("145129.50")
    assert "reversed" in out and "recorded" in out
    assert re.search(r"Why bob gets [\d.]+ CNY", out)


def test_token_issue_prints_only_a_token_that_verifies(capsys, monkeypatch) -> None:
    monkeypatch.setenv("GOLDSPLIT_SECRET", "cli-secret")
    assert main(["token", "issue", "--member", "alice", "--role", "finance"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    actor = verify_token("cli-secret", printed.strip())
    assert (actor.member_id, actor.role) == ("alice", "finance")


def test_the_demo_tells_the_collaboration_story(demo: DemoRun) -> None:
    out = demo.out
    account = out[out.index("Account: Northwind"):out.index("Board: Warehouse automation, phase 2")]
    assert re.search(r"grade \w \(score [\d.]+\) - registered", account)
    assert "attributes changed" in account and account.count("OVERDUE") == 1
    next_deal = out[out.index("Board: Warehouse automation, phase 3"):out.index("Member board")]
    assert "WARNING" in next_deal and "FR" in next_deal
    assert "rated 4/5" in next_deal and "overdue" in next_deal
    assert re.search(r"score\s+\d+ -> win probability 0\.20.*\n.*score\s+\d+ -> win probability 0\.75",
                     next_deal)
    assert "support_delivered" in out[out.index("Member board: carol"):]
    by_member = out[out.index("Calibration by member"):out.index("Calibration by standard_version")]
    deals = {row.split()[0]: int(row.split()[1]) for row in by_member.splitlines()
             if row.startswith("member:")}
    assert set(deals) == {"member:mia", "member:noah", "member:olga"}
    assert sum(deals.values()) == 200
    by_version = out[out.index("Calibration by standard_version"):]
    assert "standard_version:1" in by_version and "standard_version:2" in by_version


def test_rebuild_explain_policy_and_calibration_work_on_the_demo_store(
        demo: DemoRun, tmp_path, capsys, monkeypatch) -> None:
    store = tmp_path / "goldsplit.db"
    shutil.copy(demo.store, store)
    allocation_id = re.search(r"^Allocation (\S+)", demo.out, re.M).group(1)
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", f"sqlite:///{store}")
    assert main(["calibration", "--by", "team"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert {g["key"] for g in before["groups"]} == {"team:east", "team:west"}
    assert main(["rebuild"]) == 0
    assert "up to position" in capsys.readouterr().out
    assert main(["explain", allocation_id, "--member", "carol"]) == 0
    [explanation] = json.loads(capsys.readouterr().out)
    assert explanation["member_id"] == "carol"
    assert explanation["contributions"] and all(c["position"] for c in explanation["contributions"])
    assert main(["explain", allocation_id, "--member", "nobody"]) == 1
    assert "nobody has no line" in capsys.readouterr().err
    assert main(["calibration", "--by", "team"]) == 0
    assert json.loads(capsys.readouterr().out) == before  # rebuilt from the log, the same

    assert main(["policy", "show", "account-grading"]) == 0
    [grading] = json.loads(capsys.readouterr().out)
    stricter = tmp_path / "stricter.json"
    stricter.write_text(json.dumps({
        **{k: v for k, v in grading.items() if k not in ("version", "hash")},
        "grades": {"S": 99, "A": 98, "B": 97, "C": 0}}))
    assert main(["policy", "add", "account-grading", str(stricter), "--by", "dave"]) == 0
    assert "account-grading version 2" in capsys.readouterr().out
    assert main(["regrade", "--by", "dave"]) == 0
    assert "0 accounts and 0 open opportunities regraded" in capsys.readouterr().out  # done on adding
    stricter.write_text(json.dumps({**grading, "grades": {"S": 1}}))
    assert main(["policy", "add", "account-grading", str(stricter), "--by", "dave"]) == 1
    assert "goldsplit:" in capsys.readouterr().err


def test_serve_refuses_to_listen_beyond_loopback_with_the_development_secret(capsys, monkeypatch) -> None:
    monkeypatch.delenv("GOLDSPLIT_SECRET", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "GOLDSPLIT_SECRET" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("access_log", ["true", "false"])
def test_serve_answers_health_as_a_real_process(tmp_path, access_log: str) -> None:
    port = _free_port()
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "GOLDSPLIT_ACCESS_LOG": access_log}
    log = tmp_path / "serve.log"
    with log.open("wb") as errors:
        process = subprocess.Popen([sys.executable, "-m", "main.cli", "serve", "--port", str(port)],
                                   env=env, stdout=errors, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["store"] == "sqlite"
    finally:
        process.terminate()
        process.wait(timeout=10)
    logged = log.read_text()
    assert "Uvicorn running" in logged  # the server's own lines, either way
    assert ('"GET /health HTTP/1.1" 200' in logged) is (access_log == "true")


def test_the_demo_pays_the_team_and_closes_last_month_by_replay(demo: DemoRun) -> None:
    money = demo.out[demo.out.index("Paying the team"):]
    assert re.search(r"Replayed \d+ events up to position \d+: 10 entries, [\d.]+ CNY", money)
    assert re.search(r"Audit chain head at the cut-off: [0-9a-f]{64}", money)
    debit, credit = re.search(r"debit ([\d.]+) = credit ([\d.]+)", money).groups()
    assert debit == credit
    assert "upfront        37733.67 CNY" in money  # bob's upfront part of his 47167.09 line
    assert money.rstrip().endswith(": ok")


READ_ONLY_COMMANDS = [["verify"], ["explain", "some-allocation"], ["calibration", "--by", "team"],
                      ["policy", "show", "incentive"]]
DEFAULT_URL = "sqlite:///data/goldsplit.db"


@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_read_only_command_refuses_a_store_that_does_not_exist_and_creates_nothing(
        argv: list[str], tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOLDSPLIT_DATABASE_URL", raising=False)
    assert main(argv) == 2
    printed = capsys.readouterr()
    assert printed.err == (f"goldsplit: no ledger at {DEFAULT_URL} (GOLDSPLIT_DATABASE_URL); "
                           "nothing to read\n")
    assert printed.out == ""
    assert list(tmp_path.iterdir()) == []


def test_verify_run_from_another_folder_exits_2_and_leaves_it_empty(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GOLDSPLIT_DATABASE_URL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-m", "main.cli", "verify"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert f"no ledger at {DEFAULT_URL}" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_command_refuses_an_sqlite_file_without_the_events_table(
        tmp_path, monkeypatch, capsys) -> None:
    store = tmp_path / "other.db"
    sqlite3.connect(store).close()
    before = store.read_bytes()
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", f"sqlite:///{store}")
    assert main(["verify"]) == 2
    assert f"no ledger at sqlite:///{store} (GOLDSPLIT_DATABASE_URL)" in capsys.readouterr().err
    assert store.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_command_that_writes_still_creates_the_store(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOLDSPLIT_DATABASE_URL", raising=False)
    assert main(["rebuild"]) == 0
    assert "up to position" in capsys.readouterr().out
    assert (tmp_path / "data" / "goldsplit.db").is_file()
    assert main(["verify"]) == 0  # an empty ledger made on purpose is one to read
    assert json.loads(capsys.readouterr().out)["ok"] is True


def _database_named(name: str) -> bool:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.mark.postgres
@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_read_only_command_refuses_a_postgres_database_that_does_not_exist_and_does_not_create_it(
        argv: list[str], monkeypatch, capsys) -> None:
    name = f"goldsplit_missing_{uuid.uuid4().hex[:12]}"
    server = urlparse(SERVER_URL)
    netloc = f"{server.username or 'postgres'}:pa55word@{server.hostname}:{server.port or 5432}"
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", urlunparse(server._replace(netloc=netloc, path=f"/{name}")))
    assert main(argv) == 2
    err = capsys.readouterr().err
    masked = f"postgresql://{server.username or 'postgres'}:***@{server.hostname}:{server.port or 5432}/{name}"
    assert err == f"goldsplit: no ledger at {masked} (GOLDSPLIT_DATABASE_URL); nothing to read\n"
    assert not _database_named(name)


@pytest.mark.postgres
def test_a_read_only_command_refuses_a_postgres_database_without_goldsplit_tables_and_creates_none(
        postgres_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", postgres_url)
    for argv in READ_ONLY_COMMANDS:
        assert main(argv) == 2
        assert f"no ledger at {postgres_url} " in capsys.readouterr().err
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace"
                            ).fetchone()[0] == 0


@pytest.mark.postgres
def test_a_read_only_command_reads_a_postgres_ledger(postgres_url: str, monkeypatch, capsys) -> None:
    build_services(postgres_url).close()
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", postgres_url)
    assert main(["policy", "show", "incentive"]) == 0
    assert [p["version"] for p in json.loads(capsys.readouterr().out)] == [1]


def test_the_openapi_version_is_the_installed_package_version(memory_services) -> None:
    with TestClient(create_app(services=memory_services)) as client:
        assert client.get("/openapi.json").json()["info"]["version"] == metadata.version("goldsplit")


def test_a_setting_that_does_not_parse_stops_the_command_naming_its_variable(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GOLDSPLIT_PORT", "80a")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.startswith("goldsplit: GOLDSPLIT_PORT: ")
