"""Issue 24, SIP over TLS: calltape listens on ``--sip-tls`` with a certificate from a CA the test makes. Debian's
baresip (the independent peer: Debian's SIPp has no TLS) checks that certificate, registers over TLS, calls a
``record_call`` flow that is answered, recorded and ended over the same connection, and is rung over the
connection it registered on. A phone of ours whose static route says ``transport=tls`` but whose certificate comes
from another CA is refused, with the reason in the log."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websockets.sync.client as ws_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.audio import channel_hz
from tests.e2e.account import Account, running
from tests.e2e.baresip import Baresip
from tests.e2e.sipp_runner import free_port
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports

PASSWORD = "tls-secret-1"
BARESIP_HZ = 700


def _key_and_name(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
    return ec.generate_private_key(ec.SECP256R1()), x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.with_suffix(".key").write_bytes(key_pem)
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path.with_suffix(".pem"), path.with_suffix(".key")


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (its PEM file, key and certificate)."""
    key, subject = _key_and_name(name)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _write(directory / name, key, cert)[0], key, cert


LOCAL: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def make_server_cert(
    directory: Path,
    name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    names: list[x509.GeneralName] = LOCAL,
) -> tuple[Path, Path]:
    """A certificate for *names* (127.0.0.1 and localhost) signed by the CA: its PEM and key files."""
    key, subject = _key_and_name(name)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _write(directory / name, key, cert)


