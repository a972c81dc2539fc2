"""Decimal numbers in text from outside: ASCII digits only.

``str.isdigit()`` is also true for "²" and "٣", which ``int()`` then refuses (or reads as another digit): a
check that lets those through turns hostile input into a traceback. Use :func:`is_number` instead.
"""

from __future__ import annotations


def is_number(text: str, max_digits: int | None = 18) -> bool:
    """True if *text* is one to *max_digits* ASCII digits (bounded: ``int()`` of thousands of digits raises)."""
    return text.isascii() and text.isdigit() and (max_digits is None or len(text) <= max_digits)
