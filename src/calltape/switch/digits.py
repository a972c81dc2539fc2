"""A call's DTMF, published to every subscriber: collect_digits, voicemail's `#`, a recorder that stops on a key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


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


async def collect(
    keys: asyncio.Queue[str],
    max_digits: int,
    first_wait: float,
    between: float,
    terminators: str,
    wait: Callable[[Awaitable[str]], Awaitable[str]],
    first_key: asyncio.Future[str] | None = None,
) -> str:
    """Digits from *keys* until *max_digits*, a terminator, or a time-out: *first_wait* seconds for the first key
    (*first_key*, when one is already being waited for), *between* seconds for each next; *wait* awaits each
    (the call's ``wait_unless_ended``)."""
    collected = ""
    waiting = first_key
    while len(collected) < max_digits:
        key: Awaitable[str] = waiting if waiting is not None else keys.get()
        waiting = None
        try:
            digit = await wait(asyncio.wait_for(key, between if collected else first_wait))
        except TimeoutError:
            break
        if digit in terminators:
            break
        collected += digit
    return collected
