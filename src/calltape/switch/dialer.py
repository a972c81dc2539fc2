"""Ringing targets: simultaneously (a fork) or one after another; the first to answer wins.

The others get CANCEL (a 2xx that still comes from one of them is ACKed and hung up by its leg).
A target that needs confirming (a forwarded call's keypress) wins only once ``confirm(leg)`` says yes;
the others ring on meanwhile, and a refused one is hung up. The outcome is the winning leg, or why there
is none: 486 when every target that answered was busy, 480 when nobody answered (or confirmed) in time
or nothing was reachable, 487 when the caller gave up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from calltape.media.clock import MediaTimeline
from calltape.switch.leg import LegHost
from calltape.switch.outbound import OutboundLeg, Target

log = logging.getLogger(__name__)

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
    on_early_media: Callable[[OutboundLeg], None] = lambda leg: None,
    timeline: MediaTimeline | None = None,
    confirm: Callable[[OutboundLeg], Awaitable[bool]] | None = None,
) -> DialOutcome:
    """Ring *targets*; ``single`` rings them in turn, each for *timeout* seconds. The legs' taps use *timeline*.

    ``on_ringing()`` is called once, when the first target rings; ``on_early_media(leg)`` once, for the first
    leg whose early media (183 with SDP) flows and that may be heard; ``confirm(leg)`` for an answered leg
    whose target asks for it (without *confirm*, such a leg wins as any other)."""
    ring = _Ring(host, local_address, timeout, _Notify(on_ringing, on_early_media), timeline, confirm)
    if strategy == "single":
        statuses = []
        for target in targets:
            outcome = await ring.fork([target])
            if outcome.leg is not None:
                return outcome
            statuses.append(outcome.status)
        return DialOutcome(None, _overall(statuses))
    return await ring.fork(targets)


@dataclass
class _Ring:
    host: LegHost
    local_address: str
    timeout: float
    notify: _Notify
    timeline: MediaTimeline | None
    confirm: Callable[[OutboundLeg], Awaitable[bool]] | None

    async def fork(self, targets: list[Target]) -> DialOutcome:
        """Ring *targets* at once until one answers (and confirms, where asked) or the time is up."""
        legs = [OutboundLeg(self.host, target, target.local_address or self.local_address) for target in targets]
        for leg in legs:
            leg.timeline = self.timeline
        outcomes: dict[asyncio.Future[Any], OutboundLeg] = {leg.outcome: leg for leg in legs}
        confirming: dict[asyncio.Future[Any], OutboundLeg] = {}
        watchers: dict[asyncio.Future[Any], tuple[str, OutboundLeg]] = {}
        for leg in legs:
            watchers[asyncio.ensure_future(leg.ringing.wait())] = ("ringing", leg)
            if leg.target.early_media:
                watchers[asyncio.ensure_future(leg.early.wait())] = ("early", leg)
        winner: OutboundLeg | None = None
        statuses: list[int] = []
        loop = asyncio.get_running_loop()
        try:
            for leg in legs:
                leg.ring()
            deadline = loop.time() + self.timeout
            while (outcomes or confirming) and winner is None:
                remaining = deadline - loop.time()
                if remaining <= 0 and not confirming:
                    break
                # once the time is up, only a confirmation under way is waited for (it has its own limit)
                waiting = {*confirming} if remaining <= 0 else {*outcomes, *watchers, *confirming}
                done, _ = await asyncio.wait(
                    waiting, timeout=remaining if remaining > 0 else None, return_when=asyncio.FIRST_COMPLETED
                )
                for future in done:
                    if future in outcomes:
                        leg = outcomes.pop(future)
                        status = future.result()
                        if status != 200:
                            statuses.append(status)
                        elif leg.target.confirm and self.confirm is not None:
                            confirming[asyncio.ensure_future(self.confirm(leg))] = leg
                        elif winner is None:
                            winner = leg
                    elif future in confirming:
                        leg = confirming.pop(future)
                        error = future.exception()
                        if error is not None:
                            log.error("call-id %s: confirming the answer failed: %r", leg.call_id, error)
                        if error is None and future.result() and winner is None:
                            winner = leg
                        else:
                            statuses.append(480)
                            self.host.spawn(leg.hangup())
                    elif future in watchers:
                        kind, leg = watchers.pop(future)
                        self.notify(kind, leg)
            return DialOutcome(winner, 200 if winner else _overall(statuses))
        finally:
            for task in [*watchers, *confirming]:
                task.cancel()
            for leg in legs:
                if leg is not winner:
                    leg.cancel()
                    if leg.outcome.done() and leg.outcome.result() == 200:
                        self.host.spawn(leg.hangup())  # answered at the same moment as the winner


class _Notify:
    """Tells the caller's side once that something rings, and once that early media flows."""

    def __init__(self, on_ringing: Callable[[], None], on_early_media: Callable[[OutboundLeg], None]) -> None:
        self.on_ringing = on_ringing
        self.on_early_media = on_early_media
        self.told: set[str] = set()

    def __call__(self, kind: str, leg: OutboundLeg) -> None:
        if kind in self.told:
            return
        self.told.add(kind)
        if kind == "ringing":
            self.on_ringing()
        else:
            self.on_early_media(leg)


def _overall(statuses: list[int]) -> int:
    if statuses and all(s in BUSY for s in statuses):
        return 486
    return 480
