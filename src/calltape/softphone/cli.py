"""``calltape dial``: call a number or answer calls from the command line; one JSON line per call on stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

from calltape.config import ConfigError, parse_host_port
from calltape.media.sources import MediaError
from calltape.runtime import install_event_loop_policy
from calltape.sip.events import Peer
from calltape.sip.message import Response
from calltape.softphone.audio import load_audio
from calltape.softphone.call import PhoneCall
from calltape.softphone.ua import Softphone

DEFAULT_SERVER = "127.0.0.1:5060"
HELP = "a command-line softphone: register, call or answer, play audio, send DTMF, record what it hears"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``calltape dial``'s options."""
    parser.add_argument("target", nargs="?", help="number, user@host or SIP URI to call (omit with --answer)")
    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        help="calltape's SIP address (default 127.0.0.1:5060; a sip: URI to call goes to its own host without it)",
    )
    parser.add_argument("--user", default="calltape", help="SIP user name (default calltape)")
    parser.add_argument("--password", help="digest password (or CALLTAPE_DIAL_PASSWORD)")
    parser.add_argument("--realm", help="the account's realm (default: the server's host)")
    parser.add_argument("--name", default="", help="display name sent as caller ID")
    parser.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:0", help="our SIP address")
    parser.add_argument("--register", action="store_true", help="REGISTER first (kept up while answering)")
    parser.add_argument("--play", type=Path, metavar="FILE", help="WAV or MP3 to send, looped")
    parser.add_argument("--tone", metavar="HZ[,HZ]", help="a tone to send, e.g. 440 or 350,440")
    parser.add_argument("--dtmf", metavar="DIGITS", help="RFC 4733 digits to send once answered (0-9 * # A-D)")
    parser.add_argument("--dtmf-after", type=float, default=1.0, metavar="SECONDS", help="(default 1)")
    parser.add_argument("--record", metavar="FILE.wav", help="save what is heard; {call_id} is replaced")
    parser.add_argument("--hangup-after", type=float, metavar="SECONDS", help="hang up this long after the answer")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="give up ringing (60)")
    parser.add_argument("--answer", action="store_true", help="wait for calls and answer them")
    parser.add_argument("--answer-after", type=float, default=0.0, metavar="SECONDS", help="ring first (0)")
    parser.add_argument("--refuse", type=int, metavar="STATUS", help="refuse calls with this status (486, 603…)")
    parser.add_argument("--calls", type=int, metavar="N", help="with --answer: exit after N calls")


def run(args: argparse.Namespace) -> int:
    """Run ``calltape dial``: exit 0 if every call was answered, 1 if one was not, 2 for bad options."""
    try:
        _check(args)
        audio = load_audio(args.play, [float(f) for f in args.tone.split(",")] if args.tone else None)
    except (ConfigError, MediaError, ValueError) as exc:
        print(f"calltape dial: error: {exc}", file=sys.stderr)
        return 2
    install_event_loop_policy()
    return asyncio.run(_main(args, audio))


