"""Lookups the SIP side needs: which account owns a realm, which device a SIP username or a source address is."""

from __future__ import annotations

import copy
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func, select

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, Documents, NotFoundError
from calltape.store.ttl_cache import TtlCache


@dataclass(frozen=True)
class SipCredentials:
    """A device's SIP identity in its account's realm."""

    account_id: str
    device_id: str
    username: str
    password: str
    owner_id: str | None


class Directory:
    """Read-only queries over accounts and devices, answers kept for ``cache_ttl`` seconds.

    The cache (which also remembers "no such user") spares the database on every REGISTER and
    INVITE; a changed password or a new device is seen by every node within ``cache_ttl``.
    """

    def __init__(self, db: Database, cache_ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self._cache = TtlCache(cache_ttl, clock=clock)
        self._accounts = Documents(db, ACCOUNTS)

    def forget(self) -> None:
        """Drop every cached answer (this node changed an account or device)."""
        self._cache.clear()

    async def account_for_realm(self, realm: str) -> str | None:
        """The id of the account whose realm is *realm* (case-insensitive)."""
        realm = realm.lower()
        value = await self._cache.get(("realm", realm), lambda: self._load_account(realm))
        return cast(str | None, value)

    async def device_credentials(self, account_id: str, username: str) -> SipCredentials | None:
        """The device with SIP username *username* in the account, if any."""
        key = ("device", account_id, username.lower())
        value = await self._cache.get(key, lambda: self._load_device(account_id, username))
        return cast(SipCredentials | None, value)

    async def account_document(self, account_id: str) -> dict[str, Any] | None:
        """The account's document with its ``id`` (None if there is no such account): read once per ``cache_ttl``
        rather than on every call, and a copy each time (a caller may change what it is given)."""
        value = await self._cache.get(("account", account_id), lambda: self._load_account_document(account_id))
        return cast(dict[str, Any] | None, copy.deepcopy(value))

    async def device_at(self, address: str) -> tuple[str, str] | None:
        """(account id, device id) of the enabled device authenticated by its address (``sip.method: "ip"``,
        ``sip.ip``), if one is."""
        try:
            normal = ipaddress.ip_address(address).compressed
        except ValueError:
            return None
        value = await self._cache.get(("ip", normal), lambda: self._load_device_at(normal))
        return cast(tuple[str, str] | None, value)

    async def _load_device_at(self, address: str) -> tuple[str, str] | None:
        table = schema.devices
        query = select(table.c.account_id, table.c.id, table.c.doc).where(table.c.sip_ip == address)
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row[2].get("enabled") is False:
            return None
        return str(row[0]), str(row[1])

    async def _load_account_document(self, account_id: str) -> dict[str, Any] | None:
        try:
            return await self._accounts.get(account_id)
        except NotFoundError:
            return None

    async def _load_account(self, realm: str) -> str | None:
        table = schema.accounts
        async with self.db.engine.connect() as conn:
            return (await conn.execute(select(table.c.id).where(table.c.realm == realm))).scalar()

    async def _load_device(self, account_id: str, username: str) -> SipCredentials | None:
        table = schema.devices
        query = select(table.c.id, table.c.doc).where(
            (table.c.account_id == account_id) & (func.lower(table.c.sip_username) == username.lower())
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        device_id, doc = row
        sip = doc.get("sip") or {}
        if doc.get("enabled") is False or not sip.get("password"):
            return None
        return SipCredentials(account_id, device_id, sip["username"], sip["password"], doc.get("owner_id"))
