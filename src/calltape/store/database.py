"""Opening the database (SQLite file by default, PostgreSQL by URL) and migrating its schema."""

from __future__ import annotations

import asyncio
import logging
import secrets as pysecrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from calltape.store import migrations, schema

log = logging.getLogger(__name__)

T = TypeVar("T")
_PG_MIGRATION_LOCK = 0x63616C6C  # "call": one node migrates at a time


class StoreError(Exception):
    """The database could not be opened or migrated."""


def store_away(exc: BaseException) -> bool:
    """Whether *exc* says the store is away — refused or broken connections, a pool that cannot connect, a server
    shutting down or starting (SQLSTATE classes 08 and 57P) — rather than a fault of the request: what is asked
    can be tried again later, here or on another node (a SIP 503, not a 500)."""
    if isinstance(exc, (ConnectionError, TimeoutError, OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        return code.startswith(("08", "57P"))
    return False


def async_url(url: str) -> str:
    """Map a user-facing URL to its async driver (``postgresql://`` → asyncpg, ``sqlite://`` → aiosqlite)."""
    for prefix, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise StoreError(f"unsupported database URL {url!r} (use sqlite:///PATH or postgresql://…)")


def default_sqlite_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data directory."""
    return f"sqlite:///{(data_dir / 'calltape.db').resolve()}"


class Database:
    """An async engine plus schema management."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        else:  # one connection: statements queue in the event loop instead of sleeping in SQLite's busy handler
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._sync_engine: Engine | None = None
        self._sync_lane: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            self._sync_engine = create_engine(self.url.replace("+aiosqlite", ""), pool_size=1, max_overflow=0)
            event.listen(self._sync_engine, "connect", _sqlite_pragmas)
            self._sync_lane = ThreadPoolExecutor(1, thread_name_prefix="sqlite")

    async def open(self) -> None:
        """Create or migrate the schema to the latest version."""
        if self.is_sqlite:
            path = self.url.split(":///", 1)[1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(self._migrate)
        except OSError as exc:
            raise StoreError(f"cannot open database: {exc}") from exc

    async def close(self) -> None:
        """Release every connection."""
        await self.engine.dispose()
        if self._sync_engine is not None and self._sync_lane is not None:
            await asyncio.get_running_loop().run_in_executor(self._sync_lane, self._sync_engine.dispose)
            self._sync_lane.shutdown()

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run *work* in one transaction. On SQLite the whole transaction is one step on the store's own thread —
        one hand-over per transaction instead of one per statement, which under load costs an event-loop turn
        each; on PostgreSQL it runs on an async connection."""
        if self._sync_engine is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        return await asyncio.get_running_loop().run_in_executor(self._sync_lane, self._run_sync, work)

    def _run_sync(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return work(conn)

    def _migrate(self, conn: Connection) -> None:
        if not self.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        schema.schema_version.create(conn, checkfirst=True)
        current = conn.execute(select(schema.schema_version.c.version)).scalar() or 0
        for version in sorted(v for v in migrations.MIGRATIONS if v > current):
            step = migrations.MIGRATIONS[version]
            log.info("migrating database schema to version %d", version)
            if callable(step):
                step(conn)
            else:
                for statement in step:
                    conn.execute(text(statement))
        if current == 0:
            conn.execute(insert(schema.schema_version).values(version=migrations.LATEST_VERSION))
        elif current < migrations.LATEST_VERSION:
            conn.execute(schema.schema_version.update().values(version=migrations.LATEST_VERSION))

    async def schema_version(self) -> int:
        """The version the database is at."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(schema.schema_version.c.version))).scalar() or 0)

    async def shared_secret(self, name: str) -> str:
        """A random secret created once and shared by every node using this database."""
        table = schema.secrets
        async with self.engine.begin() as conn:
            value = (await conn.execute(select(table.c.value).where(table.c.name == name))).scalar()
            if value is not None:
                return str(value)
        candidate = pysecrets.token_hex(32)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(table).values(name=name, value=candidate))
            return candidate
        except IntegrityError:  # another node created it first
            async with self.engine.connect() as conn:
                return str((await conn.execute(select(table.c.value).where(table.c.name == name))).scalar_one())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
