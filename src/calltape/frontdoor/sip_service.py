"""The transaction user: what calltape answers to each SIP request it receives."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from calltape.frontdoor.calls import RETRY_AFTER, CallControl
from calltape.frontdoor.registrar import Registrar
from calltape.frontdoor.replies import Responder, reply
from calltape.logs import throttle
from calltape.sip.events import (
    AckReceived,
    AckTimedOut,
    Event,
    InviteCancelled,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from calltape.sip.validation import Capabilities
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(allow=frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "REFER"}))
#: What an OPTIONS answer advertises (RFC 3261 §11.2).
OPTIONS_HEADERS = [
    ("Allow", CAPABILITIES.allow_header),
    ("Accept", "application/sdp"),
    ("Accept-Encoding", "identity"),
    ("Accept-Language", "en"),
    ("Supported", ", ".join(sorted(CAPABILITIES.supported))),
]


class SipService:
    """Routes requests: OPTIONS, REGISTER, INVITE (to the callflow engine), in-dialog requests."""

    def __init__(
        self, registrar: Registrar, responder: Responder, calls: CallControl, *, server_name: str = "calltape"
    ) -> None:
        self.registrar = registrar
        self.responder = responder
        self.calls = calls
        self.server_name = server_name
        self.draining = False  # new calls and OPTIONS probes get 503: the edge sends calls to other nodes
        self._tasks = TaskSet("sip requests")

    def handle_event(self, event: Event) -> None:
        """Called by the transport for every event the endpoint produces."""
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, AckReceived):
            self.calls.on_ack(event)
        elif isinstance(event, InviteCancelled):
            log.debug("call-id %s: caller cancelled", event.transaction.request.call_id)
            self.calls.on_cancelled(event)
        elif isinstance(event, AckTimedOut):
            self.calls.on_ack_timeout(event)
        elif isinstance(event, ResponseReceived | TransactionTimedOut | TransportFailed):
            self.calls.on_client_event(event)

    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        method = request.method
        if self.draining and method in ("OPTIONS", "INVITE") and request.to.tag is None:
            self._reply(event, 503, "Service Unavailable (draining)", [("Retry-After", RETRY_AFTER)])
        elif method == "OPTIONS":
            self._reply(event, 200, headers=OPTIONS_HEADERS)
        elif method == "REGISTER":
            self._spawn(self._register(event))
        elif request.to.tag is not None:  # in-dialog: BYE, re-INVITE, INFO
            if not self.calls.on_in_dialog(event):
                self._reply(event, 481)
        elif method == "INVITE":
            self.calls.on_invite(event)
        else:
            self._reply(event, 481)

    def _reply(
        self,
        event: RequestReceived,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        reply(self.responder, event, status, reason, [*(headers or []), ("Server", self.server_name)])

    async def _register(self, event: RequestReceived) -> None:
        try:
            response = await self.registrar.handle(event.request, event.peer, event.transaction.to_tag)
        except Exception as exc:
            throttle.error(log, "register-error", exc, "call-id %s: REGISTER failed", event.request.call_id)
            self._reply(event, 500, "Server Internal Error", [("Retry-After", "5")])
            return
        response.headers.add("Server", self.server_name)
        self.responder.respond(event.transaction, response)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro)

    async def drain(self) -> None:
        """Wait for requests being handled (used at shutdown)."""
        await self._tasks.wait()
