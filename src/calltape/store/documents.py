"""Kazoo-style JSON documents (accounts, devices, system configs) with CRUD and uniqueness."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from calltape.store import schema
from calltape.store.database import Database

Doc = dict[str, Any]


_DOC_ID = re.compile(r"^[0-9a-f]{32}$")


def new_id(doc: Doc) -> str:
    """The id a new document gets: the one it brings (32 hex digits: a Kazoo export keeps its ids, so the
    callflows that name them still work), else a fresh one."""
    given = doc.get("id")
    return given if isinstance(given, str) and _DOC_ID.match(given) else uuid.uuid4().hex


def is_id_conflict(exc: IntegrityError, table: str) -> bool:
    """Whether *exc* says a document with that id already exists (SQLite's and PostgreSQL's words)."""
    message = str(exc.orig).lower()
    return f"{table}.id" in message or f"{table}_pkey" in message


class NotFoundError(LookupError):
    """No document with that id (in that account)."""


class ConflictError(ValueError):
    """A unique field is already taken; ``field`` is its path in the document."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DocumentKind:
    """How one kind of document maps onto its table."""

    table: Table
    #: column name → (document path for errors, function extracting the value from a document)
    columns: dict[str, tuple[str, Callable[[Doc], Any]]]
    scoped: bool = True  # has an account_id column


def _sip_username(doc: Doc) -> Any:
    sip = doc.get("sip")
    return sip.get("username") if isinstance(sip, dict) else None


ACCOUNTS = DocumentKind(schema.accounts, {"realm": ("realm", lambda d: str(d["realm"]).lower())}, scoped=False)
DEVICES = DocumentKind(
    schema.devices, {"sip_username": ("sip.username", _sip_username), "sip_ip": ("sip.ip", schema.device_address)}
)
MEDIA = DocumentKind(schema.media, {})
USERS = DocumentKind(schema.users, {})
VMBOXES = DocumentKind(schema.vmboxes, {})
MENUS = DocumentKind(schema.menus, {})
GROUPS = DocumentKind(schema.groups, {})
TEMPORAL_RULES = DocumentKind(schema.temporal_rules, {})
TEMPORAL_RULES_SETS = DocumentKind(schema.temporal_rules_sets, {})
RESOURCES = DocumentKind(schema.resources, {})
GLOBAL_RESOURCES = DocumentKind(schema.global_resources, {}, scoped=False)


class Documents:
    """CRUD over one :class:`DocumentKind`; documents come back with their ``id``."""

    def __init__(self, db: Database, kind: DocumentKind) -> None:
        self.db = db
        self.kind = kind
        self.table = kind.table

    def _values(self, doc: Doc) -> dict[str, Any]:
        values = {col: extract(doc) for col, (_, extract) in self.kind.columns.items()}
        values["doc"] = {k: v for k, v in doc.items() if k != "id"}
        return values

    def _where(self, doc_id: str, account_id: str | None) -> Any:
        clause = self.table.c.id == doc_id
        if self.kind.scoped:
            clause = clause & (self.table.c.account_id == account_id)
        return clause

    def _conflict(self, exc: IntegrityError) -> Exception:
        if is_id_conflict(exc, self.table.name):
            return ConflictError("id", "a document with this id already exists")
        message = str(exc.orig).lower()
        paths = [path for col, (path, _) in self.kind.columns.items() if col in message]
        if not paths and "unique" in message:  # a constraint named otherwise (PostgreSQL names the constraint)
            paths = [path for path, _ in self.kind.columns.values()][:1]
        return ConflictError(paths[0], f"{paths[0]} is already in use") if paths else exc

    async def create(self, doc: Doc, account_id: str | None = None) -> Doc:
        """Insert *doc* with its own id (:func:`new_id`) or a new one."""
        now = time.time()
        doc_id = new_id(doc)
        values = self._values(doc) | {"id": doc_id, "created": now, "modified": now}
        if self.kind.scoped:
            values["account_id"] = account_id
        try:
            async with self.db.engine.begin() as conn:
                await conn.execute(insert(self.table).values(**values))
        except IntegrityError as exc:
            raise self._conflict(exc) from None
        return {**values["doc"], "id": doc_id}

    async def get(self, doc_id: str, account_id: str | None = None) -> Doc:
        """The document, or NotFoundError."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(self.table.c.doc).where(self._where(doc_id, account_id)))).first()
        if row is None:
            raise NotFoundError(doc_id)
        return {**row[0], "id": doc_id}

    async def list(self, account_id: str | None = None) -> list[Doc]:
        """Every document (of the account), oldest first."""
        query = select(self.table.c.id, self.table.c.doc).order_by(self.table.c.created)
        if self.kind.scoped:
            query = query.where(self.table.c.account_id == account_id)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{**doc, "id": doc_id} for doc_id, doc in rows]

    async def replace(self, doc_id: str, doc: Doc, account_id: str | None = None) -> Doc:
        """Overwrite the document's content."""
        values = self._values(doc) | {"modified": time.time()}
        try:
            async with self.db.engine.begin() as conn:
                result = await conn.execute(update(self.table).where(self._where(doc_id, account_id)).values(**values))
        except IntegrityError as exc:
            raise self._conflict(exc) from None
        if result.rowcount == 0:
            raise NotFoundError(doc_id)
        return {**values["doc"], "id": doc_id}

    async def delete(self, doc_id: str, account_id: str | None = None) -> None:
        """Remove the document, or NotFoundError."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self._where(doc_id, account_id)))
        if result.rowcount == 0:
            raise NotFoundError(doc_id)
