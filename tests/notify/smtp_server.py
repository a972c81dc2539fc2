"""A real SMTP server for the tests (aiosmtpd, in its own thread): keeps what it receives, refuses whom it is told
to, and can require a login."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    """One e-mail as the server took it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # who logged in, if anyone


@dataclass
class Inbox:
    """The server's handler: what came, and the recipients it refuses."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, login))  # type: ignore[arg-type]
            self.arrived.notify_all()
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until *count* e-mails have come (TimeoutError if they do not)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} e-mails came")
                self.arrived.wait(left)
            return list(self.received)


def start_smtp(port: int, inbox: Inbox, credentials: tuple[str, str] | None = None) -> Controller:
    """An SMTP server on 127.0.0.1:*port* (with *credentials*: AUTH offered, and only those accepted)."""

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and credentials is not None
        ok = ok and (auth_data.login.decode(), auth_data.password.decode()) == credentials
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    extra: dict[str, Any] = {}
    if credentials is not None:
        extra = {"authenticator": authenticator, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    return controller
