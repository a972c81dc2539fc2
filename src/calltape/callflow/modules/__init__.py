"""One file per callflow module; importing this package registers them all."""

from calltape.callflow.modules import answer, callflow, collect_dtmf, echo, hangup, play, say, sleep, tone

__all__ = ["answer", "callflow", "collect_dtmf", "echo", "hangup", "play", "say", "sleep", "tone"]
