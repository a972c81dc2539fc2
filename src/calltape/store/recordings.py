"""Recordings and their delivery outbox.

A recording's row is written when it starts (state ``recording``). When it ends, one transaction
records what the file is and either queues it in the outbox (state ``pending``) or says why it is not
delivered (``discarded``). Every delivery attempt updates the row; success or giving up removes the
outbox entry in the same transaction, so a confirmed delivery is never made again.

States: recording → pending → delivered | stored (in the database) | failed (retry by the API);
recording → discarded (shorter than ``record_min_sec``).

A change may carry *after*: work of the caller's (queuing the webhook events that report it) run in the change's
own transaction with the row as the change left it, so a crash keeps both or neither. It runs in a savepoint of
its own: if it fails, the change is committed without it and the log says why — a recording is never held back
by what tells of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import Doc, NotFoundError
from calltape.store.nodes import gone_nodes, up_nodes


class RecordingState(StrEnum):
    """A recording's state, as its row stores it."""

    ACTIVE = "recording"
    PENDING = "pending"
    DELIVERED = "delivered"
    STORED = "stored"
    FAILED = "failed"
    DISCARDED = "discarded"


STATES = tuple(RecordingState)
MAX_PAGE = 500

log = logging.getLogger(__name__)
_t = schema.recordings
_outbox = schema.recording_outbox

AfterChange = Callable[[Connection, Any], None]  # work run in a change's transaction, given the row it left


@dataclass(frozen=True)
class DueRecording:
    """A recording the outbox holds for delivery: what its row says."""

    id: str
    name: str
    call_id: str
    account_id: str
    owner_id: str | None
    format: str
    created: float  # Unix time the recording started
    duration_ms: int
    size: int
    sha256: str
    spool_path: str
    node: str  # the node whose spool holds the audio
    attempts: int  # attempts made before this one
    target: dict[str, Any]  # where it goes, as stored (see calltape.delivery.targets)
    doc: dict[str, Any]  # the metadata document


_DUE_COLUMNS = [_t.c[field.name] for field in fields(DueRecording)]
# The statements every recording runs, built once (SQLAlchemy then only looks up their compiled form)
_INSERT_RECORDING = insert(_t)
_INSERT_OUTBOX = insert(_outbox)
_DROP_OUTBOX = delete(_outbox).where(_outbox.c.recording_id == bindparam("rid"))
_UPDATE_ONE = update(_t).where(_t.c.id == bindparam("rid"))  # SET: the columns the parameters name
_FINISH_ONE = _UPDATE_ONE.where(_t.c.state == RecordingState.ACTIVE)  # once: a retry after a lost commit does nothing
_DELIVERED = _UPDATE_ONE.values(attempts=_t.c.attempts + 1, last_error="")
_DUE_ONE = select(*_DUE_COLUMNS).where(_t.c.id == bindparam("rid"))
_ROW = select(_t).where(_t.c.id == bindparam("rid"))
_FIELDS = (
    "state",
    "format",
    "duration_ms",
    "size",
    "sha256",
    "channels",
    "sample_rate",
    "attempts",
    "last_error",
    "delivered_at",
    "node",
    "spool_path",
    "created",
)


def as_document(row: Any) -> Doc:
    """A row as the API shows it: Kazoo's metadata, then calltape's delivery facts."""
    doc: Doc = dict(row.doc)
    doc.update({field: getattr(row, field) for field in _FIELDS})
    doc["id"] = row.id
    doc["file_name"] = row.name  # what was uploaded (``name`` is the document's: ``media_name`` when given)
    doc["delivery"] = {k: v for k, v in row.target.items() if k != "credentials"}
    return doc


