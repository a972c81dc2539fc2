"""Call control: turns INVITEs into calls running their callflow, and routes in-dialog requests to them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from calltape.callflow.engine import run_callflow
from calltape.callflow.metaflows import RecordCallFlow, TransferFlow, feature_codes_of
from calltape.callflow.modules import record_call
from calltape.frontdoor.caller_auth import Caller, CallerAuth
from calltape.frontdoor.channels import live_legs
from calltape.frontdoor.replies import reply
from calltape.logs import throttle
from calltape.media.clock import MediaClock
from calltape.media.library import MediaLibrary
from calltape.media.ports import PortsExhaustedError, RtpPortPool
from calltape.media.sdp import Negotiated, SdpError, negotiate, parse_sdp
from calltape.media.tts import TtsCache
from calltape.recording.manager import RecordingManager
from calltape.sip.events import (
    AckReceived,
    AckTimedOut,
    InviteCancelled,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from calltape.sip.message import Request, Response
from calltape.sip.syntax import SipSyntaxError, quote
from calltape.sip.transaction import ClientTransaction, ServerTransaction
from calltape.sip.uri import SipUri, parse_uri
from calltape.sip_transport import SipTransport, local_address_towards
from calltape.store.callflows import Callflows
from calltape.store.database import store_away
from calltape.switch import dtmf_transfer
from calltape.switch.call import Call
from calltape.switch.directory import AccountDocuments, Mailboxes
from calltape.switch.endpoints import Endpoints
from calltape.switch.feature_codes import FeatureCodes, Pressed
from calltape.switch.leg import InboundLeg, Leg
from calltape.tasks import TaskSet
from calltape.worker import Worker

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 5.0  # caller check, callflow lookup and SDP: longer than this and the caller gets 503
MAX_SETUPS = 200  # INVITEs being set up at once; beyond, 503 at once (a flood cannot queue up behind the store)
RETRY_AFTER = "5"
FIRST_PACKET_TIMEOUT = 10.0  # an answered call whose far end never sends RTP gives its port back after this
PORT_PRESSURE = 0.9  # with this share of the RTP range in use ...
PRESSURE_TIMEOUT = 5.0  # ... a call silent for this long is hung up, so silent calls cannot starve real ones

DialogKey = tuple[str, str, str]


#: A Contact's transport parameter for a peer reached over each transport (WSS is ``transport=ws``: RFC 7118 §5.2).
URI_TRANSPORT = {"tcp": ";transport=tcp", "tls": ";transport=tls", "ws": ";transport=ws", "wss": ";transport=ws"}


class CallControl:
    """Owns the live calls of this node."""

    def __init__(
        self,
        transport: SipTransport,
        auth: CallerAuth,
        callflows: Callflows,
        ports: RtpPortPool,
        tts: TtsCache,
        media_library: MediaLibrary,
        endpoints: Endpoints,
        mailboxes: Mailboxes,
        documents: AccountDocuments,
        *,
        allow_header: str,
        advertised_address: str = "",
        rtp_timeout: float = 60.0,
        recordings: RecordingManager | None = None,
        worker: Worker | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self.auth = auth
        self.callflows = callflows
        self.ports = ports
        self.tts = tts
        self.media_library = media_library
        self.endpoints = endpoints
        self.mailboxes = mailboxes
        self.documents = documents
        self.wall_clock = wall_clock
        self.allow_header = allow_header
        self.advertised_address = advertised_address
        self.worker = worker or Worker()  # which Call-IDs are ours (serve --workers N)
        self.rtp_timeout = rtp_timeout
        self.recordings = recordings
        self.clock = MediaClock()
        self.legs: dict[DialogKey, Leg] = {}
        self._owners: dict[tuple[str, ...], Leg] = {}  # client transaction key → the leg that sent it
        self._owned: dict[Leg, list[tuple[str, ...]]] = {}
        self._running: dict[int, Call] = {}  # by id() of the INVITE transaction, while its callflow runs
        self._tasks = TaskSet("calls")
        self._watchdog: asyncio.Task[None] | None = None
        self._setting_up = 0

    # ---- new calls ---------------------------------------------------------------------------

    def on_invite(self, event: RequestReceived) -> None:
        """A new INVITE (no To tag): set up and run its call, or 503 at once when too many are being set up."""
        if self._setting_up >= MAX_SETUPS:
            throttle.log(
                log, logging.WARNING, "overloaded", "overloaded: %d INVITEs being set up, answering 503", MAX_SETUPS
            )
            reply(self.transport, event, 503, "Service Unavailable (overloaded)", [("Retry-After", RETRY_AFTER)])
            return
        self._setting_up += 1  # counted from now: a burst arrives before any of its tasks has run
        self.spawn(self._start_call(event))
        if self._watchdog is None and self.rtp_timeout > 0:
            self._watchdog = asyncio.get_running_loop().create_task(self._media_watchdog())

    async def _start_call(self, event: RequestReceived) -> None:
        """Set up within SETUP_TIMEOUT, run the callflow; whatever happens, the INVITE gets a final response."""
        tx = event.transaction
        try:
            try:
                async with asyncio.timeout(SETUP_TIMEOUT):
                    set_up = await self._set_up(event)
            finally:
                self._setting_up -= 1
            if set_up is not None:
                await self._run(*set_up)
        except TimeoutError:
            throttle.log(
                log,
                logging.WARNING,
                "setup-timeout",
                "call-id %s: set-up took over %.0f s, answering 503",
                event.request.call_id,
                SETUP_TIMEOUT,
            )
            reply(self.transport, event, 503, "Service Unavailable (busy)", [("Retry-After", RETRY_AFTER)])
        except Exception as exc:
            if store_away(exc):  # try again later (or, behind an edge, on another node)
                message = "call-id %s: the store is away (%r): 503"
                throttle.log(log, logging.ERROR, "setup-store", message, event.request.call_id, exc)
                if not tx.final_sent:
                    reply(self.transport, event, 503, "Service Unavailable (store)", [("Retry-After", RETRY_AFTER)])
            else:
                throttle.error(log, "setup-failed", exc, "call-id %s: call set-up failed", event.request.call_id)
        finally:
            if not tx.final_sent:  # the guarantee: no INVITE is left without a final response
                reply(self.transport, event, 500, "Server Internal Error", [("Retry-After", RETRY_AFTER)])

    async def _set_up(self, event: RequestReceived) -> tuple[Call, dict[str, Any]] | None:
        """Who calls, which callflow, which media: a Call, or None after answering the INVITE with an error."""
        request, tx, peer = event.request, event.transaction, event.peer
        caller = await self.auth.identify(request, peer, tx.to_tag)
        if not isinstance(caller, Caller):
            self.transport.respond(tx, caller)
            return None
        parsed = parse_uri(request.uri)  # the parser has checked it
        number = (parsed.user_unescaped or "") if isinstance(parsed, SipUri) else parsed.opaque.split(";")[0]
        found = await self.callflows.find(number, caller.account_id)
        if found is None:
            throttle.log(
                log,
                logging.INFO,
                ("no-callflow", peer.host),
                "call-id %s: no callflow for %r (from %s)",
                request.call_id,
                number,
                peer.host,
            )
            reply(self.transport, event, 404, "Not Found (no callflow for this number)")
            return None
        account_id, callflow = found
        negotiated: Negotiated | None = None
        if request.body:
            encrypted = caller.device_id is not None and await self.endpoints.requires_srtp(
                account_id, caller.device_id
            )
            try:
                negotiated = negotiate(parse_sdp(request.body), self.ports.families, srtp_required=encrypted)
            except SdpError as exc:
                throttle.log(
                    log, logging.INFO, ("sdp-refused", peer.host), "call-id %s: SDP refused: %s", request.call_id, exc
                )
                reply(self.transport, event, exc.status, exc.reason, [("Warning", f"304 calltape {quote(str(exc))}")])
                return None
        if tx.final_sent:  # cancelled while we looked things up
            return None
        local = self.advertised_address or local_address_towards(peer.host)
        if caller.forward_hops is not None:  # a forward of ours: both ends of its media are this machine
            local = local_address_towards(peer.host)
        leg = InboundLeg(self, request, tx, peer, local, negotiated)
        call = Call(leg, self, account_id, number)
        call.caller_device_id = caller.device_id
        call.forward_hops = caller.forward_hops
        call.callflow_name = str(callflow.get("name") or callflow.get("id") or "")
        return call, callflow

    async def _run(self, call: Call, callflow: dict[str, Any]) -> None:
        tx = call.inbound.transaction
        self._running[id(tx)] = call
        log.info("call-id %s: %s calls %s (account %s)", call.call_id, call.caller.number, call.number, call.account_id)
        try:
            if self.recordings is not None:
                await call.start_automatic_recordings()
            await run_callflow(call, callflow, lambda cid: self.callflows.get(cid, call.account_id))
        except PortsExhaustedError:
            throttle.log(log, logging.ERROR, "no-rtp-port", "call-id %s: no free RTP port", call.call_id)
            await call.hangup(503)
        except Exception as exc:
            if store_away(exc):  # e.g. the account's recording settings cannot be read: not run unrecorded
                throttle.log(log, logging.ERROR, "run-store", "call-id %s: the store is away (%r)", call.call_id, exc)
                await call.hangup(503)
            else:
                throttle.error(log, "callflow-failed", exc, "call-id %s: callflow failed", call.call_id)
                await call.hangup(500)
        finally:
            self._running.pop(id(tx), None)

    @property
    def active_calls(self) -> list[Call]:
        """The calls whose callflow runs now."""
        return list(self._running.values())

    @property
    def idle(self) -> bool:
        """No call is being set up or running."""
        return not self._running and not self._setting_up

    def leg_count(self) -> int:
        """Live legs of the active calls (``/metrics``)."""
        return sum(len(live_legs(call)) for call in self._running.values())

    # ---- in-dialog ---------------------------------------------------------------------------

    def call_of_leg(self, call_id: str) -> Call | None:
        """The running call whose caller's leg has *call_id*."""
        return next((call for call in self._running.values() if call.a_leg.call_id == call_id), None)

    def feature_codes(self, account: dict[str, Any] | None, call: Call) -> FeatureCodes | None:
        """The account's metaflows for *call*: a code runs its ``record_call`` action or its ``transfer`` on it."""

        def run(flow: RecordCallFlow | TransferFlow, pressed: Pressed) -> None:
            if isinstance(flow, TransferFlow):
                data = flow.data
                code = dtmf_transfer.TransferCode(data.target, data.takeback_dtmf, data.moh)
                self.spawn(dtmf_transfer.transfer(call, pressed, code))
                return
            log.info("call-id %s: metaflow record_call %s", call.call_id, flow.data.action)
            self.spawn(record_call.run(call, flow.data))

        return feature_codes_of(account, run)

    def find(self, request: Request) -> Leg | None:
        """The leg an in-dialog request belongs to."""
        try:
            return self.legs.get((request.call_id, request.to.tag or "", request.from_.tag or ""))
        except SipSyntaxError:
            return None

    def on_in_dialog(self, event: RequestReceived) -> bool:
        """BYE, re-INVITE, INFO, UPDATE for a live leg; False if no leg has this dialog."""
        leg = self.find(event.request)
        if leg is None or leg.dialog is None:
            return False
        leg.on_request(event)
        return True

    def on_ack(self, event: AckReceived) -> None:
        """The end-to-end ACK of a 200."""
        leg = self.find(event.request)
        if isinstance(leg, InboundLeg):
            leg.ack_received(event.request)

    def on_cancelled(self, event: InviteCancelled) -> None:
        """The caller gave up before we answered (the core already sent 487)."""
        call = self._running.get(id(event.transaction))
        if call is not None:
            call.inbound.far_end_hung_up("cancel")

    def on_ack_timeout(self, event: AckTimedOut) -> None:
        """Our 200 was never acknowledged: the leg is dead (RFC 3261 §13.3.1.4)."""
        for leg in list(self.legs.values()):
            if leg.call_id == event.response.call_id:
                throttle.log(log, logging.WARNING, "no-ack", "call-id %s: no ACK for our 200, hanging up", leg.call_id)
                self.spawn(leg.hangup())

    # ---- LegHost: what legs get from us -----------------------------------------------------

    def new_call_id(self) -> str:
        """A Call-ID for a leg we place: the hash gives its dialog to this worker."""
        return self.worker.new_call_id()

    def respond(self, transaction: ServerTransaction, response: Response) -> None:
        """Send a response through its transaction."""
        self.transport.respond(transaction, response)

    def send_request(self, request: Request, peer: Peer, owner: Leg | None = None) -> ClientTransaction:
        """Send a request of a leg's; its transaction's events reach *owner* (until the leg ends)."""
        transaction = self.transport.send_request(request, peer)
        if owner is not None and not owner.ended.is_set():
            if owner not in self._owned:
                self._owned[owner] = []
                owner.on_end(self._disown)
            self._owned[owner].append(transaction.key)
            self._owners[transaction.key] = owner
        return transaction

    def _disown(self, leg: Leg) -> None:
        for key in self._owned.pop(leg, []):
            self._owners.pop(key, None)

    def on_client_event(self, event: ResponseReceived | TransactionTimedOut | TransportFailed) -> None:
        """A response, timeout or transport error for a request a leg sent: to that leg."""
        if isinstance(event, ResponseReceived):
            transaction = event.transaction
            if transaction is None:  # a 2xx retransmitted after its transaction ended: the leg re-ACKs
                response = event.response
                leg = self.legs.get((response.call_id, response.from_.tag or "", response.to.tag or ""))
            else:
                leg = self._owners.get(transaction.key)
            if leg is not None:
                leg.on_response(event.response)
            return
        leg = self._owners.get(event.transaction.key)
        if leg is None:
            return
        if isinstance(event, TransactionTimedOut):
            leg.on_timeout()
        else:
            leg.on_transport_error()

    def send_ack(self, ack: Request, peer: Peer) -> None:
        """Send an end-to-end ACK."""
        self.transport.send_ack(ack, peer)

    def dialog_up(self, leg: Leg) -> None:
        """A leg's dialog exists: in-dialog requests reach it from now on."""
        assert leg.dialog is not None
        self.legs[leg.dialog.id] = leg

    def dialog_gone(self, leg: Leg) -> None:
        """A leg ended."""
        if leg.dialog is not None and self.legs.get(leg.dialog.id) is leg:
            del self.legs[leg.dialog.id]

    def prepare_peer(self, peer: Peer, *, pin: bytes | None, own_connection: bool) -> None:
        """How *peer* is reached (see LegHost): its pinned certificate, or that it is reached on its own connection."""
        self.transport.prepare_peer(peer, pin=pin, own_connection=own_connection)

    def contact_for(self, peer: Peer, local_address: str) -> str:
        """Our Contact, reachable the way the peer reached us."""
        host, port = self.transport.address_for(peer.transport)
        transport = URI_TRANSPORT.get(peer.transport, "")
        return f"<sip:calltape@{local_address if host in ('0.0.0.0', '::', '') else host}:{port}{transport}>"

    def via_for(self, peer: Peer, local_address: str) -> str:
        """The Via of a request we send to *peer* (the branch is added per request)."""
        host, port = self.transport.address_for(peer.transport)
        local = local_address if host in ("0.0.0.0", "::", "") else host
        return f"SIP/2.0/{peer.transport.upper()} {local}:{port};rport"

    # ---- housekeeping ------------------------------------------------------------------------

    async def _media_watchdog(self) -> None:
        """Once a second, hang up answered calls whose far end has gone silent (see ``silence_limit``)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.rtp_timeout / 4))
            now = loop.time()
            under_pressure = self.ports.usage >= PORT_PRESSURE
            for leg in list(self.legs.values()):
                media = leg.media
                if media is None or (leg.negotiated is not None and leg.negotiated.direction != "sendrecv"):
                    continue
                limit = silence_limit(self.rtp_timeout, media.heard_anything, under_pressure)
                if media.silence(now) > limit:
                    throttle.log(
                        log,
                        logging.WARNING,
                        "rtp-timeout",
                        "call-id %s: no RTP for %.0f s, hanging up",
                        leg.call_id,
                        limit,
                    )
                    self.spawn(leg.hangup())

    def spawn(self, coro: Any) -> None:
        """Run *coro* as a task this control keeps (and cancels at shutdown)."""
        self._tasks.spawn(coro)

    async def close(self) -> None:
        """Hang up every call (at shutdown)."""
        for call in list(self._running.values()):
            await call.hangup(503)
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._tasks.cancel()
        await self._tasks.wait()


def silence_limit(rtp_timeout: float, heard_anything: bool, under_pressure: bool) -> float:
    """How long an answered call may go without RTP: *rtp_timeout*, shorter if the far end never sent any
    (FIRST_PACKET_TIMEOUT) or while the RTP range is nearly used up (PRESSURE_TIMEOUT)."""
    limit = rtp_timeout
    if not heard_anything:
        limit = min(limit, FIRST_PACKET_TIMEOUT)
    if under_pressure:
        limit = min(limit, PRESSURE_TIMEOUT)
    return limit
