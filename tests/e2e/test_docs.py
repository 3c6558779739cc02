"""The documentation stays true: docs/walkthrough.md runs as written against a live server, the SQL
of docs/audit.md recomputes the head goldsplit verifies, docs/api.md names every route, and every
relative link of the README and docs/ points to a file (and a heading) that exists."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from main.cli import main
from main.settings import Settings
from tests.conftest import SECRET, build_services

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).with_name("goldsplit").parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def fenced(path: Path, language: str) -> list[str]:
    """The bodies of the ```<language> blocks of a Markdown file, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.S | re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the walkthrough -------------------------------------------------------------------------------

@pytest.mark.postgres
def test_the_walkthrough_runs_as_written_against_a_live_server_and_ends_verified(
        postgres_url: str, tmp_path: Path) -> None:
    missing = [tool for tool in ("bash", "curl", "jq", "date") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the walkthrough needs {', '.join(missing)}")
    assert (VENV_BIN / "goldsplit").exists(), f"no goldsplit executable next to {sys.executable}"
    blocks = fenced(DOCS / "walkthrough.md", "sh")
    assert len(blocks) > 10 and any("goldsplit serve" in block for block in blocks)
    script = tmp_path / "walkthrough.sh"
    # The first block starts `goldsplit serve` with the settings below and stops it on exit.
    script.write_text("set -euo pipefail\n"
                      "trap 'echo \"failed at line $LINENO: $BASH_COMMAND\" >&2' ERR\n"
                      + "\n".join(blocks))
    env = {name: value for name, value in os.environ.items() if not name.startswith("GOLDSPLIT_")}
    env |= {"GOLDSPLIT_DATABASE_URL": postgres_url, "GOLDSPLIT_SECRET": secrets.token_hex(32),
            "GOLDSPLIT_PORT": str(free_port()), "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}
    process = subprocess.Popen(["bash", str(script)], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=300)
    finally:  # whatever happened, nothing the script started outlives the test
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    log = tmp_path / "goldsplit-serve.log"
    served = log.read_text()[-3000:] if log.exists() else "(no server log)"
    assert process.returncode == 0, f"{err}\n--- stdout ---\n{out[-3000:]}\n--- server ---\n{served}"
    assert out.splitlines()[-1] == "true"  # GET /v1/audit/verify answered ok
    for line in ("50795.32 = upfront 40636.26 + held 10159.06", "47167.09 = upfront 37733.67 + held 9433.42",
                 "31444.73 = upfront 25155.78 + held 6288.95", "15722.36 = upfront 12577.89 + held 3144.47",
                 "pool 145129.50 CNY, grade A, rate 0.03, policy version 2", "unallocated 0.00"):
        assert line in out  # the numbers the page works out by hand


# -- the audit SQL ---------------------------------------------------------------------------------

def small_ledger(client: TestClient) -> None:
    """A deal won today: two members, the triangle, two confirmed contributions."""
    def auth(member: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(SECRET, member, role, 3600)}"}

    today = datetime.now(UTC).date().isoformat()
    for member, department in (("ana", "sales"), ("sam", "presales")):
        client.post("/v1/members", headers=auth("root", "admin"),
                    json={"id": member, "name": member.title(), "department": department}).raise_for_status()
    opened = client.post("/v1/opportunities", headers=auth("ana", "member"), json={
        "account_id": "northwind", "name": "Yard management", "amount": "250000.00", "currency": "CNY",
        "expected_close": today})
    opened.raise_for_status()
    path = f"/v1/opportunities/{opened.json()['id']}"
    client.put(f"{path}/triangle/SR", headers=auth("ana", "member"), json={"member_id": "sam"}).raise_for_status()
    for member, kind, confirmer in (("ana", "visit", ("lee", "lead")), ("sam", "demo", ("ana", "member"))):
        recorded = client.post(f"{path}/contributions", headers=auth(member, "member"), json={
            "member_id": member, "kind": kind, "summary": kind, "occurred_at": f"{today}T00:00:00Z"})
        recorded.raise_for_status()
        client.post(f"{path}/contributions/{recorded.json()['id']}/confirm",
                    headers=auth(*confirmer)).raise_for_status()
    client.post(f"{path}/win", headers=auth("ana", "member"), json={"closed_on": today}).raise_for_status()


def chain_head_by_sql(url: str) -> tuple[int, int, str]:
    [statement] = fenced(DOCS / "audit.md", "sql")
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchone()


@pytest.mark.postgres
def test_the_audit_sql_recomputes_the_head_that_goldsplit_verifies(
        postgres_url: str, capsys, monkeypatch) -> None:
    services = build_services(postgres_url)
    try:
        with TestClient(create_app(services=services)) as client:
            small_ledger(client)
            verified = client.get("/v1/audit/verify", headers={
                "Authorization": f"Bearer {issue_token(SECRET, 'aud', 'auditor', 3600)}"}).json()
    finally:
        services.close()
    assert verified["ok"] is True and verified["checked"] > 10

    events, position, chain = chain_head_by_sql(postgres_url)

    assert (events, position, chain) == (verified["checked"], verified["head"]["position"],
                                         verified["head"]["chain"])
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", postgres_url)
    assert main(["verify"]) == 0
    assert json.loads(capsys.readouterr().out)["head"] == {"position": position, "chain": chain}


@pytest.mark.postgres
def test_the_audit_sql_gives_another_head_once_a_stored_event_is_edited(postgres_url: str) -> None:
    services = build_services(postgres_url)
    try:
        with TestClient(create_app(services=services)) as client:
            small_ledger(client)
    finally:
        services.close()
    _, position, before = chain_head_by_sql(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE goldsplit_events SET state = state || '\\x20'::bytea WHERE notification_id = "
                     "(SELECT min(notification_id) FROM goldsplit_events)")
    assert chain_head_by_sql(postgres_url)[1:] != (position, before)


# -- the reference -------------------------------------------------------------------------------

def test_docs_api_md_names_every_route_the_api_serves() -> None:
    api = (DOCS / "api.md").read_text()
    paths = create_app(Settings(database_url="memory://", secret=SECRET)).openapi()["paths"]
    routes = [f"{method.upper()} {path}" for path, operations in paths.items() for method in operations]
    assert len(routes) > 50
    assert [route for route in routes if route not in api] == []


# -- links -----------------------------------------------------------------------------------------

def anchor_of(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return {anchor_of(heading) for heading in re.findall(r"^#+ (.+)$", text, re.M)}


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)  # code is not a link
    return [target for target in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def test_every_relative_link_in_the_readme_and_the_docs_points_to_a_file_and_heading_that_exist() -> None:
    documents = [README, *sorted(DOCS.glob("*.md"))]
    assert {p.name for p in documents} >= {"README.md", "policies.md", "api.md", "walkthrough.md", "audit.md"}
    broken = []
    for document in documents:
        for target in relative_links(document):
            file, _, anchor = target.partition("#")
            found = (document.parent / file).resolve() if file else document
            if not found.exists():
                broken.append(f"{document.name}: {target} (no such file)")
            elif anchor and found.suffix == ".md" and anchor not in anchors(found):
                broken.append(f"{document.name}: {target} (no such heading)")
    assert broken == []


def test_the_readme_links_the_four_documents() -> None:
    targets = set(relative_links(README))
    assert {"docs/policies.md", "docs/api.md", "docs/walkthrough.md", "docs/audit.md"} <= targets


def test_neither_the_readme_nor_the_docs_send_readers_to_a_design_document_that_does_not_exist() -> None:
    # The Changelog's entries are history, kept as written by its owner; everything else stands alone.
    design = re.compile(r"\bDESIGN\b")  # DESIGN.md, DESIGN §3; not a shell variable like SAM_DESIGN
    readme = README.read_text().split("\n## Changelog", 1)[0]
    assert design.findall(readme) == []
    for document in DOCS.glob("*.md"):
        assert design.findall(document.read_text()) == [], document.name


def test_the_architecture_page_names_files_that_exist_and_the_layers_the_linter_checks() -> None:
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"\b((?:main|api|consumers|queries|books|projections|storage|domain)/[\w/]+\.py)", text))
    assert len(named) >= 10
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []
    shown = [" | ".join(word.rstrip("/") for word in line.split() if word.endswith("/"))
             for line in text.split("```")[1].strip().splitlines()]
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert shown == contract["contracts"][0]["layers"]
