"""One ``calltape serve`` process: its parts built whole (``Node.build``), started in order, stopped in order.

Built: the store, SIP (transport, registrar, call control, the service routing events to them), recording
(encoder processes, the manager) and delivery, and — in worker 0 — the API, the web page and the built-in
receiver. Started: recovery of what the last run left, delivery, then SIP listening, then the API. Stopped:
calls hung up, SIP closed, recordings finished and queued, encoders and delivery ended, the store closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn

from calltape.api.app import create_app
from calltape.at_rest.keyring import KEYRING
from calltape.config import Settings
from calltape.delivery.worker import LATENCY_METRIC, DeliveryWorker
from calltape.directory.account_documents import StoredDocuments
from calltape.directory.mailboxes import StoredMailboxes
from calltape.frontdoor.auth_throttle import FailureThrottle
from calltape.frontdoor.caller_auth import CallerAuth
from calltape.frontdoor.calls import CallControl
from calltape.frontdoor.channels import LiveCalls, WorkerChannels
from calltape.frontdoor.device_auth import DeviceAuthenticator
from calltape.frontdoor.flood_gate import FloodGate
from calltape.frontdoor.registrar import Registrar
from calltape.frontdoor.sip_service import CAPABILITIES, SipService
from calltape.frontdoor.sources import Sources
from calltape.health import LoopLag, health
from calltape.logs import throttle
from calltape.manifest import SigningKey
from calltape.media import relaying
from calltape.media.library import MediaLibrary
from calltape.media.ports import RtpPortPool
from calltape.media.rtp_totals import RTP_TOTALS
from calltape.media.tts import TtsCache
from calltape.node_metrics import NodeFacts, node_families
from calltape.notify.mailer import Mailer
from calltape.prometheus import exposition
from calltape.receiver.app import ReceiverApp
from calltape.receiver.server import build_receiver
from calltape.receiver.settings import ReceiverSettings
from calltape.recording.encoder_pool import EncoderPool, default_size
from calltape.recording.manager import RecordingManager, node_name
from calltape.recording.metrics import recording_families, spool_bytes
from calltape.recording.recovery import recover
from calltape.recording.retention import RetentionSweeper
from calltape.sip.digest import DigestChallenger
from calltape.sip.endpoint import SipEndpoint
from calltape.sip_transport import SipTransport, client_context, server_context
from calltape.store.callflows import Callflows
from calltape.store.database import Database
from calltape.store.directory import Directory
from calltape.store.documents import ACCOUNTS, USERS, Documents
from calltape.store.nodes import HEARTBEAT, Nodes, NodeState
from calltape.store.notifications import Notifications
from calltape.store.recording_audit import RecordingAudit
from calltape.store.recordings import Recordings
from calltape.store.registrations import Registrations
from calltape.store.shared_files import SharedFiles
from calltape.store.signing_keys import SigningKeys
from calltape.store.storage_plans import StoragePlans
from calltape.store.system_configs import SystemConfigs
from calltape.store.webhook_events import WebhookEvents
from calltape.switch.endpoints import Endpoints
from calltape.switch.forwarding import Forwarding
from calltape.tasks import TaskSet
from calltape.webhooks.events import RecordingEvents
from calltape.webhooks.sender import WebhookSender
from calltape.worker import Router, Worker, spool_dir
from calltape.worker_control import ControlServer, ask
from calltape.worker_metrics import ENVIRONMENT, SharedFigures, Snapshot, read_shared, shared_directory

log = logging.getLogger(__name__)

PURGE_INTERVAL = 60.0
DRAIN_LOOK = 0.5  # seconds between looks at whether a draining node's calls have ended
DELIVERY_SETTLE = 30.0  # seconds a drained node waits for uploads under way (the rest stay in the outbox)
RECEIVER_PATH = "/receiver"


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: calltape owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def api_token(settings: Settings, say: Callable[[str], None]) -> str:
    """The admin token: from the settings, or generated once and kept (mode 0600) in the data dir."""
    if settings.api_token:
        return settings.api_token
    path = settings.data_dir / "api-token"
    if path.exists():
        say(f"calltape: API token in {path}")
        return path.read_text().strip()
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    say(f"calltape: generated API token {token} (kept in {path})")
    say("calltape: first start: `.venv/bin/calltape demo` calls through Kazoo's recording examples and checks them")
    return token


def _masked(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


async def prepare_store(settings: Settings) -> None:
    """Create or migrate the store's schema (before worker processes open it)."""
    db = Database(settings.db_url)
    await db.open()
    await db.close()


