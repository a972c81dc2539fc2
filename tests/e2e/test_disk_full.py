"""Issue 23's full disk: the node's spool is a small filesystem the test mounts (tmpfs). It fills up in the middle
of a recorded call: the call goes on, /health says the spool cannot be written, and a recording that was finished
before is still delivered meanwhile. The call ends while the disk is full: its file waits for room. When space
returns, the cut recording is made of what was written before the disk filled, marked ``truncated`` with the
reason, and delivered; a new call is recorded whole."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.audio import heard_for, tone, window_hz
from tests.e2e.account import wait_delivered
from tests.e2e.sipp_runner import free_port
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess

NUMBER = "9500"
HZ = 440.0


@pytest.fixture
def small_spool(tmp_path: Path) -> Iterator[Path]:
    """``data/spool`` on an 8 MB tmpfs of its own."""
    spool = tmp_path / "data" / "spool"
    spool.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(spool)], check=True)
    yield spool
    subprocess.run(["umount", "-l", str(spool)], check=False)


def _fill(spool: Path, name: str = "filler") -> Path:
    """Fill the spool's filesystem to the last byte; the filler file."""
    filler = spool / name
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):  # big writes, then what is left of the last blocks
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        (spool / "probe").write_bytes(b"x")
    assert full.value.errno == errno.ENOSPC
    return filler


async def _talk(port: int, seconds: float) -> str:
    """A recorded call that talks for *seconds* of echo, then hangs up; its Call-ID."""
    phone = await Phone(port).start()
    phone.say_pcm(tone(HZ, seconds + 10))
    try:
        assert (await phone.call(NUMBER)).status == 200
        while heard_for(phone.received.pcm(), HZ) < seconds:
            await asyncio.sleep(0.05)
        assert (await phone.hangup()).status == 200
        return phone.call_id
    finally:
        phone.close()


def _health(server: ServerProcess) -> dict[str, object]:
    return dict(httpx.get(f"{server.api_url}/health", timeout=10).json()["checks"])


def test_a_disk_that_fills_mid_call_cuts_that_recording_with_the_reason_and_nothing_else(
    tmp_path: Path, small_spool: Path
) -> None:
    sink = UploadSink(port=free_port())  # the receiver is down at first
    flags = ["--db", f"sqlite:///{tmp_path / 'calltape.db'}", "--trusted-networks", "127.0.0.1/32"]
    server = ServerProcess(
        tmp_path / "data", [*flags, "--rtp-ports", rtp_ports(27000, 27099), "--delivery-retry-base", "0.2"]
    ).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10)
    try:
        account = api.put("/v2/accounts", json={"data": {"name": "full", "realm": "full.test"}}).json()["data"]["id"]
        record = {"format": "wav", "url": f"{sink.url}/rec"}
        flow = {"module": "record_call", "data": record, "children": {"_": {"module": "echo"}}}
        api.put(f"/v2/accounts/{account}/callflows", json={"data": {"numbers": [NUMBER], "flow": flow}})
        before = asyncio.run(_talk(server.sip_port, 2.0))  # finished and waiting for the receiver

        marks: dict[str, float] = {}
        filler: list[Path] = []

        async def cut_call() -> str:
            phone = await Phone(server.sip_port).start()
            phone.say_pcm(tone(HZ, 30))
            try:
                assert (await phone.call(NUMBER)).status == 200
                marks["answered"] = time.monotonic()
                while heard_for(phone.received.pcm(), HZ) < 2.0:
                    await asyncio.sleep(0.05)
                filler.append(await asyncio.to_thread(_fill, small_spool))
                marks["full"] = time.monotonic()
                deadline = time.monotonic() + 10
                while (spool := await asyncio.to_thread(_health, server))["spool"]["ok"]:  # type: ignore[index]
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
                assert "No space left" in str(spool["spool"])
                sink.start()  # the receiver is back while the disk is full: the finished file goes
                await asyncio.to_thread(wait_delivered, api, account, before)
                filler.append(await asyncio.to_thread(_fill, small_spool, "more"))  # what its delivery freed
                heard = heard_for(phone.received.pcm(), HZ)
                while heard_for(phone.received.pcm(), HZ) < heard + 1.0:  # the call goes on
                    await asyncio.sleep(0.05)
                assert (await phone.hangup()).status == 200  # it ends while the disk is still full
                return phone.call_id
            finally:
                phone.close()

        cut = asyncio.run(cut_call())
        deadline = time.monotonic() + 10
        while "no room to make the file" not in server.log_path.read_text():  # its file waits for room
            assert time.monotonic() < deadline, server.log_path.read_text()[-3000:]
            time.sleep(0.1)
        [waiting] = api.get(f"/v2/accounts/{account}/recordings", params={"call_id": cut}).json()["data"]
        assert waiting["state"] != "failed"  # not failed, not lost: made once there is room (a byte freed anywhere
        # on the spool meanwhile may already have let it through)
        for path in filler:
            path.unlink()  # space returns
        doc = wait_delivered(api, account, cut)
        assert doc.get("truncated") is True and "No space left on device" in doc["note"], doc
        [upload] = [u for u in sink.uploads if dict(u.query).get("call_id") == cut]
        pcm, rate, _ = decode(upload.body, "wav")
        written = marks["full"] - marks["answered"]  # up to the last flush before the disk filled
        assert written - 1.5 <= len(pcm) / rate <= written + 0.3
        windows = window_hz(np.ascontiguousarray(pcm[:, 0]), rate)
        assert sum(abs(hz - HZ) < 20 for hz in windows) >= len(windows) - 2, windows
        assert _health(server)["spool"] == {"ok": True}
        after = asyncio.run(_talk(server.sip_port, 2.0))
        whole = wait_delivered(api, account, after)
        assert "truncated" not in whole and abs(whole["duration_ms"] / 1000 - 2.0) <= 0.5
    finally:
        api.close()
        server.stop()
        sink.stop()
