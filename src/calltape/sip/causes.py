"""Why a call attempt failed, named as Kazoo and FreeSWITCH name it: a SIP final status mapped to its Q.850 cause
(RFC 3398 §8.2.6.1, with FreeSWITCH's names and its choices where the RFC has none: 487, 488)."""

from __future__ import annotations

NO_ANSWER = "NO_ANSWER"  # nobody answered in time (no final response: the attempt was cancelled)

_CAUSES = {
    400: "NORMAL_TEMPORARY_FAILURE",
    401: "CALL_REJECTED",
    402: "CALL_REJECTED",
    403: "CALL_REJECTED",
    404: "UNALLOCATED_NUMBER",
    405: "SERVICE_UNAVAILABLE",
    406: "SERVICE_NOT_IMPLEMENTED",
    407: "CALL_REJECTED",
    408: "RECOVERY_ON_TIMER_EXPIRE",
    410: "NUMBER_CHANGED",
    413: "INTERWORKING",
    414: "INTERWORKING",
    415: "SERVICE_NOT_IMPLEMENTED",
    416: "INTERWORKING",
    420: "INTERWORKING",
    421: "INTERWORKING",
    423: "INTERWORKING",
    480: "NO_USER_RESPONSE",
    481: "NORMAL_TEMPORARY_FAILURE",
    482: "EXCHANGE_ROUTING_ERROR",
    483: "EXCHANGE_ROUTING_ERROR",
    484: "INVALID_NUMBER_FORMAT",
    485: "UNALLOCATED_NUMBER",
    486: "USER_BUSY",
    487: "ORIGINATOR_CANCEL",
    488: "INCOMPATIBLE_DESTINATION",
    500: "NORMAL_TEMPORARY_FAILURE",
    501: "SERVICE_NOT_IMPLEMENTED",
    502: "NETWORK_OUT_OF_ORDER",
    503: "NORMAL_TEMPORARY_FAILURE",
    504: "RECOVERY_ON_TIMER_EXPIRE",
    505: "INTERWORKING",
    580: "BEARERCAPABILITY_NOTAVAIL",
    600: "USER_BUSY",
    603: "CALL_REJECTED",
    604: "UNALLOCATED_NUMBER",
    606: "BEARERCAPABILITY_NOTAVAIL",
}


def cause_of(status: int) -> str:
    """The Q.850 cause name for a SIP final status (a class's default for codes the table does not list)."""
    if status in _CAUSES:
        return _CAUSES[status]
    if 400 <= status < 500:
        return "CALL_REJECTED"
    if 500 <= status < 600:
        return "NORMAL_TEMPORARY_FAILURE"
    return "NORMAL_UNSPECIFIED"
