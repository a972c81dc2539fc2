"""Starting and ending recordings: their files, their rows, and where each one goes.

``open`` decides where the finished file will go (the ``url``; else the account's storage plan; else the
database if ``store_recordings``; else nowhere — then nothing is recorded), creates the capture file (a
``record_call``) or the spool file (what the caller says) and writes the recording's row (state
``recording``) so a crash is visible. ``close`` has the capture encoded by the encoder pool (or finishes
the spool) off the event loop, then in one transaction records its facts and queues its delivery — or
discards it when it is shorter than ``record_min_sec``, saying so in the log and the row.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from calltape.at_rest.keyring import KEYRING, KeyUnavailableError, Seal, encryption_key_id
from calltape.delivery.storage_plan import recording_target
from calltape.delivery.targets import Target, choose_target
from calltape.logs import throttle
from calltape.manifest import SigningKey
from calltape.recording import names
from calltape.recording.ahead import can_encode_ahead, encode_ahead
from calltape.recording.ahead_runs import AheadRun
from calltape.recording.capture_file import CaptureWriter, capture_path
from calltape.recording.encode_job import Ahead, EncodeJob
from calltape.recording.encoder import EncodeResult, encode
from calltape.recording.encoder_pool import EncoderPool
from calltape.recording.lame import LameError
from calltape.recording.media_settings import MediaSettings
from calltape.recording.metadata import CallFacts
from calltape.recording.names import MIN_TIME_LIMIT
from calltape.recording.open_recording import Recording, RecordingError
from calltape.recording.placement import FrameCounts
from calltape.recording.request import RecordingRequest
from calltape.recording.rows import finished_row, recording_row
from calltape.recording.spool import AudioSpool, SpoolFacts, open_spool
from calltape.store.database import store_away
from calltape.store.documents import Documents, NotFoundError
from calltape.store.recordings import AfterChange, DueRecording, Recordings, RecordingState
from calltape.store.storage_plans import StoragePlans
from calltape.store.system_configs import SystemConfigs
from calltape.store.ttl_cache import TtlCache
from calltape.tasks import TaskSet
from calltape.webhooks.events import StatusEvents, notice, wake_for

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_CALLER_TIME_LIMIT = 3600.0

CONFIG_TTL = 5.0
DRAIN_TIMEOUT = 10.0
FINISH_RETRY_MAX = 15.0  # seconds between tries to finish a recording while the store is down or the disk full
FINISH_RETRIES = 5  # tries after a fault that is not the store being away, before start-up recovery takes over


class DeliveryQueue(Protocol):
    """Where finished recordings go (the delivery worker)."""

    def lease_now(self) -> tuple[str, float] | None:
        """(owner, seconds) to queue a recording already held for delivery at once, or None: queue it free."""

    def deliver_now(self, row: DueRecording) -> None:
        """Deliver *row*, queued with the lease :meth:`lease_now` gave."""

    def wake(self) -> None:
        """Something was queued."""


#: The webhook event each final state of a finished recording makes
FINISHED_EVENTS = {
    RecordingState.PENDING: "recording.completed",
    RecordingState.DISCARDED: "recording.discarded",
    RecordingState.FAILED: "recording.failed",
}


@dataclass(frozen=True)
class Finished:
    """A recording's final row is stored: whether it is to be delivered, and the lease to deliver it now."""

    deliver: bool
    due: DueRecording | None


