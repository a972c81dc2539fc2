"""Errors in crossbar's shape: ``{"status": "error", "error": "400", "message": …, "data": {path: reason}}``."""

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
    405: "method not allowed",
    409: "conflicting documents",
    500: "internal error",
}


class ApiError(Exception):
    """An error to return to the API client."""

    def __init__(self, status: int, message: str | None = None, data: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message or MESSAGES.get(status, "error")
        self.data = data or {}


def error_response(status: int, message: str | None = None, data: dict[str, Any] | None = None) -> JSONResponse:
    """The JSON body of an error."""
    body = {
        "status": "error",
        "error": str(status),
        "message": message or MESSAGES.get(status, "error"),
        "data": data or {},
    }
    return JSONResponse(body, status_code=status)


def field_errors(exc: ValidationError | RequestValidationError, prefix: tuple[str | int, ...] = ()) -> dict[str, str]:
    """pydantic errors as ``{"sip.username": "Field required"}`` (paths within the document)."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"][len(prefix) :]]
        out[".".join(loc) or "data"] = err["msg"]
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, including FastAPI's own, come out in crossbar's shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.data)

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
