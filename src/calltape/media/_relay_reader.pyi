from typing import Any

class RelayReader:
    def __init__(
        self,
        *,
        fd: int,
        peer_fd: int,
        buffer: bytearray,
        audio_type: int,
        out_type: int,
        source: int,
        out_ssrc: int,
        seq_offset: int,
        ts_offset: int,
        hand_on_frames: int,
        taps: list[Any],
        peer_taps: list[Any],
        kept: Any,
        hand_on: Any,
        handle: Any,
        now: Any,
        read_failed: Any,
        peer_stats: dict[str, int],
        peer: Any,
    ) -> None: ...
    def read(self) -> None: ...
    def counts(self) -> tuple[int, int, tuple[int, int, int, int, int] | None]: ...
    def detach(self) -> None: ...
