"""A SQLite database as an earlier calltape left it: the schema up to a version, and rows written then."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, insert

from calltape.store import migrations, schema


def old_database(path: Path, version: int, rows: Sequence[tuple[Table, dict[str, Any]]]) -> str:
    """Create *path* at schema *version* holding *rows*; its URL (the next open migrates it)."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        schema.schema_version.create(conn)
        for step_version in range(1, version + 1):
            step = migrations.MIGRATIONS[step_version]
            assert callable(step)
            step(conn)
        conn.execute(insert(schema.schema_version).values(version=version))
        for table, values in rows:
            conn.execute(insert(table).values(**values))
    engine.dispose()
    return url
