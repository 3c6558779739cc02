"""A database that goes away makes the API unready (503), never broken (500)."""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.conftest import SERVER_URL, build_services


@pytest.mark.postgres
def test_health_answers_503_when_the_database_goes_away_while_live_still_answers(postgres_url: str) -> None:
    services = build_services(postgres_url)
    try:
        with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
            assert client.get("/health").status_code == 200
            name = urlparse(postgres_url).path.lstrip("/")
            with psycopg.connect(SERVER_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

            response = client.get("/health")

            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert "postgresql store does not answer" in response.json()["detail"]
            assert client.get("/live").json() == {"status": "alive"}  # unready, but not to be restarted
    finally:
        with contextlib.suppress(Exception):
            services.close()
