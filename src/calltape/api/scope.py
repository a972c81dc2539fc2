"""Which account a request under ``/v2/accounts/{A}`` is about, and whether its token may touch it.

404 if A is unknown; 403 unless the token reaches A (its own account, or one below). A token from a user's
sign-in with ``priv_level: user`` reaches even less: reading its own user, devices, voicemail boxes and
messages, and the recordings it owns (lists show only those); everything else is 403.
"""

from __future__ import annotations

from fastapi import Request

from calltape.api.auth import principal_of
from calltape.api.errors import ApiError
from calltape.store.documents import Documents, NotFoundError
from calltape.store.recordings import Recordings

_A = "/v2/accounts/{account_id}"
#: (method, route) a ``priv_level: user`` token may use, and the path parameter naming what must be its own.
USER_ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", f"{_A}/users/{{doc_id}}"): "user",
    ("GET", f"{_A}/users/{{user_id}}/recordings"): "user_id",
    ("GET", f"{_A}/devices"): None,
    ("GET", f"{_A}/devices/{{doc_id}}"): "device",
    ("GET", f"{_A}/vmboxes"): None,
    ("GET", f"{_A}/vmboxes/{{doc_id}}"): "box",
    ("GET", f"{_A}/vmboxes/{{box_id}}/messages"): "box_id",
    ("GET", f"{_A}/vmboxes/{{box_id}}/messages/{{message_id}}"): "box_id",
    ("POST", f"{_A}/vmboxes/{{box_id}}/messages/{{message_id}}"): "box_id",
    ("DELETE", f"{_A}/vmboxes/{{box_id}}/messages/{{message_id}}"): "box_id",
    ("GET", f"{_A}/recordings"): None,
    ("GET", f"{_A}/recordings/{{recording_id}}"): "recording",
    ("GET", f"{_A}/recordings/{{recording_id}}/audio_link"): "recording",
}


class AccountScope:
    """The dependency that every ``/v2/accounts/{A}/…`` route awaits first: the account id, once allowed."""

    def __init__(
        self, accounts: Documents, users: Documents, devices: Documents, vmboxes: Documents, recordings: Recordings
    ) -> None:
        self.accounts, self.users, self.devices, self.vmboxes = accounts, users, devices, vmboxes
        self.recordings = recordings

    async def __call__(self, request: Request) -> str:
        account_id = str(request.path_params["account_id"])
        principal = principal_of(request)
        if not principal.reaches(await self.accounts.get(account_id)):
            raise ApiError(403, "forbidden", {"account_id": "not this token's account or one below it"})
        if principal.own_only is not None:
            await self._own(request, account_id, principal.own_only)
        return account_id

    async def _own(self, request: Request, account_id: str, user_id: str) -> None:
        """A user's sign-in: only its own things, and lists narrowed to them."""
        route = getattr(request.scope.get("route"), "path", "")
        key = (request.method, route)
        if key not in USER_ROUTES:
            raise ApiError(403, "forbidden", {"priv_level": "a user's sign-in reaches only what the user owns"})
        request.state.owner_only = user_id
        params = request.path_params
        owner: object = user_id
        try:
            match USER_ROUTES[key]:
                case "user":
                    owner = params["doc_id"]
                case "user_id":
                    owner = params["user_id"]
                case "device":
                    owner = (await self.devices.get(params["doc_id"], account_id)).get("owner_id")
                case "box":
                    owner = (await self.vmboxes.get(params["doc_id"], account_id)).get("owner_id")
                case "box_id":
                    owner = (await self.vmboxes.get(params["box_id"], account_id)).get("owner_id")
                case "recording":
                    owner = (await self.recordings.get(account_id, params["recording_id"])).owner_id
        except NotFoundError:
            owner = None  # as forbidden as another user's: a user cannot probe what exists
        if owner != user_id:
            raise ApiError(403, "forbidden", {"owner_id": "not this user's"})
