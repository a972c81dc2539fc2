"""Settings of ``calltape receiver`` (flags > ``CALLTAPE_RECEIVER_*`` environment > TOML file > defaults)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args

from calltape.config import ConfigError, HostPort, parse_host_port, read_config_file
from calltape.digits import is_number
from calltape.media.formats import CONTENT_TYPES
from calltape.s3_bucket import Addressing

BACKENDS = ("dir", "s3", "postgresql")
ADDRESSING = get_args(Addressing)


@dataclass(frozen=True)
class ReceiverSettings:
    """How the receiver listens, whom it trusts, and where it stores."""

    listen: HostPort = HostPort("127.0.0.1", 8080)  # noqa: RUF009 - frozen, shared safely
    dir: Path = Path("recordings")
    token: str = ""
    max_size: int = 512 * 1024 * 1024
    formats: tuple[str, ...] = ("mp3", "wav")
    allow: tuple[str, ...] = ()  # CIDRs allowed to connect; empty: any
    backend: str = "dir"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""  # with the access key; both empty: boto3's credential chain (environment, files, roles)
    s3_addressing: Addressing = "path"  # path, virtual (the bucket in the host name) or auto
    postgres_url: str = ""
    on_stored_command: tuple[str, ...] = ()
    on_stored_webhook: str = ""
    workers: int = 1


KEYS = tuple(f.name for f in fields(ReceiverSettings))


def _list(value: Any) -> list[str]:
    return [str(v).strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]


def _convert(name: str, value: Any) -> Any:
    flag = "--" + name.replace("_", "-")
    if name == "listen":
        return parse_host_port(str(value), flag)
    if name == "dir":
        return Path(str(value))
    if name in ("max_size", "workers"):
        text = str(value).strip()
        if not is_number(text) or int(text) < 1:
            raise ConfigError(f"{flag}: expected a positive whole number, got {value!r}")
        return int(text)
    if name == "formats":
        formats = tuple(f.lower() for f in _list(value))
        if not formats or not set(formats) <= set(CONTENT_TYPES):
            raise ConfigError(f"{flag}: expected some of {', '.join(CONTENT_TYPES)}, got {value!r}")
        return formats
    if name == "allow":
        try:
            return tuple(str(ipaddress.ip_network(c, strict=False)) for c in _list(value))
        except ValueError as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    if name == "backend":
        if value not in BACKENDS:
            raise ConfigError(f"{flag}: expected one of {', '.join(BACKENDS)}, got {value!r}")
        return value
    if name == "s3_addressing":
        if value not in ADDRESSING:
            raise ConfigError(f"{flag}: expected one of {', '.join(ADDRESSING)}, got {value!r}")
        return value
    if name == "on_stored_command":
        return tuple(value.split() if isinstance(value, str) else (str(v) for v in value))
    return str(value)


def load_receiver_settings(
    flags: Mapping[str, Any],
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    table: str | None = None,
) -> ReceiverSettings:
    """Merge the layers; *table* reads a sub-table of the file (``[receiver]`` in serve's config)."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    if config_file is not None:
        data = read_config_file(config_file)
        section = data.get(table, {}) if table else data
        unknown = sorted(set(section) - set(KEYS) - {"enabled"})
        if unknown:
            raise ConfigError(f"--config: unknown receiver setting {unknown[0]!r} in {config_file}")
        merged.update({k: v for k, v in section.items() if k in KEYS})
    for key in KEYS:
        if (env := environ.get("CALLTAPE_RECEIVER_" + key.upper())) is not None:
            merged[key] = env
    merged.update({k: v for k, v in flags.items() if v is not None})
    settings = ReceiverSettings(**{k: _convert(k, v) for k, v in merged.items()})
    if settings.backend == "s3" and not settings.s3_bucket:
        raise ConfigError("--backend s3 needs --s3-bucket")
    if bool(settings.s3_access_key) != bool(settings.s3_secret_key):
        raise ConfigError("--s3-access-key and --s3-secret-key go together (neither: the AWS credential chain)")
    if settings.backend == "postgresql" and not settings.postgres_url:
        raise ConfigError("--backend postgresql needs --postgres-url")
    return settings
