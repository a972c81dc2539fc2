"""A recording's row: as it starts (state ``recording``) and as it ends — ``pending`` delivery, ``discarded``
(shorter than ``record_min_sec``, or no audio), or ``failed`` (the audio is on disk but the file could not be
made: kept)."""

from __future__ import annotations

import logging
from typing import Any

from calltape.manifest import SigningKey
from calltape.recording import names
from calltape.recording.metadata import CallFacts, finished_document, kazoo_document, stretches_document
from calltape.recording.open_recording import Recording
from calltape.recording.placement import FrameCounts
from calltape.recording.spool import SpoolFacts
from calltape.store.recordings import RecordingState

log = logging.getLogger(__name__)


def recording_row(
    recording: Recording, node: str, started_at: float, duration_ms: int, facts: CallFacts | None
) -> dict[str, Any]:
    """The recording's row as the store keeps it (its Kazoo metadata document in ``doc``)."""
    call = facts or recording.facts
    doc = kazoo_document(
        call,
        recording_id=recording.id,
        name=names.media_name(recording.request.media_name, recording.fmt) or recording.name,
        fmt=recording.fmt,
        url=recording.request.url or "",
        started_at=started_at,
        duration_ms=duration_ms,
        source_type=recording.source_type,
    )
    if recording.request.origin:
        doc["origin"] = recording.request.origin
    elif recording.request.label:
        doc["origin"] = f"callflow : {recording.request.label}"
    doc["record_min_sec"] = recording.min_seconds
    doc["pause_behavior"] = recording.request.pause_behavior
    if recording.seal is not None:
        doc["encryption"] = {"key_id": recording.seal.key_id}
    elif recording.unsealed:
        doc["encryption"] = {"error": recording.unsealed}
    if recording.channels == 2:  # how many: the row's ``channels``, which the API shows
        doc["channel_layout"] = {"left": "caller", "right": "callee"}
    return {
        "id": recording.id,
        "account_id": call.account_id,
        "call_id": call.call_id,
        "owner_id": call.owner_id or call.callee_owner_id,  # whose list it is in (/users/{U}/recordings)
        "format": recording.fmt,
        "name": recording.name,
        "created": started_at,
        "duration_ms": duration_ms,
        "size": 0,
        "sha256": "",
        "channels": recording.channels,
        "sample_rate": recording.rate,
        "spool_path": str(recording.path),
        "node": node,
        "target": recording.target.as_dict(),
        "doc": doc,
    }


def finished_row(
    recording: Recording,
    node: str,
    started_at: float,
    samples: int,
    spooled: SpoolFacts | None,
    counts: FrameCounts | None,
    facts: CallFacts,
    note: str,
    key: SigningKey | None = None,
) -> tuple[dict[str, Any], bool]:
    """The row's values once the file is made (or could not be), and whether it is to be delivered (a discarded
    file is for the caller to delete). A file to deliver gets its manifest signed with *key*."""
    deliver = True
    duration_ms = samples * 1000 // 8000
    values = recording_row(recording, node, started_at, duration_ms, facts)
    values.pop("id")
    doc = values["doc"]
    if counts is not None:
        doc["frames"] = counts.as_document()
        if counts.left_out.get("not_captured"):  # received, but writing failed (a full disk): the file ends early
            doc["truncated"] = True
    doc.update(stretches_document(recording.stretches))
    if spooled is not None:
        values.update(size=spooled.size, sha256=spooled.sha256)
        values["doc"] = doc = finished_document(doc, duration_ms)
    if note:
        doc["note"] = note
    if spooled is None and (samples or note):  # the audio is on disk, the file could not be made: kept
        deliver = False
        values.update(state=RecordingState.FAILED, last_error=note)
        log.error("call-id %s: recording %s kept at %s: %s", facts.call_id, recording.name, recording.path, note)
    elif spooled is None or samples == 0 or duration_ms < recording.min_seconds * 1000:
        deliver = False
        values["state"] = RecordingState.DISCARDED
        doc["discarded"] = (
            "no audio: the call's media never flowed while recording"
            if samples == 0
            else f"shorter than record_min_sec ({duration_ms / 1000:.1f} s < {recording.min_seconds:g} s)"
        )
        log.info("call-id %s: recording %s discarded: %s", facts.call_id, recording.name, doc["discarded"])
    else:
        values["state"] = RecordingState.PENDING
        manifest = signed_manifest(
            key, node, values, recording_id=recording.id, started_at=started_at, name=recording.name
        )
        if manifest is not None:
            doc["manifest"] = manifest
        log.info(
            "call-id %s: recording %s finished: %.1f s, %d bytes",
            facts.call_id,
            recording.name,
            duration_ms / 1000,
            spooled.size,
        )
    return values, deliver


def signed_manifest(
    key: SigningKey | None, node: str, values: dict[str, Any], *, recording_id: str, started_at: float, name: str
) -> dict[str, Any] | None:
    """The manifest of a finished file whose row *values* (account, call, format, size, SHA-256, duration and
    metadata document) are final, signed with *key*; None without a key, or if signing failed (logged: the file
    is delivered unsigned rather than not at all)."""
    if key is None:
        return None
    try:
        return _sign(key, node, values, recording_id, started_at, name)
    except Exception:
        log.exception("call-id %s: recording %s has no manifest", values.get("call_id"), name)
        return None


def _sign(
    key: SigningKey, node: str, values: dict[str, Any], recording_id: str, started_at: float, name: str
) -> dict[str, Any]:
    return key.sign(
        node=node,
        file={"name": name, "format": values["format"], "size": values["size"], "sha256": values["sha256"]},
        call={
            "recording_id": recording_id,
            "account_id": values["account_id"],
            "call_id": values["call_id"],
            "started_at_ms": round(started_at * 1000),
            "duration_ms": int(values["duration_ms"]),
        },
        metadata=dict(values["doc"]),
    )
