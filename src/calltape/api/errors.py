"""Errors in crossbar's shape: ``{"status": "error", "error": "400", "message": …, "data": {PATH: {RULE: {"message":
REASON}}}}`` — the field's whole path kept as one key (``sip.username``), the rule named as Kazoo's schema
validation names it (``required``, ``minLength``, ``enum``, ``unique``, …)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from calltape.store.documents import ConflictError, NotFoundError

MESSAGES = {
    400: "invalid data",
    401: "invalid credentials",
    404: "bad identifier",
    403: "forbidden",
    405: "method not allowed",
    429: "too many requests",
    409: "conflicting documents",
    500: "internal error",
}
#: The rule a plain reason is filed under, by status.
STATUS_RULES = {401: "credentials", 403: "forbidden", 404: "not_found", 409: "unique", 429: "throttled"}
#: pydantic's error types as Kazoo's (JSON schema) rule names.
PYDANTIC_RULES = {
    "missing": "required",
    "string_too_short": "minLength",
    "too_short": "minItems",
    "string_too_long": "maxLength",
    "too_long": "maxItems",
    "greater_than": "minimum",
    "greater_than_equal": "minimum",
    "less_than": "maximum",
    "less_than_equal": "maximum",
    "literal_error": "enum",
    "enum": "enum",
    "string_pattern_mismatch": "pattern",
    "extra_forbidden": "additionalProperties",
}


class ApiError(Exception):
    """An error to return to the API client."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message or MESSAGES.get(status, "error")
        self.data = data or {}
        self.headers = headers or {}  # e.g. a 429's Retry-After


def error_response(status: int, message: str | None = None, data: dict[str, Any] | None = None) -> JSONResponse:
    """The JSON body of an error."""
    rule = STATUS_RULES.get(status, "invalid")
    shaped = {
        path: reason if isinstance(reason, dict) else {rule: {"message": reason}}
        for path, reason in (data or {}).items()
    }
    body = {
        "status": "error",
        "error": str(status),
        "message": message or MESSAGES.get(status, "error"),
        "data": shaped,
    }
    return JSONResponse(body, status_code=status)


def field_errors(
    exc: ValidationError | RequestValidationError, prefix: tuple[str | int, ...] = ()
) -> dict[str, dict[str, dict[str, str]]]:
    """pydantic errors as ``{"sip.username": {"required": {"message": "Field required"}}}`` (paths within the
    document)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"][len(prefix) :]) or "data"
        rule = PYDANTIC_RULES.get(err["type"], "type" if err["type"].endswith(("_type", "_parsing")) else "invalid")
        out.setdefault(path, {})[rule] = {"message": err["msg"]}
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, including FastAPI's own, come out in crossbar's shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = error_response(exc.status, exc.message, exc.data)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(404, "bad identifier", {"id": f"{exc} not found"})

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return error_response(409, "conflicting documents", {exc.field: str(exc)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "invalid data", field_errors(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))
