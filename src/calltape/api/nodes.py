"""``/v2/nodes``: the nodes sharing this store, and a node's drain (the operator's token only).

``GET /v2/nodes`` lists every node (each worker of each ``calltape serve``) as the store last heard of it: up or
not, draining, its calls, the deliveries it leases and, for a node that is gone, how many of them are stranded
(they are taken over by the nodes still up). ``GET /v2/nodes/{node_id}`` is one of them.

A node is drained before it is restarted: new calls and the edge's OPTIONS probes get 503, so Kamailio sends
calls to the other nodes; the calls under way go on until they end (or ``--drain-timeout``), then the node
stops. ``POST /v2/nodes/{node_id}/drain`` is asked of the node itself (another node's id: 409, naming this one).
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.auth import require_master
from calltape.api.envelope import success
from calltape.api.errors import ApiError
from calltape.store.nodes import Nodes


class NodeControl(Protocol):
    """What the API reads and asks of the node it runs on."""

    node_id: str

    def state(self) -> dict[str, Any]: ...

    def start_draining(self) -> None: ...


def add_node_routes(router: APIRouter, node: NodeControl, nodes: Nodes) -> None:
    """List the nodes, read one, drain this one."""

    async def known(node_id: str) -> dict[str, Any]:
        """A node as the store last heard of it — its workers' rows summed (``NAME:wK``) — and, for this node,
        as it stands now."""
        rows = [row for row in await nodes.all() if row["id"] == node_id or row["id"].startswith(f"{node_id}:w")]
        here = node.state() if node_id == node.node_id else None
        if not rows and here is None:
            raise ApiError(404, "bad identifier", {"node_id": f"no node {node_id!r} shares this store"})
        summed = {
            "id": node_id,
            "up": any(row["up"] for row in rows),
            "draining": any(row["draining"] for row in rows),
            "calls": sum(row["calls"] for row in rows),
            "started": min((row["started"] for row in rows), default=None),
            "last_seen": max((row["last_seen"] for row in rows), default=None),
            "stopped": None if any(row["stopped"] is None for row in rows) else max(row["stopped"] for row in rows),
            "deliveries_leased": sum(row["deliveries_leased"] for row in rows),
            "stranded": sum(row["stranded"] for row in rows),
            "workers": max(len(rows), 1),
        }
        if here is None:
            return summed
        live = {"up": True, "stopped": None, "draining": here["draining"], "legs": here["legs"]}
        if here["workers"] == 1:  # the other workers' calls are known from their rows only
            live["calls"] = here["calls"]
        return {**summed, **live}

    @router.get("/nodes")
    async def list_nodes(request: Request) -> JSONResponse:
        """Every node the store has heard of, the most recent first."""
        require_master(request)
        return success(await nodes.all())

    @router.get("/nodes/{node_id}")
    async def node_state(request: Request, node_id: str) -> JSONResponse:
        """One node: this one as it stands, another as the store last heard of it."""
        require_master(request)
        return success(await known(node_id))

    @router.post("/nodes/{node_id}/drain")
    async def drain_node(request: Request, node_id: str) -> JSONResponse:
        """Refuse new calls from now on, let those under way end, then stop (as SIGTERM does)."""
        require_master(request)
        if node_id != node.node_id:
            await known(node_id)  # 404 if no such node
            raise ApiError(409, "conflict", {"node_id": f"ask {node_id!r} itself: this is node {node.node_id!r}"})
        node.start_draining()
        return success({**node.state(), "draining": True}, status=202)
