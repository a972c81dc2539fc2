"""RTP port ranges for tests that run side by side (pytest-xdist workers).

Each test module names its own fixed range inside ``NOMINAL`` (24000–27799); worker N gets it moved into a
band of its own, 3,800 ports lower per worker, below calltape's default range (16384–32767, which servers
started without ``--rtp-ports`` use) and the kernel's ephemeral ports (32768 and up) that phones and SIPp bind.
Two modules that run at the same time in different workers therefore never share a port. Four bands fit
between 1024 and 16383: ``make test`` runs four workers.
"""

from __future__ import annotations

import os

NOMINAL = (24000, 27799)
SPAN = NOMINAL[1] - NOMINAL[0] + 1
FIRST_BAND = 16384 - SPAN  # worker 0's band: 12584–16383; 1: 8784–12583; 2: 4984–8783; 3: 1184–4983


def _worker() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw2" under xdist; unset in a plain run
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


def rtp_range(low: int, high: int) -> tuple[int, int]:
    """This worker's place for the nominal range *low*–*high*."""
    assert NOMINAL[0] <= low <= high <= NOMINAL[1], f"test RTP range {low}-{high} outside {NOMINAL}"
    shift = NOMINAL[0] - FIRST_BAND + SPAN * _worker()
    assert low - shift >= 1024, "more xdist workers than the test RTP bands allow (four)"
    return low - shift, high - shift


def rtp_ports(low: int, high: int) -> str:
    """``--rtp-ports`` for this worker."""
    first, last = rtp_range(low, high)
    return f"{first}-{last}"
