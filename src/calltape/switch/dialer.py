"""Ringing targets: simultaneously (a fork) or one after another; the first to answer wins.

The others get CANCEL (a 2xx that still comes from one of them is ACKed and hung up by its leg).
The outcome is the winning leg, or why there is none: 486 when every target that answered was busy,
480 when nobody answered in time or nothing was reachable, 487 when the caller gave up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from calltape.media.clock import MediaTimeline
from calltape.switch.leg import LegHost
from calltape.switch.outbound import OutboundLeg, Target

BUSY = frozenset({486, 600, 603})


@dataclass(frozen=True)
class DialOutcome:
    """The answered leg, or the status that says why none answered."""

    leg: OutboundLeg | None
    status: int


async def dial(
    host: LegHost,
    targets: list[Target],
    local_address: str,
    *,
    timeout: float,
    strategy: str = "simultaneous",
    on_ringing: Callable[[], None] = lambda: None,
    timeline: MediaTimeline | None = None,
) -> DialOutcome:
    """Ring *targets*; ``single`` rings them in turn, each for *timeout* seconds. The legs' taps use *timeline*."""
    if strategy == "single":
        statuses = []
        for target in targets:
            outcome = await _fork(host, [target], local_address, timeout, on_ringing, timeline)
            if outcome.leg is not None:
                return outcome
            statuses.append(outcome.status)
        return DialOutcome(None, _overall(statuses))
    return await _fork(host, targets, local_address, timeout, on_ringing, timeline)


async def _fork(
    host: LegHost,
    targets: list[Target],
    local_address: str,
    timeout: float,
    on_ringing: Callable[[], None],
    timeline: MediaTimeline | None,
) -> DialOutcome:
    legs = [OutboundLeg(host, target, local_address) for target in targets]
    for leg in legs:
        leg.timeline = timeline
    outcomes: dict[asyncio.Future[Any], OutboundLeg] = {leg.outcome: leg for leg in legs}
    ringing: set[asyncio.Future[Any]] = {asyncio.ensure_future(leg.ringing.wait()) for leg in legs}
    winner: OutboundLeg | None = None
    statuses: list[int] = []
    try:
        for leg in legs:
            leg.ring()
        deadline = asyncio.get_running_loop().time() + timeout
        while outcomes and winner is None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            waiting: set[asyncio.Future[Any]] = {*outcomes, *ringing}
            done, _ = await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                if future in outcomes:
                    leg = outcomes.pop(future)
                    status = future.result()
                    if status == 200 and winner is None:
                        winner = leg
                    else:
                        statuses.append(status)
                elif ringing:  # the caller is told once that something rings
                    for task in ringing:
                        task.cancel()
                    ringing = set()
                    on_ringing()
        return DialOutcome(winner, 200 if winner else _overall(statuses))
    finally:
        for task in ringing:
            task.cancel()
        for leg in legs:
            if leg is not winner:
                leg.cancel()
                if leg.outcome.done() and leg.outcome.result() == 200:
                    host.spawn(leg.hangup())  # answered at the same moment as the winner


def _overall(statuses: list[int]) -> int:
    if statuses and all(s in BUSY for s in statuses):
        return 486
    return 480
