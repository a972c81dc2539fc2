"""Relaying: a bridge of two legs with the same codec (or an echo, a leg relaying to itself) sends each packet
straight on, its fixed header rewritten in place and its payload untouched — one receive and one send, no queue
and no tick. Mixed into :class:`~calltape.media.session.RtpSession`, whose ``_readable`` takes the usual packet's
path itself; what is here is the rest: the first packet of a source, DTMF, and headers with CSRCs, extensions or
padding."""

from __future__ import annotations

from calltape.media.arrivals import ArrivalPlacer
from calltape.media.clock import MediaClock
from calltape.media.dtmf import DtmfReceiver
from calltape.media.g711 import FRAME_SAMPLES, G711
from calltape.media.kept import KeptPackets
from calltape.media.rtp import FIXED_HEADER, HEADER_SIZE, parse_rtp
from calltape.media.taps import TapDirection, Taps


class Relaying:
    """The relaying half of a leg's RTP (its state is the session's)."""

    codec: G711
    dtmf_payload_type: int | None
    clock: MediaClock
    taps: Taps
    said_side: TapDirection
    heard_side: TapDirection
    open: bool
    sending: bool
    packets_in: int
    relay_peer: Relaying | None
    _relay_ssrc: int | None
    _relay_offsets: tuple[int, int]
    _relayed: tuple[int, int] | None
    _audio_type: int
    _buffer: bytearray
    _view: memoryview
    _kept: KeptPackets
    _ssrc: int | None
    _out_ssrc: int
    _out_seq: int
    _out_ts: int
    _arrivals: ArrivalPlacer
    _dtmf: DtmfReceiver

    def hand_on(self, last_arrival: float | None = None) -> None:
        raise NotImplementedError

    def _send_packet(self, packet: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def _relay(self, buffer: bytearray, length: int) -> None:
        """One packet on to the bridged leg, its fixed header rewritten in place (the first of a source, DTMF,
        and packets with CSRCs, extensions or padding: the usual audio packet takes the path in ``_readable``)."""
        if length <= HEADER_SIZE:
            return
        first, second, sequence, timestamp, ssrc = FIXED_HEADER.unpack_from(buffer)
        if first != 0x80:  # CSRCs, an extension or padding: cut down to a plain packet, then as usual
            header = parse_rtp(bytes(buffer[:length]))
            if header is not None and header.payload_end > header.payload_start:
                plain = bytearray(FIXED_HEADER.pack(0x80, second, sequence, timestamp, ssrc))
                plain += buffer[header.payload_start : header.payload_end]
                self._relay(plain, len(plain))
            return
        payload_type = second & 0x7F
        peer = self.relay_peer
        assert peer is not None
        if payload_type == self._audio_type:
            out_type = peer._audio_type
        elif payload_type == self.dtmf_payload_type:
            self._dtmf.receive(timestamp, bytes(buffer[HEADER_SIZE:length]))  # the call hears the digit too
            if peer.dtmf_payload_type is None or peer is self:  # an echo sends back audio, not key presses
                self.packets_in += 1
                return
            out_type = peer.dtmf_payload_type
        else:
            return
        self.packets_in += 1
        if ssrc != peer._relay_ssrc:  # a new source: the peer's stream continues where it stands
            peer._relay_ssrc = ssrc
            peer._relay_offsets = ((peer._out_seq - sequence) & 0xFFFF, (peer._out_ts - timestamp) & 0xFFFFFFFF)
        peer._forward(buffer, length, out_type | (second & 0x80), sequence, timestamp)

    def _forward(self, buffer: bytearray, length: int, second: int, sequence: int, timestamp: int) -> None:
        """Send a packet relayed from the bridged leg (or, for echo, from this one) as part of this leg's stream:
        its fixed header rewritten in place with our SSRC and the relayed source's sequence and timestamps moved
        on by this leg's offsets."""
        seq_offset, ts_offset = self._relay_offsets
        out_seq, out_ts = (sequence + seq_offset) & 0xFFFF, (timestamp + ts_offset) & 0xFFFFFFFF
        self._relayed = (out_seq, out_ts)
        if self.sending and self.open:
            FIXED_HEADER.pack_into(buffer, 0, 0x80, second, out_seq, out_ts, self._out_ssrc)
            self._send_packet(memoryview(buffer)[:length])

    def _resume_own_stream(self) -> None:
        """Relaying to this leg ended: its own packets continue the sequence and timestamps it was sending."""
        if self._relayed is not None:
            out_seq, out_ts = self._relayed
            self._out_seq, self._out_ts = (out_seq + 1) & 0xFFFF, (out_ts + FRAME_SAMPLES) & 0xFFFFFFFF
        self._relay_ssrc = self._relayed = None

    def _tap_relayed(self, length: int) -> None:
        """The taps hear relayed audio too: what this leg's far end says is what the bridged leg sends, at the
        same place on the call's timeline. Read from the leg's buffer before it is rewritten."""
        if self._kept.lengths:  # what came before it reaches the taps first
            self.hand_on()
        if length > HEADER_SIZE and self._buffer[0] == 0x80:  # the usual plain header: no parsing needed
            _first, second, _sequence, timestamp, ssrc = FIXED_HEADER.unpack_from(self._buffer)
            if second & 0x7F != self.codec.payload_type:
                return
            payload = bytes(self._view[HEADER_SIZE:length])
        else:
            header = parse_rtp(bytes(self._view[:length]))
            if header is None or header.payload_type != self.codec.payload_type:
                return
            timestamp, ssrc = header.timestamp, header.ssrc
            payload = bytes(self._view[header.payload_start : header.payload_end])
        assert self.relay_peer is not None
        self._tap_both(payload, timestamp, ssrc, self.relay_peer)

    def _tap_both(self, payload: bytes, timestamp: int, ssrc: int, peer: Relaying) -> None:
        """A relayed frame at one place on the call's timeline: what this leg's far end says is what *peer*
        sends (each to its taps on its own side)."""
        position = self._arrivals.position(timestamp, ssrc)
        for tap in self.taps:
            tap(self.said_side, payload, position, self.codec)
        for tap in peer.taps:
            tap(peer.heard_side, payload, position, self.codec)
