"""RFC 3261 §17 transactions as transition tables, with RFC 6026's Accepted state.

Rules, to check against the RFC's figures 5–8:

* Each table maps ``(state, input)`` to ``(next state, actions)``; the actions are the transaction's own
  methods. An input a state does not list is absorbed (e.g. a retransmitted request in Confirmed, a 1xx in
  Completed); an input the table does not know at all is a fault in the caller and raises.
* Inputs are a message's class (``1xx``, ``2xx``, ``300-699``, ``final``, ``request``, ``ACK``), a
  response from the TU (``TU_1xx``, ``TU_2xx``, ``TU_300-699``, ``TU_final``), or a timer firing.
* Entering a state cancels every timer not in that state's ``LIVE_TIMERS`` entry.
* Timers that are zero on reliable transports (D, I, J, K) fire at once there.
* Nothing here does I/O or reads a clock: the host sends, schedules and is told the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.peer import Peer
from calltape.sip.responses import new_tag


class State(Enum):
    """Transaction states (figures 5–8, RFC 6026 §7)."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


CALLING, TRYING, PROCEEDING = State.CALLING, State.TRYING, State.PROCEEDING
COMPLETED, CONFIRMED, ACCEPTED, TERMINATED = State.COMPLETED, State.CONFIRMED, State.ACCEPTED, State.TERMINATED

Action = Callable[[Any], None]  # a transaction's own method, run on it


@dataclass(frozen=True)
class Table:
    """One of figures 5–8: ``(state, input)`` → ``(next state, actions)``; ``inputs`` is every input it knows."""

    transitions: dict[tuple[State, str], tuple[State, tuple[Action, ...]]]
    inputs: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", frozenset(name for _state, name in self.transitions))


LIVE_TIMERS: dict[State, frozenset[str]] = {
    CALLING: frozenset({"timer_A", "timer_B"}),
    TRYING: frozenset({"timer_E", "timer_F"}),
    PROCEEDING: frozenset({"timer_E", "timer_F"}),
    COMPLETED: frozenset({"timer_D", "timer_G", "timer_H", "timer_J", "timer_K"}),
    CONFIRMED: frozenset({"timer_I"}),
    ACCEPTED: frozenset({"timer_L", "timer_M"}),
    TERMINATED: frozenset(),
}


@dataclass(frozen=True)
class TimerSettings:
    """RFC 3261 timer base values in seconds (§17.1.1.1, table 4)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class TransactionHost(Protocol):
    """What a transaction needs from the endpoint that owns it."""

    timer_settings: TimerSettings

    def send(self, data: bytes, peer: Peer) -> None: ...
    def response_received(self, transaction: ClientTransaction) -> None:
        """Pass the transaction's ``last_response`` to the TU."""

    def timed_out(self, transaction: ClientTransaction) -> None:
        """Tell the TU that the transaction got no final response."""

    def request_failed(self, transaction: ClientTransaction) -> None:
        """Tell the TU that the transaction's request could not be sent."""

    def schedule(self, transaction: Transaction, timer: str, at: float) -> None: ...
    def terminated(self, transaction: Transaction) -> None: ...


