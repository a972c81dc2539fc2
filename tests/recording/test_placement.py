"""Laying a block's frames on the timeline in one slice (``Placement._place_run``) gives what placing them one by one
gives: the same audio handed out and the same counts, for runs that start before ``base`` (a block laid out again,
or late), across it, after it, before ``start``, past the limit, and over frames already written."""

from __future__ import annotations

import random
from array import array

import pytest

from calltape.recording.capture_file import IN, OUT, Block
from calltape.recording.placement import Placement

START, END = 10_000, 10_000 + 12 * 8000


def run_block(first: int, count: int, size: int, kind: int, seed: int) -> Block:
    payload = random.Random(seed).randbytes(count * size)
    positions = array("q", range(first, first + count * size, size))
    return Block(kind, "PCMU", first + count * size, positions, array("H", [size] * count), payload, count)


def laid_out(blocks: list[tuple[Block, bool, int]], *, in_one_slice: bool) -> tuple[list[tuple[bytes, bytes]], dict]:
    placement = Placement(START, END, "PCMU")
    if not in_one_slice:
        placement._place_run = lambda *args: False  # type: ignore[method-assign]
    out: list[tuple[bytes, bytes]] = []
    for block, counted, hand_out_to in blocks:
        placement.add(block, counted=counted)
        out += list(placement.upto(hand_out_to))
    out += list(placement.rest(END))
    return out, placement.counts.as_document()


@pytest.mark.parametrize("seed", range(40))
def test_a_run_laid_in_one_slice_gives_what_frame_by_frame_gives(seed: int) -> None:
    rng = random.Random(seed)
    blocks = []
    handed = START
    for index in range(12):
        size = rng.choice([160, 160, 80, 240])
        first = rng.choice(
            [
                handed + rng.randrange(-3 * size, 3 * size),  # around base: before it, across it, after it
                START - rng.randrange(0, 4 * size),  # before start
                END - rng.randrange(0, 4 * size),  # across the limit
                rng.randrange(START - 800, END),
            ]
        )
        handed = min(END, max(handed, handed + rng.choice([0, 0, 577, 8000])))
        blocks.append(
            (
                run_block(first, rng.randrange(1, 60), size, rng.choice([IN, OUT]), seed * 100 + index),
                rng.random() < 0.8,
                handed,
            )
        )
    assert laid_out(blocks, in_one_slice=True) == laid_out(blocks, in_one_slice=False)


def test_a_block_laid_out_again_from_a_restart_inside_it_is_one_slice() -> None:
    """As the next piece of an MP3 encoded ahead lays out the blocks around its restart (a frame boundary of the
    MP3, here in the middle of an RTP frame)."""
    block = run_block(START, 50, 160, IN, 1)
    restart = START + 2880 + 80
    placement = Placement(restart, END, "PCMU")
    calls: list[object] = []
    place = placement._place
    placement._place = lambda *args: calls.append(args) or place(*args)  # type: ignore[method-assign]
    placement.add(block)
    said = b"".join(s for s, _ in placement.rest(START + 8000))
    assert calls == []  # one slice, not frame by frame
    assert said == block.payload[restart - START :]
    assert placement.counts.written == 50 - 18 and placement.counts.left_out["before_start"] == 18
