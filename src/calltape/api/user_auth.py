"""``PUT /v2/user_auth``: a user signs in as Kazoo's clients do, and users' passwords go in as hashes.

The body names the account (``account_name``, ``account_realm`` or ``phone_number``, one of its DIDs) and
carries ``credentials``: the MD5 hex of ``username:password`` (SHA-1 with ``"method": "sha"``). The answer is a
token for the user's account, with the user's ``priv_level`` (Kazoo's default ``user``: only what the user owns).
Failed sign-ins are throttled per source address and per account (429 with Retry-After).
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.credentials import METHODS, matches, private_fields
from calltape.api.envelope import read_data, validate
from calltape.api.errors import ApiError
from calltape.api.openapi import request_body
from calltape.api.schemas import User
from calltape.failures import SignInThrottle
from calltape.store.auth_tokens import AuthTokens
from calltape.store.documents import Documents
from calltape.store.phone_numbers import PhoneNumbers

Doc = dict[str, Any]
FAILURES_PER_SOURCE = 10  # failed sign-ins allowed from one address within FAILURE_WINDOW
FAILURES_PER_ACCOUNT = 100  # ... and for one account (higher: a stranger must not lock an account's users out)
_DIGEST = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$")


def check_user(data: Doc) -> tuple[Doc, list[str]]:
    """A user document to store: a ``password`` becomes its hashes and is not kept."""
    doc = validate(User, data)
    password = doc.pop("password", None)
    if password is not None:
        if not doc.get("username"):
            raise ApiError(400, "invalid data", {"password": "a password needs a username"})
        doc.update(private_fields(str(doc["username"]), str(password)))
    return doc, []


def add_user_auth_route(
    open_router: APIRouter, accounts: Documents, users: Documents, dids: PhoneNumbers, tokens: AuthTokens
) -> None:
    """``PUT /v2/user_auth`` on *open_router* (no token needed)."""
    throttle = SignInThrottle()

    async def account_named(data: Doc) -> Doc | None:
        if isinstance(data.get("phone_number"), str):
            held = await dids.owner_of(data["phone_number"])
            return await accounts.get(held[0]) if held is not None else None
        realm, name = data.get("account_realm"), data.get("account_name")
        for account in await accounts.list():
            if (isinstance(realm, str) and account.get("realm") == realm.lower()) or (
                isinstance(name, str) and str(account.get("name", "")).lower() == name.lower()
            ):
                return account
        return None

    async def user_auth(request: Request) -> JSONResponse:
        data = await read_data(request)
        credentials, method = data.get("credentials"), str(data.get("method", "md5")).lower()
        if not isinstance(credentials, str) or not _DIGEST.match(credentials):
            raise ApiError(400, "invalid data", {"credentials": "the MD5 or SHA-1 hex of username:password"})
        if method not in METHODS:
            raise ApiError(400, "invalid data", {"method": "md5 or sha"})
        if not any(isinstance(data.get(k), str) for k in ("account_name", "account_realm", "phone_number")):
            raise ApiError(400, "invalid data", {"account_name": "account_name, account_realm or phone_number"})
        source = f"source:{request.client.host if request.client else '?'}"
        account = await account_named(data)
        keys = {source: FAILURES_PER_SOURCE}
        if account is not None:
            keys[f"account:{account['id']}"] = FAILURES_PER_ACCOUNT
        wait = throttle.retry_after(keys)
        if wait > 0:
            raise ApiError(
                429,
                "too many failed sign-ins",
                {"credentials": f"try again in {math.ceil(wait)} s"},
                {"Retry-After": str(math.ceil(wait))},
            )
        user = None
        if account is not None:  # scrypt takes tens of ms: off the event loop, which carries the calls' audio
            candidates = await users.list(account["id"])
            user = await asyncio.to_thread(
                lambda: next((u for u in candidates if matches(u, method, credentials)), None)
            )
        if account is None or user is None:
            throttle.failed(keys)
            raise ApiError(401, "invalid credentials", {"credentials": "no such user in that account"})
        priv_level = str(user.get("priv_level") or "user")
        token, issued = await tokens.issue(account["id"], "credentials", user["id"], priv_level)
        body = {
            "auth_token": token,
            "data": {
                "account_id": account["id"],
                "owner_id": user["id"],
                "account_name": account.get("name"),
                "priv_level": priv_level,
                "expires": issued.expires,
            },
            "status": "success",
        }
        return JSONResponse(body, status_code=201)

    description = "{credentials, method?, account_name | account_realm | phone_number}"
    open_router.add_api_route(
        "/user_auth", user_auth, methods=["PUT"], status_code=201, openapi_extra=request_body(None, description)
    )
