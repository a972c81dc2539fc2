"""Short-lived signed links to a recording's audio, for the web page's ``<audio>`` element.

An ``<audio>`` element cannot send ``X-Auth-Token``, and the token must not travel in a URL (URLs end up in
histories and logs). So a client holding the token asks ``GET /v2/accounts/{A}/recordings/{ID}/audio_link``
and gets ``/ui/audio/{A}/{ID}?expires=…&sig=…``: an HMAC-SHA256, under a key derived from the admin token, of
that one recording and the expiry. It reads that recording's audio (with Range) until it expires, and nothing
else; changing the admin token voids every link.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from calltape.api.auth import actor_of
from calltape.api.envelope import success
from calltape.api.errors import ApiError
from calltape.api.recordings import audio_response
from calltape.digits import is_number
from calltape.store.recording_audit import RecordingAudit
from calltape.store.recordings import Recordings

LINK_TTL = 900.0  # seconds a link plays; the page asks for a fresh one each time a recording is opened
AUDIO_PATH = "/ui/audio"


class AudioLinks:
    """Signs and checks links to one recording's audio."""

    def __init__(self, admin_token: str, ttl: float = LINK_TTL) -> None:
        self._key = hmac.new(admin_token.encode(), b"calltape audio links v1", hashlib.sha256).digest()
        self.ttl = ttl

    def _signature(self, account_id: str, recording_id: str, expires: int) -> str:
        message = f"{account_id}\n{recording_id}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def link(self, account_id: str, recording_id: str, now: float) -> tuple[str, int]:
        """The path and query of a link, and when it expires (Unix seconds)."""
        expires = int(now + self.ttl)
        sig = self._signature(account_id, recording_id, expires)
        return f"{AUDIO_PATH}/{account_id}/{recording_id}?expires={expires}&sig={sig}", expires

    def valid(self, account_id: str, recording_id: str, expires: str, sig: str, now: float) -> bool:
        """True if *sig* signs this recording until *expires*, and that is still ahead."""
        if not is_number(expires) or int(expires) < now:
            return False
        expected = self._signature(account_id, recording_id, int(expires))
        return hmac.compare_digest(sig.encode(), expected.encode())


def add_audio_link_routes(
    app: FastAPI,
    router: APIRouter,
    recordings: Recordings,
    links: AudioLinks,
    account_of: Callable[[Request], Awaitable[str]],
    audit: RecordingAudit | None = None,
) -> None:
    """``…/recordings/{ID}/audio_link`` on the token-guarded *router*; the signed audio itself on *app*. Issuing a
    link is in the audit trail (``link_issued``, by whom asked for it)."""

    async def audio_link(request: Request, recording_id: str) -> JSONResponse:
        account = await account_of(request)
        row = await recordings.get(account, recording_id)  # 404 for a recording not in the account
        path, expires = links.link(account, row.id, time.time())
        if audit is not None:
            remote = request.client.host if request.client else ""
            await audit.add(account, row.id, "link_issued", actor_of(request), remote, expires=expires)
        return success({"url": path, "download_url": path + "&download=true", "expires": expires})

    async def signed_audio(request: Request, account_id: str, recording_id: str) -> Response:
        query = request.query_params
        if not links.valid(account_id, recording_id, query.get("expires", ""), query.get("sig", ""), time.time()):
            raise ApiError(403, "forbidden", {"sig": "missing, wrong or expired: ask for a new audio_link"})
        row = await recordings.get(account_id, recording_id)
        inline = query.get("download") != "true"
        response = await audio_response(request, recordings, row, inline=inline)
        if audit is not None and response.status_code < 300 and "range" not in request.headers:  # a play, not a seek
            remote = request.client.host if request.client else ""
            await audit.add(account_id, row.id, "played" if inline else "downloaded", "audio_link", remote)
        return response

    router.add_api_route("/accounts/{account_id}/recordings/{recording_id}/audio_link", audio_link, methods=["GET"])
    signed_path = AUDIO_PATH + "/{account_id}/{recording_id}"
    app.add_api_route(signed_path, signed_audio, methods=["GET"], include_in_schema=False)
