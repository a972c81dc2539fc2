"""``/v2/accounts/{A}/recordings`` (and ``/users/{U}/recordings``): list, read (JSON or the audio), delete, retry,
legal hold (``PATCH {"legal_hold": true}``), and the audit trail (``…/recordings/audit``).

As Kazoo's crossbar: the audio comes with ``Accept: audio/mpeg`` (or ``?accept=audio/mpeg``; any
``audio/*`` or ``application/octet-stream``), as an attachment unless ``?inline=true``, with Range
support. Lists are newest first and paginated with ``page_size`` and ``start_key`` (the response's
``next_start_key``). Filters: ``call_id``, ``owner_id``, ``state``, ``created_from``/``created_to``
(Unix or Gregorian seconds, as Kazoo's are), and calltape's ``number`` (part of the caller's or callee's number).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from calltape.api.auth import actor_of
from calltape.api.envelope import page_size_of, read_data, store_page, success
from calltape.api.errors import ApiError
from calltape.at_rest.keyring import KeyUnavailableError
from calltape.at_rest.sealed import DamagedRecordError, is_sealed, open_file, unseal_bytes
from calltape.media.formats import CONTENT_TYPES
from calltape.recording.names import GREGORIAN_OFFSET
from calltape.recording.retention import held_files
from calltape.store.documents import Documents, NotFoundError
from calltape.store.recording_audit import ACTIONS, RecordingAudit
from calltape.store.recording_audit import as_entry as audit_entry
from calltape.store.recordings import MAX_PAGE, STATES, Recordings, RecordingState, as_document
from calltape.webhooks.events import StatusEvents, notice, wake_for

AUDIO_TYPES = ("audio/", "application/octet-stream")


STREAM_CHUNK = 256 * 1024  # a sealed recording is read and sent this much at a time


def add_recording_routes(
    router: APIRouter,
    recordings: Recordings,
    account_of: Callable[[Request], Awaitable[str]],
    on_retry: Callable[[], None],
    events: StatusEvents | None = None,
    audit: RecordingAudit | None = None,
    users: Documents | None = None,
) -> None:
    """The routes of an account's recordings (*events*: where a deletion is told; *audit*: where every delete,
    legal hold, retry, play and download is written; *users*: whose recordings a user's list may be asked for)."""

    async def note(request: Request, account: str, recording_id: str, action: str, **detail: Any) -> None:
        if audit is not None:
            remote = request.client.host if request.client else ""
            await audit.add(account, recording_id, action, actor_of(request), remote, **detail)

    path = "/accounts/{account_id}/recordings"

    async def list_recordings(request: Request) -> JSONResponse:
        return await _page(request, await account_of(request), None)

    async def list_user_recordings(request: Request, user_id: str) -> JSONResponse:
        account = await account_of(request)
        if users is not None:
            try:
                await users.get(user_id, account)
            except NotFoundError:
                raise ApiError(404, "bad identifier", {"user_id": "no such user in this account"}) from None
        return await _page(request, account, user_id)

    async def _page(request: Request, account: str, owner_id: str | None) -> JSONResponse:
        query = request.query_params
        state = query.get("state")
        if state is not None and state not in STATES:
            raise ApiError(400, "invalid data", {"state": f"must be one of {', '.join(STATES)}"})
        rows, next_key = await recordings.list(
            account,
            call_id=query.get("call_id"),
            owner_id=getattr(request.state, "owner_only", None) or owner_id or query.get("owner_id"),
            number=_number(query.get("number")),
            created_from=_time(query, "created_from"),
            created_to=_time(query, "created_to"),
            state=state,
            start_key=query.get("start_key"),
            page_size=page_size_of(query.get("page_size"), MAX_PAGE),
        )
        return store_page([as_document(r) for r in rows], next_key, query.get("start_key"))

    async def get_recording(request: Request, recording_id: str) -> Response:
        account = await account_of(request)
        row = await recordings.get(account, recording_id)
        wanted = request.query_params.get("accept") or request.headers.get("accept", "")
        if not wanted.startswith(AUDIO_TYPES):
            return success(as_document(row))
        inline = request.query_params.get("inline") in ("true", "1")
        response = await audio_response(request, recordings, row, inline)
        if response.status_code < 300:
            await note(request, account, recording_id, "played" if inline else "downloaded")
        return response

    async def delete_recording(request: Request, recording_id: str) -> JSONResponse:
        account = await account_of(request)
        told = await notice(events, account, recording_id, "recording.deleted")
        try:
            row = await recordings.delete(account, recording_id, after=told)
        except ValueError as exc:
            raise ApiError(409, "conflict", {"state": str(exc)}) from None
        wake_for(events, told)
        for held in held_files(row):
            held.unlink(missing_ok=True)
        await note(request, account, recording_id, "deleted", state=row.state, name=row.name)
        return success({"id": recording_id})

    async def patch_recording(request: Request, recording_id: str) -> JSONResponse:
        """Only ``legal_hold`` may change (an account's admin: a user's sign-in is refused by the scope)."""
        account = await account_of(request)
        held = (await read_data(request)).get("legal_hold")
        if not isinstance(held, bool):
            raise ApiError(400, "invalid data", {"legal_hold": "true or false (the only field that may change)"})
        try:
            row = await recordings.set_legal_hold(account, recording_id, held)
        except ValueError as exc:
            raise ApiError(409, "conflict", {"state": str(exc)}) from None
        await note(request, account, recording_id, "legal_hold_set" if held else "legal_hold_lifted")
        return success(as_document(row))

    async def audit_trail(request: Request) -> JSONResponse:
        account = await account_of(request)
        query = request.query_params
        action = query.get("action")
        if action is not None and action not in ACTIONS:
            raise ApiError(400, "invalid data", {"action": f"must be one of {', '.join(ACTIONS)}"})
        if audit is None:
            return store_page([], None)
        rows, next_key = await audit.list(
            account,
            recording_id=query.get("recording_id"),
            action=action,
            start_key=query.get("start_key"),
            page_size=page_size_of(query.get("page_size"), MAX_PAGE),
        )
        return store_page([audit_entry(r) for r in rows], next_key, query.get("start_key"))

    async def retry_recording(request: Request, recording_id: str) -> JSONResponse:
        account = await account_of(request)
        try:
            row = await recordings.retry(account, recording_id)
        except ValueError as exc:
            raise ApiError(409, "conflict", {"state": str(exc)}) from None
        await note(request, account, recording_id, "retried")
        on_retry()
        return success(as_document(row), status=202)

    item = path + "/{recording_id}"
    router.add_api_route(path, list_recordings, methods=["GET"])
    router.add_api_route(path + "/audit", audit_trail, methods=["GET"])  # before the item route that would take it
    router.add_api_route("/accounts/{account_id}/users/{user_id}/recordings", list_user_recordings, methods=["GET"])
    router.add_api_route(item, get_recording, methods=["GET"])
    router.add_api_route(item, delete_recording, methods=["DELETE"])
    router.add_api_route(item, patch_recording, methods=["PATCH"])
    router.add_api_route(item + "/retry", retry_recording, methods=["POST", "PUT"])


