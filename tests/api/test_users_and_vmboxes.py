"""Users and voicemail boxes over the API (issue 7): validation with field paths, and users who own devices."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.server import TOKEN, ServerProcess


@pytest.fixture
def account(server: ServerProcess) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as client:
        realm = f"u{uuid.uuid4().hex[:8]}.example.com"
        account_id = client.put("/v2/accounts", json={"data": {"name": "U", "realm": realm}}).json()["data"]["id"]
        yield client, account_id


def test_a_user_who_owns_devices_is_deleted_only_with_cascade(account: tuple[httpx.Client, str]) -> None:
    api, account_id = account
    base = f"/v2/accounts/{account_id}"
    user = api.put(f"{base}/users", json={"data": {"first_name": "Ada", "last_name": "L"}}).json()["data"]["id"]
    device = {"name": "desk", "owner_id": user, "sip": {"username": "ada", "password": "secret-1"}}
    device_id = api.put(f"{base}/devices", json={"data": device}).json()["data"]["id"]
    refused = api.delete(f"{base}/users/{user}")
    assert refused.status_code == 409 and "owner_id" in refused.json()["data"]
    assert api.get(f"{base}/users/{user}").status_code == 200
    assert api.delete(f"{base}/users/{user}?cascade=true").status_code == 200
    assert api.get(f"{base}/users/{user}").status_code == 404
    assert api.get(f"{base}/devices/{device_id}").status_code == 404  # the devices went with the user


def test_user_and_vmbox_validation_names_the_field(account: tuple[httpx.Client, str]) -> None:
    api, account_id = account
    base = f"/v2/accounts/{account_id}"
    r = api.put(f"{base}/users", json={"data": {"first_name": "Ada"}})
    assert r.status_code == 400 and "last_name" in r.json()["data"]
    r = api.put(f"{base}/vmboxes", json={"data": {"name": "box", "mailbox": "12a", "pin": "12"}})
    assert r.status_code == 400 and {"mailbox", "pin"} <= set(r.json()["data"])
    r = api.put(f"{base}/vmboxes", json={"data": {"name": "box", "mailbox": "100", "notify_webhook": "ftp://x"}})
    assert r.status_code == 400 and "notify_webhook" in r.json()["data"]
    r = api.put(f"{base}/vmboxes", json={"data": {"name": "box", "mailbox": "100", "media_extension": "mp4"}})
    assert r.status_code == 400 and "media_extension" in r.json()["data"]  # Kazoo has mp4; calltape not
    r = api.put(f"{base}/vmboxes", json={"data": {"name": "box", "mailbox": "100", "pin": "4321"}})
    assert r.status_code == 201
    box = r.json()["data"]
    assert (box["max_message_length"], box["min_message_length"]) == (500, 3)  # Kazoo's defaults
    assert box["media_extension"] == "mp3"
    assert api.get(f"{base}/vmboxes/{box['id']}/messages").json()["data"] == []
    assert api.get(f"{base}/vmboxes/nope/messages").status_code == 404


def test_email_fields_are_checked_and_the_smtp_log_answers(account: tuple[httpx.Client, str]) -> None:
    api, account_id = account
    base = f"/v2/accounts/{account_id}"
    r = api.put(f"{base}/users", json={"data": {"first_name": "Ada", "last_name": "L", "email": "not-an-address"}})
    assert r.status_code == 400 and "email" in r.json()["data"]
    box = {"name": "box", "mailbox": "100", "notify_email_addresses": ["desk@example.com", "nope"]}
    r = api.put(f"{base}/vmboxes", json={"data": box})
    assert r.status_code == 400 and any(k.startswith("notify_email_addresses") for k in r.json()["data"]), r.text
    r = api.put(f"{base}/vmboxes", json={"data": {**box, "notify_email_addresses": ["desk@example.com"]}})
    assert r.status_code == 201
    assert (r.json()["data"]["include_message_on_notify"], r.json()["data"]["max_message_count"]) == (True, 100)
    assert (
        api.put(
            f"{base}/vmboxes",
            json={"data": {**box, "mailbox": "101", "notify_email_addresses": [], "max_message_count": 0}},
        ).status_code
        == 201
    )
    log = api.get(f"{base}/notifications/smtplog")
    assert log.status_code == 200 and log.json()["data"] == []
    r = api.get(f"{base}/notifications/smtplog", params={"state": "lost"})
    assert r.status_code == 400 and "state" in r.json()["data"]
    assert api.get(f"{base}/notifications/smtplog/{'0' * 32}").status_code == 404
    assert api.post(f"{base}/notifications/smtplog/{'0' * 32}/retry").status_code == 404


def test_smtp_client_config_has_kazoos_defaults_and_names_a_bad_field(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as api:
        shown = api.get("/v2/system_configs/smtp_client").json()["data"]
        assert (shown["relay"], shown["port"], shown["auth"], shown["tls"]) == (
            "localhost",
            25,
            "never",
            "if_available",
        )
        for field, value in (("port", 0), ("auth", "sometimes"), ("tls", "maybe"), ("use_ssl", "yes")):
            r = api.put("/v2/system_configs/smtp_client", json={"data": {field: value}})
            assert r.status_code == 400 and field in r.json()["data"], r.text


def test_the_smtp_password_is_never_shown_and_goes_to_no_other_relay(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as api:
        path = "/v2/system_configs/smtp_client"
        config = {"relay": "smtp.example.com", "port": 587, "auth": "always", "username": "vm", "password": "s3cret"}
        r = api.put(path, json={"data": config})
        assert r.status_code == 200 and r.json()["data"]["password"] == "********"
        shown = api.get(path).json()["data"]
        assert shown["password"] == "********" and "s3cret" not in json.dumps(shown)
        assert api.put(path, json={"data": {**shown, "port": 465}}).status_code == 400  # another relay: say it again
        r = api.put(path, json={"data": {**shown, "relay": "evil.example.net"}})
        assert r.status_code == 400 and "password" in r.json()["data"]
        assert api.patch(path, json={"data": {"send_timeout_ms": 5000}}).status_code == 200  # the rest may change
        api.put(path, json={"data": {}})  # as it was
