"""Request document models. Unknown keys are kept, as Kazoo keeps them."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from calltape.at_rest.keyring import KEYRING
from calltape.callflow.metaflows import Metaflows
from calltape.callflow.module import SipHeaders
from calltape.patterns import is_valid
from calltape.recording.automatic import AccountRecording, EndpointRecording
from calltape.switch.forwarding import CallForward
from calltape.webhooks.events import EVENTS

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_REALM = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_SIP_USER = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{2,64}$")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _RecordsCalls(_Doc):
    """A document with ``call_recording``: stored as given (checked, no defaults filled in), because an endpoint's
    settings merge field by field over its owner's and its account's — a default written here would override."""

    @field_serializer("call_recording", check_fields=False)
    def _as_given(self, value: EndpointRecording | None) -> dict[str, Any] | None:
        return None if value is None else value.model_dump(mode="json", exclude_unset=True, exclude_none=True)


class RecordingEncryption(_Doc):
    """``recordings.encryption`` on an account: its recordings are sealed at rest with the keyring's ``key_id``."""

    key_id: str

    @field_validator("key_id")
    @classmethod
    def _in_the_keyring(cls, value: str) -> str:
        if value not in KEYRING:
            raise ValueError("is not in this node's keyring (--recording-keys)")
        return value


class RecordingsPolicy(_Doc):
    """``recordings`` on a user (for the recordings it owns): how long calltape keeps what it holds."""

    retention_days: int | None = Field(None, ge=1, le=36500)


class AccountRecordingsPolicy(RecordingsPolicy):
    """``recordings`` on an account: how long calltape keeps what it holds, and whether it is encrypted at rest."""

    encryption: RecordingEncryption | None = None


class RecordingWebhook(_Doc):
    """One of an account's ``recording_webhooks``: where its recordings' status events go, signed with ``secret``."""

    url: str
    secret: Annotated[str, StringConstraints(min_length=16, max_length=256)]
    events: list[str] | None = None  # none: every event

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown events {', '.join(unknown)}; known: {', '.join(EVENTS)}")
        return value


class Account(_RecordsCalls):
    """An account: a tenant with its own SIP realm."""

    name: NonEmpty
    realm: str
    call_recording: AccountRecording | None = None
    recording_webhooks: list[RecordingWebhook] | None = None
    metaflows: Metaflows | None = None
    recordings: AccountRecordingsPolicy | None = None

    @field_validator("realm")
    @classmethod
    def _realm_is_a_domain(cls, value: str) -> str:
        if not _REALM.match(value):
            raise ValueError("must be a domain name such as acme.example.com")
        return value.lower()


class DeviceSip(_Doc):
    """A device's SIP credentials (a username of at least 2 characters and a password of at least 5, as Kazoo asks;
    longer than Kazoo's 32 is accepted, as calltape took before) and how to
    reach it: at its registered contact (``invite_format`` ``contact``; ``username``, ``e164``, ``npan`` and
    ``1npan`` put that in the Request-URI's user part) or at its static ``route``. ``method: "ip"`` authenticates it
    by its address (``ip``) instead of a password."""

    username: str
    password: Annotated[str, StringConstraints(min_length=5, max_length=128)] | None = None
    method: Literal["password", "ip"] = "password"
    ip: str | None = None
    invite_format: Literal["contact", "username", "e164", "npan", "1npan", "route"] = "contact"
    route: str | None = None

    @field_validator("username")
    @classmethod
    def _username_chars(cls, value: str) -> str:
        if not _SIP_USER.match(value):
            raise ValueError("must be 2-64 characters allowed in a SIP user part")
        return value

    @field_validator("ip")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError as exc:
                raise ValueError("must be an IP address") from exc
        return value

    @model_validator(mode="after")
    def _authenticated_somehow(self) -> DeviceSip:
        if self.method == "password" and not self.password:
            raise ValueError("password: required unless method is ip")
        if self.method == "ip" and not self.ip:
            raise ValueError("ip: required when method is ip")
        return self

    @field_validator("route")
    @classmethod
    def _route_is_sip_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sip:", "sips:")):
            raise ValueError("must be a sip: or sips: URI")
        return value


