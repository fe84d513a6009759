"""The console's files: served by the server itself at /console with headers that let them run
nothing else, made of plain files (no CDN, no third-party code, no build step), shipped in the wheel."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import Scrape, Server, free_port, settings_for_test
from taxiway.console.routes import STATIC_DIR
from taxiway.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(settings_for_test(tmp_path_factory.mktemp("files"), port=free_port(), workers=0)).start()
    yield server
    server.stop()


def test_the_root_redirects_to_the_console(server: Server) -> None:
    response = httpx.get(server.base_url + "/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"
    response = httpx.get(server.base_url + "/console")
    assert response.status_code == 307
    assert response.headers["location"].endswith("/console/")
    page = httpx.get(server.base_url + "/", follow_redirects=True)
    assert page.status_code == 200
    assert "<title>taxiway console</title>" in page.text


def test_every_file_is_served_with_its_type_and_the_strict_headers(server: Server) -> None:
    files = sorted(path.name for path in STATIC_DIR.iterdir())
    modules = ["api.js", "app.js", "compare.js", "dom.js", "forms.js", "tasks.js"]
    assert files == sorted([*modules, "icon.svg", "index.html", "style.css"])
    for name in [*files, ""]:
        response = httpx.get(f"{server.base_url}/console/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(TYPES[Path(name or "index.html").suffix]), name
        assert response.headers["content-security-policy"] == POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-cache"
    missing = httpx.get(f"{server.base_url}/console/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-security-policy"] == POLICY


def test_metrics_count_the_console_under_one_route_never_by_file(server: Server) -> None:
    for path in ("/", "/console/", "/console/app.js", "/console/nothing.js"):
        httpx.get(server.base_url + path)
    scrape = Scrape(httpx.get(server.base_url + "/metrics").text)
    routes = {labels["route"] for labels in scrape.labels("taxiway_http_requests_total")}
    assert {"/", "/console"} <= routes
    assert not [route for route in routes if "app.js" in route or "nothing" in route]
    counted = scrape.value("taxiway_http_requests_total", method="GET", route="/console", status="200")
    assert counted >= 2
    assert scrape.value("taxiway_http_requests_total", method="GET", route="/console", status="404") >= 1


def test_the_console_is_not_part_of_the_api_document(server: Server) -> None:
    paths = httpx.get(server.base_url + "/openapi.json").json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/console")]


def test_an_s3_store_s_public_address_may_serve_media() -> None:
    from taxiway.console.routes import content_security_policy

    settings = Settings(
        blob_backend="s3",
        s3_bucket="media",
        s3_endpoint_url="http://10.0.0.5:8333",
        s3_public_endpoint_url="https://files.example.com/base",
    )
    policy = content_security_policy(settings)
    assert "media-src 'self' blob: https://files.example.com;" in policy
    assert "img-src 'self' blob: https://files.example.com data:;" in policy
    assert "connect-src 'self';" in policy  # the API itself stays the only thing it talks to


def test_the_files_are_plain_and_self_contained() -> None:
    """No inline script or style, nothing from another origin, ES modules importing only each other."""
    index = (STATIC_DIR / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", index) == ['<script type="module" src="app.js">']
    assert not re.search(r"<style|<[^>]+\s(style|on[a-z]+)=", index)
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://", text.replace("http://www.w3.org/2000/svg", "")), path.name
        for module in re.findall(r'from "([^"]+)"', text):
            assert module.startswith("./") and (STATIC_DIR / module).is_file(), (path.name, module)
        assert "innerHTML" not in text, path.name  # text is set as text, never parsed as markup
        assert "localStorage" not in text, path.name  # the token lives in sessionStorage only


def test_the_wheel_ships_every_console_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "dist")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("taxiway-*.whl")
    shipped = {
        name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("taxiway/console/static/")
    }
    assert shipped == {f"taxiway/console/static/{path.name}" for path in STATIC_DIR.iterdir()}
