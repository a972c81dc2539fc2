"""Settings: built-in defaults < TOML file (``--config``) < ``CALLTAPE_*`` environment < flags.

Every value is checked here; a bad one raises :class:`ConfigError` with a one-line message that
names the setting, which the CLI prints before exiting with status 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from calltape.digits import is_number

LOG_LEVELS = ("debug", "info", "warning", "error")
NODE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class ConfigError(ValueError):
    """A setting has a bad value."""


@dataclass(frozen=True)
class HostPort:
    """A listening address."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    """Everything ``calltape serve`` needs to start."""

    sip: HostPort = HostPort("0.0.0.0", 5060)
    sip_tls: HostPort | None = None  # SIP over TLS as well (with tls_cert and tls_key)
    sip_ws: HostPort | None = None  # SIP over WebSocket as well (RFC 7118: browser phones)
    sip_wss: HostPort | None = None  # and over secure WebSocket (with tls_cert and tls_key)
    tls_cert: str = ""  # the TLS listener's certificate chain (PEM); read again on SIGHUP
    tls_key: str = ""  # its private key (PEM)
    tls_ca: str = ""  # the CAs that peers calltape calls over TLS must be signed by; empty: the system's
    recording_keys: str = ""  # the keyring recordings are encrypted at rest with (recording/keyring.py); SIGHUP
    http: HostPort = HostPort("127.0.0.1", 8000)
    rtp_ports: tuple[int, int] = (16384, 32767)
    data_dir: Path = Path("calltape-data")
    db: str = ""  # empty: a SQLite file in data_dir
    api_token: str = ""  # empty: generated once and kept in data_dir
    log_level: str = "info"
    trusted_networks: tuple[str, ...] = field(default_factory=tuple)
    edges: tuple[str, ...] = field(default_factory=tuple)  # edge proxies whose X-Calltape-Source is believed
    digest_algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # challenge order: most preferred first
    media_address: str = ""  # the address put in SDP and Contact; empty: the one facing the caller
    rtp_timeout: float = 60.0  # hang up after this long without RTP (0: never)
    delivery_retry_base: float = 5.0  # seconds between a failed delivery's first tries (later waits scale with it)
    delivery_horizon: float = 86400.0  # seconds after the hang-up before an undeliverable recording is failed
    workers: int = 1  # processes sharing the SIP port (see calltape/workers.py)
    node_id: str = ""  # this node's name in the store, /metrics and the manifests; empty: host and data dir
    drain_timeout: float = 600.0  # after SIGTERM, how long calls under way may go on before they are hung up

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data directory."""
        from calltape.store.database import default_sqlite_url

        return self.db or default_sqlite_url(self.data_dir)


