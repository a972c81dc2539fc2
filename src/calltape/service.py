"""Wiring for ``calltape serve``: store, SIP transport and service, and the API in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import uvicorn

from calltape.api.app import create_app
from calltape.config import Settings
from calltape.delivery.worker import DeliveryWorker
from calltape.health import LoopLag, health
from calltape.media.library import MediaLibrary
from calltape.media.ports import RtpPortPool
from calltape.media.rtp_totals import RTP_TOTALS
from calltape.media.tts import TtsCache
from calltape.node_metrics import NodeFacts
from calltape.node_metrics import render as render_node_metrics
from calltape.receiver.server import build_receiver
from calltape.receiver.settings import ReceiverSettings
from calltape.recording.encoder_pool import EncoderPool, default_size
from calltape.recording.manager import RecordingManager
from calltape.recording.metrics import render as render_recording_metrics
from calltape.recording.metrics import spool_bytes
from calltape.recording.recovery import recover
from calltape.sip.digest import DigestChallenger
from calltape.sip.endpoint import SipEndpoint
from calltape.sip.events import Event
from calltape.sip.transport import SipTransport
from calltape.store.callflows import Callflows
from calltape.store.database import Database
from calltape.store.directory import Directory
from calltape.store.recordings import Recordings
from calltape.store.registrations import Registrations
from calltape.store.storage_plans import StoragePlans
from calltape.store.system_configs import SystemConfigs
from calltape.switch.auth_throttle import FailureThrottle
from calltape.switch.caller_auth import CallerAuth
from calltape.switch.calls import CallControl
from calltape.switch.device_auth import DeviceAuthenticator
from calltape.switch.endpoints import Endpoints
from calltape.switch.forwarding import Forwarding
from calltape.switch.mailboxes import StoredMailboxes
from calltape.switch.registrar import Registrar
from calltape.switch.sip_service import CAPABILITIES, SipService
from calltape.worker import Router, Worker, spool_dir
from calltape.worker_metrics import Snapshot, combine, publish, read_fresh, snapshot_path

log = logging.getLogger(__name__)

PURGE_INTERVAL = 60.0
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


def _say(line: str) -> None:
    print(line, flush=True)


def _quiet(_line: str) -> None:
    """Workers other than the first: the first one speaks for all."""


async def prepare_store(settings: Settings) -> None:
    """Create or migrate the store's schema (before worker processes open it)."""
    db = Database(settings.db_url)
    await db.open()
    await db.close()


