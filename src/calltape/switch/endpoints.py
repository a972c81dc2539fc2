"""Who a ``device`` or ``user`` node rings: targets built from device documents and live registrations.

A device is reached at every contact it has registered (forked), from the address the registration
came from (what works through NAT), or — with ``sip.invite_format: "route"`` — at its static
``sip.route`` URI (trunks, test peers), answering that target's 401/407 with the device's own
credentials. Disabled devices, devices in do-not-disturb and unregistered devices are skipped.
A device (or its owner) with ``call_forward`` enabled is reached at the forwarded number instead, or
as well (``substitute: false``), or only while it cannot be reached (``failover``): see forwarding.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from calltape.carriers.numbers import in_format, to_e164
from calltape.sip.dialog import route_uri
from calltape.sip.events import Peer
from calltape.sip.syntax import WHITESPACE, SipSyntaxError, split_outside_quotes
from calltape.sip.uri import parse_sip_uri
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, DEVICES, USERS, Documents, NotFoundError
from calltape.store.registrations import Registrations
from calltape.switch.forwarding import MAX_HOPS, CallForward, Forwarding
from calltape.switch.outbound import Target

log = logging.getLogger(__name__)

Doc = dict[str, Any]


@dataclass(frozen=True)
class TargetOptions:
    """Kazoo's per-node choices that shape the targets."""

    caller_number: str
    caller_name: str = ""
    caller_device_id: str | None = None
    can_call_self: bool = False
    suppress_clid: bool = False
    custom_sip_headers: tuple[tuple[str, str], ...] = ()
    forward_hops: int = 0  # how many forwards deep the call already is
    ignore_forward: bool = False  # ring the device itself even if it forwards its calls
    dialled: str = ""  # the number the caller dialled (a device's invite_format e164/npan/1npan sends it on)


