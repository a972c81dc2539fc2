"""``response``: refuse the call with a chosen SIP status and reason (Kazoo's cf_response; 486 by default),
after a prompt played as early media if ``media`` is set. An answered call is hung up. The flow stops here."""

from __future__ import annotations

from pydantic import Field

from calltape.callflow.call_api import CallEndedError, Ringing
from calltape.callflow.module import Branch, Module, ModuleData, register


class ResponseData(ModuleData):
    """Kazoo's ``response`` data."""

    code: int = Field(486, ge=300, le=699)
    message: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[^\r\n]*$")
    media: str | None = Field(None, min_length=1)


async def run(call: Ringing, data: ResponseData) -> Branch:
    """Send the response; the call ends."""
    await call.respond(data.code, data.message, data.media)
    raise CallEndedError()


MODULE = register(Module("response", ResponseData, run))
