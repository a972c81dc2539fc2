"""RFC 4733 telephone-events against bytes written by hand from the RFC (§2.3 layout, §3.2 event codes),
not by our own encoder: a fault shared by our sender and our receiver cannot hide here."""

from __future__ import annotations

import pytest

from calltape.media.dtmf import DtmfReceiver, event_payloads

# |event (8)|E|R|volume (6)|duration (16)|, network order. Event codes: 0-9, * = 10, # = 11, A-D = 12-15.
FIVE_60MS = [
    (bytes.fromhex("050a00a0"), True),  # first packet of the event: the RTP marker bit
    (bytes.fromhex("050a0140"), False),
    (bytes.fromhex("050a01e0"), False),
    (bytes.fromhex("058a01e0"), False),  # E bit, final duration 480 samples, sent three times (§2.5.1.4)
    (bytes.fromhex("058a01e0"), False),
    (bytes.fromhex("058a01e0"), False),
]


def test_a_60_ms_five_is_the_rfcs_bytes() -> None:
    assert event_payloads("5", 60, volume=10) == FIVE_60MS


@pytest.mark.parametrize(("digit", "code"), [("0", 0), ("9", 9), ("*", 10), ("#", 11), ("A", 12), ("d", 15)])
def test_event_codes_of_section_3_2(digit: str, code: int) -> None:
    first, _ = event_payloads(digit, 20)[0]
    assert first[0] == code


def _heard(packets: list[tuple[int, str]]) -> list[tuple[str, int]]:
    digits: list[tuple[str, int]] = []
    receiver = DtmfReceiver(lambda digit, duration: digits.append((digit, duration)))
    for timestamp, hex_payload in packets:
        receiver.receive(timestamp, bytes.fromhex(hex_payload))
    return digits


def test_hand_written_events_are_heard_once_with_their_duration() -> None:
    packets = [(1000, "0b0a00a0"), (1000, "0b0a0140"), (1000, "0b8a0320"), (1000, "0b8a0320"), (1000, "0b8a0320")]
    packets += [(5000, "0a0a00a0"), (5000, "0aca00a0")]  # "*" whose end packet has the reserved R bit set too
    assert _heard(packets) == [("#", 800), ("*", 160)]


def test_an_event_whose_end_packets_were_all_lost_is_heard_when_the_next_one_starts() -> None:
    assert _heard([(1000, "010a00a0"), (1000, "010a0140"), (3000, "020a00a0"), (3000, "028a0140")]) == [
        ("1", 320),
        ("2", 320),
    ]


def test_events_beyond_dtmf_and_short_payloads_are_ignored() -> None:
    assert _heard([(1000, "108a0320"), (2000, "4f8a0320"), (3000, "05")]) == []
