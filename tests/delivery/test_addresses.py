"""Kazoo's upload URL rules (KAZOO-COMPAT.md, "The upload request"), checked against hand-written expectations."""

from __future__ import annotations

import pytest

from calltape.delivery import addresses

QUERY = {
    "from": "1001@example.com",
    "to": "2000@example.com",
    "caller_id_name": "Ada Lovelace",
    "caller_id_number": "+1 555",
    "call_id": "abc@host",
    "cdr_id": "202611-abc@host",
    "interaction_id": "63963000000-1a2b3c4d",
    "account_id": "acc",
    "owner_id": None,
    "start": 63963000000,
    "duration_ms": 2990,
    "recording_id": "202611-" + "0" * 32,
}
EXPECTED_QUERY = (
    "from=1001%40example.com&to=2000%40example.com&caller_id_name=Ada%20Lovelace&caller_id_number=%2B1%20555"
    "&call_id=abc%40host&cdr_id=202611-abc%40host&interaction_id=63963000000-1a2b3c4d&account_id=acc&owner_id="
    "&start=63963000000&duration_ms=2990&recording_id=202611-00000000000000000000000000000000"
)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://r.example/kzr", "http://r.example/kzr/call_recording_abc%40host.mp3?"),
        ("http://r.example/kzr/", "http://r.example/kzr/call_recording_abc%40host.mp3?"),
        ("http://r.example/up.php?file", "http://r.example/up.php?file=call_recording_abc%40host.mp3&"),
        ("http://r.example/up.php?file=", "http://r.example/up.php?file=call_recording_abc%40host.mp3&"),
        ("http://r.example/up.php?k=v", "http://r.example/up.php?k=v&recording=call_recording_abc%40host.mp3&"),
        ("http://r.example/up.php?a=1&k", "http://r.example/up.php?a=1&k=call_recording_abc%40host.mp3&"),
    ],
)
def test_the_file_name_and_the_twelve_query_keys_are_placed_as_kazoo_places_them(base: str, expected: str) -> None:
    assert addresses.upload_url(base, "call_recording_abc@host.mp3", QUERY) == expected + EXPECTED_QUERY


def test_record_caller_urls_carry_no_query() -> None:
    assert addresses.upload_url("http://r.example/vm/", "abc@host.wav", None) == "http://r.example/vm/abc%40host.wav"


def test_placeholders_are_filled_in_any_case_and_encoded() -> None:
    values = {"account_id": "acc", "user_id": "u 1", "owner_id": "u 1", "call_id": "a/b"}
    url = addresses.fill_placeholders("http://h/{ACCOUNT_ID}/{User_Id}/{call_id}/{caller_id_number}/{other}", values)
    assert url == "http://h/acc/u%201/a%2Fb/unknown/{other}"
