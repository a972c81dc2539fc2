"""Reading ``{"data": {...}}`` request bodies and writing ``{"data": ..., "status": "success"}``."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from calltape.api.errors import ApiError, field_errors
from calltape.digits import is_number

ModelT = TypeVar("ModelT", bound=BaseModel)


def success(data: Any, status: int = 200, warnings: list[str] | None = None) -> JSONResponse:
    """A crossbar success envelope (with ``warnings`` when there are any)."""
    body: dict[str, Any] = {"data": data, "status": "success"}
    if warnings:
        body["warnings"] = warnings
    return JSONResponse(body, status_code=status)


MAX_JSON_BODY = 1 << 20  # a document, however big a callflow or account, is a few kB
MAX_JSON_DEPTH = 200  # a callflow of the deepest 64 modules nests about 130 levels


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, or 413 once it is larger than *limit* bytes (by its Content-Length before anything is
    read; a chunked one as soon as it passes the limit)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise ApiError(413, "too large", {"body": f"larger than {limit} bytes"})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too large", {"body": f"larger than {limit} bytes"})
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # as Request.body() keeps it: read again, it comes from here
    return body


async def read_data(request: Request) -> dict[str, Any]:
    """The ``data`` object of the request body, or a 400 naming what is wrong (413: too large)."""
    raw = await read_body(request, MAX_JSON_BODY)
    try:
        body = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid JSON", {"body": f"not valid JSON: {exc}"}) from None
    except RecursionError:
        body = None
        depth = MAX_JSON_DEPTH + 1
    else:
        depth = _depth(body)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid JSON", {"body": f"nested deeper than {MAX_JSON_DEPTH} levels"})
    if not isinstance(body, dict) or "data" not in body:
        raise ApiError(400, "invalid data", {"data": 'the body must be {"data": {...}}'})
    data = body["data"]
    if not isinstance(data, dict):
        raise ApiError(400, "invalid data", {"data": "must be an object"})
    return data


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in *value* (walked without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def validate(model: type[ModelT], data: dict[str, Any]) -> dict[str, Any]:
    """Validate *data* against *model*; return it as a JSON-ready dict (unknown keys kept)."""
    return validate_model(model, data).model_dump(mode="json", exclude_none=True)


def validate_model(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """*data* as a *model*, or a 400 naming each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid data", field_errors(exc)) from None


def page_size_of(text: str | None, most: int, default: int = 50) -> int:
    """A list's ``page_size`` query parameter (1 to *most*), or a 400 naming it."""
    if text is None:
        return default
    if not is_number(text) or not 1 <= int(text) <= most:
        raise ApiError(400, "invalid data", {"page_size": f"must be a number from 1 to {most}"})
    return int(text)


MAX_PAGE = 1000


def store_page(data: list[dict[str, Any]], next_key: str | None, start_key: str | None = None) -> JSONResponse:
    """A page the store cut (newest first, by ``start_key``): its entries, ``page_size``, the ``start_key`` asked
    for, and ``next_start_key`` when more follow."""
    body: dict[str, Any] = {"data": data, "status": "success", "page_size": len(data)}
    if next_key is not None:
        body["next_start_key"] = next_key
    if start_key:
        body["start_key"] = start_key
    return JSONResponse(body)


def paged(request: Request, docs: list[dict[str, Any]], key: str = "id") -> JSONResponse:
    """A list answer paged as crossbar pages: ``page_size`` (default 50) from ``start_key`` (an entry's *key*),
    with ``next_start_key`` when more follow; ``paginate=false`` returns every entry."""
    query = request.query_params
    if query.get("paginate") == "false":
        return JSONResponse({"data": docs, "status": "success", "page_size": len(docs)})
    size = page_size_of(query.get("page_size"), MAX_PAGE)
    start_key = query.get("start_key")
    first = 0
    if start_key is not None:
        first = next((i for i, doc in enumerate(docs) if str(doc.get(key)) == start_key), -1)
        if first < 0:
            raise ApiError(400, "invalid data", {"start_key": "no entry has this key (a page's next_start_key)"})
    page = docs[first : first + size]
    body: dict[str, Any] = {"data": page, "status": "success", "page_size": len(page)}
    if first + size < len(docs):
        body["next_start_key"] = str(docs[first + size].get(key))
    if start_key is not None:
        body["start_key"] = start_key
    return JSONResponse(body)


def merge_patch(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge *patch* into *doc* (a null removes a key), as crossbar's PATCH does."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out
