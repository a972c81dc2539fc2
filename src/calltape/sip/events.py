"""Events the sans-IO SIP endpoint hands to the transaction user (TU)."""

from __future__ import annotations

from dataclasses import dataclass

from calltape.sip.message import Request, Response
from calltape.sip.peer import Peer as Peer  # the TU takes it with the events
from calltape.sip.responses import make_response
from calltape.sip.transaction import ClientTransaction, ServerTransaction


@dataclass(frozen=True)
class RequestReceived:
    """A new request for the TU; answer it with ``endpoint.respond(transaction, response, now)``."""

    request: Request
    transaction: ServerTransaction
    peer: Peer

    def response(
        self, status: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """A response to the request, with the transaction's To tag."""
        return make_response(self.request, status, reason, to_tag=self.transaction.to_tag, headers=headers)


@dataclass(frozen=True)
class AckReceived:
    """An ACK that belongs to no transaction: the end-to-end ACK of a 2xx."""

    request: Request
    peer: Peer


@dataclass(frozen=True)
class ResponseReceived:
    """A response to a request the TU sent (transaction None: a 2xx retransmitted after it ended)."""

    response: Response
    transaction: ClientTransaction | None
    peer: Peer


@dataclass(frozen=True)
class InviteCancelled:
    """A CANCEL ended a pending INVITE: the core already sent 200 to the CANCEL and 487 to the INVITE."""

    transaction: ServerTransaction
    cancel: Request


@dataclass(frozen=True)
class TransactionTimedOut:
    """A client transaction got no final response (timer B or F)."""

    transaction: ClientTransaction


@dataclass(frozen=True)
class AckTimedOut:
    """A 2xx to an INVITE was retransmitted for 64*T1 and never acknowledged (RFC 3261 §13.3.1.4)."""

    response: Response
    peer: Peer


@dataclass(frozen=True)
class TransportFailed:
    """A client transaction's request could not be sent."""

    transaction: ClientTransaction


Event = (
    RequestReceived
    | AckReceived
    | ResponseReceived
    | InviteCancelled
    | TransactionTimedOut
    | AckTimedOut
    | TransportFailed
)