async def serve(
    settings: Settings,
    receiver: ReceiverSettings | None = None,
    say: Callable[[str], None] = _say,
    worker: Worker | None = None,
    on_listening: Callable[[], None] = lambda: None,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly. With *worker*, as one of several processes
    (*on_listening* tells the supervisor this one takes calls)."""
    stop = asyncio.Event()  # set first: a SIGTERM that comes while starting up stops us once started
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = worker or Worker()
    first = worker.index == 0  # the process that serves the API and looks after the registrations
    if not first:
        say = _quiet
    db = Database(settings.db_url)
    await db.open()
    token = api_token(settings, say)
    secret = await db.shared_secret("digest-nonce")
    registrations = Registrations(db)
    directory = Directory(db)
    challenger = DigestChallenger(secret.encode(), algorithms=settings.digest_algorithms)
    throttle = FailureThrottle()
    device_auth = DeviceAuthenticator(directory, challenger, throttle)
    registrar = Registrar(registrations, device_auth, node=socket.gethostname())
    service: SipService | None = None

    def on_event(event: Event) -> None:
        assert service is not None
        service.handle_event(event)

    transport = SipTransport(SipEndpoint(CAPABILITIES), on_event)
    service = SipService(registrar, transport)
    media_library = MediaLibrary(settings.data_dir)
    callflows = Callflows(db)
    recordings = Recordings(db)
    plans = StoragePlans(db)
    spool = spool_dir(settings.data_dir, worker.index)  # each worker is its own node
    encoders = EncoderPool(default_size(worker.count))
    encoders.start()
    manager = RecordingManager(recordings, SystemConfigs(db), spool, plans=plans, encoders=encoders)

    async def retry_times() -> int:
        return (await manager.settings()).storage_retry_times

    delivery = DeliveryWorker(recordings, manager.node, retry_times, retry_base=settings.delivery_retry_base)
    manager.on_queued = delivery.wake
    await recover(recordings, manager.node, manager.encode)
    delivery_task = asyncio.create_task(delivery.run())
    mailboxes = StoredMailboxes(db, settings.data_dir)
    forwarding = Forwarding((await db.shared_secret("call-forwarding")).encode())
    service.calls = CallControl(
        transport,
        CallerAuth(device_auth, settings.trusted_networks, forwarding=forwarding),
        callflows,
        RtpPortPool(settings.sip.host, *settings.rtp_ports),
        TtsCache(settings.data_dir / "tts"),
        media_library,
        Endpoints(db, registrations, forwarding),
        mailboxes,
        allow_header=CAPABILITIES.allow_header,
        advertised_address=settings.media_address,
        rtp_timeout=settings.rtp_timeout,
        recordings=manager,
        worker=worker,
    )
    # Listen only now that calls can be taken: an INVITE that came earlier would be told 404 (no callflow).
    sip_host, sip_port = await transport.start(settings.sip.host, settings.sip.port, shared=worker.count > 1)
    forwarding.listening(sip_host, sip_port)
    router = Router(worker, transport.deliver) if worker.count > 1 else None
    if router is not None:
        transport.pass_on = router.pass_on
        router.start()
    on_listening()

    loop_lag = LoopLag()
    lag_task = asyncio.create_task(loop_lag.run())
    calls = service.calls

    def own_counters() -> Snapshot:
        return Snapshot(
            calls=len(calls.active_calls),
            legs=calls.leg_count(),
            rtp=RTP_TOTALS.counts(),
            recordings_active=len(manager.active),
            delivered=delivery.delivered,
            failed_attempts=delivery.failed_attempts,
            loop_lag_max=loop_lag.max,
            frames=manager.frames.flat(),
        )

    others = [snapshot_path(settings.data_dir, i) for i in range(1, worker.count)]  # worker 0 counts them all
    spools = [spool_dir(settings.data_dir, i) for i in range(worker.count)]

    async def metrics() -> str:
        counts = combine([own_counters(), *read_fresh(others, time.time())])
        node = NodeFacts(
            calls=counts.calls,
            legs=counts.legs,
            registrations=await registrations.count_live(time.time()),
            rtp=counts.rtp,
            loop_lag=loop_lag.lag,
            loop_lag_max=counts.loop_lag_max,
        )
        recording = render_recording_metrics(
            await recordings.count_by_state(),
            await recordings.outbox_depth(),
            counts.recordings_active,
            counts.delivered,
            counts.failed_attempts,
            delivery.latencies,
            latency=delivery.latency,
            spool_bytes=sum([await asyncio.to_thread(spool_bytes, spool) for spool in spools]),
            frames=counts.frames,
        )
        return render_node_metrics(node) + recording

    async def node_health() -> tuple[bool, dict[str, Any]]:
        return await health(db, manager.spool_dir, loop_lag)

    api_server: _EmbeddedUvicorn | None = None
    api_task: asyncio.Task[None] | None = None
    receiver_app = build_receiver(receiver) if receiver is not None and first else None
    if first:
        api_socket = socket.create_server((settings.http.host, settings.http.port), reuse_port=False)
        app = create_app(
            db,
            token,
            media_library,
            directory,
            callflows,
            mailboxes.messages_store,
            recordings,
            on_recording_retry=delivery.wake,
            on_config_change=manager.forget_settings,
            metrics=metrics,
            health=node_health,
            channels=calls.channels,
        )
        if receiver_app is not None:
            app.mount(RECEIVER_PATH, receiver_app)
        api_server = _EmbeddedUvicorn(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        api_task = asyncio.create_task(api_server.serve(sockets=[api_socket]))
        http_host, http_port = api_socket.getsockname()[:2]
        say(f"calltape: SIP listening on udp+tcp {sip_host}:{sip_port}")
        if receiver is not None:
            base = f"http://{http_host}:{http_port}{RECEIVER_PATH}/"
            say(f"calltape: recording receiver at {base} storing in {receiver.dir}")
        say(f"calltape: API listening on http://{http_host}:{http_port}")
        say(f"calltape: recordings web page http://{http_host}:{http_port}/ui, API reference /docs, metrics /metrics")
        say(f"calltape: data in {Path(settings.data_dir).resolve()}, database {_masked(db.url)}")
    if worker.count > 1:
        low, high = settings.rtp_ports
        where = f"SIP {sip_host}:{sip_port}, RTP {low}-{high}"
        _say(f"calltape: worker {worker.index} of {worker.count} (pid {os.getpid()}): {where}")

    # Tens of thousands of live transactions (UDP keeps each for 32 s) make the default collector
    # thresholds trigger full scans constantly; everything made so far is long-lived.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    purge_task = asyncio.create_task(_purge_expired(registrations)) if first else None
    publish_task = (
        None if first else asyncio.create_task(publish(snapshot_path(settings.data_dir, worker.index), own_counters))
    )
    try:
        await stop.wait()
    finally:
        say("calltape: shutting down")
        for task in (purge_task, publish_task):
            if task is not None:
                task.cancel()
        lag_task.cancel()
        if api_server is not None:
            api_server.should_exit = True
        await service.calls.close()
        if router is not None:
            router.close()
        await transport.close()
        await service.drain()
        await manager.drain()
        await asyncio.to_thread(encoders.close)
        delivery_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery_task
        if api_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await api_task
        if receiver_app is not None:
            await receiver_app.hook.drain()
            await receiver_app.storage.close()
        await db.close()


async def _purge_expired(registrations: Registrations) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL)
        try:
            removed = await registrations.purge_expired(time.time())
            if removed:
                log.info("removed %d expired registrations", removed)
        except Exception:
            log.exception("purging expired registrations failed")
