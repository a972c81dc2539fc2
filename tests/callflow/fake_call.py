"""A call in memory for running the engine and modules in-process: documents, a clock, scripted key presses and
ring outcomes; what the caller would hear is written down as a list of events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
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
from calltape.recording.caller_recorder import Recorded


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
class FakeMailboxes:
    """Voicemail boxes and their messages in memory (audio paths that are never read: play_file only notes them)."""

    boxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages_of: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    full_notices: list[tuple[str, int]] = field(default_factory=list)  # (box id, limit) for each full box found

    async def box(self, account_id: str, box_id: str) -> dict[str, Any] | None:
        return self.boxes.get(box_id)

    async def box_for_mailbox(self, account_id: str, mailbox: str) -> dict[str, Any] | None:
        return next((b for b in self.boxes.values() if b.get("mailbox") == mailbox), None)

    async def counts(self, account_id: str, box_id: str) -> dict[str, int]:
        folders = [m["folder"] for m in self.messages_of.get(box_id, [])]
        return {folder: folders.count(folder) for folder in ("new", "saved", "deleted")}

    async def messages(self, account_id: str, box_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages_of.get(box_id, []) if m["folder"] != "deleted"]

    def new_message(self, account_id: str, box_id: str) -> tuple[str, Path]:
        message_id = uuid.uuid4().hex
        return message_id, Path(f"/nonexistent/{message_id}.wav")

    async def save_message(
        self, account_id: str, box: dict[str, Any], message_id: str, doc: dict[str, Any]
    ) -> dict[str, Any]:
        message = {**doc, "id": message_id, "folder": "new"}
        self.messages_of.setdefault(box["id"], []).append(message)
        return message

    async def set_folder(self, account_id: str, box_id: str, message_id: str, folder: str) -> None:
        for message in self.messages_of.get(box_id, []):
            if message["id"] == message_id:
                message["folder"] = folder

    async def box_full(self, account_id: str, box: dict[str, Any], limit: int, call_id: str) -> None:
        self.full_notices.append((box["id"], limit))

    async def forward_message(
        self, account_id: str, box: dict[str, Any], message: dict[str, Any], to_box: dict[str, Any]
    ) -> dict[str, Any]:
        copy = {**message, "id": uuid.uuid4().hex, "folder": "new", "forwarded_from": {"vmbox_id": box["id"]}}
        self.messages_of.setdefault(to_box["id"], []).append(copy)
        return copy

    def draft_path(self, account_id: str, box_id: str) -> Path:
        return Path(f"/nonexistent/draft-{uuid.uuid4().hex}.wav")

    async def keep_recorded(self, account_id: str, box: dict[str, Any], what: str, recorded: Path) -> dict[str, Any]:
        box.setdefault("media", {})[what] = recorded.stem
        return box

    async def forget_greeting(self, account_id: str, box: dict[str, Any], what: str) -> dict[str, Any]:
        box.get("media", {}).pop(what, None)
        return box

    async def set_pin(self, account_id: str, box: dict[str, Any], pin: str) -> dict[str, Any]:
        box["pin"] = pin
        return box

    async def message_audio(self, account_id: str, box_id: str, message_id: str) -> Path | None:
        return Path(f"/nonexistent/{message_id}.wav")


@dataclass
class FakeCall:
    """Implements what the routing modules use of :class:`calltape.callflow.call_api.CallApi`."""

    documents: FakeDocuments = field(default_factory=FakeDocuments)
    mailboxes: FakeMailboxes = field(default_factory=FakeMailboxes)
    clock: float = 0.0  # Unix time now()
    keys: list[str] = field(default_factory=list)  # what collect_during returns, in turn ("" = nothing pressed)
    ring_outcomes: list[BridgeFailure | None] = field(default_factory=list)  # None: answered (the call ends)
    heard: list[str] = field(default_factory=list)  # prompts, tones and speech, in order
    recorded: list[Recorded] = field(default_factory=list)  # what record_caller takes, in turn (else 5 s, hangup)
    recording_limits: list[float] = field(default_factory=list)  # the max_seconds each record_caller was given
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

    async def play_file(self, path: Path) -> None:
        self.heard.append(f"file:{path.stem}")

    async def record_caller(
        self, path: Path, *, max_seconds: float, silence_seconds: float | None, stop_keys: str = "#"
    ) -> Recorded:
        self.heard.append("recording")
        self.recording_limits.append(max_seconds)
        return self.recorded.pop(0) if self.recorded else Recorded(5.0, "hangup")

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
