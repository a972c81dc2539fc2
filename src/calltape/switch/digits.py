"""A call's DTMF, published to every subscriber: collect_digits, voicemail's `#`, a recorder that stops on a key."""

from __future__ import annotations

import asyncio


class DigitBus:
    """Each subscriber gets every digit pressed after it subscribed, in its own queue."""

    def __init__(self) -> None:
        self._subscribers: list[asyncio.Queue[str]] = []

    def publish(self, digit: str) -> None:
        """A digit was pressed (RFC 4733 or SIP INFO, on any leg of the call)."""
        for queue in self._subscribers:
            queue.put_nowait(digit)

    def subscribe(self) -> asyncio.Queue[str]:
        """A new queue that receives every digit from now on."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        """Stop filling *queue*."""
        if queue in self._subscribers:
            self._subscribers.remove(queue)
