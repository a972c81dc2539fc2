"""``X-Auth-Token`` checking."""

from __future__ import annotations

import hmac

from fastapi import Request

from calltape.api.errors import ApiError


class TokenAuth:
    """A FastAPI dependency accepting the admin token."""

    def __init__(self, admin_token: str) -> None:
        self._token = admin_token.encode()

    async def __call__(self, request: Request) -> None:
        given = request.headers.get("x-auth-token", "")
        if not given or not hmac.compare_digest(given.encode(), self._token):
            raise ApiError(401, "invalid credentials", {"X-Auth-Token": "missing or wrong"})