@dataclass
class Secure(Account):
    sink: UploadSink = field(default_factory=UploadSink)
    tls_port: int = 0
    wss_port: int = 0
    ca: Path = Path()
    ca_key: ec.EllipticCurvePrivateKey | None = None
    ca_cert: x509.Certificate | None = None
    cert_dir: Path = Path()  # where --tls-cert and --tls-key are (calltape.pem, calltape.key)
    bare: str = ""  # baresip's device


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    certs = tmp_path_factory.mktemp("certs")
    ca, ca_key, ca_cert = make_ca(certs, "test-ca")
    cert, key = make_server_cert(certs, "calltape", ca_key, ca_cert)
    tls_port, wss_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    sink = UploadSink().start()
    args = ["--digest-algorithms", "MD5", "--rtp-ports", rtp_ports(27400, 27499), "--trusted-networks", "127.0.0.2/32"]
    args += ["--sip-tls", f"127.0.0.1:{tls_port}", "--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(ca)]
    args += ["--sip-wss", f"127.0.0.1:{wss_port}"]
    try:
        with running(tmp_path_factory.mktemp("tls"), args, "Secure", Secure, sink=sink) as site:
            site.tls_port, site.ca, site.ca_key, site.ca_cert, site.cert_dir = tls_port, ca, ca_key, ca_cert, certs
            site.wss_port = wss_port
            site.bare = site.put("devices", {"name": "bare", "sip": {"username": "bare", "password": PASSWORD}})
            record = {"module": "record_call", "data": {"url": f"{sink.url}/rec"}}
            site.put("callflows", {"numbers": ["2001"], "flow": {**record, "children": {"_": {"module": "echo"}}}})
            yield site
    finally:
        sink.stop()


@pytest.fixture
def baresip(secure: Secure, tmp_path: Path) -> Iterator[Baresip]:
    phone = Baresip(
        tmp_path / "baresip", f"sip:bare@{secure.realm}", PASSWORD, secure.tls_port, hz=BARESIP_HZ, tls_ca=secure.ca
    )
    try:
        phone.wait_registered()
        yield phone
    finally:
        phone.close()


def test_baresip_registers_and_calls_over_tls_and_the_call_is_recorded(secure: Secure, baresip: Baresip) -> None:
    assert f"sip:bare@{secure.realm} registered 1 contact(s) from tls:127.0.0.1:" in secure.log_text()
    assert baresip.command("dial", f"sip:2001@{secure.realm};transport=tls")["ok"]
    established = baresip.wait_event("CALL_ESTABLISHED")["received_at"]
    time.sleep(3.0)
    baresip.command("hangup")
    closed = baresip.wait_event("CALL_CLOSED")
    call_id = str(closed["id"])
    pcm, rate, channels = decode(secure.sink.upload_of(call_id).body, "mp3")
    assert channels == 2 and abs(len(pcm) / rate - (closed["received_at"] - established)) <= 0.15
    assert abs(channel_hz(pcm[:, 0], rate) - BARESIP_HZ) < 15  # what baresip said
    assert abs(channel_hz(pcm[:, 1], rate) - BARESIP_HZ) < 15  # and heard: the echo
    assert f"call-id {call_id}" in secure.log_text()


def test_a_phone_registered_over_tls_is_rung_over_its_connection(secure: Secure, baresip: Baresip) -> None:
    device = next(
        d for d in secure.api.get(f"/v2/accounts/{secure.account_id}/devices").json()["data"] if d["name"] == "bare"
    )
    number = secure.callflow({"module": "device", "data": {"id": device["id"]}})

    async def call() -> None:
        caller = await Phone(secure.server.sip_port, host="127.0.0.2").start()  # a carrier, over UDP
        try:
            assert (await caller.call(number, timeout=15)).status == 200
            await asyncio.sleep(1.0)
            await caller.hangup()
        finally:
            caller.close()

    asyncio.run(call())
    baresip.wait_event("CALL_ESTABLISHED")
    baresip.wait_event("CALL_CLOSED")  # our BYE came over the same TLS connection too


@pytest.mark.parametrize("wrong", ["another CA", "another name"])
def test_a_tls_peer_whose_certificate_does_not_check_is_refused_with_the_reason(
    secure: Secure, tmp_path: Path, wrong: str
) -> None:
    """A certificate from another CA, or from our CA for another name than the route's: never called."""
    if wrong == "another CA":
        _, other_key, other_cert = make_ca(tmp_path, "other-ca")
        cert, key = make_server_cert(tmp_path, "impostor", other_key, other_cert)
    else:
        assert secure.ca_key is not None and secure.ca_cert is not None
        elsewhere: list[x509.GeneralName] = [x509.DNSName("elsewhere.example")]
        cert, key = make_server_cert(tmp_path, "impostor", secure.ca_key, secure.ca_cert, elsewhere)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    handshakes: list[str] = []

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            try:
                context.wrap_socket(conn, server_side=True).close()
                handshakes.append("completed")
            except (ssl.SSLError, OSError) as exc:
                handshakes.append(f"failed: {exc}")

    threading.Thread(target=serve, daemon=True).start()
    route = f"sip:impostor@127.0.0.1:{port};transport=tls"
    sip = {"username": f"impostor{port}", "password": PASSWORD, "invite_format": "route", "route": route}
    device = secure.put("devices", {"name": f"impostor{port}", "sip": sip})
    number = secure.callflow({"module": "device", "data": {"id": device}})

    async def call() -> int:
        caller = await Phone(secure.server.sip_port, host="127.0.0.2").start()
        try:
            return (await caller.call(number, timeout=20)).status
        finally:
            caller.close()

    assert asyncio.run(call()) >= 400  # nobody answered: the gateway was not trusted
    deadline = time.monotonic() + 5
    while not handshakes and time.monotonic() < deadline:  # the listener's thread sees the hang-up a little later
        time.sleep(0.05)
    assert handshakes and handshakes[0].startswith("failed"), handshakes  # we hung up in the handshake
    log = secure.log_text()
    assert f"cannot connect to 127.0.0.1:{port} over TLS" in log and "CERTIFICATE_VERIFY_FAILED" in log


def _served_serial(secure: Secure) -> int:
    """The serial number of the certificate calltape's TLS listener presents now."""
    context = ssl.create_default_context(cafile=str(secure.ca))
    with (
        socket.create_connection(("127.0.0.1", secure.tls_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_sighup_reloads_the_certificate_for_new_connections_and_a_bad_pair_leaves_the_old(secure: Secure) -> None:
    before = _served_serial(secure)
    assert secure.ca_key is not None and secure.ca_cert is not None
    cert, _key = make_server_cert(secure.cert_dir, "calltape", secure.ca_key, secure.ca_cert)  # renewed in place
    renewed = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    assert secure.server.proc is not None
    secure.server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while (served := _served_serial(secure)) == before:
        assert time.monotonic() < deadline, "the certificate was not reloaded"
        time.sleep(0.1)
    assert served == renewed
    assert "TLS certificate reloaded" in secure.log_text()
    (secure.cert_dir / "calltape.key").write_text("not a key")  # a renewal caught half-way: the old pair stays
    secure.server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "the TLS certificate was not reloaded" not in secure.log_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert _served_serial(secure) == renewed  # and handshakes still work


def test_secure_websocket_takes_sip_with_the_same_certificate(secure: Secure) -> None:
    context = ssl.create_default_context(cafile=str(secure.ca))
    url = f"wss://127.0.0.1:{secure.wss_port}"
    with ws_client.connect(url, ssl=context, subprotocols=["sip"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "sip"
        ws.send(
            f"OPTIONS sip:{secure.realm} SIP/2.0\r\nVia: SIP/2.0/WSS x1.invalid;branch=z9hG4bKwss1\r\n"
            f"Max-Forwards: 70\r\nTo: <sip:{secure.realm}>\r\nFrom: <sip:probe@x1.invalid>;tag=w1\r\n"
            "Call-ID: wss-options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        answer = str(ws.recv(timeout=5))
    assert answer.startswith("SIP/2.0 200") and "Call-ID: wss-options-1" in answer


@pytest.mark.parametrize("pinned", [True, False])
def test_a_carrier_gateway_with_a_pinned_certificate_is_called_whatever_its_ca_and_only_with_that_one(
    secure: Secure, tmp_path: Path, pinned: bool
) -> None:
    """A gateway's ``certificate_fingerprint``: its self-made certificate (no CA of ours) is taken when it is the
    pinned one — the INVITE arrives over it — and refused, with the reason, when it is not."""
    _, own_key, own_cert = make_ca(tmp_path, "carrier-own-ca")
    cert, key = make_server_cert(tmp_path, "carrier", own_key, own_cert)
    der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)
    fingerprint = hashlib.sha256(der if pinned else b"another certificate").hexdigest()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: list[bytes] = []

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(5)
                    seen.append(tls.recv(65536))
            except (ssl.SSLError, OSError) as exc:
                seen.append(f"failed: {exc}".encode())

    threading.Thread(target=serve, daemon=True).start()
    pin = ":".join(f"{b:02X}" for b in bytes.fromhex(fingerprint))  # as openssl prints it
    gateway = {"server": f"127.0.0.1:{port}", "transport": "tls", "certificate_fingerprint": pin}
    rules = [rf"^\+14152{port:06d}$"]
    secure.put("resources", {"name": f"pinned {port}", "rules": rules, "gateways": [gateway]})
    number = secure.callflow({"module": "resources", "data": {}}, number=f"4152{port:06d}")

    async def call() -> None:
        caller = await Phone(secure.server.sip_port, host="127.0.0.2").start()
        ringing = asyncio.create_task(caller.call(number, timeout=20))  # the gateway never answers
        try:
            deadline = time.monotonic() + 10
            while not seen and not ringing.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            ringing.cancel()
            caller.close()

    asyncio.run(call())
    if pinned:
        assert seen and seen[0].startswith(b"INVITE sip:+1415"), seen  # SIP over the pinned connection
    else:
        assert not seen or not seen[0].startswith(b"INVITE"), seen
        assert "is not the pinned one" in secure.log_text()
