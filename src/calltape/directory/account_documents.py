"""An account's documents for callflow modules: menus, groups, temporal rules, users and devices, carriers, the
callflow a number reaches, and the account's timezone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from calltape.store.callflows import Callflows
from calltape.store.database import Database
from calltape.store.documents import (
    ACCOUNTS,
    DEVICES,
    GLOBAL_RESOURCES,
    GROUPS,
    MENUS,
    RESOURCES,
    TEMPORAL_RULES,
    TEMPORAL_RULES_SETS,
    USERS,
    Documents,
    NotFoundError,
)

Doc = dict[str, Any]
COLLECTIONS = {
    "menus": MENUS,
    "groups": GROUPS,
    "temporal_rules": TEMPORAL_RULES,
    "temporal_rules_sets": TEMPORAL_RULES_SETS,
    "users": USERS,
    "devices": DEVICES,
}


def node_timezone() -> str:
    """The machine's timezone name (``TZ``, else what /etc/localtime points at), else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"


class StoredDocuments:
    """The store behind :class:`calltape.callflow.call_api.AccountDocuments`."""

    def __init__(self, db: Database, callflows: Callflows, default_timezone: str | None = None) -> None:
        self._collections = {name: Documents(db, kind) for name, kind in COLLECTIONS.items()}
        self._accounts = Documents(db, ACCOUNTS)
        self._resources = Documents(db, RESOURCES)
        self._global_resources = Documents(db, GLOBAL_RESOURCES)
        self._callflows = callflows
        self.default_timezone = default_timezone or node_timezone()

    async def get(self, account_id: str, collection: str, doc_id: str) -> Doc | None:
        """A document of the account by id (None if it has none)."""
        try:
            return await self._collections[collection].get(doc_id, account_id)
        except NotFoundError:
            return None

    async def save(self, account_id: str, collection: str, doc: Doc) -> None:
        """Replace a document of the account (``doc["id"]`` names it)."""
        await self._collections[collection].replace(doc["id"], doc, account_id)

    async def callflow_for(self, account_id: str, number: str) -> str | None:
        """The callflow *number* reaches in the account by its numbers or patterns (its ``no_match`` does not count)."""
        found = await self._callflows.find(number, account_id)
        if found is None:
            return None
        doc = found[1]
        if "no_match" in doc.get("numbers", []) and number not in doc.get("numbers", []):
            return None
        return str(doc["id"])

    async def timezone(self, account_id: str) -> str:
        """The account's ``timezone``, else the node's."""
        try:
            account = await self._accounts.get(account_id)
        except NotFoundError:
            return self.default_timezone
        return str(account.get("timezone") or self.default_timezone)

    async def resources(self, account_id: str | None) -> list[Doc]:
        """Carriers: the account's own, or (None) the platform's."""
        if account_id is None:
            return await self._global_resources.list()
        return await self._resources.list(account_id)
