"""SDP (RFC 4566) and the offer/answer model (RFC 3264) for one audio stream of G.711 + RFC 4733."""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass, field

from calltape.media.srtp import Crypto, SrtpKeys, accepted_keys, answer_keys, parse_crypto

STATIC_PAYLOADS = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
SUPPORTED_CODECS = ("PCMU", "PCMA")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_DIGITS = re.compile(r"[0-9]{1,10}")
_FAMILIES = {4: "IP4", 6: "IP6"}
_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


class SdpError(ValueError):
    """Unparsable SDP (answer 400) or nothing we can accept (answer 488)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    @property
    def reason(self) -> str:
        """A SIP reason phrase naming what was wrong: ``Not Acceptable Here (no common codec …)``."""
        return f"{'Not Acceptable Here' if self.status == 488 else 'Bad Request'} ({self})"


@dataclass
class Media:
    """One m= section."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    direction: str | None = None
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)
    ptime: int | None = None
    crypto: list[Crypto] = field(default_factory=list)  # RFC 4568 lines of a suite calltape speaks, in order

    def codec(self, pt: int) -> tuple[str, int] | None:
        """(encoding name upper-cased, clock rate) of payload type *pt*."""
        if pt in self.rtpmap:
            return self.rtpmap[pt]
        return STATIC_PAYLOADS.get(pt)


@dataclass
class SessionDescription:
    """A parsed SDP body."""

    origin_user: str = "-"
    session_id: str = "0"
    session_version: int = 0
    origin_address: str = "0.0.0.0"
    name: str = "-"
    connection: str | None = None
    direction: str | None = None
    media: list[Media] = field(default_factory=list)


@dataclass(frozen=True)
class Negotiated:
    """What an offer/answer settled for the audio stream."""

    payload_type: int
    codec: str  # PCMU or PCMA
    dtmf_payload_type: int | None
    remote_address: str
    remote_port: int
    direction: str  # our direction, from our point of view
    srtp: SrtpKeys | None = None  # an RTP/SAVP offer: its key and ours

    @property
    def our_crypto(self) -> Crypto | None:
        """Our SRTP key, as our SDP carries it (None in the clear)."""
        return self.srtp.ours if self.srtp is not None else None

    @property
    def on_hold(self) -> bool:
        """The far end does not want our audio (or sends none)."""
        return self.direction in ("recvonly", "inactive") or self.remote_address in ("0.0.0.0", "::")


