"""Screenshots of the web app on the demo's story (`make screenshots`):

    python -m tests.browser.screenshots OUT_DIR

plays `goldsplit demo`'s story on a fresh SQLite store (main/demo.py), serves the web app on it
on a free loopback port, signs in as the demo's personas in Debian's chromium and saves full-page
PNGs (a 1280 by 900 viewport; a page longer than TALLEST is cut there) of alice's desk, the won
deal's board, its allocation as finance reads it, bob's explanation of his own line, finance's
approvals queue and the auditor's verified chain. Nothing leaves the server's origin: a request
elsewhere fails the run.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import uvicorn
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from domain.aggregates import Allocation
from main import demo
from main.serve import application
from main.services import Services
from main.settings import Settings

CHROMIUM = "/usr/bin/chromium"  # Debian's package (Makefile: install-test)
VIEWPORT = {"width": 1280, "height": 900}
TALLEST = 5000  # px: a longer page (the approvals queue lists the history's ~100 splits) is cut here
WON = "Warehouse automation, phase 2"  # the demo's won deal (main/demo.py: _won_deal)
ROLES = {member_id: role for member_id, role, _ in demo.PERSONAS}


@contextlib.contextmanager
def serving(settings: Settings, services: Services) -> Iterator[str]:
    """The web app over `services`, served by uvicorn in a thread on a free port: its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application(settings, services=services), host="127.0.0.1",
                                           port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="screenshots", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web app did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def won_deal(services: Services) -> tuple[str, str]:
    """The demo's won deal and its allocation: (opportunity id, allocation id)."""
    found = [board["opportunity_id"] for board in services.views.all("board").values()
             if board.get("name") == WON and board.get("stage") == "won"]
    if len(found) != 1:
        raise RuntimeError(f"expected one won {WON!r} in the demo's store, found {len(found)}")
    return found[0], str(Allocation.create_id(UUID(found[0])))


class Shooter:
    """Signs the personas in, each in a browser context of their own, and saves screenshots."""

    def __init__(self, browser: Browser, url: str, services: Services, out: Path) -> None:
        self.browser, self.url, self.services, self.out = browser, url, services, out
        self.pages: dict[str, Page] = {}
        self.outside: list[str] = []
        self.saved: list[Path] = []

    def _route(self, route: Route) -> None:
        if route.request.url == self.url or route.request.url.startswith(f"{self.url}/"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def page(self, member_id: str) -> Page:
        """`member_id` signed in (in their PERSONAS role), on their desk."""
        if member_id not in self.pages:
            context = self.browser.new_context(base_url=self.url, viewport=VIEWPORT, locale="en-US",
                                               timezone_id="UTC")
            context.set_default_timeout(10_000)
            context.route("**/*", self._route)
            page = context.new_page()
            code = self.services.sessions.issue_code(member_id, ROLES[member_id], 60)
            page.goto(f"/signin?code={code}")
            if page.url != f"{self.url}/":
                raise RuntimeError(f"signing {member_id} in landed on {page.url}")
            self.pages[member_id] = page
        return self.pages[member_id]

    def shoot(self, name: str, member_id: str, path: str, heading: str) -> None:
        """Open `path` as `member_id`, wait for its first heading, save OUT/<name>.png."""
        page = self.page(member_id)
        response = page.goto(path)
        if response is None or response.status != 200:
            raise RuntimeError(f"{path} as {member_id}: {response and response.status}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        page.evaluate("document.fonts.ready")
        target = self.out / f"{name}.png"
        width, height = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        clip = {"x": 0, "y": 0, "width": width, "height": TALLEST} if height > TALLEST else None
        page.screenshot(path=str(target), full_page=True, clip=clip, animations="disabled", caret="hide")
        self.saved.append(target)
        print(f"{target}  ({member_id} on {path})")

    def close(self) -> None:
        for page in self.pages.values():
            page.context.close()
        if self.outside:
            raise RuntimeError(f"the pages tried to leave {self.url}: {self.outside}")


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="goldsplit-screenshots-") as folder:
        with contextlib.redirect_stdout(io.StringIO()):  # the demo prints its story
            demo.run(keep=folder, serve=False)
        settings = Settings(database_url=f"sqlite:///{folder}/goldsplit.db", secret="screenshots",
                            projection_poll_seconds=0.05, access_log=False)
        with Services.build(settings) as services:
            services.runner.wait_for(services.app.recorder.max_notification_id(), timeout=60)
            oid, aid = won_deal(services)
            with serving(settings, services) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=["--no-sandbox"])
                shooter = Shooter(browser, url, services, out)
                try:
                    shooter.shoot("desk", "alice", "/", "My desk")
                    shooter.shoot("board", "alice", f"/opportunities/{oid}", WON)
                    shooter.shoot("allocation", "fiona", f"/allocations/{aid}", "Allocation")
                    shooter.shoot("explanation", "bob", f"/allocations/{aid}/members/bob",
                                  "How bob's line is computed")
                    shooter.shoot("approvals", "fiona", "/queues/approvals", "Allocations to approve")
                    shooter.shoot("money", "fiona", f"/opportunities/{oid}/money", "Money")
                    shooter.shoot("audit", "tom", "/audit?verify=true", "Audit chain")
                finally:
                    shooter.close()
                    browser.close()
    return shooter.saved


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.browser.screenshots OUT_DIR")
    main(Path(sys.argv[1]))
