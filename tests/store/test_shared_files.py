"""Files every node needs (voicemail messages, media): with PostgreSQL a file one node made is fetched by another
into its own data dir, fetched again when it was made anew, deleted there when it is deleted (and not brought
back), and what a node made before sharing existed is shared at its start; with SQLite (one node) the data dir is
the only copy."""

from __future__ import annotations

from pathlib import Path

from calltape.store.database import Database
from calltape.store.shared_files import SharedFiles


async def test_a_file_one_node_made_is_fetched_by_another_and_again_once_made_anew(
    database: Database, tmp_path: Path
) -> None:
    one, other = SharedFiles(database, tmp_path / "one"), SharedFiles(database, tmp_path / "two")
    made = tmp_path / "one" / "media" / "acct" / "m1.wav"
    made.parent.mkdir(parents=True)
    made.write_bytes(b"RIFF-first")
    await one.keep(made, "acct")
    there = tmp_path / "two" / "media" / "acct" / "m1.wav"
    assert await other.local(there) is (not database.is_sqlite)
    if database.is_sqlite:  # not shared: the other node has nothing
        assert not there.exists()
        return
    assert there.read_bytes() == b"RIFF-first"
    made.write_bytes(b"RIFF-second")
    await one.keep(made, "acct")
    assert await other.local(there) and there.read_bytes() == b"RIFF-first"  # trusted for a few seconds ...
    assert await other.local(there, now=True) and there.read_bytes() == b"RIFF-second"  # ... or checked now
    await one.forget(made)
    made.unlink()
    assert await other.local(there, now=True) is False and not there.exists()  # deleted on the other node too
    assert await other.share_what_is_here("media") == 0  # and not brought back by a node that had it
    assert await other.local(tmp_path / "two" / "media" / "acct" / "never.wav") is False


async def test_what_a_node_made_before_sharing_is_shared_at_its_start(database: Database, tmp_path: Path) -> None:
    here = tmp_path / "one"
    message = here / "voicemail" / "acct" / "box" / "msg.mp3"
    message.parent.mkdir(parents=True)
    message.write_bytes(b"ID3-message")
    (message.parent / "draft-x.wav").write_bytes(b"not kept yet")
    shared = await SharedFiles(database, here).share_what_is_here("voicemail", "media")
    elsewhere = tmp_path / "two" / "voicemail" / "acct" / "box" / "msg.mp3"
    if database.is_sqlite:
        assert shared == 0
        return
    assert shared == 1
    assert await SharedFiles(database, tmp_path / "two").local(elsewhere) and elsewhere.read_bytes() == b"ID3-message"
    assert await SharedFiles(database, here).share_what_is_here("voicemail", "media") == 0  # once
