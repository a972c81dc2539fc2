"""SRTP with keys from the SDP (RFC 4568 SDES): ``a=crypto`` lines of an ``RTP/SAVP`` offer, our own key for
the answer, and libsrtp (``pylibsrtp``) to protect what we send and check and decrypt what we receive. A key is
never logged: the key fields are left out of every repr.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field

from pylibsrtp import Error as SrtpError
from pylibsrtp import Policy, Session

from calltape.digits import is_number

SUITES = {  # RFC 4568 §6.2's suites calltape speaks, and libsrtp's profile for each
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
KEY_AND_SALT = 30  # bytes: a 128-bit master key and a 112-bit master salt


@dataclass(frozen=True)
class Crypto:
    """One ``a=crypto`` line: its tag, suite and master key+salt."""

    tag: int
    suite: str
    key: bytes = field(repr=False)

    def attribute(self) -> str:
        """The line's value, as our SDP carries it."""
        return f"crypto:{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"


@dataclass(frozen=True)
class SrtpKeys:
    """What an SDES exchange settled: the far end's key (for what it sends) and ours (for what we send)."""

    theirs: Crypto
    ours: Crypto

    def sessions(self) -> tuple[Session, Session]:
        """(inbound, outbound) libsrtp sessions: check and decrypt what comes, protect what goes."""
        outbound = Policy(self.ours.key, Policy.SSRC_ANY_OUTBOUND, srtp_profile=SUITES[self.ours.suite])
        return self.inbound(), Session(outbound)  # an index sent twice is refused (no keystream reuse)

    def inbound(self) -> Session:
        """A session for what the far end sends (also when its key changed: a re-INVITE)."""
        return Session(Policy(self.theirs.key, Policy.SSRC_ANY_INBOUND, srtp_profile=SUITES[self.theirs.suite]))


def parse_crypto(value: str) -> Crypto | None:
    """``<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:len]`` → a Crypto; None for a suite calltape does
    not speak or a line it cannot read (RFC 4568: such lines are skipped, not refused)."""
    parts = value.split()
    if len(parts) != 3 or not is_number(parts[0], 9) or parts[1] not in SUITES or not parts[2].startswith("inline:"):
        return None  # session parameters (UNENCRYPTED_SRTP, KDR, …) are not spoken: the line is skipped
    inline = parts[2][len("inline:") :].split("|")
    if len(inline) > 2 or any(p.startswith("MKI") or ":" in p for p in inline[1:]):
        return None  # MKIs are not used by phones; a lifetime alone is fine
    try:
        key = base64.b64decode(inline[0], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(key) != KEY_AND_SALT:
        return None
    return Crypto(int(parts[0]), parts[1], key)


def new_crypto(tag: int = 1, suite: str = "AES_CM_128_HMAC_SHA1_80") -> Crypto:
    """A fresh key of ours, for an offer."""
    return Crypto(tag, suite, os.urandom(KEY_AND_SALT))


def accepted_keys(answered: list[Crypto], offered: Crypto) -> SrtpKeys | None:
    """The answer's key for the line we offered (same tag and suite), with our offered key; None if it has none."""
    theirs = next((c for c in answered if (c.tag, c.suite) == (offered.tag, offered.suite)), None)
    return SrtpKeys(theirs, offered) if theirs is not None else None


def answer_keys(offered: list[Crypto]) -> SrtpKeys | None:
    """The first offered crypto line calltape speaks, with a fresh key of ours in the same suite and tag."""
    if not offered:
        return None
    theirs = offered[0]
    return SrtpKeys(theirs, new_crypto(theirs.tag, theirs.suite))


__all__ = ["Crypto", "Session", "SrtpError", "SrtpKeys", "accepted_keys", "answer_keys", "new_crypto", "parse_crypto"]
