"""The logs that are also outboxes, as the API shows them: an account's e-mails (Kazoo's
``/notifications/smtplog``) and its recording webhook events (``/webhook_events``). Each entry has its ``state``
(pending, sent, failed), ``attempts``, ``error`` and, while pending, ``next_attempt_at``. Newest first, paginated
with ``page_size``/``start_key``; ``?state=`` (and the log's own filters) narrow it. ``POST …/{id}/retry`` sends a
failed entry again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import page_size_of, store_page, success
from calltape.api.errors import ApiError
from calltape.store.leased_outbox import OutboxState

MAX_PAGE = 500
STATES = tuple(OutboxState)


Rows = Callable[..., Awaitable[tuple[list[Any], str | None]]]  # list(account_id, *, state, start_key, page_size, …)
RowOf = Callable[[str, str], Awaitable[Any]]  # get or retry (account_id, row_id)


def add_outbox_log_routes(
    router: APIRouter,
    path: str,
    rows: tuple[Rows, RowOf, RowOf],
    entry: Callable[[Any], dict[str, Any]],
    account_of: Callable[[Request], Awaitable[str]],
    on_retry: Callable[[], None],
    filters: tuple[str, ...] = (),
) -> None:
    """GET *path*, GET *path*/{id}, POST *path*/{id}/retry: *rows* are the store's list, get and retry; *entry*
    shows a row; *filters*: query keys passed on to list."""
    list_rows, get_row, retry_row = rows

    async def list_log(request: Request) -> JSONResponse:
        account = await account_of(request)
        query = request.query_params
        state = query.get("state")
        if state is not None and state not in STATES:
            raise ApiError(400, "invalid data", {"state": f"must be one of {', '.join(STATES)}"})
        found, next_key = await list_rows(
            account,
            state=state,
            start_key=query.get("start_key"),
            page_size=page_size_of(query.get("page_size"), MAX_PAGE),
            **{key: query.get(key) for key in filters},
        )
        return store_page([entry(r) for r in found], next_key, query.get("start_key"))

    async def get_entry(request: Request, row_id: str) -> JSONResponse:
        return success(entry(await get_row(await account_of(request), row_id)))

    async def retry_entry(request: Request, row_id: str) -> JSONResponse:
        account = await account_of(request)
        try:
            row = await retry_row(account, row_id)
        except ValueError as exc:
            raise ApiError(409, "conflict", {"state": str(exc)}) from None
        on_retry()
        return success(entry(row), status=202)

    router.add_api_route(path, list_log, methods=["GET"])
    router.add_api_route(path + "/{row_id}", get_entry, methods=["GET"])
    router.add_api_route(path + "/{row_id}/retry", retry_entry, methods=["POST", "PUT"])
