"""What a REFER asks for, read off hand-written Refer-To headers (RFC 3515 §2.1, RFC 3891 §7's example)."""

from __future__ import annotations

from types import SimpleNamespace

from calltape.sip.parser import parse_message
from calltape.switch.transfer import ReferTarget, refer_target


def _refer(refer_to: str | None) -> SimpleNamespace:
    lines = [
        "REFER sip:calltape@192.0.2.1 SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK776asdhds",
        "Max-Forwards: 70",
        "From: <sip:bob@example.com>;tag=1928301774",
        "To: <sip:calltape@192.0.2.1>;tag=a6c85cf",
        "Call-ID: a84b4c76e66710",
        "CSeq: 7 REFER",
        *([f"Refer-To: {refer_to}"] if refer_to is not None else []),
        "Content-Length: 0",
    ]
    return SimpleNamespace(request=parse_message(("\r\n".join(lines) + "\r\n\r\n").encode()))


def test_a_blind_refer_names_the_number() -> None:
    assert refer_target(_refer("<sip:2001@office.example.com>")) == ReferTarget("2001")  # type: ignore[arg-type]
    assert refer_target(_refer("sip:%2B14155552671@example.com")) == ReferTarget("+14155552671")  # type: ignore[arg-type]


def test_rfc_3891s_replaces_example_names_the_dialog() -> None:
    header = "<sips:bob@biloxi.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>"
    target = refer_target(_refer(header))  # type: ignore[arg-type]
    assert target == ReferTarget("bob", ("12345@192.168.118.3", "12345", "5FFE-3994"))


def test_a_refer_without_a_usable_target_names_nothing() -> None:
    for header in (None, "<sip:office.example.com>", "<tel:+14155552671>", "<sip:bad"):
        assert refer_target(_refer(header)) is None, header  # type: ignore[arg-type]
