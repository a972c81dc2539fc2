"""Uploading one recording over HTTP, as Kazoo does: PUT (or POST) of the raw file, streamed from disk.

Headers: Content-Type from the extension, Content-Length and ``Repr-Digest: sha-256=:…:``
(RFC 9530) so the receiver can check what arrived, and ``X-Calltape-Manifest``, the signed manifest. Any 2xx
is success; 301/302/303/307/308 are followed up to ten times, each time sending the whole file again. An attempt
has 10 s to connect, 60 s between two reads of the answer and 300 s in all.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from calltape.at_rest.sealed import open_file
from calltape.http_client import HttpClient, HttpError
from calltape.manifest import HEADER as MANIFEST_HEADER
from calltape.manifest import as_header
from calltape.media.formats import CONTENT_TYPES
from calltape.retry import retry_after_seconds
from calltape.store.recordings import DueRecording

MAX_REDIRECTS = 10
CHUNK = 256 * 1024
TOTAL_TIMEOUT = 300.0
REDIRECTS = (301, 302, 303, 307, 308)


class UploadError(Exception):
    """The upload did not succeed; ``retry_after`` is the receiver's wish (seconds), if it said one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class UploadFile:
    """What is sent: the file and what its headers say about it."""

    path: Path
    size: int
    content_type: str
    sha256_hex: str
    manifest: str = ""  # the signed manifest as a header value (manifest.py), if it has one


def upload_file(recording: DueRecording, path: Path) -> UploadFile:
    """What a recording's upload sends: its file, the headers its row holds the values of."""
    manifest = recording.doc.get("manifest")
    return UploadFile(
        path,
        recording.size,
        CONTENT_TYPES[recording.format],
        recording.sha256,
        as_header(manifest) if isinstance(manifest, dict) else "",
    )


async def _body(path: Path) -> AsyncIterator[bytes]:
    with open_file(path) as fh:  # decrypted if sealed; small reads from the page cache: not worth a thread each
        while chunk := fh.read(CHUNK):
            yield chunk


async def upload(client: HttpClient, method: str, url: str, file: UploadFile) -> int:
    """Send *file*; the final 2xx status, or UploadError."""
    headers = {
        "Content-Type": file.content_type,
        "Content-Length": str(file.size),
        "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(file.sha256_hex)).decode()}:",
    }
    if file.manifest:
        headers[MANIFEST_HEADER] = file.manifest
    try:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            for _ in range(MAX_REDIRECTS + 1):
                answer = await client.request(method.upper(), url, body=_body(file.path), headers=headers)
                if answer.status in REDIRECTS and "location" in answer.headers:
                    url = urljoin(url, answer.headers["location"])
                    continue
                if answer.ok:
                    return answer.status
                raise UploadError(
                    f"HTTP {answer.status} from {_host(url)}", retry_after_seconds(answer.headers.get("retry-after"))
                )
    except HttpError as exc:  # before TimeoutError: a read that timed out is both
        raise UploadError(f"{type(exc).__name__} talking to {_host(url)}: {exc}") from None
    except TimeoutError:
        raise UploadError(f"no answer from {_host(url)} within {TOTAL_TIMEOUT:.0f} s") from None
    raise UploadError(f"more than {MAX_REDIRECTS} redirects")


def _host(url: str) -> str:
    return urlsplit(url).hostname or url