class Device(_RecordsCalls):
    """A phone or softphone that registers with SIP credentials."""

    name: NonEmpty
    owner_id: str | None = None
    enabled: bool = True
    sip: DeviceSip
    call_recording: EndpointRecording | None = None
    call_forward: CallForward | None = None

    @field_validator("sip")
    @classmethod
    def _route_needs_uri(cls, value: DeviceSip) -> DeviceSip:
        if value.invite_format == "route" and not value.route:
            raise ValueError("invite_format 'route' needs sip.route")
        return value


class User(_RecordsCalls):
    """A person: owns devices (``owner_id``) and voicemail boxes; a ``user`` callflow node rings their devices."""

    first_name: NonEmpty
    last_name: NonEmpty
    username: str | None = None
    password: Annotated[str, StringConstraints(min_length=6, max_length=128)] | None = None  # write-only
    priv_level: Literal["admin", "user"] | None = None  # a sign-in's reach; Kazoo's default is "user"
    email: Email | None = None
    vm_to_email_enabled: bool = True  # Kazoo's (crossbar stores it): new voicemail is e-mailed to ``email``
    recordings: RecordingsPolicy | None = None
    timezone: str | None = None
    caller_id: dict[str, dict[str, str]] | None = None  # Kazoo's {"internal": {"name": …, "number": …}, …}
    call_recording: EndpointRecording | None = None
    call_forward: CallForward | None = None


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+$", max_length=254)]


class VMBoxMedia(_Doc):
    """A box's prompts: ``unavailable`` is the greeting's media id."""

    unavailable: str | None = None


class VMBox(_Doc):
    """A voicemail box (Kazoo's vmbox document)."""

    name: NonEmpty
    mailbox: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")]
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,10}$")] | None = None
    owner_id: str | None = None
    media: VMBoxMedia = Field(default_factory=VMBoxMedia)
    max_message_length: int = Field(500, ge=1, le=36000)
    min_message_length: int = Field(3, ge=0, le=600)
    max_message_count: int = Field(100, ge=0, le=100_000)  # 0: no limit (Kazoo's)
    timezone: str = "UTC"
    delete_after_notify: bool = False
    skip_greeting: bool = False
    skip_instructions: bool = False
    notify_webhook: str | None = None
    notify_email_addresses: list[Email] = Field(default_factory=list)
    include_message_on_notify: bool = True
    media_extension: Literal["mp3", "wav"] = "mp3"  # the messages' format (Kazoo's default; no mp4 here)

    @field_validator("notify_webhook")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


class CallRecordingConfig(_Doc):
    """system_config/media ``call_recording``."""

    extension: Literal["mp3", "wav"] = "mp3"
    workers: int = Field(1, ge=1, le=64)
    storage_retry_times: int | None = Field(None, ge=0, le=100)  # Kazoo's key; the top-level one is calltape's


class MediaConfig(_Doc):
    """system_config/media, with Kazoo's defaults."""

    max_recording_time_limit: int = Field(10800, ge=5)
    store_recordings: bool = False
    record_min_sec: int = Field(0, ge=0)
    storage_retry_times: int = Field(5, ge=0, le=100)
    call_recording: CallRecordingConfig = Field(default_factory=CallRecordingConfig)


class Media(_Doc):
    """A prompt: its document; the audio comes with ``PUT …/media/{id}/raw``."""

    name: NonEmpty
    description: str | None = None


