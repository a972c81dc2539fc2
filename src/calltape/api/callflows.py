"""``/v2/accounts/{A}/callflows``: validated on save, numbers unique across all accounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import merge_patch, read_data, success
from calltape.api.errors import ApiError
from calltape.callflow.validation import CallflowInvalidError, validate_callflow
from calltape.store.callflows import Callflows


def _checked(doc: dict[str, Any]) -> list[str]:
    try:
        return validate_callflow(doc)
    except CallflowInvalidError as exc:
        raise ApiError(400, "invalid data", exc.errors) from None


def add_callflow_routes(router: APIRouter, store: Callflows, account_of: Callable[[Request], Awaitable[str]]) -> None:
    """The callflow collection's routes."""
    base = "/accounts/{account_id}/callflows"

    async def list_callflows(request: Request) -> JSONResponse:
        return success(await store.list(await account_of(request)))

    async def create(request: Request) -> JSONResponse:
        account = await account_of(request)
        doc = await read_data(request)
        warnings = _checked(doc)
        return success(await store.create(doc, account), 201, warnings)

    async def get(request: Request, doc_id: str) -> JSONResponse:
        return success(await store.get(doc_id, await account_of(request)))

    async def replace(request: Request, doc_id: str) -> JSONResponse:
        account = await account_of(request)
        doc = await read_data(request)
        warnings = _checked(doc)
        return success(await store.replace(doc_id, doc, account), 200, warnings)

    async def patch(request: Request, doc_id: str) -> JSONResponse:
        account = await account_of(request)
        current = await store.get(doc_id, account)
        current.pop("id", None)
        doc = merge_patch(current, await read_data(request))
        warnings = _checked(doc)
        return success(await store.replace(doc_id, doc, account), 200, warnings)

    async def delete(request: Request, doc_id: str) -> JSONResponse:
        await store.delete(doc_id, await account_of(request))
        return success({"id": doc_id})

    router.add_api_route(base, list_callflows, methods=["GET"])
    router.add_api_route(base, create, methods=["PUT", "POST"], status_code=201)
    router.add_api_route(base + "/{doc_id}", get, methods=["GET"])
    router.add_api_route(base + "/{doc_id}", replace, methods=["POST", "PUT"])
    router.add_api_route(base + "/{doc_id}", patch, methods=["PATCH"])
    router.add_api_route(base + "/{doc_id}", delete, methods=["DELETE"])
