"""A real HTTP server that takes recording uploads the way a user's server would, and remembers each request.

It can be told to fail: answer 503 to the first N requests, or be stopped and started again on the
same port (a receiver that is down).
"""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import parse_qsl, quote, urlsplit

import numpy as np


@dataclass
class Upload:
    method: str
    path: str
    query: list[tuple[str, str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class UploadSink:
    """``url`` takes PUT/POST; ``uploads`` lists what arrived (2xx answered), ``attempts`` every request."""

    port: int = 0
    fail_first: int = 0
    redirect_to: str = ""  # answer the first request with 307 to this path
    uploads: list[Upload] = field(default_factory=list)
    attempts: list[Upload] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> UploadSink:
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _take(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                upload = Upload(
                    self.command,
                    parts.path,
                    parse_qsl(parts.query, keep_blank_values=True),
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with sink._lock:
                    sink.attempts.append(upload)
                    redirect = sink.redirect_to and len(sink.attempts) == 1
                    failing = len(sink.attempts) <= sink.fail_first
                    if not failing and not redirect:
                        sink.uploads.append(upload)
                self.send_response(307 if redirect else 503 if failing else 201)
                if redirect:
                    self.send_header("Location", sink.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST = _take  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait(self, count: int = 1, timeout: float = 20.0) -> list[Upload]:
        deadline = time.monotonic() + timeout
        while len(self.uploads) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.uploads)} uploads arrived, expected {count}")
            time.sleep(0.05)
        return self.uploads

    def upload_of(self, call_id: str, timeout: float = 20.0) -> Upload:
        """The first upload whose path names *call_id* (URL-quoted), once it has arrived."""
        deadline = time.monotonic() + timeout
        while not (found := [u for u in self.uploads if quote(call_id, safe="") in u.path]):
            assert time.monotonic() < deadline, f"no upload for {call_id}"
            time.sleep(0.1)
        return found[0]


def decode(body: bytes, fmt: str) -> tuple[np.ndarray, int, int]:
    """Decode an uploaded file with an independent decoder: (samples × channels int16, rate, channels)."""
    if fmt == "wav":
        import io
        import wave

        with wave.open(io.BytesIO(body)) as wav:
            channels, rate = wav.getnchannels(), wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return pcm.reshape(-1, channels), rate, channels
    info = subprocess.run(["mpg123", "-t", "-v", "-"], input=body, capture_output=True, check=True).stderr.decode()
    match = re.search(r"MPEG [\d.]+ L III \S+ (\d+) (\S+)", info)
    assert match, info
    rate, channels = int(match.group(1)), 1 if match.group(2) == "mono" else 2
    raw = subprocess.run(["mpg123", "-q", "-s", "-"], input=body, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").reshape(-1, channels), rate, channels
