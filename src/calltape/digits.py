"""Decimal numbers in text from outside: ASCII digits only.

``str.isdigit()`` is also true for "²" and "٣", which ``int()`` then refuses (or reads as another digit): a
check that lets those through turns hostile input into a traceback. Use :func:`is_number` instead.
"""

from __future__ import annotations


def is_number(text: str) -> bool:
    """True if *text* is one or more ASCII digits."""
    return text.isascii() and text.isdigit()
