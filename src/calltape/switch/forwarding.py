"""Call forwarding: Kazoo's ``call_forward`` on a device or its owner, reached the way Kazoo's loopback is.

The forwarded number is dialled through the account's own callflows, so it can be an extension, a voicemail
box or a carrier device, whatever the account routes it to. To get there calltape calls itself: the forward
is an INVITE to calltape's own SIP address for that number, with an ``X-Calltape-Forward`` header naming the
account, the forwarding device and how many forwards deep the call is, signed (HMAC-SHA256, with an expiry,
under a secret that calltape's processes share) over the leg's Call-ID and the number. That INVITE is taken
as a call from the forwarding device; each Call-ID is taken once; a header that does not verify gets 403.
A forward that would go deeper than ``MAX_HOPS`` is not placed (A forwards to B, B to A, …).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from calltape.digits import is_number
from calltape.sip.message import Request
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.uri import SipUri, parse_uri

FORWARD_HEADER = "X-Calltape-Forward"
MAX_HOPS = 3
SIGNATURE_TTL = 30.0  # seconds an INVITE of ours may take to arrive
CONFIRM_PROMPT = "You have a forwarded call. Press 1 to accept it."
CONFIRM_SECONDS = 5.0  # after the prompt, for the 1


class CallForward(BaseModel):
    """Kazoo's ``call_forward`` of a device or user, with Kazoo's defaults (checked when either is saved)."""

    model_config = ConfigDict(extra="allow", strict=True)
    enabled: bool = False
    number: Annotated[str, StringConstraints(pattern=r"^\+?[0-9*#]{1,35}$")] | None = None
    substitute: bool = True  # ring only the forwarded number (False: the device too)
    failover: bool = False  # forward only while the device cannot be reached (not registered)
    keep_caller_id: bool = True  # the forwarded number sees the caller (False: the device's caller ID)
    require_keypress: bool = True  # whoever answers presses 1 before the caller is put through
    ignore_early_media: bool = True
    direct_calls_only: bool = False  # accepted: every call calltape rings is direct (it has no ring groups)

    @model_validator(mode="after")
    def _enabled_needs_number(self) -> CallForward:
        if self.enabled and not self.number:
            raise ValueError("enabled call forwarding needs a number")
        return self

    @classmethod
    def of(cls, device: dict[str, Any], owner: dict[str, Any] | None) -> CallForward | None:
        """The owner's forwarding when enabled, else the device's; None when neither forwards."""
        for doc in (owner or {}, device):
            raw = doc.get("call_forward")
            if not isinstance(raw, dict):
                continue
            try:
                settings = cls.model_validate(raw)
            except ValidationError:
                continue  # stored before validation existed: ignored rather than guessed
            if settings.enabled:
                return settings
        return None

    @property
    def hears_early_media(self) -> bool:
        """Whether the caller may hear the forwarded number's early media (Kazoo: never with a keypress or
        while the device rings too)."""
        return not (self.ignore_early_media or self.require_keypress or not self.substitute)


@dataclass(frozen=True)
class Forwarded:
    """A verified forward: from which device of which account, and how many forwards deep."""

    account_id: str
    device_id: str
    hops: int


class Forwarding:
    """Signs the INVITEs calltape sends itself for a forward, and checks the ones it receives."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(secret, b"calltape call forwarding v1", hashlib.sha256).digest()
        self.clock = clock
        self.host = ""  # calltape's own SIP address, once it listens
        self.port = 0
        self._taken: dict[str, float] = {}  # Call-IDs already taken, until their signature expires

    def listening(self, host: str, port: int) -> None:
        """Where calltape's SIP listens; a wildcard bind is reached on the loopback address."""
        address = ipaddress.ip_address(host)
        if address.is_unspecified:
            host = "::1" if address.version == 6 else "127.0.0.1"
        self.host, self.port = host, port

    @property
    def ready(self) -> bool:
        """True once calltape listens (forwards can be placed)."""
        return self.port != 0

    def uri(self, number: str) -> str:
        """The Request-URI of a forward to *number*."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"sip:{number}@{host}:{self.port}"

    def header(self, call_id: str, number: str, account_id: str, device_id: str, hops: int) -> tuple[str, str]:
        """The signed header for the forward leg with *call_id*."""
        expires = int(self.clock() + SIGNATURE_TTL)
        sig = self._signature(call_id, number, account_id, device_id, hops, expires)
        value = f"account={account_id};device={device_id};hops={hops};expires={expires};sig={sig}"
        return FORWARD_HEADER, value

    def verify(self, request: Request) -> Forwarded | None:
        """The forward *request* carries, or None if its header is malformed, forged, expired or used."""
        fields = dict(part.strip().partition("=")[::2] for part in str(request.headers.get(FORWARD_HEADER)).split(";"))
        account_id, device_id = fields.get("account", ""), fields.get("device", "")
        hops, expires, sig = fields.get("hops", ""), fields.get("expires", ""), fields.get("sig", "")
        now = self.clock()
        if not (account_id and device_id and is_number(hops) and is_number(expires)) or int(expires) < now:
            return None
        expected = self._signature(request.call_id, _number_of(request), account_id, device_id, int(hops), int(expires))
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            return None
        self._taken = {call_id: until for call_id, until in self._taken.items() if until >= now}
        if request.call_id in self._taken:
            return None
        self._taken[request.call_id] = int(expires)
        return Forwarded(account_id, device_id, int(hops))

    def _signature(self, call_id: str, number: str, account_id: str, device_id: str, hops: int, expires: int) -> str:
        message = f"{call_id}\n{number}\n{account_id}\n{device_id}\n{hops}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _number_of(request: Request) -> str:
    try:
        uri = parse_uri(request.uri)
    except SipSyntaxError:
        return ""
    return (uri.user_unescaped or "") if isinstance(uri, SipUri) else ""