async def audio_response(request: Request, recordings: Recordings, row: Any, inline: bool) -> Response:
    """A recording's audio (the spool file, or the copy in the database), with Range support."""
    if row.state == RecordingState.ACTIVE:
        raise ApiError(409, "conflict", {"state": "still recording: the audio is ready when the call ends"})
    disposition = "inline" if inline else "attachment"
    media_type = CONTENT_TYPES.get(row.format, "application/octet-stream")
    spool = Path(row.spool_path)
    try:
        if spool.exists():  # not delivered yet (or failed): the spool file is the recording
            if not await asyncio.to_thread(is_sealed, spool):
                return FileResponse(
                    spool, media_type=media_type, filename=row.name, content_disposition_type=disposition
                )
            plain = await asyncio.to_thread(open_file, spool)  # decrypted as it is sent, a range at a time
            return _streamed(request, plain, media_type, f'{disposition}; filename="{row.name}"')
        else:
            blob = await recordings.blob(row.id)
            if blob is None:
                where = "delivered to its url" if row.state == "delivered" else "not kept here"
                raise ApiError(404, "bad identifier", {"audio": f"the recording's audio is {where}"})
            audio = await asyncio.to_thread(unseal_bytes, blob)
    except KeyUnavailableError as exc:  # kept as it is: a node with the key serves it
        raise ApiError(503, "the recording's key is not available", {"encryption": str(exc)}) from None
    except DamagedRecordError as exc:
        raise ApiError(500, "the recording is damaged", {"encryption": str(exc)}) from None
    return _ranged(request, audio, media_type, f'{disposition}; filename="{row.name}"')


def _number(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if len(text) > 64:
        raise ApiError(400, "invalid data", {"number": "at most 64 characters"})
    return text.strip()


def _time(query: Any, key: str) -> float | None:
    text = query.get(key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ApiError(400, "invalid data", {key: "must be seconds (Unix or Gregorian)"}) from None
    return value - GREGORIAN_OFFSET if value > GREGORIAN_OFFSET else value


def _ranged(request: Request, data: bytes, media_type: str, disposition: str) -> Response:
    """*data*, or the part of it one ``Range: bytes=…`` asks for."""
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": disposition}
    wanted = _byte_range(request, len(data))
    if wanted is None:
        return Response(data, media_type=media_type, headers=headers)
    start, end = wanted
    if start > end:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)


def _streamed(request: Request, plain: BinaryIO, media_type: str, disposition: str) -> Response:
    """An open file (sealed: read decrypted), or the part one ``Range: bytes=…`` asks for, sent as it is read."""
    size = plain.seek(0, io.SEEK_END)
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": disposition, "Content-Length": str(size)}
    wanted = _byte_range(request, size)
    start, end, status = 0, size - 1, 200
    if wanted is not None:
        start, end = wanted
        if start > end:
            plain.close()
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers.update({"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})

    def chunks() -> Iterator[bytes]:  # run in a thread by Starlette, a chunk at a time
        with plain:
            plain.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := plain.read(min(left, STREAM_CHUNK))):
                left -= len(chunk)
                yield chunk

    return StreamingResponse(chunks(), status_code=status, media_type=media_type, headers=headers)


def _byte_range(request: Request, size: int) -> tuple[int, int] | None:
    """(first, last) byte of the one ``Range: bytes=…`` asked for (first > last: it cannot be had); None: the
    whole (no Range, several, or one that does not parse)."""
    spec = request.headers.get("range", "")
    if not spec.startswith("bytes=") or "," in spec:
        return None
    first, _, last = spec[6:].partition("-")
    try:
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:
            start, end = max(0, size - int(last)), size - 1
    except ValueError:
        return None
    return (start, end) if start <= end and start < size else (1, 0)
