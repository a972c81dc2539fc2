"""The recordings web page at ``/ui``: plain HTML, CSS and JavaScript files shipped in the package.

The page talks to ``/v2`` with the admin token the user signs in with (kept in the tab's sessionStorage);
its audio comes through signed links (``calltape.api.audio_links``). Nothing is loaded from elsewhere, which
the Content-Security-Policy says too.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

UI_PATH = "/ui"
STATIC_DIR = Path(str(files("calltape.ui") / "static"))
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _PageFiles(StaticFiles):
    """The page's files, with headers that keep it to itself."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def add_ui(app: FastAPI) -> None:
    """Serve the page at ``/ui/`` (``/ui`` redirects there). Mount it after every other ``/ui/…`` route."""

    @app.get(UI_PATH, include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse(UI_PATH + "/", status_code=307)

    app.mount(UI_PATH, _PageFiles(directory=STATIC_DIR, html=True), name="ui")
