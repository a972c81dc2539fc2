"""This process's place among the ``serve --workers N`` processes, and the passing of datagrams between them.

Every worker binds the same SIP port (SO_REUSEPORT), so the kernel may hand a datagram of one worker's
dialog to another: the :class:`Router` passes it on to its owner, chosen by a hash of the Call-ID. A dialog
a worker starts gets a Call-ID that this hash gives to the worker itself (:meth:`Worker.new_call_id`).

A TCP, TLS or WebSocket connection stays with the worker that accepted it, so a message that comes on it for
another worker's dialog is passed on the same way, saying which worker holds the connection; and what the owner
sends back goes to that worker, which writes it on the connection (a phone registered over TLS or WebSocket is rung
by whichever worker the call landed on). A worker that must reach a phone on its connection and does not know who
holds it asks every sibling: the one that holds it writes, the others drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from calltape.logs import throttle
from calltape.sip.events import Peer

log = logging.getLogger(__name__)

SIBLINGS_START = 30.0  # seconds after which a sibling worker that refuses datagrams has stopped, not yet to start
_CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\s]+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Worker:
    """This process's place among the workers."""

    index: int = 0
    count: int = 1
    group: str = ""  # names the Unix sockets of one ``serve``: "<the supervisor's pid>-<random>"

    @property
    def supervisor(self) -> int:
        """The supervisor's process id (0 for a lone process)."""
        pid, _, _ = self.group.partition("-")
        return int(pid) if pid.isdigit() else 0

    def owner(self, call_id: bytes) -> int:
        """The worker that owns the dialog with this Call-ID."""
        return zlib.crc32(call_id) % self.count

    def owns(self, call_id: str) -> bool:
        """True if this worker owns *call_id*'s dialog."""
        return self.count == 1 or self.owner(call_id.encode()) == self.index

    def address(self, index: int) -> str:
        """The abstract Unix socket of worker *index*."""
        return f"\0calltape-{self.group}-{index}"

    def new_call_id(self) -> str:
        """A Call-ID for a dialog this process starts, owned by this worker (about N draws)."""
        while True:
            call_id = f"{uuid.uuid4().hex}@calltape"
            if self.owns(call_id):
                return call_id


def spool_dir(data_dir: Path, index: int) -> Path:
    """Worker *index*'s recording spool: worker 0 keeps ``spool``, so its node is the single-process node."""
    return data_dir / ("spool" if index == 0 else f"spool-w{index}")


PASSED, WRITE, LACKING, CLOSED = "P", "W", "N", "C"  # the kinds of message between siblings (see Router)
RETRY_DELAY = 0.005  # seconds before a message for a connection is sent again to a sibling whose queue was full
MAX_RETRIES = 10_000  # such messages waiting at most (beyond: dropped, logged)


class RouterHost(Protocol):
    """What the router hands messages to: this worker's SIP transport."""

    def deliver_passed(self, data: bytes, peer: Peer, holder: int | None) -> bool:
        """A message passed on to us, its dialog's owner (*holder*: the worker holding its connection)."""

    def write_held(self, data: bytes, peer: Peer) -> bool:
        """Write *data* on our connection to *peer*; False if we hold none."""

    def sibling_lacks(self, peer: Peer, sibling: int) -> None:
        """*sibling*, asked to write to *peer*, holds no connection to it."""

    def sibling_closed(self, peer: Peer, sibling: int) -> None:
        """*sibling*'s connection to *peer* is closed."""


