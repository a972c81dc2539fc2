"""RFC 3261 §17 transactions driven on a fake clock: nothing here sleeps."""

from __future__ import annotations

import pytest

from calltape.sip.endpoint import SipEndpoint
from calltape.sip.events import (
    AckReceived,
    AckTimedOut,
    InviteCancelled,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
)
from calltape.sip.headers import Headers
from calltape.sip.message import Request
from calltape.sip.parser import parse_message
from calltape.sip.responses import make_response
from calltape.sip.transaction import ServerTransaction, State
from calltape.sip.validation import Capabilities
from tests.sip.helpers import TCP_PEER, UDP_PEER, request_bytes, response_bytes

CAPS = Capabilities(frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"}))
REMOTE = Peer("udp", "192.0.2.1", 5060)


class Clock:
    """Drives the endpoint's timers and records what it sends and when."""

    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint
        self.now = 0.0
        self.sent: list[tuple[float, bytes]] = []

    def collect(self) -> list[bytes]:
        out = [data for data, _ in self.endpoint.datagrams_to_send()]
        self.sent += [(self.now, d) for d in out]
        return out

    def run_until(self, t: float) -> None:
        while (due := self.endpoint.get_timer()) is not None and due <= t:
            self.now = due
            self.endpoint.handle_timer(due)
            self.collect()
        self.now = t

    def sent_times(self, prefix: bytes) -> list[float]:
        return [round(t, 3) for t, d in self.sent if d.startswith(prefix)]


def _server_request(endpoint: SipEndpoint, clock: Clock, raw: bytes, peer: Peer = UDP_PEER) -> RequestReceived:
    endpoint.receive(raw, peer, clock.now)
    clock.collect()
    event = endpoint.next_event()
    assert isinstance(event, RequestReceived)
    return event


def _respond(endpoint: SipEndpoint, clock: Clock, tx: ServerTransaction, status: int) -> None:
    endpoint.respond(tx, make_response(tx.request, status, to_tag=tx.to_tag), clock.now)
    clock.collect()


def test_non_invite_server_absorbs_then_replays_and_timer_j() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    event = _server_request(ep, clock, request_bytes("OPTIONS"))
    ep.receive(request_bytes("OPTIONS"), UDP_PEER, 0.1)  # retransmission before the answer: absorbed
    assert clock.collect() == [] and ep.next_event() is None
    _respond(ep, clock, event.transaction, 200)
    ep.receive(request_bytes("OPTIONS"), UDP_PEER, 1.0)
    replay = clock.collect()
    assert len(replay) == 1 and replay[0].startswith(b"SIP/2.0 200")
    clock.run_until(31.9)
    assert ep.transaction_count == 1
    clock.run_until(32.0)  # timer J = 64*T1
    assert ep.transaction_count == 0


def test_non_invite_server_on_tcp_ends_at_once() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    event = _server_request(ep, clock, request_bytes("OPTIONS", transport="TCP"), TCP_PEER)
    _respond(ep, clock, event.transaction, 200)
    clock.run_until(0.0)
    assert ep.transaction_count == 0


def test_invite_server_non_2xx_retransmits_until_ack() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.receive(request_bytes("INVITE"), UDP_PEER, 0.0)
    assert clock.collect()[0].startswith(b"SIP/2.0 100 Trying")
    event = ep.next_event()
    assert isinstance(event, RequestReceived)
    _respond(ep, clock, event.transaction, 486)
    clock.run_until(10.0)
    # timer G: T1, 2T1, 4T1, then capped at T2
    assert clock.sent_times(b"SIP/2.0 486") == [0.0, 0.5, 1.5, 3.5, 7.5]
    ack = request_bytes("ACK", to_tag=event.transaction.to_tag)
    ep.receive(ack, UDP_PEER, 10.0)
    assert event.transaction.state is State.CONFIRMED
    assert ep.next_event() is None  # the ACK of a non-2xx stays inside the transaction
    clock.run_until(20.0)
    assert len(clock.sent_times(b"SIP/2.0 486")) == 5
    assert ep.transaction_count == 0  # timer I (T4) ended it


def test_invite_server_timer_h_gives_up_without_ack() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    event = _server_request(ep, clock, request_bytes("INVITE"))
    _respond(ep, clock, event.transaction, 404)
    clock.run_until(31.9)
    assert ep.transaction_count == 1
    clock.run_until(32.0)
    assert ep.transaction_count == 0
    assert clock.sent_times(b"SIP/2.0 404") == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def test_invite_2xx_retransmitted_until_end_to_end_ack() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    event = _server_request(ep, clock, request_bytes("INVITE"))
    _respond(ep, clock, event.transaction, 200)
    assert event.transaction.state is State.ACCEPTED
    ep.receive(request_bytes("INVITE"), UDP_PEER, 0.2)  # retransmitted INVITE in Accepted: absorbed
    assert clock.collect() == []
    clock.run_until(4.0)
    assert clock.sent_times(b"SIP/2.0 200") == [0.0, 0.5, 1.5, 3.5]
    ep.receive(request_bytes("ACK", branch="z9hG4bK-ack", to_tag=event.transaction.to_tag), UDP_PEER, 4.0)
    assert isinstance(ep.next_event(), AckReceived)
    clock.run_until(40.0)
    assert len(clock.sent_times(b"SIP/2.0 200")) == 4
    assert ep.transaction_count == 0  # timer L


def test_invite_2xx_without_ack_times_out() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    event = _server_request(ep, clock, request_bytes("INVITE"))
    _respond(ep, clock, event.transaction, 200)
    clock.run_until(40.0)
    timed_out = ep.next_event()
    assert isinstance(timed_out, AckTimedOut)
    assert clock.sent_times(b"SIP/2.0 200")[-1] <= 32.0


def test_cancel_gets_200_and_invite_487() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    event = _server_request(ep, clock, request_bytes("INVITE"))
    ep.receive(request_bytes("CANCEL"), UDP_PEER, 1.0)
    out = clock.collect()
    assert [o.split(b"\r\n")[0] for o in out] == [b"SIP/2.0 200 OK", b"SIP/2.0 487 Request Terminated"]
    assert b"CSeq: 1 CANCEL" in out[0] and b"CSeq: 1 INVITE" in out[1]
    cancelled = ep.next_event()
    assert isinstance(cancelled, InviteCancelled) and cancelled.transaction is event.transaction


def test_cancel_without_invite_gets_481() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.receive(request_bytes("CANCEL"), UDP_PEER, 0.0)
    assert clock.collect()[0].startswith(b"SIP/2.0 481")


def test_merged_request_gets_482() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    _server_request(ep, clock, request_bytes("INVITE", branch="z9hG4bK-path-a"))
    ep.receive(request_bytes("INVITE", branch="z9hG4bK-path-b"), UDP_PEER, 0.1)
    out = clock.collect()
    assert out[-1].startswith(b"SIP/2.0 482")
    assert ep.next_event() is None


def test_responses_go_back_to_the_source_with_received_and_rport() -> None:
    ep = SipEndpoint(CAPS)
    peer = Peer("udp", "203.0.113.9", 40000)
    ep.receive(request_bytes("OPTIONS"), peer, 0.0)
    event = ep.next_event()
    assert isinstance(event, RequestReceived)
    ep.respond(event.transaction, make_response(event.request, 200), 0.0)
    [(data, to)] = ep.datagrams_to_send()
    assert to == peer
    assert b"received=203.0.113.9;rport=40000" in data


def _client_request(method: str, branch: str) -> Request:
    headers = Headers(
        [
            ("Via", f"SIP/2.0/UDP 192.0.2.5:5060;branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", "<sip:alice@example.com>;tag=ft1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "call-1@test"),
            ("CSeq", f"1 {method}"),
        ]
    )
    return Request(headers=headers, method=method, uri="sip:bob@example.com")


def test_invite_client_timer_a_doubles_and_b_times_out() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.send_request(_client_request("INVITE", "z9hG4bK-c1"), REMOTE, 0.0)
    clock.collect()
    clock.run_until(40.0)
    assert clock.sent_times(b"INVITE") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert isinstance(ep.next_event(), TransactionTimedOut)
    assert ep.transaction_count == 0


def test_invite_client_acks_a_failure_and_absorbs_its_retransmission() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.send_request(_client_request("INVITE", "z9hG4bK-c2"), REMOTE, 0.0)
    clock.collect()
    ep.receive(response_bytes(180, "INVITE", branch="z9hG4bK-c2"), REMOTE, 0.1)
    assert isinstance(ep.next_event(), ResponseReceived)
    clock.run_until(5.0)
    assert clock.sent_times(b"INVITE") == [0.0]  # a provisional stops timer A
    ep.receive(response_bytes(486, "INVITE", branch="z9hG4bK-c2"), REMOTE, 5.0)
    acks = clock.collect()
    assert len(acks) == 1 and acks[0].startswith(b"ACK sip:bob@example.com")
    ack = parse_message(acks[0])
    assert ack.headers.get("CSeq") == "1 ACK" and ack.to.tag == "tt1"
    assert isinstance(ep.next_event(), ResponseReceived)
    ep.receive(response_bytes(486, "INVITE", branch="z9hG4bK-c2"), REMOTE, 6.0)
    assert len(clock.collect()) == 1 and ep.next_event() is None  # re-ACKed, not passed up
    clock.run_until(37.1)  # timer D (32 s)
    assert ep.transaction_count == 0


def test_invite_client_2xx_goes_to_tu_each_time() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.send_request(_client_request("INVITE", "z9hG4bK-c3"), REMOTE, 0.0)
    ep.receive(response_bytes(200, "INVITE", branch="z9hG4bK-c3"), REMOTE, 0.1)
    ep.receive(response_bytes(200, "INVITE", branch="z9hG4bK-c3"), REMOTE, 0.6)
    assert isinstance(ep.next_event(), ResponseReceived)
    assert isinstance(ep.next_event(), ResponseReceived)
    clock.run_until(40.0)
    assert ep.transaction_count == 0  # timer M


def test_non_invite_client_timer_e_caps_at_t2_and_f_times_out() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.send_request(_client_request("OPTIONS", "z9hG4bK-c4"), REMOTE, 0.0)
    clock.collect()
    clock.run_until(33.0)
    assert clock.sent_times(b"OPTIONS") == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert isinstance(ep.next_event(), TransactionTimedOut)


def test_non_invite_client_final_then_timer_k() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.send_request(_client_request("REGISTER", "z9hG4bK-c5"), REMOTE, 0.0)
    ep.receive(response_bytes(200, "REGISTER", branch="z9hG4bK-c5"), REMOTE, 0.2)
    assert isinstance(ep.next_event(), ResponseReceived)
    ep.receive(response_bytes(200, "REGISTER", branch="z9hG4bK-c5"), REMOTE, 0.3)
    assert ep.next_event() is None  # absorbed in Completed
    clock.run_until(5.3)  # timer K = T4
    assert ep.transaction_count == 0


def test_non_invite_client_on_tcp_never_retransmits() -> None:
    ep = SipEndpoint(CAPS)
    clock = Clock(ep)
    ep.send_request(_client_request("OPTIONS", "z9hG4bK-c6"), Peer("tcp", "192.0.2.1", 5060), 0.0)
    clock.collect()
    clock.run_until(33.0)
    assert clock.sent_times(b"OPTIONS") == [0.0]
    assert isinstance(ep.next_event(), TransactionTimedOut)


def test_stray_responses_are_dropped() -> None:
    ep = SipEndpoint(CAPS)
    ep.receive(response_bytes(200, "OPTIONS", branch="z9hG4bK-nobody"), REMOTE, 0.0)
    assert ep.datagrams_to_send() == [] and ep.next_event() is None
    assert ep.stats["stray_responses"] == 1


def test_an_input_the_table_does_not_know_raises_and_one_the_state_does_not_list_is_absorbed() -> None:
    endpoint = SipEndpoint(CAPS)
    clock = Clock(endpoint)
    tx = _server_request(endpoint, clock, request_bytes("OPTIONS")).transaction
    assert tx.state is State.TRYING
    with pytest.raises(ValueError, match="'TU_2xx' is not an input of ServerTransaction"):
        tx._input("TU_2xx", clock.now)  # an INVITE's input, fed to a non-INVITE transaction: a fault of ours
    with pytest.raises(ValueError, match="'timer_Z'"):
        tx._input("timer_Z", clock.now)
    tx._input("request", clock.now)  # a retransmission while Trying: absorbed (nothing to resend yet)
    assert tx.state is State.TRYING and clock.collect() == []
