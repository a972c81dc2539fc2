"""The PostgreSQL and S3-compatible backends behind a running receiver (real PostgreSQL; a local S3 server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.receiver.audio import mp3_bytes
from tests.receiver.conftest import ReceiverProcess

MONTH = datetime.now(UTC).strftime("%Y/%m")


def _s3_receiver(tmp_path: Path, endpoint: str) -> ReceiverProcess:
    assert httpx.put(f"{endpoint}/recordings").status_code in (200, 409)  # the bucket
    config = tmp_path / "s3.toml"
    config.write_text(
        f'backend = "s3"\ns3_endpoint = "{endpoint}"\ns3_bucket = "recordings"\n'
        f's3_access_key = "test"\ns3_secret_key = "test-secret"\n'
    )
    return ReceiverProcess(tmp_path, ["--config", str(config)]).start()


@pytest.fixture(params=["postgresql", "s3"])
def backend_receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReceiverProcess]:
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_pg_url")
        config = tmp_path / "pg.toml"
        config.write_text(f'backend = "postgresql"\npostgres_url = "{url}"\n')
        proc = ReceiverProcess(tmp_path, ["--config", str(config)]).start()
    else:
        proc = _s3_receiver(tmp_path, request.getfixturevalue("s3_endpoint"))
    yield proc
    proc.stop()


def test_store_duplicate_version_list_and_serve(backend_receiver: ReceiverProcess) -> None:
    url = f"{backend_receiver.url}/kzr/call_recording_b%40x.mp3?account_id=accb&from=alice"
    first, second = mp3_bytes(0.8, 440), mp3_bytes(0.8, 900)
    r = httpx.put(url, content=first)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    assert key == f"accb/{MONTH}/call_recording_b@x.mp3"
    assert httpx.put(url, content=first).status_code == 200
    r2 = httpx.put(url, content=second)
    assert r2.status_code == 201 and r2.json()["key"] == f"accb/{MONTH}/call_recording_b@x.1.mp3"
    listed = httpx.get(f"{backend_receiver.url}/recordings?account_id=accb").json()["data"]
    assert sorted(d["key"] for d in listed) == sorted([key, r2.json()["key"]])
    assert {d["metadata"]["from"] for d in listed} == {"alice"}
    served = httpx.get(f"{backend_receiver.url}/recordings/{key}")
    assert served.status_code == 200 and served.content == first
    part = httpx.get(f"{backend_receiver.url}/recordings/{r2.json()['key']}", headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == second[10:110]
    assert httpx.get(f"{backend_receiver.url}/recordings/accb/2020/01/none.mp3").status_code == 404
    assert list((backend_receiver.dir / ".incoming").iterdir()) == []
