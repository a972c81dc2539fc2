"""``/v2/accounts``: accounts in a tree (Kazoo's), their API keys, and the tokens those keys buy.

``PUT /v2/accounts/{PARENT}`` creates a child of PARENT (as crossbar does); ``GET …/children`` and
``…/descendants`` list what lies below; ``DELETE`` refuses an account that has children. Each account has an
``api_key`` (``GET …/api_key``); ``PUT /v2/api_auth`` with it returns a token for that account and its
descendants, ``GET /v2/token_auth`` says what a token is good for, ``DELETE /v2/token_auth`` revokes it.
Keys starting with ``pvt_`` are the server's: never taken from a request, never shown.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.auth import principal_of, require_master
from calltape.api.documents import private, shown
from calltape.api.envelope import merge_patch, paged, read_data, success, validate
from calltape.api.errors import ApiError
from calltape.api.openapi import LIST_PARAMETERS, request_body
from calltape.api.schemas import Account
from calltape.store.auth_tokens import AuthTokens
from calltape.store.documents import Documents
from calltape.store.migrations import kazoo_recording_shape

Doc = dict[str, Any]


SECRET_SHOWN = "********"  # a webhook's secret as the API shows it; sent back, it keeps the stored one


def public(account: Doc) -> Doc:
    """An account as the API shows it: without the server's keys or its webhooks' secrets, with its place in the
    tree."""
    doc = {**shown(account), "tree": list(account.get("pvt_tree", []))}
    if isinstance(doc.get("recording_webhooks"), list):
        doc["recording_webhooks"] = [
            {**hook, "secret": SECRET_SHOWN} if isinstance(hook, dict) and hook.get("secret") else hook
            for hook in doc["recording_webhooks"]
        ]
    return doc


def _kept_secrets(data: Doc, stored: Doc) -> Doc:
    """*data* with each webhook secret sent back as shown replaced by the stored one of the same URL."""
    hooks = data.get("recording_webhooks")
    if not isinstance(hooks, list):
        return data
    known = {h.get("url"): h.get("secret") for h in stored.get("recording_webhooks") or [] if isinstance(h, dict)}
    kept = [
        {**hook, "secret": known.get(hook.get("url"), hook["secret"])}
        if isinstance(hook, dict) and hook.get("secret") == SECRET_SHOWN
        else hook
        for hook in hooks
    ]
    return {**data, "recording_webhooks": kept}


def _is_child(account: Doc, parent_id: str) -> bool:
    return bool(account.get("pvt_tree", [])[-1:] == [parent_id])


def _checked(data: Doc) -> Doc:
    doc = validate(Account, {k: v for k, v in shown(data).items() if k not in ("id", "tree")})
    if "call_recording" in doc:  # calltape's earlier shape is saved as Kazoo's
        doc["call_recording"] = kazoo_recording_shape(doc["call_recording"])
    return doc


def add_account_routes(
    router: APIRouter,
    open_router: APIRouter,
    accounts: Documents,
    tokens: AuthTokens,
    on_change: Callable[[], None],
) -> None:
    """The account routes on *router* (token required) and ``api_auth`` on *open_router* (no token)."""

    async def reachable(request: Request, account_id: str, *, reading: bool = False) -> Doc:
        """The account, if the token may touch it: a user's sign-in (priv_level user) may only read its own."""
        account = await accounts.get(account_id)  # 404 for an unknown account
        principal = principal_of(request)
        if not principal.reaches(account):
            raise ApiError(403, "forbidden", {"account_id": "not this token's account or one below it"})
        if principal.own_only is not None and not reading:
            raise ApiError(403, "forbidden", {"priv_level": "a user's sign-in reaches only what the user owns"})
        return account

    async def create(data: Doc, parent: Doc | None) -> JSONResponse:
        tree = [*parent.get("pvt_tree", []), parent["id"]] if parent is not None else []
        doc = {**_checked(data), "pvt_tree": tree, "pvt_api_key": secrets.token_hex(32)}
        created = await accounts.create(doc)
        on_change()
        return success(public(created), 201)

    async def list_accounts(request: Request) -> JSONResponse:
        principal = principal_of(request)
        return paged(request, [public(a) for a in await accounts.list() if principal.reaches(a)])

    async def create_top(request: Request) -> JSONResponse:
        require_master(request)
        return await create(await read_data(request), None)

    async def get_account(request: Request, account_id: str) -> JSONResponse:
        return success(public(await reachable(request, account_id, reading=True)))

    async def create_child(request: Request, account_id: str) -> JSONResponse:
        return await create(await read_data(request), await reachable(request, account_id))

    async def replace(request: Request, account_id: str) -> JSONResponse:
        stored = await reachable(request, account_id)
        doc = {**_checked(_kept_secrets(await read_data(request), stored)), **private(stored)}
        replaced = await accounts.replace(account_id, doc)
        on_change()
        return success(public(replaced))

    async def patch(request: Request, account_id: str) -> JSONResponse:
        stored = await reachable(request, account_id)
        current = {k: v for k, v in shown(stored).items() if k != "id"}
        doc = {**_checked(_kept_secrets(merge_patch(current, await read_data(request)), stored)), **private(stored)}
        patched = await accounts.replace(account_id, doc)
        on_change()
        return success(public(patched))

    async def delete(request: Request, account_id: str) -> JSONResponse:
        await reachable(request, account_id)
        if principal_of(request).account_id == account_id:
            raise ApiError(403, "forbidden", {"account_id": "a token cannot delete its own account"})
        if any(_is_child(a, account_id) for a in await accounts.list()):
            raise ApiError(409, "conflict", {"account_id": "the account has children: delete them first"})
        await accounts.delete(account_id)
        on_change()
        return success({"id": account_id})

    async def children(request: Request, account_id: str) -> JSONResponse:
        await reachable(request, account_id)
        return paged(request, [public(a) for a in await accounts.list() if _is_child(a, account_id)])

    async def descendants(request: Request, account_id: str) -> JSONResponse:
        await reachable(request, account_id)
        return paged(request, [public(a) for a in await accounts.list() if account_id in a.get("pvt_tree", [])])

    async def api_key(request: Request, account_id: str) -> JSONResponse:
        account = await reachable(request, account_id)
        key = account.get("pvt_api_key")
        if not key:  # an account made before keys existed gets one when it is first asked for
            key = secrets.token_hex(32)
            await accounts.replace(account_id, {**{k: v for k, v in account.items() if k != "id"}, "pvt_api_key": key})
        return success({"api_key": key})

    async def api_auth(request: Request) -> JSONResponse:
        data = await read_data(request)
        key = data.get("api_key")
        if not isinstance(key, str) or not key:
            raise ApiError(400, "invalid data", {"api_key": "required"})
        given = key.encode()
        found = next(
            (a for a in await accounts.list() if secrets.compare_digest(str(a.get("pvt_api_key", "")).encode(), given)),
            None,
        )
        if found is None:
            raise ApiError(401, "invalid credentials", {"api_key": "no account has this key"})
        token, issued = await tokens.issue(found["id"], "api_key")
        body = {
            "auth_token": token,
            "data": {"account_id": found["id"], "account_name": found.get("name"), "expires": issued.expires},
            "status": "success",
        }
        return JSONResponse(body, status_code=201)

    async def token_info(request: Request) -> JSONResponse:
        principal = principal_of(request)
        return success({"account_id": principal.account_id, "method": principal.method, "master": principal.master})

    async def revoke(request: Request) -> JSONResponse:
        if principal_of(request).master:
            raise ApiError(400, "invalid data", {"X-Auth-Token": "the operator's token is set at start, not revoked"})
        await tokens.revoke(request.headers.get("x-auth-token", ""))
        return success({})

    item = "/accounts/{account_id}"
    body = request_body(Account)
    router.add_api_route("/accounts", list_accounts, methods=["GET"], openapi_extra=LIST_PARAMETERS)
    router.add_api_route("/accounts", create_top, methods=["PUT", "POST"], status_code=201, openapi_extra=body)
    router.add_api_route(item, get_account, methods=["GET"])
    router.add_api_route(item, create_child, methods=["PUT"], status_code=201, openapi_extra=body)
    router.add_api_route(item, replace, methods=["POST"], openapi_extra=body)
    router.add_api_route(item, patch, methods=["PATCH"], openapi_extra=request_body(Account, "fields to change"))
    router.add_api_route(item, delete, methods=["DELETE"])
    router.add_api_route(f"{item}/children", children, methods=["GET"], openapi_extra=LIST_PARAMETERS)
    router.add_api_route(f"{item}/descendants", descendants, methods=["GET"], openapi_extra=LIST_PARAMETERS)
    router.add_api_route(f"{item}/api_key", api_key, methods=["GET"])
    router.add_api_route("/token_auth", token_info, methods=["GET"])
    router.add_api_route("/token_auth", revoke, methods=["DELETE"])
    open_router.add_api_route(
        "/api_auth", api_auth, methods=["PUT"], status_code=201, openapi_extra=request_body(None, "{api_key}")
    )
