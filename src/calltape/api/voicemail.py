"""``/v2/accounts/{A}/vmboxes/{V}/messages``: list, read (JSON or the audio), move between folders, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from calltape.api.envelope import paged, read_data, success
from calltape.api.errors import ApiError
from calltape.media.formats import CONTENT_TYPES, format_of
from calltape.store.documents import Documents
from calltape.store.voicemail import FOLDERS, VoicemailMessages


def add_message_routes(
    router: APIRouter,
    boxes: Documents,
    messages: VoicemailMessages,
    account_of: Callable[[Request], Awaitable[str]],
) -> None:
    """The routes of a box's messages (the boxes themselves use the generic document routes)."""
    path = "/accounts/{account_id}/vmboxes/{box_id}/messages"

    async def box_of(request: Request, box_id: str) -> str:
        account = await account_of(request)
        await boxes.get(box_id, account)  # 404 for an unknown box
        return account

    async def list_messages(request: Request, box_id: str) -> JSONResponse:
        account = await box_of(request, box_id)
        return paged(request, await messages.list(account, box_id, FOLDERS), key="id")

    async def get_message(request: Request, box_id: str, message_id: str) -> Response:
        account = await box_of(request, box_id)
        message = await messages.get(account, box_id, message_id)
        wanted = request.query_params.get("accept") or request.headers.get("accept", "")
        if wanted.startswith("audio/"):
            audio = await messages.local_audio(account, box_id, message_id)
            if audio is None:
                raise ApiError(404, "bad identifier", {"audio": "the message's audio is gone"})
            kind = format_of(audio)
            return FileResponse(audio, media_type=CONTENT_TYPES[kind], filename=f"{message_id}.{kind}")
        return success(message)

    async def change_message(request: Request, box_id: str, message_id: str) -> JSONResponse:
        account = await box_of(request, box_id)
        folder = (await read_data(request)).get("folder")
        if folder not in FOLDERS:
            raise ApiError(400, "invalid data", {"folder": f"must be one of {', '.join(FOLDERS)}"})
        return success(await messages.set_folder(account, box_id, message_id, folder))

    async def delete_message(request: Request, box_id: str, message_id: str) -> JSONResponse:
        account = await box_of(request, box_id)
        await messages.delete(account, box_id, message_id)
        return success({"id": message_id})

    item = path + "/{message_id}"
    router.add_api_route(path, list_messages, methods=["GET"])
    router.add_api_route(item, get_message, methods=["GET"])
    router.add_api_route(item, change_message, methods=["POST", "PATCH", "PUT"])
    router.add_api_route(item, delete_message, methods=["DELETE"])
