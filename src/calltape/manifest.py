"""Tamper evidence: each finished recording gets a manifest signed with the node's Ed25519 key.

The manifest names the file (name, format, size, SHA-256), the call (recording, account, call ids) and its times,
and holds the recording's metadata document as it was when the file was made, with that document's SHA-256. Its
``signature`` is Ed25519 over the canonical JSON of everything else (keys sorted, no spaces, UTF-8), made with the
key whose public half (``public_key``, base64 of the raw 32 bytes; ``key_id``, the first 16 hex digits of its
SHA-256) it carries. A manifest proves nothing by its own key alone: compare ``key_id`` with the node's keys, served
at ``GET /v2/signing_keys``, or give the key to ``calltape verify --key``.

The key is made once per data directory (``keys/recording-signing.pem``, readable by its owner only); every worker
of a node signs with it, and each node's public key is in the database for every node's API to serve.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
KEY_FILE = Path("keys") / "recording-signing.pem"
HEADER = "X-Calltape-Manifest"  # on an upload: the manifest as base64 of its JSON


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

    @property
    def public_raw(self) -> bytes:
        """The public key's 32 bytes."""
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        """The public key as the manifest and the API show it."""
        return base64.b64encode(self.public_raw).decode()

    @property
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
        self, *, node: str, file: dict[str, Any], call: dict[str, Any], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """The signed manifest of a finished file (*file*: name, format, size, sha256; *call*: ids and times)."""
        manifest: dict[str, Any] = {
            "version": VERSION,
            "key_id": self.key_id,
            "public_key": self.public_b64,
            "node": node,
            "signed_at": round(time.time(), 3),
            "file": file,
            "call": call,
            "metadata": metadata,
            "metadata_sha256": hashlib.sha256(canonical(metadata)).hexdigest(),
        }
        manifest["signature"] = base64.b64encode(self.private.sign(canonical(manifest))).decode()
        return manifest


def as_header(manifest: dict[str, Any]) -> str:
    """The manifest as an upload's header value."""
    return base64.b64encode(canonical(manifest)).decode()


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
) -> list[str]:
    """What is wrong with *file* and *manifest* (nothing: the file is the one the node signed). *metadata*: a
    document that must agree with the signed one on every field it holds; *trusted_key*: the base64 public key
    the manifest must be signed with."""
    found: list[str] = []
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        public = base64.b64decode(str(manifest["public_key"]), validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(str(manifest["signature"]), validate=True), canonical(unsigned)
        )
    except KeyError as exc:
        return [f"the manifest has no {exc.args[0]}"]
    except (ValueError, InvalidSignature):
        return ["the signature does not match the manifest: it was changed or not made by its key"]
    if manifest.get("key_id") != key_id(public):
        found.append("key_id does not name the key that signed")
    if trusted_key is not None and base64.b64decode(trusted_key) != public:
        found.append(f"signed by key {key_id(public)}, not by the trusted key {key_id(base64.b64decode(trusted_key))}")
    signed_metadata = manifest.get("metadata")
    if not isinstance(signed_metadata, dict):
        return [*found, "the manifest holds no metadata"]
    if hashlib.sha256(canonical(signed_metadata)).hexdigest() != manifest.get("metadata_sha256"):
        found.append("metadata_sha256 does not match the metadata")
    expected = manifest.get("file") or {}
    digest, size = hashlib.sha256(), 0
    with file.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    if size != expected.get("size"):
        found.append(f"the file has {size} bytes, the manifest says {expected.get('size')}")
    if digest.hexdigest() != expected.get("sha256"):
        found.append("the file's SHA-256 is not the one signed: its audio was changed")
    if metadata is not None:
        for field, value in signed_metadata.items():
            if field not in metadata:
                found.append(f"metadata: {field} is missing")
            elif metadata[field] != value:
                found.append(f"metadata: {field} is {metadata[field]!r}, signed as {value!r}")
    return found
