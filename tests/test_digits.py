"""What counts as a number in text from outside."""

from __future__ import annotations

import pytest

from calltape.digits import is_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", True), ("5060", True), ("", False), ("²", False), ("٣", False), ("9" * 18, True), ("9" * 19, False)],
)
def test_only_ascii_digits_are_a_number(text: str, expected: bool) -> None:
    assert is_number(text) is expected
