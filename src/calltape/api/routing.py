"""The API's router: a route per method, so each has an operation id of its own in ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter


class Router(APIRouter):
    """An APIRouter that registers ``methods=["PUT", "POST"]`` as two routes (one operation id each: an
    OpenAPI client generator needs them unique)."""

    def add_api_route(
        self, path: str, endpoint: Callable[..., Any], *, methods: Sequence[str] | set[str] | None = None, **kw: Any
    ) -> None:
        for method in sorted(methods or ["GET"]):
            super().add_api_route(path, endpoint, methods=[method], **kw)
