"""What a call's modules use beyond its legs: speech, media, endpoints, mailboxes, documents and recordings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from calltape.media.library import MediaLibrary
from calltape.media.tts import TtsCache
from calltape.recording.manager import RecordingManager
from calltape.switch.directory import AccountDocuments, Mailboxes
from calltape.switch.endpoints import Endpoints
from calltape.switch.feature_codes import FeatureCodes
from calltape.switch.transfer import TransferringCall


class CallServices(Protocol):
    """What a call's modules use beyond its legs."""

    tts: TtsCache
    media_library: MediaLibrary
    endpoints: Endpoints
    mailboxes: Mailboxes
    documents: AccountDocuments
    wall_clock: Callable[[], float]  # Unix time, for business hours (tests set it)

    def call_of_leg(self, call_id: str) -> TransferringCall | None:
        """The running call whose caller's leg has *call_id* (an attended transfer's consultation call)."""

    recordings: RecordingManager | None

    def feature_codes(self, account: dict[str, Any] | None, call: Any) -> FeatureCodes | None:
        """The account's metaflows (feature codes) for *call*'s bridges, their actions run on it; None without."""