def _regex(value: str) -> str:
    problem = is_valid(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Regex = Annotated[str, AfterValidator(_regex)]


_MEDIA_REF = Annotated[str, StringConstraints(min_length=3, max_length=2048)]


class MenuMedia(_Doc):
    """A menu's prompts: media ids, URLs or ``tts://text``; ``false`` plays nothing (Kazoo's menus.json)."""

    greeting: _MEDIA_REF | None = None
    invalid_media: _MEDIA_REF | bool | None = None
    exit_media: _MEDIA_REF | bool | None = None
    transfer_media: _MEDIA_REF | bool | None = None


class Menu(_Doc):
    """An IVR menu (Kazoo's menus.json; timeouts in milliseconds as there)."""

    name: NonEmpty
    retries: int = Field(3, ge=1, le=10)
    timeout: int | None = Field(None, ge=1, le=60000)
    interdigit_timeout: int | None = Field(None, ge=1, le=10000)
    max_extension_length: int = Field(4, ge=1, le=6)
    hunt: bool = True
    hunt_allow: Annotated[str, StringConstraints(max_length=256), AfterValidator(_regex)] | None = None
    hunt_deny: Annotated[str, StringConstraints(max_length=256), AfterValidator(_regex)] | None = None
    suppress_media: bool = False
    media: MenuMedia = Field(default_factory=MenuMedia)


class GroupEndpoint(_Doc):
    """A member of a group (the key of ``endpoints`` is its id)."""

    type: Literal["device", "user", "group"] = "device"
    weight: int | None = Field(None, ge=1, le=100)
    delay: int | None = Field(None, ge=0, le=300)
    timeout: int | None = Field(None, ge=1, le=3600)


class Group(_Doc):
    """A group of users and devices that ring groups ring (Kazoo's groups.json)."""

    name: NonEmpty
    endpoints: dict[str, GroupEndpoint]


_WEEKDAY = Literal["monday", "tuesday", "wednesday", "wensday", "thursday", "friday", "saturday", "sunday"]


class TemporalRule(_Doc):
    """A business-hours rule (Kazoo's temporal_rules.json: days are dates, time windows seconds of the day)."""

    name: NonEmpty
    cycle: Literal["date", "daily", "weekly", "monthly", "yearly"]
    interval: int = Field(1, ge=1)
    days: list[Annotated[int, Field(ge=1, le=31)]] | None = None
    wdays: list[_WEEKDAY] | None = None
    ordinal: Literal["every", "first", "second", "third", "fourth", "fifth", "last"] | None = None
    month: int | None = Field(None, ge=1, le=12)
    start_date: int | None = Field(None, ge=0)  # Gregorian seconds, as Kazoo stores dates
    time_window_start: int | None = Field(None, ge=0, le=86400)
    time_window_stop: int | None = Field(None, ge=0, le=86400)
    enabled: bool | None = None


class TemporalRuleSet(_Doc):
    """Rules that match together (any of them) as one (Kazoo's temporal_rules_sets.json)."""

    name: NonEmpty
    temporal_rules: list[NonEmpty] = Field(default_factory=list)


class Gateway(_Doc):
    """One way into a carrier (Kazoo's resources.json gateway): ``server`` is a host or ``host:port``."""

    server: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\s;@]+$")]
    port: int | None = Field(None, ge=1, le=65535)
    transport: Literal["udp", "tcp", "tls"] = "udp"  # tls: the gateway's certificate is checked (--tls-ca)
    realm: str | None = None
    username: str | None = None
    password: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    invite_format: Literal["route", "username", "e164", "npan", "1npan"] = "route"
    route: str | None = None
    codecs: list[str] = Field(default_factory=list)
    enabled: bool = True
    custom_sip_headers: SipHeaders = Field(default_factory=dict)
    caller_id_type: Literal["internal", "external", "emergency"] | None = None


class CallerIdOptions(_Doc):
    """Which caller ID a carrier is shown."""

    type: Literal["internal", "external", "emergency"] = "external"


class Resource(_Doc):
    """A carrier (Kazoo's resources.json): tried for numbers its ``rules`` match, lightest ``weight_cost`` first."""

    name: NonEmpty
    gateways: list[Gateway] = Field(min_length=1)
    rules: list[Regex] = Field(default_factory=list)
    weight_cost: int = Field(50, ge=1, le=100)
    enabled: bool = True
    emergency: bool = False
    flags: list[str] = Field(default_factory=list)
    caller_id_options: CallerIdOptions | None = None
