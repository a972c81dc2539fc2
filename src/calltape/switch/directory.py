"""What the call model and its modules read of an account's stored things: its documents (menus, groups, callflows,
carriers, …) and its voicemail boxes. ``directory/`` implements them over the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Mailboxes(Protocol):
    """Voicemail boxes and their messages, as the ``voicemail`` module needs them."""

    async def box(self, account_id: str, box_id: str) -> dict[str, Any] | None: ...
    async def box_for_mailbox(self, account_id: str, mailbox: str) -> dict[str, Any] | None: ...
    async def counts(self, account_id: str, box_id: str) -> dict[str, int]: ...
    async def messages(self, account_id: str, box_id: str) -> list[dict[str, Any]]: ...
    def new_message(self, account_id: str, box_id: str) -> tuple[str, Path]: ...
    async def save_message(
        self, account_id: str, box: dict[str, Any], message_id: str, doc: dict[str, Any]
    ) -> dict[str, Any]: ...
    async def set_folder(self, account_id: str, box_id: str, message_id: str, folder: str) -> None: ...
    async def box_full(self, account_id: str, box: dict[str, Any], limit: int, call_id: str) -> None:
        """A caller found *box* full (its people are told)."""

    async def forward_message(
        self, account_id: str, box: dict[str, Any], message: dict[str, Any], to_box: dict[str, Any]
    ) -> dict[str, Any]:
        """A copy of *message* left in *to_box* as new (its people told as of any new message); the copy."""

    def draft_path(self, account_id: str, box_id: str) -> Path:
        """Where a greeting or name being recorded by phone goes until it is kept."""

    async def keep_recorded(self, account_id: str, box: dict[str, Any], what: str, recorded: Path) -> dict[str, Any]:
        """A greeting (``unavailable``, ``temporary_unavailable``) or the ``name`` recorded by phone is the box's
        now; the box as it is now."""

    async def forget_greeting(self, account_id: str, box: dict[str, Any], what: str) -> dict[str, Any]:
        """The box no longer plays that greeting; the box as it is now."""

    async def set_pin(self, account_id: str, box: dict[str, Any], pin: str) -> dict[str, Any]:
        """The box's new PIN; the box as it is now."""

    async def message_audio(self, account_id: str, box_id: str, message_id: str) -> Path | None:
        """A message's audio on this node (fetched if another node took it), or None if it is gone."""


class AccountDocuments(Protocol):
    """An account's documents as callflow modules read them (menus, groups, temporal rules, …)."""

    async def get(self, account_id: str, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    async def save(self, account_id: str, collection: str, doc: dict[str, Any]) -> None: ...
    async def callflow_for(self, account_id: str, number: str) -> str | None:
        """The id of the callflow a number reaches in the account (not its ``no_match``), if any."""

    async def timezone(self, account_id: str) -> str:
        """The account's ``timezone``, else the node's default."""

    async def resources(self, account_id: str | None) -> list[dict[str, Any]]:
        """Carriers: the account's own, or (None) the platform's."""
