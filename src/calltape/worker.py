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
import logging
import re
import socket
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


_PASSED, _WRITE = b"P", b"W"  # a message for the owner of its dialog; one to write on a connection held here


class Router:
    """Passes a message that belongs to another worker's dialog on to that worker, and a message for a connection
    another worker holds on to that worker."""

    def __init__(
        self,
        worker: Worker,
        deliver: Callable[[bytes, Peer, int], bool],
        write_held: Callable[[bytes, Peer], bool] = lambda data, peer: False,
    ) -> None:
        self.worker = worker
        self.deliver = deliver  # a message passed on to us: taken here (the worker holding its connection given)
        self.write_held = write_held  # a message to write on a connection of ours: False if we hold none
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(worker.address(worker.index))
        self.sock.setblocking(False)
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

    def pass_on(self, data: bytes, peer: Peer) -> bool:
        """False if this worker owns *data*'s dialog (or it has no Call-ID, or its owner is gone); else it goes to
        the owner."""
        match = _CALL_ID.search(data)
        if match is None:
            return False
        owner = self.worker.owner(match.group(1))
        if owner == self.worker.index:
            return False
        try:
            self.sock.sendto(self._header(_PASSED, peer) + data, self.worker.address(owner))
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
        except OSError as exc:  # its queue is full: UDP drops it, the sender retransmits
            why = "cannot pass a datagram to worker %d: %s"
            throttle.log(log, logging.WARNING, ("pass-on", owner), why, owner, exc)
        return True

    def write_on(self, holder: int | None, data: bytes, peer: Peer) -> None:
        """Have the worker *holder* (None: whichever sibling holds it) write *data* on its connection to *peer*."""
        siblings = [holder] if holder is not None else [i for i in range(self.worker.count) if i != self.worker.index]
        for index in siblings:
            try:
                self.sock.sendto(self._header(_WRITE, peer) + data, self.worker.address(index))
            except OSError as exc:
                throttle.log(log, logging.WARNING, ("write-on", index), "cannot reach worker %d: %s", index, exc)

    def _header(self, kind: bytes, peer: Peer) -> bytes:
        return kind + f" {self.worker.index} {peer.transport} {peer.host} {peer.port}\n".encode()

    def _readable(self, *, everything: bool = False) -> None:
        for _ in range(1_000_000 if everything else 64):
            try:
                packet = self.sock.recv(65600)
            except (BlockingIOError, InterruptedError):
                return
            head, _, data = packet.partition(b"\n")
            kind, sender, transport, host, port = head.decode().split(" ")
            peer = Peer(transport, host, int(port))
            if kind == _PASSED.decode():
                self.deliver(data, peer, int(sender))
            elif not self.write_held(data, peer) and transport != "udp":
                throttle.log(log, logging.DEBUG, ("not-held", host, port), "no connection to %s:%s here", host, port)
