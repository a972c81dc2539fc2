"""The REST API of a running server, through a real HTTP client."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from openapi_spec_validator import validate as validate_spec

from tests.server import TOKEN, ServerProcess


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as client:
        yield client


def _realm() -> str:
    return f"r{uuid.uuid4().hex[:8]}.example.com"


def test_token_required(server: ServerProcess) -> None:
    for headers in ({}, {"X-Auth-Token": "wrong"}):
        r = httpx.get(f"{server.api_url}/v2/accounts", headers=headers)
        assert r.status_code == 401
        assert r.json()["status"] == "error" and r.json()["error"] == "401"


def test_account_lifecycle(api: httpx.Client) -> None:
    realm = _realm()
    r = api.put("/v2/accounts", json={"data": {"name": "Acme", "realm": realm.upper()}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "success" and body["data"]["realm"] == realm
    account_id = body["data"]["id"]
    assert api.get(f"/v2/accounts/{account_id}").json()["data"]["name"] == "Acme"
    assert any(a["id"] == account_id for a in api.get("/v2/accounts").json()["data"])
    r = api.patch(f"/v2/accounts/{account_id}", json={"data": {"name": "Acme Inc", "notes": "kept"}})
    assert r.json()["data"] == {"name": "Acme Inc", "realm": realm, "notes": "kept", "id": account_id, "tree": []}
    r = api.post(f"/v2/accounts/{account_id}", json={"data": {"name": "Acme 2", "realm": realm}})
    assert r.status_code == 200 and "notes" not in r.json()["data"]
    assert api.delete(f"/v2/accounts/{account_id}").status_code == 200
    r = api.get(f"/v2/accounts/{account_id}")
    assert r.status_code == 404 and r.json()["error"] == "404"


def test_duplicate_realm_is_409(api: httpx.Client) -> None:
    realm = _realm()
    assert api.post("/v2/accounts", json={"data": {"name": "A", "realm": realm}}).status_code == 201
    r = api.post("/v2/accounts", json={"data": {"name": "B", "realm": realm}})
    assert r.status_code == 409
    assert r.json()["data"] == {"realm": {"unique": {"message": "realm is already in use"}}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": {"realm": "x.example.com"}}, "name"),
        ({"data": {"name": "A", "realm": "not a realm"}}, "realm"),
        ({"data": {"name": 5, "realm": "x.example.com"}}, "name"),
        ({"name": "A"}, "data"),
        ({"data": []}, "data"),
        (
            {
                "data": {
                    "name": "A",
                    "realm": "x.example.com",
                    "recording_webhooks": [{"url": "ftp://x", "secret": "s" * 16}],
                }
            },
            "recording_webhooks.0.url",
        ),
        (
            {
                "data": {
                    "name": "A",
                    "realm": "x.example.com",
                    "recording_webhooks": [{"url": "http://x", "secret": "short"}],
                }
            },
            "recording_webhooks.0.secret",
        ),
        (
            {
                "data": {
                    "name": "A",
                    "realm": "x.example.com",
                    "recording_webhooks": [{"url": "http://x", "secret": "s" * 16, "events": ["recording.exploded"]}],
                }
            },
            "recording_webhooks.0.events",
        ),
        (
            {"data": {"name": "A", "realm": "x.example.com", "metaflows": {"numbers": {"1": {"module": "park"}}}}},
            "metaflows.numbers.1",  # the flow; its reason names the modules there are (record_call, transfer)
        ),
        (
            {"data": {"name": "A", "realm": "x.example.com", "metaflows": {"patterns": {"(": {"module": "transfer"}}}}},
            "metaflows.patterns",
        ),
    ],
)
def test_invalid_account_is_400_with_field_path(api: httpx.Client, body: dict[str, object], field: str) -> None:
    r = api.post("/v2/accounts", json=body)
    assert r.status_code == 400
    assert r.json()["status"] == "error" and field in r.json()["data"]


def test_invalid_json_is_400(api: httpx.Client) -> None:
    r = api.post("/v2/accounts", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "body" in r.json()["data"]


def test_devices(api: httpx.Client) -> None:
    account_id = api.post("/v2/accounts", json={"data": {"name": "A", "realm": _realm()}}).json()["data"]["id"]
    base = f"/v2/accounts/{account_id}/devices"
    device = {"name": "desk", "owner_id": "u1", "sip": {"username": "alice", "password": "s3cret-pw"}}
    r = api.put(base, json={"data": device})
    assert r.status_code == 201, r.text
    device_id = r.json()["data"]["id"]
    assert r.json()["data"]["sip"]["invite_format"] == "contact"
    listed = api.get(base).json()["data"]
    assert [d["id"] for d in listed] == [device_id]
    assert listed[0]["username"] == "alice" and "sip" not in listed[0]  # Kazoo's listing fields
    assert "s3cret-pw" not in api.get(base).text
    assert api.get(f"{base}/{device_id}").json()["data"]["sip"]["password"] == "s3cret-pw"
    r = api.post(base, json={"data": {**device, "name": "other"}})
    assert r.status_code == 409 and r.json()["data"] == {
        "sip.username": {"unique": {"message": "sip.username is already in use"}}
    }
    r = api.patch(f"{base}/{device_id}", json={"data": {"sip": {"password": "x"}}})
    assert r.status_code == 400 and "sip.password" in r.json()["data"]
    r = api.patch(f"{base}/{device_id}", json={"data": {"sip": {"invite_format": "route"}}})
    assert r.status_code == 400 and "sip" in r.json()["data"]
    r = api.patch(f"{base}/{device_id}", json={"data": {"sip": {"invite_format": "route", "route": "sip:a@b"}}})
    assert r.status_code == 200 and r.json()["data"]["sip"]["username"] == "alice"
    assert api.get(f"/v2/accounts/{uuid.uuid4().hex}/devices").status_code == 404
    assert api.delete(f"{base}/{device_id}").status_code == 200
    assert api.get(base).json()["data"] == []


def test_media_system_config(api: httpx.Client) -> None:
    r = api.get("/v2/system_configs/media")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["max_recording_time_limit"] == 10800 and data["store_recordings"] is False
    assert data["record_min_sec"] == 0 and data["storage_retry_times"] == 5
    assert data["call_recording"] == {"extension": "mp3", "workers": 1}
    r = api.patch(
        "/v2/system_configs/media", json={"data": {"store_recordings": True, "call_recording": {"extension": "wav"}}}
    )
    assert r.status_code == 200
    again = api.get("/v2/system_configs/media").json()["data"]
    assert again["store_recordings"] is True and again["call_recording"] == {"extension": "wav", "workers": 1}
    r = api.put("/v2/system_configs/media", json={"data": {"store_recordings": "yes"}})
    assert r.status_code == 400 and "store_recordings" in r.json()["data"]
    r = api.patch("/v2/system_configs/media", json={"data": {"call_recording": {"extension": "ogg"}}})
    assert r.status_code == 400 and "call_recording.extension" in r.json()["data"]
    assert api.put("/v2/system_configs/media", json={"data": {}}).json()["data"]["store_recordings"] is False
    assert api.get("/v2/system_configs/nothing").status_code == 404


def test_openapi(server: ServerProcess) -> None:
    r = httpx.get(f"{server.api_url}/openapi.json")
    assert r.status_code == 200 and "/v2/accounts" in r.json()["paths"]


def test_every_operation_has_an_id_of_its_own(server: ServerProcess) -> None:
    """An OpenAPI client generator names a method after its operation id: no two may share one."""
    spec = httpx.get(f"{server.api_url}/openapi.json").json()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) > 50 and len(ids) == len(set(ids))
    assert "Duplicate Operation ID" not in server.log_path.read_text(errors="replace")


def test_every_answer_carries_crossbars_envelope_and_errors_kazoos_shape(api: httpx.Client) -> None:
    api.put("/v2/accounts", json={"data": {"name": "Envelope", "realm": _realm()}})  # a list with something in it
    r = api.get("/v2/accounts", headers={"X-Request-ID": "req-42"})
    body = r.json()
    assert body["status"] == "success" and body["request_id"] == "req-42" and r.headers["x-request-id"] == "req-42"
    assert body["auth_token"] == TOKEN and body["version"] and body["node"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"]) and len(body["revision"]) == 32
    bad = api.put("/v2/accounts", json={"data": {"realm": "x.example.com"}})
    error = bad.json()
    assert bad.status_code == 400 and error["status"] == "error" and error["error"] == "400"
    assert error["data"] == {"name": {"required": {"message": "Field required"}}}
    assert len(error["request_id"]) == 32 and error["auth_token"] == TOKEN


def test_lists_are_paged_as_crossbar_pages_them(api: httpx.Client) -> None:
    account_id = api.put("/v2/accounts", json={"data": {"name": "Pages", "realm": _realm()}}).json()["data"]["id"]
    base = f"/v2/accounts/{account_id}/devices"
    made = [
        api.put(base, json={"data": {"name": f"d{n}", "sip": {"username": f"pg{n}", "password": "secret-pw"}}}).json()[
            "data"
        ]["id"]
        for n in range(3)
    ]
    first = api.get(base, params={"page_size": 2}).json()
    assert [d["id"] for d in first["data"]] == made[:2] and first["page_size"] == 2
    second = api.get(base, params={"page_size": 2, "start_key": first["next_start_key"]}).json()
    assert [d["id"] for d in second["data"]] == made[2:] and "next_start_key" not in second
    assert len(api.get(base, params={"paginate": "false"}).json()["data"]) == 3
    bad = api.get(base, params={"start_key": "nope"})
    assert bad.status_code == 400 and "start_key" in bad.json()["data"]


def test_the_openapi_document_is_valid_and_documents_bodies_and_list_parameters(server: ServerProcess) -> None:
    spec = httpx.get(f"{server.api_url}/openapi.json").json()
    validate_spec(spec)  # an independent validator (openapi-spec-validator), not FastAPI's own view
    devices = spec["paths"]["/v2/accounts/{account_id}/devices"]
    body = devices["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["data"] == {"$ref": "#/components/schemas/Device"}
    assert "sip" in spec["components"]["schemas"]["Device"]["properties"]
    assert {p["name"] for p in devices["get"]["parameters"]} >= {"account_id", "page_size", "start_key"}
    one = spec["paths"]["/v2/accounts/{account_id}/devices/{doc_id}"]["get"]["responses"]["200"]
    answer = one["content"]["application/json"]["schema"]
    assert (
        answer["properties"]["data"] == {"$ref": "#/components/schemas/Device"} and "request_id" in answer["properties"]
    )
