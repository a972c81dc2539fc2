"""Checking callflow documents for ``/v2/accounts/{A}/callflows`` (numbers unique: the store says 409)."""

from __future__ import annotations

from typing import Any

from calltape.api.errors import ApiError
from calltape.callflow.validation import CallflowInvalidError, validate_callflow


def check_callflow(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A callflow as stored, with its warnings; ApiError(400) naming every bad path."""
    try:
        return doc, validate_callflow(doc)
    except CallflowInvalidError as exc:
        errors = {
            path: {"required" if reason == "Field required" else "invalid": {"message": reason}}
            for path, reason in exc.errors.items()
        }
        raise ApiError(400, "invalid data", errors) from None
