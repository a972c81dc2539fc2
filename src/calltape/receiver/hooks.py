"""``on_stored``: run a command or POST a webhook for every new recording (how users wire transcription)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from calltape.http_client import HTTP_ERRORS, request_once
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)


class StoredHook:
    """Fires after a recording is stored; failures are logged, never block or undo the upload."""

    def __init__(self, command: list[str] | None = None, webhook: str | None = None, timeout: float = 60.0) -> None:
        self.command = command
        self.webhook = webhook
        self.timeout = timeout
        self._tasks = TaskSet("receiver hooks")

    @property
    def enabled(self) -> bool:
        """True if anything is configured."""
        return bool(self.command or self.webhook)

    def fire(self, location: str, sidecar: dict[str, Any]) -> None:
        """Start the hook in the background."""
        if not self.enabled:
            return
        self._tasks.spawn(self._run(location, sidecar))

    async def _run(self, location: str, sidecar: dict[str, Any]) -> None:
        payload = json.dumps({"path": location, "metadata": sidecar}).encode()
        call_id = sidecar.get("metadata", {}).get("call_id", "")
        if self.command:
            await self._run_command(location, payload, call_id)
        if self.webhook:
            try:
                headers = {"Content-Type": "application/json"}
                answer = await request_once("POST", self.webhook, timeout=self.timeout, body=payload, headers=headers)
                if not answer.ok:
                    log.warning("call-id %s: on_stored webhook answered %d", call_id, answer.status)
            except HTTP_ERRORS as exc:
                log.warning("call-id %s: on_stored webhook failed: %s", call_id, exc)

    async def _run_command(self, location: str, payload: bytes, call_id: str) -> None:
        assert self.command
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                location,
                stdin=asyncio.subprocess.PIPE,
                env={**_hook_environment(), "CALLTAPE_RECORDING_PATH": location},
            )
            await asyncio.wait_for(proc.communicate(payload), self.timeout)
            if proc.returncode:
                log.warning("call-id %s: on_stored command exited %d", call_id, proc.returncode)
        except (OSError, TimeoutError) as exc:
            log.warning("call-id %s: on_stored command failed: %s", call_id, exc)

    async def drain(self) -> None:
        """Wait for running hooks (at shutdown)."""
        await self._tasks.wait()


def _hook_environment() -> dict[str, str]:
    """calltape's environment, less what is its own business (the workers' shared metrics directory)."""
    return {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
