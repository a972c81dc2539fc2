"""parse(serialize(m)) == m for generated messages."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.parser import parse_message

token = st.text(string.ascii_letters + string.digits + "-.!%*_+`'~", min_size=1, max_size=12)
value_text = (
    st.text(string.ascii_letters + string.digits + ' ;=<>@:.,/"-', min_size=1, max_size=40).map(str.strip).filter(bool)
)
other_headers = st.lists(
    st.tuples(st.sampled_from(["Subject", "User-Agent", "X-Custom", "Supported", "Accept"]), value_text),
    max_size=6,
)
body = st.binary(max_size=200)


def _base_headers(method: str, branch: str, cseq: int) -> list[tuple[str, str]]:
    return [
        ("Via", f"SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK{branch}"),
        ("From", f"<sip:alice@example.com>;tag={branch}"),
        ("To", "<sip:bob@example.com>"),
        ("Call-ID", f"{branch}@example.com"),
        ("CSeq", f"{cseq} {method}"),
        ("Max-Forwards", "70"),
        ("Contact", f'"A, B" <sip:{branch}@192.0.2.1:5060;transport=tcp>;expires=60'),
    ]


@given(token, token, st.integers(0, 2**31 - 1), other_headers, body)
def test_request_roundtrip(method: str, branch: str, cseq: int, extra: list[tuple[str, str]], payload: bytes) -> None:
    headers = Headers([*_base_headers(method, branch, cseq), *extra, ("Content-Length", str(len(payload)))])
    request = Request(headers=headers, body=payload, method=method, uri="sip:bob@example.com;transport=udp")
    assert parse_message(request.serialize()) == request
    assert parse_message(request.serialize(), framed=True) == request


@given(st.integers(100, 699), value_text, token, other_headers, body)
def test_response_roundtrip(
    status: int, reason: str, branch: str, extra: list[tuple[str, str]], payload: bytes
) -> None:
    headers = Headers([*_base_headers("INVITE", branch, 1), *extra, ("Content-Length", str(len(payload)))])
    response = Response(headers=headers, body=payload, status=status, reason=reason)
    assert parse_message(response.serialize()) == response