class Transaction:
    """Common machinery: the table walk, timers, and termination."""

    table: Table

    def __init__(self, host: TransactionHost, key: tuple[str, ...], request: Request, peer: Peer, state: State) -> None:
        self.host = host
        self.key = key
        self.request = request
        self.peer = peer
        self.state = state
        self.timers: dict[str, float] = {}
        self._intervals: dict[str, float] = {}
        self._now = 0.0

    @property
    def reliable(self) -> bool:
        """True on stream transports."""
        return self.peer.reliable

    def _input(self, name: str, now: float) -> None:
        if name not in self.table.inputs:
            raise ValueError(f"{name!r} is not an input of {type(self).__name__}'s table")
        transition = self.table.transitions.get((self.state, name))
        if transition is None:  # an input this state absorbs
            return
        self._now = now
        next_state, actions = transition
        if next_state is not self.state:
            self.state = next_state
            live = LIVE_TIMERS[next_state]
            self.timers = {k: v for k, v in self.timers.items() if k in live}
        for action in actions:
            action(self)
        if self.state is TERMINATED:
            self.timers.clear()
            self.host.terminated(self)

    def fire_timer(self, timer: str, now: float) -> None:
        """The host calls this when a scheduled timer is due."""
        if self.timers.get(timer) is not None:
            del self.timers[timer]
            self._input(timer, now)

    def _start(self, timer: str, interval: float) -> None:
        self._intervals[timer] = interval
        at = self._now + interval
        self.timers[timer] = at
        self.host.schedule(self, timer, at)

    def _unreliable(self, interval: float) -> float:
        return 0.0 if self.reliable else interval


class ClientTransaction(Transaction):
    """A request we sent, waiting for its responses (figures 5 and 6)."""

    def __init__(self, host: TransactionHost, key: tuple[str, ...], request: Request, peer: Peer) -> None:
        invite = request.method == "INVITE"
        super().__init__(host, key, request, peer, CALLING if invite else TRYING)
        self.table = INVITE_CLIENT if invite else NON_INVITE_CLIENT
        self._data = request.serialize()
        self.last_response: Response | None = None

    def start(self, now: float) -> None:
        """Send the request and start its timers."""
        self._now = now
        self.host.send(self._data, self.peer)
        t = self.host.timer_settings
        if self.request.method == "INVITE":
            if not self.reliable:
                self._start("timer_A", t.t1)
            self._start("timer_B", 64 * t.t1)
        else:
            if not self.reliable:
                self._start("timer_E", t.t1)
            self._start("timer_F", 64 * t.t1)

    def receive_response(self, response: Response, now: float) -> None:
        """Feed a response whose Via branch and CSeq method matched this transaction."""
        self.last_response = response
        status = response.status
        if status < 200:
            name = "1xx"
        elif self.request.method != "INVITE":
            name = "final"
        else:
            name = "2xx" if status < 300 else "300-699"
        self._input(name, now)

    def transport_error(self, now: float) -> None:
        """The transport could not deliver the request."""
        self._input("transport_error", now)

    def _retransmit(self) -> None:
        self.host.send(self._data, self.peer)

    def _start_A(self) -> None:  # noqa: N802 - RFC timer names
        self._start("timer_A", 2 * self._intervals["timer_A"])

    def _start_E(self) -> None:  # noqa: N802
        self._start("timer_E", min(2 * self._intervals["timer_E"], self.host.timer_settings.t2))

    def _start_E_at_T2(self) -> None:  # noqa: N802
        self._start("timer_E", self.host.timer_settings.t2)

    def _start_D(self) -> None:  # noqa: N802
        self._start("timer_D", self._unreliable(32.0))

    def _start_K(self) -> None:  # noqa: N802
        self._start("timer_K", self._unreliable(self.host.timer_settings.t4))

    def _start_M(self) -> None:  # noqa: N802
        self._start("timer_M", 64 * self.host.timer_settings.t1)

    def _pass_to_tu(self) -> None:
        assert self.last_response is not None
        self.host.response_received(self)

    def _send_ack(self) -> None:
        assert self.last_response is not None
        self.host.send(build_non_2xx_ack(self.request, self.last_response).serialize(), self.peer)

    def _report_timeout(self) -> None:
        self.host.timed_out(self)

    def _report_transport_error(self) -> None:
        self.host.request_failed(self)


