"""``calltape keys``: the keys recordings are encrypted at rest with (``at_rest/keyring.py``).

- ``calltape keys new ID`` prints a keyring line with a fresh key.
- ``calltape keys rewrap --to ID`` re-wraps every sealed recording's data key by the key *ID*: the spool files of
  every worker, the database's copies and the files in accounts' ``filesystem`` storage plans. The audio is not
  encrypted again, and a running server goes on meanwhile. Run it after the accounts point at the new key, and
  again until it finds nothing left, before the old key leaves the keyring.
- ``calltape keys decrypt FILE`` writes a sealed recording (a file a filesystem storage plan holds) as plain audio.

Exit status: 0 done, 1 some recordings could not be re-wrapped (their key is missing or wrong: listed), 2 a bad
flag, keyring or database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from calltape.at_rest.keyring import HEADER_SIZE, KEY_ID, KEYRING, MAGIC, KeyUnavailableError, new_key, parse_header
from calltape.at_rest.sealed import DamagedRecordError, is_sealed, open_file, rewrap, rewrap_file
from calltape.config import ConfigError, load_settings
from calltape.store import schema
from calltape.store.database import Database, StoreError

HELP = "new recording keys, re-wrapping recordings for a new key, decrypting a sealed recording"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``new``, ``rewrap`` and ``decrypt``."""
    actions = parser.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="print a keyring line with a fresh key")
    new.add_argument("key_id", metavar="ID", help="the key's name (letters, digits, . _ : -)")
    again = actions.add_parser("rewrap", help="re-wrap every sealed recording's data key by another key")
    again.add_argument("--to", required=True, metavar="ID", help="the key to wrap by (in the keyring)")
    decrypt = actions.add_parser("decrypt", help="write a sealed recording as plain audio")
    decrypt.add_argument("file", metavar="FILE", type=Path, help="the sealed recording")
    decrypt.add_argument("-o", "--output", metavar="OUT", type=Path, help="where to write it (default: stdout)")
    for action in (again, decrypt):
        action.add_argument("--config", type=Path, help="serve's TOML file (its recording_keys, db and data_dir)")
        action.add_argument("--recording-keys", metavar="FILE", help="the keyring (as serve's)")
    again.add_argument("--db", metavar="URL", help="the database (sqlite:///PATH or postgresql://…)")
    again.add_argument("--data-dir", metavar="DIR", help="the data dir (spool files, the SQLite file)")


def run(args: argparse.Namespace) -> int:
    """Run one action; the exit status."""
    if args.action == "new":
        if not KEY_ID.fullmatch(args.key_id):
            print("calltape: error: a key id is 1-64 letters, digits and . _ : -", file=sys.stderr)
            return 2
        print(f"{args.key_id} {new_key()}")
        return 0
    flags = {"recording_keys": args.recording_keys}
    if args.action == "rewrap":
        flags |= {"db": args.db, "data_dir": args.data_dir}
    try:
        settings = load_settings(flags, args.config)
        if not settings.recording_keys:
            raise ConfigError("--recording-keys: the keyring is needed")
        KEYRING.load(Path(settings.recording_keys))
    except (ConfigError, OSError, ValueError) as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    if args.action == "decrypt":
        return _decrypt(args.file, args.output)
    if args.to not in KEYRING:
        print(f"calltape: error: --to: the key {args.to!r} is not in {settings.recording_keys}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(rewrap_everything(settings.db_url, settings.data_dir, args.to))
    except (StoreError, SQLAlchemyError, OSError) as exc:
        print(f"calltape: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    for line in report.problems:
        print(line)
    print(
        f"re-wrapped for {args.to}: {report.files} file(s), {report.copies} database cop(ies); "
        f"{report.already} already; {len(report.problems)} could not be"
    )
    return 1 if report.problems else 0


def _decrypt(path: Path, output: Path | None) -> int:
    try:
        if not is_sealed(path):
            print(f"calltape: error: {path} is not a sealed recording", file=sys.stderr)
            return 2
        with open_file(path) as plain:
            target = output.open("wb") if output is not None else sys.stdout.buffer
            try:
                while chunk := plain.read(1 << 20):
                    target.write(chunk)
            finally:
                if output is not None:
                    target.close()
    except (OSError, KeyUnavailableError, DamagedRecordError) as exc:
        print(f"calltape: error: {path}: {exc}", file=sys.stderr)
        return 2
    return 0


@dataclass
class Rewrapped:
    """What a re-wrap did."""

    files: int = 0
    copies: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)


async def rewrap_everything(url: str, data_dir: Path, key_id: str) -> Rewrapped:
    """Re-wrap the spool files under *data_dir*, the database's copies and the storage plans' files by *key_id*."""
    report = Rewrapped()
    db = Database(url)
    try:
        plans = await db.run(lambda conn: [row[0] for row in conn.execute(select(schema.storage_plans.c.doc))])
        directories = [*sorted(data_dir.glob("spool*")), *_plan_directories(plans)]
        for directory in directories:
            await asyncio.to_thread(_rewrap_directory, directory, key_id, report)
        await db.run(lambda conn: _rewrap_copies(conn, key_id, report))
    finally:
        await db.close()
    return report


def _plan_directories(plans: list[dict[str, object]]) -> list[Path]:
    found = []
    for plan in plans:
        attachments = plan.get("attachments")
        for attachment in attachments.values() if isinstance(attachments, dict) else ():
            if isinstance(attachment, dict) and attachment.get("handler") == "filesystem":
                found.append(Path(str((attachment.get("settings") or {}).get("path"))))
    return found


def _rewrap_directory(directory: Path, key_id: str, report: Rewrapped) -> None:
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            if not is_sealed(path):
                continue
            if rewrap_file(path, key_id):
                report.files += 1
            else:
                report.already += 1
        except (OSError, ValueError, KeyUnavailableError) as exc:  # ValueError: a header cut short
            report.problems.append(f"{path}: {exc}")


def _rewrap_copies(conn: Connection, key_id: str, report: Rewrapped) -> None:
    blobs = schema.recording_blobs
    for recording_id in list(conn.execute(select(blobs.c.recording_id)).scalars()):  # one copy in memory at a time
        data = bytes(conn.execute(select(blobs.c.data).where(blobs.c.recording_id == recording_id)).scalar_one())
        if not data.startswith(MAGIC):
            continue
        try:
            if parse_header(data)[0] == key_id:
                report.already += 1
                continue
            header = rewrap(data[:HEADER_SIZE], key_id)
        except (ValueError, KeyUnavailableError) as exc:
            report.problems.append(f"recording {recording_id} (database copy): {exc}")
            continue
        conn.execute(update(blobs).where(blobs.c.recording_id == recording_id).values(data=header + data[HEADER_SIZE:]))
        report.copies += 1
