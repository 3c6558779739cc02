"""The `goldsplit` command line: demo, token issue, rebuild, explain, and serve as a real process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest

from api.auth import verify_token
from api.cli import main

pytestmark = pytest.mark.e2e


def test_the_demo_prints_an_allocation_whose_lines_and_unallocated_sum_to_the_pool(capsys) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("member   roles"):out.index("total = pool")]
    amounts = [Decimal(line.split()[3]) for line in table.splitlines()[1:] if line.strip()
               and not line.startswith("unallocated")]
    unallocated = Decimal(re.search(r"^unallocated\s+(\S+)", out, re.M).group(1))
    pool = Decimal(re.search(r"^total = pool\s+(\S+)", out, re.M).group(1))
    assert len(amounts) == 5
    assert sum(amounts) + unallocated == pool == Decimal("145129.50")
    assert "reversed" in out and "recorded" in out
    assert re.search(r"Why bob gets [\d.]+ CNY", out)


def test_token_issue_prints_only_a_token_that_verifies(capsys, monkeypatch) -> None:
    monkeypatch.setenv("GOLDSPLIT_SECRET", "cli-secret")
    assert main(["token", "issue", "--member", "alice", "--role", "finance"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    actor = verify_token("cli-secret", printed.strip())
    assert (actor.member_id, actor.role) == ("alice", "finance")


def test_rebuild_and_explain_work_on_the_demo_store(tmp_path, capsys, monkeypatch) -> None:
    assert main(["demo", "--keep", str(tmp_path)]) == 0
    allocation_id = re.search(r"^Allocation (\S+)", capsys.readouterr().out, re.M).group(1)
    monkeypatch.setenv("GOLDSPLIT_DATABASE_URL", f"sqlite:///{tmp_path / 'goldsplit.db'}")
    assert main(["rebuild"]) == 0
    assert "up to position" in capsys.readouterr().out
    assert main(["explain", allocation_id, "--member", "carol"]) == 0
    [explanation] = json.loads(capsys.readouterr().out)
    assert explanation["member_id"] == "carol"
    assert explanation["contributions"] and all(c["position"] for c in explanation["contributions"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_health_as_a_real_process(tmp_path) -> None:
    port = _free_port()
    env = {**os.environ, "GOLDSPLIT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
