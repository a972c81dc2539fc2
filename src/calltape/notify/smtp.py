"""Sending one e-mail through the SMTP relay that system_config ``smtp_client`` names (Kazoo's keys and defaults).

``tls``: ``if_available`` (the default) upgrades with STARTTLS when the server offers it, ``always`` requires
it, ``never`` stays in the clear; ``use_ssl`` connects with TLS from the start (port 465). ``auth``: ``never``
(Kazoo's default) sends no credentials, ``always`` requires the server to take them, ``if_available`` logs in
when the server offers AUTH. A password goes only over TLS, unless ``tls`` is ``never``: a relay (or someone in
between) that offers no STARTTLS gets none. Certificates are verified (``verify_certificates``; ``ca_file`` for a
private CA).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field

SMTP_CONFIG = "smtp_client"  # the system_config document


class SmtpClientConfig(BaseModel):
    """system_config ``smtp_client``: Kazoo's keys with Kazoo's defaults, and calltape's ``default_from``,
    ``verify_certificates`` and ``ca_file``."""

    model_config = ConfigDict(extra="allow", strict=True)

    relay: str = Field("localhost", min_length=1)
    port: int = Field(25, ge=1, le=65535)
    username: str = ""
    password: str = ""
    auth: Literal["never", "always", "if_available"] = "never"
    tls: Literal["never", "always", "if_available"] = "if_available"
    use_ssl: bool = False
    send_timeout_ms: int = Field(10000, ge=1)
    retries: int = Field(1, ge=0)  # Kazoo's; calltape retries through its outbox (see calltape.notify.mailer)
    no_mx_lookups: bool = True  # Kazoo's; calltape always hands mail to the relay
    default_from: str = Field(default_factory=lambda: f"no-reply@{socket.gethostname()}", min_length=3)
    verify_certificates: bool = True
    ca_file: str | None = None


@dataclass(frozen=True)
class Sent:
    """What the relay said: its final reply, and the recipients it refused (some may be, not all)."""

    receipt: str
    refused: dict[str, str]


class SmtpError(Exception):
    """The e-mail was not taken; *permanent* when sending it again cannot help (a 5xx for every recipient)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


async def send(config: SmtpClientConfig, message: EmailMessage) -> Sent:
    """Hand *message* to the relay (envelope recipients: its To and Cc)."""
    start_tls = {"never": False, "always": True, "if_available": None}[config.tls]
    client = aiosmtplib.SMTP(
        hostname=config.relay,
        port=config.port,
        use_tls=config.use_ssl,
        start_tls=None if config.use_ssl else start_tls,
        validate_certs=config.verify_certificates,
        cert_bundle=config.ca_file,
        timeout=config.send_timeout_ms / 1000,
    )
    try:
        async with client:
            await _log_in(client, config)
            refused, receipt = await client.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        permanent = all(r.code >= 500 for r in exc.recipients)
        raise SmtpError(f"every recipient refused ({reasons})", permanent) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SmtpError(f"{config.relay}:{config.port} answered {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SmtpError(f"{config.relay}:{config.port}: {exc}") from exc
    return Sent(receipt, {who: f"{reply.code} {reply.message}" for who, reply in refused.items()})


async def _log_in(client: aiosmtplib.SMTP, config: SmtpClientConfig) -> None:
    if config.auth == "never" or not config.username:
        return
    where = f"{config.relay}:{config.port}"
    encrypted = client.get_transport_info("ssl_object") is not None
    if not encrypted and config.tls != "never":
        if config.auth == "always":
            raise SmtpError(f"{where} offered no TLS: the password is not sent in the clear (unless tls is never)")
        return
    if client.is_ehlo_or_helo_needed:  # without STARTTLS nothing has asked what the server offers yet
        await client.ehlo()
    if not client.supports_extension("auth"):
        if config.auth == "always":
            raise SmtpError(f"{where} offers no AUTH and smtp_client auth is always")
        return
    await client.login(config.username, config.password)