def parse_sdp(body: bytes | str) -> SessionDescription:
    """Parse an SDP body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    sdp = SessionDescription()
    current: Media | None = None
    saw_version = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"bad SDP line {line[:30]!r}")
        kind, value = line[0], line[2:]
        if kind == "v":
            saw_version = True
        elif kind == "o":
            parts = value.split()
            if len(parts) != 6:
                raise SdpError("bad o= line")
            sdp.origin_user, sdp.session_id = parts[0], parts[1]
            sdp.session_version = _small_uint(parts[2], 2**63) or 0
            sdp.origin_address = parts[5]
        elif kind == "s":
            sdp.name = value
        elif kind == "c":
            address = _connection_address(value)
            if current is None:
                sdp.connection = address
            else:
                current.connection = address
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise SdpError("bad m= line")
            current = Media(parts[0], _uint(parts[1].split("/")[0], 65535, "m= port"), parts[2], parts[3:])
            sdp.media.append(current)
        elif kind == "a":
            _attribute(sdp, current, value)
    if not saw_version:
        raise SdpError("missing v= line")
    return sdp


def _uint(text: str, limit: int, what: str) -> int:
    """ASCII digits no greater than *limit* (SDP's numbers are bounded; int() never sees a huge one)."""
    value = _small_uint(text, limit)
    if value is None:
        raise SdpError(f"bad {what} {text[:20]!r}")
    return value


def _connection_address(value: str) -> str:
    """The address of ``c=IN IP4 192.0.2.1`` — an IP literal of the family the line names."""
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError("bad c= line")
    address = parts[2].split("/")[0]
    try:
        family = _FAMILIES[ipaddress.ip_address(address).version]
    except ValueError:
        raise SdpError(f"c= address {address[:40]!r} is not an IP address", 488) from None
    if family != parts[1]:
        raise SdpError(f"c= says {parts[1]} but {address[:40]!r} is not")
    return address


def _attribute(sdp: SessionDescription, media: Media | None, value: str) -> None:
    name, _, rest = value.partition(":")
    if name in DIRECTIONS:
        if media is None:
            sdp.direction = name
        else:
            media.direction = name
    elif media is None:
        return
    elif name == "rtpmap":  # a malformed attribute is ignored, as an unknown one would be (RFC 4566 §5.13)
        pt, _, encoding = rest.partition(" ")
        parts = encoding.split("/")
        payload_type, rate = _small_uint(pt, 127), _small_uint(parts[1] if len(parts) > 1 else "", 10**6)
        if payload_type is not None and rate is not None:
            media.rtpmap[payload_type] = (parts[0].upper(), rate)
    elif name == "fmtp":
        pt, _, params = rest.partition(" ")
        if (payload_type := _small_uint(pt, 127)) is not None:
            media.fmtp[payload_type] = params
    elif name == "ptime":
        media.ptime = _small_uint(rest.strip(), 10_000)
    elif name == "crypto" and (crypto := parse_crypto(rest)) is not None:
        media.crypto.append(crypto)


def _small_uint(text: str, limit: int) -> int | None:
    """Digits no greater than *limit*, else None."""
    return int(text) if _DIGITS.fullmatch(text) and int(text) <= limit else None


def build_sdp(
    address: str,
    port: int,
    payload_types: list[tuple[int, str]],
    dtmf_payload_type: int | None,
    *,
    direction: str = "sendrecv",
    session_id: str | None = None,
    version: int = 1,
    crypto: Crypto | None = None,
) -> bytes:
    """Our SDP: one audio stream, 20 ms packets; with *crypto*, SRTP (``RTP/SAVP`` and our key)."""
    family = "IP6" if ":" in address else "IP4"
    formats = [str(pt) for pt, _ in payload_types] + ([str(dtmf_payload_type)] if dtmf_payload_type is not None else [])
    lines = [
        "v=0",
        f"o=calltape {session_id or secrets.randbelow(2**31)} {version} IN {family} {address}",
        "s=calltape",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} {'RTP/SAVP' if crypto else 'RTP/AVP'} {' '.join(formats)}",
    ]
    if crypto is not None:
        lines.append(f"a={crypto.attribute()}")
    lines += [f"a=rtpmap:{pt} {name}/8000" for pt, name in payload_types]
    if dtmf_payload_type is not None:
        lines += [f"a=rtpmap:{dtmf_payload_type} telephone-event/8000", f"a=fmtp:{dtmf_payload_type} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def negotiate(
    offer: SessionDescription,
    families: frozenset[str] = frozenset({"IP4", "IP6"}),
    *,
    offered: Crypto | None = None,
    srtp_required: bool = False,
    keep_ours: bool = False,
    is_answer: bool = False,
) -> Negotiated:
    """Pick codec, DTMF and direction from an offer (RFC 3264 §6); SdpError(488) if nothing fits.

    *families* are the address families our RTP sockets can send to; an offer in another is refused. For the
    answer to an offer of ours (*is_answer*), *offered* is the SRTP key we offered (the answer's key for it is
    taken; an SRTP answer to a plain offer is refused), and *srtp_required* refuses an answer in the clear. A
    re-offer on an SRTP call (*keep_ours*) is answered with the key in use, *offered*.
    """
    audio = next((m for m in offer.media if m.kind == "audio" and m.port != 0 and m.proto.startswith("RTP/")), None)
    if audio is None:
        raise SdpError("no audio stream offered", 488)
    chosen: tuple[int, str] | None = None
    for fmt in audio.formats:  # the offerer's order wins among what we support (RFC 3264 §6.1)
        if (
            _DIGITS.fullmatch(fmt)
            and (codec := audio.codec(int(fmt)))
            and codec[0] in SUPPORTED_CODECS
            and codec[1] == 8000
        ):
            chosen = (int(fmt), codec[0])
            break
    if chosen is None:
        raise SdpError("no common codec (calltape speaks PCMU and PCMA)", 488)
    dtmf = next(
        (
            int(f)
            for f in audio.formats
            if _DIGITS.fullmatch(f) and (c := audio.codec(int(f))) and c[0] == "TELEPHONE-EVENT" and c[1] == 8000
        ),
        None,
    )
    address = audio.connection or offer.connection
    if address is None:
        raise SdpError("no c= line for the audio stream")
    family = _FAMILIES[ipaddress.ip_address(address).version]
    if family not in families:
        raise SdpError(f"calltape's media here is {'/'.join(sorted(families))} only, the offer is {family}", 488)
    their_direction = audio.direction or offer.direction or "sendrecv"
    srtp = None
    if "SAVP" in audio.proto.upper():  # SRTP (SDES): their key, and ours (offered, or one for this answer)
        if offered is not None and keep_ours:
            srtp = SrtpKeys(audio.crypto[0], offered) if audio.crypto else None
        elif offered is not None:
            srtp = accepted_keys(audio.crypto, offered)
        elif is_answer:
            raise SdpError("an SRTP answer to an offer in the clear", 488)
        else:
            srtp = answer_keys(audio.crypto)
        if srtp is None:
            raise SdpError("SRTP without a crypto suite calltape speaks (AES_CM_128_HMAC_SHA1_80/32)", 488)
    elif srtp_required:
        raise SdpError("SRTP is required, the media is in the clear", 488)
    direction = _ANSWER_DIRECTION[their_direction]
    return Negotiated(chosen[0], chosen[1], dtmf, address, audio.port, direction, srtp)


def answer_sdp(negotiated: Negotiated, address: str, port: int, session_id: str, version: int) -> bytes:
    """Our answer to an offer we negotiated."""
    return build_sdp(
        address,
        port,
        [(negotiated.payload_type, negotiated.codec)],
        negotiated.dtmf_payload_type,
        direction=negotiated.direction,
        session_id=session_id,
        version=version,
        crypto=negotiated.our_crypto,
    )


def offer_sdp(address: str, port: int, session_id: str, version: int, crypto: Crypto | None = None) -> bytes:
    """Our offer (late-offer INVITEs get it in the 200): PCMU, PCMA and telephone-event/101; with *crypto*, SRTP."""
    payloads = [(0, "PCMU"), (8, "PCMA")]
    return build_sdp(address, port, payloads, 101, session_id=session_id, version=version, crypto=crypto)
