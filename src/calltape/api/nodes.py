"""``/v2/nodes/{node_id}``: this node's state, and its drain (the operator's token only).

A node is drained before it is restarted: new calls and the edge's OPTIONS probes get 503, so Kamailio sends
calls to the other nodes; the calls under way go on until they end (or ``--drain-timeout``), then the node
stops. A node answers for itself only: another node's id is a 404 naming this one.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from calltape.api.auth import require_master
from calltape.api.envelope import success
from calltape.api.errors import ApiError


class NodeControl(Protocol):
    """What the API reads and asks of the node it runs on."""

    node_id: str

    def state(self) -> dict[str, Any]: ...

    def start_draining(self) -> None: ...


def add_node_routes(router: APIRouter, node: NodeControl) -> None:
    """GET the node's state; POST ``…/drain`` to drain it."""

    def this_node(request: Request, node_id: str) -> None:
        require_master(request)
        if node_id != node.node_id:
            raise ApiError(404, "bad identifier", {"node_id": f"this is node {node.node_id!r}, not {node_id!r}"})

    @router.get("/nodes/{node_id}")
    async def node_state(request: Request, node_id: str) -> JSONResponse:
        """The node's name, whether it drains, and the calls it carries."""
        this_node(request, node_id)
        return success(node.state())

    @router.post("/nodes/{node_id}/drain")
    async def drain_node(request: Request, node_id: str) -> JSONResponse:
        """Refuse new calls from now on, let those under way end, then stop (as SIGTERM does)."""
        this_node(request, node_id)
        node.start_draining()
        return success({**node.state(), "draining": True}, status=202)
