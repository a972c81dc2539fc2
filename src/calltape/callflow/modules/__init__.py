"""One file per callflow module; importing this package registers them all."""

from calltape.callflow.modules import (
    answer,
    callflow,
    collect_dtmf,
    device,
    echo,
    hangup,
    play,
    record_call,
    record_caller,
    say,
    sleep,
    tone,
    user,
    voicemail,
)

__all__ = [
    "answer",
    "callflow",
    "collect_dtmf",
    "device",
    "echo",
    "hangup",
    "play",
    "record_call",
    "record_caller",
    "say",
    "sleep",
    "tone",
    "user",
    "voicemail",
]
