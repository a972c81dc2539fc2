"""Where a finished recording goes: one class per kind of target, each moving the file its own way.

A target is chosen when the recording starts (``recording/manager.py``), stored with its row as a plain
document (``as_dict``), and read back (``target_from_dict``) by whichever node delivers it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from calltape.delivery.addresses import fill_placeholders, upload_query, upload_url
from calltape.delivery.ftp import ftp_upload
from calltape.delivery.http import upload, upload_file
from calltape.delivery.storage_plan import store_by_plan
from calltape.http_client import HttpClient
from calltape.store.recordings import DueRecording, RecordingState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """A delivery made: where the file went, the recording's state now, and its audio if the database keeps it."""

    where: str
    state: RecordingState
    audio: bytes | None = None


class Target(Protocol):
    """A kind of place recordings go to."""

    kind: ClassVar[str]

    def as_dict(self) -> dict[str, Any]:
        """The target as its recording's row stores it."""

    async def send(self, recording: DueRecording, path: Path, client: HttpClient) -> Sent:
        """Move *path* (the file of *recording*) there; raises UploadError or OSError if it did not arrive."""


@dataclass(frozen=True)
class HttpTarget:
    """A ``record_call``/``record_caller`` ``url`` over HTTP(S): Kazoo's upload, with its query for record_call."""

    url: str
    method: str = "put"
    query: bool = True  # Kazoo's twelve query keys (a record_caller upload has none)
    kind: ClassVar[str] = "http"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "method": self.method, "query": self.query}

    async def send(self, recording: DueRecording, path: Path, client: HttpClient) -> Sent:
        base = fill_placeholders(self.url, _placeholders(recording))
        query = upload_query(recording.doc, recording.account_id) if self.query else None
        url = upload_url(base, recording.name, query)
        await upload(client, self.method, url, upload_file(recording, path))
        return Sent(url, RecordingState.DELIVERED)


@dataclass(frozen=True)
class FtpTarget:
    """A ``url`` over FTP or FTPS: the file name only."""

    url: str
    kind: ClassVar[str] = "ftp"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url}

    async def send(self, recording: DueRecording, path: Path, client: HttpClient) -> Sent:
        base = fill_placeholders(self.url, _placeholders(recording))
        return Sent(await asyncio.to_thread(ftp_upload, base, recording.name, path), RecordingState.DELIVERED)


@dataclass(frozen=True)
class DatabaseTarget:
    """No url and no storage plan, with ``store_recordings``: the audio is kept in the database."""

    kind: ClassVar[str] = "db"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    async def send(self, recording: DueRecording, path: Path, client: HttpClient) -> Sent:
        return Sent("the database", RecordingState.STORED, await asyncio.to_thread(path.read_bytes))


@dataclass(frozen=True)
class StoragePlanTarget:
    """The account's storage plan handler for call recordings (``delivery/storage_plan.py``)."""

    plan: dict[str, Any]  # {"handler": "s3" | "http" | "filesystem", "settings": {...}}
    kind: ClassVar[str] = "storage"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "plan": self.plan}

    async def send(self, recording: DueRecording, path: Path, client: HttpClient) -> Sent:
        return Sent(await store_by_plan(client, self.plan, recording, path), RecordingState.DELIVERED)


def choose_target(
    url: str | None, method: str, caller_only: bool, plan: dict[str, Any] | None, store_recordings: bool
) -> Target | None:
    """Where a new recording goes: its ``url`` (HTTP(S) or FTP(S)), else the account's storage plan handler,
    else the database with ``store_recordings``; None: nowhere (the caller logs why)."""
    if url:
        scheme = url.split(":", 1)[0].lower()
        if scheme in ("http", "https"):
            return HttpTarget(url, method, query=not caller_only)
        if scheme in ("ftp", "ftps"):
            return FtpTarget(url)
        log.warning("recording url %r has an unsupported scheme: not recorded", url)
        return None
    if plan is not None:
        return StoragePlanTarget(plan)
    return DatabaseTarget() if store_recordings else None


def target_from_dict(stored: dict[str, Any]) -> Target:
    """The target a recording's row stores; ValueError for one this version does not know."""
    kind = stored.get("kind")
    if kind == HttpTarget.kind:
        return HttpTarget(str(stored["url"]), str(stored.get("method", "put")), bool(stored.get("query", True)))
    if kind == FtpTarget.kind:
        return FtpTarget(str(stored["url"]))
    if kind == DatabaseTarget.kind:
        return DatabaseTarget()
    if kind == StoragePlanTarget.kind:
        return StoragePlanTarget(dict(stored["plan"]))
    raise ValueError(f"unknown delivery target {kind!r}")


def _placeholders(recording: DueRecording) -> dict[str, str | None]:
    doc = recording.doc
    return {
        "account_id": recording.account_id,
        "call_id": recording.call_id,
        "owner_id": recording.owner_id,
        "user_id": doc.get("callee_owner_id") or recording.owner_id,  # the user a callflow rang, else the caller's
        "caller_id_number": doc.get("caller_id_number"),
        "callee_id_number": doc.get("callee_id_number"),
    }
