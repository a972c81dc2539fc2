"""DIDs: the numbers carriers deliver to the platform, each owned by one account (Kazoo's phone_numbers).

A number is unique across the platform; assigning one that another account holds is a conflict that names the
holder. An inbound call from a carrier finds its account here, then the account's callflow for the number.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import ConflictError, Doc, NotFoundError


def number_forms(number: str) -> list[str]:
    """The forms a dialled number may be held in: as dialled, and with or without the ``+`` of E.164."""
    if number.startswith("+"):
        return [number, number[1:]]
    return [number, f"+{number}"] if number.isdigit() else [number]


class PhoneNumbers:
    """Assign, read, list and release an account's DIDs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = schema.phone_numbers

    async def assign(self, account_id: str, number: str, doc: Doc) -> tuple[Doc, bool]:
        """Give *number* to the account (or update it if the account holds it): (the document, created?).
        ConflictError if another account holds it."""
        t = self.table
        now = time.time()
        body = {k: v for k, v in doc.items() if k not in ("id", "number")}
        async with self.db.engine.begin() as conn:
            held = (
                await conn.execute(select(t.c.number, t.c.account_id).where(t.c.number.in_(number_forms(number))))
            ).all()
            for form, holder in held:  # +1415… and 1415… are one number: one holder
                if holder != account_id:
                    raise ConflictError("number", f"{number} is assigned to account {holder}")
                if form != number:
                    raise ConflictError("number", f"the account holds this number as {form}")
            row = (await conn.execute(select(t.c.account_id, t.c.doc).where(t.c.number == number))).first()
            if row is not None:
                body = {**row[1], **body}
                await conn.execute(update(t).where(t.c.number == number).values(doc=body, modified=now))
                return _public(number, body), False
            try:
                await conn.execute(
                    insert(t).values(number=number, account_id=account_id, doc=body, created=now, modified=now)
                )
            except IntegrityError:  # taken between the read and the write
                raise ConflictError("number", f"{number} was just assigned to another account") from None
        return _public(number, body), True

    async def get(self, account_id: str, number: str) -> Doc:
        """The account's DID, or NotFoundError."""
        t = self.table
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(t.c.doc).where((t.c.number == number) & (t.c.account_id == account_id)))
            ).first()
        if row is None:
            raise NotFoundError(number)
        return _public(number, row[0])

    async def page(self, account_id: str, start_key: str, page_size: int) -> tuple[list[Doc], str | None]:
        """Up to *page_size* of the account's DIDs from *start_key* on, in number order; the next page's key."""
        t = self.table
        query = (
            select(t.c.number, t.c.doc)
            .where((t.c.account_id == account_id) & (t.c.number >= start_key))
            .order_by(t.c.number)
            .limit(page_size + 1)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        docs = [_public(number, doc) for number, doc in rows[:page_size]]
        return docs, (rows[page_size][0] if len(rows) > page_size else None)

    async def release(self, account_id: str, number: str) -> None:
        """Take the DID from the account, or NotFoundError."""
        t = self.table
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(t).where((t.c.number == number) & (t.c.account_id == account_id)))
        if result.rowcount == 0:
            raise NotFoundError(number)

    async def owner_of(self, number: str) -> tuple[str, str] | None:
        """(account id, number as held) of the DID a carrier delivered, in any of its forms."""
        t = self.table
        async with self.db.engine.connect() as conn:
            rows = list(
                (
                    await conn.execute(select(t.c.account_id, t.c.number).where(t.c.number.in_(number_forms(number))))
                ).all()
            )
        rows.sort(key=lambda row: row[1] != number)  # as dialled first (assign keeps one form per number anyway)
        return (str(rows[0][0]), str(rows[0][1])) if rows else None


def _public(number: str, doc: dict[str, Any]) -> Doc:
    return {**doc, "id": number, "number": number}
