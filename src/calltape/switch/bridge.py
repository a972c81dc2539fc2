"""A bridge: two answered legs, each sending what the other receives.

Same codec on both legs: payloads are relayed as they came (new SSRC, sequence and timestamp on
the way out) and never decoded unless a tap listens; PCMU↔PCMA are transcoded. RFC 4733 and INFO
digits cross over (and still reach the call's DTMF bus); a hold on one side (re-INVITE sendonly or
inactive) is passed to the other as a re-INVITE of ours. Unbridging puts both legs back on silence.
"""

from __future__ import annotations

from collections.abc import Callable

from calltape.media.outbound import Relay
from calltape.media.session import SILENCE, RtpSession
from calltape.switch.leg import Leg, LegState


class Bridge:
    """Relays media and digits between two legs while it stands."""

    def __init__(self, a: Leg, b: Leg, publish_digit: Callable[[str], None]) -> None:
        assert a.media is not None and b.media is not None
        self.a, self.b = a, b
        self._publish = publish_digit
        self._a_media: RtpSession = a.media
        self._b_media: RtpSession = b.media
        self.relaying = self._a_media.codec.name == self._b_media.codec.name
        if self.relaying:  # payloads go straight across, digits too (as telephone-events)
            self._a_media.relay_to(self._b_media)
            self._b_media.relay_to(self._a_media)
            a.on_digit = b.on_digit = publish_digit
        else:  # transcoded on each leg's clock; digits re-sent as our own events
            self._from_a = self._a_media.relay_buffer()
            self._from_b = self._b_media.relay_buffer()
            self._b_media.source = Relay(self._from_a)
            self._a_media.source = Relay(self._from_b)

            def a_digit(digit: str) -> None:
                publish_digit(digit)
                self._b_media.send_digit(digit)

            def b_digit(digit: str) -> None:
                publish_digit(digit)
                self._a_media.send_digit(digit)

            a.on_digit, b.on_digit = a_digit, b_digit
        a.on_media_change = lambda leg: b.hold_far_end(leg.state is LegState.HELD)
        b.on_media_change = lambda leg: a.hold_far_end(leg.state is LegState.HELD)

    def unbridge(self) -> None:
        """Stop relaying (both legs fall back to silence on their clock; digits only reach the call)."""
        self.a.on_digit = self.b.on_digit = self._publish
        self.a.on_media_change = self.b.on_media_change = None
        if self.relaying:
            self._a_media.relay_to(None)
            self._b_media.relay_to(None)
        else:
            self._a_media.drop_relay_buffer(self._from_a)
            self._b_media.drop_relay_buffer(self._from_b)
        self._a_media.source = self._b_media.source = SILENCE
