"""Recordings kept in PostgreSQL: one row per file, the audio as a large object, the sidecar as JSONB.

The bytes are streamed into the large object in 1 MiB pieces (never held whole in memory), and
the row appears in the same transaction: a recording is there completely or not at all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg

from calltape.receiver.naming import Upload
from calltape.receiver.spool import SpoolFile
from calltape.receiver.storage import Sidecar, StoredFile, key_prefix, versioned_name

PIECE = 1024 * 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS receiver_recordings (
    key text PRIMARY KEY,
    base_key text NOT NULL,
    account_id text NOT NULL,
    version integer NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL,
    received_at timestamptz NOT NULL,
    sidecar jsonb NOT NULL,
    content oid NOT NULL
);
CREATE INDEX IF NOT EXISTS receiver_recordings_base ON receiver_recordings (base_key);
CREATE INDEX IF NOT EXISTS receiver_recordings_account ON receiver_recordings (account_id, received_at);
"""


class PostgresStorage:
    """The receiver's PostgreSQL backend."""

    def __init__(self, url: str, spool_dir: Path) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        self.spool_dir = spool_dir
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._pool: asyncpg.Pool | None = None

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=8)
            async with self._pool.acquire() as conn:
                await conn.execute("SELECT pg_advisory_lock(7301)")
                try:
                    await conn.execute(SCHEMA)
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(7301)")
        return self._pool

    async def store(self, spool: SpoolFile, upload: Upload, sidecar: Sidecar, received: datetime) -> StoredFile:
        prefix = key_prefix(upload, received)
        base_key = f"{prefix}/{upload.name}"
        pool = await self._connection_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", base_key)
            versions = await conn.fetch(
                "SELECT key, version, sha256 FROM receiver_recordings WHERE base_key = $1 ORDER BY version", base_key
            )
            for row in versions:
                if row["sha256"] == spool.sha256:
                    return StoredFile(row["key"], spool.size, spool.sha256, False, f"postgresql:{row['key']}")
            version = versions[-1]["version"] + 1 if versions else 0
            key = f"{prefix}/{versioned_name(upload.name, version)}"
            oid = await conn.fetchval("SELECT lo_create(0)")
            offset = 0
            with spool.path.open("rb") as fh:
                while piece := fh.read(PIECE):
                    await conn.execute("SELECT lo_put($1, $2, $3)", oid, offset, piece)
                    offset += len(piece)
            doc = {**sidecar, "name": key.rsplit("/", 1)[1], "key": key, "version": version}
            await conn.execute(
                "INSERT INTO receiver_recordings (key, base_key, account_id, version, sha256, size, received_at,"
                " sidecar, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)",
                key,
                base_key,
                upload.account_id,
                version,
                spool.sha256,
                spool.size,
                received,
                json.dumps(doc),
                oid,
            )
        return StoredFile(key, spool.size, spool.sha256, True, f"postgresql:{key}")

    async def find(self, account_id: str | None, since: str | None, until: str | None) -> list[Sidecar]:
        pool = await self._connection_pool()
        rows = await pool.fetch(
            "SELECT sidecar FROM receiver_recordings WHERE ($1::text IS NULL OR account_id = $1)"
            " AND ($2::text IS NULL OR sidecar->>'received_at' >= $2)"
            " AND ($3::text IS NULL OR left(sidecar->>'received_at', length($3)) <= $3) ORDER BY key",
            account_id,
            since,
            until,
        )
        return [json.loads(r["sidecar"]) for r in rows]

    async def stat(self, key: str) -> Sidecar | None:
        pool = await self._connection_pool()
        row = await pool.fetchrow("SELECT sidecar, size FROM receiver_recordings WHERE key = $1", key)
        return None if row is None else {**json.loads(row["sidecar"]), "size": row["size"]}

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        pool = await self._connection_pool()
        oid = await pool.fetchval("SELECT content FROM receiver_recordings WHERE key = $1", key)
        offset = start
        while oid is not None and offset < end:
            piece = await pool.fetchval("SELECT lo_get($1, $2, $3)", oid, offset, min(PIECE, end - offset))
            if not piece:
                break
            offset += len(piece)
            yield piece

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
