"""``calltape demo``: start calltape, provision the seed's callflows, call through each, check every recording."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from calltape.config import ConfigError, parse_host_port
from calltape.demo import verify
from calltape.demo.provision import DemoApi, Site, provision
from calltape.demo.server import Server, start
from calltape.media.sources import tone
from calltape.sip.events import Peer
from calltape.softphone.call import PhoneCall
from calltape.softphone.ua import Softphone

HELP = "start calltape, call through the seed's three recording flows, and check every recording"
CALLER_HZ, CALLEE_HZ = 440.0, 1000.0
DELIVERY_TIMEOUT = 20.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``calltape demo``'s options."""
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where to keep everything (default: a new temp dir)"
    )
    parser.add_argument("--sip", metavar="HOST:PORT", default="127.0.0.1:0", help="SIP address (default: a free port)")
    parser.add_argument("--http", metavar="HOST:PORT", default="127.0.0.1:0", help="API address (default: a free port)")
    parser.add_argument("--keep-running", action="store_true", help="leave calltape up afterwards (Ctrl-C stops it)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per flow instead of a table")


@dataclass
class Result:
    """One flow's call and its recording, and whether the recording is right."""

    flow: str
    number: str
    call_id: str = ""
    file: str = ""
    delivered_to: str = ""
    duration: float = 0.0
    format: str = ""
    channels: int = 0
    sha256: str = ""
    verdict: str = "not run"

    @property
    def ok(self) -> bool:
        """True when the recording was delivered and its audio checked out."""
        return self.verdict.startswith("ok")


def run(args: argparse.Namespace) -> int:
    """Exit 0 only if every flow's recording was delivered and right."""
    try:
        parse_host_port(args.sip, "--sip")
        parse_host_port(args.http, "--http")
    except ConfigError as exc:
        print(f"calltape demo: error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_demo(args))
    except RuntimeError as exc:
        print(f"calltape demo: error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):  # calltape was stopped on the way out
        print("calltape demo: interrupted", file=sys.stderr)
        return 130


def _say(line: str) -> None:
    print(f"calltape demo: {line}", file=sys.stderr, flush=True)


async def _demo(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="calltape-demo-"))).resolve()
    token = "demo-" + str(time.time_ns())
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)  # still stop the server we started
    _say(f"starting calltape in {data_dir}")
    server = await start(data_dir, token, args.sip, args.http)
    try:
        api = DemoApi(server.api_url, token)
        try:
            _say(f"provisioning an account, two users with phones, a voicemail box and 3 callflows ({server.api_url})")
            site = await provision(api, f"{server.api_url}/receiver")
            results = await _call_every_flow(server, site, api, data_dir)
        finally:
            await api.close()
        _print(results, data_dir, args.json)
        if args.keep_running:
            _how_to_connect(server, site, token)
            await _wait_for_ctrl_c()
        return 0 if all(r.ok for r in results) else 1
    finally:
        _say("stopping calltape")
        await server.stop()


async def _call_every_flow(server: Server, site: Site, api: DemoApi, data_dir: Path) -> list[Result]:
    peer = Peer("udp", server.sip_host, server.sip_port)
    ada_login, grace_login = site.phones["ada"], site.phones["grace"]
    ada = Softphone(peer, user="ada", password=ada_login.password, realm=site.realm, display_name=ada_login.name)
    grace = Softphone(peer, user="grace", password=grace_login.password, realm=site.realm)
    ada.on_call = lambda call: call.play(tone((CALLER_HZ,), 1.0))
    grace.on_call = lambda call: call.play(tone((CALLEE_HZ,), 1.0))
    grace.answer_after = 1.0
    await ada.start()
    await grace.start()
    try:
        for phone in (ada, grace):
            response = await phone.register()
            if response.status >= 300:
                raise RuntimeError(f"{phone.user} could not register: {response.status} {response.reason}")
        _say("ada and grace registered their phones")
        scenarios: list[tuple[str, Callable[[], Awaitable[PhoneCall]], list[float]]] = [
            ("seed 1: record_call + echo", lambda: _talk(ada, site, "seed 1: record_call + echo"), [CALLER_HZ] * 2),
            ("seed 2: record per user", lambda: _talk(ada, site, "seed 2: record per user"), [CALLER_HZ, CALLEE_HZ]),
            ("seed 3: record_caller", lambda: _leave_message(ada, site), [CALLER_HZ]),
        ]
        results = []
        for name, place, tones in scenarios:
            result = Result(name, site.numbers[name])
            _say(f"{name}: ada calls {result.number}")
            call = await place()
            result.call_id = call.call_id
            if call.answered_at is None:
                result.verdict = f"not answered ({call.status})"
            else:
                await _check_recording(result, call, tones, api, site, data_dir)
            _say(f"{name}: {result.verdict}")
            results.append(result)
        return results
    finally:
        await ada.close()
        await grace.close()


