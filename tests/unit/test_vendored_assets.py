"""The vendored assets: every file under web/static/vendor is in its manifest, shipped as package
data with the manifest's sha256 and its licence beside it; no template loads anything from another
origin; /docs and /redoc load their scripts and styles from this origin, and those answer."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib.resources import files
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from main.serve import application
from main.services import Services
from main.settings import Settings
from web import vendor

VENDOR = files("web") / "static" / "vendor"
MANIFEST = json.loads((VENDOR / "MANIFEST.json").read_text("utf-8"))["files"]
SPDX = {"0BSD", "MIT", "Apache-2.0"}  # the licences vendored so far; a new one is a decision


def resource(path: str) -> Traversable:
    node = VENDOR
    for part in path.split("/"):
        node = node / part
    return node


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["path"] for entry in MANIFEST])
def test_each_entry_is_package_data_with_its_sha256_and_licence(entry: dict[str, str]) -> None:
    assert set(entry) == {"package", "version", "tarball_path", "path", "sha256", "licence",
                          "licence_file"}
    assert entry["path"].split("/")[0].endswith(f"-{entry['version']}")
    assert hashlib.sha256(resource(entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert entry["licence"] in SPDX
    assert entry["licence_file"].split("/")[0] == entry["path"].split("/")[0]
    assert resource(entry["licence_file"]).is_file()
    assert entry["licence_file"] in {e["path"] for e in MANIFEST}  # itself vendored, and checked


def test_every_vendored_file_is_in_the_manifest() -> None:
    listed = [entry["path"] for entry in MANIFEST]
    assert len(listed) == len(set(listed))
    assert vendor.present() == set(listed)
    assert {(e["package"], e["version"]) for e in MANIFEST} >= {
        ("htmx.org", "4.0.1"), ("@picocss/pico", "2.1.1"), ("swagger-ui-dist", "5.35.0"),
        ("redoc", "2.5.4")}


def test_the_check_agrees_and_finds_a_changed_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert vendor.problems() == []
    assert vendor.main(["--check"]) == 0
    changed = [dict(MANIFEST[0], sha256="0" * 64), *MANIFEST[1:]]
    monkeypatch.setattr(vendor, "entries", lambda: changed)
    assert vendor.problems() == [f"{MANIFEST[0]['path']}: sha256 differs from the manifest's"]
    assert vendor.main(["--check"]) == 1


def templates() -> Iterator[Traversable]:
    stack = [files("web") / "templates"]
    while stack:
        for child in stack.pop().iterdir():
            if child.is_dir():
                stack.append(child)
            elif child.name.endswith(".html"):
                yield child


def test_no_template_loads_or_links_a_literal_url_of_another_origin() -> None:
    """Evidence links a user follows come from data, as {{ }} expressions, not literals."""
    found = list(templates())
    assert found
    for template in found:
        for attribute, value in re.findall(r"""\b(src|href|action|srcset)\s*=\s*["']?([^"'\s>]*)""",
                                           template.read_text("utf-8"), re.IGNORECASE):
            assert not re.match(r"(?i)(https?:)?//", value), f"{template.name}: {attribute}={value}"


class Loaded(HTMLParser):
    """The URLs a page loads: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if tag in ("script", "img") and given.get("src"):
            self.urls.append(given["src"])
        if tag == "link" and given.get("href"):
            self.urls.append(given["href"])


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings(database_url="memory://", secret="s")
    with TestClient(application(settings, build=lambda: Services.build(settings))) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_their_assets_from_this_origin(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in answer.headers["content-security-policy"]
    html = answer.text
    assert "cdn." not in html and "googleapis" not in html and "tiangolo" not in html
    parser = Loaded()
    parser.feed(html)
    assert parser.urls
    for url in parser.urls:
        assert urlsplit(url)[:2] == ("", "") and url.startswith("/static/vendor/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        path = url.removeprefix("/static/vendor/")
        assert hashlib.sha256(asset.content).hexdigest() == next(
            e["sha256"] for e in MANIFEST if e["path"] == path)
    assert '"/openapi.json"' in html or "'/openapi.json'" in html
    assert client.get("/openapi.json").status_code == 200


def test_the_swagger_oauth2_redirect_still_answers(client: TestClient) -> None:
    answer = client.get("/docs/oauth2-redirect")
    assert answer.status_code == 200 and "oauth2" in answer.text
    fastapis = [route.path for route in client.app.router.routes  # its CDN-backed pages are gone
                if getattr(route, "endpoint", None) and "FastAPI.setup" in route.endpoint.__qualname__]
    assert fastapis == ["/openapi.json"]
