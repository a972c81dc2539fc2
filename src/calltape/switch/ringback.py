"""A ring group's own ringback (Kazoo's ``ringback``): while the phones ring, the caller gets early media (183 with
our SDP, or the answered call's audio) and hears the prompt, again and again, instead of the usual ringing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from calltape.media.clock import MediaTimeline
from calltape.media.ports import PortsExhaustedError
from calltape.switch.call_types import CallEndedError
from calltape.switch.leg import InboundLeg, Leg, LegEndedError


class Ringback:
    """Plays *pcm_of()*'s audio to the call's party from ``start()`` until ``stop()`` (the caller's leg, answered
    or not, or a transferee that took its place)."""

    def __init__(self, a_leg: Leg, timeline: MediaTimeline, pcm_of: Callable[[], Awaitable[bytes | None]]) -> None:
        self.a_leg = a_leg
        self.timeline = timeline
        self.pcm_of = pcm_of
        self._started = False
        self._stopped = False

    def start(self, spawn: Callable[[Coroutine[Any, Any, None]], object]) -> None:
        """Begin (once), as a task of *spawn*'s (which logs a failure): early media if the caller is not answered
        yet, then the prompt in a loop."""
        if not self._started and not self._stopped:
            self._started = True
            spawn(self._play())

    async def _play(self) -> None:
        try:
            pcm = await self.pcm_of()
            if not pcm or self._stopped:
                return
            if self.a_leg.dialog is None and isinstance(self.a_leg, InboundLeg):
                self.a_leg.timeline = self.timeline
                await self.a_leg.early_media()
            media = self.a_leg.media
            while media is not None and not self._stopped and not self.a_leg.ended.is_set():
                await media.play(pcm)
        except (CallEndedError, LegEndedError, PortsExhaustedError):
            return  # the caller left while the phones rang

    def stop(self) -> None:
        """The ringing is over: the prompt stops where it is (its loop sees the flag and ends)."""
        self._stopped = True
        if self._started and self.a_leg.media is not None:
            self.a_leg.media.stop_playing()
