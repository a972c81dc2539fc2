"""The web page's files and the API it uses (channels, outbox, audio links), on a running server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.server import TOKEN, ServerProcess


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as client:
        yield client


@pytest.fixture
def account(api: httpx.Client) -> str:
    realm = f"ui{uuid.uuid4().hex[:8]}.example.com"
    return str(api.put("/v2/accounts", json={"data": {"name": "UI", "realm": realm}}).json()["data"]["id"])


def test_the_page_is_served_from_the_package_with_a_strict_policy(server: ServerProcess) -> None:
    r = httpx.get(f"{server.api_url}/ui", follow_redirects=True)
    assert r.status_code == 200 and r.url.path == "/ui/" and r.headers["content-type"].startswith("text/html")
    assert '<script src="app.js" defer></script>' in r.text and "http" not in r.text.split("<body>")[0]
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert r.headers["referrer-policy"] == "no-referrer"  # signed audio links never leave in a Referer
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = httpx.get(f"{server.api_url}/ui/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    assert httpx.get(f"{server.api_url}/ui/nothing.js").status_code == 404


def test_channels_and_outbox_need_the_token_and_start_empty(
    server: ServerProcess, api: httpx.Client, account: str
) -> None:
    for what in ("channels", "outbox"):
        assert httpx.get(f"{server.api_url}/v2/accounts/{account}/{what}").status_code == 401
        r = api.get(f"/v2/accounts/{account}/{what}")
        assert r.status_code == 200 and (r.json()["data"], r.json()["status"]) == ([], "success")
    assert api.get("/v2/accounts/nope/channels").status_code == 404


def test_audio_links_need_the_token_and_a_recording_of_the_account(
    server: ServerProcess, api: httpx.Client, account: str
) -> None:
    path = f"/v2/accounts/{account}/recordings/202611-{'0' * 32}/audio_link"
    assert httpx.get(server.api_url + path).status_code == 401
    assert api.get(path).status_code == 404
    forged = httpx.get(f"{server.api_url}/ui/audio/{account}/202611-x?expires=9999999999&sig={'0' * 64}")
    assert forged.status_code == 403 and "audio_link" in forged.json()["data"]["sig"]["forbidden"]["message"]


def test_the_number_filter_is_checked(api: httpx.Client, account: str) -> None:
    assert api.get(f"/v2/accounts/{account}/recordings", params={"number": "555"}).json()["data"] == []
    r = api.get(f"/v2/accounts/{account}/recordings", params={"number": "5" * 65})
    assert r.status_code == 400 and "number" in r.json()["data"]
