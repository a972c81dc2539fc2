"""Retention on a real SQLite store with an injected clock: what calltape holds goes once older than the account's
(or its owner's) retention_days, with its file and an audit row; what was delivered elsewhere, what is under legal
hold, what is younger and what is still being delivered stay."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from calltape.delivery.storage_plan import object_key
from calltape.recording.retention import RetentionSweeper
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, USERS, Documents
from calltape.store.recording_audit import RecordingAudit
from calltape.store.recordings import Recordings

DAY = 86400.0


async def test_the_sweep_removes_only_what_calltape_holds_past_its_retention(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'calltape.db'}")
    await db.open()
    try:
        now = time.time()
        account = await Documents(db, ACCOUNTS).create(
            {"name": "A", "realm": "a.example.com", "recordings": {"retention_days": 30}}
        )
        brief = await Documents(db, USERS).create(
            {"first_name": "B", "recordings": {"retention_days": 7}}, account["id"]
        )
        recordings, audit = Recordings(db), RecordingAudit(db)
        plan_dir = tmp_path / "plan"

        async def row(name: str, state: str, days: float, target: dict[str, Any], **extra: Any) -> str:
            recording_id = uuid.uuid4().hex
            spool = tmp_path / f"{name}.mp3"
            spool.write_bytes(b"audio")
            await recordings.create(
                {
                    "id": recording_id,
                    "account_id": account["id"],
                    "call_id": name,
                    "owner_id": extra.get("owner"),
                    "format": "mp3",
                    "name": f"{name}.mp3",
                    "created": now - days * DAY,
                    "duration_ms": 1000,
                    "size": 5,
                    "sha256": "",
                    "channels": 2,
                    "sample_rate": 8000,
                    "spool_path": str(spool),
                    "node": "n",
                    "target": target,
                    "doc": {"legal_hold": extra.get("hold", False)},
                }
            )
            await recordings.finish(recording_id, {"state": state}, deliver=False)
            return recording_id

        local = {"kind": "storage", "plan": {"handler": "filesystem", "settings": {"path": str(plan_dir)}}}
        elsewhere = {"kind": "http", "url": "http://rec.example.com/r", "method": "put", "query": {}}
        swept = {
            "stored": await row("stored", "stored", 40, {"kind": "db"}),
            "failed": await row("failed", "failed", 40, elsewhere),
            "local": await row("local", "delivered", 40, local),
            "discarded": await row("discarded", "discarded", 40, {"kind": "db"}),
            "owner's 7 days": await row("brief", "stored", 10, {"kind": "db"}, owner=brief["id"]),
        }
        kept = {
            "delivered elsewhere": await row("elsewhere", "delivered", 40, elsewhere),
            "legal hold": await row("held", "stored", 40, {"kind": "db"}, hold=True),
            "younger": await row("young", "stored", 10, {"kind": "db"}),
            "still pending": await row("pending", "pending", 40, elsewhere),
        }
        (tmp_path / "failed.capture").write_bytes(b"CTC1")
        plan_file = plan_dir / object_key(account["id"], "local.mp3", now - 40 * DAY)
        plan_file.parent.mkdir(parents=True)
        plan_file.write_bytes(b"audio")

        sweeper = RetentionSweeper(Documents(db, ACCOUNTS), Documents(db, USERS), recordings, audit, clock=lambda: now)
        assert await sweeper.sweep() == len(swept)
        left = {r.id for r in (await recordings.list(account["id"], page_size=50))[0]}
        assert left == set(kept.values()), {k for k, v in {**swept, **kept}.items() if (v in left) != (k in kept)}
        assert not (tmp_path / "failed.mp3").exists() and not plan_file.exists()  # their files went with them
        assert not (tmp_path / "failed.capture").exists()  # and a raw capture the encoding could not finish
        assert (tmp_path / "elsewhere.mp3").exists()
        trail = (await audit.list(account["id"], page_size=50))[0]
        assert {(t.recording_id, t.action, t.actor) for t in trail} == {(i, "swept", "system") for i in swept.values()}
        assert await sweeper.sweep() == 0  # nothing more
    finally:
        await db.close()
