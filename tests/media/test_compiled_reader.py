"""The compiled relay reader (``_relay_reader.c``) is built by the README's install and is the one a relaying leg
reads with. setup.py marks it optional, so a failed build would only make calltape slower: this test says so.
What the reader does is tested with both readers in ``test_relay_reader.py``."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import struct
import subprocess
import sys
import weakref

from calltape.media import relaying
from calltape.media.clock import MediaClock
from calltape.media.g711 import G711
from calltape.media.rtp_totals import RTP_TOTALS
from calltape.media.session import RtpSession


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def test_the_compiled_reader_is_built_and_reads_a_relaying_leg() -> None:
    assert relaying.COMPILED_READER is not None, "calltape/media/_relay_reader.c was not built (see setup.py)"

    async def scenario() -> None:
        phone = _socket()
        leg = RtpSession(_socket(), G711("PCMU", 0), 101, phone.getsockname(), MediaClock())
        await leg.start()
        leg.relay_to(leg)
        header = struct.Struct("!BBHII")
        for sequence in range(3):
            packet = header.pack(0x80, 0, sequence, sequence * 160, 0x1111) + b"\x55" * 160
            phone.sendto(packet, ("127.0.0.1", leg.port))
            await asyncio.sleep(0.02)
        for _ in range(100):
            if leg._direct is not None and leg._direct()[0] >= 2:
                break
            await asyncio.sleep(0.01)
        assert leg._direct is not None and type(getattr(leg._direct, "__self__", None)) is relaying.COMPILED_READER
        assert leg._direct()[:2] == (2, 2)  # the first packet took the general path, the rest the compiled reader
        leg.close()
        phone.close()

    asyncio.run(scenario())


def test_calltape_python_relay_asks_for_the_python_reader() -> None:
    code = "from calltape.media import relaying; print(relaying.COMPILED_READER)"
    env = {**os.environ, "CALLTAPE_PYTHON_RELAY": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def test_a_leg_dropped_with_its_reader_armed_is_freed() -> None:
    """The reader holds the leg's bound methods and the leg holds the reader's ``counts``: a cycle the garbage
    collector must see through the reader (tp_traverse), or a leg dropped with its reader armed would leak."""

    async def scenario() -> weakref.ref[RtpSession]:
        phone = _socket()
        leg = RtpSession(_socket(), G711("PCMU", 0), 101, phone.getsockname(), MediaClock())
        await leg.start()
        leg.relay_to(leg)
        header = struct.Struct("!BBHII")
        for sequence in range(3):
            phone.sendto(
                header.pack(0x80, 0, sequence, sequence * 160, 0x1111) + b"\x55" * 160, ("127.0.0.1", leg.port)
            )
        for _ in range(100):
            if leg._direct is not None and leg._direct()[0] >= 2:
                break
            await asyncio.sleep(0.01)
        assert leg._direct is not None and leg._direct()[0] >= 2, "the compiled reader did not read"
        # the leg let go of everywhere but its own cycle with the reader (close() would retire the reader first)
        asyncio.get_running_loop().remove_reader(leg.sock.fileno())
        leg.sock.close()
        RTP_TOTALS.live.discard(leg)
        phone.close()
        return weakref.ref(leg)

    gone = asyncio.run(scenario())
    gc.collect()
    assert gone() is None, "the leg was kept alive after it closed"
