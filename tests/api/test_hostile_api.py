"""Hostile requests to every route of the API (issue 24), as the admin: traversal in every id, bodies too large
(by Content-Length or chunked), nested too deep, not UTF-8 — each gets its 4xx, never a 5xx, and nothing is
written."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.server import TOKEN, ServerProcess

IDS = ["..%2F..%2Fcalltape.db", "%2e%2e", "..%5C..%5Cx", "%00", "a" * 300, "%ff%fe"]
BODIES = {
    "deep": (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    "deep_objects": (b'{"data": {"a": ' + b'{"a": ' * 300 + b"1" + b"}" * 301 + b"}", 400),
    "not_utf8": (b'{"data": {"name": "\xff\xfe\xfd"}}', 400),
}
WRITES = ("put", "post", "patch")


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30) as client:
        yield client


def _routes(server: ServerProcess) -> list[tuple[str, str]]:
    spec = httpx.get(f"{server.api_url}/openapi.json").json()
    return [(method, path) for path, operations in spec["paths"].items() for method in operations]


def _state(api: httpx.Client, account: str) -> list[object]:
    return [
        api.get("/v2/accounts").json()["data"],
        *(api.get(f"/v2/accounts/{account}/{kind}").json()["data"] for kind in ("callflows", "devices", "media")),
    ]


def test_every_id_with_traversal_or_junk_is_a_4xx_and_writes_nothing(server: ServerProcess, api: httpx.Client) -> None:
    account = api.put("/v2/accounts", json={"data": {"name": "H", "realm": f"h{uuid.uuid4().hex[:6]}.example"}})
    account_id = account.json()["data"]["id"]
    before = _state(api, account_id)
    tried = 0
    for method, path in _routes(server):
        if "{" not in path or path.startswith("/v2/system_configs"):
            continue
        for junk in IDS:
            everywhere = re.sub(r"\{[a-z_]+\}", junk, path)
            others = re.sub(r"\{[a-z_]+\}", junk, path.replace("{account_id}", account_id))
            for url in {everywhere, others} - {path.replace("{account_id}", account_id)}:
                r = api.request(method, url, json={"data": {"name": "x", "realm": "x.example.com"}})
                assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text[:200])
                tried += 1
    assert tried > 300
    assert _state(api, account_id) == before


def test_bodies_too_large_too_deep_or_not_utf8_are_refused_on_every_write(
    server: ServerProcess, api: httpx.Client
) -> None:
    account = api.put("/v2/accounts", json={"data": {"name": "B", "realm": f"b{uuid.uuid4().hex[:6]}.example"}})
    account_id = account.json()["data"]["id"]
    media = api.put(f"/v2/accounts/{account_id}/media", json={"data": {"name": "m"}}).json()["data"]["id"]
    before = _state(api, account_id)
    json_type = {"Content-Type": "application/json"}
    tried = 0
    for method, path in _routes(server):
        if method not in WRITES or path.endswith("/raw") or "user_auth" in path or "api_auth" in path:
            continue
        url = path.replace("{account_id}", account_id).replace("{media_id}", media)
        url = re.sub(r"\{[a-z_]+\}", uuid.uuid4().hex, url)
        for name, (body, status) in BODIES.items():
            r = api.request(method, url, content=body, headers=json_type)
            assert r.status_code in (status, 404, 405), (method, url, name, r.status_code, r.text[:200])
        huge = api.request(method, url, content=b" " * (2 << 20), headers=json_type)
        refused_first = huge.status_code == 400 and "body" not in huge.json()["data"]  # its URL, before the body
        assert huge.status_code in (413, 404, 405) or refused_first, (method, url, huge.status_code, huge.text[:200])
        tried += 1
    assert tried > 30
    chunked = api.put(
        "/v2/accounts", content=iter([b'{"data": {"name": "', b"a" * (2 << 20), b'"}}']), headers=json_type
    )
    assert chunked.status_code == 413  # no Content-Length: cut off as it passes the limit
    raw = f"/v2/accounts/{account_id}/media/{media}/raw"
    too_big = api.post(raw, content=iter([b"\0" * (1 << 20)] * 60), headers={"Content-Type": "audio/wav"})
    assert too_big.status_code == 413
    assert _state(api, account_id) == before
