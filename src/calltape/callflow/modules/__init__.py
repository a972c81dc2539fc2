"""One file per callflow module; importing this package registers them all."""

from calltape.callflow.modules import (
    answer,
    callflow,
    collect_dtmf,
    device,
    echo,
    hangup,
    play,
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
    "say",
    "sleep",
    "tone",
    "user",
    "voicemail",
]
