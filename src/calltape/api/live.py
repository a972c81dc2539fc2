"""What is happening now: ``/v2/accounts/{A}/channels`` (active calls, as Kazoo names them) and
``/v2/accounts/{A}/outbox`` (recordings waiting for delivery, soonest due first)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import success
from calltape.store.recordings import Recordings

#: An account's active calls as JSON documents (from the node's call control).
ChannelLister = Callable[[str], list[dict[str, Any]]]


def add_live_routes(
    router: APIRouter,
    recordings: Recordings,
    account_of: Callable[[Request], Awaitable[str]],
    channels: ChannelLister | None,
) -> None:
    """The channels and outbox routes (with no call control, e.g. an API-only app, there are no channels)."""

    async def list_channels(request: Request) -> JSONResponse:
        account = await account_of(request)
        return success(channels(account) if channels is not None else [])

    async def list_outbox(request: Request) -> JSONResponse:
        account = await account_of(request)
        now = time.time()
        return success([_entry(row, now) for row in await recordings.queue(account)])

    router.add_api_route("/accounts/{account_id}/channels", list_channels, methods=["GET"])
    router.add_api_route("/accounts/{account_id}/outbox", list_outbox, methods=["GET"])


def _entry(row: Any, now: float) -> dict[str, Any]:
    target = row.target or {}
    return {
        "id": row.id,
        "call_id": row.call_id,
        "name": row.name,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created": row.created,
        "due_at": row.due_at,
        "delivering": row.lease_until > now,
        "kind": target.get("kind", ""),
        "url": _without_password(str(target.get("url", ""))),
    }


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