def parse_host_port(text: str, name: str) -> HostPort:
    """``HOST:PORT`` or ``[V6]:PORT``."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host or not is_number(port) or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name}: expected HOST:PORT with a port 0-65535, got {text!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(part.isalnum() or "-" in part for part in host.split(".")):
            raise ConfigError(f"{name}: {host!r} is not an IP address or host name") from None
    return HostPort(host, int(port))


def parse_port_range(text: str, name: str) -> tuple[int, int]:
    """``LOW-HIGH``, even-aligned RTP ports above 1023."""
    low, sep, high = str(text).partition("-")
    if not sep or not is_number(low.strip()) or not is_number(high.strip()):
        raise ConfigError(f"{name}: expected LOW-HIGH, got {text!r}")
    lo, hi = int(low), int(high)
    if not 1024 <= lo < hi <= 65535 or hi - lo < 2:
        raise ConfigError(f"{name}: need 1024 <= LOW < HIGH <= 65535 with room for one RTP/RTCP pair, got {text!r}")
    return lo, hi


def _convert(name: str, value: Any) -> Any:
    flag = "--" + name.replace("_", "-")
    if name in ("sip", "http"):
        return parse_host_port(str(value), flag)
    if name in ("sip_tls", "sip_ws", "sip_wss"):
        return parse_host_port(str(value), flag) if value else None
    if name in ("tls_cert", "tls_key", "tls_ca", "recording_keys"):
        path = str(value)
        if path and not Path(path).is_file():
            raise ConfigError(f"{flag}: no such file: {path}")
        return path
    if name == "rtp_ports":
        return parse_port_range(str(value), flag)
    if name == "data_dir":
        return Path(str(value))
    if name == "log_level":
        level = str(value).lower()
        if level not in LOG_LEVELS:
            raise ConfigError(f"{flag}: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level
    if name == "db":
        url = str(value)
        if url and not url.startswith(("sqlite://", "postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ConfigError(f"{flag}: expected sqlite:///PATH or postgresql://…, got {url!r}")
        return url
    if name == "node_id":
        node = str(value)
        if node and not NODE_ID.fullmatch(node):
            raise ConfigError(f"{flag}: expected 1-64 letters, digits and . _ : -, got {value!r}")
        return node
    if name in ("rtp_timeout", "delivery_retry_base", "delivery_horizon", "drain_timeout"):
        try:
            seconds = float(value)
        except ValueError:
            raise ConfigError(f"{flag}: expected seconds, got {value!r}") from None
        if seconds < 0 or (name == "delivery_retry_base" and not 0.01 <= seconds <= 3600):
            raise ConfigError(f"{flag}: expected {'0.01-3600' if name == 'delivery_retry_base' else '>= 0'} seconds")
        return seconds
    if name == "workers":
        text = str(value)
        if not is_number(text) or not 1 <= int(text) <= 64:
            raise ConfigError(f"{flag}: expected a number of processes from 1 to 64, got {value!r}")
        return int(text)
    if name == "media_address" and value:
        try:
            return str(ipaddress.ip_address(str(value)))
        except ValueError:
            raise ConfigError(f"{flag}: expected an IP address, got {value!r}") from None
    if name == "digest_algorithms":
        items = value.split(",") if isinstance(value, str) else list(value)
        algorithms = tuple(str(i).strip().upper() for i in items if str(i).strip())
        if not algorithms or not set(algorithms) <= {"SHA-256", "MD5"}:
            raise ConfigError(f"{flag}: expected SHA-256 and/or MD5 (comma-separated), got {value!r}")
        return algorithms
    if name in ("trusted_networks", "edges"):
        items = value.split(",") if isinstance(value, str) else list(value)
        try:
            return tuple(str(ipaddress.ip_network(i.strip(), strict=False)) for i in items if i.strip())
        except ValueError as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    return str(value)


KEYS = tuple(f.name for f in fields(Settings))


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML settings file, or ConfigError with a one-line reason."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None


def load_settings(
    flags: Mapping[str, Any], config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge the layers and validate every value."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    if config_file is not None:
        from_file = read_config_file(config_file)
        unknown = sorted(set(from_file) - set(KEYS) - {"receiver"})
        if unknown:
            raise ConfigError(f"--config: unknown setting {unknown[0]!r} in {config_file}")
        merged.update({k: v for k, v in from_file.items() if k in KEYS})
    for key in KEYS:
        env_value = environ.get("CALLTAPE_" + key.upper())
        if env_value is not None:
            merged[key] = env_value
    merged.update({k: v for k, v in flags.items() if v is not None})
    settings = Settings(**{k: _convert(k, v) for k, v in merged.items()})
    for flag, listener in (("--sip-tls", settings.sip_tls), ("--sip-wss", settings.sip_wss)):
        if listener is not None and not (settings.tls_cert and settings.tls_key):
            raise ConfigError(f"{flag}: needs --tls-cert and --tls-key")
    if settings.sip_tls is not None or settings.sip_wss is not None:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"--tls-cert/--tls-key: {settings.tls_cert} and {settings.tls_key} do not load: {exc}"
            ) from None
    if settings.recording_keys:
        from calltape.at_rest.keyring import parse_keyring

        try:
            parse_keyring(Path(settings.recording_keys).read_text(), environ, settings.recording_keys)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--recording-keys: {exc}") from None
    return settings
