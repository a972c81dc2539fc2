"""The recordings an account's or device's ``call_recording`` settings ask for (Kazoo's automatic recording): the
account's inbound rule when the call comes in, the outbound rules once it is known where it goes, a device's
inbound rule when it takes the call. The rules themselves are read in ``recording/automatic.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from calltape.recording.automatic import Network, RecordingLeaf, account_rules, enabled_leaf, endpoint_rules, origin
from calltape.recording.request import RecordingRequest


class RecordingDirectory(Protocol):
    """Where the automatic recording settings are read: the account, devices and their owners."""

    async def account(self, account_id: str) -> dict[str, Any] | None: ...
    async def device_and_owner(
        self, account_id: str, device_id: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]: ...


class StartRecording(Protocol):
    """A call's ``record_call``: now, or once it is answered or bridged."""

    def __call__(
        self, request: RecordingRequest, *, on_answer: bool = False, on_bridge: bool = False
    ) -> Awaitable[None]: ...


class AutomaticRecordings:
    """One call's automatic recordings: each rule fires at most as Kazoo's do."""

    def __init__(
        self,
        record_call: StartRecording,
        answered: asyncio.Event,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self._record_call = record_call
        self.answered = answered
        self._spawn = spawn
        # set by start: the directory, the account and its document (read once: the call keeps to the settings
        # it started with), the calling device
        self._automatic: tuple[RecordingDirectory, str, dict[str, Any] | None, str | None] | None = None
        self._account_rule_fired = False
        self._outbound_done = False

    async def start(self, directory: RecordingDirectory, account_id: str, caller_device_id: str | None) -> None:
        """At the start of the call: the account's inbound rule for where the call came from (on-net from one of
        its devices, off-net from a carrier). The outbound rules wait until it is known where the call goes:
        :meth:`outbound` when it rings somewhere, else on-net once the call is answered here."""
        came_from = _network_of(caller_device_id)
        account = await directory.account(account_id)
        self._automatic = (directory, account_id, account, caller_device_id)
        rules, _ = account_rules(account)
        self._account_rule_fired = await self._record_by(
            enabled_leaf(rules, "inbound", came_from), origin("inbound", came_from, "account")
        )
        self._spawn(self._outbound_on_answer())

    async def _outbound_on_answer(self) -> None:
        await self.answered.wait()
        await self.outbound("onnet")

    async def outbound(self, to: Network) -> None:
        """The call goes out to *to* (once per call): the account's outbound rule unless its inbound rule fired,
        and the calling device's outbound rule (merged with its owner's and the account's ``endpoint``)."""
        if self._automatic is None or self._outbound_done:
            return
        self._outbound_done = True
        directory, account_id, account, caller_device_id = self._automatic
        if not self._account_rule_fired:
            rules, _ = account_rules(account)
            await self._record_by(enabled_leaf(rules, "outbound", to), origin("outbound", to, "account"))
        if caller_device_id is not None:
            device, owner = await directory.device_and_owner(account_id, caller_device_id)
            leaf = enabled_leaf(endpoint_rules(account, owner, device), "outbound", to)
            await self._record_by(leaf, origin("outbound", to, "endpoint"))

    async def for_endpoint(self, device_id: str) -> None:
        """A device of the account took the call: its inbound rule for where the call came from."""
        if self._automatic is None:
            return
        directory, account_id, account, caller_device_id = self._automatic
        came_from = _network_of(caller_device_id)
        device, owner = await directory.device_and_owner(account_id, device_id)
        leaf = enabled_leaf(endpoint_rules(account, owner, device), "inbound", came_from)
        await self._record_by(leaf, origin("inbound", came_from, "endpoint"))

    async def _record_by(self, leaf: RecordingLeaf | None, rule: str) -> bool:
        if leaf is None:
            return False
        request = leaf.request(origin=rule)
        await self._record_call(request, on_answer=leaf.record_on_answer, on_bridge=leaf.record_on_bridge)
        return True


def _network_of(caller_device_id: str | None) -> Network:
    """Where a call came from: on-net from one of the account's devices, else off-net (a carrier)."""
    return "onnet" if caller_device_id is not None else "offnet"
