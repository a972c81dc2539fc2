"""The registrar of a running server, driven over real UDP and TCP with digest authentication."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from calltape.sip.digest import answer_challenge
from calltape.sip.message import Response
from calltape.sip.parser import parse_message
from calltape.store.database import Database
from calltape.store.registrations import Registrations
from tests.server import TOKEN, ServerProcess
from tests.sipclient import UdpSipClient


@dataclass
class Device:
    realm: str
    username: str
    password: str
    device_id: str


@pytest.fixture
def device(server: ServerProcess) -> Iterator[Device]:
    realm = f"r{uuid.uuid4().hex[:8]}.example.com"
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.post("/v2/accounts", json={"data": {"name": "A", "realm": realm}}).json()["data"]["id"]
        doc = {"name": "desk", "sip": {"username": "alice", "password": "pw-alice-1"}}
        device_id = api.post(f"/v2/accounts/{account}/devices", json={"data": doc}).json()["data"]["id"]
    yield Device(realm, "alice", "pw-alice-1", device_id)


class Registering:
    """A UA that REGISTERs with one Call-ID and increasing CSeq."""

    def __init__(self, port: int, device: Device, bind_host: str = "127.0.0.1") -> None:
        self.client = UdpSipClient(bind_host)
        self.port = port
        self.device = device
        self.call_id = uuid.uuid4().hex
        self.cseq = 0

    def request(
        self, contact: str | None, expires: str | None = None, authorization: str | None = None, user: str | None = None
    ) -> bytes:
        self.cseq += 1
        user = user or self.device.username
        lines = [
            f"REGISTER sip:{self.device.realm} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.client.host}:{self.client.port};rport;branch=z9hG4bK{uuid.uuid4().hex}",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{self.device.realm}>;tag={self.call_id[:8]}",
            f"To: <sip:{user}@{self.device.realm}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
        ]
        if contact is not None:
            lines.append(f"Contact: {contact}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if authorization:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode()

    def send(
        self, contact: str | None, expires: str | None = None, *, password: str | None = None, user: str | None = None
    ) -> Response:
        self.client.send(self.request(contact, expires, user=user), self.port)
        challenge = self.client.recv_final()
        assert challenge is not None and challenge.status == 401
        www = challenge.headers.get_lines("WWW-Authenticate")[0]
        auth = answer_challenge(
            www, "REGISTER", f"sip:{self.device.realm}", user or self.device.username, password or self.device.password
        )
        self.client.send(self.request(contact, expires, auth, user=user), self.port)
        response = self.client.recv_final()
        assert response is not None
        return response


def _contacts(response: Response) -> dict[str, int]:
    return {str(c.uri): int(c.param("expires") or -1) for c in response.contacts}


def test_challenge_offers_sha256_and_md5(server: ServerProcess, device: Device) -> None:
    ua = Registering(server.sip_port, device)
    ua.client.send(ua.request("<sip:alice@127.0.0.1:5999>"), server.sip_port)
    response = ua.client.recv_final()
    assert response is not None and response.status == 401
    values = response.headers.get_lines("WWW-Authenticate")
    assert [v.split("algorithm=")[1].split(",")[0] for v in values] == ["SHA-256", "MD5"]
    assert all(f'realm="{device.realm}"' in v and 'qop="auth"' in v for v in values)


def test_register_refresh_query_and_remove(server: ServerProcess, device: Device) -> None:
    ua = Registering(server.sip_port, device)
    r = ua.send("<sip:alice@127.0.0.1:5999>", "600")
    assert r.status == 200
    assert _contacts(r) == {"sip:alice@127.0.0.1:5999": 600}
    r = ua.send("<sip:alice@127.0.0.1:6001>;expires=120")
    assert r.status == 200
    got = _contacts(r)
    assert got["sip:alice@127.0.0.1:6001"] in (119, 120) and got["sip:alice@127.0.0.1:5999"] in (599, 600)
    assert set(_contacts(ua.send(None))) == {"sip:alice@127.0.0.1:5999", "sip:alice@127.0.0.1:6001"}
    r = ua.send("<sip:alice@127.0.0.1:6001>;expires=0")
    assert set(_contacts(r)) == {"sip:alice@127.0.0.1:5999"}
    assert ua.send("*", "3600").status == 400
    r = ua.send("*", "0")
    assert r.status == 200 and _contacts(r) == {}


def test_too_brief_gets_423_with_min_expires(server: ServerProcess, device: Device) -> None:
    ua = Registering(server.sip_port, device)
    r = ua.send("<sip:alice@127.0.0.1:5999>", "30")
    assert r.status == 423 and r.headers.get("Min-Expires") == "60"


def test_bindings_live_in_the_store(server: ServerProcess, device: Device) -> None:
    ua = Registering(server.sip_port, device)
    assert ua.send("<sip:alice@127.0.0.1:7000>", "60").status == 200

    async def read() -> tuple[list[str], list[str]]:
        db = Database(f"sqlite:///{server.data_dir / 'calltape.db'}")
        regs = Registrations(db)
        now = time.time()
        live = [b.contact for b in await regs.for_device(device.device_id, now)]
        later = [b.contact for b in await regs.for_device(device.device_id, now + 61)]
        await db.close()
        return live, later

    live, later = asyncio.run(read())
    assert live == ["sip:alice@127.0.0.1:7000"]
    assert later == []  # expired after its 60 s


def _shape(response: Response) -> tuple[int, list[str], list[str]]:
    """Status, header names (bar From/To) and challenge text up to the nonce."""
    names = [name for name, _ in response.headers if name not in ("From", "To")]
    return response.status, names, [v.split("nonce=")[0] for v in response.headers.get_lines("WWW-Authenticate")]


def test_unknown_user_and_wrong_password_look_the_same(server: ServerProcess, device: Device) -> None:
    wrong = Registering(server.sip_port, device, "127.0.0.3").send("<sip:alice@127.0.0.1:5999>", password="nope-nope")
    unknown = Registering(server.sip_port, device, "127.0.0.3").send("<sip:zed@127.0.0.1:5999>", user="zed")
    assert wrong.status == unknown.status == 401
    assert _shape(wrong) == _shape(unknown)


def test_repeated_failures_are_throttled(server: ServerProcess, device: Device) -> None:
    ua = Registering(server.sip_port, device, "127.0.0.2")
    statuses = [ua.send("<sip:alice@127.0.0.1:5999>", password="guess-guess").status for _ in range(10)]
    assert statuses == [401] * 10
    ua.client.send(ua.request("<sip:alice@127.0.0.1:5999>"), server.sip_port)
    blocked = ua.client.recv_final()
    assert blocked is not None and blocked.status == 403 and blocked.headers.get("Retry-After")
    ok = Registering(server.sip_port, device, "127.0.0.4").send("<sip:alice@127.0.0.1:5999>")
    assert ok.status == 200  # other sources are unaffected


def test_register_over_tcp(server: ServerProcess, device: Device) -> None:
    ua = Registering(server.sip_port, device)
    with socket.create_connection(("127.0.0.1", server.sip_port), timeout=5) as sock:

        def exchange(data: bytes) -> Response:
            sock.sendall(data.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65535)
            message = parse_message(buf, framed=True)
            assert isinstance(message, Response)
            return message

        challenge = exchange(ua.request("<sip:alice@127.0.0.1:5999;transport=tcp>", "300"))
        assert challenge.status == 401
        auth = answer_challenge(
            challenge.headers.get_lines("WWW-Authenticate")[0],
            "REGISTER",
            f"sip:{device.realm}",
            device.username,
            device.password,
        )
        ok = exchange(ua.request("<sip:alice@127.0.0.1:5999;transport=tcp>", "300", auth))
        assert ok.status == 200 and _contacts(ok) == {"sip:alice@127.0.0.1:5999;transport=tcp": 300}


def test_device_created_after_a_failed_login_works_at_once_on_this_node(server: ServerProcess) -> None:
    realm = f"r{uuid.uuid4().hex[:8]}.example.com"
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.post("/v2/accounts", json={"data": {"name": "A", "realm": realm}}).json()["data"]["id"]
        device = Device(realm, "carol", "pw-carol-1", "")
        assert Registering(server.sip_port, device, "127.0.0.6").send("<sip:carol@127.0.0.1:5999>").status == 401
        doc = {"name": "desk", "sip": {"username": "carol", "password": "pw-carol-1"}}
        assert api.post(f"/v2/accounts/{account}/devices", json={"data": doc}).status_code == 201
    assert Registering(server.sip_port, device, "127.0.0.6").send("<sip:carol@127.0.0.1:5999>").status == 200
