"""The sans-IO SIP endpoint: parsing, transaction matching, timers and the UAS checks.

Feed it ``receive(data, peer, now)`` and ``handle_timer(now)``; drain ``datagrams_to_send()`` and
``next_event()``; ask ``get_timer()`` when to call ``handle_timer`` next. It never touches a
socket or a clock, so every timer can be tested on a fake clock.

Responses always go back to where the request came from (``force_rport``, as Asterisk and
Kamailio deployments do), which is what works through NAT; the top Via records ``received`` and
``rport`` (RFC 3581).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from typing import Protocol

from calltape.sip.events import (
    AckReceived,
    AckTimedOut,
    Event,
    InviteCancelled,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from calltape.sip.message import Request, Response
from calltape.sip.parser import SipParseError, parse_message
from calltape.sip.responses import make_response, new_tag
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.transaction import (
    COMPLETED,
    CONFIRMED,
    ClientTransaction,
    ServerTransaction,
    TimerSettings,
    Transaction,
)
from calltape.sip.validation import Capabilities, check_request
from calltape.sip.via import MAGIC_COOKIE, Via, has_sent_by


class _Timed(Protocol):
    timers: dict[str, float]

    def fire_timer(self, timer: str, now: float) -> None: ...


class _PendingAck:
    """A 2xx to an INVITE, retransmitted until its ACK arrives (RFC 3261 §13.3.1.4)."""

    def __init__(self, endpoint: SipEndpoint, response: Response, peer: Peer, now: float) -> None:
        self.endpoint = endpoint
        self.response = response
        self.data = response.serialize()
        self.peer = peer
        self.interval = endpoint.timer_settings.t1
        self.timers: dict[str, float] = {}
        self.give_up_at = now + 64 * endpoint.timer_settings.t1
        self._arm(now)

    def _arm(self, now: float) -> None:
        at = min(now + self.interval, self.give_up_at) if not self.peer.reliable else self.give_up_at
        self.timers["retransmit"] = at
        self.endpoint.schedule(self, "retransmit", at)

    def fire_timer(self, timer: str, now: float) -> None:
        del self.timers[timer]
        if now >= self.give_up_at:
            self.endpoint.drop_pending_ack(self)
            self.endpoint.emit(AckTimedOut(self.response, self.peer))
            return
        self.endpoint.send(self.data, self.peer)
        self.interval = min(2 * self.interval, self.endpoint.timer_settings.t2)
        self._arm(now)


class SipEndpoint:
    """Transactions and the transport-independent half of a SIP UA (sans-IO)."""

    def __init__(self, capabilities: Capabilities, timer_settings: TimerSettings | None = None) -> None:
        self.capabilities = capabilities
        self.timer_settings = timer_settings or TimerSettings()
        self.stats: Counter[str] = Counter()
        self._out: list[tuple[bytes, Peer]] = []
        self._events: deque[Event] = deque()
        self._server: dict[tuple[str, ...], ServerTransaction] = {}
        self._client: dict[tuple[str, ...], ClientTransaction] = {}
        self._merge_index: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._pending_acks: dict[tuple[str, int], _PendingAck] = {}
        self._heap: list[tuple[float, int, _Timed, str]] = []
        self._seq = itertools.count()

    # ---- the sans-IO interface -------------------------------------------------------------

    def receive(self, data: bytes, peer: Peer, now: float) -> None:
        """Handle one datagram, or one framed message from a stream."""
        self.stats["received"] += 1
        try:
            message = parse_message(data, framed=peer.reliable)
        except SipParseError as exc:
            self.stats["malformed"] += 1
            request = exc.request
            if exc.status and request is not None and request.method != "ACK" and _has_valid_via(request):
                reason = f"{'Bad Request' if exc.status == 400 else 'Error'} ({exc.reason})"
                self.send(make_response(request, exc.status, reason, to_tag=new_tag()).serialize(), peer)
            return
        try:
            if isinstance(message, Response):
                self._receive_response(message, peer, now)
            else:
                self._receive_request(message, peer, now)
        except SipSyntaxError as exc:  # a header the parser does not check, broken (e.g. Require)
            self.stats["malformed"] += 1
            if isinstance(message, Request) and message.method != "ACK":
                response = make_response(message, 400, f"Bad Request ({exc})", to_tag=new_tag())
                self.send(response.serialize(), peer)

    def datagrams_to_send(self) -> list[tuple[bytes, Peer]]:
        """Everything queued for the network since the last call."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> Event | None:
        """The next event for the TU, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called (absolute time), or None."""
        heap = self._heap
        while heap and heap[0][2].timers.get(heap[0][3]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at *now*."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, owner, name = heapq.heappop(heap)
            if owner.timers.get(name) == at:
                owner.fire_timer(name, now)

    def respond(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Send the TU's response to a request through its transaction."""
        if transaction.is_invite and 200 <= response.status < 300:
            key = (transaction.request.call_id, transaction.request.cseq.number)
            self._pending_acks[key] = _PendingAck(self, response, transaction.peer, now)
        transaction.respond(response, now)

    def send_request(self, request: Request, peer: Peer, now: float) -> ClientTransaction:
        """Start a client transaction for *request* (its top Via must carry a branch)."""
        key = (request.top_via.branch or "", request.method)
        transaction = ClientTransaction(self, key, request, peer)
        self._client[key] = transaction
        transaction.start(now)
        return transaction

    def send_ack(self, ack: Request, peer: Peer) -> None:
        """Send the end-to-end ACK for a 2xx (no transaction)."""
        self.send(ack.serialize(), peer)

    def transport_failed(self, peer: Peer, now: float) -> None:
        """The transport cannot reach *peer*: fail the client transactions bound for it."""
        for transaction in [t for t in self._client.values() if t.peer == peer]:
            transaction.transport_error(now)

    @property
    def transaction_count(self) -> int:
        """Live transactions (for metrics and tests)."""
        return len(self._server) + len(self._client)

    # ---- TransactionHost -----------------------------------------------------------------

    def send(self, data: bytes, peer: Peer) -> None:
        """Queue bytes for the network."""
        self._out.append((data, peer))

    def emit(self, event: Event) -> None:
        """Queue an event for the TU."""
        self._events.append(event)

    def response_received(self, transaction: ClientTransaction) -> None:
        """A client transaction passes its response on to the TU."""
        assert transaction.last_response is not None
        self.emit(ResponseReceived(transaction.last_response, transaction, transaction.peer))

    def timed_out(self, transaction: ClientTransaction) -> None:
        """A client transaction got no final response (timer B or F)."""
        self.emit(TransactionTimedOut(transaction))

    def request_failed(self, transaction: ClientTransaction) -> None:
        """A client transaction's request could not be sent."""
        self.emit(TransportFailed(transaction))

    def schedule(self, owner: _Timed, timer: str, at: float) -> None:
        """Arrange for ``owner.fire_timer(timer)`` at *at*."""
        heapq.heappush(self._heap, (at, next(self._seq), owner, timer))

    def terminated(self, transaction: Transaction) -> None:
        """Forget a transaction that reached Terminated."""
        table: dict[tuple[str, ...], ServerTransaction] | dict[tuple[str, ...], ClientTransaction]
        table = self._server if isinstance(transaction, ServerTransaction) else self._client
        if table.get(transaction.key) is transaction:
            del table[transaction.key]
        merge_key = _merge_key(transaction.request)
        if self._merge_index.get(merge_key) == transaction.key:
            del self._merge_index[merge_key]

    def drop_pending_ack(self, pending: _PendingAck) -> None:
        """Stop retransmitting a 2xx."""
        for key, value in list(self._pending_acks.items()):
            if value is pending:
                del self._pending_acks[key]

    # ---- requests ------------------------------------------------------------------------

    def _receive_request(self, request: Request, peer: Peer, now: float) -> None:
        via = request.top_via
        key = _server_key(request, via)
        if request.method == "ACK":
            self._receive_ack(request, key, peer, now)
            return
        existing = self._server.get(key)
        if existing is not None:
            self.stats["retransmissions"] += 1
            existing.receive_request(now)
            return
        _stamp_via(request, via, peer)
        transaction = ServerTransaction(self, key, request, peer)
        self._server[key] = transaction
        if request.method == "INVITE":
            self.respond(transaction, make_response(request, 100), now)
        try:
            error = self._merged_request(request, key) or check_request(request, self.capabilities)
        except SipSyntaxError as exc:  # e.g. a broken Require: answered through the transaction
            error = make_response(request, 400, f"Bad Request ({exc})", to_tag=transaction.to_tag)
        if error is not None:
            self.respond(transaction, error, now)
        elif request.method == "CANCEL":
            self._receive_cancel(transaction, now)
        else:
            self.emit(RequestReceived(request, transaction, peer))

    def _receive_ack(self, ack: Request, key: tuple[str, ...], peer: Peer, now: float) -> None:
        transaction = self._server.get(key)
        if transaction is not None and transaction.state in (COMPLETED, CONFIRMED):
            transaction.receive_ack(now)
            return
        pending = self._pending_acks.pop((ack.call_id, ack.cseq.number), None)
        if pending is not None:
            pending.timers.clear()
        self.emit(AckReceived(ack, peer))

    def _merged_request(self, request: Request, key: tuple[str, ...]) -> Response | None:
        """RFC 3261 §8.2.2.2: the same request arriving by another path gets 482."""
        if request.to.tag is not None:
            return None
        merge_key = _merge_key(request)
        first = self._merge_index.setdefault(merge_key, key)
        if first != key and first in self._server:
            return make_response(request, 482, to_tag=new_tag())
        self._merge_index[merge_key] = key
        return None

    def _receive_cancel(self, cancel_tx: ServerTransaction, now: float) -> None:
        invite_tx = self._server.get((*cancel_tx.key[:-1], "INVITE"))
        if invite_tx is None:
            self.respond(cancel_tx, make_response(cancel_tx.request, 481, to_tag=cancel_tx.to_tag), now)
            return
        self.respond(cancel_tx, make_response(cancel_tx.request, 200, to_tag=invite_tx.to_tag), now)
        if not invite_tx.final_sent:
            self.respond(invite_tx, make_response(invite_tx.request, 487, to_tag=invite_tx.to_tag), now)
            self.emit(InviteCancelled(invite_tx, cancel_tx.request))

    # ---- responses -----------------------------------------------------------------------

    def _receive_response(self, response: Response, peer: Peer, now: float) -> None:
        cseq = response.cseq
        transaction = self._client.get((response.top_via.branch or "", cseq.method))
        if transaction is not None:
            transaction.receive_response(response, now)
        elif cseq.method == "INVITE" and 200 <= response.status < 300:
            self.emit(ResponseReceived(response, None, peer))
        else:
            self.stats["stray_responses"] += 1


def _has_valid_via(request: Request) -> bool:
    """A response goes back along the top Via: without a protocol and sent-by that parse, the message is dropped."""
    try:
        vias = request.headers.get_all("Via")
    except SipSyntaxError:  # e.g. unbalanced quotes
        return False
    return bool(vias) and has_sent_by(vias[0])


def _server_key(request: Request, via: Via) -> tuple[str, ...]:
    """RFC 3261 §17.2.3 matching; an ACK matches its INVITE, a CANCEL gets its own key.

    Call-ID and CSeq number are part of the key too: they never differ within a transaction, and
    keeping them stops clients that reuse a branch value from having new requests taken as
    retransmissions of old ones.
    """
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        return (branch, via.host.lower(), str(via.port or ""), request.call_id, str(request.cseq.number), method)
    from_tag = request.from_.tag or ""
    return ("rfc2543", request.uri, from_tag, request.call_id, str(request.cseq.number), str(via), method)


def _merge_key(request: Request) -> tuple[str, ...]:
    try:
        from_tag = request.from_.tag or ""
    except SipSyntaxError:
        from_tag = ""
    return (from_tag, request.call_id, str(request.cseq.number), request.method)


def _stamp_via(request: Request, via: Via, peer: Peer) -> None:
    """Record where the request really came from in its top Via (RFC 3261 §18.2.1, RFC 3581)."""
    stamped = via.with_param("received", peer.host).with_param("rport", str(peer.port))
    request.headers.set_first_value("Via", str(stamped))
