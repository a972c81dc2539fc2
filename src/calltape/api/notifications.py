"""``/v2/accounts/{A}/notifications/smtplog``: Kazoo's log of the e-mails sent for an account, which in calltape
is also its outbox — each entry's ``state`` (pending, sent, failed), ``attempts``, ``error`` and, while pending,
``next_attempt_at``. Newest first, paginated with ``page_size``/``start_key``; ``?state=`` filters.
``POST …/smtplog/{id}/retry`` sends a failed one again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import page_size_of, success
from calltape.api.errors import ApiError
from calltape.store.notifications import Notifications, NotificationState, as_smtp_log

MAX_PAGE = 500
STATES = tuple(NotificationState)


def add_notification_routes(
    router: APIRouter,
    notifications: Notifications,
    account_of: Callable[[Request], Awaitable[str]],
    on_retry: Callable[[], None],
) -> None:
    """The routes of an account's SMTP log."""
    path = "/accounts/{account_id}/notifications/smtplog"

    async def list_log(request: Request) -> JSONResponse:
        account = await account_of(request)
        query = request.query_params
        state = query.get("state")
        if state is not None and state not in STATES:
            raise ApiError(400, "invalid data", {"state": f"must be one of {', '.join(STATES)}"})
        rows, next_key = await notifications.list(
            account,
            state=state,
            start_key=query.get("start_key"),
            page_size=page_size_of(query.get("page_size"), MAX_PAGE),
        )
        body: dict[str, Any] = {"data": [as_smtp_log(r) for r in rows], "status": "success", "page_size": len(rows)}
        if next_key is not None:
            body["next_start_key"] = next_key
        return JSONResponse(body)

    async def get_entry(request: Request, log_id: str) -> JSONResponse:
        return success(as_smtp_log(await notifications.get(await account_of(request), log_id)))

    async def retry_entry(request: Request, log_id: str) -> JSONResponse:
        account = await account_of(request)
        try:
            row = await notifications.retry(account, log_id)
        except ValueError as exc:
            raise ApiError(409, "conflict", {"state": str(exc)}) from None
        on_retry()
        return success(as_smtp_log(row), status=202)

    router.add_api_route(path, list_log, methods=["GET"])
    router.add_api_route(path + "/{log_id}", get_entry, methods=["GET"])
    router.add_api_route(path + "/{log_id}/retry", retry_entry, methods=["POST", "PUT"])
