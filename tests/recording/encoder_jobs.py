"""Jobs for the encoder pool's tests: module-level, so an encoder process (a fresh interpreter) finds them."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path


def where() -> tuple[int, int]:
    """(this process's id, its niceness)."""
    return os.getpid(), os.nice(0)


def fail_with_full_disk(path: str) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", path)


def wait_for(path: str) -> int:
    """Say this process's id in ``path + '.pid'``, then wait until *path* exists: its id."""
    Path(path + ".pid").write_text(str(os.getpid()))
    while not Path(path).exists():
        time.sleep(0.01)
    return os.getpid()


def unsendable() -> object:
    return lambda: None  # a lambda does not pickle


def square(n: int) -> int:
    return n * n
