"""Ringing targets: simultaneously (a fork) or one after another; the first to answer wins.

A target may start ringing some seconds in (``delay``) and ring for its own ``timeout`` (a ring group's members);
the whole fork ends at the dial's timeout. The others get CANCEL (a 2xx that still comes from one of them is ACKed
and hung up by its leg). A target that needs confirming (a forwarded call's keypress) wins only once
``confirm(leg)`` says yes; the others ring on meanwhile, and a refused one is hung up. The outcome is the winning
leg, or why there is none: the SIP status every answering target gave when they agree (486 when all were busy),
else the last one; ``NO_ANSWER`` when a target was still ringing when its time ran out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from calltape.media.clock import MediaTimeline
from calltape.sip.causes import NO_ANSWER, cause_of
from calltape.switch.call_types import BUSY_STATUSES
from calltape.switch.leg import LegHost
from calltape.switch.outbound import OutboundLeg, Target

log = logging.getLogger(__name__)

CANCELLED = 487


@dataclass(frozen=True)
class DialOutcome:
    """The answered leg, or why none answered: the Q.850 cause and the SIP status behind it (None for
    ``NO_ANSWER``, and when there was nothing to ring)."""

    leg: OutboundLeg | None
    cause: str = ""
    status: int | None = None


async def dial(
    host: LegHost,
    targets: list[Target],
    local_address: str,
    *,
    timeout: float,
    strategy: str = "simultaneous",
    fail_on_single_reject: bool = False,
    stop_on: frozenset[int] = frozenset(),
    on_ringing: Callable[[], None] = lambda: None,
    on_early_media: Callable[[OutboundLeg], None] = lambda leg: None,
    timeline: MediaTimeline | None = None,
    confirm: Callable[[OutboundLeg], Awaitable[bool]] | None = None,
) -> DialOutcome:
    """Ring *targets*; ``single`` rings them in turn, each for its own timeout or *timeout*. The legs' taps use
    *timeline*. With *fail_on_single_reject*, the first target to refuse ends the attempt; in turn, so does one
    that answers with a status in *stop_on* (a carrier's busy callee is busy through every gateway).

    ``on_ringing()`` is called once, when the first target rings; ``on_early_media(leg)`` once, for the first
    leg whose early media (183 with SDP) flows and that may be heard; ``confirm(leg)`` for an answered leg
    whose target asks for it (without *confirm*, such a leg wins as any other)."""
    ring = _Ring(host, local_address, timeout, _Notify(on_ringing, on_early_media), timeline, confirm)
    if strategy == "single":
        failures: list[DialOutcome] = []
        for target in targets:
            outcome = await ring.fork([target], single=True)
            if outcome.leg is not None:
                return outcome
            failures.append(outcome)
            if outcome.status is not None and (fail_on_single_reject or outcome.status in stop_on):
                break
        return _overall(failures)
    return await ring.fork(targets, fail_on_single_reject=fail_on_single_reject)


@dataclass
class _Ring:
    host: LegHost
    local_address: str
    timeout: float
    notify: _Notify
    timeline: MediaTimeline | None
    confirm: Callable[[OutboundLeg], Awaitable[bool]] | None
    legs: list[OutboundLeg] = field(default_factory=list)

    def _start(self, target: Target) -> OutboundLeg:
        leg = OutboundLeg(self.host, target, target.local_address or self.local_address)
        leg.timeline = self.timeline
        self.legs.append(leg)
        leg.ring()
        return leg

    async def fork(
        self, targets: list[Target], *, single: bool = False, fail_on_single_reject: bool = False
    ) -> DialOutcome:
        """Ring *targets* at once (each from its delay, for its timeout) until one answers (and confirms, where
        asked), one refuses with *fail_on_single_reject*, or the time is up. *single*: the one target rings for
        its own timeout, not bounded by the dial's."""
        loop = asyncio.get_running_loop()
        begun = loop.time()
        deadline = begun + (max((t.timeout or self.timeout) + t.delay for t in targets) if single else self.timeout)
        waiting = sorted(targets, key=lambda t: t.delay)  # not ringing yet
        stops: dict[OutboundLeg, float] = {}  # when each ringing leg's own time is up
        outcomes: dict[asyncio.Future[Any], OutboundLeg] = {}
        confirming: dict[asyncio.Future[Any], OutboundLeg] = {}
        watchers: dict[asyncio.Future[Any], tuple[str, OutboundLeg]] = {}
        winner: OutboundLeg | None = None
        failures: list[DialOutcome] = []
        try:
            while winner is None:
                now = loop.time()
                while waiting and begun + waiting[0].delay <= now < deadline:
                    target = waiting.pop(0)
                    leg = self._start(target)
                    stops[leg] = begun + target.delay + (target.timeout or self.timeout)
                    outcomes[leg.outcome] = leg
                    watchers[asyncio.ensure_future(leg.ringing.wait())] = ("ringing", leg)
                    if target.early_media:
                        watchers[asyncio.ensure_future(leg.early.wait())] = ("early", leg)
                for future, leg in list(outcomes.items()):
                    if stops[leg] <= now and not future.done():  # this one rang its time: no answer
                        del outcomes[future]
                        leg.cancel()
                        failures.append(DialOutcome(None, NO_ANSWER))
                if now >= deadline:
                    if outcomes or waiting:
                        failures.append(DialOutcome(None, NO_ANSWER))
                    outcomes.clear()
                    waiting.clear()
                if not (outcomes or confirming or waiting):
                    break
                # once the time is up, only a confirmation under way is waited for (it has its own limit)
                next_at = min([deadline, *(stops[leg] for leg in outcomes.values())])
                if waiting:
                    next_at = min(next_at, begun + waiting[0].delay)
                pending = {*outcomes, *watchers, *confirming} if now < deadline else {*confirming}
                if not pending:
                    await asyncio.sleep(max(0.0, next_at - now))
                    continue
                done, _ = await asyncio.wait(
                    pending,
                    timeout=max(0.0, next_at - now) if now < deadline else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for future in done:
                    if future in outcomes:
                        leg = outcomes.pop(future)
                        status = future.result()
                        if status != 200:
                            failures.append(DialOutcome(None, cause_of(status), status))
                            if fail_on_single_reject and status != CANCELLED:
                                waiting.clear()
                                outcomes.clear()
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
                            failures.append(DialOutcome(None, NO_ANSWER))
                            self.host.spawn(leg.hangup())
                    elif future in watchers:
                        kind, leg = watchers.pop(future)
                        self.notify(kind, leg)
            return DialOutcome(winner) if winner is not None else _overall(failures)
        finally:
            for task in [*watchers, *confirming]:
                task.cancel()
            for leg in self.legs:
                if leg is not winner:
                    leg.cancel()
                    if leg.outcome.done() and leg.outcome.result() == 200:
                        self.host.spawn(leg.hangup())  # answered at the same moment as the winner
            self.legs.clear()


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


def _overall(failures: list[DialOutcome]) -> DialOutcome:
    """Why a dial failed, from why each attempt did: the status they all gave (486 for a mix of busy answers),
    else ``NO_ANSWER`` if one rang out, else the last status."""
    if not failures:
        return DialOutcome(None)
    statuses = {failure.status for failure in failures}
    if len(statuses) == 1:
        return failures[0]
    if statuses <= BUSY_STATUSES:
        return DialOutcome(None, cause_of(486), 486)
    return next((f for f in failures if f.cause == NO_ANSWER), failures[-1])
