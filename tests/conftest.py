"""Shared fixtures: a real database of each kind (SQLite file, PostgreSQL on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from calltape.store.database import Database
from tests.e2e.sipp_runner import free_port
from tests.server import ServerProcess

# The modules that take longest (their calls run in real time), started first: with xdist's loadfile each worker
# takes a whole module, and a long one started last would keep the whole run waiting for it.
LONGEST_FIRST = (  # every module of 8 s or more, by summed durations in a run of 2026-12-07 (--durations=0)
    "e2e/test_recording_delivery.py",
    "e2e/test_recording.py",
    "e2e/test_transfer.py",
    "e2e/test_voicemail.py",
    "e2e/test_dtmf_transfer.py",
    "e2e/test_dial.py",
    "test_cli.py",
    "e2e/test_calls.py",
    "e2e/test_routing.py",
    "test_check.py",
    "e2e/test_demo.py",
    "e2e/test_ui.py",
    "e2e/test_call_forward.py",
    "e2e/test_edge.py",
    "e2e/test_sipp.py",
    "e2e/test_bridge.py",
    "e2e/test_kazoo_export.py",
    "e2e/test_workers.py",
    "e2e/test_kill9_soak.py",
    "e2e/test_cluster.py",
    "e2e/test_recording_store.py",
    "e2e/test_fuzz_live.py",
    "e2e/test_disk_full.py",
    "e2e/test_store_outage.py",
    "e2e/test_metrics.py",
    "e2e/test_tenants.py",
    "e2e/test_every_frame.py",
    "e2e/test_automatic_recording.py",
    "receiver/test_receiver.py",
    "e2e/test_hostile.py",
    "receiver/test_backends.py",
    "delivery/test_worker.py",
    "api/test_api.py",
    "e2e/test_baresip.py",
    "media/test_timeline.py",
    "e2e/test_carriers.py",
    "e2e/test_torture.py",
    "e2e/test_overload.py",
    "api/test_docs_page.py",
    "receiver/test_embedded.py",
    "api/test_tokens.py",
    "api/test_openapi_client.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, then the other modules with calls (tests/e2e), then the rest; the order
    within a module stays."""

    def weight(item: pytest.Item) -> int:
        path = item.path.as_posix()
        ranked = [index for index, name in enumerate(LONGEST_FIRST) if path.endswith(f"/tests/{name}")]
        return ranked[0] if ranked else len(LONGEST_FIRST) + (0 if "/e2e/" in path else 1)

    items.sort(key=weight)


PG_ADMIN_URL = os.environ.get("CALLTAPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin(sql: str) -> None:
    """Run one statement on the admin database (in a thread: callers may be inside an event loop)."""

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for the whole session, dropped afterwards."""
    name = f"calltape_test_{uuid.uuid4().hex[:10]}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed for the PostgreSQL store tests: {exc}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'calltape.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
        conn = await asyncpg.connect(url)
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await conn.close()
    db = Database(url)
    await db.open()
    yield db
    await db.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A running ``calltape serve`` on the default SQLite store, shared by a test module."""
    proc = ServerProcess(tmp_path_factory.mktemp("calltape"), ["--trusted-networks", "127.0.0.1/32"]).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A PostgreSQL database of its own for one test, dropped afterwards."""
    name = f"calltape_test_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server on a free port (no real S3 can run here)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
