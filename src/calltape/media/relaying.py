"""Relaying: a bridge of two legs with the same codec (or an echo, a leg relaying to itself) sends each packet
straight on, its fixed header rewritten in place and its payload untouched — one receive and one send, no queue
and no tick. Mixed into :class:`~calltape.media.session.RtpSession`.

While nothing stands in the way (both ends latched, no SRTP, the peer sending, its stream on the relayed source),
the leg's socket is read by a reader of its own, :meth:`Relaying._relay_reader`: what the floor does per packet
(read, send, keep the bytes) with the header rewritten. It is compiled (``_relay_reader.c``: no Python frame per
packet, 0.77× the floor's CPU per echoed packet against 0.98× for the same in Python, bench/media/per_packet.py);
the Python one does the same where it was not built. Everything else — the first packet of a source, DTMF,
headers with CSRCs, extensions or padding — takes the session's general path (``_handle``), which re-arms the
reader when what it was built on changes.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from calltape.media.arrivals import ArrivalPlacer
from calltape.media.clock import MediaClock
from calltape.media.dtmf import DtmfReceiver
from calltape.media.g711 import FRAME_SAMPLES, G711
from calltape.media.kept import HAND_ON_FRAMES, KeptPackets
from calltape.media.rtp import FIXED_HEADER, HEADER_SIZE, parse_rtp
from calltape.media.taps import TapDirection, Taps

if TYPE_CHECKING:
    from calltape.media._relay_reader import RelayReader


def _compiled_reader() -> type[RelayReader] | None:
    """The compiled reader (``_relay_reader.c``, built by setup.py), or None where it was not built (no C
    compiler: the Python reader does the same, slower) or CALLTAPE_PYTHON_RELAY=1 asks for the Python one."""
    if os.environ.get("CALLTAPE_PYTHON_RELAY") == "1":
        return None
    try:
        from calltape.media._relay_reader import RelayReader
    except ImportError:
        return None
    return RelayReader


COMPILED_READER = _compiled_reader()
RtpHeader = tuple[int, int, int, int, int]  # a fixed header as unpacked: first byte, second, sequence, timestamp, SSRC
RelayCounts = tuple[int, int, RtpHeader | None]  # a relay's reader's packets received, sent, and last header
# a relay's reader: what the event loop calls, what it counted so far, and what stops it for good
ReaderParts = tuple[Callable[[], object], Callable[[], RelayCounts], Callable[[], None]]


def nothing_to_detach() -> None:
    """The Python reader's detach (it holds the socket objects: a closed one reads nothing), and a leg's while it
    has no relay's reader."""


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
    sock: socket.socket
    latched: tuple[str, int] | None
    stats: dict[str, int]
    _packets_in: int
    _packets_out: int
    relay_peer: Relaying | None
    _relay_ssrc: int | None
    _relay_offsets: tuple[int, int]
    _last_relayed: RtpHeader | None
    _audio_type: int
    _buffer: bytearray
    _view: memoryview
    _loop: asyncio.AbstractEventLoop
    _kept: KeptPackets
    _ssrc: int | None
    _out_ssrc: int
    _out_seq: int
    _out_ts: int
    _arrivals: ArrivalPlacer
    _dtmf: DtmfReceiver

    def hand_on(self, last_arrival: float | None = None) -> None:
        raise NotImplementedError

    def _handle(self, length: int) -> None:
        raise NotImplementedError

    def _rearm_senders(self) -> None:
        raise NotImplementedError

    def _read_failed(self) -> None:
        raise NotImplementedError

    def _send_packet(self, packet: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def _relay(self, buffer: bytearray, length: int) -> None:
        """One packet on to the bridged leg, its fixed header rewritten in place (the first of a source, DTMF,
        and packets with CSRCs, extensions or padding: the usual audio packet is relayed by the relay's reader, or
        by ``_handle`` while there is none)."""
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
        covered = timestamp  # the RTP time of the packet's last frame: where the peer's stream would go on from
        if payload_type == self._audio_type:
            out_type = peer._audio_type
        elif payload_type == self.dtmf_payload_type:
            if length >= HEADER_SIZE + 4:  # an event: from its start (the timestamp) for its duration so far
                duration = int.from_bytes(buffer[HEADER_SIZE + 2 : HEADER_SIZE + 4], "big")
                covered = (timestamp + max(0, duration - FRAME_SAMPLES)) & 0xFFFFFFFF
            self._dtmf.receive(timestamp, bytes(buffer[HEADER_SIZE:length]))  # the call hears the digit too
            if peer.dtmf_payload_type is None or peer is self:  # an echo sends back audio, not key presses
                self._packets_in += 1
                return
            out_type = peer.dtmf_payload_type
        else:
            return
        self._packets_in += 1
        if ssrc != peer._relay_ssrc:  # a new source: the peer's stream continues where it stands
            peer._continue_after_relayed()
            peer._relay_ssrc = ssrc
            peer._relay_offsets = ((peer._out_seq - sequence) & 0xFFFF, (peer._out_ts - timestamp) & 0xFFFFFFFF)
            peer._forward(buffer, length, out_type | (second & 0x80), sequence, timestamp, covered)
            peer._rearm_senders()  # their readers were built on the source before
            return
        peer._forward(buffer, length, out_type | (second & 0x80), sequence, timestamp, covered)

    def _forward(
        self, buffer: bytearray, length: int, second: int, sequence: int, timestamp: int, covered: int | None = None
    ) -> None:
        """Send a packet relayed from the bridged leg (or, for echo, from this one) as part of this leg's stream:
        its fixed header rewritten in place with our SSRC and the relayed source's sequence and timestamps moved
        on by this leg's offsets. *covered*: the RTP time of its last frame, if not its timestamp (an event)."""
        self._last_relayed = (0x80, second, sequence, timestamp if covered is None else covered, 0)
        if self.sending and self.open:
            seq_offset, ts_offset = self._relay_offsets
            out_seq, out_ts = (sequence + seq_offset) & 0xFFFF, (timestamp + ts_offset) & 0xFFFFFFFF
            FIXED_HEADER.pack_into(buffer, 0, 0x80, second, out_seq, out_ts, self._out_ssrc)
            self._send_packet(memoryview(buffer)[:length])

    def _continue_after_relayed(self) -> None:
        """This leg's own numbering moves on to just after the last packet relayed to it, if any: what it sends
        next (its own frames, or a new relayed source) continues the stream its far end hears."""
        if self._last_relayed is not None:  # as the relayed source numbered it: moved on by the offsets
            seq_offset, ts_offset = self._relay_offsets
            sequence, timestamp = self._last_relayed[2:4]
            self._out_seq = (sequence + seq_offset + 1) & 0xFFFF
            self._out_ts = (timestamp + ts_offset + FRAME_SAMPLES) & 0xFFFFFFFF
            self._last_relayed = None

    def _resume_own_stream(self) -> None:
        """Relaying to this leg ended: its own packets continue the sequence and timestamps it was sending."""
        self._continue_after_relayed()
        self._relay_ssrc = None
        self._rearm_senders()

    def _relay_reader(self, peer: Relaying) -> ReaderParts:
        """The reader of this leg's socket while the usual packet goes straight on to *peer* (see the module's
        docstring), and what it counted so far: the compiled one (``_relay_reader.c``) where it was built, else
        the same in Python. Built anew whenever what it was built on changes (``_arm``); any other packet goes to
        ``_handle``."""
        if COMPILED_READER is None:
            return self._python_relay_reader(peer)
        seq_offset, ts_offset = peer._relay_offsets
        assert peer._relay_ssrc is not None
        reader = COMPILED_READER(
            fd=self.sock.fileno(),
            peer_fd=peer.sock.fileno(),
            buffer=self._buffer,
            audio_type=self._audio_type,
            out_type=peer._audio_type,
            source=peer._relay_ssrc,
            out_ssrc=peer._out_ssrc,
            seq_offset=seq_offset,
            ts_offset=ts_offset,
            hand_on_frames=HAND_ON_FRAMES,
            taps=self.taps,
            peer_taps=peer.taps,
            kept=self._kept,
            hand_on=self.hand_on,
            handle=self._handle,
            now=self._loop.time,
            read_failed=self._read_failed,
            peer_stats=peer.stats,
            peer=peer,
        )
        return reader.read, reader.counts, reader.detach

    def _python_relay_reader(self, peer: Relaying) -> ReaderParts:
        """The relay's reader in Python. Everything it needs is bound here and it writes to no object but the
        buffers — a leg's or its peer's attributes are a cold cache line per packet at a thousand legs — so the
        per-packet work is the floor's plus the header."""
        recv_into, send = self.sock.recv_into, peer.sock.send
        buffer, view = self._buffer, self._view
        unpack_from, pack_into = FIXED_HEADER.unpack_from, FIXED_HEADER.pack_into
        audio_type, out_type, source, out_ssrc = self._audio_type, peer._audio_type, peer._relay_ssrc, peer._out_ssrc
        seq_offset, ts_offset = peer._relay_offsets
        taps, peer_taps = self.taps, peer.taps
        kept = self._kept
        keep, kept_lengths = kept.data.extend, kept.lengths
        hand_on, handle, now = self.hand_on, self._handle, self._loop.time
        read_failed, peer_stats = self._read_failed, peer.stats
        packet = view[:0]  # the buffer's first *length* bytes, made anew only when the length changes
        received = sent = 0
        last: RtpHeader | None = None  # the last relayed header, as its source sent it

        def read() -> None:
            nonlocal packet, received, sent, last
            try:
                length = recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP port unreachable from the far end: counted, the socket listened to anew
                read_failed()
                return
            if length > HEADER_SIZE and buffer[0] == 0x80:
                header = unpack_from(buffer)
                _first, second, sequence, timestamp, ssrc = header
                if second & 0x7F == audio_type and ssrc == source:
                    received += 1
                    if len(packet) != length:
                        packet = view[:length]
                    kept_now = bool(taps or peer_taps)
                    if kept_now:  # kept as it came (before its header is rewritten)
                        first = not kept_lengths
                        keep(packet)
                        kept_lengths.append(length)
                    second = out_type | (second & 0x80)
                    sequence, timestamp = (sequence + seq_offset) & 0xFFFF, (timestamp + ts_offset) & 0xFFFFFFFF
                    pack_into(buffer, 0, 0x80, second, sequence, timestamp, out_ssrc)
                    last = header
                    try:
                        send(packet)
                        sent += 1
                    except OSError:
                        peer_stats["send_errors"] += 1
                    if kept_now:  # the packet went on: now what runs Python of its own (taps may re-arm this leg)
                        if first:
                            kept.since = now()
                        if len(kept_lengths) >= HAND_ON_FRAMES:
                            hand_on(now())
                    return
            if last is not None:  # the general path may relay a later packet: the peer learns of this one first
                peer._last_relayed, last = last, None
            handle(length)

        def counts() -> RelayCounts:
            return received, sent, last

        return read, counts, nothing_to_detach

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
