"""Start-up recovery: recordings this node was making when it stopped (a crash, ``kill -9``, power loss).

A ``record_call`` left its capture file: it is encoded afresh into the recording's file, every frame that
reached the disk at its place. A caller-only spool file is finished (WAV sizes patched, MP3 cut to its last
whole frame with its Info frame written). Either way the real duration is what reached the disk, and the
recording is queued for delivery marked ``recovered``. A row whose file is gone becomes ``failed`` with the
reason, so nothing disappears silently. Outbox entries this node held when it stopped are freed for a new attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from calltape.at_rest.keyring import KeyUnavailableError
from calltape.at_rest.sealed import seal_of
from calltape.manifest import SigningKey
from calltape.recording.capture_file import capture_path
from calltape.recording.encode_job import EncodeJob
from calltape.recording.encoder import EncodeResult, encode
from calltape.recording.metadata import finished_document, stretches_document
from calltape.recording.rows import signed_manifest
from calltape.recording.spool import file_facts, repair
from calltape.store.recordings import Recordings, RecordingState

log = logging.getLogger(__name__)


Encoder = Callable[[EncodeJob], Awaitable[EncodeResult]]


async def _in_a_thread(job: EncodeJob) -> EncodeResult:
    return await asyncio.to_thread(encode, job)


async def recover(store: Recordings, node: str, encoder: Encoder = _in_a_thread, key: SigningKey | None = None) -> int:
    """Finish and queue what this node left (a file to deliver signed with *key*); the number queued."""
    await store.release_leases(node)
    queued = 0
    for row in await store.left_recording(node):
        try:
            values = await _finished(row, encoder)
        except KeyUnavailableError as exc:  # kept as it is, capture and all, until a start that has the key
            reason = f"waits for its key to be finished after a stop: {exc}"
            log.error("call-id %s: recording %s %s", row.call_id, row.name, reason)
            await store.note_error(row.id, reason)
            continue
        deliver = values["state"] == RecordingState.PENDING
        if deliver:
            facts = {"account_id": row.account_id, "call_id": row.call_id, "format": row.format}
            manifest = signed_manifest(
                key, node, {**facts, **values}, recording_id=row.id, started_at=row.created, name=row.name
            )
            if manifest is not None:
                values["doc"]["manifest"] = manifest
        await store.finish(row.id, values, deliver)
        if deliver:
            capture_path(Path(row.spool_path)).unlink(missing_ok=True)  # encoded: the file holds the audio now
        queued += deliver
    if queued:
        log.info("recovered %d recording(s) left by the last run; delivering them", queued)
    return queued


async def _finished(row: Any, encoder: Encoder) -> dict[str, Any]:
    path = Path(row.spool_path)
    capture = capture_path(path)
    frames: dict[str, object] | None = None
    stretches: dict[str, list[tuple[int, int]]] = {}
    try:
        if capture.exists():
            cut = row.doc.get("pause_behavior", "skip") == "skip"
            seal = await asyncio.to_thread(seal_of, capture)  # an encoder process has no keyring: it gets the seal
            job = EncodeJob(
                str(capture), str(path), row.format, row.sample_rate, row.channels, cut_pauses=cut, seal=seal
            )
            result = await encoder(job)
            if result.facts is None:
                raise ValueError("the capture holds no audio")
            samples, rate, spooled = result.samples, 8000, result.facts
            frames = result.counts.as_document()
            stretches = {"pauses": result.pauses, "masks": result.masks}
        else:
            samples, rate, _channels = await asyncio.to_thread(repair, path)
            spooled = await asyncio.to_thread(file_facts, path, samples)
    except KeyUnavailableError:
        raise
    except Exception as exc:  # one bad file must not keep the node from starting, nor the others from delivery
        reason = f"recovery after a stop found no usable audio ({exc!r})"
        log.error("call-id %s: recording %s: %s", row.call_id, row.name, reason)
        return {"state": RecordingState.FAILED, "last_error": reason, "doc": {**row.doc, "recovered": True}}
    duration_ms = samples * 1000 // rate
    doc = finished_document(row.doc, duration_ms)
    doc["recovered"] = True
    if frames is not None:
        doc["frames"] = frames
        doc.update(stretches_document(stretches))
    min_seconds = float(doc.get("record_min_sec") or 0)
    log.info("call-id %s: recording %s recovered: %.1f s", row.call_id, row.name, duration_ms / 1000)
    if duration_ms < min_seconds * 1000:
        path.unlink(missing_ok=True)
        doc["discarded"] = f"shorter than record_min_sec ({duration_ms / 1000:.1f} s < {min_seconds:g} s)"
        return {"state": RecordingState.DISCARDED, "duration_ms": duration_ms, "doc": doc}
    return {
        "state": RecordingState.PENDING,
        "duration_ms": duration_ms,
        "size": spooled.size,
        "sha256": spooled.sha256,
        "doc": doc,
    }
