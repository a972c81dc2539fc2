"""``/v2/accounts/{A}/phone_numbers``: the account's DIDs (Kazoo's phone_numbers API, the calls its scripts make).

``PUT …/{NUMBER}`` assigns a number (409 naming the holder when another account has it), ``PUT …/{NUMBER}/activate``
is accepted as Kazoo's scripts send it, ``POST`` updates, ``DELETE`` releases, ``GET`` reads one or lists them
(``data.numbers`` keyed by number, as Kazoo answers, paged with ``page_size`` and ``start_key``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import MAX_JSON_BODY, MAX_PAGE, page_size_of, read_body, read_data, success
from calltape.api.errors import ApiError
from calltape.store.phone_numbers import PhoneNumbers

_NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
IN_SERVICE = "in_service"


def add_phone_number_routes(
    router: APIRouter,
    numbers: PhoneNumbers,
    account_of: Callable[[Request], Awaitable[str]],
    on_change: Callable[[], None],
) -> None:
    """The account's DIDs; *on_change* after each assignment or release (routing reads them)."""
    base = "/accounts/{account_id}/phone_numbers"

    async def list_numbers(request: Request) -> JSONResponse:
        account = await account_of(request)
        query = request.query_params
        start_key = query.get("start_key", "")
        docs, next_key = await numbers.page(account, start_key, page_size_of(query.get("page_size"), MAX_PAGE))
        body = {"data": {"numbers": {doc["number"]: doc for doc in docs}}, "status": "success", "page_size": len(docs)}
        if next_key is not None:
            body["next_start_key"] = next_key
        if start_key:
            body["start_key"] = start_key
        return JSONResponse(body)

    async def get_number(request: Request) -> JSONResponse:
        return success(await numbers.get(await account_of(request), _number(request)))

    async def assign(request: Request) -> JSONResponse:
        account, number = await account_of(request), _number(request)
        data = await read_data(request) if await read_body(request, MAX_JSON_BODY) else {}
        doc, created = await numbers.assign(account, number, {"state": IN_SERVICE, **data})
        on_change()
        return success(doc, status=201 if created else 200)

    async def update(request: Request) -> JSONResponse:
        account, number = await account_of(request), _number(request)
        await numbers.get(account, number)  # 404 unless the account holds it
        doc, _ = await numbers.assign(account, number, await read_data(request))
        return success(doc)

    async def activate(request: Request) -> JSONResponse:
        account, number = await account_of(request), _number(request)
        doc, created = await numbers.assign(account, number, {"state": IN_SERVICE})
        on_change()
        return success(doc, status=201 if created else 200)

    async def release(request: Request) -> JSONResponse:
        account, number = await account_of(request), _number(request)
        doc = await numbers.get(account, number)
        await numbers.release(account, number)
        on_change()
        return success(doc)

    router.add_api_route(base, list_numbers, methods=["GET"])
    router.add_api_route(f"{base}/{{number}}", get_number, methods=["GET"])
    router.add_api_route(f"{base}/{{number}}", assign, methods=["PUT"])
    router.add_api_route(f"{base}/{{number}}", update, methods=["POST", "PATCH"])
    router.add_api_route(f"{base}/{{number}}", release, methods=["DELETE"])
    router.add_api_route(f"{base}/{{number}}/activate", activate, methods=["PUT"])


def _number(request: Request) -> str:
    number = str(request.path_params["number"]).strip()
    if not _NUMBER.match(number):
        raise ApiError(400, "invalid data", {"number": "must be digits, E.164 with a leading + or not (2-20 digits)"})
    return number
