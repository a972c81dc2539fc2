"""``X-Auth-Token``: the operator's master token, or a token scoped to one account and what lies below it.

The dependency sets ``request.state.principal``; routes under ``/v2/accounts/{A}`` check it against A's place in
the account tree (``reaches``), the others that only the operator may use call ``require_master``.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from calltape.api.errors import ApiError
from calltape.failures import SignInThrottle
from calltape.store.auth_tokens import AuthTokens


@dataclass(frozen=True)
class Principal:
    """Who a request is: the operator (``account_id`` None) or a token for one account and its descendants."""

    account_id: str | None = None
    method: str = "master"
    user_id: str | None = None  # signed in as this user (user_auth)
    priv_level: str = "admin"  # "user": only what the user owns

    @property
    def master(self) -> bool:
        """The operator's token: every account, and the system settings."""
        return self.account_id is None

    @property
    def own_only(self) -> str | None:
        """The user whose things alone this token may see (a ``priv_level: user`` sign-in), else None."""
        return self.user_id if self.priv_level != "admin" else None

    def reaches(self, account: dict[str, Any]) -> bool:
        """True if *account* is this token's account or lies below it (a user's sign-in: its own account only)."""
        if self.master or account.get("id") == self.account_id:
            return True
        return self.own_only is None and self.account_id in account.get("pvt_tree", [])


MASTER = Principal()


WRONG_TOKENS_PER_SOURCE = 20  # wrong tokens one address may give within a minute, then 429 until the minute is over


class TokenAuth:
    """A FastAPI dependency: the master token, or a token ``/v2/api_auth`` issued (401 otherwise). An address that
    gave too many wrong tokens lately is told 429 with Retry-After, whatever it gives meanwhile (guessing stops)."""

    def __init__(self, admin_token: str, tokens: AuthTokens | None = None) -> None:
        self._token = admin_token.encode()
        self.tokens = tokens
        self.wrong = SignInThrottle()

    async def __call__(self, request: Request) -> None:
        given = request.headers.get("x-auth-token", "")
        source = {f"token:{request.client.host if request.client else '?'}": WRONG_TOKENS_PER_SOURCE}
        wait = self.wrong.retry_after(source) if given else 0.0
        if wait > 0:
            later = str(math.ceil(wait))
            raise ApiError(
                429, "too many wrong tokens", {"X-Auth-Token": f"try again in {later} s"}, {"Retry-After": later}
            )
        if given and hmac.compare_digest(given.encode(), self._token):
            request.state.principal = MASTER
            return
        issued = await self.tokens.check(given) if given and self.tokens is not None else None
        if issued is None:
            if given:
                self.wrong.failed(source)
            raise ApiError(401, "invalid credentials", {"X-Auth-Token": "missing, wrong, revoked or expired"})
        request.state.principal = Principal(issued.account_id, issued.method, issued.user_id, issued.priv_level)


def principal_of(request: Request) -> Principal:
    """Who made *request* (set by TokenAuth; a request it did not see is refused)."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise ApiError(401, "invalid credentials", {"X-Auth-Token": "missing"})
    return principal


def actor_of(request: Request) -> str:
    """Who a request is, as the audit trail names it: ``user:<id>``, ``account:<id>`` or ``operator``."""
    principal = principal_of(request)
    if principal.user_id:
        return f"user:{principal.user_id}"
    return "operator" if principal.master else f"account:{principal.account_id}"


def require_master(request: Request) -> None:
    """Only the operator's token may do this (403 for an account's token)."""
    if not principal_of(request).master:
        raise ApiError(403, "forbidden", {"X-Auth-Token": "only the operator's token may do this"})
