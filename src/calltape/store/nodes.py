"""The nodes that share this store (each worker of each ``calltape serve``): each says every HEARTBEAT seconds
that it is up, whether it drains and how many calls it carries. A node not heard of for GONE_AFTER seconds, or
stopped, is gone: its leases need not be waited out, and the API shows what it holds as stranded. A node
delivers its own recordings (the audio is in its spool) and those of nodes that are not up — the same data dir
under another name (a new host name), or shared storage; audio it cannot find is passed on, not failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from calltape.store import schema
from calltape.store.database import Database

HEARTBEAT = 5.0  # seconds between a node's notes
GONE_AFTER = 30.0  # seconds without a note before a node counts as gone

_t = schema.nodes


@dataclass(frozen=True)
class NodeState:
    """What a node said of itself last."""

    node: str
    draining: bool
    calls: int
    started: float  # when this run of the node began


class Nodes:
    """Every node's last note."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def note(self, state: NodeState, now: float | None = None) -> None:
        """*state*'s node is up now."""
        now = time.time() if now is None else now

        def work(conn: Connection) -> None:
            values = {
                "last_seen": now,
                "draining": state.draining,
                "calls": state.calls,
                "stopped": None,
                "started": state.started,
            }
            if not conn.execute(update(_t).where(_t.c.id == state.node).values(**values)).rowcount:
                conn.execute(insert(_t).values(id=state.node, **values))

        await self.db.run(work)

    async def stopped(self, node: str, now: float | None = None) -> None:
        """*node* stopped cleanly."""
        now = time.time() if now is None else now
        async with self.db.engine.begin() as conn:
            await conn.execute(update(_t).where(_t.c.id == node).values(stopped=now, last_seen=now, calls=0))

    async def all(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every node, the most recently heard of first, with ``up`` (heard of within GONE_AFTER and not stopped)
        and ``stranded`` (deliveries it still leases though it is not up)."""
        now = time.time() if now is None else now
        outbox = schema.recording_outbox
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(_t).order_by(_t.c.last_seen.desc()))).all()
            leases = (
                await conn.execute(
                    select(outbox.c.lease_owner).where((outbox.c.lease_owner != "") & (outbox.c.lease_until >= now))
                )
            ).scalars()
            held: dict[str, int] = {}
            for owner in leases:
                held[owner] = held.get(owner, 0) + 1
        found = []
        for row in rows:
            up = row.stopped is None and now - row.last_seen <= GONE_AFTER
            found.append(
                {
                    "id": row.id,
                    "up": up,
                    "started": row.started,
                    "last_seen": row.last_seen,
                    "stopped": row.stopped,
                    "draining": bool(row.draining) and up,
                    "calls": row.calls if up else 0,
                    "deliveries_leased": held.get(row.id, 0),
                    "stranded": 0 if up else held.get(row.id, 0),
                }
            )
        return found


def gone_nodes(now: float) -> Any:
    """A subquery: the nodes known and not up at *now* (their leases need not be waited out)."""
    return select(_t.c.id).where((_t.c.stopped.is_not(None)) | (_t.c.last_seen < now - GONE_AFTER))


def up_nodes(now: float) -> Any:
    """A subquery: the nodes up at *now* (a node never heard of is not)."""
    return select(_t.c.id).where(_t.c.stopped.is_(None) & (_t.c.last_seen >= now - GONE_AFTER))
