"""Kazoo's recording names, ids and times, checked against hand-written expectations."""

from __future__ import annotations

from calltape.recording import names


def test_later_recordings_of_a_call_are_numbered_and_media_names_never_double_their_extension() -> None:
    assert names.file_name("c1", "mp3") == "call_recording_c1.mp3"
    assert names.file_name("c1", "mp3", 2) == "call_recording_c1_2.mp3"
    assert names.media_name("greeting.mp3", "mp3") == "greeting.mp3"
    assert names.media_name("greeting.MP3", "mp3") == "greeting.MP3"
    assert names.media_name("greeting", "wav") == "greeting.wav"
    assert names.media_name(None, "wav") is None


def test_kazoo_times_and_ids() -> None:
    assert names.gregorian(0) == 62167219200
    assert names.cdr_id("xyz", 1795000000) == "202611-xyz"
    recording_id = names.recording_id(1795000000)
    assert recording_id.startswith("202611-") and len(recording_id) == 39 and int(recording_id[7:], 16) >= 0
