"""Retention: recordings calltape holds are removed once older than the account's ``recordings.retention_days``
(a user's own ``recordings.retention_days`` wins for the recordings it owns).

Held by calltape means: kept in the database (``stored``), kept in the spool after delivery gave up (``failed``),
written to a local storage plan (``filesystem``), or ``discarded`` (a row without audio). A recording delivered
anywhere else is the receiver's and is never touched; one under legal hold is skipped; one still being made or
delivered is not finished. Each removal is in the audit trail, by ``system``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from calltape.delivery.storage_plan import object_key
from calltape.store.documents import Documents
from calltape.store.recording_audit import RecordingAudit
from calltape.store.recordings import Recordings, RecordingState

log = logging.getLogger(__name__)

DAY = 86400.0
SWEEP_INTERVAL = 3600.0


def retention_days(doc: dict[str, Any] | None) -> int | None:
    """A document's ``recordings.retention_days``, if set."""
    days = ((doc or {}).get("recordings") or {}).get("retention_days")
    return int(days) if isinstance(days, int) and days > 0 else None


def held_file(row: Any) -> Path | None:
    """The file calltape holds for a finished recording, if any (its spool, or a local storage plan's copy)."""
    if row.state == RecordingState.FAILED:
        return Path(row.spool_path)
    target = row.target or {}
    plan = target.get("plan") or {}
    if (
        row.state == RecordingState.DELIVERED
        and target.get("kind") == "storage"
        and plan.get("handler") == "filesystem"
    ):
        return Path((plan.get("settings") or {}).get("path", "")) / object_key(row.account_id, row.name, row.created)
    return None


def held_by_calltape(row: Any) -> bool:
    """Whether retention may remove *row*: calltape holds it, and no legal hold keeps it."""
    if row.doc.get("legal_hold"):
        return False
    return row.state in (RecordingState.STORED, RecordingState.DISCARDED) or held_file(row) is not None


class RetentionSweeper:
    """Removes what is past its accounts' (and users') retention, at most every ``interval`` seconds."""

    def __init__(
        self,
        accounts: Documents,
        users: Documents,
        recordings: Recordings,
        audit: RecordingAudit,
        *,
        interval: float = SWEEP_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = accounts
        self.users = users
        self.recordings = recordings
        self.audit = audit
        self.interval = interval
        self.clock = clock
        self.swept = 0

    async def run(self) -> None:
        """Sweep, then sleep, until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:  # the store down: next time
                log.exception("retention: the sweep failed")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        """One pass over every account with a retention; how many recordings were removed."""
        removed = 0
        now = self.clock()
        for account in await self.accounts.list():
            days = retention_days(account)
            overrides = {u["id"]: d for u in await self.users.list(account["id"]) if (d := retention_days(u))}
            if days is None and not overrides:
                continue
            shortest = min([days, *overrides.values()] if days else overrides.values())
            for row in await self.recordings.finished_before(account["id"], now - shortest * DAY):
                keep_for = overrides.get(row.owner_id or "", days)
                if keep_for is None or row.created >= now - keep_for * DAY or not held_by_calltape(row):
                    continue
                await self._remove(row, keep_for)
                removed += 1
        self.swept += removed
        return removed

    async def _remove(self, row: Any, days: int) -> None:
        path = held_file(row)
        await self.recordings.remove(row.id)
        if path is not None:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        await self.audit.add(row.account_id, row.id, "swept", "system", retention_days=days, state=row.state)
        log.info("call-id %s: recording %s removed after %d days (retention)", row.call_id, row.name, days)
