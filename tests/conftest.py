"""Shared fixtures: stores (memory, SQLite file, a fresh PostgreSQL database), services, an HTTP client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings

from api.app import create_app
from api.auth import issue_token
from main.services import Services
from main.settings import Settings

SECRET = "test-secret"

# Property tests run the same examples on every run (CI must not turn red on a new random draw);
# GOLDSPLIT_HYPOTHESIS=explore draws new ones, with more of them, to look for trouble.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", max_examples=300)
settings.load_profile("explore" if os.environ.get("GOLDSPLIT_HYPOTHESIS") == "explore" else "fixed")
TIERS = {"unit": "no database server: the domain, the application and the read models in memory",
         "integration": "PostgreSQL, the broker, processes of our own",
         "e2e": "the HTTP API, the command line and the documented recipes"}


def pytest_configure(config: pytest.Config) -> None:
    for tier, what in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {what} (set by the folder)")


# Folders of a tier with a marker of their own: tests/browser drive Debian's chromium (`-m "not browser"`).
FOLDERS = {"browser": ("e2e", "browser")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test's tier is its folder: `pytest -m unit` or `pytest tests/unit` runs the fast ones."""
    for item in items:
        folder = item.path.parent.name
        for marker in (folder,) if folder in TIERS else FOLDERS.get(folder, ()):
            item.add_marker(marker)


SERVER_URL = os.environ.get("GOLDSPLIT_TEST_DATABASE_URL",
                            "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, dropped afterwards."""
    name = f"goldsplit_test_{uuid.uuid4().hex[:12]}"
    server = urlparse(SERVER_URL)
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunparse(server._replace(path=f"/{name}"))
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Each test using this runs on the embedded store and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'goldsplit.db'}"
    return request.getfixturevalue("postgres_url")


def build_services(url: str) -> Services:
    return Services.build(Settings(database_url=url, secret=SECRET, read_wait_seconds=5.0))


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(database_url)
    yield built
    built.close()


@pytest.fixture
def memory_services() -> Iterator[Services]:
    built = build_services("memory://")
    yield built
    built.close()


@pytest.fixture
def token() -> Callable[[str, str], str]:
    def issue(member_id: str, role: str = "member", ttl: int = 3600) -> str:
        return issue_token(SECRET, member_id, role, ttl)

    return issue


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The HTTP API over `services` (SQLite and PostgreSQL), projections in process."""
    with TestClient(create_app(services=services)) as test_client:
        yield test_client
