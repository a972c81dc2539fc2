"""A leg's paced sending: each tick of the shared :class:`~calltape.media.clock.MediaClock` sends one frame from
the leg's current :class:`~calltape.media.outbound.Source` (or an RFC 4733 event), and the taps hear it at the
tick's place on the call's timeline. Mixed into :class:`~calltape.media.session.RtpSession`."""

from __future__ import annotations

import asyncio

from calltape.media.clock import MediaClock, MediaTimeline
from calltape.media.dtmf import event_payloads
from calltape.media.g711 import FRAME_SAMPLES, G711
from calltape.media.outbound import Player, RelayBuffer, Source
from calltape.media.rtp import FIXED_HEADER, HEADER_SIZE, build_rtp
from calltape.media.taps import TapDirection, Taps


class PacedSending:
    """The sending half of a leg's RTP (its state is the session's)."""

    codec: G711
    dtmf_payload_type: int | None
    clock: MediaClock
    timeline: MediaTimeline
    taps: Taps
    heard_side: TapDirection
    source: Source
    player: Player
    relays: list[RelayBuffer]
    sending: bool
    open: bool
    remote: tuple[str, int]
    _packet: bytearray
    _out_ssrc: int
    _out_seq: int
    _out_ts: int
    _out_anchor: tuple[MediaTimeline, int, int] | None
    _dtmf_out: list[tuple[bytes, bool]]
    _dtmf_ts: int
    _first_packet: bool

    def _send_packet(self, packet: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def play(self, pcm: bytes) -> asyncio.Future[None]:
        """Play 8 kHz mono PCM (the player becomes the source); the future completes when it has gone out."""
        self.source = self.player
        return self.player.play(pcm)

    def stop_playing(self) -> None:
        """Drop what is playing and queued (their futures complete)."""
        self.player.stop()

    def relay_buffer(self) -> RelayBuffer:
        """A buffer that receives this leg's incoming payloads in order (for echo, or a bridged leg's Relay)."""
        buffer = RelayBuffer(self.codec)
        self.relays.append(buffer)
        return buffer

    def drop_relay_buffer(self, buffer: RelayBuffer) -> None:
        """Stop filling *buffer*."""
        if buffer in self.relays:
            self.relays.remove(buffer)

    def send_digit(self, digit: str, duration_ms: int = 100) -> None:
        """Send one RFC 4733 event (only if the far end offered telephone-event)."""
        if self.dtmf_payload_type is not None:
            self._dtmf_out.extend(event_payloads(digit, duration_ms))

    def tick(self) -> None:
        """Called every 20 ms by the media clock: send one frame."""
        timestamp = self._out_ts
        self._out_ts = (self._out_ts + FRAME_SAMPLES) & 0xFFFFFFFF
        if self._dtmf_out:  # every packet of one event carries the event's start time
            payload, marker = self._dtmf_out.pop(0)
            if marker:
                self._dtmf_ts = timestamp
            self._send(self.dtmf_payload_type or 0, payload, marker, self._dtmf_ts)
            return
        payload = self.source.next_frame(self.codec)
        self._send(self.codec.payload_type, payload, self._first_packet, timestamp)
        self._first_packet = False
        if self.taps:
            position = self._out_position()
            for tap in self.taps:
                tap(self.heard_side, payload, position, self.codec)

    def _out_position(self) -> int:
        """Where the frame this tick sends goes on the call's timeline: whole frames from the first one tapped,
        by the clock's tick count (a stall's skipped ticks leave a gap, never a fraction of a frame)."""
        tick = self.clock.tick_number
        anchor = self._out_anchor
        if anchor is None or anchor[0] is not self.timeline:
            anchor = self._out_anchor = (self.timeline, tick, self.timeline.position(self.clock.tick_time))
        return anchor[2] + (tick - anchor[1]) * FRAME_SAMPLES

    def _send(self, payload_type: int, payload: bytes, marker: bool, timestamp: int) -> None:
        if self.sending and self.open and self.remote[1]:
            if len(payload) == FRAME_SAMPLES:  # a G.711 frame: packed into the leg's own buffer
                buffer = self._packet
                second = payload_type | (0x80 if marker else 0)
                FIXED_HEADER.pack_into(buffer, 0, 0x80, second, self._out_seq, timestamp, self._out_ssrc)
                buffer[HEADER_SIZE:] = payload
                packet: bytes | bytearray = buffer
            else:
                packet = build_rtp(payload_type, self._out_seq, timestamp, self._out_ssrc, payload, marker)
            self._send_packet(packet)
        self._out_seq = (self._out_seq + 1) & 0xFFFF
