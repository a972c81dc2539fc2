"""What the fuzzer sends: real traffic and RFC 4475's messages, mutated, plus grammar-built messages.

Every message gets a fresh Call-ID and branch before it is mutated (so the server sees new
transactions, and responses can be matched to what was sent). Three sources:

* ``ordinary``: INVITE (with SDP), REGISTER, OPTIONS, BYE, CANCEL, ACK, INFO as phones send them;
* ``torture``: the RFC 4475 messages in ``shared/sip-torture``;
* ``grammar``: messages assembled field by field from hypothesis strategies (valid and invalid
  values side by side: huge numbers, bad UTF-8, broken URIs, odd SDP).

and one set of mutations over all of them: bytes, lines, header values, numbers, SDP lines, RTP.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TORTURE_DIR = Path(__file__).resolve().parents[3] / "shared" / "sip-torture"
HUGE = "9" * 5000  # more digits than int() converts (4,300)
PADDED = "0" * 5000 + "70"  # a small number behind more leading zeros than int() converts

#: Header values the fuzzing run found harmful, and others of their kind.
NASTY_VALUES = [
    "sip:",
    "<sip:>",
    "<sip:@127.0.0.1>",
    "sip:%%%",
    "<sip:a@%%%>",
    "<sip:a@[zz::1]>",
    "<sip:a@[::1>",
    "<sip:a@127.0.0.1:65536>",
    f"<sip:a@127.0.0.1:{HUGE}>",
    "<sip:a@127.0.0.1:²>",
    "<sip:a@127.0.0.1>;expires=abc",
    f"<sip:a@127.0.0.1>;expires={HUGE}",
    '"unbalanced <sip:a@127.0.0.1>',
    "<sip:a@127.0.0.1>;;tag=1",
    "<sip:a@127.0.0.1>;=x",
    "<http://example.com/>",
    "<tel:+15551234567>",
    "*",
    "",
    " ",
    "\xff\xfe",
    "<sip:\udcff@127.0.0.1>",
    '"\udcc3(" <sip:a@127.0.0.1>;tag=x',
    "<sip:a@127.0.0.1>,<sip:b@127.0.0.1",
    "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK;rport=x",
    "SIP/2.0/UDP [::1;branch=z9hG4bKx",
    f"SIP/2.0/UDP 127.0.0.1:{HUGE};branch=z9hG4bKx",
    f"{HUGE} INVITE",
    f"{PADDED} INVITE",
    "1 INVITE extra",
    "-1 OPTIONS",
    HUGE,
    PADDED,
    "4294967296",
    'Digest username="\udcff", realm="fuzz.example.com", nonce="x", uri="sip:a", response="y", '
    'nc=00000001, cnonce="c", qop=auth, algorithm=MD5',
    'Digest username="u", realm="fuzz.example.com", nonce="unterminated',
    "Digest ,,,,",
]

SDP_NASTY_LINES = [
    "c=IN IP6 ::1",
    "c=IN IP6 ::ffff:127.0.0.1",
    "c=IN IP4 example.com",
    "c=IN IP4 999.1.1.1",
    "c=IN IP4 127.0.0.1/127",
    "c=IN",
    f"m=audio {HUGE} RTP/AVP 0",
    "m=audio 65536 RTP/AVP 0",
    "m=audio ² RTP/AVP 0",
    "m=audio 0 RTP/AVP 0",
    "m=audio 4000 RTP/AVP",
    "m=audio 4000/2 RTP/AVP 0 8",
    "m=video 4000 RTP/AVP 31",
    f"a=ptime:{HUGE}",
    "a=ptime:0",
    f"a=rtpmap:{HUGE} PCMU/8000",
    f"a=rtpmap:0 PCMU/{HUGE}",
    "a=rtpmap:0",
    f"a=fmtp:{HUGE} 0-16",
    f"o=- {HUGE} {HUGE} IN IP4 127.0.0.1",
    "o=",
    "v=1",
    "a=sendonly",
    "a=inactive",
    "b=AS:64",
    "x",
]


def _sdp(host: str = "127.0.0.1", port: int = 40000) -> str:
    return (
        "v=0\r\n"
        f"o=fuzz 1 1 IN IP4 {host}\r\n"
        "s=-\r\n"
        f"c=IN IP4 {host}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 8 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    )


def _request(method: str, ruri: str, *, to_tag: bool = False, body: str = "", extra: str = "") -> str:
    """A request template; ``{id}``, ``{port}``, ``{number}`` and ``{realm}`` are filled in per message."""
    to = "<sip:{number}@{realm}>" + (";tag=t{id}" if to_tag else "")
    content_type = "Content-Type: application/sdp\r\n" if body and method != "INFO" else ""
    if method == "INFO":
        content_type = "Content-Type: application/dtmf-relay\r\n"
    lines = [
        method + " " + ruri + " SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bK{id}",
        "Max-Forwards: 70",
        'From: "Fuzz" <sip:fuzz@{realm}>;tag=f{id}',
        "To: " + to,
        "Call-ID: {id}@fuzz",
        "CSeq: 1 " + method,
        "Contact: <sip:fuzz@127.0.0.1:{port}>",
        "User-Agent: calltape-fuzz",
    ]
    head = "\r\n".join(lines) + "\r\n" + extra + content_type
    return head + "Content-Length: " + str(len(body.encode())) + "\r\n\r\n" + body


def ordinary_templates() -> list[str]:
    """Everyday requests, with ``{id}``, ``{port}``, ``{number}`` and ``{realm}`` to fill in."""
    ruri = "sip:{number}@127.0.0.1"
    auth = (
        'Authorization: Digest username="fuzz", realm="{realm}", nonce="1.2.3", uri="sip:{realm}", '
        'response="0123456789abcdef", algorithm=MD5, cnonce="c", qop=auth, nc=00000001\r\n'
    )
    return [
        _request("INVITE", ruri, body=_sdp()),
        _request("INVITE", ruri, body=_sdp()),
        _request("INVITE", ruri, body=_sdp(), extra="Record-Route: <sip:127.0.0.1:{port};lr>\r\n"),
        _request("INVITE", ruri),
        _request("REGISTER", "sip:{realm}", extra="Expires: 3600\r\n"),
        _request("REGISTER", "sip:{realm}", extra=auth),
        _request("OPTIONS", ruri),
        _request("BYE", ruri, to_tag=True),
        _request("CANCEL", ruri),
        _request("ACK", ruri, to_tag=True),
        _request("INFO", ruri, to_tag=True, body="Signal=5\r\nDuration=160\r\n"),
    ]


def torture_messages() -> list[bytes]:
    """RFC 4475's messages as files."""
    return [p.read_bytes() for p in sorted(TORTURE_DIR.glob("*.dat"))]


