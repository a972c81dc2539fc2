"""``/docs``: the API reference page is served from the package and renders ``/openapi.json`` (no CDN)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from calltape.api.app import create_app
from calltape.media.library import MediaLibrary
from calltape.store.database import Database
from tests.server import ServerProcess


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Database(f"sqlite:///{tmp_path / 'calltape.db'}"), "token", MediaLibrary(tmp_path / "media"))
    with TestClient(app) as test_client:
        yield test_client


def test_docs_page_and_assets_come_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "default-src 'self'"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/docs/docs.js" in sources and "/docs/docs.css" in sources
    assert all(s.startswith("/") for s in sources), sources  # nothing from another host
    script = client.get("/docs/docs.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert 'fetch("/openapi.json")' in script.text
    assert "innerHTML" not in script.text  # texts from the spec are never parsed as HTML
    assert client.get("/docs/docs.css").headers["content-type"].startswith("text/css")
    assert "/docs" not in client.get("/openapi.json").json()["paths"]


def test_docs_needs_no_token(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/v2/accounts").status_code == 401


@pytest.mark.skipif(not shutil.which("chromedriver"), reason="chromium-driver is installed by make test")
def test_a_browser_lists_the_paths(tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = ServerProcess(tmp_path / "data").start()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
    try:
        driver.get(f"{server.api_url}/docs")
        status = WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.ID, "status") if "operations" in d.find_element(By.ID, "status").text else None
        )
        count = len(httpx.get(f"{server.api_url}/openapi.json").json()["paths"])
        assert re.fullmatch(rf"\d+ operations on {count} paths\.", status.text)
        paths = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "details.op .path")]
        assert "/v2/accounts" in paths and "/v2/accounts/{account_id}/recordings" in paths
        driver.find_element(By.ID, "filter").send_keys("recordings")
        shown = [e for e in driver.find_elements(By.CSS_SELECTOR, "details.op") if e.is_displayed()]
        assert shown and all("recordings" in e.text for e in shown)
        log = driver.get_log("browser")
        errors = [e for e in log if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
        assert errors == []
    finally:
        driver.quit()
        assert server.stop() == 0
