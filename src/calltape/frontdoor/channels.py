"""Active calls as ``/v2/accounts/{A}/channels`` shows them (Kazoo calls a live call a channel), and the
recordings of one of them started, stopped, paused, resumed, masked or unmasked from the API — on whichever worker
of ``serve --workers N`` has the call."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from calltape.recording.manager import RecordingManager
from calltape.recording.request import RecordingRequest
from calltape.switch.call import Call
from calltape.switch.leg import Leg
from calltape.switch.outbound import OutboundLeg
from calltape.worker import Worker

Asker = Callable[[int, dict[str, Any]], Awaitable[Any]]  # (worker index, question) → its answer


def live_legs(call: Call) -> list[Leg]:
    """The caller's leg and every bridged leg that has not ended."""
    return [call.a_leg, *(leg for leg in call.legs if not leg.ended.is_set())]


def describe(call: Call, recorded_calls: Collection[str], age: float, now: float) -> dict[str, Any]:
    """One call as JSON: who calls whom, since when (*age* seconds before Unix time *now*), its legs, whether it
    is being recorded (*recorded_calls*: call ids with a recording running)."""
    return {
        "uuid": call.call_id,
        "call_id": call.call_id,
        "account_id": call.account_id,
        "direction": "inbound",
        "caller_id_number": call.caller.number,
        "caller_id_name": call.caller.name,
        "destination": call.number,
        "callflow": call.callflow_name,
        "started": round(now - age, 3),
        "duration_s": round(age, 1),
        "answered": call.answered,
        "recording": call.recording or call.call_id in recorded_calls,
        "legs": [_leg(leg) for leg in live_legs(call)],
    }


def _leg(leg: Leg) -> dict[str, Any]:
    media = leg.media
    doc: dict[str, Any] = {
        "call_id": leg.call_id,
        "direction": "outbound" if isinstance(leg, OutboundLeg) else "inbound",
        "state": leg.state.value,
        "peer": f"{leg.peer.host}:{leg.peer.port}",
        "packets_in": media.packets_in if media is not None else 0,
        "packets_out": media.packets_out if media is not None else 0,
    }
    if isinstance(leg, OutboundLeg):
        doc["device_id"] = leg.target.device_id
        doc["owner_id"] = leg.target.owner_id
    return doc


class LiveCalls:
    """The running calls of this process, for the API: an account sees its own calls only."""

    def __init__(self, calls: Callable[[], Iterable[Call]], recordings: RecordingManager | None) -> None:
        self.calls = calls
        self.recordings = recordings

    def list(self, account_id: str) -> list[dict[str, Any]]:
        """*account_id*'s active calls, oldest first."""
        calls = sorted((c for c in self.calls() if c.account_id == account_id), key=lambda c: c.started_at)
        recorded = self._recorded()
        return [self._describe(call, recorded) for call in calls]

    def one(self, account_id: str, call_id: str) -> dict[str, Any] | None:
        """One active call of the account with its running recordings (None if it has no such call)."""
        call = self._find(account_id, call_id)
        if call is None:
            return None
        return {**self._describe(call, self._recorded()), "recordings": call.recordings.describe()}

    async def control(
        self, account_id: str, call_id: str, action: str, request: RecordingRequest
    ) -> dict[str, Any] | None:
        """Start (with *request*), stop, pause, resume, mask or unmask the call's recordings; the call as it is
        then (None if the account has no such call)."""
        call = self._find(account_id, call_id)
        if call is None:
            return None
        if action == "start":
            await call.record_call(request)
        elif action == "stop":
            await call.stop_recordings()
        elif action in ("pause", "resume"):
            call.pause_recordings(action == "pause")
        else:
            call.mask_recordings(action == "mask")
        return self.one(account_id, call_id)

    def _find(self, account_id: str, call_id: str) -> Call | None:
        return next((c for c in self.calls() if c.call_id == call_id and c.account_id == account_id), None)

    def _recorded(self) -> set[str]:
        """The Call-IDs with a recording being made (the manager's, record_caller's included)."""
        return {r.facts.call_id for r in self.recordings.active} if self.recordings is not None else set()

    def _describe(self, call: Call, recorded: Collection[str]) -> dict[str, Any]:
        age = asyncio.get_running_loop().time() - call.started_at
        return describe(call, recorded, age, time.time())


class WorkerChannels:
    """The calls of every worker of this ``serve`` for the API (on worker 0): a call is asked of the worker that
    owns its Call-ID, a list gathers every worker's; ``handle`` answers the other workers' questions."""

    def __init__(self, local: LiveCalls, worker: Worker, ask: Asker | None = None) -> None:
        self.local = local
        self.worker = worker
        self.ask = ask  # None: one process, every call is here

    async def list(self, account_id: str) -> list[dict[str, Any]]:
        """*account_id*'s active calls on every worker, oldest first."""
        found = self.local.list(account_id)
        if self.ask is not None:
            for index in range(self.worker.count):
                if index != self.worker.index:
                    found += await self.ask(index, {"op": "list", "account_id": account_id})
        return sorted(found, key=lambda call: call["started"])

    async def one(self, account_id: str, call_id: str) -> dict[str, Any] | None:
        """One active call of the account with its running recordings (None if it has no such call)."""
        owner = self._owner(call_id)
        if owner is None:
            return self.local.one(account_id, call_id)
        answer: dict[str, Any] | None = await self.ask(
            owner, {"op": "one", "account_id": account_id, "call_id": call_id}
        )  # type: ignore[misc]
        return answer

    async def control(
        self, account_id: str, call_id: str, action: str, request: RecordingRequest
    ) -> dict[str, Any] | None:
        """The call's recordings started, stopped, paused, resumed, masked or unmasked, on the worker that has it."""
        owner = self._owner(call_id)
        if owner is None:
            return await self.local.control(account_id, call_id, action, request)
        assert self.ask is not None
        question = {"op": "control", "account_id": account_id, "call_id": call_id, "action": action}
        answer: dict[str, Any] | None = await self.ask(owner, {**question, "request": dataclasses.asdict(request)})
        return answer

    async def handle(self, question: dict[str, Any]) -> Any:
        """Another worker's question about this worker's calls."""
        account_id = str(question["account_id"])
        if question["op"] == "list":
            return self.local.list(account_id)
        call_id = str(question["call_id"])
        if question["op"] == "one":
            return self.local.one(account_id, call_id)
        request = RecordingRequest(**question["request"])
        return await self.local.control(account_id, call_id, str(question["action"]), request)

    def _owner(self, call_id: str) -> int | None:
        """The other worker that owns *call_id*, if it is not this one's."""
        if self.ask is None or self.worker.owns(call_id):
            return None
        return self.worker.owner(call_id.encode())