class Recordings:
    """Recording rows, their outbox and their database-stored audio."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- the recorder's side -------------------------------------------------------------------------

    async def create(self, values: dict[str, Any], after: AfterChange | None = None) -> None:
        """A recording has started (state ``recording``)."""
        row = {"state": RecordingState.ACTIVE, "attempts": 0, "last_error": "", **values}

        def work(conn: Connection) -> None:
            conn.execute(_INSERT_RECORDING, row)
            _after(conn, after, row["id"])

        await self.db.run(work)

    async def finish(
        self,
        recording_id: str,
        values: dict[str, Any],
        deliver: bool,
        lease: tuple[str, float] | None = None,
        after: AfterChange | None = None,
    ) -> DueRecording | None:
        """It ended: its facts, and (if *deliver*) an outbox entry due now — one transaction, once (a row no longer
        recording is left as it is). With *lease*
        (owner, seconds) the entry is already held by that owner and the recording comes back to be delivered
        at once, without a claim."""

        def work(conn: Connection) -> DueRecording | None:
            if conn.execute(_FINISH_ONE, {**values, "rid": recording_id}).rowcount == 0:
                return None  # finished already (a commit whose answer was lost): nothing told or queued twice
            _after(conn, after, recording_id)
            if not deliver:
                return None
            now = time.time()
            owner, until = (lease[0], now + lease[1]) if lease else ("", 0.0)
            conn.execute(_DROP_OUTBOX, {"rid": recording_id})
            outbox_row = {"recording_id": recording_id, "due_at": now, "lease_until": until, "lease_owner": owner}
            conn.execute(_INSERT_OUTBOX, outbox_row)
            return DueRecording(*conn.execute(_DUE_ONE, {"rid": recording_id}).one()) if lease else None

        return await self.db.run(work)

    async def note_error(self, recording_id: str, error: str) -> None:
        """Say on the row why a recording waits (nothing else about it changes)."""

        def work(conn: Connection) -> None:
            conn.execute(update(_t).where(_t.c.id == recording_id).values(last_error=error[:2000]))

        await self.db.run(work)

    async def left_recording(self, node: str) -> list[Any]:
        """Rows this node was still recording when it stopped (found at start-up: a crash)."""
        async with self.db.engine.connect() as conn:
            return list(
                (
                    await conn.execute(select(_t).where((_t.c.state == RecordingState.ACTIVE) & (_t.c.node == node)))
                ).all()
            )

    async def release_leases(self, node: str) -> None:
        """Free the outbox entries *node* held (it restarted: those attempts are over)."""
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(_outbox).where(_outbox.c.lease_owner == node).values(lease_until=0.0, lease_owner="")
            )

    # ---- the delivery worker's side -----------------------------------------------------------------

    async def claim_due(
        self, owner: str, now: float, lease: float, limit: int
    ) -> tuple[list[DueRecording], float | None]:
        """Hold up to *limit* due entries for *lease* seconds (no other node takes them meanwhile): their
        recordings, and when the next entry not yet due falls due."""

        def work(conn: Connection) -> tuple[list[DueRecording], float | None]:
            free = (_outbox.c.lease_until < now) | _outbox.c.lease_owner.in_(gone_nodes(now))  # held by no live node
            # its own recordings, and those of a node that is not up (another name for this one, or shared storage)
            ours = (_t.c.node == owner) | _t.c.node.not_in(up_nodes(now))
            due = (
                select(_outbox.c.recording_id)
                .join(_t, _t.c.id == _outbox.c.recording_id)
                .where(free & (_outbox.c.due_at <= now) & ours)
                .order_by(_outbox.c.due_at)
                .limit(limit)
            )
            ids = [str(i) for i in conn.execute(due).scalars()]
            claimed: list[str] = []
            if ids:
                held = conn.execute(
                    update(_outbox)
                    .where(_outbox.c.recording_id.in_(ids) & free)
                    .values(lease_until=now + lease, lease_owner=owner)
                    .returning(_outbox.c.recording_id)
                )
                claimed = [str(i) for i in held.scalars()]
            claimed_recordings = (
                [DueRecording(*row) for row in conn.execute(select(*_DUE_COLUMNS).where(_t.c.id.in_(claimed)))]
                if claimed
                else []
            )
            later = conn.execute(
                select(_outbox.c.due_at).where(_outbox.c.due_at > now).order_by(_outbox.c.due_at).limit(1)
            ).first()
            return claimed_recordings, None if later is None else float(later[0])

        return await self.db.run(work)

    async def delivered(
        self,
        recording_id: str,
        state: RecordingState = RecordingState.DELIVERED,
        blob: bytes | None = None,
        after: AfterChange | None = None,
    ) -> None:
        """Confirmed: the outcome is recorded and the outbox entry removed, together (with the audio if stored)."""
        blobs = schema.recording_blobs

        def work(conn: Connection) -> None:
            if blob is not None:
                conn.execute(delete(blobs).where(blobs.c.recording_id == recording_id))
                conn.execute(insert(blobs).values(recording_id=recording_id, data=blob))
            conn.execute(_DELIVERED, {"rid": recording_id, "state": state, "delivered_at": time.time()})
            conn.execute(_DROP_OUTBOX, {"rid": recording_id})
            _after(conn, after, recording_id)

        await self.db.run(work)

    async def attempt_failed(
        self, recording_id: str, error: str, retry_at: float | None, after: AfterChange | None = None
    ) -> None:
        """One attempt failed: try again at *retry_at*, or (None) give up with state ``failed``."""

        def work(conn: Connection) -> None:
            values: dict[str, Any] = {"attempts": _t.c.attempts + 1, "last_error": error[:2000]}
            if retry_at is None:
                values["state"] = RecordingState.FAILED
                conn.execute(delete(_outbox).where(_outbox.c.recording_id == recording_id))
            else:
                conn.execute(
                    update(_outbox)
                    .where(_outbox.c.recording_id == recording_id)
                    .values(due_at=retry_at, lease_until=0.0, lease_owner="")
                )
            conn.execute(update(_t).where(_t.c.id == recording_id).values(**values))
            _after(conn, after, recording_id)

        await self.db.run(work)

    async def pass_on(self, recording_id: str, reason: str, due_at: float) -> None:
        """This node cannot deliver it (its audio is on another node): free it, due again at *due_at*, with
        *reason* shown; no attempt is counted."""

        def work(conn: Connection) -> None:
            conn.execute(
                update(_outbox)
                .where(_outbox.c.recording_id == recording_id)
                .values(due_at=due_at, lease_until=0.0, lease_owner="")
            )
            conn.execute(update(_t).where(_t.c.id == recording_id).values(last_error=reason[:2000]))

        await self.db.run(work)

    async def canaries(self, place_of: Callable[[dict[str, Any]], str], now: float, within: float) -> int:
        """For each place recordings wait for (*place_of* their target) with none due within *within* seconds:
        the one due soonest is due at *now* — one try tells whether that receiver is back. How many."""

        def work(conn: Connection) -> int:
            waiting = conn.execute(
                select(_outbox.c.recording_id, _outbox.c.due_at, _t.c.target)
                .join(_t, _t.c.id == _outbox.c.recording_id)
                .where(_outbox.c.lease_until < now)
                .order_by(_outbox.c.due_at)
            ).all()
            first: dict[str, tuple[str, float]] = {}
            for recording_id, due_at, target in waiting:
                first.setdefault(place_of(target), (str(recording_id), float(due_at)))
            ids = [recording_id for recording_id, due_at in first.values() if due_at > now + within]
            if ids:
                conn.execute(update(_outbox).where(_outbox.c.recording_id.in_(ids)).values(due_at=now))
            return len(ids)

        return int(await self.db.run(work))

    async def hasten(self, same_place: Callable[[dict[str, Any]], bool], now: float) -> int:
        """The entries waiting for a later retry (not held by anyone) whose target *same_place* accepts are due at
        *now*: their receiver is back. How many."""

        def work(conn: Connection) -> int:
            waiting = conn.execute(
                select(_outbox.c.recording_id, _t.c.target)
                .join(_t, _t.c.id == _outbox.c.recording_id)
                .where((_outbox.c.due_at > now) & (_outbox.c.lease_until < now))
            ).all()
            ids = [str(recording_id) for recording_id, target in waiting if same_place(target)]
            if ids:
                conn.execute(
                    update(_outbox)
                    .where(_outbox.c.recording_id.in_(ids) & (_outbox.c.lease_until < now))
                    .values(due_at=now)
                )
            return len(ids)

        return int(await self.db.run(work))

    async def outbox_depth(self) -> int:
        """Deliveries waiting."""
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(_outbox))).scalar_one())

    async def count_by_state(self) -> dict[str, int]:
        """How many recordings are in each state."""
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(_t.c.state, func.count()).group_by(_t.c.state))).all()
        return {str(state): int(count) for state, count in rows}

    # ---- the API's side -------------------------------------------------------------------------------

    async def get(self, account_id: str, recording_id: str) -> Any:
        """One row, or NotFoundError."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(_t).where((_t.c.id == recording_id) & (_t.c.account_id == account_id)))
            ).first()
        if row is None:
            raise NotFoundError(recording_id)
        return row

    async def blob(self, recording_id: str) -> bytes | None:
        """Audio kept in the database, if any."""
        blobs = schema.recording_blobs
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(blobs.c.data).where(blobs.c.recording_id == recording_id))).first()
        return None if row is None else bytes(row[0])

    async def queue(self, account_id: str, limit: int = MAX_PAGE) -> list[Any]:
        """*account_id*'s outbox, soonest due first: each row's recording facts with ``due_at``, ``lease_until``
        and ``lease_owner`` (a lease in the future: a node is delivering it now)."""
        query = (
            select(
                _t.c.id,
                _t.c.call_id,
                _t.c.name,
                _t.c.state,
                _t.c.attempts,
                _t.c.last_error,
                _t.c.created,
                _t.c.target,
                _outbox.c.due_at,
                _outbox.c.lease_until,
                _outbox.c.lease_owner,
            )
            .select_from(_outbox.join(_t, _t.c.id == _outbox.c.recording_id))
            .where(_t.c.account_id == account_id)
            .order_by(_outbox.c.due_at, _t.c.id)
            .limit(limit)
        )
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def list(
        self,
        account_id: str,
        *,
        call_id: str | None = None,
        owner_id: str | None = None,
        number: str | None = None,
        created_from: float | None = None,
        created_to: float | None = None,
        state: str | None = None,
        start_key: str | None = None,
        page_size: int = 50,
    ) -> tuple[list[Any], str | None]:
        """Newest first; a page and the ``start_key`` of the next one (None on the last page). *number* matches
        the caller's or the callee's number containing it."""
        where = [_t.c.account_id == account_id]
        if call_id:
            where.append(_t.c.call_id == call_id)
        if owner_id:
            where.append(_t.c.owner_id == owner_id)
        if number:
            caller, callee = (_t.c.doc[key].as_string() for key in ("caller_id_number", "callee_id_number"))
            where.append(or_(caller.contains(number, autoescape=True), callee.contains(number, autoescape=True)))
        if created_from is not None:
            where.append(_t.c.created >= created_from)
        if created_to is not None:
            where.append(_t.c.created <= created_to)
        if state:
            where.append(_t.c.state == state)
        async with self.db.engine.connect() as conn:
            if start_key:
                anchor = (await conn.execute(select(_t.c.created).where(_t.c.id == start_key))).first()
                if anchor is None:
                    raise NotFoundError(start_key)
                where.append(or_(_t.c.created < anchor[0], and_(_t.c.created == anchor[0], _t.c.id <= start_key)))
            query = select(_t).where(*where).order_by(_t.c.created.desc(), _t.c.id.desc()).limit(page_size + 1)
            rows = list((await conn.execute(query)).all())
        next_key = rows[page_size].id if len(rows) > page_size else None
        return rows[:page_size], next_key

    async def delete(self, account_id: str, recording_id: str, after: AfterChange | None = None) -> Any:
        """Remove a finished recording (its outbox entry and stored audio go with it, by cascade); the row as it was.
        One still being made is refused (ValueError): its call would write it again."""
        return await self.remove(account_id, recording_id, refuse_active=True, after=after)

    async def remove(
        self, account_id: str, recording_id: str, *, refuse_active: bool = False, after: AfterChange | None = None
    ) -> Any:
        """Remove a row (its outbox entry and stored audio go with it, by cascade) — in one transaction with the
        look at it, so a legal hold set meanwhile is never overlooked: ValueError under legal hold (or, with
        *refuse_active*, still recording); the row as it was."""

        def work(conn: Connection) -> Any:
            where = (_t.c.id == recording_id) & (_t.c.account_id == account_id)
            row = conn.execute(select(_t).where(where).with_for_update()).first()
            if row is None:
                raise NotFoundError(recording_id)
            if refuse_active and row.state == RecordingState.ACTIVE:
                raise ValueError("still recording: delete it when the call has ended")
            if row.doc.get("legal_hold"):
                raise ValueError("under legal hold: lift the hold first")
            conn.execute(delete(_t).where(where))
            _after(conn, after, recording_id, row)  # the row as it was
            return row

        return await self.db.run(work)

    async def set_legal_hold(self, account_id: str, recording_id: str, held: bool) -> Any:
        """Put a recording under legal hold (neither deleted nor swept by retention) or lift it; the row."""
        row = await self.get(account_id, recording_id)
        if row.state == RecordingState.ACTIVE:  # its document is written afresh when it ends
            raise ValueError("still recording: hold it when the call has ended")
        async with self.db.engine.begin() as conn:
            await conn.execute(update(_t).where(_t.c.id == recording_id).values(doc={**row.doc, "legal_hold": held}))
        return await self.get(account_id, recording_id)

    async def finished_before(
        self, account_id: str, before: float, after: tuple[float, str] | None = None, limit: int = MAX_PAGE
    ) -> Sequence[Any]:
        """A page of the account's finished recordings (not recording, not waiting for delivery) that started
        before *before*, oldest first, from past *after* (the last one's (created, id) of the page before)."""
        done = _t.c.state.notin_([RecordingState.ACTIVE, RecordingState.PENDING])
        where = (_t.c.account_id == account_id) & (_t.c.created < before) & done
        if after is not None:
            where &= or_(_t.c.created > after[0], and_(_t.c.created == after[0], _t.c.id > after[1]))
        query = select(_t).where(where).order_by(_t.c.created, _t.c.id).limit(limit)
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def retry(self, account_id: str, recording_id: str) -> Any:
        """Queue a failed delivery again (a fresh round of attempts, its horizon counted from now: the metadata's
        ``retried_at``); the row."""
        row = await self.get(account_id, recording_id)
        if row.state != RecordingState.FAILED:
            raise ValueError(f"only a failed delivery can be retried; this one is {row.state}")
        now = time.time()
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(_t)
                .where(_t.c.id == recording_id)
                .values(state=RecordingState.PENDING, attempts=0, doc={**row.doc, "retried_at": now})
            )
            await conn.execute(insert(_outbox).values(recording_id=recording_id, due_at=now, lease_until=0.0))
        return await self.get(account_id, recording_id)


def _after(conn: Connection, after: AfterChange | None, recording_id: str, row: Any = None) -> None:
    """Run *after* in a savepoint with the row as it is now (or *row*, one just deleted); a failure is logged."""
    if after is None:
        return
    if row is None:
        row = conn.execute(_ROW, {"rid": recording_id}).first()
        if row is None:  # deleted meanwhile (through the API, while its upload ran): nothing to tell of
            return
    try:
        with conn.begin_nested():
            after(conn, row)
    except Exception:
        log.exception("recording %s: the change is kept, but what was to tell of it could not be queued", recording_id)
