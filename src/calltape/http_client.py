"""calltape's outgoing HTTP (uploads, webhooks, prompts, hooks) through one library: aiohttp.

Why not httpx (used before): measured on this machine (2026-12-07, ``bench/receiver/upload_cpu.py``), a PUT of a
recording costs httpx 2.4–2.6 CPU-ms for 32 kB and 3.9 for 960 kB — its connection pool looks at every kept
connection before each request — against aiohttp's 0.5 and 1.0, streaming the same file. At one upload per
recorded call that was a fifth of a call's CPU outside its audio.

A :class:`HttpClient` holds a pool of kept-alive connections for one sender and opens it on first use (aiohttp
wants a running event loop). URLs are sent as given, never re-quoted: an upload URL's query is Kazoo's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

HttpError = aiohttp.ClientError  # a request that got no answer: refused, broken, timed out (also a TimeoutError)
HTTP_ERRORS = (HttpError, TimeoutError)  # what a request may raise


class HttpClient:
    """Connections for one sender: at most *connections* at once; a request (to its answer's headers) takes
    at most *timeout* seconds to connect, and *read* between two reads of the answer."""

    def __init__(self, *, connections: int = 16, timeout: float = 10.0, read: float = 60.0) -> None:
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=read)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pool (opened now if it was not)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers={"User-Agent": "calltape"}, auto_decompress=False
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | AsyncIterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        redirects: bool = False,
        read: int = 0,
    ) -> Answer:
        """Send one request; the answer's status, headers and, if *read* > 0, its body (HttpBodyTooLarge if it
        is longer than *read* bytes). An unread body is left behind with the connection."""
        async with self.session.request(
            method, URL(url, encoded=True), data=body, headers=headers, allow_redirects=redirects
        ) as response:
            chunks: list[bytes] = []
            if read:
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > read:
                        raise HttpBodyTooLarge(f"{url} answered with more than {read} bytes")
                    chunks.append(chunk)
            names = {name.lower(): value for name, value in response.headers.items()}
            return Answer(response.status, names, b"".join(chunks))

    async def close(self) -> None:
        """Close the kept connections."""
        if self._session is not None:
            await self._session.close()


class HttpBodyTooLarge(aiohttp.ClientError):
    """An answer's body is longer than the caller reads."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: ``status``, ``headers`` (names in lower case) and ``body`` (if it was read)."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body, read as JSON."""
        return json.loads(self.body)
