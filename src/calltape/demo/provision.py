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

import httpx

# "Starting recording", then an echo so the caller hears themself (the example alone has no children).
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


async def provision(api: httpx.AsyncClient, receiver_url: str, realm: str = "demo.calltape.test") -> Site:
    """Create the demo's account and everything in it through the REST API."""
    existing = (await api.get("/v2/accounts", params={"paginate": "false"})).json().get("data", [])
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


async def _put(api: httpx.AsyncClient, path: str, data: dict[str, Any]) -> str:
    response = await api.put(path, json={"data": data})
    if response.status_code != 201:
        raise RuntimeError(f"PUT {path} answered {response.status_code}: {response.text[:300]}")
    return str(response.json()["data"]["id"])