def _check(args: argparse.Namespace) -> None:
    if args.target is None and not args.answer:
        raise ConfigError("say what to call (a number or SIP URI), or --answer to wait for calls")
    if args.target is not None and args.answer:
        raise ConfigError("--answer waits for calls: give no number to call with it")
    if args.play is not None and args.tone:
        raise ConfigError("--play and --tone both say what to send: choose one")
    if args.dtmf and not re.fullmatch(r"[0-9*#A-Da-d]+", args.dtmf):
        raise ConfigError(f"--dtmf: {args.dtmf!r} has a character that is not a DTMF digit (0-9 * # A-D)")
    if args.refuse is not None and not 300 <= args.refuse <= 699:
        raise ConfigError(f"--refuse: {args.refuse} is not a final failure status (300-699)")
    for name in ("hangup_after", "timeout", "answer_after", "dtmf_after", "calls"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ConfigError(f"--{name.replace('_', '-')}: must not be negative")
    if args.server is None and not (args.target or "").startswith(("sip:", "sips:")):
        args.server = DEFAULT_SERVER
    if args.server is not None:
        parse_host_port(args.server, "--server")
    parse_host_port(args.listen, "--listen")
    if args.register and not (args.password or os.environ.get("CALLTAPE_DIAL_PASSWORD")):
        raise ConfigError("--register needs --password (or CALLTAPE_DIAL_PASSWORD)")


def _say(line: str) -> None:
    print(f"calltape dial: {line}", file=sys.stderr, flush=True)


async def _main(args: argparse.Namespace, audio: bytes) -> int:
    server = parse_host_port(args.server, "--server") if args.server else None
    listen = parse_host_port(args.listen, "--listen")
    phone = Softphone(
        Peer("udp", server.host, server.port) if server else None,
        user=args.user,
        password=args.password or os.environ.get("CALLTAPE_DIAL_PASSWORD"),
        realm=args.realm,
        host=listen.host,
        display_name=args.name,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def prepare(call: PhoneCall) -> None:
        call.play(audio)
        if args.record:
            call.recording = Path(args.record.replace("{call_id}", re.sub(r"[^\w.-]", "_", call.call_id)))

    phone.on_call = prepare
    try:
        await phone.start(listen.port)
    except OSError as exc:
        print(f"calltape dial: error: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 2
    _say(f"SIP on udp {phone.host}:{phone.port}")
    try:
        if args.register:
            response = await phone.register()
            if response.status >= 300:
                _say(f"registration refused: {response.status} {response.reason} (check --user, --password, --realm)")
                return 1
            phone.keep_registered()
            _say(f"registered {phone.user}@{phone.realm} at {args.server}")
        if args.answer:
            return await _answer(phone, args, stop)
        return await _place(phone, args, stop)
    finally:
        await phone.close()


async def _place(phone: Softphone, args: argparse.Namespace, stop: asyncio.Event) -> int:
    _say(f"calling {args.target}")

    def progress(response: Response) -> None:
        if response.status > 100:
            _say(f"{response.status} {response.reason}")

    placing = asyncio.ensure_future(phone.call(args.target, timeout=args.timeout, on_progress=progress))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({placing, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not placing.done():  # Ctrl-C while it rings
        for call in phone.calls.values():
            await call.hangup("cancelled by us")
    call = await placing
    stopped.cancel()
    if call.answered_at is not None:
        await _converse(call, args, stop)
    else:
        _say(f"not answered: {call.ended_by}")
    print(json.dumps(call.summary()), flush=True)
    return 0 if call.answered_at is not None else 1


async def _answer(phone: Softphone, args: argparse.Namespace, stop: asyncio.Event) -> int:
    phone.answer_after = args.answer_after
    phone.refuse_with = args.refuse
    _say("waiting for calls" + (f" ({args.calls})" if args.calls else ""))
    handled: list[asyncio.Task[bool]] = []
    stopped = asyncio.ensure_future(stop.wait())
    while args.calls is None or len(handled) < args.calls:
        incoming = asyncio.ensure_future(phone.incoming.get())
        await asyncio.wait({incoming, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not incoming.done():
            incoming.cancel()
            break
        call = incoming.result()
        _say(f"call {call.call_id} from {call.remote}")
        handled.append(asyncio.ensure_future(_take(call, args, stop)))
    results = await asyncio.gather(*handled)
    stopped.cancel()
    return 0 if all(results) and (args.refuse is not None or results) else 1


async def _take(call: PhoneCall, args: argparse.Namespace, stop: asyncio.Event) -> bool:
    answered = asyncio.ensure_future(call.answered.wait())
    await asyncio.wait({answered, asyncio.ensure_future(call.ended.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if answered.done():
        await _converse(call, args, stop)
    else:
        answered.cancel()
        _say(f"call {call.call_id}: {call.ended_by}")
    print(json.dumps(call.summary()), flush=True)
    return call.answered_at is not None or (args.refuse is not None and call.status == args.refuse)


async def _converse(call: PhoneCall, args: argparse.Namespace, stop: asyncio.Event) -> None:
    """From the answer to the end: digits, then until the other side hangs up, --hangup-after, or Ctrl-C."""
    _say(f"answered ({call.media.codec.name if call.media else '?'})")
    if args.dtmf:
        loop = asyncio.get_running_loop()
        loop.call_later(args.dtmf_after, lambda: call.send_digits(args.dtmf))
    waits = {asyncio.ensure_future(call.ended.wait()), asyncio.ensure_future(stop.wait())}
    await asyncio.wait(waits, timeout=args.hangup_after, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    if not call.ended.is_set():
        await call.hangup()
    _say(f"call ended after {call.duration} s: {call.ended_by}")
