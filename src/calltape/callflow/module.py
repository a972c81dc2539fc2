"""What a callflow module is, and the registry of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from calltape.callflow.call_api import CallApi


class ModuleData(BaseModel):
    """Base of every module's ``data``; unknown keys are kept (Kazoo documents carry many)."""

    model_config = ConfigDict(extra="allow")
    skip_module: bool = False


@dataclass(frozen=True)
class Jump:
    """Returned by a module to continue in another callflow of the account."""

    callflow_id: str


#: The child to run next: its key; keys in order of preference (the first the node has); another callflow; or
#: None for ``_``.
Branch = str | tuple[str, ...] | Jump | None


@dataclass(frozen=True)
class Module:
    """A module: its name, its data model and what it does."""

    name: str
    data_model: type[ModuleData]
    run: Callable[[CallApi, Any], Awaitable[Branch]]


MODULES: dict[str, Module] = {}


def register(module: Module, *aliases: str) -> Module:
    """Add a module (and Kazoo's other names for it) to the registry."""
    for name in (module.name, *aliases):
        MODULES[name] = module
    return module
