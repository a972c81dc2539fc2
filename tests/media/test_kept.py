"""Kept packets read apart in one go, checked against hand-written RTP headers (RFC 3550 §5.1)."""

from __future__ import annotations

from calltape.media.kept import KeptPackets


def _packet(sequence: int, timestamp: int, payload: bytes) -> bytes:
    # V=2, no padding/extension/CSRC, PT 0 (PCMU), then sequence, timestamp and SSRC 0x0A0B0C0D, big-endian
    return (
        bytes([0x80, 0x00]) + sequence.to_bytes(2, "big") + timestamp.to_bytes(4, "big") + b"\x0a\x0b\x0c\x0d" + payload
    )


def test_kept_packets_give_their_timestamps_source_and_payloads_and_empty_themselves() -> None:
    kept = KeptPackets()
    for sequence, timestamp, payload in ((7, 0xFFFFFF60, b"\x11" * 160), (8, 0, b"\x22" * 160), (9, 160, b"\x33" * 80)):
        packet = _packet(sequence, timestamp, payload)
        kept.data += packet
        kept.lengths.append(len(packet))
    batch = kept.take()
    assert batch is not None
    assert batch.timestamps.tolist() == [0xFFFFFF60, 0, 160] and batch.ssrc == 0x0A0B0C0D
    assert batch.payload_lengths.tolist() == [160, 160, 80]
    assert batch.payloads == b"\x11" * 160 + b"\x22" * 160 + b"\x33" * 80
    assert kept.take() is None and not kept.data and not kept.lengths


def test_packets_of_one_size_are_read_as_a_table_with_the_same_result() -> None:
    kept = KeptPackets()
    frames = [(sequence, (0xFFFFFEC0 + 160 * sequence) & 0xFFFFFFFF, bytes([sequence]) * 160) for sequence in range(5)]
    for sequence, timestamp, payload in frames:
        packet = _packet(sequence, timestamp, payload)
        kept.data += packet
        kept.lengths.append(len(packet))
    batch = kept.take()
    assert batch is not None
    assert batch.timestamps.tolist() == [0xFFFFFEC0, 0xFFFFFF60, 0, 160, 320] and batch.ssrc == 0x0A0B0C0D
    assert batch.payload_lengths.tolist() == [160] * 5
    assert batch.payloads == b"".join(payload for _s, _t, payload in frames)
