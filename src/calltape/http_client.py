"""calltape's outgoing HTTP (uploads, webhooks, prompts, hooks) through one library: aiohttp.

Why not httpx (used before): measured on this machine (2026-12-06, the same loop as
``bench/delivery/upload_cpu.py``), a streamed PUT of a recording cost httpx 2.4–2.6 CPU-ms for 32 kB and 3.9 for
960 kB — its connection pool looks at every kept connection before each request — against aiohttp's 0.4–0.5
and 1.0. At one upload per recorded call that was a fifth of a call's CPU outside its audio.

A :class:`HttpClient` holds a pool of kept-alive connections for one sender and opens it on first use (aiohttp
wants a running event loop). URLs are sent as given — an upload URL's query is Kazoo's, byte for byte — except
that characters no URL may hold (a space, non-ASCII) are percent-encoded. Proxies are taken from the
environment (``HTTPS_PROXY``, ``NO_PROXY``…) when a client opens, not per request (aiohttp's ``trust_env`` reads
the environment and ``~/.netrc`` on a thread for every request: a fifth of an upload's CPU). Answers are asked
for uncompressed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from urllib.request import proxy_bypass

import aiohttp
from aiohttp.helpers import ProxyInfo, proxies_from_env
from yarl import URL

HttpError = aiohttp.ClientError  # a request that failed: refused, broken, timed out, a bad URL, too long an answer
HTTP_ERRORS = (HttpError, TimeoutError)  # what a request may raise
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # with letters, digits and -._: what a URL may hold as it is


class HttpClient:
    """Connections for one sender: at most *connections* at once; each takes at most *timeout* seconds to
    connect and *read* between two reads of the answer, and (if *total*) a whole request at most *total*."""

    def __init__(
        self, *, connections: int = 16, timeout: float = 10.0, read: float = 60.0, total: float | None = None
    ) -> None:
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=total, connect=timeout, sock_connect=timeout, sock_read=read)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, ProxyInfo] = {}
        self._bypassed: dict[str, bool] = {}  # per host: NO_PROXY names it

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pool (opened now if it was not)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=60),
                timeout=self._timeout,
                headers={"User-Agent": "calltape", "Accept-Encoding": "identity"},
                auto_decompress=False,
            )
            self._proxies, self._bypassed = proxies_from_env(), {}
        return self._session

    def _proxy(self, url: URL) -> ProxyInfo | None:
        """The environment's proxy for *url*, if it has one and ``NO_PROXY`` does not name its host."""
        info = self._proxies.get(url.scheme)
        if info is None or url.host is None:
            return None
        bypassed = self._bypassed.get(url.host)
        if bypassed is None:
            bypassed = self._bypassed[url.host] = bool(proxy_bypass(url.host))
        return None if bypassed else info

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
        is longer than *read* bytes). An unread body is not waited for."""
        try:
            target = URL(quote(url, safe=_URL_SAFE), encoded=True)
            session = self.session
            proxy = self._proxy(target)
            async with session.request(
                method,
                target,
                data=body,
                headers=headers,
                allow_redirects=redirects,
                proxy=proxy.proxy if proxy else None,
                proxy_auth=proxy.proxy_auth if proxy else None,
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
        except ValueError as exc:  # a URL that is none (a bad port, a broken host)
            raise HttpError(f"bad URL {url!r}: {exc}") from None

    async def close(self) -> None:
        """Close the kept connections."""
        if self._session is not None:
            await self._session.close()


async def request_once(method: str, url: str, *, timeout: float, **options: Any) -> Answer:
    """One request on a connection of its own (a rare sender: a hook, a prompt), done within *timeout* seconds."""
    client = HttpClient(connections=1, timeout=timeout, read=timeout, total=timeout)
    try:
        return await client.request(method, url, **options)
    finally:
        await client.close()


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
