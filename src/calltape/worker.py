"""This process's place among the ``serve --workers N`` processes, and the passing of datagrams between them.

Every worker binds the same SIP port (SO_REUSEPORT), so the kernel may hand a datagram of one worker's
dialog to another: the :class:`Router` passes it on to its owner, chosen by a hash of the Call-ID. A dialog
a worker starts gets a Call-ID that this hash gives to the worker itself (:meth:`Worker.new_call_id`).
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


class Router:
    """Passes a UDP datagram that belongs to another worker's dialog on to that worker."""

    def __init__(self, worker: Worker, deliver: Callable[[bytes, Peer], bool]) -> None:
        self.worker = worker
        self.deliver = deliver  # SipTransport.deliver: a datagram from another worker is taken here, not passed on
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
        header = f"{peer.host} {peer.port}\n".encode()
        try:
            self.sock.sendto(header + data, self.worker.address(owner))
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

    def _readable(self, *, everything: bool = False) -> None:
        for _ in range(1_000_000 if everything else 64):
            try:
                packet = self.sock.recv(65600)
            except (BlockingIOError, InterruptedError):
                return
            head, _, data = packet.partition(b"\n")
            host, port = head.decode().split(" ")
            self.deliver(data, Peer("udp", host, int(port)))
