"""Music on hold (Kazoo's ``music_on_hold.media_id``): when one side of a bridge holds (a re-INVITE ``sendonly`` or
``inactive``), the other hears the holder's music — its device's, else its owner's, else the account's — and the
call's recordings hear it too. With none set anywhere, the hold is passed on to the other side as before. Each hold
is kept (when, how long) for the recordings' metadata."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from calltape.media.library import MediaLibrary
from calltape.recording.metadata import Hold
from calltape.switch.endpoints import Endpoints
from calltape.switch.leg import Leg
from calltape.switch.outbound import OutboundLeg


class MusicServices(Protocol):
    """Where the music is found: the documents that set it, and the media library."""

    endpoints: Endpoints
    media_library: MediaLibrary


class HoldMusic:
    """A call's music on hold and its holds."""

    def __init__(self, services: MusicServices, account_id: str, caller_device: Callable[[], str | None]) -> None:
        self.services = services
        self.account_id = account_id
        self.caller_device = caller_device  # the calling device, once known
        self.holds: list[Hold] = []
        self._since: float | None = None

    async def for_holder(self, leg: Leg) -> bytes | None:
        """The music *leg*'s side has set (8 kHz PCM), or None."""
        device_id = leg.target.device_id if isinstance(leg, OutboundLeg) else self.caller_device()
        media_id = await self._media_id(device_id)
        if media_id is None:
            return None
        return await self.services.media_library.pcm(self.account_id, media_id)

    async def _media_id(self, device_id: str | None) -> str | None:
        endpoints = self.services.endpoints
        device, owner = await endpoints.device_and_owner(self.account_id, device_id) if device_id else (None, None)
        for doc in (device, owner, await endpoints.account(self.account_id)):
            music = (doc or {}).get("music_on_hold")
            if isinstance(music, dict) and isinstance(music.get("media_id"), str) and music["media_id"]:
                return str(music["media_id"])
        return None

    def began(self) -> None:
        """A hold began (the music plays)."""
        self._since = time.time()

    def ended(self) -> None:
        """The hold is over."""
        if self._since is not None:
            self.holds.append(Hold(self._since, time.time() - self._since))
            self._since = None

    def all_holds(self) -> tuple[Hold, ...]:
        """Every hold so far, one still going with its length up to now."""
        ongoing = (Hold(self._since, time.time() - self._since),) if self._since is not None else ()
        return (*self.holds, *ongoing)
