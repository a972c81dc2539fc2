"""Guards of a call's life that the fuzzing run showed were needed (issue 11)."""

from __future__ import annotations

import gc
import warnings
from types import SimpleNamespace

import pytest

from calltape.callflow.call_api import CallEndedError
from calltape.frontdoor.calls import FIRST_PACKET_TIMEOUT, PRESSURE_TIMEOUT, silence_limit
from calltape.sip.events import Peer
from calltape.sip.parser import parse_message
from calltape.sip.transaction import ServerTransaction
from calltape.switch.call import Call
from calltape.switch.leg import InboundLeg
from tests.sip.helpers import request_bytes


def test_silence_limits() -> None:
    assert silence_limit(60, heard_anything=True, under_pressure=False) == 60
    assert silence_limit(60, heard_anything=False, under_pressure=False) == FIRST_PACKET_TIMEOUT
    assert silence_limit(60, heard_anything=True, under_pressure=True) == PRESSURE_TIMEOUT
    assert silence_limit(2, heard_anything=False, under_pressure=True) == 2  # a shorter --rtp-timeout still rules


async def test_a_module_step_after_the_call_ended_leaves_no_coroutine_unawaited() -> None:
    """engine.py:62 reported "coroutine 'sleep' was never awaited" when the caller had already gone."""
    request = parse_message(request_bytes("INVITE"))
    transaction = ServerTransaction(None, ("k",), request, Peer("udp", "192.0.2.10", 5070))  # type: ignore[arg-type]
    leg = InboundLeg(None, request, transaction, Peer("udp", "192.0.2.10", 5070), "127.0.0.1", None)  # type: ignore[arg-type]
    call = Call(leg, SimpleNamespace(recordings=None), "a", "100")  # type: ignore[arg-type]
    call.ended.set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CallEndedError):
            await call.sleep(1.0)
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_media_timers_start_when_the_media_starts_not_at_zero() -> None:
    """Under load, a watchdog pass between creating a leg's RTP session and starting it saw
    ``loop.time() - 0.0`` and hung up calls 0.2-1 s after the INVITE with "no RTP for 60 s"."""
    import asyncio
    import socket

    from calltape.media.clock import MediaClock
    from calltape.media.g711 import codec_for
    from calltape.media.session import RtpSession

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    session = RtpSession(sock, codec_for("PCMU", 0), None, ("127.0.0.1", 9), MediaClock())
    now = asyncio.get_running_loop().time()
    assert session.silence(now) < 1.0  # not started yet, and not silent for the whole uptime either
    assert not session.heard_anything
    assert silence_limit(60, session.heard_anything, under_pressure=False) > session.silence(now)
    sock.close()
