"""The ordered list of schema migrations. A migration is a list of SQL statements or a callable; the store records
the highest version applied and runs only what is newer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, inspect, text

from calltape.store.schema import (
    accounts,
    auth_tokens,
    callflow_numbers,
    callflow_numbers_v2,
    callflows,
    device_address,
    devices,
    global_resources,
    groups,
    media,
    menus,
    metadata,
    nodes,
    notifications,
    phone_numbers,
    recording_audit,
    recording_blobs,
    recording_outbox,
    recordings,
    registrations,
    resources,
    secrets,
    shared_files,
    signing_keys,
    storage_plans,
    system_configs,
    temporal_rules,
    temporal_rules_sets,
    users,
    vm_messages,
    vmboxes,
    webhook_events,
)

log = logging.getLogger(__name__)

Migration = Sequence[str] | Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    tables = [secrets, accounts, devices, system_configs, registrations]
    metadata.create_all(conn, tables=tables)


def _callflows_and_media(conn: Connection) -> None:
    metadata.create_all(conn, tables=[callflows, callflow_numbers_v2, media])


def _users_and_voicemail(conn: Connection) -> None:
    metadata.create_all(conn, tables=[users, vmboxes, vm_messages])


def _recordings(conn: Connection) -> None:
    metadata.create_all(conn, tables=[recordings, recording_outbox, recording_blobs, storage_plans])


def _numbers_per_account(conn: Connection) -> None:
    """Callflow numbers become unique per account (their rows move as they are), and DIDs get their table."""
    metadata.create_all(conn, tables=[callflow_numbers, phone_numbers])
    old = callflow_numbers_v2
    rows = conn.execute(old.select()).mappings().all()
    if rows:
        conn.execute(callflow_numbers.insert(), [dict(row) for row in rows])
    old.drop(conn)


def _auth_tokens(conn: Connection) -> None:
    metadata.create_all(conn, tables=[auth_tokens])


OLD_RECORDING_SHAPE = {"inbound", "outbound", "any"}


def kazoo_recording_shape(call_recording: Any) -> Any:
    """An account's ``call_recording`` in Kazoo's shape: calltape's earlier one (directions at the top level)
    becomes ``{"account": …}``; anything else is returned as it is."""
    if (
        isinstance(call_recording, dict)
        and OLD_RECORDING_SHAPE & call_recording.keys()
        and not {"account", "endpoint"} & call_recording.keys()
    ):
        return {"account": call_recording}
    return call_recording


def _account_recording_in_kazoos_shape(conn: Connection) -> None:
    """Accounts saved with calltape's earlier ``call_recording`` shape are rewritten in Kazoo's (said once each)."""
    for account_id, doc in conn.execute(accounts.select().with_only_columns(accounts.c.id, accounts.c.doc)).all():
        moved = kazoo_recording_shape(doc.get("call_recording"))
        if moved is not doc.get("call_recording"):
            conn.execute(
                accounts.update().where(accounts.c.id == account_id).values(doc={**doc, "call_recording": moved})
            )
            log.warning("account %s: call_recording moved under call_recording.account (Kazoo's shape)", account_id)


def _routing_documents(conn: Connection) -> None:
    """IVR menus, ring groups, business hours (temporal rules and their sets), carriers; devices known by their
    address get an indexed, unique column."""
    metadata.create_all(conn, tables=[menus, groups, temporal_rules, temporal_rules_sets, resources, global_resources])
    if "sip_ip" not in {column["name"] for column in inspect(conn).get_columns("devices")}:
        conn.execute(text("ALTER TABLE devices ADD COLUMN sip_ip VARCHAR(64)"))
    for index in devices.indexes:
        index.create(conn, checkfirst=True)
    for device_id, doc in conn.execute(devices.select().with_only_columns(devices.c.id, devices.c.doc)).all():
        address = device_address(doc)
        if address is not None:
            conn.execute(devices.update().where(devices.c.id == device_id).values(sip_ip=address))


def _notifications(conn: Connection) -> None:
    metadata.create_all(conn, tables=[notifications])


def _webhook_events(conn: Connection) -> None:
    metadata.create_all(conn, tables=[webhook_events])


def _recording_audit(conn: Connection) -> None:
    metadata.create_all(conn, tables=[recording_audit])


def _signing_keys(conn: Connection) -> None:
    metadata.create_all(conn, tables=[signing_keys])


def _registration_paths(conn: Connection) -> None:
    """A binding keeps the Path its REGISTER came with (an edge proxy in front of the nodes)."""
    if "path" not in {column["name"] for column in inspect(conn).get_columns("registrations")}:
        conn.execute(text("ALTER TABLE registrations ADD COLUMN path TEXT NOT NULL DEFAULT ''"))


def _nodes(conn: Connection) -> None:
    metadata.create_all(conn, tables=[nodes])


def _shared_files(conn: Connection) -> None:
    metadata.create_all(conn, tables=[shared_files])


#: version → migration; append only, never edit a released entry.
MIGRATIONS: dict[int, Migration] = {
    1: _initial,
    2: _callflows_and_media,
    3: _users_and_voicemail,
    4: _recordings,
    5: _numbers_per_account,
    6: _auth_tokens,
    7: _account_recording_in_kazoos_shape,
    8: _routing_documents,
    9: _notifications,
    10: _webhook_events,
    11: _recording_audit,
    12: _signing_keys,
    13: _registration_paths,
    14: _nodes,
    15: _shared_files,
}
LATEST_VERSION = max(MIGRATIONS)
