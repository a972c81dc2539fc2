"""The receiver inside ``calltape serve`` (on by default): one process takes calls and their uploads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.receiver.audio import mp3_bytes
from tests.server import ServerProcess


def test_embedded_receiver_stores_under_the_data_dir(server: ServerProcess) -> None:
    audio = mp3_bytes(0.5)
    url = f"{server.api_url}/receiver/kzr/call_recording_emb1.mp3?account_id=acc9&from=alice"
    r = httpx.put(url, content=audio)
    assert r.status_code == 201, r.text
    month = datetime.now(UTC).strftime("%Y/%m")
    assert (server.data_dir / "recordings" / "acc9" / month / "call_recording_emb1.mp3").read_bytes() == audio
    listed = httpx.get(f"{server.api_url}/receiver/recordings?account_id=acc9").json()["data"]
    assert [d["key"] for d in listed] == [f"acc9/{month}/call_recording_emb1.mp3"]
    served = httpx.get(f"{server.api_url}/receiver/recordings/acc9/{month}/call_recording_emb1.mp3")
    assert served.content == audio
    assert any("recording receiver at" in line for line in server.stdout_lines)


def test_embedded_receiver_can_be_switched_off(tmp_path: Path) -> None:
    config = tmp_path / "calltape.toml"
    config.write_text("[receiver]\nenabled = false\n")
    proc = ServerProcess(tmp_path / "data", extra_args=["--config", str(config)]).start()
    try:
        r = httpx.put(f"{proc.api_url}/receiver/kzr/call_recording_off.mp3", content=mp3_bytes(0.2))
        assert r.status_code in (404, 405)
        assert not (tmp_path / "data" / "recordings").exists()
    finally:
        proc.stop()
