"""Registrar bindings (RFC 3261 §10.3) kept in the store, so every node sees every binding.

REGISTERs arriving close together are applied in one database transaction (``BindingWriter``):
each caller still waits until its change is committed, but the per-statement cost of the driver
is paid once per batch instead of once per REGISTER.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from calltape.store import schema
from calltape.store.database import Database


@dataclass(frozen=True)
class Binding:
    """One contact bound to an address-of-record."""

    aor: str
    contact: str
    account_id: str
    device_id: str
    call_id: str
    cseq: int
    expires_at: float
    source: str
    user_agent: str = ""
    node: str = ""
    path: str = ""  # the REGISTER's Path header values, first hop first (RFC 3327), comma-separated


@dataclass(frozen=True)
class BindingChange:
    """A contact to set (expires_at > now) or remove (expires_at <= now)."""

    contact: str
    expires_at: float


@dataclass(frozen=True)
class RegisterUpdate:
    """Everything one REGISTER asks for. ``template`` carries the AOR, Call-ID, CSeq and source."""

    template: Binding
    changes: list[BindingChange]
    remove_all: bool
    now: float


class OutOfOrderError(Exception):
    """A REGISTER with the same Call-ID and a CSeq not above the stored one (§10.3 step 7)."""


def _apply_one(current: dict[str, Binding], update: RegisterUpdate) -> dict[str, Binding]:
    """The AOR's bindings after *update*, or OutOfOrderError."""
    t = update.template
    live = {c: b for c, b in current.items() if b.expires_at > update.now}
    touched = live.values() if update.remove_all else [live[c.contact] for c in update.changes if c.contact in live]
    if any(b.call_id == t.call_id and b.cseq >= t.cseq for b in touched):
        raise OutOfOrderError()
    if update.remove_all:
        return {}
    for change in update.changes:
        live.pop(change.contact, None)
        if change.expires_at > update.now:
            live[change.contact] = dataclasses.replace(t, contact=change.contact, expires_at=change.expires_at)
    return live


class Registrations:
    """Binding queries; ``apply_batch`` applies several REGISTERs in one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = schema.registrations

    async def apply_batch(self, updates: list[RegisterUpdate]) -> list[list[Binding] | OutOfOrderError]:
        """Apply *updates* in order; each result is the AOR's bindings right after it, or its error."""
        t = self.table
        aors = sorted({u.template.aor for u in updates})
        async with self.db.engine.begin() as conn:
            rows = (await conn.execute(select(t).where(t.c.aor.in_(aors)))).mappings().all()
            state: dict[str, dict[str, Binding]] = {aor: {} for aor in aors}
            for row in rows:
                state[row["aor"]][row["contact"]] = Binding(**row)
            before = {aor: dict(bindings) for aor, bindings in state.items()}
            results: list[list[Binding] | OutOfOrderError] = []
            for update in updates:
                aor = update.template.aor
                try:
                    state[aor] = _apply_one(state[aor], update)
                    results.append(sorted(state[aor].values(), key=lambda b: b.contact))
                except OutOfOrderError as exc:
                    results.append(exc)
            removed = [{"a": aor, "c": c} for aor in aors for c, b in before[aor].items() if state[aor].get(c) != b]
            added = [b.__dict__ for aor in aors for c, b in state[aor].items() if before[aor].get(c) != b]
            if removed:
                condition = and_(t.c.aor == bindparam("a"), t.c.contact == bindparam("c"))
                await conn.execute(delete(t).where(condition), removed)
            if added:
                await conn.execute(insert(t), added)
        return results

    async def lookup(self, aor: str, now: float) -> list[Binding]:
        """Live bindings of *aor*."""
        t = self.table
        query = select(t).where((t.c.aor == aor) & (t.c.expires_at > now)).order_by(t.c.contact)
        async with self.db.engine.connect() as conn:
            return [Binding(**r) for r in (await conn.execute(query)).mappings().all()]

    async def for_device(self, device_id: str, now: float) -> list[Binding]:
        """Live bindings of one device (what a call to the device rings)."""
        t = self.table
        query = select(t).where((t.c.device_id == device_id) & (t.c.expires_at > now)).order_by(t.c.contact)
        async with self.db.engine.connect() as conn:
            return [Binding(**r) for r in (await conn.execute(query)).mappings().all()]

    async def count_live(self, now: float) -> int:
        """How many bindings are live (``/metrics``)."""
        t = self.table
        query = select(func.count()).select_from(t).where(t.c.expires_at > now)
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def purge_expired(self, now: float) -> int:
        """Delete expired bindings; returns how many."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self.table.c.expires_at <= now))
        return int(result.rowcount or 0)


class BindingWriter:
    """Queues REGISTER updates and commits whatever has gathered in one transaction at a time."""

    def __init__(self, registrations: Registrations, max_batch: int = 200) -> None:
        self.registrations = registrations
        self.max_batch = max_batch
        self._queue: list[tuple[RegisterUpdate, asyncio.Future[list[Binding]]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def apply(self, update: RegisterUpdate) -> list[Binding]:
        """Apply one REGISTER; returns the AOR's bindings once committed (or raises OutOfOrderError)."""
        future: asyncio.Future[list[Binding]] = asyncio.get_running_loop().create_future()
        self._queue.append((update, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            updates = [update for update, _ in batch]
            try:
                try:
                    results = await self.registrations.apply_batch(updates)
                except IntegrityError:  # another node bound the same contact meanwhile: reread, retry once
                    results = await self.registrations.apply_batch(updates)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, OutOfOrderError):
                    future.set_exception(result)
                else:
                    future.set_result(result)
