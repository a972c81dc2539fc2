"""The receiver as a plain ASGI application (no framework on the hot path).

Routes: ``PUT``/``POST`` any path naming a recording (Kazoo's forms, see ``naming``), ``GET/HEAD
/recordings`` (a JSON list), ``GET/HEAD /recordings/<account>/<YYYY>/<MM>/<file>`` (the audio, with
Range), ``GET /metrics`` and ``GET /healthz``. Checks run cheapest first and nothing is kept unless
the whole body arrived, matched its format and digests, and was made durable.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from python_multipart.multipart import MultipartParser, parse_options_header

from calltape.digits import is_number
from calltape.failures import SignInThrottle
from calltape.manifest import HEADER as MANIFEST_HEADER
from calltape.manifest import from_header
from calltape.media.formats import CONTENT_TYPES, SNIFF_BYTES, looks_like
from calltape.receiver.hooks import StoredHook
from calltape.receiver.metrics import ReceiverMetrics
from calltape.receiver.multipart import FormCollector
from calltape.receiver.naming import BadRequestError, check_raw_path, parse_upload
from calltape.receiver.settings import ReceiverSettings
from calltape.receiver.spool import SpoolFile
from calltape.receiver.storage import Storage

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Request headers worth keeping beside the recording.
KEPT_HEADERS = ("content-type", "user-agent", "x-forwarded-for", "x-request-id")


WRONG_TOKENS_PER_SOURCE = 20  # wrong tokens one address may give within a minute, then 429 until it is over


class Rejected(Exception):  # noqa: N818 - a control-flow signal, not an error type for callers
    """End the request with *status*; *reason* labels the metric."""

    def __init__(self, status: int, reason: str, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or []


class ReceiverApp:
    """Takes recording uploads and serves them back."""

    def __init__(self, settings: ReceiverSettings, storage: Storage, hook: StoredHook | None = None) -> None:
        self.settings = settings
        self.storage = storage
        self.hook = hook or StoredHook()
        self.metrics = ReceiverMetrics()
        self._allow = [ipaddress.ip_network(c) for c in settings.allow]
        self._token = settings.token.encode()
        self._wrong = SignInThrottle()  # wrong tokens per source address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method = scope["method"]
        path = _route_path(scope)
        try:
            self._check_source(scope)
            if path in ("/metrics", "/healthz") and method in ("GET", "HEAD"):
                body = self.metrics.render() if path == "/metrics" else "ok\n"
                await _respond(send, 200, body.encode(), b"text/plain; version=0.0.4", head=method == "HEAD")
                return
            self._check_auth(scope)
            if method in ("PUT", "POST"):
                await self._upload(scope, receive, send, started)
            elif method in ("GET", "HEAD") and (path == "/recordings" or path.startswith("/recordings/")):
                await self._download(scope, send, path)
            else:
                raise Rejected(405, "method", f"{method} is not supported here", [(b"allow", b"PUT, POST, GET, HEAD")])
        except Rejected as exc:
            self.metrics.rejected[exc.reason] += 1
            log.info("%s %s from %s: %d %s", method, scope.get("path"), _client(scope), exc.status, exc.message)
            error = json.dumps({"error": exc.reason, "message": exc.message}).encode()
            await _respond(send, exc.status, error, b"application/json", exc.headers, head=method == "HEAD")

    # ---- checks ------------------------------------------------------------------------------

    def _check_source(self, scope: Scope) -> None:
        if not self._allow:
            return
        try:
            address = ipaddress.ip_address(_client(scope))
        except ValueError:
            raise Rejected(403, "forbidden", "source address not allowed") from None
        if not any(address in network for network in self._allow):
            raise Rejected(403, "forbidden", "source address not allowed")

    def _check_auth(self, scope: Scope) -> None:
        if not self._token:
            return
        header = _header(scope, b"authorization")
        given = b""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip().encode()
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True).partition(b":")[2]
            except (binascii.Error, ValueError):
                given = b""
        source = {str((scope.get("client") or ("?",))[0]): WRONG_TOKENS_PER_SOURCE}
        wait = self._wrong.retry_after(source) if given else 0.0
        if wait > 0:  # guessing: refused whatever it gives until its minute is over
            later = str(math.ceil(wait)).encode()
            raise Rejected(
                429, "too_many_requests", "too many wrong tokens from this address", [(b"retry-after", later)]
            )
        if not given or not hmac.compare_digest(given, self._token):
            if given:
                self._wrong.failed(source)
            challenge = [(b"www-authenticate", b'Bearer realm="calltape", Basic realm="calltape"')]
            raise Rejected(401, "unauthorized", "a valid token is required", challenge)

    # ---- upload ------------------------------------------------------------------------------

    async def _upload(self, scope: Scope, receive: Receive, send: Send, started: float) -> None:
        try:
            upload = parse_upload(scope.get("raw_path") or scope["path"].encode(), scope.get("query_string", b""))
        except (BadRequestError, UnicodeDecodeError) as exc:
            raise Rejected(400, "bad_name", str(exc)) from None
        if upload.ext not in self.settings.formats:
            raise Rejected(
                415, "format", f".{upload.ext} is not accepted (accepted: {', '.join(self.settings.formats)})"
            )
        length_header = _header(scope, b"content-length")
        if length_header and not is_number(length_header):
            raise Rejected(400, "bad_length", "Content-Length is not a number")
        if length_header and int(length_header) > self.settings.max_size:
            raise Rejected(413, "too_large", f"larger than {self.settings.max_size} bytes", [(b"connection", b"close")])
        content_md5 = _header(scope, b"content-md5") or None
        spool = SpoolFile(self.storage_spool_dir, want_md5=content_md5 is not None)
        try:
            form = await self._receive_body(scope, receive, spool, upload.ext)
            if form is None:
                return  # the client went away: nothing is kept, nobody to answer
            if not looks_like(upload.ext, spool.head):
                raise Rejected(415, "format", f"the body is not a {upload.ext} file")
            if not spool.digest_matches(content_md5, _header(scope, b"repr-digest") or None):
                raise Rejected(400, "digest", "the body does not match its Content-MD5 / Repr-Digest")
            received = datetime.now(UTC)
            sidecar = {
                "name": upload.name,
                "account_id": upload.account_id,
                "metadata": {**form, **upload.metadata},
                "headers": {h: v for h in KEPT_HEADERS if (v := _header(scope, h.encode()))},
                "content_type": CONTENT_TYPES[upload.ext],
                "size": spool.size,
                "sha256": spool.sha256,
                "received_at": received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "remote_addr": _client(scope),
            }
            manifest = _manifest(scope, upload.metadata.get("call_id", ""))
            if manifest is not None:
                sidecar["manifest"] = manifest  # `calltape verify FILE SIDECAR` checks the file against it
            stored = await self.storage.store(spool, upload, sidecar, received)
        finally:
            spool.discard()
        self.metrics.observe(time.perf_counter() - started)
        if stored.created:
            self.metrics.stored += 1
            self.metrics.bytes += stored.size
            log.info("call-id %s: stored %s (%d bytes)", upload.metadata.get("call_id", ""), stored.key, stored.size)
            self.hook.fire(stored.location, {**sidecar, "key": stored.key})
        else:
            self.metrics.duplicates += 1
        body = json.dumps(
            {"key": stored.key, "size": stored.size, "sha256": stored.sha256, "created": stored.created}
        ).encode()
        location = [(b"location", f"/recordings/{stored.key}".encode())]
        await _respond(send, 201 if stored.created else 200, body, b"application/json", location)

    @property
    def storage_spool_dir(self) -> Path:
        """Where bodies are spooled while they arrive (every backend keeps one, made when it starts)."""
        return Path(self.storage.spool_dir)

    async def _receive_body(self, scope: Scope, receive: Receive, spool: SpoolFile, ext: str) -> dict[str, str] | None:
        """Stream the body into *spool*; the form fields of a multipart POST come back as metadata.

        A body whose first bytes are not a *ext* file is refused at once, not after it all arrived.
        Returns None if the client disconnected before the end.
        """
        sniffed = False
        limit = self.settings.max_size
        content_type, params = parse_options_header(_header(scope, b"content-type"))
        form = FormCollector(spool) if scope["method"] == "POST" and content_type == b"multipart/form-data" else None
        parser = MultipartParser(params.get(b"boundary", b""), cast(Any, form.callbacks())) if form else None
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.metrics.rejected["disconnected"] += 1
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise Rejected(413, "too_large", f"larger than {limit} bytes", [(b"connection", b"close")])
            if parser is not None:
                parser.write(chunk)
            else:
                spool.write(chunk)
            if not sniffed and len(spool.head) >= SNIFF_BYTES:
                sniffed = True
                if not looks_like(ext, spool.head):
                    raise Rejected(415, "format", f"the body is not a {ext} file", [(b"connection", b"close")])
            if not message.get("more_body", False):
                break
        if form is not None:
            parser.finalize()  # type: ignore[union-attr]
            if not form.got_file:
                raise Rejected(400, "no_file", "the multipart form has no file part")
            return form.fields
        return {}

    # ---- download ----------------------------------------------------------------------------

    async def _download(self, scope: Scope, send: Send, path: str) -> None:
        head = scope["method"] == "HEAD"
        if path == "/recordings":
            query = dict(_parse_query(scope.get("query_string", b"")))
            items = await self.storage.find(query.get("account_id"), query.get("since"), query.get("until"))
            await _respond(send, 200, json.dumps({"data": items}).encode(), b"application/json", head=head)
            return
        raw = bytes(scope.get("raw_path") or path.encode())
        raw = raw[raw.find(b"/recordings/") :]
        try:
            segments = check_raw_path(raw)[1:]  # after "recordings"
        except (BadRequestError, UnicodeDecodeError) as exc:
            raise Rejected(400, "bad_name", str(exc)) from None
        if len(segments) != 4 or segments[-1].endswith(".json") or segments[-1].startswith("."):
            raise Rejected(404, "not_found", "no such recording")
        key = "/".join(segments)
        info = await self.storage.stat(key)
        if info is None:
            raise Rejected(404, "not_found", "no such recording")
        size = int(info["size"])
        start, end, status = 0, size, 200
        range_header = _header(scope, b"range")
        headers = [(b"accept-ranges", b"bytes"), (b"etag", f'"{info.get("sha256", "")}"'.encode())]
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                raise Rejected(416, "range", "unsatisfiable range", [(b"content-range", f"bytes */{size}".encode())])
            start, end = parsed
            status = 206
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        content_type = str(info.get("content_type") or "application/octet-stream").encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(end - start).encode()), *headers],
            }
        )
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        async for chunk in self.storage.read(key, start, end):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.hook.drain()
                await self.storage.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _route_path(scope: Scope) -> str:
    path = str(scope["path"])
    root = str(scope.get("root_path", ""))
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _parse_query(query: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query.decode("latin-1"))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` range → (start, end exclusive), or None if unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            length = int(last)
            return (max(0, size - length), size) if length > 0 and size else None
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    return (start, end) if start < end else None


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


def _manifest(scope: Scope, call_id: str) -> dict[str, Any] | None:
    """The upload's signed manifest (``X-Calltape-Manifest``), kept as sent; one that cannot be read is left out."""
    value = _header(scope, MANIFEST_HEADER.lower().encode())
    if not value:
        return None
    try:
        return from_header(value)
    except ValueError as exc:
        log.warning("call-id %s: the upload's manifest is left out: %s", call_id, exc)
        return None
