"""Digest login of a device in its account's realm: one mechanism for REGISTER (401) and INVITE (407).

Unknown realms, unknown users and wrong passwords all cost the same hashing and end the same way, so a
response never tells which extensions exist; every failed attempt counts against its source address.
"""

from __future__ import annotations

from collections.abc import Callable

from calltape.frontdoor.auth_throttle import FailureThrottle
from calltape.sip.digest import DigestChallenger, Verdict, parse_auth_header
from calltape.sip.syntax import SipSyntaxError
from calltape.store.directory import Directory, SipCredentials


class DeviceAuthenticator:
    """Checks ``Authorization`` / ``Proxy-Authorization`` against the devices of the realm's account."""

    def __init__(self, directory: Directory, challenger: DigestChallenger, throttle: FailureThrottle) -> None:
        self.directory = directory
        self.challenger = challenger
        self.throttle = throttle
        self.vouch: Callable[[str], None] = lambda source: None  # a good login: its source is no stranger

    def blocked(self, source: str, now: float) -> bool:
        """True while *source* is serving a block for too many failures."""
        return self.throttle.blocked(source, now)

    def challenges(self, realm: str, now: float, *, stale: bool = False) -> list[str]:
        """The challenge header values to send."""
        return self.challenger.challenges(realm, now, stale=stale)

    async def login(
        self, header: str | None, method: str, realm: str, source: str, now: float, *, user: str | None = None
    ) -> tuple[SipCredentials | None, Verdict | None]:
        """(device, OK) for good credentials; (None, STALE / FAILED); (None, None) when none were given.

        *user*, when given, is the only username the credentials may carry (a REGISTER's AOR user).
        """
        if header is None:
            return None, None
        try:
            credentials = parse_auth_header(header)
        except SipSyntaxError:
            self.throttle.failure(source, now)
            return None, Verdict.FAILED
        device = None
        account_id = await self.directory.account_for_realm(realm)
        if account_id is not None and (user is None or credentials.username.lower() == user.lower()):
            device = await self.directory.device_credentials(account_id, credentials.username)
        password = device.password if device is not None else None
        verdict = self.challenger.verify(credentials, method, realm, password, now)
        if verdict is Verdict.OK and device is not None:
            self.throttle.success(source)
            self.vouch(source)
            return device, verdict
        if verdict is not Verdict.STALE:
            self.throttle.failure(source, now)
            verdict = Verdict.FAILED
        return None, verdict
