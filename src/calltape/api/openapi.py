"""What ``/openapi.json`` says beyond FastAPI's own: request bodies and list parameters.

The handlers read their requests themselves (crossbar's ``{"data": …}`` envelope, Kazoo's verbs), so FastAPI
cannot see the bodies; each route names its document model here instead, and the models' JSON schemas are added
to the document's components.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_REF = "#/components/schemas/{model}"
#: The query parameters of every paged list.
LIST_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "start_key", "in": "query", "schema": {"type": "string"}, "description": "a page's next_start_key"},
        {"name": "paginate", "in": "query", "schema": {"type": "boolean"}, "description": "false: every entry"},
    ]
}


def request_body(model: type[BaseModel] | None, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` for a route whose body is ``{"data": <model>}`` (any object when *model* is None)."""
    data: dict[str, Any] = {"$ref": _REF.format(model=model.__name__)} if model is not None else {"type": "object"}
    schema = {"type": "object", "required": ["data"], "properties": {"data": data}}
    body: dict[str, Any] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def answer(model: type[BaseModel] | None, *, many: bool = False, status: str = "200") -> dict[str, Any]:
    """``openapi_extra`` for a route that answers crossbar's envelope around one *model* document (or, *many*,
    a page of listing entries)."""
    one: dict[str, Any] = {"$ref": _REF.format(model=model.__name__)} if model is not None else {"type": "object"}
    data = {"type": "array", "items": {"type": "object"}} if many else one
    properties: dict[str, Any] = {
        "status": {"type": "string", "enum": ["success"]},
        "data": data,
        **{key: {"type": "string"} for key in ("request_id", "auth_token", "revision", "timestamp", "node", "version")},
    }
    if many:
        properties |= {
            "page_size": {"type": "integer"},
            "start_key": {"type": "string"},
            "next_start_key": {"type": "string"},
        }
    schema = {"type": "object", "required": ["status", "data"], "properties": properties}
    return {
        "responses": {
            status: {"description": "crossbar's envelope", "content": {"application/json": {"schema": schema}}}
        }
    }


def install_openapi(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Serve ``/openapi.json`` with *models*' schemas among its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(schemas.get("$defs", {}))
            _declare_path_parameters(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_path_parameters(spec: dict[str, Any]) -> None:
    """Every ``{name}`` of a path as a parameter of its operations (handlers that read the account from the path
    themselves do not declare it to FastAPI)."""
    for path, operations in spec.get("paths", {}).items():
        names = re.findall(r"\{([^}]+)\}", path)
        for operation in operations.values():
            declared = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"}
            missing = [n for n in names if n not in declared]
            operation["parameters"] = [
                *({"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in missing),
                *operation.get("parameters", []),
            ]
