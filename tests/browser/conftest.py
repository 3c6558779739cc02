"""Fixtures of the real-browser tests: the web app served by uvicorn on a free loopback port over
a fresh SQLite store, and Debian's chromium driven by Playwright (`make install-test` installs the
`chromium` package; never `playwright install`: browser downloads do not work here).

Each test gets browser contexts of its own (one per person: cookies apart); a context lets the
page reach the test server only, and a test that tried to load anything from elsewhere (a CDN, a
font, a tracker) fails.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from domain.application import Actor
from main.serve import application
from main.services import Services
from main.settings import Settings
from tests.builders import register_team

CHROMIUM = "/usr/bin/chromium"  # Debian's package (Makefile: install-test)
STARTUP_SECONDS = 10.0


@dataclass
class LiveServer:
    """The web app on a port of its own: `url` (no trailing slash), its `services`."""

    url: str
    services: Services

    def sign_in(self, page: Page, member: str | Actor, role: str = "member") -> Page:
        """Open a fresh one-time sign-in link for `member` in `role` in `page`: it lands on the desk."""
        if isinstance(member, Actor):
            member, role = member.member_id, member.role
        code = self.services.sessions.issue_code(member, role, 60)
        page.goto(f"{self.url}/signin?code={code}")
        assert page.url == f"{self.url}/", f"signing {member} in landed on {page.url}"
        return page


@dataclass
class Outside:
    """The requests that tried to leave the test server's origin (each was aborted)."""

    origin: str
    aborted: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(f"{self.origin}/"):
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    """The web app (and the API) over a fresh SQLite store with the team registered, served by
    uvicorn in a thread; the projections run in it, polling every 50 ms."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/web.db", secret="s", projection_poll_seconds=0.05,
                        access_log=False)
    services = Services.build(settings)
    register_team(services.app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no other process can take it
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application(settings, services=services), host="127.0.0.1",
                                           port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the live server did not start"
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", services)
    finally:
        server.should_exit = True
        thread.join(STARTUP_SECONDS)
        sock.close()
        services.close()
        assert not thread.is_alive(), "the live server did not stop"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless, launched once for the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install-test` installs Debian's chromium")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture
def new_context(browser: Browser, live: LiveServer) -> Iterator[Callable[[], BrowserContext]]:
    """Makes a browser context (a person's own cookies) that reaches the live server only; every
    request that leaves its origin is aborted and fails the test. All are closed before the
    server stops, so that their event streams end first."""
    contexts: list[BrowserContext] = []
    outside = Outside(live.url)
    errors: list[str] = []

    def make() -> BrowserContext:
        context = browser.new_context(base_url=live.url)
        context.set_default_timeout(5000)
        context.route("**/*", outside.route)
        context.on("weberror", lambda e: errors.append(str(e.error)))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not outside.aborted, f"the pages tried to leave {live.url}: {outside.aborted}"
    assert not errors, f"uncaught errors in the pages: {errors}"


@pytest.fixture
def context(new_context: Callable[[], BrowserContext]) -> BrowserContext:
    """One browser context for the test (more: `new_context()`)."""
    return new_context()
