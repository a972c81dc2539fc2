"""What the durability soaks share: an account whose number records and echoes, and the result's history file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "durability.json"


def recorded_echo(api: httpx.Client, base: str, name: str, number: str, url: str, fmt: str = "mp3") -> str:
    """An account *name* on the node at *base* whose *number* records (to *url*) and echoes; its id."""
    account = api.put(f"{base}/v2/accounts", json={"data": {"name": name, "realm": f"{name}.test"}})
    account_id = str(account.json()["data"]["id"])
    flow = {"module": "record_call", "data": {"format": fmt, "url": url}, "children": {"_": {"module": "echo"}}}
    api.put(f"{base}/v2/accounts/{account_id}/callflows", json={"data": {"numbers": [number], "flow": flow}})
    return account_id


def commit() -> str:
    """The checkout's short commit."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()


def record(result: dict[str, Any], out: Path) -> int:
    """Print *result*, put it first in *out* (the newest 20 kept) and give the exit code its ``all_right`` says."""
    print(json.dumps(result))
    history = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps([result, *history][:20], indent=2) + "\n")
    print(f"written {out}")
    return 0 if result["all_right"] else 1