async def _talk(caller: Softphone, site: Site, flow: str, seconds: float = 4.0) -> PhoneCall:
    """Call the flow's number and hang up after *seconds* of conversation."""
    call = await caller.call(site.numbers[flow], timeout=20)
    if call.answered_at is not None:
        await asyncio.sleep(seconds)
        await call.hangup()
    return call


async def _leave_message(caller: Softphone, site: Site) -> PhoneCall:
    """The greeting (~2.5 s), a message, then a key ends the recording and calltape hangs up."""
    call = await caller.call(site.numbers["seed 3: record_caller"], timeout=20)
    if call.answered_at is not None:
        await asyncio.sleep(6.0)
        await call.send_digits("1")
        try:
            await asyncio.wait_for(call.ended.wait(), 10)
        except TimeoutError:
            await call.hangup()
    return call


async def _check_recording(
    result: Result, call: PhoneCall, tones: list[float], api: DemoApi, site: Site, data_dir: Path
) -> None:
    doc = await _delivered(api, site, call.call_id)
    if doc is None:
        result.verdict = "no recording"
        return
    result.format, result.channels, result.sha256 = doc["format"], doc["channels"], doc["sha256"]
    result.duration = doc["duration_ms"] / 1000
    if doc["state"] != "delivered":
        result.verdict = f"{doc['state']}: {doc.get('last_error') or doc.get('discarded') or 'not delivered'}"
        return
    url = str(doc["delivery"].get("url", "")).replace("{ACCOUNT_ID}", site.account_id)
    result.delivered_to = f"{url.rstrip('/')}/{doc['name']}"
    stored = sorted((data_dir / "recordings").glob(f"**/{doc['name']}"))
    if not stored:
        result.verdict = "delivered, but the receiver has no file"
        return
    result.file = str(stored[0].relative_to(data_dir))
    # the recording runs from the answer to the hangup, as the phone measured it; record_caller's ends on the key
    seconds = None if doc["source_type"] == "record_caller" else _answered_for(call)
    problems = verify.check(verify.decode(stored[0]), tones, seconds)
    if doc["source_type"] == "record_caller" and not 2.0 < result.duration < 6.0:
        problems.append(f"{result.duration:.2f} s of message, expected 2-6 s")
    heard = " + ".join(f"{hz:.0f} Hz" for hz in tones)
    result.verdict = f"ok: {heard}" + (", length ±0.1 s" if seconds else "") if not problems else "; ".join(problems)


def _answered_for(call: PhoneCall) -> float | None:
    if call.answered_at is None or call.ended_at is None:
        return None
    return call.ended_at - call.answered_at


async def _delivered(api: DemoApi, site: Site, call_id: str) -> dict[str, Any] | None:
    """The call's recording once it has left the recording state (delivered, failed or discarded)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        answer = await api.get(f"/v2/accounts/{site.account_id}/recordings", call_id=call_id)
        found = answer.json()["data"] if answer.status == 200 else []
        settled = [doc for doc in found if doc["state"] in ("delivered", "failed", "discarded")]
        if (settled and settled[0]["state"] != "failed") or time.monotonic() > deadline:
            return settled[0] if settled else (found[0] if found else None)
        await asyncio.sleep(0.2)


def _print(results: list[Result], data_dir: Path, as_json: bool) -> None:
    if as_json:
        for result in results:
            print(json.dumps({**asdict(result), "file": str(data_dir / result.file) if result.file else ""}))
        return
    headers = [
        "flow",
        "call id",
        "recording file",
        "delivered to",
        "duration",
        "format",
        "channels",
        "sha256",
        "verdict",
    ]
    rows = [
        [
            r.flow,
            r.call_id,
            r.file,
            r.delivered_to,
            f"{r.duration:.2f} s",
            r.format,
            str(r.channels),
            r.sha256[:16],
            r.verdict,
        ]
        for r in results
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    print(f"recordings are under {data_dir}")
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    good = sum(r.ok for r in results)
    print(f"{good} of {len(results)} flows recorded and checked ({'all right' if good == len(results) else 'FAILED'})")


def _how_to_connect(server: Server, site: Site, token: str) -> None:
    ada = site.phones["ada"]
    print(
        "\ncalltape is still running. Register a softphone (UDP or TCP):\n"
        f"  server   {server.sip_host}:{server.sip_port}\n"
        f"  domain   {site.realm}   (the SIP realm)\n"
        f"  user     {ada.username}\n"
        f"  password {ada.password}\n"
        "then dial " + ", ".join(f"{n} ({f})" for f, n in site.numbers.items()) + ".\n"
        f"Recordings web page: {server.api_url}/ui  (API token {token})\n"
        "Ctrl-C stops calltape.",
        flush=True,
    )


async def _wait_for_ctrl_c() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
