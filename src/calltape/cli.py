"""The ``calltape`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import NoReturn

from calltape.config import LOG_LEVELS, ConfigError, load_settings

# Commands that live in their own module: each has HELP, add_arguments(parser) and run(args) -> exit status.
TOOLS = {
    "dial": "calltape.softphone.cli",
    "demo": "calltape.demo.run",
    "check": "calltape.check",
    "verify": "calltape.verify",
    "edge-config": "calltape.edge",
    "cluster": "calltape.cluster",
    "keys": "calltape.keys",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"calltape: error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with *command*, only that command's module is imported (a command starts quicker
    without the others' imports: ``calltape verify`` needs no web server)."""
    parser = _Parser(prog="calltape", description="SIP application server that records calls.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="run the SIP server, the API and the recording pipeline")
    serve.add_argument("--config", type=Path, help="TOML file with the settings below")
    serve.add_argument("--sip", metavar="HOST:PORT", help="SIP over UDP and TCP (default 0.0.0.0:5060)")
    serve.add_argument("--sip-tls", metavar="HOST:PORT", help="SIP over TLS as well (with --tls-cert, --tls-key)")
    serve.add_argument("--sip-ws", metavar="HOST:PORT", help="SIP over WebSocket as well (browser phones, RFC 7118)")
    serve.add_argument("--sip-wss", metavar="HOST:PORT", help="SIP over secure WebSocket (with --tls-cert, --tls-key)")
    serve.add_argument("--tls-cert", metavar="FILE", help="certificate chain (PEM) for --sip-tls; read again on SIGHUP")
    serve.add_argument("--tls-key", metavar="FILE", help="its private key (PEM)")
    serve.add_argument("--tls-ca", metavar="FILE", help="CAs that TLS peers calltape calls must have (default: system)")
    serve.add_argument(
        "--recording-keys", metavar="FILE", help="keys for recordings encrypted at rest (read again on SIGHUP)"
    )
    serve.add_argument("--http", metavar="HOST:PORT", help="the REST API (default 127.0.0.1:8000)")
    serve.add_argument("--rtp-ports", metavar="LOW-HIGH", help="RTP port range (default 16384-32767)")
    serve.add_argument(
        "--data-dir", metavar="DIR", help="recordings, spool and the SQLite file (default ./calltape-data)"
    )
    serve.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://USER@HOST/DB")
    serve.add_argument("--api-token", metavar="TOKEN", help="admin token for the API (default: generated once)")
    serve.add_argument("--trusted-networks", metavar="CIDRS", help="carriers/PBXs allowed to call without auth")
    serve.add_argument(
        "--edges", metavar="CIDRS", help="edge proxies (calltape edge-config) whose word on a request's source is taken"
    )
    serve.add_argument("--media-address", metavar="IP", help="address for SDP and Contact (default: auto)")
    serve.add_argument("--rtp-timeout", metavar="SECONDS", help="hang up after this long without RTP (default 60)")
    serve.add_argument(
        "--delivery-retry-base", metavar="SECONDS", help="first retry of a failed recording upload (default 5)"
    )
    serve.add_argument(
        "--delivery-horizon",
        metavar="SECONDS",
        help="keep retrying an upload this long after the hang-up before it is failed (default 86400)",
    )
    serve.add_argument("--digest-algorithms", metavar="LIST", help="challenge order, default SHA-256,MD5")
    serve.add_argument("--workers", metavar="N", help="processes sharing the SIP port (default 1)")
    serve.add_argument("--node-id", metavar="NAME", help="this node's name in a cluster (default: host and data dir)")
    serve.add_argument(
        "--drain-timeout",
        metavar="SECONDS",
        help="after SIGTERM, calls under way may go on this long before they are hung up (default 600)",
    )
    serve.add_argument("--log-level", metavar="LEVEL", help=f"one of {', '.join(LOG_LEVELS)} (default info)")
    receiver = commands.add_parser("receiver", help="run the recording receiver (what Kazoo's url points at)")
    receiver.add_argument("--config", type=Path, help="TOML file with the settings below")
    receiver.add_argument("--listen", metavar="HOST:PORT", help="default 127.0.0.1:8080")
    receiver.add_argument("--dir", metavar="DIR", help="where recordings are stored (default ./recordings)")
    receiver.add_argument("--token", metavar="TOKEN", help="require this bearer token (or basic-auth password)")
    receiver.add_argument("--max-size", metavar="BYTES", help="largest upload accepted (default 512 MiB)")
    receiver.add_argument("--formats", metavar="LIST", help="accepted formats (default mp3,wav)")
    receiver.add_argument("--allow", metavar="CIDRS", help="only these source networks (default any)")
    receiver.add_argument("--backend", metavar="KIND", help="dir (default), s3 or postgresql")
    receiver.add_argument("--workers", metavar="N", help="processes (default 1)")
    receiver.add_argument("--log-level", metavar="LEVEL", help=f"one of {', '.join(LOG_LEVELS)} (default info)")
    for name, module in TOOLS.items():
        if command is None or command == name:
            tool = import_module(module)
            tool.add_arguments(commands.add_parser(name, help=tool.HELP, description=tool.HELP))
        else:
            commands.add_parser(name)
    return parser


def _receiver(args: argparse.Namespace) -> int:
    from calltape.receiver.server import run_receiver
    from calltape.receiver.settings import load_receiver_settings

    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config", "log_level")}
    try:
        settings = load_receiver_settings(flags, args.config)
        level = (args.log_level or "info").lower()
        if level not in LOG_LEVELS:
            raise ConfigError(f"--log-level: expected one of {', '.join(LOG_LEVELS)}, got {args.log_level!r}")
    except ConfigError as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_receiver(settings)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calltape`` console script."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = words[0] if words and words[0] in ("serve", "receiver", *TOOLS) else None
    args = build_parser(command).parse_args(words)
    if args.command == "receiver":
        return _receiver(args)
    if args.command in TOOLS:
        status: int = import_module(TOOLS[args.command]).run(args)
        return status
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    try:
        settings = load_settings(flags, args.config)
        from calltape.receiver.server import embedded_settings  # here, not at the top: a bad flag is told at once

        receiver = embedded_settings(settings.data_dir, args.config)
    except ConfigError as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    from calltape.runtime import configure_logging, install_event_loop_policy
    from calltape.service import serve
    from calltape.store.database import StoreError
    from calltape.workers import run_workers

    configure_logging(settings.log_level)
    install_event_loop_policy()

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload (TLS certificate) while starting: nothing to reload yet
    try:
        if settings.workers > 1:
            return run_workers(settings, receiver)
        asyncio.run(serve(settings, receiver))
    except StoreError as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"calltape: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