class Router:
    """Passes a message that belongs to another worker's dialog on to that worker, and a message for a connection
    another worker holds on to that worker.

    Between siblings, one datagram per message: ``<kind> <sender> <transport> <host> <port> <held>\n`` and the
    message. ``P``: a message for its dialog's owner (``held`` 1: over a connection the sender accepted, so the
    owner may have it write there); ``W``: write this on your connection to that peer; ``N``: I hold none (the
    answer to a ``W``); ``C``: my connection to that peer is closed. A message of a connection is never dropped
    for a sibling's full queue (nothing would send it again): it is sent again a moment later."""

    def __init__(self, worker: Worker, host: RouterHost) -> None:
        self.worker = worker
        self.host = host
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(worker.address(worker.index))
        self.sock.setblocking(False)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self._incoming = bytearray(1 << 17)  # a whole message (64 kB at most) and its header
        self._retry: deque[tuple[bytes, int]] = deque()
        self._retrying = False
        self.passed_on = 0
        self._reached: set[int] = set()  # workers a datagram reached: one refusing now has stopped
        self.draining: Callable[[], bool] = lambda: False  # this serve drains: a worker refusing has ended
        self._started = time.monotonic()

    def start(self) -> None:
        """Take datagrams passed on by the other workers."""
        self._started = time.monotonic()
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        """Stop taking datagrams — after taking those already passed on to us: closed with them unread, they
        would be lost (an INVITE a phone does not send again would never be answered)."""
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self._readable(everything=True)
        self.sock.close()

    def pass_on(self, data: bytes, peer: Peer, held: bool = False) -> bool:
        """False if this worker owns *data*'s dialog (or it has no Call-ID, or its owner is gone); else it goes to
        the owner (*held*: it came on a connection this worker accepted, which the owner may write on)."""
        match = _CALL_ID.search(data)
        if match is None:
            return False
        owner = self.worker.owner(match.group(1))
        if owner == self.worker.index:
            return False
        try:
            self.sock.sendto(self._header(PASSED, peer, held) + data, self.worker.address(owner))
            self.passed_on += 1
            self._reached.add(owner)
        except ConnectionRefusedError:
            settled = time.monotonic() - self._started > SIBLINGS_START  # every sibling was up by then
            if owner in self._reached or self.draining() or settled:  # it was up (or we all drain), is gone: ours
                throttle.log(
                    log, logging.INFO, ("owner-gone", owner), "worker %d is gone: its datagrams are ours", owner
                )
                return False
            throttle.log(log, logging.INFO, ("owner-starting", owner), "worker %d is not up yet: dropped", owner)
        except OSError as exc:
            if peer.reliable:  # nothing would send it again: it waits for room in the owner's queue
                self._send_later(self._header(PASSED, peer, held) + data, owner)
            else:  # its queue is full: UDP drops it, the sender retransmits
                why = "cannot pass a datagram to worker %d: %s"
                throttle.log(log, logging.WARNING, ("pass-on", owner), why, owner, exc)
        return True

    def write_on(self, holder: int | None, data: bytes, peer: Peer) -> None:
        """Have the worker *holder* (None: whichever sibling holds it) write *data* on its connection to *peer*;
        one that holds none says so (:meth:`RouterHost.sibling_lacks`)."""
        for index in [holder] if holder is not None else self.siblings:
            self._send(self._header(WRITE, peer) + data, index)

    def closed(self, peer: Peer) -> None:
        """Our connection to *peer* (one we accepted) is closed: the siblings forget that we held it."""
        for index in self.siblings:
            self._send(self._header(CLOSED, peer), index)

    @property
    def siblings(self) -> list[int]:
        """The other workers."""
        return [index for index in range(self.worker.count) if index != self.worker.index]

    def _header(self, kind: str, peer: Peer, held: bool = False) -> bytes:
        return f"{kind} {self.worker.index} {peer.transport} {peer.host} {peer.port} {int(held)}\n".encode()

    def _send(self, datagram: bytes, index: int) -> None:
        try:
            self.sock.sendto(datagram, self.worker.address(index))
        except BlockingIOError:
            self._send_later(datagram, index)
        except OSError as exc:  # gone (refused): what it held is gone with it
            throttle.log(log, logging.INFO, ("sibling", index), "cannot reach worker %d: %s", index, exc)

    def _send_later(self, datagram: bytes, index: int) -> None:
        if len(self._retry) >= MAX_RETRIES:
            throttle.log(log, logging.ERROR, "retry-full", "worker %d's queue stays full: a message was lost", index)
            return
        self._retry.append((datagram, index))
        if not self._retrying:
            self._retrying = True
            asyncio.get_running_loop().call_later(RETRY_DELAY, self._send_waiting)

    def _send_waiting(self) -> None:
        self._retrying = False
        waiting, self._retry = self._retry, deque()
        for datagram, index in waiting:
            self._send(datagram, index)

    def _readable(self, *, everything: bool = False) -> None:
        view = memoryview(self._incoming)
        for _ in range(1_000_000 if everything else 64):
            try:
                size = self.sock.recv_into(self._incoming)
            except (BlockingIOError, InterruptedError):
                return
            end = self._incoming.find(b"\n", 0, size)
            try:
                kind, sender_text, transport, host, port_text, held = bytes(view[:end]).decode().split(" ")
                sender, peer = int(sender_text), Peer(transport, host, int(port_text))
            except ValueError:  # not a sibling's (a local process writing to our socket): ignored
                continue
            data = bytes(view[end + 1 : size])
            if kind == PASSED:
                self.host.deliver_passed(data, peer, sender if held == "1" else None)
            elif kind == WRITE:
                if not self.host.write_held(data, peer):
                    self._send(self._header(LACKING, peer), sender)
            elif kind == LACKING:
                self.host.sibling_lacks(peer, sender)
            elif kind == CLOSED:
                self.host.sibling_closed(peer, sender)
