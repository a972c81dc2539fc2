"""Kazoo documents read as Kazoo reads them (``kz_json``'s and ``kz_term``'s casts: numbers given as strings or
floats, booleans as strings), for code that must decide exactly as Kazoo does."""

from __future__ import annotations

import math
import re
from typing import Any, Final


def _erl_round(value: float) -> int:
    """Erlang's ``round/1``: halves away from zero."""
    whole = int(abs(value) + 0.5)
    return whole if value >= 0 else -whole


_ERLANG_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


_ERLANG_FLOAT: Final = re.compile(r"[+-]?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?")


def to_int(value: Any) -> int:
    """``kz_term:to_integer/1``: integers, floats rounded, integer or float strings; anything else raises
    ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return _erl_round(value)
    if isinstance(value, str):
        if _ERLANG_INTEGER.fullmatch(value):
            return int(value)
        if _ERLANG_FLOAT.fullmatch(value):
            return _erl_round(float(value))
    raise ValueError(f"{value!r} is not an integer")


def json_int(value: Any, default: int) -> int:
    """``kz_json:get_integer_value/3``: the value cast to an integer, or *default* when missing or uncastable."""
    found = json_optional_int(value)
    return default if found is None else found


def json_optional_int(value: Any) -> int | None:
    """``kz_json:get_integer_value/2``: the value cast to an integer, or None when missing or uncastable."""
    try:
        return None if value is None else to_int(value)
    except (ValueError, OverflowError):
        return None


def json_bool(value: Any) -> bool | None:
    """``kz_json:get_boolean_value/3`` with no default: true/false (or their strings), else None."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def json_list(value: Any) -> list[Any]:
    """``kz_json:get_list_value/3`` with [] as default."""
    return value if isinstance(value, list) else []
