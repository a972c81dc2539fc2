"""Where a device rings (issue 20): its ``sip.invite_format`` sets the Request-URI's user part at its registered
contact, and a device known by its address (``sip.method: "ip"``) is found by that address and rung there when it
has not registered. Real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.directory import Directory
from calltape.store.documents import ACCOUNTS, DEVICES, ConflictError, Documents
from calltape.store.registrations import Binding, BindingChange, BindingWriter, RegisterUpdate, Registrations
from calltape.switch.endpoints import Endpoints, TargetOptions
from tests.store.old_schema import old_database

NOW = 1000.0


async def _registered_device(database: Database, account: str, username: str, **sip: Any) -> str:
    device = await Documents(database, DEVICES).create(
        {"name": username, "sip": {"username": username, "password": "pw123", **sip}}, account
    )
    template = Binding(f"sip:{username}@k.example.com", "", account, device["id"], "c1", 1, 0.0, "udp:127.0.0.1:5070")
    update = RegisterUpdate(template, [BindingChange(f"sip:{username}@127.0.0.1:5070;ob", NOW + 300)], False, NOW)
    await BindingWriter(Registrations(database)).apply(update)
    return str(device["id"])


async def test_invite_format_puts_the_username_or_the_dialled_number_in_the_request_uri(database: Database) -> None:
    account = (await Documents(database, ACCOUNTS).create({"name": "K", "realm": "k.example.com"}))["id"]
    endpoints = Endpoints(database, Registrations(database), clock=lambda: NOW)
    options = TargetOptions(caller_number="200", dialled="4155552671")
    expected = {
        "contact": "sip:phone1@127.0.0.1:5070;ob",  # as it registered
        "username": "sip:phone2@127.0.0.1:5070;ob",
        "e164": "sip:+14155552671@127.0.0.1:5070;ob",
        "npan": "sip:4155552671@127.0.0.1:5070;ob",
        "1npan": "sip:14155552671@127.0.0.1:5070;ob",
    }
    for index, (invite_format, uri) in enumerate(expected.items(), start=1):
        device = await _registered_device(database, account, f"phone{index}", invite_format=invite_format)
        [target] = await endpoints.for_device(account, device, options)
        assert target.uri == uri, invite_format


async def test_a_device_known_by_its_address_is_found_by_it_and_rung_there(database: Database) -> None:
    account = (await Documents(database, ACCOUNTS).create({"name": "K", "realm": "k.example.com"}))["id"]
    pbx = await Documents(database, DEVICES).create(
        {"name": "pbx", "sip": {"username": "branch", "method": "ip", "ip": "192.0.2.10"}}, account
    )
    directory = Directory(database, cache_ttl=0)
    assert await directory.device_at("192.0.2.10") == (account, pbx["id"])
    assert await directory.device_at("192.0.2.11") is None
    endpoints = Endpoints(database, Registrations(database), clock=lambda: NOW)
    [target] = await endpoints.for_device(account, pbx["id"], TargetOptions(caller_number="200"))
    assert (target.uri, target.peer.host, target.peer.port) == ("sip:branch@192.0.2.10", "192.0.2.10", 5060)
    await Documents(database, DEVICES).replace(
        pbx["id"],
        {"name": "pbx", "enabled": False, "sip": {"username": "branch", "method": "ip", "ip": "192.0.2.10"}},
        account,
    )
    assert await directory.device_at("192.0.2.10") is None  # a disabled device is nobody


async def test_an_address_belongs_to_one_device_on_the_whole_platform(database: Database) -> None:
    accounts, devices = Documents(database, ACCOUNTS), Documents(database, DEVICES)
    mine = (await accounts.create({"name": "A", "realm": "a.example.com"}))["id"]
    theirs = (await accounts.create({"name": "B", "realm": "b.example.com"}))["id"]
    await devices.create({"name": "pbx", "sip": {"username": "pbx", "method": "ip", "ip": "2001:db8::10"}}, mine)
    claim = {
        "name": "x",
        "sip": {"username": "x1", "method": "ip", "ip": "2001:DB8:0::10"},
    }  # the same, written otherwise
    with pytest.raises(ConflictError) as err:
        await devices.create(claim, theirs)
    assert err.value.field == "sip.ip"
    with pytest.raises(ConflictError) as err:  # and the username rule still names its own field
        await devices.create({"name": "y", "sip": {"username": "pbx", "password": "pw123"}}, mine)
    assert err.value.field == "sip.username"


async def test_devices_known_by_address_before_schema_8_get_their_column(tmp_path: Path) -> None:
    device = {
        "id": "d" * 32,
        "account_id": "a" * 32,
        "sip_username": "pbx",
        "doc": {"name": "pbx", "sip": {"username": "pbx", "method": "ip", "ip": "192.0.2.7"}},
        "created": 1.0,
        "modified": 1.0,
    }
    account = {"id": "a" * 32, "realm": "a.example.com", "doc": {"name": "A"}, "created": 1.0, "modified": 1.0}
    path = tmp_path / "old.db"
    url = old_database(path, 7, [(schema.accounts, account), (schema.devices, device)])
    with sqlite3.connect(path) as conn:  # as schema 7 was: no address column, no index on it
        conn.execute("DROP INDEX ix_devices_sip_ip")
        conn.execute("ALTER TABLE devices DROP COLUMN sip_ip")
    database = Database(url)
    await database.open()
    try:
        assert await Directory(database, cache_ttl=0).device_at("192.0.2.7") == ("a" * 32, "d" * 32)
    finally:
        await database.close()
