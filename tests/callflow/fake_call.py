"""A call in memory for running the engine and modules in-process: documents, a clock, scripted key presses and
ring outcomes; what the caller would hear is written down as a list of events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from calltape.callflow.call_api import (
    BridgeFailure,
    CallEndedError,
    CallParty,
    Endpoint,
    OffnetRequest,
    RingOptions,
)
from calltape.callflow.engine import run_callflow


@dataclass
class FakeDocuments:
    """An account's documents by collection, and its callflows by number."""

    collections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)  # number → callflow id
    account_timezone: str = "UTC"

    def add(self, collection: str, doc: dict[str, Any]) -> str:
        doc_id = doc.setdefault("id", uuid.uuid4().hex)
        self.collections.setdefault(collection, {})[doc_id] = dict(doc)
        return str(doc_id)

    async def get(self, account_id: str, collection: str, doc_id: str) -> dict[str, Any] | None:
        doc = self.collections.get(collection, {}).get(doc_id)
        return dict(doc) if doc is not None else None

    async def save(self, account_id: str, collection: str, doc: dict[str, Any]) -> None:
        self.collections.setdefault(collection, {})[doc["id"]] = dict(doc)

    async def callflow_for(self, account_id: str, number: str) -> str | None:
        return self.numbers.get(number)

    async def timezone(self, account_id: str) -> str:
        return self.account_timezone


@dataclass
class FakeCall:
    """Implements what the routing modules use of :class:`calltape.callflow.call_api.CallApi`."""

    documents: FakeDocuments = field(default_factory=FakeDocuments)
    clock: float = 0.0  # Unix time now()
    keys: list[str] = field(default_factory=list)  # what collect_during returns, in turn ("" = nothing pressed)
    ring_outcomes: list[BridgeFailure | None] = field(default_factory=list)  # None: answered (the call ends)
    heard: list[str] = field(default_factory=list)  # prompts, tones and speech, in order
    rang: list[tuple[list[Endpoint], RingOptions]] = field(default_factory=list)
    called_out: list[OffnetRequest] = field(default_factory=list)
    responded: tuple[int, str | None] | None = None
    call_id: str = "fake-call"
    account_id: str = "account"
    number: str = "1000"
    variables: dict[str, Any] = field(default_factory=dict)
    caller: CallParty = field(default_factory=lambda: CallParty("2000", "Caller"))
    children: tuple[str, ...] = ()
    hung_up: bool = False

    def now(self) -> float:
        return self.clock

    async def caller_owner_id(self) -> str | None:
        return None

    async def answer(self) -> None:
        pass

    async def say(self, text: str, voice: str = "female", language: str = "en-us") -> None:
        self.heard.append(f"tts://{text}")

    async def play_prompt(self, prompt: str) -> None:
        self.heard.append(prompt)

    async def play_tone(self, name: str | None, frequencies: tuple[float, ...], seconds: float) -> None:
        self.heard.append(f"tone:{name or ','.join(f'{f:g}' for f in frequencies)}")

    async def collect_during(
        self, prompt: str | None, max_digits: int, timeout: float, interdigit: float, terminators: str = "#"
    ) -> str:
        if prompt:
            self.heard.append(prompt)
        return self.keys.pop(0) if self.keys else ""

    async def bridge(self, endpoints: list[Endpoint], options: RingOptions) -> BridgeFailure:
        self.rang.append((endpoints, options))
        outcome = self.ring_outcomes.pop(0) if self.ring_outcomes else BridgeFailure("NO_ANSWER")
        if outcome is None:
            raise CallEndedError()
        return outcome

    async def bridge_offnet(self, request: OffnetRequest) -> BridgeFailure:
        self.called_out.append(request)
        outcome = self.ring_outcomes.pop(0) if self.ring_outcomes else BridgeFailure("NO_ROUTE_DESTINATION")
        if outcome is None:
            raise CallEndedError()
        return outcome

    async def respond(self, status: int, reason: str | None, prompt: str | None) -> None:
        self.responded = (status, reason)

    async def hangup(self) -> None:
        self.hung_up = True

    async def run(self, flow: dict[str, Any], callflows: dict[str, dict[str, Any]] | None = None) -> None:
        """Run *flow* (a callflow's ``flow``) to its end; *callflows* by id for jumps."""

        async def load(callflow_id: str) -> dict[str, Any]:
            if callflows is None or callflow_id not in callflows:
                raise LookupError(callflow_id)
            return callflows[callflow_id]

        await run_callflow(self, {"flow": flow}, load)  # type: ignore[arg-type]


def tone_node(hz: int) -> dict[str, Any]:
    """A node that plays *hz* (what the fake call hears as ``tone:<hz>``)."""
    return {"module": "tone", "data": {"frequencies": [hz], "duration_ms": 100}}
