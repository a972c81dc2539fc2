"""Tamper evidence: each finished recording gets a manifest signed with the node's Ed25519 key.

The manifest names the file (``file``: name, format, size, SHA-256), the call (``call``: recording, account and
call ids, start and length in milliseconds), the node and the key, and ``metadata_sha256``: the SHA-256 of the
recording's metadata document as it was when the file was made, whose exact text rides along as
``metadata_json`` (in the recording's document, the API and the webhooks; not on the upload's header, where the
hash stands for it). ``signature`` is Ed25519 over the canonical JSON of every other field — keys sorted, no
spaces, UTF-8, and only strings and integers in it, so any language rebuilds the same bytes. ``public_key`` is
the raw 32-byte key in base64, ``key_id`` the first 16 hex digits of its SHA-256. A manifest proves nothing by
its own key alone: compare ``key_id`` with the node's keys, served at ``GET /v2/signing_keys``, or give the key
to ``calltape verify --key``.

The key is made once per data directory (``keys/recording-signing.pem``, readable by its owner only); every worker
of a node signs with it, and each node's public key is in the database for every node's API to serve.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
KEY_FILE = Path("keys") / "recording-signing.pem"
HEADER = "X-Calltape-Manifest"  # on an upload: the manifest (without metadata_json) as base64 of its JSON
METADATA = "metadata_json"  # the signed metadata's text: bound by metadata_sha256, not itself signed


def canonical(value: Any) -> bytes:
    """The bytes a manifest's signature and digests are made over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_key: bytes) -> str:
    """A public key's short name."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """A node's Ed25519 key."""

    private: Ed25519PrivateKey

    @cached_property
    def public_raw(self) -> bytes:
        """The public key's 32 bytes."""
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @cached_property
    def public_b64(self) -> str:
        """The public key as the manifest and the API show it."""
        return base64.b64encode(self.public_raw).decode()

    @cached_property
    def key_id(self) -> str:
        """Its short name."""
        return key_id(self.public_raw)

    @classmethod
    def of_data_dir(cls, data_dir: Path) -> SigningKey:
        """The data directory's key, made now if it has none (workers starting together make one between them)."""
        path = data_dir / KEY_FILE
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            partial = path.with_name(f".{path.name}.{os.getpid()}")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(partial, path)  # never over a key another worker made first
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} holds no Ed25519 key")
        return cls(private)

    def sign(
        self, *, node: str, file: dict[str, str | int], call: dict[str, str | int], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """The signed manifest of a finished file (*file*: name, format, size, sha256; *call*: ids, start and
        length in ms — strings and integers only) and its *metadata* document."""
        metadata_json = canonical(metadata).decode()
        manifest: dict[str, Any] = {
            "version": VERSION,
            "key_id": self.key_id,
            "public_key": self.public_b64,
            "node": node,
            "signed_at_ms": int(time.time() * 1000),
            "file": file,
            "call": call,
            "metadata_sha256": hashlib.sha256(metadata_json.encode()).hexdigest(),
        }
        manifest["signature"] = base64.b64encode(self.private.sign(canonical(manifest))).decode()
        manifest["metadata_json"] = metadata_json
        return manifest


def as_header(manifest: dict[str, Any]) -> str:
    """The manifest as an upload's header value: without the metadata's text (its hash is signed), so it stays
    well under the 8 kB a web server takes in one header."""
    return base64.b64encode(canonical({k: v for k, v in manifest.items() if k != METADATA})).decode()


def from_header(value: str) -> dict[str, Any]:
    """A manifest from an upload's header (ValueError if it is none)."""
    try:
        manifest = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a manifest: {exc}") from None
    if not isinstance(manifest, dict):
        raise ValueError("not a manifest")
    return manifest


def problems(
    manifest: dict[str, Any],
    file: Path,
    *,
    metadata: dict[str, Any] | None = None,
    trusted_key: str | None = None,
    opener: Callable[[Path], BinaryIO] = lambda path: path.open("rb"),
) -> list[str]:
    """What is wrong with *file* and *manifest* (nothing: the file is the one the node signed). *metadata*: a
    document that must agree with the signed metadata on every field that holds; *trusted_key*: the base64
    public key the manifest must be signed with; *opener*: how the file is read as the audio it holds (a file
    sealed at rest, decrypted). ValueError for a manifest that is not one."""
    signed = {k: v for k, v in manifest.items() if k not in ("signature", METADATA)}
    try:
        public = base64.b64decode(str(manifest["public_key"]), validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(str(manifest["signature"]), validate=True), canonical(signed)
        )
    except KeyError as exc:
        raise ValueError(f"not a manifest: it has no {exc.args[0]}") from None
    except (ValueError, InvalidSignature):
        return ["the signature does not match the manifest: it was changed or not made by its key"]
    expected, call = manifest.get("file"), manifest.get("call")
    if not isinstance(expected, dict) or not isinstance(call, dict):
        raise ValueError("not a manifest: its file or call is not an object")
    found: list[str] = []
    if manifest.get("key_id") != key_id(public):
        found.append("key_id does not name the key that signed")
    if trusted_key is not None and base64.b64decode(trusted_key) != public:
        found.append(f"signed by key {key_id(public)}, not by the trusted key {key_id(base64.b64decode(trusted_key))}")
    found += _file_problems(expected, file, opener)
    if metadata is not None:
        found += _metadata_problems(manifest, metadata)
    return found


def _file_problems(expected: dict[str, Any], file: Path, opener: Callable[[Path], BinaryIO]) -> list[str]:
    digest, size = hashlib.sha256(), 0
    with opener(file) as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    found = []
    if size != expected.get("size"):
        found.append(f"the file has {size} bytes, the manifest says {expected.get('size')}")
    if digest.hexdigest() != expected.get("sha256"):
        found.append("the file's SHA-256 is not the one signed: its audio was changed")
    return found


def _metadata_problems(manifest: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """*document* against the signed metadata: the manifest's own text of it, or the one *document* carries (a
    recording's document from the API holds its full manifest), each checked against the signed hash."""
    held = document.get("manifest")
    text = manifest.get(METADATA) or (held.get(METADATA) if isinstance(held, dict) else None)
    if not isinstance(text, str):
        return ["no signed metadata to compare with: give the recording's document from the API"]
    if hashlib.sha256(text.encode()).hexdigest() != manifest.get("metadata_sha256"):
        return ["the metadata's text is not the one signed"]
    signed = json.loads(text)
    found = []
    for field, value in signed.items():
        if field not in document:
            found.append(f"metadata: {field} is missing")
        elif document[field] != value:
            found.append(f"metadata: {field} is {document[field]!r}, signed as {value!r}")
    return found
