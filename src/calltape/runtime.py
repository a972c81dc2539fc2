"""Process set-up shared by every calltape command: logging and the event loop."""

from __future__ import annotations

import asyncio
import logging
import sys


def configure_logging(level: str, prefix: str = "") -> None:
    """Log lines to stderr; *prefix* names the worker process."""
    logging.basicConfig(
        level=level.upper(), format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
    for chatty in ("boto3", "botocore", "s3transfer", "urllib3"):  # at debug: every request's headers and body
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


def install_event_loop_policy() -> None:
    """uvloop where it exists."""
    try:
        import uvloop
    except ImportError:  # non-Linux platforms: the default loop works, only slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
