"""Building the receiver from its settings and serving it (``calltape receiver``)."""

from __future__ import annotations

import gc
import json
import os
from dataclasses import asdict, replace
from pathlib import Path

import uvicorn

from calltape.config import HostPort, read_config_file
from calltape.receiver.app import ReceiverApp
from calltape.receiver.hooks import StoredHook
from calltape.receiver.settings import ReceiverSettings, load_receiver_settings
from calltape.receiver.storage import DirectoryStorage, Storage

_SETTINGS_ENV = "CALLTAPE_RECEIVER_SETTINGS_JSON"


def make_storage(settings: ReceiverSettings) -> Storage:
    """The configured backend."""
    if settings.backend == "s3":
        from calltape.receiver.s3 import S3Storage

        return S3Storage(settings)
    if settings.backend == "postgresql":
        from calltape.receiver.pg_storage import PostgresStorage

        return PostgresStorage(settings.postgres_url, settings.dir / ".incoming")
    return DirectoryStorage(settings.dir)


def build_receiver(settings: ReceiverSettings) -> ReceiverApp:
    """The ASGI app for *settings*."""
    hook = StoredHook(list(settings.on_stored_command) or None, settings.on_stored_webhook or None)
    return ReceiverApp(settings, make_storage(settings), hook)


def embedded_settings(data_dir: Path, config_file: Path | None) -> ReceiverSettings | None:
    """The receiver inside ``calltape serve``: the ``[receiver]`` table of serve's config, on by default.

    It stores under ``DATA_DIR/recordings`` and, unless a token is set, accepts loopback clients only.
    """
    section: dict[str, object] = {}
    if config_file is not None:
        section = dict(read_config_file(config_file).get("receiver", {}))
    enabled = os.environ.get("CALLTAPE_RECEIVER_ENABLED", str(section.get("enabled", True))).lower()
    if enabled in ("false", "0", "no", "off"):
        return None
    settings = load_receiver_settings({}, config_file, table="receiver")
    if "dir" not in section and "CALLTAPE_RECEIVER_DIR" not in os.environ:
        settings = replace(settings, dir=data_dir / "recordings")
    if not settings.token and not settings.allow:
        settings = replace(settings, allow=("127.0.0.0/8", "::1/128"))
    return settings


def app_from_environment() -> ReceiverApp:
    """Factory for uvicorn's worker processes: settings travel in an environment variable."""
    raw = json.loads(os.environ[_SETTINGS_ENV])
    raw["listen"] = HostPort(**raw["listen"])
    raw["dir"] = Path(raw["dir"])
    for key in ("formats", "allow", "on_stored_command"):
        raw[key] = tuple(raw[key])
    app = build_receiver(ReceiverSettings(**raw))
    gc.freeze()  # start-up objects live forever: keep them out of every collection
    gc.set_threshold(50_000, 20, 100)
    return app


def run_receiver(settings: ReceiverSettings) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's own handling); several processes with ``workers``."""
    settings.dir.mkdir(parents=True, exist_ok=True)
    os.environ[_SETTINGS_ENV] = json.dumps(asdict(settings), default=str)
    print(
        f"calltape: receiver listening on http://{settings.listen}, storing to {settings.backend}:"
        f"{settings.dir.resolve() if settings.backend == 'dir' else settings.s3_bucket or 'postgresql'}",
        flush=True,
    )
    uvicorn.run(
        "calltape.receiver.server:app_from_environment",
        factory=True,
        host=settings.listen.host,
        port=settings.listen.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="on",
    )
