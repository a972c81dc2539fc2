"""Cutting a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).

Sans-IO: feed it whatever a read returned; it returns complete messages (several per read, or one
across many reads). CRLF keep-alives (RFC 5626 §3.5.1) are reported so the transport can answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calltape.sip.parser import MAX_MESSAGE_SIZE
from calltape.sip.syntax import bounded_digits_value

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$", re.I | re.M)


class FramingError(ValueError):
    """The stream cannot be framed any more (no or bad Content-Length, message too large)."""


@dataclass(frozen=True)
class KeepAlive:
    """A double-CRLF ping; the answer is a single CRLF."""


class StreamFramer:
    """Accumulates stream bytes and yields whole messages."""

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._max_size = max_size

    def feed(self, data: bytes) -> list[bytes | KeepAlive]:
        """Add *data*; return the messages (and keep-alives) now complete."""
        self._buffer += data
        out: list[bytes | KeepAlive] = []
        while True:
            item = self._next()
            if item is None:
                return out
            out.append(item)

    def _next(self) -> bytes | KeepAlive | None:
        buf = self._buffer
        if buf.startswith(b"\r\n\r\n"):
            del buf[:4]
            return KeepAlive()
        while buf.startswith(b"\r\n") and len(buf) > 2 and not buf.startswith(b"\r\n\r\n"):
            del buf[:2]
        if buf.startswith(b"\r\n\r\n"):
            del buf[:4]
            return KeepAlive()
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self._max_size:
                raise FramingError("header section too large")
            return None
        head = bytes(buf[:end])
        lengths = _CONTENT_LENGTH.findall(head)
        if len(lengths) != 1:
            raise FramingError("a stream message needs exactly one Content-Length")
        length = bounded_digits_value(lengths[0].decode("ascii"), self._max_size)
        if length is None:
            raise FramingError("message too large")
        total = end + 4 + length
        if total > self._max_size:
            raise FramingError("message too large")
        if len(buf) < total:
            return None
        message = bytes(buf[:total])
        del buf[:total]
        return message
