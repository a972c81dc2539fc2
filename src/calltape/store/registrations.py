"""Registrar bindings (RFC 3261 §10.3) kept in the store, so every node sees every binding."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select

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


@dataclass(frozen=True)
class BindingChange:
    """What one REGISTER asks for: contacts to set (expires_at > now) or remove (expires_at <= now)."""

    contact: str
    expires_at: float


class OutOfOrderError(Exception):
    """A REGISTER with the same Call-ID and a CSeq not above the stored one (§10.3 step 7)."""


class Registrations:
    """Binding queries; each REGISTER is applied in one database transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = schema.registrations

    async def apply(
        self, template: Binding, changes: list[BindingChange], *, remove_all: bool, now: float
    ) -> list[Binding]:
        """Apply one REGISTER for ``template.aor``; return the AOR's bindings afterwards."""
        t = self.table
        async with self.db.engine.begin() as conn:
            rows = (await conn.execute(select(t).where(t.c.aor == template.aor))).mappings().all()
            current = {r["contact"]: Binding(**r) for r in rows if r["expires_at"] > now}
            if remove_all:
                if any(b.call_id == template.call_id and b.cseq >= template.cseq for b in current.values()):
                    raise OutOfOrderError()
                await conn.execute(delete(t).where(t.c.aor == template.aor))
                return []
            for change in changes:
                old = current.get(change.contact)
                if old is not None and old.call_id == template.call_id and old.cseq >= template.cseq:
                    raise OutOfOrderError()
            stale = [c.contact for c in changes] + [r["contact"] for r in rows if r["expires_at"] <= now]
            if stale:
                await conn.execute(delete(t).where((t.c.aor == template.aor) & t.c.contact.in_(stale)))
            for change in changes:
                current.pop(change.contact, None)
                if change.expires_at > now:
                    binding = Binding(**{**template.__dict__, "contact": change.contact,
                                         "expires_at": change.expires_at})  # fmt: skip
                    await conn.execute(insert(t).values(**binding.__dict__))
                    current[change.contact] = binding
        return sorted(current.values(), key=lambda b: b.contact)

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

    async def purge_expired(self, now: float) -> int:
        """Delete expired bindings; returns how many."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self.table.c.expires_at <= now))
        return int(result.rowcount or 0)
