"""``calltape check`` run as a user runs it, against real SQLite data dirs and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calltape.store.callflows import Callflows
from calltape.store.database import Database, default_sqlite_url
from calltape.store.documents import ACCOUNTS, DEVICES, USERS, VMBOXES, Documents
from calltape.store.system_configs import SystemConfigs


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLTAPE_")}
    return subprocess.run(
        [sys.executable, "-m", "calltape", "check", *args], capture_output=True, text=True, timeout=60, env=env
    )


@dataclass
class Seeded:
    """Ids of what :func:`_seed` stored."""

    user: str
    device: str
    vmbox: str
    flows: dict[str, str]  # label → callflow id


GOOD = {"numbers": ["100"], "flow": {"module": "say", "data": {"text": "Hello"}}}


async def _seed(url: str, flows: dict[str, dict[str, Any]], media_config: dict[str, Any] | None = None) -> Seeded:
    """Store an account with a user, a device, a voicemail box and *flows* as given (no validation)."""
    db = Database(url)
    await db.open()
    try:
        account = (await Documents(db, ACCOUNTS).create({"name": "Acme", "realm": "acme.example.com"}))["id"]
        user = (await Documents(db, USERS).create({"first_name": "Al", "last_name": "Ice"}, account))["id"]
        device_doc = {"name": "desk", "owner_id": user, "sip": {"username": "alice", "password": "secret-1"}}
        device = (await Documents(db, DEVICES).create(device_doc, account))["id"]
        vmbox = (await Documents(db, VMBOXES).create({"name": "Al", "mailbox": "100"}, account))["id"]
        if media_config is not None:
            await SystemConfigs(db).put("media", media_config)
        ids: dict[str, str] = {}
        for label, doc in flows.items():
            text = _fill(doc, user=user, device=device, vmbox=vmbox)
            ids[label] = (await Callflows(db).create(text, account))["id"]
        return Seeded(user, device, vmbox, ids)
    finally:
        await db.close()


def _fill(doc: Any, **values: str) -> Any:
    """Replace ``@user``-style markers with the seeded ids."""
    if isinstance(doc, dict):
        return {k: _fill(v, **values) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_fill(v, **values) for v in doc]
    if isinstance(doc, str) and doc.startswith("@") and doc[1:] in values:
        return values[doc[1:]]
    return doc


# A flow with one of each lint: recording (mp3) into voicemail, a missing user, a time limit above the
# system's maximum, an unknown placeholder in a url, and the seed's bare child node.
LINTED = {
    "numbers": ["200"],
    "flow": {
        "module": "record_call",
        "data": {"action": "start", "format": "wav", "url": "http://rec.example.com/{BOX_ID}", "time_limit": 1200},
        "children": {
            "_": {
                "module": "user",
                "data": {"id": "0123456789abcdef0123456789abcdef"},
                "children": {"module": "voicemail", "data": {"id": "@vmbox"}},
            }
        },
    },
}
INVALID = {
    "numbers": ["300", "301"],
    "flow": {
        "module": "record_call",
        "data": {"url": "sftp://rec.example.com/in"},
        "children": {"_": {"module": "say", "data": {}}, "1": {"module": "transfer", "data": {}}},
    },
}
CLEAN_RECORDING = {
    "numbers": ["400"],
    "flow": {
        "module": "record_call",
        "data": {"format": "mp3", "url": "ftp://u:p@rec.example.com/{account_id}"},
        "children": {
            "_": {
                "module": "user",
                "data": {"id": "@user"},
                "children": {"_": {"module": "voicemail", "data": {"id": "@vmbox"}}},
            }
        },
    },
}


def test_clean_data_dir_exits_0(tmp_path: Path) -> None:
    asyncio.run(_seed(default_sqlite_url(tmp_path), {"good": GOOD, "rec": CLEAN_RECORDING}))
    result = _check("--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines() == ["checked 2 callflows in 1 account: 0 invalid, 0 warnings"]


def test_invalid_callflows_and_warnings(tmp_path: Path) -> None:
    seeded = asyncio.run(
        _seed(
            default_sqlite_url(tmp_path),
            {"good": GOOD, "linted": LINTED, "invalid": INVALID},
            media_config={"max_recording_time_limit": 600},
        )
    )
    result = _check("--data-dir", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    bad = f"callflow {seeded.flows['invalid']} (300, 301): "
    assert f"{bad}flow.data.url: Value error, must be an http, https, ftp or ftps URL, not 'sftp' one" in lines
    assert f"{bad}flow.children._.data.text: Field required" in lines
    assert f"{bad}flow.children.1.module: unknown module 'transfer'" in lines
    warn = f"warning: callflow {seeded.flows['linted']} (200): "
    linted = sorted(line.removeprefix(warn) for line in lines if line.startswith(warn))
    assert len(linted) == 5, lines
    assert linted[0].startswith("flow.children._.children: a bare node is run as the '_' branch")
    assert linted[1].startswith(
        "flow.children._.children: voicemail runs while the record_call at flow is still recording in wav"
    )
    assert linted[2] == "flow.children._.data.id: user '0123456789abcdef0123456789abcdef' does not exist in the account"
    assert linted[3].startswith("flow.data.time_limit: 1200 s is above system_config media max_recording_time_limit")
    assert linted[4].startswith("flow.data.url: {BOX_ID} is not filled in")
    assert lines[-1] == "checked 3 callflows in 1 account: 1 invalid, 5 warnings"
    assert not any(seeded.flows["good"] in line for line in lines)


def test_config_file_names_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    asyncio.run(_seed(default_sqlite_url(data), {"good": GOOD}))
    config = tmp_path / "serve.toml"
    config.write_text(f'data_dir = "{data}"\nsip = "0.0.0.0:5070"\n[receiver]\ntoken = "t"\n')
    result = _check("--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"config {config}: ok",
        "checked 1 callflow in 1 account: 0 invalid, 0 warnings",
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('rtp_ports = "80-90"\n', "--rtp-ports: need 1024 <= LOW"),
        ("surprise = 1\n", "unknown setting 'surprise'"),
        ('sip = "nowhere"\n', "--sip: expected HOST:PORT"),
        ('[receiver]\nformats = "ogg"\n', "--formats: expected some of"),
        ("sip = [", "is not valid TOML"),
    ],
)
def test_bad_config_one_line_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(text)
    result = _check("--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calltape: error: ") and needle in lines[0], lines


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--db", "mysql://x/y"], "--db: expected sqlite:///PATH"),
        (["--db", "sqlite:///x.db", "--data-dir", "d"], "not allowed with argument"),
        (["--data-dir", "/nonexistent/calltape"], "no database at /nonexistent/calltape/calltape.db"),
        (["--db", "postgresql://postgres@127.0.0.1:1/none"], "cannot read database postgresql://postgres@127.0.0.1:1"),
    ],
)
def test_bad_flags_or_database_exit_2(args: list[str], needle: str) -> None:
    result = _check(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines


def test_not_a_calltape_database(tmp_path: Path) -> None:
    (tmp_path / "calltape.db").write_bytes(b"")  # an empty SQLite file: no tables
    result = _check("--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert re.fullmatch(
        r"calltape: error: cannot read database sqlite:///\S+: no such table: schema_version\n", result.stderr
    )


def test_postgresql(fresh_pg_url: str) -> None:
    seeded = asyncio.run(_seed(fresh_pg_url, {"good": GOOD, "linted": LINTED, "invalid": INVALID}))
    result = _check("--db", fresh_pg_url)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert f"callflow {seeded.flows['invalid']} (300, 301): flow.children._.data.text: Field required" in lines
    assert lines[-1] == "checked 3 callflows in 1 account: 1 invalid, 4 warnings"  # time_limit 1200 < 10800
