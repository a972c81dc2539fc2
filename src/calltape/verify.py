"""``calltape verify FILE MANIFEST``: check a recording offline against its signed manifest.

MANIFEST is a JSON file holding the manifest itself, or a document with it under ``manifest``: the recording's
metadata from the API, a webhook's ``data``, or the built-in receiver's ``<name>.json`` sidecar. A file sealed at
rest (kept by a filesystem storage plan) is checked as the audio it holds, with ``--recording-keys``. Exits 0 when the
file is the one the node signed (and, with ``--metadata``, the document agrees with the signed metadata), 1 when
not, with every reason; 2 for a file that cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from calltape.at_rest.keyring import KEYRING, KeyUnavailableError
from calltape.at_rest.sealed import open_file
from calltape.manifest import key_id, problems

HELP = "check a recording file against its signed manifest (offline)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``verify``'s flags."""
    parser.add_argument("file", metavar="FILE", type=Path, help="the recording (MP3 or WAV)")
    parser.add_argument("manifest", metavar="MANIFEST", type=Path, help="its manifest, or a document holding it")
    parser.add_argument(
        "--metadata", metavar="JSON", type=Path, help="a metadata document that must agree with the signed one"
    )
    parser.add_argument(
        "--key", metavar="KEY", help="the node's public key (base64, as GET /v2/signing_keys shows it) to require"
    )
    parser.add_argument(
        "--recording-keys", metavar="FILE", type=Path, help="the keyring, for a recording sealed at rest"
    )


def run(args: argparse.Namespace) -> int:
    """Verify; print the outcome."""
    try:
        manifest = _manifest(_read_json(args.manifest))
        metadata = _unwrapped(_read_json(args.metadata)) if args.metadata else None
        if args.key is not None:
            base64.b64decode(args.key, validate=True)
        if args.recording_keys is not None:
            KEYRING.load(args.recording_keys)
        found = problems(manifest, args.file, metadata=metadata, trusted_key=args.key, opener=open_file)
        signer = key_id(base64.b64decode(str(manifest["public_key"])))
    except (OSError, ValueError, RecursionError, KeyUnavailableError) as exc:  # binascii and JSON errors: ValueErrors
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    if found:
        print(f"{args.file}: NOT verified")
        for problem in found:
            print(f"  - {problem}")
        return 1
    file, call = manifest["file"], manifest["call"]
    print(f"{args.file}: verified — {file.get('size')} bytes, sha256 {file.get('sha256')}")
    print(f"  call {call.get('call_id')}, recording {call.get('recording_id')}, account {call.get('account_id')}")
    if args.key:
        print(f"  signed by node {manifest.get('node')} with key {signer}, the key given")
    else:
        print(f"  signed with key {signer}, the one the manifest carries: not checked against the node's keys")
        print("  (give --key with the public key GET /v2/signing_keys shows for it)")
    return 0


def _read_json(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_bytes())
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not a JSON object")
    return value


def _unwrapped(document: dict[str, Any]) -> dict[str, Any]:
    """A document out of the API's envelope or a webhook's body (``{"data": …}``)."""
    inner = document.get("data")
    if isinstance(inner, dict) and "call_id" not in document:
        return inner
    return document


def _manifest(document: dict[str, Any]) -> dict[str, Any]:
    """The manifest itself, or the one a document holds (the API's envelope and a webhook's body too)."""
    candidate: Any = document
    for _ in range(3):  # the manifest, a document holding it, the envelope around that
        if not isinstance(candidate, dict):
            break
        if "signature" in candidate:
            return candidate
        if isinstance(candidate.get("manifest"), dict):
            return dict(candidate["manifest"])
        candidate = candidate.get("data")
    raise ValueError("no manifest in it (a recording delivered before this version has none)")
