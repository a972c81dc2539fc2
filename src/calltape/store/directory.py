"""Lookups the SIP side needs: which account owns a realm, which device a SIP username is."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from calltape.store import schema
from calltape.store.database import Database


@dataclass(frozen=True)
class SipCredentials:
    """A device's SIP identity in its account's realm."""

    account_id: str
    device_id: str
    username: str
    password: str
    owner_id: str | None


class Directory:
    """Read-only queries over accounts and devices."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def account_for_realm(self, realm: str) -> str | None:
        """The id of the account whose realm is *realm* (case-insensitive)."""
        table = schema.accounts
        async with self.db.engine.connect() as conn:
            return (await conn.execute(select(table.c.id).where(table.c.realm == realm.lower()))).scalar()

    async def device_credentials(self, account_id: str, username: str) -> SipCredentials | None:
        """The device with SIP username *username* in the account, if any."""
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
