"""A client generated from calltape's own ``/openapi.json`` by an independent generator (openapi-python-client)
works against a live server: it lists an account's callflows and recordings."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.server import TOKEN, ServerProcess


def test_a_generated_client_lists_callflows_and_recordings(server: ServerProcess, tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(httpx.get(f"{server.api_url}/openapi.json").json()))
    venv_bin = str(Path(sys.executable).parent)
    generate = [f"{venv_bin}/openapi-python-client", "generate", "--path", str(spec), "--meta", "none"]
    subprocess.run(
        [*generate, "--output-path", str(tmp_path / "calltape_client")],
        check=True,
        capture_output=True,
        env={**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"},
        timeout=120,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("calltape_client.client")
        callflows = importlib.import_module(
            "calltape_client.api.default.list_docs_v2_accounts_account_id_callflows_get"
        )
        recordings = importlib.import_module(
            "calltape_client.api.default.list_recordings_v2_accounts_account_id_recordings_get"
        )
    finally:
        sys.path.remove(str(tmp_path))

    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN})
    realm = f"gen{uuid.uuid4().hex[:6]}.example.com"
    account = api.put("/v2/accounts", json={"data": {"name": "Generated", "realm": realm}}).json()["data"]["id"]
    flow = {"numbers": ["4242"], "flow": {"module": "echo", "data": {}}}
    made = api.put(f"/v2/accounts/{account}/callflows", json={"data": flow}).json()["data"]["id"]
    client = client_module.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN})
    listed = callflows.sync_detailed(account, client=client, page_size=10)
    assert listed.status_code == 200 and [c["id"] for c in json.loads(listed.content)["data"]] == [made]
    none = recordings.sync_detailed(account, client=client)
    assert none.status_code == 200 and json.loads(none.content)["data"] == []
