"""``calltape check``: validate a config file and every callflow in the database, with lint warnings.

Exit status: 0 when everything is valid (warnings are printed but allowed), 1 when a stored callflow is
invalid, 2 for a bad config, bad flags or a database that cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from calltape.callflow.lint import AccountIds, LintLimits, lint_callflow
from calltape.callflow.validation import CallflowInvalidError, validate_callflow
from calltape.config import ConfigError, load_settings
from calltape.receiver.server import embedded_settings
from calltape.recording.media_settings import MediaSettings
from calltape.store import migrations
from calltape.store.callflows import Callflows
from calltape.store.database import Database, StoreError
from calltape.store.documents import (
    ACCOUNTS,
    DEVICES,
    GROUPS,
    MEDIA,
    MENUS,
    TEMPORAL_RULES,
    TEMPORAL_RULES_SETS,
    USERS,
    VMBOXES,
    Doc,
    Documents,
)
from calltape.store.system_configs import SystemConfigs

HELP = "validate a config file and every stored callflow (with lint warnings)"


class CheckFailedError(Exception):
    """The check cannot go on (unreadable database): a one-line reason."""


@dataclass
class Report:
    """What the check found."""

    lines: list[str] = field(default_factory=list)
    callflows: int = 0
    accounts: int = 0
    invalid: int = 0
    warnings: int = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and where the database is (``--db URL`` or ``--data-dir DIR``)."""
    parser.add_argument("--config", type=Path, help="serve's TOML file: checked, and its db/data_dir used")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="URL", help="the database to check (sqlite:///PATH or postgresql://…)")
    where.add_argument("--data-dir", metavar="DIR", help="the data dir whose SQLite file to check")


def run(args: argparse.Namespace) -> int:
    """Check; print one line per problem and a summary; return the exit status."""
    try:
        settings = load_settings({"db": args.db, "data_dir": args.data_dir}, args.config)
        embedded_settings(settings.data_dir, args.config)  # serve's [receiver] table
    except ConfigError as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    if args.config is not None:
        print(f"config {args.config}: ok")
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        print(
            f"calltape: error: no database at {url.removeprefix('sqlite:///')} "
            "(give the --data-dir or --db of a calltape that has run)",
            file=sys.stderr,
        )
        return 2
    try:
        report = asyncio.run(check_store(url))
    except CheckFailedError as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    for line in report.lines:
        print(line)
    accounts = f"{report.accounts} account{'' if report.accounts == 1 else 's'}"
    print(
        f"checked {report.callflows} callflow{'' if report.callflows == 1 else 's'} in {accounts}: "
        f"{report.invalid} invalid, {report.warnings} warning{'' if report.warnings == 1 else 's'}"
    )
    return 1 if report.invalid else 0


async def check_store(url: str) -> Report:
    """Validate and lint every callflow of every account in the database at *url* (read only)."""
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        db = Database(url)
    except (StoreError, SQLAlchemyError, ImportError) as exc:
        raise CheckFailedError(f"cannot open database {shown}: {exc}") from None
    report = Report()
    try:
        version = await db.schema_version()
        if version < migrations.LATEST_VERSION:
            report.lines.append(
                f"warning: database schema version {version} is older than this calltape's "
                f"{migrations.LATEST_VERSION}; calltape serve migrates it when it starts"
            )
            report.warnings += 1
        media = MediaSettings.from_document(await SystemConfigs(db).get("media"))
        limits = LintLimits(media.max_recording_time_limit, media.extension)
        for account in await Documents(db, ACCOUNTS).list():
            report.accounts += 1
            await _check_account(db, account["id"], limits, report)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CheckFailedError(f"cannot read database {shown}: {reason}") from None
    finally:
        await db.close()
    return report


async def _check_account(db: Database, account_id: str, limits: LintLimits, report: Report) -> None:
    async def ids(kind: Documents) -> frozenset[str]:
        return frozenset(d["id"] for d in await kind.list(account_id))

    flows = await Callflows(db).list(account_id)
    known = AccountIds(
        users=await ids(Documents(db, USERS)),
        devices=await ids(Documents(db, DEVICES)),
        vmboxes=await ids(Documents(db, VMBOXES)),
        media=await ids(Documents(db, MEDIA)),
        menus=await ids(Documents(db, MENUS)),
        groups=await ids(Documents(db, GROUPS)),
        temporal_rules=await ids(Documents(db, TEMPORAL_RULES)),
        temporal_rules_sets=await ids(Documents(db, TEMPORAL_RULES_SETS)),
        callflows={f["id"]: f for f in flows},
    )
    for doc in flows:
        report.callflows += 1
        name = f"callflow {doc['id']} ({_numbers(doc)})"
        try:
            warnings = validate_callflow(doc)
        except CallflowInvalidError as exc:
            report.invalid += 1
            report.lines.extend(f"{name}: {path}: {reason}" for path, reason in exc.errors.items())
            continue
        found = [*warnings, *(str(f) for f in lint_callflow(doc, known, limits))]
        report.warnings += len(found)
        report.lines.extend(f"warning: {name}: {text}" for text in found)


def _numbers(doc: Doc) -> str:
    numbers, patterns = doc.get("numbers") or [], doc.get("patterns") or []
    shown = [str(n) for n in numbers] if isinstance(numbers, list) else [str(numbers)]
    shown += [f"/{p}/" for p in patterns] if isinstance(patterns, list) else [str(patterns)]
    return ", ".join(shown) if shown else "no numbers"
