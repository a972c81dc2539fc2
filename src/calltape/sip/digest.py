"""HTTP Digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760): SHA-256 and MD5 with qop=auth.

The challenger's nonces are self-validating (time, random part and an HMAC over both and the
realm), so any node holding the shared secret can check them. Each nonce's nonce-count must
increase: a replayed nc is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

from calltape.sip.message import Response
from calltape.sip.syntax import SipSyntaxError, is_utf8, quote, split_outside_quotes, unquote

ALGORITHMS = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}


class Verdict(Enum):
    """The outcome of checking credentials."""

    OK = "ok"
    STALE = "stale"  # right password, expired nonce: challenge again with stale=true
    FAILED = "failed"


@dataclass(frozen=True)
class Credentials:
    """A parsed ``Authorization`` / ``Proxy-Authorization`` header."""

    scheme: str
    params: dict[str, str]

    @property
    def username(self) -> str:
        """The username parameter ("" if absent)."""
        return self.params.get("username", "")

    @property
    def realm(self) -> str:
        """The realm parameter ("" if absent)."""
        return self.params.get("realm", "")


def parse_auth_header(value: str) -> Credentials:
    """Parse ``Digest k=v, k="v", …`` (also works for WWW-Authenticate)."""
    if not is_utf8(value):  # hashed and looked up as text: checked once, here
        raise SipSyntaxError("authorization header is not UTF-8")
    scheme, _, rest = value.strip().partition(" ")
    if not scheme:
        raise SipSyntaxError("empty authorization header")
    params: dict[str, str] = {}
    for item in split_outside_quotes(rest, ",", angle=False):
        key, eq, val = item.strip().partition("=")
        if not eq:
            if key:
                raise SipSyntaxError(f"bad auth parameter {key!r}")
            continue
        params[key.strip().lower()] = unquote(val.strip())
    return Credentials(scheme, params)


def _h(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode("utf-8")).hexdigest()


def digest_response(
    algorithm: str, username: str, realm: str, password: str, method: str, uri: str, nonce: str, nc: str, cnonce: str
) -> str:
    """The ``response`` value for qop=auth."""
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


class DigestChallenger:
    """Issues challenges and checks credentials for one node (or several sharing *secret*)."""

    def __init__(self, secret: bytes, nonce_lifetime: float = 300.0, algorithms: tuple[str, ...] = ("SHA-256", "MD5")):
        self._secret = secret
        self.nonce_lifetime = nonce_lifetime
        self.algorithms = algorithms
        self._last_nc: dict[str, tuple[int, float]] = {}

    def challenges(self, realm: str, now: float, *, stale: bool = False) -> list[str]:
        """One ``WWW-Authenticate`` value per algorithm, strongest first (RFC 8760 §2.4)."""
        nonce = self._new_nonce(realm, now)
        opaque = secrets.token_hex(8)
        stale_part = ", stale=true" if stale else ""
        return [
            f'Digest realm={quote(realm)}, nonce="{nonce}", opaque="{opaque}", algorithm={alg}, qop="auth"{stale_part}'
            for alg in self.algorithms
        ]

    def verify(self, credentials: Credentials, method: str, realm: str, password: str | None, now: float) -> Verdict:
        """Check *credentials* for a request of *method*; *password* None means an unknown user.

        An unknown user costs the same hashing as a known one, so timing tells nothing.
        """
        p = credentials.params
        algorithm = p.get("algorithm", "MD5").upper()
        fields_ok = (
            credentials.scheme.lower() == "digest"
            and algorithm in self.algorithms
            and p.get("qop", "").lower() == "auth"
            and p.get("realm") == realm
            and all(k in p for k in ("username", "nonce", "uri", "response", "nc", "cnonce"))
        )
        if not fields_ok:
            return Verdict.FAILED
        expected = digest_response(
            algorithm,
            p["username"],
            realm,
            password if password is not None else secrets.token_hex(16),
            method,
            p["uri"],
            p["nonce"],
            p["nc"],
            p["cnonce"],
        )
        if password is None or not hmac.compare_digest(expected, p["response"].lower()):
            return Verdict.FAILED
        issued = self._nonce_time(p["nonce"], realm)
        if issued is None:
            return Verdict.FAILED
        if now - issued > self.nonce_lifetime:
            return Verdict.STALE
        return Verdict.OK if self._fresh_nc(p["nonce"], p["nc"], now) else Verdict.FAILED

    def _new_nonce(self, realm: str, now: float) -> str:
        body = f"{int(now * 1000):x}.{secrets.token_hex(8)}"
        return f"{body}.{self._sign(body, realm)}"

    def _sign(self, body: str, realm: str) -> str:
        return hmac.new(self._secret, f"{body}:{realm}".encode(), hashlib.sha256).hexdigest()[:32]

    def _nonce_time(self, nonce: str, realm: str) -> float | None:
        body, _, signature = nonce.rpartition(".")
        if not body or not hmac.compare_digest(self._sign(body, realm), signature):
            return None
        try:
            return int(body.split(".", 1)[0], 16) / 1000
        except ValueError:
            return None

    def _fresh_nc(self, nonce: str, nc_text: str, now: float) -> bool:
        try:
            nc = int(nc_text, 16)
        except ValueError:
            return False
        last = self._last_nc.get(nonce)
        if last is not None and nc <= last[0]:
            return False
        self._last_nc[nonce] = (nc, now)
        if len(self._last_nc) > 100_000:
            horizon = now - self.nonce_lifetime
            self._last_nc = {k: v for k, v in self._last_nc.items() if v[1] >= horizon}
        return True


def answer_challenge(
    challenge: str, method: str, uri: str, username: str, password: str, *, nc: int = 1, cnonce: str | None = None
) -> str:
    """An ``Authorization`` value answering a ``WWW-Authenticate`` challenge (the client side)."""
    params = parse_auth_header(challenge).params
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS:
        raise SipSyntaxError(f"unsupported digest algorithm {algorithm}")
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    cnonce = cnonce or secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    response = digest_response(algorithm, username, realm, password, method, uri, nonce, nc_text, cnonce)
    parts = [
        f"username={quote(username)}",
        f"realm={quote(realm)}",
        f"nonce={quote(nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(response)}",
        f"algorithm={algorithm}",
        f"cnonce={quote(cnonce)}",
        "qop=auth",
        f"nc={nc_text}",
    ]
    if "opaque" in params:
        parts.append(f"opaque={quote(params['opaque'])}")
    return "Digest " + ", ".join(parts)


def authorization_for(response: Response, method: str, uri: str, username: str, password: str) -> tuple[str, str]:
    """(header, value) answering a 401's ``WWW-Authenticate`` or a 407's ``Proxy-Authenticate`` (the last
    challenge: servers list their most preferred algorithm first and MD5 last); ValueError if there is none."""
    name, header = (
        ("WWW-Authenticate", "Authorization")
        if response.status == 401
        else ("Proxy-Authenticate", "Proxy-Authorization")
    )
    challenges = response.headers.get_lines(name)
    if not challenges:
        raise ValueError(f"a {response.status} without {name}")
    return header, answer_challenge(challenges[-1], method, uri, username, password)
