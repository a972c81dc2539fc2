"""Checking a callflow document before it is saved: every error names its path in the document."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

import calltape.callflow.modules  # noqa: F401 - registers the modules
from calltape.callflow.module import MODULES
from calltape.patterns import is_valid

MAX_DEPTH = 64


class CallflowInvalidError(ValueError):
    """The document has errors: ``errors`` maps a path (``flow.children._.data.text``) to a reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def child_nodes(node: dict[str, Any]) -> dict[str, Any]:
    """A node's children by branch; a bare node given as ``children`` is the ``_`` branch."""
    children = node.get("children") or {}
    if isinstance(children, dict) and "module" in children:
        return {"_": children}
    return children if isinstance(children, dict) else {}


def validate_callflow(doc: dict[str, Any]) -> list[str]:
    """Raise CallflowInvalidError listing every problem, or return warnings."""
    errors: dict[str, str] = {}
    warnings: list[str] = []
    numbers = doc.get("numbers", [])
    if not isinstance(numbers, list) or not all(isinstance(n, str) and n for n in numbers):
        errors["numbers"] = "must be a list of non-empty strings"
    elif len(set(numbers)) != len(numbers):
        errors["numbers"] = "has duplicates"
    patterns = doc.get("patterns", [])
    if not isinstance(patterns, list):
        errors["patterns"] = "must be a list of regular expressions"
    else:
        for i, pattern in enumerate(patterns):
            problem = is_valid(pattern) if isinstance(pattern, str) else "must be a string"
            if problem is not None:
                errors[f"patterns.{i}"] = problem
    if "flow" not in doc:
        errors["flow"] = "Field required"
    else:
        _walk(doc["flow"], "flow", 0, errors, warnings)
    if errors:
        raise CallflowInvalidError(errors)
    return warnings


def _walk(node: Any, path: str, depth: int, errors: dict[str, str], warnings: list[str]) -> None:
    if depth > MAX_DEPTH:
        errors[path] = f"nested deeper than {MAX_DEPTH} levels"
        return
    if not isinstance(node, dict):
        errors[path] = "must be an object with a module"
        return
    name = node.get("module")
    module = MODULES.get(name) if isinstance(name, str) else None
    if module is None:
        errors[f"{path}.module"] = f"unknown module {name!r}" if name else "Field required"
    else:
        try:
            module.data_model.model_validate(node.get("data") or {})
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                errors[f"{path}.data.{loc}" if loc else f"{path}.data"] = err["msg"]
    children = node.get("children") or {}
    if not isinstance(children, dict):
        errors[f"{path}.children"] = "must be an object of branch: node"
        return
    if "module" in children:
        warnings.append(f"{path}.children: a bare node is run as the '_' branch; write {{\"_\": {{...}}}}")
        _walk(children, f"{path}.children", depth + 1, errors, warnings)
        return
    for branch, child in children.items():
        _walk(child, f"{path}.children.{branch}", depth + 1, errors, warnings)