# ---- grammar-based generation (hypothesis) -------------------------------------------------------

_TOKEN_ALPHABET = st.sampled_from("abcdefghijklmnopqrstuvwxyzABC0123456789-.!%*_+`'~")
_NASTY_ALPHABET = st.sampled_from([*' \t;:,<>"%@=/\\[]?&\x00\x7f', "\udcff", "é", "²"])
_token = st.text(_TOKEN_ALPHABET, min_size=1, max_size=12)
_text = st.text(st.one_of(_TOKEN_ALPHABET, _NASTY_ALPHABET), max_size=16)
_number = st.one_of(
    st.integers(0, 70).map(str),
    st.integers(0, 2**32).map(str),
    st.sampled_from(["", "-1", "65536", "4294967296", "2147483648", "²", "1e9", HUGE, PADDED]),
)
_host = st.one_of(
    st.just("127.0.0.1"),
    st.just("[::1]"),
    st.just("fuzz.example.com"),
    st.sampled_from(["[zz]", "%%%", "", "[::1", "999.999.999.999", "a..b"]),
)
_port = st.one_of(st.none(), _number)
_params = st.lists(st.tuples(st.one_of(_token, _text), st.one_of(st.none(), _token, _number, _text)), max_size=3).map(
    lambda ps: "".join(f";{k}" if v is None else f";{k}={v}" for k, v in ps)
)


@st.composite
def _uri(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["sip", "sip", "sips", "tel", "http", "SIP", ""]))
    user = draw(st.one_of(st.none(), st.sampled_from(["100", "200", "404", ""]), _token, _text))
    host, port = draw(_host), draw(_port)
    userinfo = f"{user}@" if user is not None else ""
    return f"{scheme}:{userinfo}{host}{'' if port is None else ':' + port}{draw(_params)}"


@st.composite
def _name_addr(draw: st.DrawFn) -> str:
    display = draw(st.one_of(st.none(), _token, _text.map(lambda t: f'"{t}"'), st.just('"open')))
    return f"{display + ' ' if display else ''}<{draw(_uri())}>{draw(_params)}"


