"""Blind transfer (RFC 3515 REFER, RFC 3892's sipfrag progress): the phone on the far side of a bridge hands the
caller on to another number of its account.

The transferor's REFER is accepted (202) and followed by NOTIFYs carrying the outcome as ``message/sipfrag``: ``100
Trying``, then ``200 OK`` once the number is known to reach a callflow of the account — the transferor then leaves
(its phone hangs up; calltape sends BYE if it does not) and the caller goes on into that callflow, with the same
call, recordings and taps — or ``404 Not Found`` when nothing answers to the number, and the bridge stands. A
REFER that calltape cannot act on (no bridge, the caller's own side, ``Replaces``) is refused with 403."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from calltape.sip.address import parse_address
from calltape.sip.events import RequestReceived
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.uri import SipUri
from calltape.switch.leg import Leg

log = logging.getLogger(__name__)

SUBSCRIPTION_SECONDS = 60


@dataclass(frozen=True)
class TransferRequest:
    """A transferor asked that the caller go on to *number* (the Refer-To URI's user part)."""

    transferor: Leg
    number: str
    callflow_id: str


def refer_target(event: RequestReceived) -> str | None:
    """The number a REFER names (its Refer-To user part); None if it names none, or asks for an attended transfer
    (``Replaces``), which calltape does not carry out yet."""
    value = event.request.headers.get("Refer-To")
    if not value:
        return None
    try:
        uri = parse_address(value).uri
    except SipSyntaxError:
        return None
    if not isinstance(uri, SipUri) or "replaces=" in uri.headers.lower() or not uri.user_unescaped:
        return None
    return uri.user_unescaped


def notify(leg: Leg, status_line: str, *, final: bool) -> None:
    """Tell the transferor how its transfer goes: a NOTIFY in the REFER's dialog with *status_line* as sipfrag."""
    if leg.dialog is None or leg.ended.is_set():
        return
    state = "terminated;reason=noresource" if final else f"active;expires={SUBSCRIPTION_SECONDS}"
    request = leg.dialog.create_request(
        "NOTIFY",
        leg.host.via_for(leg.peer, leg.local_address),
        body=f"{status_line}\r\n".encode(),
        content_type="message/sipfrag;version=2.0",
    )
    request.headers.add("Event", "refer")
    request.headers.add("Subscription-State", state)
    leg.host.send_request(request, leg.peer, leg)
