"""``/v2/accounts/{A}/media``: media documents and their audio (``PUT …/media/{M}/raw``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from calltape.api.envelope import read_body, success
from calltape.api.errors import ApiError
from calltape.media.library import MediaLibrary
from calltape.media.sources import MediaError
from calltape.store.documents import Documents

UPLOAD_TYPES = {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/mpeg", "audio/mp3"}
MAX_UPLOAD = 50 * 1024 * 1024


def add_media_raw_routes(
    router: APIRouter, store: Documents, library: MediaLibrary, account_of: Callable[[Request], Awaitable[str]]
) -> None:
    """Upload and download of a media's audio (the documents themselves use the generic routes)."""
    path = "/accounts/{account_id}/media/{media_id}/raw"

    async def upload(request: Request, media_id: str) -> JSONResponse:
        account = await account_of(request)
        doc = await store.get(media_id, account)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in UPLOAD_TYPES:
            raise ApiError(415, "unsupported media type", {"Content-Type": f"expected one of {sorted(UPLOAD_TYPES)}"})
        data = await read_body(request, MAX_UPLOAD)
        try:
            duration = await library.store_upload(account, media_id, data, content_type)
        except MediaError as exc:
            raise ApiError(400, "invalid data", {"body": str(exc)}) from None
        doc.pop("id", None)
        doc.update({"media_source": "upload", "content_type": content_type, "duration": round(duration, 3)})
        return success(await store.replace(media_id, doc, account))

    async def download(request: Request, media_id: str) -> FileResponse:
        account = await account_of(request)
        await store.get(media_id, account)
        file = await library.local_path(account, media_id, now=True)
        if file is None:
            raise ApiError(404, "bad identifier", {"raw": "no audio uploaded yet"})
        return FileResponse(file, media_type="audio/wav")

    router.add_api_route(path, upload, methods=["PUT", "POST"])
    router.add_api_route(path, download, methods=["GET"])
