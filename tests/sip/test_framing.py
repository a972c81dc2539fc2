"""Framing SIP over a byte stream by Content-Length."""

from __future__ import annotations

import pytest

from calltape.sip.framing import FramingError, KeepAlive, StreamFramer
from tests.sip.helpers import request_bytes


def test_several_messages_in_one_read() -> None:
    a, b = request_bytes(body=b"one"), request_bytes(cseq=2, body=b"two")
    assert StreamFramer().feed(a + b) == [a, b]


def test_one_message_across_many_reads() -> None:
    data = request_bytes(body=b"0123456789")
    framer = StreamFramer()
    out: list[bytes | KeepAlive] = []
    for i in range(len(data)):
        out += framer.feed(data[i : i + 1])
    assert out == [data]


def test_keepalive_and_leading_crlf() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [KeepAlive()]
    data = request_bytes()
    assert framer.feed(b"\r\n" + data) == [data]


def test_missing_content_length_and_size_cap() -> None:
    with pytest.raises(FramingError):
        StreamFramer().feed(request_bytes().replace(b"Content-Length: 0\r\n", b""))
    with pytest.raises(FramingError):
        StreamFramer(max_size=100).feed(b"x" * 200)
    with pytest.raises(FramingError):
        StreamFramer(max_size=300).feed(request_bytes().replace(b"Content-Length: 0", b"Content-Length: 9999"))
