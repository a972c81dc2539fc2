"""Walking a callflow: run each node's module, follow the branch it returns, hang up at the end."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

import calltape.callflow.modules  # noqa: F401 - registers the modules
from calltape.callflow.call_api import CallApi, CallEndedError, TransferredError
from calltape.callflow.module import MODULES, Jump
from calltape.callflow.validation import child_nodes

log = logging.getLogger(__name__)

MAX_STEPS = 500  # a flow that loops (callflow → itself) ends instead of running forever
MAX_JUMPS = 20

CallflowLoader = Callable[[str], Awaitable[dict[str, Any]]]


async def run_callflow(call: CallApi, callflow: dict[str, Any], load: CallflowLoader) -> None:
    """Run *callflow* on *call*; *load* fetches another callflow of the account for ``callflow`` jumps."""
    node: Any = callflow.get("flow")
    steps = jumps = 0
    try:
        while isinstance(node, dict):
            steps += 1
            if steps > MAX_STEPS:
                log.warning("call-id %s: callflow ran %d steps, ending the call", call.call_id, MAX_STEPS)
                break
            name, data, children = node.get("module"), node.get("data") or {}, child_nodes(node)
            if data.get("skip_module"):
                node = children.get("_")
                continue
            module = MODULES.get(str(name))
            if module is None:
                log.error("call-id %s: unknown module %r in the callflow, ending the call", call.call_id, name)
                break
            try:
                parsed = module.data_model.model_validate(data)
            except ValidationError as exc:
                log.error("call-id %s: bad data for module %s: %s", call.call_id, name, exc.errors()[0]["msg"])
                break
            log.debug("call-id %s: running %s", call.call_id, name)
            call.children = tuple(children)
            try:
                branch = await module.run(call, parsed)
            except TransferredError as transfer:  # the caller goes on in the number's callflow
                log.info("call-id %s: transferred to callflow %s", call.call_id, transfer.callflow_id)
                branch = Jump(transfer.callflow_id)
            if isinstance(branch, Jump):
                jumps += 1
                if jumps > MAX_JUMPS:
                    log.warning("call-id %s: more than %d callflow jumps, ending the call", call.call_id, MAX_JUMPS)
                    break
                try:
                    node = (await load(branch.callflow_id)).get("flow")
                except LookupError:
                    log.error("call-id %s: callflow %s not found", call.call_id, branch.callflow_id)
                    break
                continue
            keys = branch if isinstance(branch, tuple) else (branch,) if branch is not None else ()
            node = children.get(next((key for key in keys if key in children), "_"))
    except CallEndedError:
        log.debug("call-id %s: call ended while running the callflow", call.call_id)
    finally:
        await call.hangup()