@st.composite
def _sdp_body(draw: st.DrawFn) -> str:
    lines = [
        "v=" + draw(st.sampled_from(["0", "0", "1", ""])),
        f"o=- {draw(_number)} {draw(_number)} IN IP4 127.0.0.1",
        "s=-",
        "c=IN " + draw(st.sampled_from(["IP4 127.0.0.1", "IP4 127.0.0.1", "IP6 ::1", "IP4 x", "IP5 1.2.3.4"])),
        "t=0 0",
        f"m=audio {draw(_number)} {draw(st.sampled_from(['RTP/AVP', 'RTP/SAVP', 'udp']))} "
        + " ".join(draw(st.lists(st.one_of(st.sampled_from(["0", "8", "101", "18"]), _number), max_size=4))),
    ]
    lines += draw(st.lists(st.sampled_from([*SDP_NASTY_LINES, "a=rtpmap:0 PCMU/8000", "a=ptime:20"]), max_size=4))
    return "\r\n".join(draw(st.permutations(lines)) if draw(st.booleans()) else lines) + "\r\n"


@st.composite
def grammar_message(draw: st.DrawFn) -> bytes:
    """One request built from fields of valid and invalid values."""
    method = draw(st.sampled_from(["INVITE", "INVITE", "REGISTER", "OPTIONS", "BYE", "CANCEL", "ACK", "INFO", "FOO"]))
    headers = [
        (
            "Via",
            f"SIP/2.0/UDP {draw(_host)}{'' if (p := draw(_port)) is None else ':' + p};branch=z9hG4bK{{id}}"
            + draw(_params),
        ),
        ("From", draw(_name_addr()) + ";tag=f{id}"),
        ("To", draw(_name_addr())),
        ("Call-ID", draw(st.one_of(st.just("{id}@fuzz"), _text.map(lambda t: "{id}" + t)))),
        ("CSeq", f"{draw(_number)} {draw(st.sampled_from([method, method, 'INVITE', 'x y']))}"),
        ("Max-Forwards", draw(_number)),
    ]
    optional = [
        ("Contact", draw(st.one_of(_name_addr(), st.sampled_from(NASTY_VALUES)))),
        ("Expires", draw(_number)),
        ("Record-Route", draw(_name_addr())),
        ("Require", draw(_text)),
        ("Proxy-Authorization", draw(st.sampled_from([v for v in NASTY_VALUES if v.startswith("Digest")]))),
        ("User-Agent", draw(_text)),
    ]
    headers += draw(st.lists(st.sampled_from(optional), max_size=4, unique=True))
    headers = draw(st.permutations(headers)) if draw(st.integers(0, 9)) == 0 else headers
    body = draw(_sdp_body()) if method in ("INVITE", "ACK") and draw(st.booleans()) else ""
    length = str(len(body.encode("utf-8", "surrogateescape"))) if draw(st.integers(0, 9)) else draw(_number)
    head = f"{method} {draw(_uri())} SIP/2.0\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    if body:
        head += "Content-Type: application/sdp\r\n"
    text = f"{head}Content-Length: {length}\r\n\r\n{body}"
    return text.encode("utf-8", "surrogateescape")


def grammar_pool(count: int, seed: int = 0) -> list[bytes]:
    """*count* grammar-built messages (hypothesis draws them; nothing is asserted)."""
    pool: list[bytes] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(grammar_message())
    def collect(message: bytes) -> None:
        pool.append(message)

    collect()
    random.Random(seed).shuffle(pool)
    return pool


# ---- mutation -----------------------------------------------------------------------------------

_SPECIAL = b' \t\r\n:;,<>"%@=/\\[]\x00\xff\xc3'