class Node:
    """One serving process (worker ``worker.index`` of ``worker.count``)."""

    def __init__(self, settings: Settings, worker: Worker, db: Database, token: str, say: Callable[[str], None]):
        """The parts that need no awaiting; ``build`` adds the rest."""
        self.settings = settings
        self.worker = worker
        self.first = worker.index == 0  # the process that serves the API and looks after the registrations
        self.db = db
        self.token = token
        self.say = say
        self.registrations = Registrations(db)
        self.nodes = Nodes(db)
        self.recordings = Recordings(db)
        self.encoders = EncoderPool(default_size(worker.count))
        spool = spool_dir(settings.data_dir, worker.index)  # each worker is its own node
        self.node = node_name(spool, settings.node_id, worker.index, worker.count)  # this worker's
        self.node_id = settings.node_id or self.node  # the API's name for this node (every worker of it)
        self.on_drain: Callable[[], None] = lambda: None  # serve() sets it: drain this node (every worker)
        self.webhooks = WebhookSender(
            WebhookEvents(db),
            self.node,
            retry_base=settings.delivery_retry_base,
            horizon=settings.delivery_horizon,
        )
        self.recording_events = RecordingEvents(
            Documents(db, ACCOUNTS), self.recordings, self.webhooks.store, self.webhooks.wake
        )
        self.delivery = DeliveryWorker(
            self.recordings,
            self.node,
            self._retry_times,
            retry_base=settings.delivery_retry_base,
            horizon=settings.delivery_horizon,
            events=self.recording_events,
        )
        self.manager = RecordingManager(
            self.recordings,
            SystemConfigs(db),
            spool,
            delivery=self.delivery,
            plans=StoragePlans(db),
            encoders=self.encoders,
            events=self.recording_events,
            signing_key=SigningKey.of_data_dir(settings.data_dir),
            node=self.node,
            accounts=Documents(db, ACCOUNTS),
        )
        self.loop_lag = LoopLag()
        # --workers: each worker's figures go to the shared directory the supervisor named (worker_metrics.py)
        self.shared_figures = SharedFigures() if worker.count > 1 and ENVIRONMENT in os.environ else None
        self.housekeeping = TaskSet(f"worker {worker.index} housekeeping")  # stopped first
        self.delivery_task: asyncio.Task[None] | None = None
        self.heartbeat_task: asyncio.Task[None] | None = None
        self.sharing_task: asyncio.Task[None] | None = None
        self.tls_certificate: ssl.SSLContext | None = None  # what the TLS listener presents, as last loaded
        self.started_at = time.time()
        self.api_server: _EmbeddedUvicorn | None = None
        self.api_task: asyncio.Task[None] | None = None
        self.receiver_app: ReceiverApp | None = None

    @classmethod
    async def build(
        cls, settings: Settings, receiver: ReceiverSettings | None, worker: Worker, say: Callable[[str], None]
    ) -> Node:
        """Open the store and build every part (nothing listens yet)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.recording_keys:
            KEYRING.load(Path(settings.recording_keys))  # checked when the settings were read
        db = Database(settings.db_url)
        await db.open()
        node = cls(settings, worker, db, api_token(settings, say), say)
        key = node.manager.signing_key
        assert key is not None
        await SigningKeys(db).register(key.key_id, node.manager.node, key.public_b64)
        await node._build_sip(await db.shared_secret("digest-nonce"), await db.shared_secret("call-forwarding"))
        if node.first:
            node._build_api(receiver)
        return node

    async def _build_sip(self, nonce_secret: str, forwarding_secret: str) -> None:
        settings, db = self.settings, self.db
        directory = Directory(db)
        challenger = DigestChallenger(nonce_secret.encode(), algorithms=settings.digest_algorithms)
        failures = FailureThrottle()
        device_auth = DeviceAuthenticator(directory, challenger, failures)
        self.forwarding = Forwarding(forwarding_secret.encode())
        sources = Sources(settings.edges)  # behind an edge: its word on where a request came from
        caller_auth = CallerAuth(device_auth, settings.trusted_networks, forwarding=self.forwarding, sources=sources)
        self.flood_gate = FloodGate(lambda host: caller_auth.is_trusted(host) or sources.is_edge(host), failures)
        device_auth.vouch = self.flood_gate.vouch  # a device that logs in vouches for its address
        self.directory = directory
        self.transport = SipTransport(SipEndpoint(CAPABILITIES))
        self.transport.admit = self.flood_gate.admit  # strangers are limited before their messages are parsed
        self.transport.vouch = self.flood_gate.vouch  # peers calltape sends requests to are not strangers
        self.transport.tls_client = client_context(settings.tls_ca or None)
        self.media_library = MediaLibrary(settings.data_dir, SharedFiles(db, settings.data_dir))
        self.callflows = Callflows(db)
        self.mailer = Mailer(
            Notifications(db),
            SystemConfigs(db),
            self.manager.node,
            retry_base=settings.delivery_retry_base,
            horizon=settings.delivery_horizon,
            after_sent=lambda sent: self.mailboxes.notified(sent),
        )
        self.mailboxes = StoredMailboxes(db, settings.data_dir, self.media_library, outbox=self.mailer)
        self.calls = CallControl(
            self.transport,
            caller_auth,
            self.callflows,
            RtpPortPool(settings.sip.host, *settings.rtp_ports),
            TtsCache(settings.data_dir / "tts"),
            self.media_library,
            Endpoints(db, self.registrations, self.forwarding, accounts=directory.account_document),
            self.mailboxes,
            StoredDocuments(db, self.callflows),
            allow_header=CAPABILITIES.allow_header,
            advertised_address=settings.media_address,
            rtp_timeout=settings.rtp_timeout,
            recordings=self.manager,
            worker=self.worker,
        )
        local = LiveCalls(lambda: self.calls.active_calls, self.manager)
        several = self.worker.count > 1  # the API (worker 0) asks the worker that has a call
        self.channels = WorkerChannels(local, self.worker, partial(ask, self.worker) if several else None)
        self.control = ControlServer(self.worker, self.channels.handle) if several else None
        registrar = Registrar(self.registrations, device_auth, node=socket.gethostname(), sources=sources)
        self.service = SipService(registrar, self.transport, self.calls)
        self.router = Router(self.worker, self.transport) if several else None
        if self.router is not None:  # connections stay with the worker that accepted them: the others ask it
            self.transport.write_elsewhere = self.router.write_on
            self.transport.stream_closed = self.router.closed
            self.transport.siblings = self.worker.count - 1
            self.router.draining = lambda: self.draining

    def _build_api(self, receiver: ReceiverSettings | None) -> None:
        self.receiver_app = build_receiver(receiver) if receiver is not None else None
        self.api_socket = socket.create_server((self.settings.http.host, self.settings.http.port), reuse_port=False)
        app = create_app(
            self.db,
            self.token,
            self.media_library,
            self.directory,
            self.callflows,
            self.mailboxes.messages_store,
            self.recordings,
            on_recording_retry=self.delivery.wake,
            on_notification_retry=self.mailer.wake,
            recording_events=self.recording_events,
            on_webhook_retry=self.webhooks.wake,
            on_config_change=self.manager.forget_settings,
            metrics=self.metrics,
            health=self.health,
            channels=self.channels,
            node=self.node_id,
            node_control=self,
        )
        if self.receiver_app is not None:
            app.mount(RECEIVER_PATH, self.receiver_app)
        self.api_server = _EmbeddedUvicorn(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))

    async def _retry_times(self) -> int:
        return (await self.manager.settings()).storage_retry_times

    async def start(self, on_listening: Callable[[], None] = lambda: None) -> None:
        """Recover what the last run left, deliver, listen for SIP, then serve the API."""
        settings = self.settings
        if relaying.COMPILED_READER is None:
            log.warning("media: the relay reader is in Python (the compiled one was not built, or is turned off)")
        self.encoders.start()
        await self._note_up()  # before any lease is taken: no other node may think this one gone meanwhile
        self.heartbeat_task = asyncio.create_task(self._heartbeat())
        await recover(self.recordings, self.manager.node, self.manager.encode, self.manager.signing_key)
        if self.first:
            self.sharing_task = asyncio.create_task(self._share_older_files())
        self.delivery_task = asyncio.create_task(self.delivery.run())
        # Listen only now that calls can be taken: an INVITE that came earlier would be told 404 (no callflow).
        pass_on = self.router.pass_on if self.router is not None else None
        sip_host, sip_port = await self.transport.start(
            settings.sip.host,
            settings.sip.port,
            self.service.handle_event,
            shared=self.worker.count > 1,
            pass_on=pass_on,
        )
        self.forwarding.listening(sip_host, sip_port)
        if settings.sip_tls is not None:
            host, port = settings.sip_tls.host, settings.sip_tls.port
            try:
                await self.transport.start_tls(host, port, self._listener_context(), shared=self.worker.count > 1)
            except OSError as exc:
                raise OSError(exc.errno, f"--sip-tls {host}:{port}: {exc.strerror or exc}") from None
        for flag, listen, secure in (("--sip-ws", settings.sip_ws, False), ("--sip-wss", settings.sip_wss, True)):
            if listen is None:
                continue
            context = self._listener_context() if secure else None
            try:
                await self.transport.start_ws(listen.host, listen.port, context, shared=self.worker.count > 1)
            except OSError as exc:
                raise OSError(exc.errno, f"{flag} {listen.host}:{listen.port}: {exc.strerror or exc}") from None
        if self.router is not None:
            self.router.start()
        if self.control is not None:
            await self.control.start()
        on_listening()
        self.housekeeping.spawn(self.loop_lag.run())
        self.housekeeping.spawn(self.mailer.run())
        self.housekeeping.spawn(self.webhooks.run())
        if self.api_server is not None:
            self.api_task = asyncio.create_task(self.api_server.serve(sockets=[self.api_socket]))
            self._announce(sip_host, sip_port)
            self.housekeeping.spawn(_purge_expired(self.registrations))
            accounts, users, audit = Documents(self.db, ACCOUNTS), Documents(self.db, USERS), RecordingAudit(self.db)
            self.housekeeping.spawn(RetentionSweeper(accounts, users, self.recordings, audit).run())
        if self.shared_figures is not None:
            self.housekeeping.spawn(self.shared_figures.publish(self._own_counters))
        if self.worker.count > 1:
            low, high = settings.rtp_ports
            where = f"SIP {sip_host}:{sip_port}, RTP {low}-{high}"
            print(
                f"calltape: worker {self.worker.index} of {self.worker.count} (pid {os.getpid()}): {where}", flush=True
            )
        # Tens of thousands of live transactions (UDP keeps each for 32 s) make the default collector
        # thresholds trigger full scans constantly; everything made so far is long-lived.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

    def _announce(self, sip_host: str, sip_port: int) -> None:
        say, settings = self.say, self.settings
        http_host, http_port = self.api_socket.getsockname()[:2]
        say(f"calltape: SIP listening on udp+tcp {sip_host}:{sip_port}")
        if self.transport.tls_address is not None:
            say(f"calltape: SIP listening on tls {self.transport.tls_address[0]}:{self.transport.tls_address[1]}")
        for name, (ws_host, ws_port) in self.transport.ws_addresses.items():
            say(f"calltape: SIP listening on {name} {ws_host}:{ws_port} (WebSocket, subprotocol sip)")
        if self.receiver_app is not None:
            base = f"http://{http_host}:{http_port}{RECEIVER_PATH}/"
            say(f"calltape: recording receiver at {base} storing in {self.receiver_app.settings.dir}")
        say(f"calltape: API listening on http://{http_host}:{http_port}")
        say(f"calltape: recordings web page http://{http_host}:{http_port}/ui, API reference /docs, metrics /metrics")
        say(f"calltape: data in {Path(settings.data_dir).resolve()}, database {_masked(self.db.url)}")
        say(f"calltape: node {self.node_id}")

    def reload(self) -> None:
        """SIGHUP: the TLS certificate and the recording keyring, read again."""
        self.reload_tls()
        self.reload_keyring()

    def reload_keyring(self) -> None:
        """Read ``--recording-keys`` again (a key added for rotation); a file that does not load leaves the keys
        as they were."""
        path = self.settings.recording_keys
        if not path:
            return
        try:
            KEYRING.load(Path(path))
        except (OSError, ValueError) as exc:
            log.error("node %s: the recording keys were not reloaded (the old ones stay): %s", self.node, exc)
            return
        log.info("node %s: %d recording key(s) loaded from %s", self.node, len(KEYRING), path)

    def reload_tls(self) -> None:
        """Read ``--tls-cert`` and ``--tls-key`` again (a renewed certificate) into a new context; new
        connections get it, and a pair that does not load leaves the old one in use (the live one is never
        changed half-way)."""
        settings = self.settings
        if self.tls_certificate is None:
            return
        try:
            self.tls_certificate = server_context(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as exc:
            log.error("node %s: the TLS certificate was not reloaded (the old one stays): %s", self.node, exc)
            return
        log.info("node %s: TLS certificate reloaded from %s", self.node, settings.tls_cert)

    def _listener_context(self) -> ssl.SSLContext:
        """A TLS listener's context (SIP over TLS, secure WebSocket): every handshake gets the certificate as last
        loaded (SIGHUP reloads it)."""
        settings = self.settings
        if self.tls_certificate is None:
            self.tls_certificate = server_context(settings.tls_cert, settings.tls_key)
        listener = server_context(settings.tls_cert, settings.tls_key)
        listener.sni_callback = self._present_certificate
        return listener

    def _present_certificate(self, connection: ssl.SSLObject, _server_name: str | None, _ctx: ssl.SSLContext) -> None:
        """At each TLS handshake: the certificate as last loaded."""
        if self.tls_certificate is not None:
            connection.context = self.tls_certificate

    def state(self) -> dict[str, Any]:
        """What ``GET /v2/nodes/{id}`` shows (this worker's calls)."""
        return {
            "id": self.node_id,
            "draining": self.draining,
            "calls": len(self.calls.active_calls),
            "legs": self.calls.leg_count(),
            "workers": self.worker.count,
        }

    def start_draining(self) -> None:
        """Drain this node, as SIGTERM does (``POST /v2/nodes/{id}/drain``): from this moment on, no new call.
        Asked again, nothing more happens (a second SIGTERM would stop it)."""
        if self.draining:
            return
        self.service.draining = True
        self.on_drain()

    @property
    def draining(self) -> bool:
        """True once :meth:`drain` began: new calls are refused."""
        return self.service.draining

    async def drain(self, timeout: float, stop: asyncio.Event) -> None:
        """Take no new calls (new INVITEs and OPTIONS probes get 503 with Retry-After, so the edge sends calls to
        other nodes), let the calls under way end by themselves — at most *timeout* seconds, or until *stop* is
        set — then let their recordings be finished and the deliveries under way end. :meth:`stop` follows."""
        self.service.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.say(
            f"calltape: node {self.node} draining: no new calls; {len(self.calls.active_calls)} under way may go on "
            f"for {timeout:g} s"
        )
        while not self.calls.idle and not stop.is_set() and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(DRAIN_LOOK, left))
        if not self.calls.idle:
            self.say(f"calltape: {len(self.calls.active_calls)} call(s) still up: hanging up")
            return
        finishing = asyncio.ensure_future(self._finish_deliveries(max(0.0, deadline - loop.time())))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({finishing, stopped}, return_when=asyncio.FIRST_COMPLETED)  # a second SIGTERM: at once
        stopped.cancel()
        if not finishing.done():
            finishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await finishing

    async def _finish_deliveries(self, left: float) -> None:
        """The drained calls' recordings are finished, and the deliveries under way may end (at most *left* s)."""
        await asyncio.shield(self.manager.drain())  # a stop meanwhile must not cut a recording's finishing short
        await self.delivery.settle(min(DELIVERY_SETTLE, left))

    async def stop(self) -> None:
        """Hang up, stop listening, finish the recordings, stop delivery and the API, close the store."""
        self.say("calltape: shutting down")
        self.housekeeping.cancel()
        if self.api_server is not None:
            self.api_server.should_exit = True
        await self.calls.close()
        if self.router is not None:
            self.router.close()
        if self.control is not None:
            await self.control.close()
        await self.transport.close()
        await self.service.drain()
        await self.manager.drain()
        await self.encoders.close()
        for task in (self.sharing_task, self.delivery_task, self.heartbeat_task):  # up until its deliveries end
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.api_task is not None:  # it stops by itself once told to, after the requests under way
            with contextlib.suppress(asyncio.CancelledError):
                await self.api_task
        await self.housekeeping.wait()
        with contextlib.suppress(Exception):  # the store is down: the others see this node gone soon anyway
            await self.nodes.stopped(self.node)
        if self.receiver_app is not None:
            await self.receiver_app.hook.drain()
            await self.receiver_app.storage.close()
        await self.db.close()

    # ---- what the API shows -------------------------------------------------------------------------------

    def _own_counters(self) -> Snapshot:
        calls, delivery = self.calls, self.delivery
        return Snapshot(
            calls=len(calls.active_calls),
            legs=calls.leg_count(),
            rtp=RTP_TOTALS.counts(),
            recordings_active=len(self.manager.active),
            delivered=delivery.delivered,
            failed_attempts=delivery.failed_attempts,
            loop_lag_max=self.loop_lag.max,
            frames={
                **self.manager.frames.flat(),
                **{f"encoded_ahead.{outcome}": n for outcome, n in self.manager.ahead_frames.items()},
            },
            sip_dropped=dict(self.flood_gate.dropped),
        )

    async def metrics(self) -> str:
        """``/metrics``: this node's figures; with ``--workers``, every worker's counters and gauges (worker 0)."""
        settings, worker = self.settings, self.worker
        if self.shared_figures is not None:
            counts, shared = read_shared(shared_directory(settings.data_dir), keep=[LATENCY_METRIC])
        else:
            counts, shared = self._own_counters(), list(self.delivery.latency.collect())
        node = NodeFacts(
            calls=counts.calls,
            legs=counts.legs,
            registrations=await self.registrations.count_live(time.time()),
            rtp=counts.rtp,
            loop_lag=self.loop_lag.lag,
            loop_lag_max=counts.loop_lag_max,
            emails=await self.mailer.outbox.count_by_state(),
            webhook_events=await self.webhooks.outbox.count_by_state(),
            node=self.node_id,
            draining=self.draining,
            sip_dropped=counts.sip_dropped,
        )
        spools = [spool_dir(settings.data_dir, i) for i in range(worker.count)]
        recording = recording_families(
            await self.recordings.count_by_state(),
            await self.recordings.outbox_depth(),
            counts.recordings_active,
            counts.delivered,
            counts.failed_attempts,
            self.delivery.latencies,
            spool_bytes=sum([await asyncio.to_thread(spool_bytes, spool) for spool in spools]),
            frames=counts.frames,
        )
        return exposition([*node_families(node), *recording, *shared])

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """``/health``: the store, the spool and the event loop."""
        return await health(self.db, self.manager.spool_dir, self.loop_lag)

    async def _share_older_files(self) -> None:
        """The voicemail and media files this node made before files were shared go to the store (in the
        background: a failure is logged and tried again at the next start)."""
        files = self.media_library.files
        try:
            shared = await files.share_what_is_here("voicemail", "media") if files is not None else 0
        except Exception as exc:
            throttle.error(log, "share-files", exc, "node %s: older files not shared: %r", self.node, exc)
            return
        if shared:
            log.info("node %s: %d voicemail and media files shared with the other nodes", self.node, shared)

    async def _heartbeat(self) -> None:
        """Tell the store every HEARTBEAT seconds that this node is up (``store/nodes.py``)."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            await self._note_up()

    async def _note_up(self) -> None:
        state = NodeState(self.node, self.draining, len(self.calls.active_calls), self.started_at)
        try:
            await self.nodes.note(state)
        except Exception as exc:  # the store is down: the next note says it again
            throttle.error(log, "heartbeat", exc, "node %s: cannot note that it is up: %r", self.node, exc)


async def _purge_expired(registrations: Registrations) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL)
        try:
            removed = await registrations.purge_expired(time.time())
            if removed:
                log.info("removed %d expired registrations", removed)
        except Exception:
            log.exception("purging expired registrations failed")
