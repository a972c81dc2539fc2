"""The demo's account: two users with a phone each, a voicemail box, and the seed's three callflows.

The callflows are Kazoo's recording page examples as written; only the recording server's address and
the ids (``{USER_ID}``, ``{VMBOX_ID}``, ``{BOX_ID}``) are filled in. ``{ACCOUNT_ID}`` stays: calltape
fills it in when the recording is delivered.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from calltape.http_client import Answer, HttpClient

# "Starting recording", then an echo so the caller hears themself (the example alone has no children).
READ = 8 * 1024 * 1024  # an API answer read at most

SEED_ONE = """{
    "module": "record_call",
    "data": {
        "action": "start",
        "time_limit": 1200,
        "format": "mp3",
        "url": "http://your.server.com/recordings"
    }
}"""

SEED_TWO = """{
    "module": "record_call",
    "data": {
        "action": "start",
        "format": "mp3",
        "url": "http://my.recording.server/{ACCOUNT_ID}/{USER_ID}",
        "time_limit":360
    },
    "children": {
        "_": {
            "module": "user",
            "data": {
                "id": "{USER_ID}"
            },
            "children": {
                "_": {
                    "module": "record_call",
                    "data": {
                        "action": "stop"
                    },
                    "children": {
                        "module": "voicemail",
                        "data": {
                            "id": "{VMBOX_ID}"
                        },
                        "children": {}
                    }
                }
            }
        }
    }
}"""

SEED_THREE = """{
    "module": "say",
    "data": {
        "text": "Please leave your message after the beep"
    },
    "children": {
        "_": {
            "module": "record_caller",
            "data": {
                "format": "mp3",
                "url": "http://my.recording.server/voicemail/{ACCOUNT_ID}/{BOX_ID}",
                "time_limit":360
            }
        }
    }
}"""


@dataclass(frozen=True)
class Phone:
    """A user's phone: the SIP credentials a softphone registers with."""

    user_id: str
    name: str
    username: str
    password: str


@dataclass
class Site:
    """What the demo provisioned."""

    account_id: str
    realm: str
    phones: dict[str, Phone] = field(default_factory=dict)
    vmbox_id: str = ""
    numbers: dict[str, str] = field(default_factory=dict)  # flow name → number dialled


async def provision(api: DemoApi, receiver_url: str, realm: str = "demo.calltape.test") -> Site:
    """Create the demo's account and everything in it through the REST API."""
    existing = (await api.get("/v2/accounts", paginate="false")).json().get("data", [])
    if any(account.get("realm") == realm for account in existing):
        raise RuntimeError("this data dir already holds a demo: give a new --data-dir, or none for a fresh temp dir")
    account = await _put(api, "/v2/accounts", {"name": "calltape demo", "realm": realm})
    site = Site(account, realm)
    base = f"/v2/accounts/{account}"
    for username, first, last in (("ada", "Ada", "Lovelace"), ("grace", "Grace", "Hopper")):
        user = await _put(api, f"{base}/users", {"first_name": first, "last_name": last, "username": username})
        password = secrets.token_hex(10)  # not token_urlsafe: a password starting with "-" reads as a flag
        device = {"name": f"{first}'s phone", "owner_id": user, "sip": {"username": username, "password": password}}
        await _put(api, f"{base}/devices", device)
        site.phones[username] = Phone(user, f"{first} {last}", username, password)
    grace = site.phones["grace"].user_id
    box = {"name": "Grace's voicemail", "mailbox": "1000", "pin": "0000", "owner_id": grace, "skip_instructions": True}
    site.vmbox_id = await _put(api, f"{base}/vmboxes", box)
    one = _filled(SEED_ONE, receiver_url, {})
    one["children"] = {"_": {"module": "echo", "data": {}}}
    flows = {
        "seed 1: record_call + echo": one,
        "seed 2: record per user": _filled(SEED_TWO, receiver_url, {"{USER_ID}": grace, "{VMBOX_ID}": site.vmbox_id}),
        "seed 3: record_caller": _filled(SEED_THREE, receiver_url, {"{BOX_ID}": site.vmbox_id}),
    }
    for number, (name, flow) in enumerate(flows.items(), start=1001):
        await _put(api, f"{base}/callflows", {"name": name, "numbers": [str(number)], "flow": flow})
        site.numbers[name] = str(number)
    return site


def _filled(seed: str, receiver_url: str, ids: dict[str, str]) -> dict[str, Any]:
    text = seed.replace("http://your.server.com", receiver_url).replace("http://my.recording.server", receiver_url)
    for placeholder, value in ids.items():
        text = text.replace(placeholder, value)
    flow: dict[str, Any] = json.loads(text)
    return flow


async def _put(api: DemoApi, path: str, data: dict[str, Any]) -> str:
    answer = await api.put(path, {"data": data})
    if answer.status != 201:
        raise RuntimeError(f"PUT {path} answered {answer.status}: {answer.body[:300].decode(errors='replace')}")
    return str(answer.json()["data"]["id"])


class DemoApi:
    """calltape's REST API as the demo uses it: JSON bodies, the token on every request."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
        self._client = HttpClient(connections=4, timeout=30, read=30)

    async def get(self, path: str, **params: str) -> Answer:
        """GET *path* with *params* as its query."""
        query = f"?{urlencode(params)}" if params else ""
        return await self._client.request("GET", self.base_url + path + query, headers=self._headers, read=READ)

    async def put(self, path: str, body: dict[str, Any]) -> Answer:
        """PUT *body* as JSON to *path*."""
        data = json.dumps(body).encode()
        return await self._client.request("PUT", self.base_url + path, body=data, headers=self._headers, read=READ)

    async def close(self) -> None:
        """Close its connections."""
        await self._client.close()
