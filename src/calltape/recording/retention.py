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
from calltape.recording.capture_file import capture_path
from calltape.store.documents import Documents, NotFoundError
from calltape.store.recording_audit import RecordingAudit
from calltape.store.recordings import Recordings, RecordingState

log = logging.getLogger(__name__)

DAY = 86400.0
SWEEP_INTERVAL = 3600.0


def retention_days(doc: dict[str, Any] | None) -> int | None:
    """A document's ``recordings.retention_days``, if set."""
    days = ((doc or {}).get("recordings") or {}).get("retention_days")
    return int(days) if isinstance(days, int) and days > 0 else None


def local_copy(row: Any) -> Path | None:
    """Where a local (``filesystem``) storage plan put a delivered recording, if that is where it went."""
    target = row.target or {}
    plan = target.get("plan") or {}
    if row.state != RecordingState.DELIVERED or target.get("kind") != "storage" or plan.get("handler") != "filesystem":
        return None
    return Path((plan.get("settings") or {}).get("path", "")) / object_key(row.account_id, row.name, row.created)


def held_files(row: Any) -> list[Path]:
    """The files calltape may still hold of a recording: its spool and its raw capture (after a failure or a
    crash), and a local storage plan's copy once delivered there."""
    spool = Path(row.spool_path)
    local = local_copy(row)
    return [spool, capture_path(spool), *([local] if local is not None else [])]


def held_by_calltape(row: Any) -> bool:
    """Whether retention may remove *row*: calltape holds it, and no legal hold keeps it."""
    if row.doc.get("legal_hold"):
        return False
    held = (RecordingState.STORED, RecordingState.DISCARDED, RecordingState.FAILED)
    return row.state in held or local_copy(row) is not None


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
            after: tuple[float, str] | None = None
            while page := await self.recordings.finished_before(account["id"], now - shortest * DAY, after):
                after = (page[-1].created, page[-1].id)
                for row in page:
                    keep_for = overrides.get(row.owner_id or "", days)
                    if keep_for is None or row.created >= now - keep_for * DAY or not held_by_calltape(row):
                        continue
                    removed += await self._remove(row, keep_for)
        self.swept += removed
        return removed

    async def _remove(self, row: Any, days: int) -> int:
        try:
            await self.recordings.remove(row.account_id, row.id)
        except (ValueError, NotFoundError):  # held, or gone, since it was read
            return 0
        for path in held_files(row):
            await asyncio.to_thread(path.unlink, missing_ok=True)
        await self.audit.add(row.account_id, row.id, "swept", "system", retention_days=days, state=row.state)
        log.info("call-id %s: recording %s removed after %d days (retention)", row.call_id, row.name, days)
        return 1
