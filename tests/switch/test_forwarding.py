"""The signed INVITE calltape sends itself for a forward: what verifies, and what does not."""

from __future__ import annotations

import pytest

from calltape.sip.message import Request
from calltape.sip.parser import parse_message
from calltape.switch.forwarding import FORWARD_HEADER, SIGNATURE_TTL, CallForward, Forwarding

NOW = 1_800_000_000.0


def _forwarding(clock: list[float], secret: bytes = b"shared secret") -> Forwarding:
    forwarding = Forwarding(secret, clock=lambda: clock[0])
    forwarding.listening("0.0.0.0", 5080)
    return forwarding


def _invite(number: str, call_id: str, header: tuple[str, str] | None) -> Request:
    extra = f"{header[0]}: {header[1]}\r\n" if header else ""
    raw = (
        f"INVITE sip:{number}@127.0.0.1:5080 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKx1\r\n"
        "From: <sip:5551234@127.0.0.1>;tag=a\r\n"
        f"To: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:127.0.0.1:5080>\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(raw)
    assert isinstance(message, Request)
    return message


def test_a_wildcard_bind_is_reached_on_loopback() -> None:
    forwarding = _forwarding([NOW])
    assert forwarding.uri("2002") == "sip:2002@127.0.0.1:5080"
    forwarding.listening("::", 5080)
    assert forwarding.uri("2002") == "sip:2002@[::1]:5080"


def test_a_signed_forward_verifies_once() -> None:
    clock = [NOW]
    forwarding = _forwarding(clock)
    header = forwarding.header("call-1@x", "2002", "acct", "dev", 1)
    forwarded = forwarding.verify(_invite("2002", "call-1@x", header))
    assert forwarded is not None
    assert (forwarded.account_id, forwarded.device_id, forwarded.hops) == ("acct", "dev", 1)
    assert forwarding.verify(_invite("2002", "call-1@x", header)) is None  # a replay of the same Call-ID


@pytest.mark.parametrize(
    ("number", "call_id", "change"),
    [
        ("2003", "call-2@x", None),  # another number than was signed
        ("2002", "call-3@x", None),  # another Call-ID
        ("2002", "call-2@x", ("hops=1", "hops=0")),  # fewer hops than signed (a loop's count reset)
        ("2002", "call-2@x", ("device=dev", "device=other")),
        ("2002", "call-2@x", ("account=acct", "account=other")),
    ],
)
def test_a_changed_forward_does_not_verify(number: str, call_id: str, change: tuple[str, str] | None) -> None:
    forwarding = _forwarding([NOW])
    name, value = forwarding.header("call-2@x", "2002", "acct", "dev", 1)
    if change:
        value = value.replace(*change)
    assert forwarding.verify(_invite(number, call_id, (name, value))) is None


def test_an_expired_or_foreign_forward_does_not_verify() -> None:
    clock = [NOW]
    header = _forwarding(clock).header("call-4@x", "2002", "acct", "dev", 1)
    assert _forwarding(clock, secret=b"another node's secret").verify(_invite("2002", "call-4@x", header)) is None
    clock[0] = NOW + SIGNATURE_TTL + 1
    assert _forwarding(clock).verify(_invite("2002", "call-4@x", header)) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "account=a;device=d;hops=x;expires=1;sig=0",
        "account=a;device=d;hops=1;expires=99999999999999999999",
    ],
)
def test_a_malformed_header_does_not_verify(value: str) -> None:
    assert _forwarding([NOW]).verify(_invite("2002", "call-5@x", (FORWARD_HEADER, value))) is None


def test_the_owners_forward_wins_and_defaults_are_kazoos() -> None:
    device = {"call_forward": {"enabled": True, "number": "111"}}
    owner = {"call_forward": {"enabled": True, "number": "222", "substitute": False}}
    assert CallForward.of(device, owner) == CallForward(enabled=True, number="222", substitute=False)
    assert CallForward.of(device, {"call_forward": {"enabled": False, "number": "222"}}) == CallForward(
        enabled=True, number="111"
    )
    assert CallForward.of({"call_forward": {"enabled": True}}, None) is None  # no number: nothing to forward to
    forward = CallForward(enabled=True, number="111")
    assert forward.require_keypress and forward.keep_caller_id and not forward.failover
    assert not forward.hears_early_media  # Kazoo ignores the forward's early media by default
    assert CallForward(number="111", require_keypress=False, ignore_early_media=False).hears_early_media
