"""One leg's RTP: receive (latching, reordering, loss as silence, taps, DTMF, relays) and paced sending.

Per received packet the work is: parse the header, check the source, relay it, and keep its bytes for the
taps (``media/kept.py``), which get them placed, a batch at a time — never decoded here. Sending is driven by
the shared :class:`MediaClock`: each tick takes one frame from the leg's current
:class:`~calltape.media.outbound.Source`.

Taps see every frame — one at a time, or in a batch for received audio on the usual path — stamped on the
call's :class:`MediaTimeline` (samples since the call's media began): outgoing frames by the tick that sent
them, incoming ones by their RTP timestamps anchored at the arrival of their source's first packet — so loss,
pauses, reordering and late packets keep their place (a tap places frames, it is not handed them in order),
and both directions of a call line up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Callable

from calltape.logs import throttle
from calltape.media.arrivals import ArrivalPlacer
from calltape.media.clock import MediaClock, MediaTimeline
from calltape.media.dtmf import DtmfReceiver
from calltape.media.g711 import FRAME_SAMPLES, G711
from calltape.media.kept import HAND_ON_FRAMES, KeptPackets
from calltape.media.outbound import RELAY_DEPTH, Player, RelayBuffer, Silence, Source
from calltape.media.relaying import RelayCounts, Relaying, RtpHeader, nothing_to_detach
from calltape.media.rtp import FIXED_HEADER, HEADER_SIZE, parse_rtp
from calltape.media.rtp_totals import RTP_TOTALS
from calltape.media.sending import PacedSending
from calltape.media.srtp import Session, SrtpError, SrtpKeys
from calltape.media.taps import FrameBatch, Tap, TapDirection, Taps

log = logging.getLogger(__name__)

DRAIN_LIMIT = 3000  # packets read at most when a call ends (a minute of audio: what a socket buffer can hold)
REORDER_DEPTH = 3  # packets held back to put a late one in its place for a relay (60 ms)
SILENCE = Silence()
# every leg reads into this one buffer (the event loop handles one packet at a time, to its end): it stays in the
# processor's cache, where one buffer per leg would be another cold line for every packet at a thousand legs
READ_BUFFER = bytearray(2048)
READ_VIEW = memoryview(READ_BUFFER)


class RtpSession(Relaying, PacedSending):
    """The RTP of one leg, on a socket from the port pool.

    The socket is read with one ``recv_into`` per readiness callback and, once the far end's source is known
    (latched), ``connect()``ed to it: the kernel then drops other sources and each send is a plain
    ``send`` — the cheapest path a packet can take from Python.
    """

    def __init__(
        self,
        sock: socket.socket,
        codec: G711,
        dtmf_payload_type: int | None,
        remote: tuple[str, int],
        clock: MediaClock,
        *,
        call_id: str = "",
        timeline: MediaTimeline | None = None,
        taps: Taps | list[Tap] | None = None,
        srtp: SrtpKeys | None = None,
    ) -> None:
        self.sock = sock
        self.bound_address = sock.getsockname()[:2]
        self.port = int(self.bound_address[1])
        self.codec = codec
        self.dtmf_payload_type = dtmf_payload_type
        self.remote = remote
        self.clock = clock
        self.call_id = call_id
        loop = asyncio.get_running_loop()
        self.timeline = timeline or MediaTimeline(loop.time())
        self.taps = taps if isinstance(taps, Taps) else Taps(taps or ())  # a call's: its taps hear this leg
        self.taps.feed_from(self)
        # which way this leg's audio goes in its own taps: what its far end says, and what it hears ("in" and
        # "out" for a caller; a transferee that holds the call's taps keeps the side it had: hold_taps_as)
        self.said_side, self.heard_side = TapDirection.IN, TapDirection.OUT
        self.relays: list[RelayBuffer] = []  # who sends on what this leg receives (echo, a bridged leg)
        self.source: Source = SILENCE
        self.player = Player()
        self.on_digit: Callable[[str], None] | None = None
        self.on_failure: Callable[[Exception], None] | None = None
        self.open = False
        self.latched: tuple[str, int] | None = None
        self.started_at = loop.time()  # the media timers count from here, not from 0
        self._packets_in = 0  # media packets of a negotiated type (see packets_in)
        self._packets_out = 0  # packets handed to the socket (see packets_out)
        self._seen = (0, self.started_at)  # (packets_in, when the watchdog saw it change)
        self.relay_peer: RtpSession | None = None  # bridged with the same codec: packets go on at once
        self._relay_ssrc: int | None = None
        self._relay_offsets = (0, 0)  # (sequence, timestamp) added to a relayed source's own
        self._last_relayed: RtpHeader | None = None  # the last packet relayed to this leg, as its source sent it
        self._relayed_by: list[RtpSession] = []  # the legs relaying to this one (their readers use its state)
        self._direct: Callable[[], RelayCounts] | None = None  # the relay's reader's counts, while it reads
        self._detach: Callable[[], None] = nothing_to_detach  # stops the relay's reader for good (it is replaced)
        self._direct_peer: RtpSession | None = None  # the leg it sends on
        self._audio_type = codec.payload_type
        self._buffer, self._view = READ_BUFFER, READ_VIEW
        self._packet = bytearray(HEADER_SIZE + FRAME_SAMPLES)  # every audio packet we send is built here
        self._kept = KeptPackets()  # received audio packets on the usual path, as they came, until handed on
        self._kept_data, self._kept_lengths = self._kept.data, self._kept.lengths  # the same objects, one hop less
        # counted per event (packets_in counts media)
        self.stats = {"lost": 0, "late": 0, "send_errors": 0, "reanchored": 0, "relay_dropped": 0}
        self._sending = True  # False while the far end holds the call
        self._expected: int | None = None
        self._ssrc: int | None = None
        self._arrivals = ArrivalPlacer(self.timeline, loop.time, self.stats)  # incoming frames' places
        self._out_anchor: tuple[MediaTimeline, int, int] | None = None  # (timeline, clock tick, position)
        self._held: dict[int, bytes] = {}
        self._dtmf = DtmfReceiver(self._digit)
        # random, as RFC 3550 asks (secrets: 0.6 µs each, numpy's random bytes ~13 µs)
        self._out_ssrc, self._out_seq, self._out_ts = secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        self._dtmf_out: list[tuple[bytes, bool]] = []
        self._dtmf_ts = 0
        self._first_packet = True
        self._loop = loop
        # SRTP (SDES): what comes is checked and decrypted, what goes protected; a packet that fails is dropped
        self._srtp_in: Session | None = None
        self._srtp_out: Session | None = None
        if srtp is not None:
            self._srtp_in, self._srtp_out = srtp.sessions()
        self.srtp_rejected = 0

    async def start(self) -> None:
        """Attach to the event loop and start sending (silence until a source has something)."""
        self.sock.setblocking(False)
        self.open = True
        self._rearm()
        RTP_TOTALS.opened(self)
        self.started_at = self._loop.time()
        self._seen = (self.packets_in, self.started_at)
        if self.relay_peer is None:
            self.clock.add(self)

    @property
    def sending(self) -> bool:
        """False while the far end holds the call: nothing is sent to it."""
        return self._sending

    @sending.setter
    def sending(self, sending: bool) -> None:
        if sending != self._sending:
            self._sending = sending
            self._rearm_senders()

    @property
    def packets_in(self) -> int:
        """Media packets of a negotiated type received (the watchdog reads it: no clock per packet)."""
        return self._packets_in + (self._direct()[0] if self._direct is not None else 0)

    @property
    def packets_out(self) -> int:
        """Packets handed to the socket: own frames, and what legs relaying here sent on it (/metrics sums them)."""
        sent = self._packets_out
        for leg in self._relayed_by:
            if leg._direct is not None and leg._direct_peer is self:
                sent += leg._direct()[1]
        return sent

    def _arm(self) -> None:
        """Read the socket with the relay's own reader (``_relay_reader``) while the usual packet can go straight
        on — both ends latched, no SRTP, the peer open and sending, its stream on a relayed source — else with
        ``_readable``. Called whenever what that depends on changes, here or at the peer."""
        self._retire()
        if not self.open:
            return
        peer = self.relay_peer
        direct = (
            peer is not None
            and self.latched is not None
            and self._srtp_in is None
            and peer.open
            and peer._sending
            and peer.latched is not None
            and peer._srtp_out is None
            and peer._relay_ssrc is not None
        )
        fd = self.sock.fileno()
        reader: Callable[[], object] = self._readable
        if direct and peer is not None:
            reader, self._direct, self._detach = self._relay_reader(peer)
            self._direct_peer = peer
        try:
            self._loop.add_reader(fd, reader)
        except RuntimeError:  # uvloop closed the socket's poll after an error on it (see _listen_anew)
            self._loop.remove_reader(fd)
            self._loop.add_reader(fd, reader)

    def _read_failed(self) -> None:
        """A read raised (a connected UDP socket reports the ICMP port unreachable its far end sent back for one of
        our packets): counted, and the socket listened to anew (see ``_listen_anew``)."""
        self.stats["send_errors"] += 1
        self._listen_anew()

    def _listen_anew(self) -> None:
        """Register the socket's reader afresh. uvloop (libuv) stops and closes a socket's poll when the socket
        reports an error — on a connected UDP socket, the ICMP port unreachable its far end sent back for one of
        our packets — without a word: the leg would not hear its far end again."""
        if self.open:
            self._loop.remove_reader(self.sock.fileno())
            self._arm()

    def _retire(self) -> None:
        """The relay's reader is replaced or stops: what it counted goes to this leg and its peer."""
        if self._direct is None or self._direct_peer is None:
            return
        self._detach()  # it may still be running (this is called from the Python it calls): it sends no more
        received, sent, last = self._direct()
        peer = self._direct_peer
        self._direct = self._direct_peer = None
        self._detach = nothing_to_detach
        self._packets_in += received
        peer._packets_out += sent
        if last is not None:
            peer._last_relayed = last

    def _rearm_senders(self) -> None:
        """The legs relaying to this one pick their readers again (what they were built on here changed)."""
        for leg in self._relayed_by:
            leg._arm()

    def _rearm(self) -> None:
        """This leg and the legs relaying to it pick their readers again."""
        self._arm()
        for leg in self._relayed_by:
            if leg is not self:
                leg._arm()

    @property
    def heard_anything(self) -> bool:
        """True once the far end has sent an RTP packet of a negotiated type."""
        return self.packets_in > 0

    def silence(self, now: float) -> float:
        """Seconds since the far end last sent media, to within the interval this is asked at (once a second). A
        leg silent for a second is listened to anew (``_listen_anew``): what came meanwhile waits in the socket."""
        if self.packets_in != self._seen[0]:
            self._seen = (self.packets_in, now)
        elif now - self._seen[1] >= 1.0:
            self._listen_anew()
        return now - self._seen[1]

    def close(self) -> None:
        """Stop sending and receiving; pending plays end; the taps get what came."""
        self.hand_on()
        self._retire()
        self.taps.stop_feeding(self)
        if self.relay_peer is not None and self.relay_peer is not self:
            self.relay_peer.taps.stop_feeding(self)
        self.clock.remove(self)
        self.player.stop()
        if self.open:
            self.open = False
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self._rearm_senders()  # what they sent on this leg is counted in before it hands its counts in
            RTP_TOTALS.closed(self)

    def follow(self, timeline: MediaTimeline) -> None:
        """Place frames on *timeline* from now on (a party another call took over by a transfer)."""
        self.hand_on()
        self.timeline = timeline
        self._arrivals = ArrivalPlacer(timeline, self._loop.time, self.stats)

    def drain(self, limit: int = DRAIN_LIMIT) -> None:
        """Take the packets that arrived and still wait in the socket (the call is ending). A busy event loop
        reads a hangup before the audio that came just ahead of it; without this, that audio is lost."""
        self._arm()  # a relay's reader hands in what it relayed first: what is read here comes after it
        try:
            for _ in range(limit):
                if not self.open or not self._readable():
                    return
        except Exception as exc:  # the leg and the call must end whatever happens here
            log.error("call-id %s: reading the last RTP failed: %r", self.call_id, exc)

    def failed(self, error: Exception) -> None:
        """The media clock dropped this stream after *error*: stop it, and let its call end."""
        throttle.error(log, "media failed", error, "call-id %s: media stopped: %r", self.call_id, error)
        self.close()
        if self.on_failure is not None:
            self.on_failure(error)

    def move_to(self, remote: tuple[str, int]) -> None:
        """The far end moved (re-INVITE): send there, and latch afresh on a new socket on the same port."""
        self.remote = remote
        if self.latched is None:
            return
        self.latched = None
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()  # a connected UDP socket cannot be unconnected portably: a fresh one takes the port
        self.sock = socket.socket(self.sock.family, socket.SOCK_DGRAM)
        self.sock.bind(self.bound_address)
        self.sock.setblocking(False)
        self._rearm()

    # ---- receiving ---------------------------------------------------------------------------

    def _readable(self) -> bool:
        """One read per readiness callback, into the shared buffer; False if there was nothing to read."""
        buffer = self._buffer
        addr = None
        try:
            if self.latched is not None:
                length = self.sock.recv_into(buffer)
            else:
                length, addr = self.sock.recvfrom_into(buffer)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:  # ICMP port unreachable from the far end: counted, not logged per packet
            self._read_failed()
            return True
        if self._srtp_in is not None:
            length = self._decrypt(length)
            if not length:
                return True
        if addr is not None:  # latched only on a packet that passed (with SRTP: authenticated)
            self._latch(addr)
        self._handle(length)
        return True

    def _handle(self, length: int) -> None:
        """The packet of *length* bytes in the buffer (read, decrypted): relayed, kept for the taps, or taken
        apart the long way."""
        buffer = self._buffer
        peer = self.relay_peer
        if peer is not None:
            if length > HEADER_SIZE and buffer[0] == 0x80:  # the usual packet: audio of the source being relayed
                _first, second, sequence, timestamp, ssrc = FIXED_HEADER.unpack_from(buffer)
                if second & 0x7F == self._audio_type and ssrc == peer._relay_ssrc:
                    self._packets_in += 1
                    if self.taps or peer.taps:  # kept as it came (before its header is rewritten)
                        self._keep(length)
                    peer._forward(buffer, length, peer._audio_type | (second & 0x80), sequence, timestamp)
                    return
            if self.taps or peer.taps:
                self._tap_relayed(length)
            self._relay(buffer, length)
            return
        if length > HEADER_SIZE and buffer[0] == 0x80:  # the usual packet: plain header, next in sequence
            _first, second, sequence, timestamp, ssrc = FIXED_HEADER.unpack_from(buffer)
            if second == self._audio_type and sequence == self._expected and ssrc == self._ssrc and not self._held:
                self._packets_in += 1
                self._expected = (sequence + 1) & 0xFFFF
                if self.relays:
                    self._to_relays(bytes(self._view[HEADER_SIZE:length]))
                if self.taps:
                    self._keep(length)
                return
        self._receive(bytes(self._view[:length]))

    def _keep(self, length: int) -> None:
        """The packet in the buffer kept for the taps as it came; handed on once HAND_ON_FRAMES wait."""
        self._kept_data += self._view[:length]
        kept = self._kept_lengths
        if not kept:
            self._kept.since = self._loop.time()
        kept.append(length)
        if len(kept) >= HAND_ON_FRAMES:
            self.hand_on(last_arrival=self._loop.time())

    def _decrypt(self, length: int) -> int:
        """The SRTP packet in the buffer checked and decrypted in place; its plain length, 0 if it failed (plain
        RTP, another key, a replay): dropped and counted, the first one of a call logged."""
        assert self._srtp_in is not None
        try:
            plain = self._srtp_in.unprotect(bytes(self._view[:length]))
        except (SrtpError, ValueError) as exc:  # ValueError: larger than libsrtp takes
            self.srtp_rejected += 1
            message = "call-id %s: a packet that is not this call's SRTP was dropped (%s; %d so far)"
            throttle.log(log, logging.WARNING, ("srtp", self.call_id), message, self.call_id, exc, self.srtp_rejected)
            return 0
        self._buffer[: len(plain)] = plain
        return len(plain)

    def rekey(self, keys: SrtpKeys) -> None:
        """The far end's SRTP key changed (a re-INVITE): what it sends from now on is read with the new one."""
        self._srtp_in = keys.inbound()

    def _latch(self, addr: tuple[str | int, ...]) -> None:
        """Symmetric RTP: answer where the media comes from, and from now on hear only that source."""
        self.latched = self.remote = (str(addr[0]), int(addr[1]))
        try:
            self.sock.connect(self.latched)
        except OSError:
            self.latched = None
            return
        self._rearm()

    def _receive(self, data: bytes) -> None:
        """One packet from the far end (not relaying): in order to the relays and taps."""
        if self._kept.lengths:  # what came before it reaches the taps first
            self.hand_on()
        header = parse_rtp(data)
        if header is None:
            return
        payload = data[header.payload_start : header.payload_end]
        if header.payload_type == self.dtmf_payload_type:
            self._packets_in += 1
            self._dtmf.receive(header.timestamp, payload)
            return
        if header.payload_type != self.codec.payload_type or not payload:
            return  # not what was negotiated: it does not count as media (the call can still time out)
        self._packets_in += 1
        if self.taps:  # every frame, late or not, at its place
            self._tap_in(payload, header.timestamp, header.ssrc)
        if header.ssrc != self._ssrc:  # a new source (or the first): start its sequence afresh
            self._ssrc, self._expected, self._held = header.ssrc, header.sequence, {}
        assert self._expected is not None
        ahead = (header.sequence - self._expected) & 0xFFFF
        if ahead >= 0x8000:
            self.stats["late"] += 1  # older than what the relays were already given
            return
        self._held[header.sequence] = payload
        self._release()

    def relay_to(self, peer: RtpSession | None) -> None:
        """Send what arrives here straight on to *peer* (header rewritten, payload untouched), or stop (None).

        Both legs of a same-codec bridge relay to each other and leave the media clock: a packet costs one
        receive and one send, no queue and no tick. An echo is a leg relaying to itself. With a tap attached,
        the taps get the payloads too.
        """
        self.hand_on()  # what came so far went to the old peer
        self._retire()
        old = self.relay_peer
        if old is not None and old is not self:
            old.taps.stop_feeding(self)
        if old is not None and self in old._relayed_by:
            old._relayed_by.remove(self)
        if peer is None and old is not None:
            old._resume_own_stream()
        self.relay_peer = peer
        self._arm()
        if peer is not None:
            peer._relayed_by.append(self)
            peer.taps.feed_from(self)
            self.clock.remove(self)
            self._ssrc = None  # the sequence and timeline anchor start afresh when relaying ends
        elif self.open:
            self.clock.add(self)

    def _send_packet(self, packet: bytes | bytearray | memoryview) -> None:
        """One packet to the far end (a plain send once latched); a failure is counted, as UDP drops it."""
        if self._srtp_out is not None:
            try:
                packet = self._srtp_out.protect(bytes(packet))
            except (SrtpError, ValueError):  # an index sent before (never the same keystream twice), or too large
                self.stats["send_errors"] += 1
                return
        try:
            if self.latched is not None:
                self.sock.send(packet)
            else:
                self.sock.sendto(packet, self.remote)
            self._packets_out += 1
        except OSError:
            self.stats["send_errors"] += 1

    def _release(self) -> None:
        """Hand the relays what is now in order; a packet missing behind REORDER_DEPTH others is given up."""
        while self._expected is not None:
            payload = self._held.pop(self._expected, None)
            if payload is None:
                if len(self._held) <= REORDER_DEPTH:
                    return
                self.stats["lost"] += 1  # given up on (for the relays: the taps place it if it still comes)
                payload = self.codec.silence
            if self.relays:
                self._to_relays(payload)
            self._expected = (self._expected + 1) & 0xFFFF

    def _to_relays(self, payload: bytes) -> None:
        for relay in self.relays:
            payloads = relay.payloads
            if len(payloads) == RELAY_DEPTH:  # its sender is 100 ms behind: the oldest goes
                self.stats["relay_dropped"] += 1
            payloads.append(payload)

    def hand_on(self, last_arrival: float | None = None) -> None:
        """Place the received packets kept so far (the last arrived at loop time *last_arrival*, if known) and
        hand them to the taps: what this leg's far end said, which is what a relay peer sent."""
        kept = self._kept.take()
        if kept is None:
            return
        positions = self._arrivals.positions(kept.timestamps, kept.ssrc, self._kept.since, last_arrival)
        batch = FrameBatch(positions, kept.payload_lengths, kept.payloads)
        peer = self.relay_peer
        listeners = [(self.said_side, self.taps)]
        if peer is not None:
            listeners.append((peer.heard_side, peer.taps))
        for direction, taps in listeners:
            for tap in taps:
                try:
                    tap.frames(direction, batch, self.codec)
                except Exception as exc:  # a tap's failure (a full disk) is its own: the call and its legs go on
                    throttle.error(log, "tap failed", exc, "call-id %s: a tap failed: %r", self.call_id, exc)

    def _tap_in(self, payload: bytes, timestamp: int, ssrc: int) -> None:
        position = self._arrivals.position(timestamp, ssrc)
        for tap in self.taps:
            tap(self.said_side, payload, position, self.codec)

    def use_taps(self, taps: Taps) -> None:
        """From now on this leg's audio goes to *taps* (what it received so far went to the ones it had)."""
        self.hand_on()
        self.taps.stop_feeding(self)
        self.taps = taps
        taps.feed_from(self)
        self._rearm()

    def hold_taps_as(self, said: TapDirection) -> None:
        """What this leg's far end says goes to its taps as *said* (and what it hears as the other side)."""
        self.said_side = said
        self.heard_side = TapDirection.OUT if said is TapDirection.IN else TapDirection.IN

    def _digit(self, digit: str, _duration: int) -> None:
        log.debug("call-id %s: DTMF %s", self.call_id, digit)
        if self.on_digit is not None:
            self.on_digit(digit)