def node_name(spool_dir: Path, node_id: str = "", worker: int = 0, workers: int = 1) -> str:
    """This node's name in the store (its leases, its recordings' rows and manifests): ``--node-id`` (with the
    worker's number when there are several), else the host and which data dir (two processes on one host
    differ)."""
    if node_id:
        return node_id if workers == 1 else f"{node_id}:w{worker}"
    digest = hashlib.sha1(str(spool_dir.resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}:{digest}"


class RecordingManager:
    """Opens and closes recordings for calls; hands finished ones to delivery."""

    def __init__(
        self,
        store: Recordings,
        configs: SystemConfigs,
        spool_dir: Path,
        delivery: DeliveryQueue | None = None,
        plans: StoragePlans | None = None,
        encoders: EncoderPool | None = None,
        events: StatusEvents | None = None,
        signing_key: SigningKey | None = None,
        node: str = "",
        accounts: Documents | None = None,
    ) -> None:
        self.store = store
        self.accounts = accounts  # each account's recordings.encryption
        self.events = events
        self.signing_key = signing_key  # each delivered file's manifest is signed with it
        self.configs = configs
        self.spool_dir = spool_dir
        self.node = node or node_name(spool_dir)
        self.delivery = delivery
        self.plans = plans
        self.encoders = encoders  # None: captures are encoded in a thread (tests, tools)
        self.frames = FrameCounts()  # every finished recording's frames, summed (for /metrics)
        self.ahead_frames = {"kept": 0, "discarded": 0}  # MP3 frames encoded while their calls went on
        self.active: set[Recording] = set()
        self._cache = TtlCache(CONFIG_TTL)
        self._closing = TaskSet("recordings closing")

    async def settings(self) -> MediaSettings:
        """system_config ``media`` (re-read at most every few seconds)."""
        return await self._cache.get("media", self._load_settings)  # type: ignore[no-any-return]

    def forget_settings(self) -> None:
        """system_config or a storage plan changed on this node: read them afresh."""
        self._cache.clear()

    async def _load_settings(self) -> MediaSettings:
        return MediaSettings.from_document(await self.configs.get("media"))

    async def open(
        self, facts: CallFacts, request: RecordingRequest, *, caller_only: bool, sequence: int = 1
    ) -> Recording | None:
        """A new recording's file and row; None when it would be stored nowhere (logged by the caller)."""
        settings = await self.settings()
        target = await self._target(facts.account_id, request, caller_only, settings)
        if target is None:
            return None
        fmt = request.format or settings.extension
        recording_id = names.recording_id()
        name = f"{facts.call_id}.{fmt}" if caller_only else names.file_name(facts.call_id, fmt, sequence)
        path = self.spool_dir / facts.account_id / f"{recording_id}.{fmt}"
        channels = 2 if request.stereo and not caller_only else 1
        spool: AudioSpool | None = None
        capture: CaptureWriter | None = None
        seal, unsealed = await self._seal(facts.account_id, facts.call_id, name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if caller_only:
                spool = open_spool(fmt, path, request.sample_rate, channels, seal=seal)
            else:
                capture = CaptureWriter(capture_path(path), seal)
        except (OSError, LameError) as exc:  # a full disk, a missing library: the call goes on unrecorded
            raise RecordingError(f"cannot start {name} in {path.parent}: {exc}") from exc
        limit = request.time_limit
        if limit is None:  # Kazoo: record_call runs to max_recording_time_limit; record_caller to an hour
            limit = DEFAULT_CALLER_TIME_LIMIT if caller_only else settings.max_recording_time_limit
        recording = Recording(
            id=recording_id,
            name=name,
            fmt=fmt,
            path=path,
            channels=channels,
            rate=request.sample_rate,
            spool=spool,
            capture=capture,
            target=target,
            request=request,
            facts=facts,
            limit_seconds=min(max(limit, MIN_TIME_LIMIT), settings.max_recording_time_limit),
            min_seconds=request.record_min_sec if request.record_min_sec is not None else settings.record_min_sec,
            source_type="record_caller" if caller_only else "record_call",
            seal=seal,
            unsealed=unsealed,
        )
        if capture is not None and can_encode_ahead(fmt, request.sample_rate):
            job = self._capture_job(recording)
            recording.ahead = AheadRun(job, self._encode_ahead, facts.call_id)
        recording.created = asyncio.ensure_future(self._create_row(recording, time.time()))
        recording.told = recording.created  # "started" is told first: every later event waits for it
        self.active.add(recording)
        return recording

    async def _seal(self, account_id: str, call_id: str, name: str) -> tuple[Seal | None, str]:
        """The new recording's seal if its account asks for encryption at rest, and why not if it cannot have one
        (its key is not in the keyring: it is recorded in the clear rather than lost, and says so)."""
        if self.accounts is None:
            return None, ""
        accounts = self.accounts

        async def account() -> dict[str, Any] | None:
            with contextlib.suppress(NotFoundError):
                return await accounts.get(account_id)
            return None

        key_id = encryption_key_id(await self._cache.get(("account", account_id), account))
        if key_id is not None and key_id not in KEYRING:  # the account may have moved to a new key since
            self._cache.forget(("account", account_id))
            key_id = encryption_key_id(await self._cache.get(("account", account_id), account))
        if key_id is None:
            return None, ""
        try:
            return Seal.new(key_id), ""
        except KeyUnavailableError as exc:
            log.error("call-id %s: recording %s is made in the clear: %s", call_id, name, exc)
            return None, f"{exc}: recorded in the clear"

    async def _target(
        self, account_id: str, request: RecordingRequest, caller_only: bool, settings: MediaSettings
    ) -> Target | None:
        plan = None
        if not request.url and self.plans is not None:
            plans = self.plans
            plan = recording_target(await self._cache.get(("plan", account_id), lambda: plans.get(account_id)))
        return choose_target(request.url, request.method, caller_only, plan, settings.store_recordings)

    async def _create_row(self, recording: Recording, started_at: float) -> None:
        told = await self._notice(recording, "recording.started")
        await self.store.create(recording_row(recording, self.node, started_at, 0, None), after=told)
        wake_for(self.events, told)

    async def _notice(self, recording: Recording, event: str) -> AfterChange | None:
        return await notice(self.events, recording.facts.account_id, recording.id, event)

    async def emit(self, recording: Recording, event: str) -> None:
        """Tell the account's webhooks of *event* (nothing when there are none), after the recording's earlier
        events: they are queued in the order they happened."""
        if self.events is None:
            return
        previous, told = recording.told, asyncio.get_running_loop().create_future()
        recording.told = told
        try:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(previous)
            await self.events.emit(recording.facts.account_id, recording.id, event)
        finally:
            told.set_result(None)

    def emit_soon(self, recording: Recording, event: str) -> None:
        """:meth:`emit` in the background (from code that cannot wait)."""
        if self.events is not None:
            self._closing.spawn(self.emit(recording, event))

    def close(self, recording: Recording, samples: int, started_at: float | None, facts: CallFacts, note: str) -> None:
        """What the caller says ended after *samples* (8 kHz) samples: finish its spool in the background."""
        assert recording.spool is not None
        spool = recording.spool

        async def finish() -> tuple[int, SpoolFacts | None, FrameCounts | None]:
            return samples, await asyncio.to_thread(spool.close), None

        self._finish(recording, finish, started_at, facts, note)

    def close_capture(
        self,
        recording: Recording,
        received: int,
        not_captured: int,
        started_at: float | None,
        facts: CallFacts,
        note: str,
    ) -> None:
        """A record_call ended (its capture file is closed): encode it and finish it in the background."""
        job = replace(self._capture_job(recording), received=received, not_captured=not_captured)

        async def finish() -> tuple[int, SpoolFacts | None, FrameCounts | None]:
            ahead = await recording.ahead.stop() if recording.ahead is not None else None
            result = await self._encode_when_room(replace(job, ahead=ahead), facts.call_id, recording.name)
            if ahead is not None and ahead.frames:
                self.ahead_frames["kept" if result.reused else "discarded"] += ahead.frames
            if result.unaccounted:
                log.error(
                    "call-id %s: recording %s: %d frame(s) unaccounted for: %s",
                    facts.call_id,
                    recording.name,
                    result.unaccounted,
                    result.counts.as_document(),
                )
            self.frames.add(result.counts)
            recording.stretches = {"pauses": result.pauses, "masks": result.masks}
            return result.samples, result.facts, result.counts

        self._finish(recording, finish, started_at, facts, note)

    @staticmethod
    def _capture_job(recording: Recording) -> EncodeJob:
        """What encoding *recording*'s capture takes (the tap's counts are added when it ends)."""
        return EncodeJob(
            capture=str(capture_path(recording.path)),
            output=str(recording.path),
            fmt=recording.fmt,
            rate=recording.rate,
            channels=recording.channels,
            cut_pauses=recording.request.pause_behavior == "skip",
            seal=recording.seal,
        )

    async def _encode_when_room(self, job: EncodeJob, call_id: str, name: str) -> EncodeResult:
        """:meth:`encode`, waiting for room on a full disk (the capture stays whole meanwhile)."""
        attempt = 0
        while True:
            try:
                return await self.encode(job)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                if attempt == 0:
                    log.error(
                        "call-id %s: recording %s: no room to make the file (%s): made once there is",
                        call_id,
                        name,
                        exc.strerror,
                    )
                await _pause(attempt)
                attempt += 1

    async def encode(self, job: EncodeJob) -> EncodeResult:
        """Encode a capture in the encoder pool (or, without one or if it fails as a whole, in a thread)."""
        return await self._in_encoder(encode, job)

    async def _encode_ahead(self, job: EncodeJob, ahead: Ahead | None) -> Ahead | None:
        """A piece of *job*'s file, if an encoder is free (the ends of calls come first); None if not."""
        if self.encoders is not None and not self.encoders.idle:
            return None
        return await self._in_encoder(encode_ahead, job, ahead)

    async def _in_encoder(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the encoder pool (or, without one or if it fails as a whole, in a thread)."""
        if self.encoders is not None:
            try:
                return await self.encoders.run(work, *args)
            except (OSError, ValueError, LameError):
                raise  # the job's own fault (a full disk, a damaged capture): the same in a thread
            except Exception as exc:  # the pool itself: the recording must still be made
                log.error("the encoder pool failed (%r): %s in a thread", exc, work.__name__)
        return await asyncio.to_thread(work, *args)

    def _finish(
        self,
        recording: Recording,
        finish: Callable[[], Awaitable[tuple[int, SpoolFacts | None, FrameCounts | None]]],
        started_at: float | None,
        facts: CallFacts,
        note: str,
    ) -> None:
        if recording not in self.active:
            return
        self.active.discard(recording)
        self._closing.spawn(self._close(recording, finish, started_at or time.time(), facts, note))

    async def _close(
        self,
        recording: Recording,
        finish: Callable[[], Awaitable[tuple[int, SpoolFacts | None, FrameCounts | None]]],
        started_at: float,
        facts: CallFacts,
        note: str,
    ) -> None:
        samples, spooled, counts = 0, None, None
        try:
            samples, spooled, counts = await finish()
        except Exception as exc:  # the audio stays on disk (capture or spool): the row says why, nothing is lost
            log.exception("call-id %s: recording %s could not be finished", facts.call_id, recording.name)
            note = note or f"finishing the file failed: {exc!r}"
        values, deliver = finished_row(
            recording, self.node, started_at, samples, spooled, counts, facts, note, self.signing_key
        )
        if values["state"] == RecordingState.DISCARDED:
            recording.path.unlink(missing_ok=True)
        kept = values["state"] == RecordingState.FAILED
        if recording.told is not None:  # the events of the call (a pause…) are queued before the last one
            with contextlib.suppress(Exception):
                await asyncio.shield(recording.told)
        finished = await self._store_finish(recording, values, deliver)
        if finished is None:
            return
        self._hand_on(finished)
        if recording.capture is not None and not kept:  # the row says where the audio is now
            await asyncio.to_thread(capture_path(recording.path).unlink, missing_ok=True)  # a long one: ms of work

    async def _store_finish(self, recording: Recording, values: dict[str, Any], deliver: bool) -> Finished | None:
        """The recording's row finished (and its delivery queued): while the store is away, however long it takes
        to come back (the file is safe on disk meanwhile; a stop leaves it to start-up recovery); after another
        fault, a few tries, then start-up recovery (None)."""
        attempt = 0
        while True:
            try:
                if recording.created is not None:
                    with contextlib.suppress(Exception):
                        await recording.created  # the row's insert failed: insert it now
                    if recording.created.exception() is not None:
                        started = await self._notice(recording, "recording.started")
                        row = {**values, "id": recording.id, "state": RecordingState.ACTIVE}
                        with contextlib.suppress(IntegrityError):  # it was inserted; only the answer was lost
                            await self.store.create(row, after=started)
                        wake_for(self.events, started)
                    recording.created = None
                lease = self.delivery.lease_now() if deliver and self.delivery is not None else None
                # the outcome is told in its own transaction: before delivery can tell "delivered"
                told = await self._notice(recording, FINISHED_EVENTS[values["state"]])
                due = await self.store.finish(recording.id, values, deliver, lease, after=told)
                wake_for(self.events, told)
                if attempt:
                    log.info("recording %s: finished in the store, which is back", recording.id)
                return Finished(deliver, due)
            except Exception as exc:
                away = store_away(exc)
                if not away and attempt + 1 >= FINISH_RETRIES:
                    log.error(
                        "recording %s: left for recovery at the next start (file %s)", recording.id, recording.path
                    )
                    return None
                if attempt == 0:
                    why = "the store is away" if away else "the store failed"
                    log.error("recording %s: %s (%r): kept on disk, tried again", recording.id, why, exc)
                else:
                    throttle.log(log, logging.WARNING, "finish-waits", "recordings wait for the store: %r", exc)
                await _pause(attempt)
                attempt += 1

    def _hand_on(self, finished: Finished) -> None:
        """A finished recording to delivery: already leased to be delivered now, or woken for."""
        if self.delivery is None or not finished.deliver:
            return
        if finished.due is not None:
            self.delivery.deliver_now(finished.due)
        else:
            self.delivery.wake()

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """At shutdown, after the calls were hung up: wait (up to *timeout*) until every recording is finished
        and queued. What is left is finished by start-up recovery next time."""
        deadline = time.monotonic() + timeout
        while (self._closing or self.active) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


async def _pause(attempt: int) -> None:
    """The wait before trying again to finish a recording: 1 s, doubling, at most FINISH_RETRY_MAX."""
    await asyncio.sleep(min(FINISH_RETRY_MAX, 2.0**attempt))
