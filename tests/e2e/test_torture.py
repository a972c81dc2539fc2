"""RFC 4475's torture messages against a running server: each gets the outcome in EXPECTED.tsv."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server import ServerProcess
from tests.sipclient import UdpSipClient, options

TORTURE_DIR = Path(__file__).resolve().parents[3] / "shared" / "sip-torture"  # shared/ sits beside the clone


def _cases() -> list[tuple[str, str]]:
    rows = []
    for line in (TORTURE_DIR / "EXPECTED.tsv").read_text().splitlines():
        if line.startswith("#") or line.startswith("file") or not line.strip():
            continue
        name, _section, expected = line.split("\t")
        rows.append((name, expected))
    return rows


def _acceptable(expected: str, status: int | None) -> bool:
    for option in expected.split("|"):
        if option == "drop" and status is None:
            return True
        if option == "accept" and status is not None and status not in (400, 500, 505):
            return True
        if option.isdigit() and status == int(option):
            return True
    return False


@pytest.mark.parametrize(("name", "expected"), _cases())
def test_torture_message(server: ServerProcess, name: str, expected: str) -> None:
    client = UdpSipClient()
    try:
        client.send((TORTURE_DIR / name).read_bytes(), server.sip_port)
        response = client.recv_final(timeout=0.5 if expected == "drop" else 2.0)
        status = response.status if response is not None else None
        assert _acceptable(expected, status), f"{name}: expected {expected}, got {status}"
        client.send(options(server.sip_port), server.sip_port)
        after = client.recv_final()
        assert after is not None and after.status == 200, f"server stopped answering OPTIONS after {name}"
    finally:
        client.close()
    assert server.alive()