class Endpoints:
    """Targets for a device or a user's devices."""

    def __init__(
        self,
        db: Database,
        registrations: Registrations,
        forwarding: Forwarding | None = None,
        clock: Callable[[], float] = time.time,
        accounts: Callable[[str], Awaitable[Doc | None]] | None = None,
    ) -> None:
        self.devices = Documents(db, DEVICES)
        self.users = Documents(db, USERS)
        self.accounts = Documents(db, ACCOUNTS)
        self._account = accounts  # where account documents are read (a cache: ``Directory.account_document``)
        self.registrations = registrations
        self.forwarding = forwarding
        self.clock = clock

    async def for_device(self, account_id: str, device_id: str, options: TargetOptions) -> list[Target]:
        """Where one device rings (empty if it cannot be reached now)."""
        try:
            device = await self.devices.get(device_id, account_id)
        except NotFoundError:
            return []
        return await self._targets(account_id, device, options)

    async def for_user(self, account_id: str, user_id: str, options: TargetOptions) -> list[Target]:
        """Where every device the user owns rings."""
        try:
            await self.users.get(user_id, account_id)
        except NotFoundError:
            return []
        targets: list[Target] = []
        for device in await self.devices.list(account_id):
            if device.get("owner_id") == user_id:
                targets += await self._targets(account_id, device, options)
        return targets

    async def caller_id_of(self, account_id: str, device_id: str) -> tuple[str, str] | None:
        """(number, name) a calling device presents: its ``caller_id.internal``, else its owner's; None if unset."""
        try:
            device = await self.devices.get(device_id, account_id)
        except NotFoundError:
            return None
        return _caller_id(device, await self._owner(account_id, device), "internal")

    async def caller_id_for_carriers(self, account_id: str, device_id: str | None, kind: str) -> tuple[str, str] | None:
        """(number, name) a carrier is shown (Kazoo's ``kz_attributes:caller_id``): the calling device's
        ``caller_id.<kind>``, else its owner's, else the account's; ``emergency`` falls back to ``external``."""
        device: Doc | None = None
        if device_id is not None:
            try:
                device = await self.devices.get(device_id, account_id)
            except NotFoundError:
                device = None
        owner = await self._owner(account_id, device) if device is not None else None
        account = await self.account(account_id)
        for wanted in (kind, "external") if kind == "emergency" else (kind,):
            found = _caller_id(device or {}, owner, wanted) or _caller_id(account or {}, None, wanted)
            if found is not None:
                return found
        return None

    async def requires_srtp(self, account_id: str, device_id: str) -> bool:
        """Whether a device's media must be SRTP (Kazoo's ``media.encryption``: ``methods`` has ``srtp`` and
        ``enforce_security`` is set): its offers in the clear are refused."""
        try:
            device = await self.devices.get(device_id, account_id)
        except NotFoundError:
            return False
        return _srtp_of(device) == (True, True)

    async def device_and_owner(self, account_id: str, device_id: str) -> tuple[Doc | None, Doc | None]:
        """A device's document and its owner's (either None when missing)."""
        try:
            device = await self.devices.get(device_id, account_id)
        except NotFoundError:
            return None, None
        return device, await self._owner(account_id, device)

    async def account(self, account_id: str) -> Doc | None:
        """The account's document."""
        if self._account is not None:
            return await self._account(account_id)
        try:
            return await self.accounts.get(account_id)
        except NotFoundError:
            return None

    async def owner_of(self, account_id: str, device_id: str) -> str | None:
        """The id of the user who owns a device, if any."""
        try:
            device = await self.devices.get(device_id, account_id)
        except NotFoundError:
            return None
        return str(device.get("owner_id") or "") or None

    async def _owner(self, account_id: str, device: Doc) -> Doc | None:
        owner_id = device.get("owner_id")
        if not owner_id:
            return None
        try:
            return await self.users.get(owner_id, account_id)
        except NotFoundError:
            return None

    async def _targets(self, account_id: str, device: Doc, options: TargetOptions) -> list[Target]:
        if device.get("enabled") is False or (device.get("do_not_disturb") or {}).get("enabled"):
            return []
        if device["id"] == options.caller_device_id and not options.can_call_self:
            return []
        ringing = await self._device_targets(device, options)
        owner = await self._owner(account_id, device)
        forward = None if options.ignore_forward else CallForward.of(device, owner)
        if forward is None or self.forwarding is None or not self.forwarding.ready:
            return ringing
        if options.forward_hops >= MAX_HOPS:
            log.warning(
                "device %s: not forwarding to %s, the call was forwarded %d times",
                device["id"],
                forward.number,
                options.forward_hops,
            )
            return ringing
        if forward.failover and ringing:
            return ringing  # forwarded only while the device cannot be reached
        forwarded = self._forward_target(account_id, device, owner, forward, options)
        return [forwarded] if forward.substitute or forward.failover else [*ringing, forwarded]

    def _forward_target(
        self, account_id: str, device: Doc, owner: Doc | None, forward: CallForward, options: TargetOptions
    ) -> Target:
        """The forwarded number, dialled through this account's callflows (calltape calls itself)."""
        assert forward.number is not None  # an enabled forward has a number
        number, name = ("anonymous", "") if options.suppress_clid else (options.caller_number, options.caller_name)
        if not forward.keep_caller_id:
            number, name = _caller_id(device, owner, "external") or (number, name)
        target = self.loopback_target(account_id, device["id"], forward.number, number, name, options.forward_hops + 1)
        assert target is not None  # forwards are only placed once calltape listens
        return replace(
            target,
            headers=options.custom_sip_headers,
            owner_id=device.get("owner_id") or None,
            confirm=forward.require_keypress,
            early_media=forward.hears_early_media,
        )

    def loopback_target(
        self, account_id: str, device_id: str, number: str, caller_number: str, caller_name: str, hops: int = 0
    ) -> Target | None:
        """*number* dialled through the account's callflows as if *device_id* had dialled it, showing the caller
        ID given: calltape calls itself (Kazoo's loopback), signed as a forward *hops* deep. None until calltape
        listens."""
        forwarding = self.forwarding
        if forwarding is None or not forwarding.ready:
            return None
        return Target(
            forwarding.uri(number),
            Peer("udp", forwarding.host, forwarding.port),
            caller_number,
            caller_name,
            local_address=forwarding.host,
            sign=lambda call_id: forwarding.header(call_id, number, account_id, device_id, hops),
            early_media=False,
        )

    async def _device_targets(self, device: Doc, options: TargetOptions) -> list[Target]:
        """Where the device itself rings: its static route, or every contact it registered."""
        sip = device.get("sip") or {}
        number, name = ("anonymous", "") if options.suppress_clid else (options.caller_number, options.caller_name)
        srtp, enforced = _srtp_of(device)
        common = {
            "caller_number": number,
            "caller_name": name,
            "headers": options.custom_sip_headers,
            "device_id": device["id"],
            "owner_id": device.get("owner_id") or None,
            "srtp": srtp,
            "srtp_required": enforced,
        }
        if sip.get("invite_format") == "route" and sip.get("route"):
            peer = await _peer_of(sip["route"])
            if peer is None:
                return []
            credentials = (sip["username"], sip["password"]) if sip.get("password") else None
            return [Target(sip["route"], peer, credentials=credentials, offnet=True, **common)]
        user = _request_user(sip, options.dialled)
        targets = []
        for binding in await self.registrations.for_device(device["id"], self.clock()):
            uri = binding.contact if user is None else _with_user(binding.contact, user)
            route = _hops(binding.path)
            if route:  # registered through an edge proxy (RFC 3327): reached through it, from any node
                try:
                    peer = await _peer_of(str(route_uri(route[0])))
                except SipSyntaxError:
                    peer = None
                if peer is None:
                    continue
            else:
                transport, _, hostport = binding.source.partition(":")
                host, _, port = hostport.rpartition(":")
                peer = Peer(transport, host, int(port))
            own_connection = not route and peer.transport != "udp"  # its connection, wherever calltape holds it
            targets.append(Target(uri, peer, route=route, own_connection=own_connection, **common))
        if not targets and sip.get("method") == "ip" and sip.get("ip"):  # a PBX known by its address
            host = str(sip["ip"])
            uri_host = f"[{host}]" if ":" in host else host
            targets.append(Target(f"sip:{user or sip.get('username')}@{uri_host}", Peer("udp", host, 5060), **common))
        return targets


