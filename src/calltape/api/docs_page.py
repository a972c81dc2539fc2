"""``/docs``: the API reference, a small page in the package that renders ``/openapi.json`` (no CDN)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

# file name → (URL path, content type)
_FILES = {
    "docs.html": ("/docs", "text/html; charset=utf-8"),
    "docs.js": ("/docs/docs.js", "text/javascript; charset=utf-8"),
    "docs.css": ("/docs/docs.css", "text/css; charset=utf-8"),
}
# Everything comes from this server: the page, its script and style, and /openapi.json.
_HEADERS = {"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff"}


def add_docs_page(app: FastAPI) -> None:
    """Serve the API reference page and its assets (read once, from the package)."""
    static = resources.files("calltape.api") / "static"
    for name, (path, media_type) in _FILES.items():
        app.add_api_route(path, _endpoint((static / name).read_bytes(), media_type), include_in_schema=False)


def _endpoint(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(body, media_type=media_type, headers=_HEADERS)

    return serve
