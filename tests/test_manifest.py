"""The recording manifest's key and signature: one key per data directory, kept private; the signature checked by
openssl (an independent Ed25519 implementation) over the manifest's canonical JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calltape.manifest import KEY_FILE, SigningKey, canonical, problems


def test_a_data_directory_has_one_key_kept_private(tmp_path: Path) -> None:
    first = SigningKey.of_data_dir(tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert SigningKey.of_data_dir(tmp_path).key_id == first.key_id  # made once, then read
    assert first.key_id == hashlib.sha256(base64.b64decode(first.public_b64)).hexdigest()[:16]
    assert list((tmp_path / KEY_FILE).parent.iterdir()) == [tmp_path / KEY_FILE]  # no partial file left


def test_openssl_verifies_the_signature_over_the_canonical_manifest(tmp_path: Path) -> None:
    key = SigningKey.of_data_dir(tmp_path)
    audio = tmp_path / "r.wav"
    audio.write_bytes(b"RIFF" + bytes(range(200)))
    file = {"name": "r.wav", "format": "wav", "size": 204, "sha256": hashlib.sha256(audio.read_bytes()).hexdigest()}
    metadata = {"caller_id_name": "Zoë", "pauses": [{"offset_s": 1.0}]}
    manifest = key.sign(node="nœud-1", file=file, call={"call_id": "c@1", "started_at_ms": 1}, metadata=metadata)
    signed = tmp_path / "signed.json"
    signed.write_bytes(canonical({k: v for k, v in manifest.items() if k not in ("signature", "metadata_json")}))
    assert signed.read_bytes().startswith(b'{"call":{"call_id":"c@1","started_at_ms":1},"file":{')  # sorted, compact
    assert b'"node":"n\xc5\x93ud-1"' in signed.read_bytes()  # UTF-8 as it is
    assert manifest["metadata_sha256"] == hashlib.sha256(manifest["metadata_json"].encode()).hexdigest()
    assert json.loads(manifest["metadata_json"]) == metadata
    (tmp_path / "sig").write_bytes(base64.b64decode(manifest["signature"]))
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(manifest["public_key"]))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "pub.pem").write_bytes(pem)
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "signed.json"]
    out = subprocess.run([*command, "-sigfile", "sig"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and "Signature Verified Successfully" in out.stdout, out.stdout + out.stderr
    assert problems(manifest, audio) == []
    audio.write_bytes(audio.read_bytes() + b"\0")
    assert problems(manifest, audio) == [
        "the file has 205 bytes, the manifest says 204",
        "the file's SHA-256 is not the one signed: its audio was changed",
    ]