class ServerTransaction(Transaction):
    """A request we received, and the responses we give it (figures 7 and 8)."""

    def __init__(self, host: TransactionHost, key: tuple[str, ...], request: Request, peer: Peer) -> None:
        invite = request.method == "INVITE"
        super().__init__(host, key, request, peer, PROCEEDING if invite else TRYING)
        self.table = INVITE_SERVER if invite else NON_INVITE_SERVER
        self.last_response: Response | None = None
        self.to_tag = new_tag()  #: the tag every final response of ours carries
        self._last_data = b""
        self._pending: Response | None = None

    @property
    def is_invite(self) -> bool:
        """True for an INVITE server transaction."""
        return self.request.method == "INVITE"

    @property
    def final_sent(self) -> bool:
        """True once a final response has been given."""
        return self.last_response is not None and self.last_response.status >= 200

    def respond(self, response: Response, now: float) -> None:
        """Send a response from the TU through the transaction."""
        status = response.status
        if status < 200:
            name = "TU_1xx"
        elif not self.is_invite:
            name = "TU_final"
        else:
            name = "TU_2xx" if status < 300 else "TU_300-699"
        self._pending = response
        self._input(name, now)
        self._pending = None

    def receive_request(self, now: float) -> None:
        """A retransmission of the request arrived."""
        self._input("request", now)

    def receive_ack(self, now: float) -> None:
        """The ACK for a non-2xx final response arrived."""
        self._input("ACK", now)

    def _send_response(self) -> None:
        assert self._pending is not None
        self.last_response = self._pending
        self._last_data = self._pending.serialize()
        self.host.send(self._last_data, self.peer)

    def _resend_last_response(self) -> None:
        if self._last_data:
            self.host.send(self._last_data, self.peer)

    def _start_G(self) -> None:  # noqa: N802
        t = self.host.timer_settings
        if self.reliable:
            return
        previous = self._intervals.get("timer_G")
        self._start("timer_G", t.t1 if previous is None else min(2 * previous, t.t2))

    def _start_H(self) -> None:  # noqa: N802
        self._start("timer_H", 64 * self.host.timer_settings.t1)

    def _start_I(self) -> None:  # noqa: N802
        self._start("timer_I", self._unreliable(self.host.timer_settings.t4))

    def _start_J(self) -> None:  # noqa: N802
        self._start("timer_J", self._unreliable(64 * self.host.timer_settings.t1))

    def _start_L(self) -> None:  # noqa: N802
        self._start("timer_L", 64 * self.host.timer_settings.t1)


_C, _S = ClientTransaction, ServerTransaction

# Figure 5 (INVITE client) with RFC 6026: a 2xx moves to Accepted, where further 2xx reach the TU.
INVITE_CLIENT = Table(
    {
        (CALLING, "timer_A"): (CALLING, (_C._retransmit, _C._start_A)),
        (CALLING, "timer_B"): (TERMINATED, (_C._report_timeout,)),
        (CALLING, "1xx"): (PROCEEDING, (_C._pass_to_tu,)),
        (CALLING, "2xx"): (ACCEPTED, (_C._pass_to_tu, _C._start_M)),
        (CALLING, "300-699"): (
            COMPLETED,
            (_C._send_ack, _C._pass_to_tu, _C._start_D),
        ),
        (CALLING, "transport_error"): (TERMINATED, (_C._report_transport_error,)),
        (PROCEEDING, "1xx"): (PROCEEDING, (_C._pass_to_tu,)),
        (PROCEEDING, "2xx"): (ACCEPTED, (_C._pass_to_tu, _C._start_M)),
        (PROCEEDING, "300-699"): (
            COMPLETED,
            (_C._send_ack, _C._pass_to_tu, _C._start_D),
        ),
        (COMPLETED, "300-699"): (COMPLETED, (_C._send_ack,)),
        (COMPLETED, "timer_D"): (TERMINATED, ()),
        (ACCEPTED, "2xx"): (ACCEPTED, (_C._pass_to_tu,)),
        (ACCEPTED, "timer_M"): (TERMINATED, ()),
    }
)

