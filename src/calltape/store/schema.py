"""The tables (their migrations are ``store/migrations.py``).

Documents (accounts, devices, configs, …) are stored Kazoo-style as JSON with the columns that
need indexes or uniqueness pulled out.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

log = logging.getLogger(__name__)
metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("realm", String(255), nullable=False, unique=True),
    Column("doc", JSON, nullable=False),
    Column("created", Float, nullable=False),
    Column("modified", Float, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("sip_username", String(255)),
    Column("sip_ip", String(64)),  # a device authenticated by its address: one device per address, platform-wide
    Column("doc", JSON, nullable=False),
    Column("created", Float, nullable=False),
    Column("modified", Float, nullable=False),
    UniqueConstraint("account_id", "sip_username", name="uq_devices_account_username"),
    Index("ix_devices_sip_ip", "sip_ip", unique=True),
)

system_configs = Table(
    "system_configs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("modified", Float, nullable=False),
)

registrations = Table(
    "registrations",
    metadata,
    Column("aor", String(512), primary_key=True),
    Column("contact", String(1024), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("device_id", String(32), nullable=False),
    Column("call_id", String(255), nullable=False),
    Column("cseq", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("source", String(255), nullable=False),  # transport:host:port the REGISTER came from
    Column("user_agent", String(255), nullable=False, default=""),
    Column("node", String(64), nullable=False, default=""),
    Column("path", Text, nullable=False, default=""),  # the REGISTER's Path (RFC 3327): the edge it came through
    Index("ix_registrations_expires_at", "expires_at"),
    Index("ix_registrations_device", "device_id"),
)


def _account_documents(name: str) -> Table:
    """A table of JSON documents that belong to an account."""
    return Table(
        name,
        metadata,
        Column("id", String(32), primary_key=True),
        Column("account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        Column("doc", JSON, nullable=False),
        Column("created", Float, nullable=False),
        Column("modified", Float, nullable=False),
        Index(f"ix_{name}_account", "account_id"),
    )


callflows = _account_documents("callflows")

#: Until schema version 5, numbers were unique across all accounts (kept for the migrations that made and moved it).
callflow_numbers_v2 = Table(
    "callflow_numbers",
    metadata,
    Column("number", String(128), primary_key=True),
    Column("callflow_id", String(32), ForeignKey("callflows.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(32), nullable=False),
)

#: A callflow's numbers (and ``no_match``): unique within an account, as in Kazoo; tenants may share ``1000``.
callflow_numbers = Table(
    "account_numbers",
    metadata,
    Column("account_id", String(32), primary_key=True),
    Column("number", String(128), primary_key=True),
    Column("callflow_id", String(32), ForeignKey("callflows.id", ondelete="CASCADE"), nullable=False),
    Index("ix_account_numbers_number", "number"),
    Index("ix_account_numbers_callflow", "callflow_id"),
)

#: DIDs: numbers that reach the platform from carriers, each owned by one account (unique across the platform).
phone_numbers = Table(
    "phone_numbers",
    metadata,
    Column("number", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("created", Float, nullable=False),
    Column("modified", Float, nullable=False),
    Index("ix_phone_numbers_account", "account_id", "number"),
)

media = _account_documents("media")
users = _account_documents("users")
vmboxes = _account_documents("vmboxes")
menus = _account_documents("menus")
groups = _account_documents("groups")
temporal_rules = _account_documents("temporal_rules")
temporal_rules_sets = _account_documents("temporal_rules_sets")
resources = _account_documents("resources")  # an account's own carriers

#: The platform's carriers (``/v2/resources``, the ``offnet`` module): no account.
global_resources = Table(
    "global_resources",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("created", Float, nullable=False),
    Column("modified", Float, nullable=False),
)

#: Voicemail messages: the audio is a file in the data dir, the row says where and what it is.
vm_messages = Table(
    "vm_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("vmbox_id", String(32), ForeignKey("vmboxes.id", ondelete="CASCADE"), nullable=False),
    Column("folder", String(16), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("created", Float, nullable=False),
    Index("ix_vm_messages_box", "vmbox_id", "folder"),
)

#: Recordings: Kazoo's metadata document plus where the audio is and how its delivery goes.
#: A row exists from the recording's first frame (state ``recording``), so a crash is visible.
recordings = Table(
    "recordings",
    metadata,
    Column("id", String(40), primary_key=True),  # YYYYMM-<32 hex>
    Column("account_id", String(64), nullable=False),  # no foreign key: a recording outlives a deleted account
    Column("call_id", String(255), nullable=False),
    Column("owner_id", String(32)),
    Column("state", String(16), nullable=False),
    Column("format", String(8), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created", Float, nullable=False),  # Unix time the recording started
    Column("duration_ms", Integer, nullable=False, default=0),
    Column("size", Integer, nullable=False, default=0),
    Column("sha256", String(64), nullable=False, default=""),
    Column("channels", Integer, nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("spool_path", Text, nullable=False),
    Column("node", String(255), nullable=False),
    Column("target", JSON, nullable=False),  # where it goes: {"kind": "http"|"ftp"|"db"|"storage", ...}
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("delivered_at", Float),
    Column("doc", JSON, nullable=False),
    Index("ix_recordings_account_created", "account_id", "created"),
    Index("ix_recordings_call", "call_id"),
    Index("ix_recordings_state", "state"),
)

#: Deliveries still to make: one row per recording, removed in the transaction that records the outcome.
recording_outbox = Table(
    "recording_outbox",
    metadata,
    Column("recording_id", String(40), ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True),
    Column("due_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False, default=0.0),  # a node working on it holds it until then
    Column("lease_owner", String(255), nullable=False, default=""),
    Index("ix_recording_outbox_due", "due_at"),
)

#: Audio kept in the database (``store_recordings: true`` with no url and no storage plan).
recording_blobs = Table(
    "recording_blobs",
    metadata,
    Column("recording_id", String(40), ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

#: An account's storage plan for call recordings (a filesystem directory or an S3-compatible bucket).
storage_plans = Table(
    "storage_plans",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("modified", Float, nullable=False),
)

#: E-mail notifications (voicemail to e-mail, a full box): the durable outbox while ``pending``, then Kazoo's
#: SMTP log (``/notifications/smtplog``) once ``sent`` or ``failed``.
notifications = Table(
    "notifications",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("template_id", String(64), nullable=False),  # Kazoo's: voicemail_to_email, voicemail_full
    Column("call_id", String(255), nullable=False, default=""),
    Column("state", String(16), nullable=False),  # pending | sent | failed
    Column("created", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False, default=0.0),  # a node sending it holds it until then
    Column("lease_owner", String(255), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("sent_at", Float),
    Column("doc", JSON, nullable=False),  # emails, subject, rendered_templates, attachments, receipt
    Index("ix_notifications_due", "state", "due_at"),
    Index("ix_notifications_account_created", "account_id", "created"),
)

#: Recording status webhooks: one row per event per subscribed URL — the durable outbox while ``pending``, then the
#: log of what was sent (``sent``) or given up (``failed``). ``seq`` orders a recording's events for one URL.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),  # the idempotency key the receiver sees
    Column("account_id", String(32), nullable=False),
    Column("recording_id", String(40), nullable=False),
    Column("event", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | sent | failed
    Column("created", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("lease_owner", String(255), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("sent_at", Float),
    Column("payload", JSON, nullable=False),  # the body, fixed when the event happened
    Index("ix_webhook_events_due", "state", "due_at"),
    Index("ix_webhook_events_recording", "recording_id", "url", "seq"),
    Index("ix_webhook_events_account_created", "account_id", "created"),
)

#: What was done to recordings and by whom: deletes (API, retention), legal holds, retries, plays and downloads.
#: Append-only: nothing in calltape updates or deletes a row.
recording_audit = Table(
    "recording_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(32), nullable=False),
    Column("recording_id", String(40), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(128), nullable=False),  # the token's user, account or the operator; "system"
    Column("remote", String(64), nullable=False, default=""),  # the request's address
    Column("at", Float, nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_recording_audit_account", "account_id", "seq"),
    Index("ix_recording_audit_recording", "recording_id"),
)


#: API tokens for one account and what lies below it (``/v2/api_auth``): only a token's SHA-256 is kept.
auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("method", String(32), nullable=False),
    Column("user_id", String(32), nullable=True),  # user_auth: the user signed in
    Column("priv_level", String(16), nullable=False),  # admin: the whole account; user: what the user owns
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
    Index("ix_auth_tokens_expires", "expires"),
)


signing_keys = Table(  # each node's public key for recording manifests (manifest.py)
    "signing_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("node", String(255), nullable=False),
    Column("public_key", String(64), nullable=False),  # base64 of the raw 32 bytes
    Column("created", Float, nullable=False),
)


nodes = Table(  # every node (each worker of a serve) that shares this store, and when it was last heard of
    "nodes",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("started", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("draining", Boolean, nullable=False, default=False),
    Column("calls", Integer, nullable=False, default=0),
    Column("stopped", Float, nullable=True),  # a clean stop; a node killed never says so
)


shared_files = Table(  # files every node needs (voicemail, media), by their path under the data dir (shared_files.py)
    "shared_files",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created", Float, nullable=False),  # when this version was made: a copy's mtime says which it has
    Column("deleted", Boolean, nullable=False, default=False),  # a tombstone: deleted on every node
    Index("ix_shared_files_account", "account_id"),
)


def device_address(doc: dict[str, Any]) -> str | None:
    """The address a device is authenticated by (``sip.method: "ip"``), normalised; None for the others."""
    sip = doc.get("sip")
    if not isinstance(sip, dict) or sip.get("method") != "ip" or not sip.get("ip"):
        return None
    try:
        return ipaddress.ip_address(str(sip["ip"])).compressed
    except ValueError:
        return None
