"""``/v2/accounts/{A}/storage``: the account's storage plan (where recordings without a url go)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import merge_patch, read_data, success, validate
from calltape.api.errors import ApiError
from calltape.api.openapi import request_body
from calltape.delivery.storage_plan import StoragePlan
from calltape.store.storage_plans import StoragePlans


def add_storage_routes(
    router: APIRouter,
    plans: StoragePlans,
    account_of: Callable[[Request], Awaitable[str]],
    on_change: Callable[[], None],
) -> None:
    """GET, PUT (or POST), PATCH and DELETE of the account's storage plan."""
    path = "/accounts/{account_id}/storage"

    async def get_plan(request: Request) -> JSONResponse:
        plan = await plans.get(await account_of(request))
        if plan is None:
            raise ApiError(404, "bad identifier", {"storage": "the account has no storage plan"})
        return success(plan)

    async def put_plan(request: Request) -> JSONResponse:
        account = await account_of(request)
        doc = validate(StoragePlan, await read_data(request))
        existed = await plans.get(account) is not None
        await plans.put(account, doc)
        on_change()
        return success(doc, status=200 if existed else 201)

    async def patch_plan(request: Request) -> JSONResponse:
        account = await account_of(request)
        current = await plans.get(account)
        if current is None:
            raise ApiError(404, "bad identifier", {"storage": "the account has no storage plan"})
        doc = validate(StoragePlan, merge_patch(current, await read_data(request)))
        await plans.put(account, doc)
        on_change()
        return success(doc)

    async def delete_plan(request: Request) -> JSONResponse:
        if not await plans.delete(await account_of(request)):
            raise ApiError(404, "bad identifier", {"storage": "the account has no storage plan"})
        on_change()
        return success({})

    router.add_api_route(path, get_plan, methods=["GET"])
    router.add_api_route(path, put_plan, methods=["PUT", "POST"], openapi_extra=request_body(StoragePlan))
    router.add_api_route(path, patch_plan, methods=["PATCH"], openapi_extra=request_body(StoragePlan, "fields"))
    router.add_api_route(path, delete_plan, methods=["DELETE"])
