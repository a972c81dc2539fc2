"""Signed audio links: one recording, until they expire, under the admin token that signed them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from calltape.api.audio_links import AUDIO_PATH, AudioLinks


def _parts(link: str) -> tuple[str, str, str, str]:
    parts = urlsplit(link)
    _, _, _, account, recording = parts.path.split("/")
    query = parse_qs(parts.query)
    return account, recording, query["expires"][0], query["sig"][0]


def test_a_link_reads_its_recording_until_it_expires() -> None:
    links = AudioLinks("admin-token", ttl=60)
    link, expires = links.link("acc", "202611-abc", now=1000.0)
    assert link.startswith(f"{AUDIO_PATH}/acc/202611-abc?") and expires == 1060
    assert "admin-token" not in link
    account, recording, exp, sig = _parts(link)
    assert links.valid(account, recording, exp, sig, now=1059.0)
    assert not links.valid(account, recording, exp, sig, now=1061.0)  # expired


def test_a_link_is_for_one_recording_and_cannot_be_altered() -> None:
    links = AudioLinks("admin-token")
    account, recording, exp, sig = _parts(links.link("acc", "r1", now=1000.0)[0])
    assert not links.valid(account, "r2", exp, sig, now=1000.0)
    assert not links.valid("other", recording, exp, sig, now=1000.0)
    assert not links.valid(account, recording, str(int(exp) + 3600), sig, now=1000.0)  # a longer life
    assert not links.valid(account, recording, exp, sig[:-1] + ("0" if sig[-1] != "0" else "1"), now=1000.0)
    assert not links.valid(account, recording, "", sig, now=1000.0)
    assert not links.valid(account, recording, "-5", sig, now=1000.0)
    assert not links.valid(account, recording, exp, "", now=1000.0)


def test_another_admin_token_voids_every_link() -> None:
    account, recording, exp, sig = _parts(AudioLinks("old-token").link("acc", "r1", now=1000.0)[0])
    assert not AudioLinks("new-token").valid(account, recording, exp, sig, now=1000.0)


def test_an_expiry_that_is_not_a_sane_number_is_refused_not_a_crash() -> None:
    links = AudioLinks("admin-token")
    for expires in ("9" * 5000, "²", "-1", ""):  # int() of 5,000 digits raises; "²".isdigit() is true
        assert not links.valid("acc", "r1", expires, "0" * 64, now=1000.0)
