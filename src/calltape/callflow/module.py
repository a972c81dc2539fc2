"""What a callflow module is, and the registry of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from calltape.callflow.call_api import CallApi
from calltape.sip.syntax import custom_header_problem


def _custom_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        problem = custom_header_problem(name, value)
        if problem is not None:
            raise ValueError(problem)
    return headers


#: ``custom_sip_headers``: header name → value, added to the INVITEs a node sends.
SipHeaders = Annotated[dict[str, str], AfterValidator(_custom_headers)]


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
