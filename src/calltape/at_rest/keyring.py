"""The keys recordings are encrypted with at rest: the operator's keyring, and a recording's data key (its seal).

Envelope encryption: each recording gets a random 256-bit data key; its files are sealed with it (AES-256-GCM,
``sealed.py``), and the data key is kept in the file's header wrapped (AES-256-GCM) by an account key. An account
names its key in ``recordings.encryption.key_id``; the keys themselves never enter the database or the API. They
come from the keyring file (``--recording-keys FILE``, read again on SIGHUP), one key per line::

    # key id     the key: 32 bytes in base64, or env:NAME (the environment variable NAME holds it in base64)
    acme-2026    q5lN0a9s0nH1Gv3dXr0kqQ2hGmRk0Vx1y2m3Zk4TtS0=
    acme-2027    env:CALLTAPE_KEY_ACME_2027

Rotation adds a key, points the accounts at it and re-wraps the data keys (``calltape keys rewrap``): the audio
is not encrypted again. A key that is missing or wrong never loses a recording: it is kept, and the reason shown.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
KEY_BYTES = 32
NONCE = 12
MAGIC = b"CTSEAL1\n"
_HEADER = struct.Struct(f"<8s64s{NONCE}s{KEY_BYTES + 16}s")
HEADER_SIZE = _HEADER.size  # 132: magic, key id (NUL-padded), the wrap's nonce, the wrapped data key with its tag


class KeyUnavailableError(LookupError):
    """A recording's key is not in the keyring, or does not open it; the message says which and why."""


class Keyring:
    """Account keys by id. ``load`` replaces them all (a file read again); a bad file changes nothing."""

    def __init__(self, keys: Mapping[str, bytes] | None = None) -> None:
        self._keys: dict[str, bytes] = dict(keys or {})
        self.source = ""  # the file the keys came from

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, key_id: str) -> bytes:
        """The key *key_id*; KeyUnavailableError if the keyring has none of that name."""
        try:
            return self._keys[key_id]
        except KeyError:
            where = f" ({self.source})" if self.source else " (no --recording-keys)"
            raise KeyUnavailableError(f"the key {key_id!r} is not in this node's keyring{where}") from None

    def load(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        """Read the keyring file *path*; ValueError with the line at fault, and the old keys kept, if it is bad."""
        self._keys = parse_keyring(path.read_text(), os.environ if environ is None else environ, str(path))
        self.source = str(path)


def parse_keyring(text: str, environ: Mapping[str, str], name: str = "keyring") -> dict[str, bytes]:
    """``ID KEY`` lines (``#`` comments) as keys by id; ValueError naming the line if one is bad."""
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{name} line {number}"
        if len(words) != 2 or not KEY_ID.fullmatch(words[0]):
            raise ValueError(f"{where}: expected a key id (letters, digits, . _ : -) and a key")
        key_id, value = words
        if value.startswith("env:"):
            if value[4:] not in environ:
                raise ValueError(f"{where}: the environment variable {value[4:]} is not set")
            value = environ[value[4:]]
        try:
            key = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ValueError(f"{where}: the key of {key_id!r} is not {KEY_BYTES} bytes in base64")
        if key_id in keys:
            raise ValueError(f"{where}: {key_id!r} is given twice")
        keys[key_id] = key
    return keys


def encryption_key_id(account: Mapping[str, object] | None) -> str | None:
    """The key an account's recordings are sealed with (``recordings.encryption.key_id``), if it asks for it."""
    recordings = (account or {}).get("recordings")
    encryption = recordings.get("encryption") if isinstance(recordings, dict) else None
    key_id = encryption.get("key_id") if isinstance(encryption, dict) else None
    return key_id if isinstance(key_id, str) and key_id else None


def new_key() -> str:
    """A fresh account key, in base64 (for a keyring line)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


#: This process's keyring (the server loads it at start and on SIGHUP; encoder processes get seals, not keys).
KEYRING = Keyring()


@dataclass(frozen=True)
class Seal:
    """One recording's data key and the header that carries it wrapped; every file of the recording (its capture,
    its audio) is sealed with it. Picklable: an encoder process gets it with its job."""

    key_id: str
    data_key: bytes
    header: bytes

    def __repr__(self) -> str:  # never the key in a log line
        return f"Seal(key_id={self.key_id!r})"

    @classmethod
    def new(cls, key_id: str, keyring: Keyring = KEYRING) -> Seal:
        """A fresh data key for a new recording, wrapped by *key_id*'s key."""
        data_key = AESGCM.generate_key(bit_length=256)
        return cls(key_id, data_key, wrap(data_key, key_id, keyring.key(key_id)))

    @classmethod
    def of_header(cls, header: bytes, keyring: Keyring = KEYRING) -> Seal:
        """The seal a file's header carries, its data key unwrapped (KeyUnavailableError: key missing or wrong)."""
        key_id, nonce, wrapped = parse_header(header)
        try:
            data_key = AESGCM(keyring.key(key_id)).decrypt(nonce, wrapped, _wrap_aad(key_id))
        except InvalidTag:
            raise KeyUnavailableError(
                f"the key {key_id!r} in this node's keyring does not open this recording (wrong key)"
            ) from None
        return cls(key_id, data_key, header)

    def rewrapped(self, key_id: str, keyring: Keyring = KEYRING) -> Seal:
        """The same data key wrapped by another account key (rotation: the audio is not encrypted again)."""
        return Seal(key_id, self.data_key, wrap(self.data_key, key_id, keyring.key(key_id)))


def wrap(data_key: bytes, key_id: str, account_key: bytes) -> bytes:
    """The header: *data_key* wrapped by *account_key*, bound to *key_id*."""
    nonce = os.urandom(NONCE)
    wrapped = AESGCM(account_key).encrypt(nonce, data_key, _wrap_aad(key_id))
    return _HEADER.pack(MAGIC, key_id.encode(), nonce, wrapped)


def parse_header(header: bytes) -> tuple[str, bytes, bytes]:
    """(key id, nonce, wrapped data key) of a sealed file's header; ValueError if it is not one."""
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        raise ValueError("not a sealed recording")
    _magic, key_id, nonce, wrapped = _HEADER.unpack_from(header)
    return key_id.rstrip(b"\0").decode(), nonce, wrapped


def _wrap_aad(key_id: str) -> bytes:
    return MAGIC + key_id.encode()
