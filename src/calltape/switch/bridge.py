"""A bridge: two answered legs, each sending what the other receives.

Same codec on both legs: payloads are relayed as they came (new SSRC, sequence and timestamp on
the way out) and never decoded unless a tap listens; PCMU↔PCMA are transcoded. RFC 4733 and INFO
digits cross over (and still reach the call's DTMF bus). With the account's metaflows (feature codes) both
legs run on the media clock and the bridge re-sends each digit itself, so a code's digits can be kept back.
A hold on one side (re-INVITE sendonly or inactive) plays the holder's music on hold to the other side, who
leaves the bridge until the hold ends; without music it is passed to the other side as a re-INVITE of ours.
Unbridging puts both legs back on silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from calltape.media.outbound import Relay
from calltape.media.session import SILENCE, RtpSession
from calltape.switch.feature_codes import DigitGate, FeatureCodes, Side
from calltape.switch.leg import Leg, LegState

log = logging.getLogger(__name__)


class HoldMusicSource(Protocol):
    """Where a bridge finds the music a holder's side has set, and tells of holds."""

    async def for_holder(self, leg: Leg) -> bytes | None: ...
    def began(self) -> None: ...
    def ended(self) -> None: ...


class Bridge:
    """Relays media and digits between two legs while it stands."""

    def __init__(
        self,
        a: Leg,
        b: Leg,
        publish_digit: Callable[[str], None],
        hold_music: HoldMusicSource | None = None,
        codes: FeatureCodes | None = None,
        *,
        carry_digits: bool = True,
    ) -> None:
        assert a.media is not None and b.media is not None
        self.a, self.b = a, b
        self._publish = publish_digit
        self._a_media: RtpSession = a.media
        self._b_media: RtpSession = b.media
        self._codes = codes  # metaflows: digits are re-sent, not relayed, so a code's digits can be kept back
        self._gates: list[DigitGate] = []
        self._carry_digits = carry_digits  # False: each side's digits are only published, never sent across
        same_codec = self._a_media.codec.name == self._b_media.codec.name
        self.relaying = same_codec and codes is None and carry_digits
        self._hold_music = hold_music
        self._holder: Leg | None = None  # who holds (music plays to the other side)
        self._music: asyncio.Task[None] | None = None
        self._playing = False  # the held side hears the music (and is out of the bridge)
        self._connected = False
        self._passed_on: Leg | None = None  # the side a hold was passed on to (re-INVITEd sendonly)
        self._announcing = False  # both sides hear an announcement or a beep (off the bridge meanwhile)
        self._standing = True
        self._digit_handlers: tuple[Callable[[str], None], Callable[[str], None]] | None = None
        self._connect()
        a.on_media_change = b.on_media_change = self._media_changed

    def _connect(self) -> None:
        if self._connected:
            return
        self._connected = True
        a, b = self.a, self.b
        for media in (self._a_media, self._b_media):
            media.stop_playing()  # whatever played (music, an announcement) is over: its waiters go on
        if self.relaying:  # payloads go straight across, digits too (as telephone-events)
            self._a_media.relay_to(self._b_media)
            self._b_media.relay_to(self._a_media)
            a.on_digit = b.on_digit = self._publish
        else:  # on each leg's clock (transcoded if need be); digits re-sent as our own events
            self._from_a = self._a_media.relay_buffer()
            self._from_b = self._b_media.relay_buffer()
            self._b_media.source = Relay(self._from_a)
            self._a_media.source = Relay(self._from_b)
            if not self._carry_digits:
                a.on_digit = b.on_digit = self._publish
            else:
                if self._digit_handlers is None:  # made once: a code half typed survives a beep or a hold
                    self._digit_handlers = (
                        self._digits_to(self._b_media, "self"),
                        self._digits_to(self._a_media, "peer"),
                    )
                a.on_digit, b.on_digit = self._digit_handlers

    def _digits_to(self, other: RtpSession, side: Side) -> Callable[[str], None]:
        """What becomes of a leg's digits: published and sent on to *other*, through a metaflow gate if the call
        has codes and listens on that *side*."""

        def pass_on(digit: str) -> None:
            self._publish(digit)
            other.send_digit(digit)

        gate = self._codes.gate(side, pass_on) if self._codes is not None else None
        if gate is None:
            return pass_on
        self._gates.append(gate)
        return gate.press

    def _disconnect(self) -> None:
        if not self._connected:
            return
        self._connected = False
        self.a.on_digit = self.b.on_digit = self._publish
        if self.relaying:
            self._a_media.relay_to(None)
            self._b_media.relay_to(None)
        else:
            self._a_media.drop_relay_buffer(self._from_a)
            self._b_media.drop_relay_buffer(self._from_b)
        self._a_media.source = self._b_media.source = SILENCE

    async def play_to_both(self, pcm: bytes) -> None:
        """Both sides hear *pcm* (a consent announcement, a beep), off the bridge meanwhile; then bridged again
        (unless music on hold plays by then: its end bridges them). Bounded by the audio's length, whatever else
        happens to the legs meanwhile."""
        self._announcing = True
        self._disconnect()
        try:
            played = asyncio.gather(self._a_media.play(pcm), self._b_media.play(pcm))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(played, len(pcm) / 16000 + 1.0)
        finally:
            self._announcing = False
            if self._standing and not self._playing:
                self._connect()

    def _media_changed(self, leg: Leg) -> None:
        """A re-INVITE on *leg*: a hold begins or ends."""
        other = self.b if leg is self.a else self.a
        held = leg.state is LegState.HELD
        if self._hold_music is None:
            other.hold_far_end(held)
            self._passed_on = other if held else None
        elif held and self._holder is None:
            self._holder = leg
            self._music = asyncio.ensure_future(self._hold(leg, other))
        elif not held and self._holder is leg:
            self._holder = None
            self._resume(other)

    async def _hold(self, holder: Leg, held: Leg) -> None:
        assert self._hold_music is not None
        try:
            pcm = await self._hold_music.for_holder(holder)
            if self._holder is not holder or not self._standing:
                return
            if pcm is None:  # no music set: the far end holds itself
                held.hold_far_end(True)
                self._passed_on = held
                return
            self._disconnect()
            self._playing = True
            self._hold_music.began()
            media = held.media
            while media is not None and self._holder is holder and not held.ended.is_set():
                await media.play(pcm)
        except Exception as exc:  # the music's lookup failed (the store down): the call goes on
            log.error("call-id %s: music on hold failed: %r", held.call_id, exc)

    def _resume(self, held: Leg) -> None:
        music, self._music = self._music, None
        if self._playing:  # back from the music to the bridge
            if music is not None:
                music.cancel()
            self._stop_music(held)
            if self._standing and not self._announcing:
                self._connect()
        elif music is not None and not music.done():  # still looking the music up: nothing changed yet
            music.cancel()
        else:  # the hold was passed on: so is its end
            held.hold_far_end(False)
            self._passed_on = None

    def _stop_music(self, held: Leg) -> None:
        assert self._hold_music is not None
        self._playing = False
        if held.media is not None:
            held.media.stop_playing()
        self._hold_music.ended()

    def unbridge(self) -> None:
        """Stop relaying (both legs fall back to silence on their clock; digits only reach the call)."""
        self._standing = False
        self.a.on_media_change = self.b.on_media_change = None
        if self._music is not None:
            self._music.cancel()
        if self._playing and self._holder is not None:
            self._stop_music(self.b if self._holder is self.a else self.a)
        if self._passed_on is not None:  # a hold passed on ends with the bridge (a transfer takes the caller on)
            self._passed_on.hold_far_end(False)
            self._passed_on = None
        self._disconnect()
        for gate in self._gates:
            gate.close()
        self._gates.clear()
