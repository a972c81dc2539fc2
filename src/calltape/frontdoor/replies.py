"""Answering a request the front door received: through its server transaction, once."""

from __future__ import annotations

from typing import Protocol

from calltape.sip.events import RequestReceived
from calltape.sip.message import Response
from calltape.sip.transaction import ServerTransaction


class Responder(Protocol):
    """The transport side: send a response through its transaction."""

    def respond(self, transaction: ServerTransaction, response: Response) -> None: ...


def reply(
    responder: Responder,
    event: RequestReceived,
    status: int,
    reason: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> None:
    """Answer *event*'s request with *status* (and *headers*), unless a final answer went already."""
    if not event.transaction.final_sent:
        responder.respond(event.transaction, event.response(status, reason, headers))