# Figure 6 (non-INVITE client).
NON_INVITE_CLIENT = Table(
    {
        (TRYING, "timer_E"): (TRYING, (_C._retransmit, _C._start_E)),
        (TRYING, "timer_F"): (TERMINATED, (_C._report_timeout,)),
        (TRYING, "1xx"): (PROCEEDING, (_C._pass_to_tu,)),
        (TRYING, "final"): (COMPLETED, (_C._pass_to_tu, _C._start_K)),
        (TRYING, "transport_error"): (TERMINATED, (_C._report_transport_error,)),
        (PROCEEDING, "timer_E"): (PROCEEDING, (_C._retransmit, _C._start_E_at_T2)),
        (PROCEEDING, "timer_F"): (TERMINATED, (_C._report_timeout,)),
        (PROCEEDING, "1xx"): (PROCEEDING, (_C._pass_to_tu,)),
        (PROCEEDING, "final"): (COMPLETED, (_C._pass_to_tu, _C._start_K)),
        (PROCEEDING, "transport_error"): (TERMINATED, (_C._report_transport_error,)),
        (COMPLETED, "timer_K"): (TERMINATED, ()),
    }
)

# Figure 7 (INVITE server) with RFC 6026: a 2xx moves to Accepted, which absorbs retransmitted INVITEs.
INVITE_SERVER = Table(
    {
        (PROCEEDING, "request"): (PROCEEDING, (_S._resend_last_response,)),
        (PROCEEDING, "TU_1xx"): (PROCEEDING, (_S._send_response,)),
        (PROCEEDING, "TU_2xx"): (ACCEPTED, (_S._send_response, _S._start_L)),
        (PROCEEDING, "TU_300-699"): (
            COMPLETED,
            (_S._send_response, _S._start_G, _S._start_H),
        ),
        (COMPLETED, "request"): (COMPLETED, (_S._resend_last_response,)),
        (COMPLETED, "timer_G"): (COMPLETED, (_S._resend_last_response, _S._start_G)),
        (COMPLETED, "timer_H"): (TERMINATED, ()),
        (COMPLETED, "ACK"): (CONFIRMED, (_S._start_I,)),
        (CONFIRMED, "timer_I"): (TERMINATED, ()),
        (ACCEPTED, "TU_2xx"): (ACCEPTED, (_S._send_response,)),
        (ACCEPTED, "timer_L"): (TERMINATED, ()),
    }
)

# Figure 8 (non-INVITE server).
NON_INVITE_SERVER = Table(
    {
        (TRYING, "TU_1xx"): (PROCEEDING, (_S._send_response,)),
        (TRYING, "TU_final"): (COMPLETED, (_S._send_response, _S._start_J)),
        (PROCEEDING, "request"): (PROCEEDING, (_S._resend_last_response,)),
        (PROCEEDING, "TU_1xx"): (PROCEEDING, (_S._send_response,)),
        (PROCEEDING, "TU_final"): (COMPLETED, (_S._send_response, _S._start_J)),
        (COMPLETED, "request"): (COMPLETED, (_S._resend_last_response,)),
        (COMPLETED, "timer_J"): (TERMINATED, ()),
    }
)


def build_non_2xx_ack(invite: Request, response: Response) -> Request:
    """The ACK a client transaction sends for a 300–699 (RFC 3261 §17.1.1.3)."""
    return _sibling(invite, "ACK", response.headers.get("To") or "")


def build_cancel(invite: Request) -> Request:
    """The CANCEL of a pending INVITE (RFC 3261 §9.1): same Request-URI, top Via, Call-ID, From, To, CSeq number."""
    return _sibling(invite, "CANCEL", invite.headers.get("To") or "")


def _sibling(invite: Request, method: str, to: str) -> Request:
    """A request that shares the INVITE's transaction identity: its top Via, Route, From, Call-ID and CSeq number."""
    headers = Headers()
    headers.add("Via", invite.headers.get_all("Via")[0])
    for value in invite.headers.get_lines("Route"):
        headers.add("Route", value)
    headers.add("Max-Forwards", "70")
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", to)
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq.number} {method}")
    return Request(headers=headers, method=method, uri=invite.uri)
