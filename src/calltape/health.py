"""``GET /health`` for load balancers: the store answers, the spool is writable, the disk has room, the event
loop keeps time. 200 when all hold, else 503 — each check says what it found."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from calltape.store.database import Database

MIN_FREE_BYTES = 512 * 1024 * 1024  # below this, new recordings could not be kept: stop sending calls here
MAX_LOOP_LAG = 0.5  # seconds late a timer may fire before the node counts as overloaded
LAG_INTERVAL = 0.5


class LoopLag:
    """How late the event loop runs timers, measured every half second."""

    def __init__(self) -> None:
        self.lag = 0.0
        self.worst = 0.0  # since the last health check
        self.max = 0.0  # since the start (``/metrics``)

    async def run(self) -> None:
        """Measure until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)
            self.lag = max(0.0, loop.time() - due)
            self.worst = max(self.worst, self.lag)
            self.max = max(self.max, self.lag)


async def health(db: Database, spool_dir: Path, lag: LoopLag) -> tuple[bool, dict[str, Any]]:
    """Run every check; (healthy, what each found)."""
    checks: dict[str, Any] = {}
    started = time.monotonic()
    try:
        async with asyncio.timeout(2.0), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["store"] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # any failure of the store is what this check reports
        checks["store"] = {"ok": False, "error": repr(exc)}
    checks["spool"] = await asyncio.to_thread(_spool_writable, spool_dir)
    free = shutil.disk_usage(spool_dir).free if spool_dir.exists() else 0
    checks["disk"] = {"ok": free >= MIN_FREE_BYTES, "free_bytes": free, "min_free_bytes": MIN_FREE_BYTES}
    worst, lag.worst = lag.worst, lag.lag
    checks["loop"] = {"ok": worst <= MAX_LOOP_LAG, "lag_s": round(worst, 3), "max_lag_s": MAX_LOOP_LAG}
    return all(check["ok"] for check in checks.values()), checks


def _spool_writable(spool_dir: Path) -> dict[str, Any]:
    probe = spool_dir / f".health-{os.getpid()}"
    try:
        spool_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": f"{spool_dir}: {exc.strerror or exc}"}
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
