"""The layers import only downwards: domain <- projections <- api / consumers (DESIGN.md §4);
only the command line, which assembles the processes, reaches from api into consumers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": {"api", "projections", "consumers", "fastapi", "starlette", "psycopg", "psycopg_pool",
               "kafka", "sqlite3", "uvicorn"},
    "projections": {"api", "consumers", "fastapi", "starlette", "kafka"},
    "api": {"consumers", "kafka"},  # a request handler never writes to Kafka
    "consumers": {"api"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


# Where processes are put together: the command line starts the relay and the consumers.
ASSEMBLY = {"api/cli.py", "api/processes.py"}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_it_must_not(layer: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in (ROOT / layer).rglob("*.py")
        if str(path.relative_to(ROOT)) not in ASSEMBLY
    }
    assert {file: bad for file, bad in offenders.items() if bad} == {}