def _srtp_of(device: Doc) -> tuple[bool, bool]:
    """(SRTP offered, SRTP required) by a device's Kazoo ``media.encryption`` (``methods``, ``enforce_security``)."""
    encryption = (device.get("media") or {}).get("encryption") or {}
    srtp = "srtp" in (encryption.get("methods") or [])
    return srtp, srtp and bool(encryption.get("enforce_security"))


def _request_user(sip: Doc, dialled: str) -> str | None:
    """The Request-URI's user part a device's ``invite_format`` asks for (None: its contact as registered)."""
    invite_format = sip.get("invite_format")
    if invite_format == "username":
        return str(sip.get("username") or "") or None
    if invite_format in ("e164", "npan", "1npan") and dialled:
        return in_format(to_e164(dialled), invite_format)
    return None


def _with_user(uri: str, user: str) -> str:
    """*uri* (``sip:alice@host:port;params``) with *user* as its user part."""
    scheme, _, rest = uri.partition(":")
    return f"{scheme}:{user}@{rest.rpartition('@')[2]}"


def _caller_id(device: Doc, owner: Doc | None, kind: str) -> tuple[str, str] | None:
    """(number, name) of the device's ``caller_id.<kind>`` (internal, external), else its owner's."""
    for doc in (device, owner):
        shown = ((doc or {}).get("caller_id") or {}).get(kind) or {}
        if shown.get("number") or shown.get("name"):
            return str(shown.get("number") or ""), str(shown.get("name") or "")
    return None


def _hops(path: str) -> tuple[str, ...]:
    """A stored Path's values (Route values to send with), first hop first."""
    return tuple(hop.strip(WHITESPACE) for hop in split_outside_quotes(path, ",")) if path else ()


async def _peer_of(uri_text: str) -> Peer | None:
    """Where a SIP URI is reached (a host name is resolved once, here)."""
    try:
        uri = parse_sip_uri(uri_text)
    except SipSyntaxError:
        return None
    transport = "tls" if uri.scheme == "sips" else uri.transport if uri.transport in ("udp", "tcp", "tls") else "udp"
    host = uri.host.strip("[]")
    port = uri.port or (5061 if transport == "tls" else 5060)
    if transport == "tls":
        return Peer(transport, host, port)  # a name stays a name: the certificate is checked against it
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=socket.AF_INET)
        except OSError as exc:
            log.warning("cannot resolve %s: %s", host, exc)
            return None
        host = str(infos[0][4][0])
    return Peer(transport, host, port)
