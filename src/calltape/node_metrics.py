"""This node's metrics beyond recordings: calls and legs, registrations, RTP packets, event-loop lag, e-mails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.core import Metric

from calltape.media.rtp_totals import RtpCounts
from calltape.prometheus import counter, gauge, labelled_counter, labelled_gauge
from calltape.store.leased_outbox import OutboxState


@dataclass(frozen=True)
class NodeFacts:
    """What ``/metrics`` reports about the node, read at scrape time."""

    calls: int  # calls whose callflow runs
    legs: int  # their legs (the caller's and every leg bridged to it)
    registrations: int  # live bindings in the store
    rtp: RtpCounts
    loop_lag: float  # seconds late the last timer ran
    loop_lag_max: float  # the worst since the process started
    node: str = ""  # this node's name (--node-id)
    draining: bool = False  # SIGTERM or the API's drain: no new calls, those under way go on
    emails: Mapping[str, int] = field(default_factory=dict)  # notifications in the store, by state
    webhook_events: Mapping[str, int] = field(default_factory=dict)  # recording webhook events, by state
    sip_dropped: Mapping[str, int] = field(default_factory=dict)  # by the flood gate, by reason


def node_families(facts: NodeFacts) -> list[Metric]:
    """The node's families."""
    return [
        labelled_gauge("calltape_node_info", "This node: its name (--node-id) as a label.", "node", {facts.node: 1}),
        gauge("calltape_node_draining", "1 while the node drains: new calls are refused with 503.", facts.draining),
        gauge("calltape_calls_active", "Calls in progress on this node.", facts.calls),
        gauge("calltape_legs_active", "Legs of the calls in progress (caller and bridged).", facts.legs),
        gauge("calltape_registrations", "Live registrations (bindings) in the store.", facts.registrations),
        gauge("calltape_rtp_sessions_active", "RTP sessions open on this node.", facts.rtp.sessions),
        counter("calltape_rtp_packets_received_total", "RTP packets received.", facts.rtp.packets_in),
        counter("calltape_rtp_packets_sent_total", "RTP packets sent.", facts.rtp.packets_out),
        counter(
            "calltape_rtp_packets_lost_total",
            "RTP packets that never arrived (given up after the reorder window).",
            facts.rtp.lost,
        ),
        counter(
            "calltape_rtp_relay_dropped_total",
            "RTP payloads received but not sent on (echo, bridge): the sending side was more than 100 ms behind.",
            facts.rtp.relay_dropped,
        ),
        labelled_counter(
            "calltape_sip_dropped_total",
            "SIP messages from strangers dropped unanswered (frontdoor/flood_gate.py): blocked after failed logins, "
            "over the per-source rate, over the rate of all strangers together.",
            "reason",
            {reason: facts.sip_dropped.get(reason, 0) for reason in ("blocked", "rate", "total")},
        ),
        labelled_gauge(
            "calltape_emails",
            "E-mail notifications in the store, by state (pending: in the outbox).",
            "state",
            {state: facts.emails.get(state, 0) for state in OutboxState},
        ),
        labelled_gauge(
            "calltape_webhook_events",
            "Recording webhook events in the store, by state (pending: in the outbox).",
            "state",
            {state: facts.webhook_events.get(state, 0) for state in OutboxState},
        ),
        gauge("calltape_event_loop_lag_seconds", "How late the event loop ran its last timer.", facts.loop_lag),
        gauge(
            "calltape_event_loop_lag_max_seconds",
            "The latest the event loop has run a timer since the start.",
            facts.loop_lag_max,
        ),
    ]
