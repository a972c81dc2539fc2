"""``/v2/accounts/{A}/webhook_events``: the account's recording webhook events, which are also their outbox —
each with its ``state`` (pending, sent, failed), ``attempts``, ``error``, ``next_attempt_at`` while pending and the
body it carries. Newest first, paginated with ``page_size``/``start_key``; ``?state=`` and ``?recording_id=``
filter. ``POST …/webhook_events/{id}/retry`` sends a failed one again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import page_size_of, success
from calltape.api.errors import ApiError
from calltape.store.notifications import NotificationState
from calltape.store.webhook_events import WebhookEvents, as_log_entry

MAX_PAGE = 500
STATES = tuple(NotificationState)


def add_webhook_event_routes(
    router: APIRouter,
    events: WebhookEvents,
    account_of: Callable[[Request], Awaitable[str]],
    on_retry: Callable[[], None],
) -> None:
    """The routes of an account's webhook events."""
    path = "/accounts/{account_id}/webhook_events"

    async def list_events(request: Request) -> JSONResponse:
        account = await account_of(request)
        query = request.query_params
        state = query.get("state")
        if state is not None and state not in STATES:
            raise ApiError(400, "invalid data", {"state": f"must be one of {', '.join(STATES)}"})
        rows, next_key = await events.list(
            account,
            state=state,
            recording_id=query.get("recording_id"),
            start_key=query.get("start_key"),
            page_size=page_size_of(query.get("page_size"), MAX_PAGE),
        )
        body: dict[str, Any] = {"data": [as_log_entry(r) for r in rows], "status": "success", "page_size": len(rows)}
        if next_key is not None:
            body["next_start_key"] = next_key
        return JSONResponse(body)

    async def get_event(request: Request, event_id: str) -> JSONResponse:
        return success(as_log_entry(await events.get(await account_of(request), event_id)))

    async def retry_event(request: Request, event_id: str) -> JSONResponse:
        account = await account_of(request)
        try:
            row = await events.retry(account, event_id)
        except ValueError as exc:
            raise ApiError(409, "conflict", {"state": str(exc)}) from None
        on_retry()
        return success(as_log_entry(row), status=202)

    router.add_api_route(path, list_events, methods=["GET"])
    router.add_api_route(path + "/{event_id}", get_event, methods=["GET"])
    router.add_api_route(path + "/{event_id}/retry", retry_event, methods=["POST", "PUT"])