class Mutator:
    """Byte, line, header-value, number and SDP mutations, chosen at random."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def mutate(self, data: bytes) -> bytes:
        """One to four mutations of *data*."""
        out = data
        for _ in range(self.rnd.randint(1, 4)):
            out = self.rnd.choice(self._OPS)(self, out)
        return out

    def _byte(self, data: bytes) -> bytes:
        if not data:
            return data
        b = bytearray(data)
        at = self.rnd.randrange(len(b))
        b[at] = self.rnd.choice(_SPECIAL + bytes([self.rnd.randrange(256)]))
        return bytes(b)

    def _delete(self, data: bytes) -> bytes:
        if not data:
            return data
        at = self.rnd.randrange(len(data))
        return data[:at] + data[at + self.rnd.randint(1, 24) :]

    def _duplicate(self, data: bytes) -> bytes:
        if not data:
            return data
        at, src = self.rnd.randrange(len(data)), self.rnd.randrange(len(data))
        return data[:at] + data[src : src + self.rnd.randint(1, 40)] + data[at:]

    def _lines(self, data: bytes) -> bytes:
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if len(lines) < 2:
            return data
        i, j = self.rnd.randrange(1, len(lines)), self.rnd.randrange(1, len(lines))
        roll = self.rnd.random()
        if roll < 0.3:
            del lines[i]
        elif roll < 0.55:
            lines.insert(j, lines[i])
        elif roll < 0.75:
            lines[i], lines[j] = lines[j], lines[i]
        else:  # a broken header line early on (responses must still copy what follows)
            lines.insert(1, self.rnd.choice([b"Bad Header", b": x", b"\xff: y", b" folded", b"X-\xc3\x28: 1"]))
        return b"\r\n".join(lines) + sep + body

    def _value(self, data: bytes) -> bytes:
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if len(lines) < 2:
            return data
        i = self.rnd.randrange(1, len(lines))
        name = lines[i].split(b":", 1)[0]
        value = self.rnd.choice(NASTY_VALUES).encode("utf-8", "surrogateescape")
        lines[i] = name + b": " + value
        return b"\r\n".join(lines) + sep + body

    def _number(self, data: bytes) -> bytes:
        digits = [i for i in range(len(data)) if 48 <= data[i] <= 57]
        if not digits:
            return data
        at = self.rnd.choice(digits)
        end = at
        while end < len(data) and 48 <= data[end] <= 57:
            end += 1
        new = self.rnd.choice([HUGE.encode(), PADDED.encode(), b"65536", b"4294967296", b"0", b"-1", "²".encode()])
        return data[:at] + new + data[end:]

    def _sdp(self, data: bytes) -> bytes:
        head, sep, body = data.partition(b"\r\n\r\n")
        if not body.startswith(b"v="):
            return data
        lines = body.rstrip(b"\r\n").split(b"\r\n")
        new = self.rnd.choice(SDP_NASTY_LINES).encode()
        if self.rnd.random() < 0.6:  # replace the line of the same kind, else add
            same = [i for i, line in enumerate(lines) if line[:2] == new[:2]]
            if same:
                lines[self.rnd.choice(same)] = new
            else:
                lines.append(new)
        else:
            lines.insert(self.rnd.randrange(len(lines) + 1), new)
        body = b"\r\n".join(lines) + b"\r\n"
        return fix_length(head + sep + body) if self.rnd.random() < 0.8 else head + sep + body

    _OPS = (_byte, _byte, _delete, _duplicate, _lines, _value, _value, _number, _sdp, _sdp)


def fix_length(data: bytes) -> bytes:
    """Set Content-Length to the body's real length (so a mutated SDP reaches the SDP parser)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:")]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + sep + body


def rtp_garbage(rnd: random.Random) -> bytes:
    """A broken or odd RTP packet."""
    kind = rnd.randrange(6)
    if kind == 0:
        return rnd.randbytes(rnd.randint(0, 11))  # shorter than a header
    if kind == 1:
        return bytes([0x8F, 0]) + rnd.randbytes(10)  # 15 CSRCs announced, none there
    if kind == 2:
        return bytes([0x90, 0]) + rnd.randbytes(10) + b"\xff\xff\xff\xff"  # extension longer than the packet
    if kind == 3:
        return bytes([0xA0, 0]) + rnd.randbytes(10) + b"\x00" * 10 + b"\xff"  # padding larger than the payload
    if kind == 4:
        return bytes([0x80, rnd.randrange(256)]) + rnd.randbytes(10) + rnd.randbytes(160)
    return bytes([0x80, 101]) + rnd.randbytes(10) + rnd.randbytes(rnd.randint(0, 8))  # DTMF events of any size


def fresh_ids(template: bytes | str, port: int, number: str, realm: str) -> tuple[bytes, str]:
    """Fill a template's placeholders with a new Call-ID/branch; returns (bytes, id)."""
    ident = uuid.uuid4().hex
    data = template.encode("utf-8", "surrogateescape") if isinstance(template, str) else template
    data = (
        data.replace(b"{id}", ident.encode())
        .replace(b"{port}", str(port).encode())
        .replace(b"{number}", number.encode())
        .replace(b"{realm}", realm.encode())
    )
    return data, ident
