"""calltape's outgoing HTTP and the proxy environment: through HTTP_PROXY, except for the hosts NO_PROXY names.

The peers are plain asyncio servers that keep each request's first line, so the wire form (absolute URI to a
proxy, origin form to a server) is read as sent, not through the client library.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from calltape.http_client import HttpClient


class LineKeeper:
    """A TCP server that keeps the request line of each request and answers 200 with an empty body."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.lines.append(head.split(b"\r\n", 1)[0].decode())
        length = next(
            (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            0,
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def peers() -> AsyncIterator[tuple[LineKeeper, int, LineKeeper, int]]:
    proxy, target = LineKeeper(), LineKeeper()
    proxy_port, target_port = await proxy.start(), await target.start()
    yield proxy, proxy_port, target, target_port
    await proxy.stop()
    await target.stop()


async def test_a_request_goes_through_the_environments_proxy_with_its_url_as_given(
    peers: tuple[LineKeeper, int, LineKeeper, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, proxy_port, target, target_port = peers
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = HttpClient()
    url = f"http://127.0.0.1:{target_port}/rec?call_id=a%40b&from=1001"
    try:
        for _ in range(2):  # the environment is read once; the second request goes the same way
            answer = await client.request("PUT", url, body=b"audio")
            assert answer.status == 200
    finally:
        await client.close()
    assert proxy.lines == [f"PUT {url} HTTP/1.1"] * 2
    assert target.lines == []


async def test_a_host_that_no_proxy_names_is_reached_directly(
    peers: tuple[LineKeeper, int, LineKeeper, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, proxy_port, target, target_port = peers
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient()
    try:
        answer = await client.request("PUT", f"http://127.0.0.1:{target_port}/rec?x=1", body=b"audio")
    finally:
        await client.close()
    assert answer.status == 200
    assert (proxy.lines, target.lines) == ([], ["PUT /rec?x=1 HTTP/1.1"])
