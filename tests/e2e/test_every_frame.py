"""Every received frame in the file (issue 17): a recorded call fed a stream with a phone's worst habits.

The caller's RTP is written here byte by byte (not with calltape's RTP code): 12 s of frames that are each
unique, from a far end whose clock runs 1 % slow, that holds back a second of frames twice and then sends
them at once (up to 1 s late, as a phone on Wi-Fi does), and that swaps neighbouring frames now and then.
The delivered WAV is decoded with this file's own µ-law decoder and cut into 20 ms frames: every frame sent
must be in it exactly once, byte-exact, in the order sent, on one 20 ms grid.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess

FRAMES = 600  # 12 s
SLOW = 1.01  # the far end's clock: 1 % slow
HELD = [(150, 200), (400, 450)]  # frames held back and then sent at once (1 s each)
SWAPPED = range(31, FRAMES - 1, 47)  # each sent after the one that follows it


def ulaw_to_linear(byte: int) -> int:
    """G.711 µ-law decoding as ITU-T G.711 defines it (independent of calltape's codec)."""
    byte = ~byte & 0xFF
    magnitude = (((byte & 0x0F) << 3) + 0x84) << ((byte & 0x70) >> 4)
    return (0x84 - magnitude) if byte & 0x80 else (magnitude - 0x84)


DECODE = np.array([ulaw_to_linear(b) for b in range(256)], dtype=np.int16)


def sent_frames() -> list[bytes]:
    """Unique frames: noise from a fixed seed (no two frames alike, none silent)."""
    rng = np.random.default_rng(17)
    return [bytes(rng.integers(0, 256, 160, dtype=np.uint8) | 0x10) for _ in range(FRAMES)]


def send_order() -> list[tuple[int, float]]:
    """(frame, when to send it in seconds from the first) for the whole stream."""
    order = list(range(FRAMES))
    for n in SWAPPED:
        order[n], order[n + 1] = order[n + 1], order[n]
    when = {n: n * 0.02 * SLOW for n in range(FRAMES)}
    for first, last in HELD:
        for n in range(first, last):
            when[n] = last * 0.02 * SLOW
    return sorted(((n, when[n]) for n in order), key=lambda item: item[1])


def packet(n: int, payload: bytes) -> bytes:
    """An RTP packet written by hand: V=2, PT 0, sequence n, timestamp 160·n, SSRC 0x0BADCAFE."""
    return bytes([0x80, 0x00]) + struct.pack("!HII", n & 0xFFFF, 160 * n, 0x0BADCAFE) + payload


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("frames"),
        ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(25810, 25899)],
    ).start()
    yield proc
    proc.stop()
    assert "Traceback" not in proc.log_path.read_text(errors="replace")


async def _jittery_call(sip_port: int, number: str, frames: list[bytes]) -> str:
    phone = await Phone(sip_port).start()
    phone.sending = False  # this test sends the audio itself
    try:
        assert (await phone.call(number)).status == 200
        assert phone.remote_rtp is not None
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, at in send_order():
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            phone._rtp.sendto(packet(n, frames[n]), phone.remote_rtp)
        await asyncio.sleep(0.3)
        await phone.hangup()
        return phone.call_id
    finally:
        phone.close()


def test_every_frame_of_a_jittery_drifting_reordered_stream_is_in_the_file_once_at_its_place(
    server: ServerProcess,
) -> None:
    sink = UploadSink().start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    try:
        account = api.put("/v2/accounts", json={"data": {"name": "Frames", "realm": "frames.example.com"}})
        account_id = account.json()["data"]["id"]
        flow = {
            "module": "record_call",
            "data": {"action": "start", "format": "wav", "url": f"{sink.url}/r"},
            "children": {"_": {"module": "echo"}},
        }
        r = api.put(f"/v2/accounts/{account_id}/callflows", json={"data": {"numbers": ["7700"], "flow": flow}})
        assert r.status_code == 201, r.text
        frames = sent_frames()
        call_id = asyncio.run(_jittery_call(server.sip_port, "7700", frames))
        [upload] = sink.wait(1)
        deadline = time.monotonic() + 10
        while not (
            docs := api.get(f"/v2/accounts/{account_id}/recordings", params={"call_id": call_id}).json()["data"]
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        recording = api.get(f"/v2/accounts/{account_id}/recordings/{docs[0]['id']}").json()["data"]
        metrics = api.get("/metrics").text
    finally:
        api.close()
        sink.stop()

    pcm, rate, channels = decode(upload.body, "wav")
    assert (rate, channels) == (8000, 2)
    said = pcm[:, 0]
    expected = [DECODE[np.frombuffer(frame, dtype=np.uint8)] for frame in frames]
    windows = np.lib.stride_tricks.sliding_window_view(said, 160)
    first = int(np.flatnonzero((windows == expected[0]).all(axis=1))[0])  # where frame 0 landed
    index = {frame.tobytes(): n for n, frame in enumerate(expected)}
    found = [(index.get(said[at : at + 160].tobytes()), at) for at in range(first, len(said) - 159, 160)]
    placed = [(n, at) for n, at in found if n is not None]
    assert [n for n, _ in placed] == list(range(FRAMES))  # every frame, once, in the order sent
    slots = [(at - first) // 160 - n for n, at in placed]  # how far each sits after its RTP place
    assert slots == sorted(slots) and slots[-1] * 160 <= 0.02 * FRAMES * (SLOW - 1) * 8000 + 1600
    gaps = [said[at : at + 160] for n, at in found if n is None]
    assert all(not gap.any() for gap in gaps)  # between them only silence (a drift correction), never debris
    counts = recording["frames"]
    assert counts["received"] == counts["written"] and not any(counts["left_out"].values()), counts
    assert counts["received"] > FRAMES  # what the caller said, and what it heard (the echo)
    sums = {
        line.split("{")[1].split("}")[0]: int(float(line.split()[-1]))
        for line in metrics.splitlines()
        if line.startswith("calltape_recording_frames")
    }
    assert sums['outcome="received"'] == sums['outcome="written"'] == counts["received"]
    assert sums['reason="duplicate"'] == sums['reason="too_late"'] == 0
