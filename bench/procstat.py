"""CPU time and memory of the server processes under test, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path


def process_tree(pid: int) -> list[int]:
    """*pid* and its direct children (e.g. uvicorn's worker processes)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time of the processes (all their threads)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(*pids: int) -> float:
    """Resident memory of the processes, in MiB."""
    kib = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                kib += int(line.split()[1])
    return round(kib / 1024, 1)


def udp_drops(ports: range) -> int:
    """Datagrams the kernel dropped (full receive buffer) on the UDP sockets bound to *ports*: /proc/net/udp."""
    dropped = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) in ports:
                dropped += int(fields[-1])
    return dropped


def machine_cpu() -> dict[str, float]:
    """Machine-wide CPU seconds by kind since boot (the ``cpu`` line of /proc/stat)."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return {name: int(value) / os.sysconf("SC_CLK_TCK") for name, value in zip(names, fields, strict=False)}
