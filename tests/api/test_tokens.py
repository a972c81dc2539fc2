"""Accounts in a tree and tokens scoped to one account (issue 19), through a running server.

A token from ``/v2/api_auth`` reaches its account and what lies below it, nothing else: every route the server
has (read from its own ``/openapi.json``, so a route added later is covered) is tried with one tenant's token
against another tenant's account and must answer 403 without reading or writing anything.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.server import TOKEN, ServerProcess

#: Routes outside /v2/accounts/{account_id}/… and what an account's token gets from them.
OUTSIDE_AN_ACCOUNT = {
    ("GET", "/v2/accounts"): 200,  # only its own accounts are listed (checked below)
    ("PUT", "/v2/accounts"): 403,
    ("POST", "/v2/accounts"): 403,
    ("GET", "/v2/system_configs/{config_id}"): 403,
    ("PUT", "/v2/system_configs/{config_id}"): 403,
    ("POST", "/v2/system_configs/{config_id}"): 403,
    ("PATCH", "/v2/system_configs/{config_id}"): 403,
    ("GET", "/v2/resources"): 403,  # the platform's carriers: the operator's
    ("PUT", "/v2/resources"): 403,
    ("POST", "/v2/resources"): 403,
    ("GET", "/v2/resources/{doc_id}"): 403,
    ("PUT", "/v2/resources/{doc_id}"): 403,
    ("POST", "/v2/resources/{doc_id}"): 403,
    ("PATCH", "/v2/resources/{doc_id}"): 403,
    ("DELETE", "/v2/resources/{doc_id}"): 403,
    ("GET", "/v2/nodes"): 403,  # the platform's nodes: the operator's
    ("GET", "/v2/nodes/{node_id}"): 403,
    ("POST", "/v2/nodes/{node_id}/drain"): 403,
    ("GET", "/v2/signing_keys"): 200,  # public keys: a tenant checks its recordings with them
    ("GET", "/v2/token_auth"): 200,
    ("DELETE", "/v2/token_auth"): None,  # revokes the token: tried last, on its own
    ("PUT", "/v2/api_auth"): None,  # needs no token
    ("PUT", "/v2/user_auth"): None,  # likewise
}


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as client:
        yield client


def _account(api: httpx.Client, name: str, parent: str | None = None) -> str:
    path = f"/v2/accounts/{parent}" if parent else "/v2/accounts"
    r = api.put(path, json={"data": {"name": name, "realm": f"{name}-{uuid.uuid4().hex[:8]}.example.com"}})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def _token(server: ServerProcess, api: httpx.Client, account_id: str) -> httpx.Client:
    key = api.get(f"/v2/accounts/{account_id}/api_key").json()["data"]["api_key"]
    r = httpx.put(f"{server.api_url}/v2/api_auth", json={"data": {"api_key": key}})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["account_id"] == account_id
    return httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": r.json()["auth_token"]}, timeout=10)


def test_accounts_form_a_tree_and_one_with_children_is_not_deleted(api: httpx.Client) -> None:
    reseller = _account(api, "reseller")
    first, second = _account(api, "first", reseller), _account(api, "second", reseller)
    grandchild = _account(api, "grandchild", first)
    children = {a["id"] for a in api.get(f"/v2/accounts/{reseller}/children").json()["data"]}
    below = {a["id"] for a in api.get(f"/v2/accounts/{reseller}/descendants").json()["data"]}
    assert children == {first, second} and below == {first, second, grandchild}
    assert api.get(f"/v2/accounts/{grandchild}").json()["data"]["tree"] == [reseller, first]
    refused = api.delete(f"/v2/accounts/{first}")
    assert refused.status_code == 409 and "children" in refused.text
    assert api.delete(f"/v2/accounts/{grandchild}").status_code == 200
    assert api.delete(f"/v2/accounts/{first}").status_code == 200
    shown = api.get(f"/v2/accounts/{second}").json()["data"]
    assert not [k for k in shown if k.startswith("pvt_")]  # the key and the tree's private form stay inside


def test_a_token_reaches_its_account_and_below_and_is_refused_everywhere_else(
    server: ServerProcess, api: httpx.Client
) -> None:
    parent = _account(api, "parent")
    mine, theirs = _account(api, "mine", parent), _account(api, "theirs", parent)
    below = _account(api, "below", mine)
    device = {"name": "d", "sip": {"username": "d1", "password": "secret-pw"}}
    assert api.put(f"/v2/accounts/{theirs}/devices", json={"data": device}).status_code == 201
    before = api.get(f"/v2/accounts/{theirs}/devices").json()["data"]
    for wrong in ("0" * 64, "clé-ünïcode"):
        bad = httpx.put(f"{server.api_url}/v2/api_auth", json={"data": {"api_key": wrong}})
        assert bad.status_code == 401

    with _token(server, api, mine) as tenant:
        assert tenant.get("/v2/token_auth").json()["data"]["account_id"] == mine
        assert tenant.get(f"/v2/accounts/{mine}").status_code == 200
        assert tenant.get(f"/v2/accounts/{below}/devices").status_code == 200  # a descendant
        for other in (theirs, parent):
            assert tenant.get(f"/v2/accounts/{other}").status_code == 403
        assert {a["id"] for a in tenant.get("/v2/accounts").json()["data"]} == {mine, below}

        spec = httpx.get(f"{server.api_url}/openapi.json").json()
        tried = 0
        for path, operations in spec["paths"].items():
            for method in operations:
                key = (method.upper(), path)
                if "{account_id}" not in path and not path.startswith("/v2/accounts/{doc_id}"):
                    assert key in OUTSIDE_AN_ACCOUNT, f"{key}: a route outside an account nobody decided about"
                    expected = OUTSIDE_AN_ACCOUNT[key]
                    if expected is not None:
                        url = path.replace("{config_id}", "media")
                        assert tenant.request(method, url, json={"data": {}}).status_code == expected, key
                    continue
                url = re.sub(r"\{account_id\}|\{doc_id\}", theirs, path, count=1)
                url = re.sub(r"\{[a-z_]+\}", uuid.uuid4().hex, url)
                r = tenant.request(method, url, json={"data": {"name": "x", "realm": "x.example.com"}})
                assert r.status_code == 403, (key, r.status_code, r.text[:200])
                tried += 1
        assert tried > 40
        assert api.get(f"/v2/accounts/{theirs}/devices").json()["data"] == before  # nothing was written

        assert tenant.delete("/v2/token_auth").status_code == 200
        assert tenant.get("/v2/token_auth").status_code == 401  # revoked
        assert tenant.get(f"/v2/accounts/{mine}").status_code == 401


def _sign_in(server: ServerProcess, credentials: str, **account: str) -> httpx.Response:
    return httpx.put(f"{server.api_url}/v2/user_auth", json={"data": {"credentials": credentials, **account}})


def test_a_user_signs_in_as_kazoo_clients_do_and_a_user_level_token_sees_only_its_own(
    server: ServerProcess, api: httpx.Client
) -> None:
    name = f"office-{uuid.uuid4().hex[:6]}"
    account = api.put("/v2/accounts", json={"data": {"name": name, "realm": f"{name}.example.com"}}).json()["data"]
    base = f"/v2/accounts/{account['id']}"
    ursula = api.put(
        f"{base}/users",
        json={"data": {"first_name": "Ursula", "last_name": "U", "username": "Ursula", "password": "pw-ursula-1"}},
    ).json()["data"]
    adam = api.put(
        f"{base}/users",
        json={
            "data": {
                "first_name": "Adam",
                "last_name": "A",
                "username": "adam",
                "password": "pw-adam-1",
                "priv_level": "admin",
            }
        },
    ).json()["data"]
    assert "password" not in ursula and not [
        k for k in api.get(f"{base}/users/{ursula['id']}").json()["data"] if k.startswith("pvt_")
    ]
    devices = {}
    for owner, username in ((ursula["id"], "u-desk"), (adam["id"], "a-desk")):
        doc = {"name": username, "owner_id": owner, "sip": {"username": username, "password": "secret-pw"}}
        devices[username] = api.put(f"{base}/devices", json={"data": doc}).json()["data"]["id"]

    md5 = hashlib.md5(b"ursula:pw-ursula-1").hexdigest()  # the username lower-cased, as Kazoo's clients send it
    signed = _sign_in(server, md5, account_name=name.upper())
    assert signed.status_code == 201, signed.text
    assert signed.json()["data"] == {**signed.json()["data"], "owner_id": ursula["id"], "priv_level": "user"}
    sha = hashlib.sha1(b"ursula:pw-ursula-1").hexdigest()
    by_realm = httpx.put(
        f"{server.api_url}/v2/user_auth",
        json={"data": {"credentials": sha, "method": "sha", "account_realm": f"{name}.example.com"}},
    )
    assert by_realm.status_code == 201
    assert _sign_in(server, hashlib.md5(b"ursula:wrong").hexdigest(), account_name=name).status_code == 401

    token = {"X-Auth-Token": signed.json()["auth_token"]}
    with httpx.Client(base_url=server.api_url, headers=token, timeout=10) as user:
        assert user.get(f"{base}/users/{ursula['id']}").status_code == 200
        assert user.get(f"{base}/users/{adam['id']}").status_code == 403
        assert [d["id"] for d in user.get(f"{base}/devices").json()["data"]] == [devices["u-desk"]]
        assert user.get(f"{base}/devices/{devices['a-desk']}").status_code == 403
        assert user.get(f"{base}/callflows").status_code == 403
        assert user.put(f"{base}/devices", json={"data": {"name": "x"}}).status_code == 403
        assert user.get(f"{base}/recordings").json()["data"] == []
        assert user.get(f"/v2/accounts/{account['id']}").status_code == 200
        for method, path in (  # the account itself is the admins': a user can neither take its key nor change it
            ("GET", f"{base}/api_key"),
            ("PATCH", base),
            ("POST", base),
            ("PUT", base),
            ("DELETE", base),
            ("GET", f"{base}/children"),
            ("GET", f"{base}/descendants"),
        ):
            r = user.request(method, path, json={"data": {"name": "x", "realm": "y.example.com"}})
            assert r.status_code == 403, (method, path, r.status_code)
    admin = _sign_in(server, hashlib.md5(b"adam:pw-adam-1").hexdigest(), account_name=name).json()["auth_token"]
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": admin}, timeout=10) as boss:
        assert len(boss.get(f"{base}/devices").json()["data"]) == 2  # an admin sees the whole account


def test_failed_sign_ins_are_throttled(server: ServerProcess, api: httpx.Client) -> None:
    """Last in this module: the source address stays throttled for a minute."""
    name = f"throttle-{uuid.uuid4().hex[:6]}"
    api.put("/v2/accounts", json={"data": {"name": name, "realm": f"{name}.example.com"}})
    wrong = hashlib.md5(b"nobody:nothing").hexdigest()
    answers = [_sign_in(server, wrong, account_name=name) for _ in range(12)]
    statuses = [answer.status_code for answer in answers]
    first = statuses.index(429)  # ten failures a minute per source (an earlier test failed one too)
    assert 9 <= first <= 10 and set(statuses[:first]) == {401} and set(statuses[first:]) == {429}
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60  # when to try again


def test_wrong_tokens_are_throttled_per_source(server: ServerProcess, api: httpx.Client) -> None:
    """Last in this module too: twenty wrong tokens within a minute from one address, and that address is told 429
    with Retry-After for the rest of the minute — even with the right token (guessing stops)."""
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": "not-the-token-" + "x" * 20}) as guesser:
        statuses = [guesser.get("/v2/accounts").status_code for _ in range(24)]
    first = statuses.index(429)  # earlier tests of this module gave a few wrong tokens too
    assert 14 <= first <= 20 and set(statuses[:first]) == {401} and set(statuses[first:]) == {429}, statuses
    locked = api.get("/v2/accounts")
    assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 60
    assert "X-Auth-Token" in locked.json()["data"]
