"""Callflow documents and the number → callflow index (numbers are unique within an account).

A call from one of an account's devices is routed in that account: the callflow with the dialled number, else the
first whose pattern matches, else the account's ``no_match``. A call from a carrier finds its account by the DID
(``phone_numbers``), then routes the same way; a number no account holds as a DID reaches the account that has had
it as a callflow number longest (how calltape routed carrier calls before DIDs, when a number had one account:
existing set-ups keep working, and a newer tenant that adds the same number cannot take the calls).
"""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from calltape.patterns import search
from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import ConflictError, Doc, NotFoundError, is_id_conflict, new_id
from calltape.store.phone_numbers import PhoneNumbers, number_forms
from calltape.store.ttl_cache import TtlCache


class Callflows:
    """CRUD for callflows, and finding the one a dialled number reaches.

    ``find`` answers (found or not) are kept for ``cache_ttl`` seconds, so a flood of INVITEs costs the
    database one query per number and not one per INVITE; this node's own writes clear them at once,
    other nodes' writes are seen within ``cache_ttl``.
    """

    def __init__(self, db: Database, cache_ttl: float = 5.0) -> None:
        self.db = db
        self.table = schema.callflows
        self.numbers = schema.callflow_numbers
        self.dids = PhoneNumbers(db)
        self._found = TtlCache(cache_ttl, max_entries=10_000)

    def forget(self) -> None:
        """Drop remembered answers (a DID was assigned or released)."""
        self._found.clear()

    async def create(self, doc: Doc, account_id: str) -> Doc:
        """Store a new callflow; ConflictError("numbers") if a number is taken."""
        doc_id = new_id(doc)
        now = time.time()
        body = {k: v for k, v in doc.items() if k != "id"}
        try:
            async with self.db.engine.begin() as conn:
                await conn.execute(
                    insert(self.table).values(id=doc_id, account_id=account_id, doc=body, created=now, modified=now)
                )
                await self._index(conn, doc_id, account_id, body)
        except IntegrityError as exc:
            if is_id_conflict(exc, self.table.name):
                raise ConflictError("id", "a document with this id already exists") from None
            raise ConflictError("numbers", "a number is already used by another callflow of the account") from None
        self._found.clear()
        return {**body, "id": doc_id}

    async def replace(self, doc_id: str, doc: Doc, account_id: str) -> Doc:
        """Overwrite a callflow and its numbers."""
        body = {k: v for k, v in doc.items() if k != "id"}
        try:
            async with self.db.engine.begin() as conn:
                result = await conn.execute(
                    update(self.table)
                    .where((self.table.c.id == doc_id) & (self.table.c.account_id == account_id))
                    .values(doc=body, modified=time.time())
                )
                if result.rowcount == 0:
                    raise NotFoundError(doc_id)
                await conn.execute(delete(self.numbers).where(self.numbers.c.callflow_id == doc_id))
                await self._index(conn, doc_id, account_id, body)
        except IntegrityError as exc:
            if is_id_conflict(exc, self.table.name):
                raise ConflictError("id", "a document with this id already exists") from None
            raise ConflictError("numbers", "a number is already used by another callflow of the account") from None
        self._found.clear()
        return {**body, "id": doc_id}

    async def _index(self, conn: Any, doc_id: str, account_id: str, body: Doc) -> None:
        rows = [{"number": n, "callflow_id": doc_id, "account_id": account_id} for n in body.get("numbers", [])]
        if rows:
            await conn.execute(insert(self.numbers), rows)

    async def get(self, doc_id: str, account_id: str) -> Doc:
        """One callflow, or NotFoundError."""
        t = self.table
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(t.c.doc).where((t.c.id == doc_id) & (t.c.account_id == account_id)))
            ).first()
        if row is None:
            raise NotFoundError(doc_id)
        return {**row[0], "id": doc_id}

    async def list(self, account_id: str) -> list[Doc]:
        """The account's callflows."""
        t = self.table
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(select(t.c.id, t.c.doc).where(t.c.account_id == account_id).order_by(t.c.created))
            ).all()
        return [{**doc, "id": doc_id} for doc_id, doc in rows]

    async def delete(self, doc_id: str, account_id: str) -> None:
        """Remove a callflow (its numbers go with it)."""
        t = self.table
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(self.numbers).where(self.numbers.c.callflow_id == doc_id))
            result = await conn.execute(delete(t).where((t.c.id == doc_id) & (t.c.account_id == account_id)))
        self._found.clear()
        if result.rowcount == 0:
            raise NotFoundError(doc_id)

    async def find(self, number: str, account_id: str | None) -> tuple[str, Doc] | None:
        """(account id, callflow) for a number dialled by one of *account_id*'s devices, or (None) from a carrier."""
        found = await self._found.get((number, account_id), lambda: self._find(number, account_id))
        return cast(tuple[str, Doc] | None, found)

    async def _find(self, number: str, account_id: str | None) -> tuple[str, Doc] | None:
        if account_id is not None:
            return await self._in_account(number, account_id)
        did = await self.dids.owner_of(number)
        if did is not None:
            return await self._in_account(number, did[0])
        n, t = self.numbers, self.table
        query = (
            select(n.c.account_id, n.c.callflow_id)
            .join(t, t.c.id == n.c.callflow_id)
            .where(n.c.number == number)
            .order_by(t.c.created, t.c.id)
            .limit(1)
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return row[0], await self.get(row[1], row[0])

    async def _in_account(self, number: str, account_id: str) -> tuple[str, Doc] | None:
        n = self.numbers
        query = select(n.c.number, n.c.callflow_id).where(
            (n.c.account_id == account_id) & n.c.number.in_([*number_forms(number), "no_match"])
        )
        async with self.db.engine.connect() as conn:
            by_number = dict((await conn.execute(query)).all())
        exact = next((by_number[form] for form in number_forms(number) if form in by_number), None)
        if exact is not None:
            return account_id, await self.get(exact, account_id)
        for doc in await self.list(account_id):
            for pattern in doc.get("patterns", []):
                if isinstance(pattern, str) and search(pattern, number):
                    return account_id, doc
        if "no_match" in by_number:
            return account_id, await self.get(by_number["no_match"], account_id)
        return None
