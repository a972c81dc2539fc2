"""What is happening now: ``/v2/accounts/{A}/channels`` (active calls, as Kazoo names them; one call with its
running recordings, which ``POST …/channels/{CALL_ID}/recordings`` starts, stops, masks or unmasks) and
``/v2/accounts/{A}/outbox`` (recordings waiting for delivery, soonest due first).

A call is controlled where it runs: with ``serve --workers N`` the API (worker 0) sees worker 0's calls only."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.envelope import read_data, success, validate_model
from calltape.api.errors import ApiError
from calltape.api.openapi import request_body
from calltape.callflow.modules.record_call import RecordCallData
from calltape.recording.request import RecordingRequest
from calltape.store.recordings import Recordings


class ChannelLister(Protocol):
    """The running calls (``frontdoor/channels.py`` ``LiveCalls``)."""

    async def list(self, account_id: str) -> list[dict[str, Any]]: ...
    async def one(self, account_id: str, call_id: str) -> dict[str, Any] | None: ...
    async def control(
        self, account_id: str, call_id: str, action: str, request: RecordingRequest
    ) -> dict[str, Any] | None: ...


class RecordingControl(RecordCallData):
    """``POST …/channels/{CALL_ID}/recordings``: what to do, and (to start) ``record_call``'s fields."""

    action: Literal["start", "stop", "pause", "resume", "mask", "unmask"]


def add_live_routes(
    router: APIRouter,
    recordings: Recordings,
    account_of: Callable[[Request], Awaitable[str]],
    channels: ChannelLister | None,
) -> None:
    """The channels and outbox routes (with no call control, e.g. an API-only app, there are no channels)."""

    async def list_channels(request: Request) -> JSONResponse:
        account = await account_of(request)
        return success(await channels.list(account) if channels is not None else [])

    async def get_channel(request: Request, call_id: str) -> JSONResponse:
        account = await account_of(request)
        found = await channels.one(account, call_id) if channels is not None else None
        if found is None:
            raise ApiError(404, "bad identifier", {"call_id": f"no active call {call_id!r} in this account"})
        return success(found)

    async def control_recordings(request: Request, call_id: str) -> JSONResponse:
        account = await account_of(request)
        control = validate_model(RecordingControl, await read_data(request))
        data = control.request(label=control.label, stereo=control.channels == "stereo", media_name=control.media_name)
        done = await channels.control(account, call_id, control.action, data) if channels is not None else None
        if done is None:
            raise ApiError(404, "bad identifier", {"call_id": f"no active call {call_id!r} in this account"})
        return success(done)

    async def list_outbox(request: Request) -> JSONResponse:
        account = await account_of(request)
        now = time.time()
        return success([_entry(row, now) for row in await recordings.queue(account)])

    router.add_api_route("/accounts/{account_id}/channels", list_channels, methods=["GET"])
    router.add_api_route("/accounts/{account_id}/channels/{call_id}", get_channel, methods=["GET"])
    router.add_api_route(
        "/accounts/{account_id}/channels/{call_id}/recordings",
        control_recordings,
        methods=["POST", "PUT"],
        openapi_extra=request_body(
            RecordingControl, "start | stop | pause | resume | mask | unmask, and record_call's fields"
        ),
    )
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
