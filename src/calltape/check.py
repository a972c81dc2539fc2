"""Placeholder: being written."""

from __future__ import annotations

import argparse

HELP = "(being written)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def run(args: argparse.Namespace) -> int:
    """Not written yet."""
    print("calltape: error: not written yet")
    return 2
