"""Crossbar's envelope on every JSON answer under ``/v2``: ``request_id``, ``auth_token``, ``revision``,
``timestamp``, ``node`` and ``version`` beside ``status`` and ``data``, as Kazoo's clients read them.

An ASGI middleware, so every route gets them, including those that build their answer themselves; other
answers (audio, the UI) pass through untouched. The request id is the client's ``X-Request-ID`` when it sends
one, else a new one, and comes back in that header too.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calltape import __version__


class CrossbarEnvelope:
    """Adds the envelope keys to JSON answers under ``/v2``."""

    def __init__(self, app: ASGIApp, node: str) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v2/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        token = headers.get("x-auth-token", "")
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"application/json"):
                    start = message  # held until the whole body is here
                    return
                await send(_with_header(message, request_id))
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self._enveloped(b"".join(chunks), request_id, token)
            out = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            out.append((b"content-length", str(len(body)).encode()))
            await send(_with_header({**start, "headers": out}, request_id))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, wrapped)

    def _enveloped(self, body: bytes, request_id: str, token: str) -> bytes:
        try:
            doc: Any = json.loads(body)
        except ValueError:
            return body
        if not isinstance(doc, dict) or "status" not in doc:
            return body
        data = doc.get("data")
        revision = hashlib.md5(json.dumps(data, sort_keys=True).encode()).hexdigest() if data else "undefined"
        doc = {
            "auth_token": doc.get("auth_token", token),
            "request_id": request_id,
            "revision": revision,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "node": self.node,
            "version": __version__,
            **doc,
        }
        return json.dumps(doc).encode()


def _with_header(message: Message, request_id: str) -> Message:
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
    return {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
