"""Callflow documents: validation paths on save, number uniqueness, Kazoo's shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from calltape.callflow.validation import CallflowInvalidError, validate_callflow
from tests.server import TOKEN, ServerProcess


def test_error_paths_name_the_field() -> None:
    doc = {
        "numbers": ["100"],
        "flow": {"module": "say", "data": {}, "children": {"_": {"module": "say", "data": {"voice": "male"}}}},
    }
    with pytest.raises(CallflowInvalidError) as err:
        validate_callflow(doc)
    assert err.value.errors == {"flow.data.text": "Field required", "flow.children._.data.text": "Field required"}


def test_unknown_module_and_bad_values() -> None:
    doc = {
        "numbers": ["1", "1"],
        "patterns": ["(unclosed"],
        "flow": {"module": "frobnicate", "children": {"_": {"module": "sleep", "data": {"duration": -1}}}},
    }
    with pytest.raises(CallflowInvalidError) as err:
        validate_callflow(doc)
    assert set(err.value.errors) == {"numbers", "patterns.0", "flow.module", "flow.children._.data.duration"}
    assert "frobnicate" in err.value.errors["flow.module"]


def test_seed_examples_validate() -> None:
    """The seed's say example as written, and a bare child node (the seed's third example has one)."""
    say_then_record = {"module": "say", "data": {"text": "Please leave your message after the beep"}}
    assert validate_callflow({"numbers": ["1"], "flow": say_then_record}) == []
    bare = {
        "module": "say",
        "data": {"text": "hi"},
        "children": {"module": "say", "data": {"text": "bye"}, "children": {}},
    }
    warnings = validate_callflow({"numbers": ["2"], "flow": bare})
    assert warnings and "flow.children" in warnings[0]


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as client:
        yield client


def _account(api: httpx.Client) -> str:
    return str(
        api.put("/v2/accounts", json={"data": {"name": "cf", "realm": f"cf{uuid.uuid4().hex[:8]}.example.com"}}).json()[
            "data"
        ]["id"]
    )


def test_api_rejects_with_paths_and_numbers_are_unique_within_an_account(api: httpx.Client) -> None:
    a, b = _account(api), _account(api)
    number = f"9{uuid.uuid4().int % 10**9}"
    bad = {"numbers": [number], "flow": {"module": "say", "data": {}}}
    r = api.put(f"/v2/accounts/{a}/callflows", json={"data": bad})
    assert r.status_code == 400 and r.json()["data"] == {"flow.data.text": {"required": {"message": "Field required"}}}
    good = {"numbers": [number], "flow": {"module": "say", "data": {"text": "hello"}}}
    created = api.put(f"/v2/accounts/{a}/callflows", json={"data": good})
    assert created.status_code == 201
    r = api.put(f"/v2/accounts/{a}/callflows", json={"data": good})
    assert r.status_code == 409 and "numbers" in r.json()["data"]
    other = api.put(f"/v2/accounts/{b}/callflows", json={"data": good})
    assert other.status_code == 201  # another tenant may have the same number
    cf_id = created.json()["data"]["id"]
    r = api.patch(f"/v2/accounts/{a}/callflows/{cf_id}", json={"data": {"flow": {"module": "nope"}}})
    assert r.status_code == 400 and "flow.module" in r.json()["data"]
    bare = {
        "numbers": [number + "1"],
        "flow": {"module": "say", "data": {"text": "a"}, "children": {"module": "hangup", "data": {}}},
    }
    r = api.put(f"/v2/accounts/{a}/callflows", json={"data": bare})
    assert r.status_code == 201 and r.json()["warnings"]
    assert api.delete(f"/v2/accounts/{a}/callflows/{cf_id}").status_code == 200
    assert api.put(f"/v2/accounts/{a}/callflows", json={"data": good}).status_code == 201  # the number is free again


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"P-Asserted-Identity": "<sip:+15550100@x>"}, "set by calltape"),
        ({"Via": "SIP/2.0/UDP evil"}, "set by calltape"),
        ({"X-Note": "a\r\nP-Asserted-Identity: <sip:1@x>"}, "line break"),
        ({"X Bad": "1"}, "not a SIP token"),
    ],
)
def test_custom_sip_headers_cannot_forge_or_inject(headers: dict[str, str], reason: str) -> None:
    for module in ("device", "resources"):
        data: dict[str, Any] = {"custom_sip_headers": headers}
        if module == "device":
            data["id"] = "0123456789abcdef0123456789abcdef"
        with pytest.raises(CallflowInvalidError) as err:
            validate_callflow({"numbers": ["1"], "flow": {"module": module, "data": data}})
        assert reason in err.value.errors["flow.data.custom_sip_headers"], err.value.errors
    assert (
        validate_callflow(
            {"numbers": ["1"], "flow": {"module": "resources", "data": {"custom_sip_headers": {"X-Account": "acme"}}}}
        )
        == []
    )
