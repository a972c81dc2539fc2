"""Routes for Kazoo-style document collections (accounts, devices, callflows, media).

Both crossbar's verbs (PUT creates on a collection, POST replaces a document) and the plain
REST ones (POST creates, PUT replaces) are accepted, so scripts written for either work. Keys starting
with ``pvt_`` are the server's (a user's password hashes): never taken from a request, kept across a
replace, never shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from calltape.api.envelope import merge_patch, paged, read_data, success, validate
from calltape.api.openapi import LIST_PARAMETERS, answer, request_body

Doc = dict[str, Any]
#: Validates a document: the document to store and any warnings, or an ApiError(400).
Checker = Callable[[Doc], tuple[Doc, list[str]]]
#: What a list shows of the account's documents.
Summarize = Callable[[Any, list[Doc]], Awaitable[list[Doc]]]


def each(summary: Callable[[Doc], Doc]) -> Summarize:
    """A Summarize that applies *summary* to every document."""

    async def summarize(_account: Any, docs: list[Doc]) -> list[Doc]:
        return [summary(doc) for doc in docs]

    return summarize


class DocumentStore(Protocol):
    """What the routes need from a store (``Documents``, ``Callflows``)."""

    def create(self, doc: Doc, account_id: Any) -> Awaitable[Doc]: ...
    def get(self, doc_id: str, account_id: Any) -> Awaitable[Doc]: ...
    def list(self, account_id: Any) -> Awaitable[list[Doc]]: ...
    def replace(self, doc_id: str, doc: Doc, account_id: Any) -> Awaitable[Doc]: ...
    def delete(self, doc_id: str, account_id: Any) -> Awaitable[None]: ...


def shown(doc: Doc) -> Doc:
    """A document without the server's ``pvt_`` keys: as the API shows it, and as it takes one from a client."""
    return {k: v for k, v in doc.items() if not k.startswith("pvt_")}


def private(doc: Doc) -> Doc:
    """Only the server's ``pvt_`` keys of a document (kept when a client replaces it)."""
    return {k: v for k, v in doc.items() if k.startswith("pvt_")}


def model_checker(model: type[BaseModel]) -> Checker:
    """A checker from a pydantic model (no warnings)."""
    return lambda data: (validate(model, data), [])


def add_document_routes(
    router: APIRouter,
    path: str,
    store: DocumentStore,
    check: Checker,
    *,
    account_of: Callable[[Request], Any],
    summarize: Summarize | None = None,
    before_delete: Callable[[Request, Any, str], Awaitable[None]] | None = None,
    after_delete: Callable[[Any, str], Awaitable[None]] | None = None,
    on_change: Callable[[], None] = lambda: None,
    model: type[BaseModel] | None = None,
) -> None:
    """GET list / GET one / create / replace / PATCH / DELETE for one collection at *path*.

    ``check`` validates what is written. ``account_of(request)`` is awaited and returns the account id the
    collection belongs to (or None); it raises 404 for an unknown account. ``summarize(account, docs)`` gives
    what a list shows of each (Kazoo's listing fields; default: the whole document). ``before_delete(request,
    account, id)`` may refuse a delete (raise) or remove what depends on the document; ``after_delete(account,
    id)`` cleans up what lives beside a document (e.g. a media's audio); ``on_change()`` runs after every write
    (e.g. to drop cached lookups); *model* is what ``/openapi.json`` says a body holds.
    """
    item = path + "/{doc_id}"

    async def list_docs(request: Request) -> JSONResponse:
        account = await account_of(request)
        owner = getattr(request.state, "owner_only", None)  # a user's sign-in lists what the user owns
        docs = [d for d in await store.list(account) if owner is None or owner in (d.get("owner_id"), d.get("id"))]
        listed = [shown(d) for d in docs]
        return paged(request, await summarize(account, listed) if summarize is not None else listed)

    async def create(request: Request) -> JSONResponse:
        account = await account_of(request)
        doc, warnings = check(shown(await read_data(request)))
        created = await store.create(doc, account)
        on_change()
        return success(shown(created), 201, warnings)

    async def get(request: Request, doc_id: str) -> JSONResponse:
        account = await account_of(request)
        return success(shown(await store.get(doc_id, account)))

    async def replace(request: Request, doc_id: str) -> JSONResponse:
        account = await account_of(request)
        stored = await store.get(doc_id, account)
        doc, warnings = check(shown(await read_data(request)))
        replaced = await store.replace(doc_id, {**private(stored), **doc}, account)
        on_change()
        return success(shown(replaced), 200, warnings)

    async def patch(request: Request, doc_id: str) -> JSONResponse:
        account = await account_of(request)
        current = await store.get(doc_id, account)
        current.pop("id", None)
        doc, warnings = check(merge_patch(current, shown(await read_data(request))))
        patched = await store.replace(doc_id, doc, account)
        on_change()
        return success(shown(patched), 200, warnings)

    async def delete(request: Request, doc_id: str) -> JSONResponse:
        account = await account_of(request)
        if before_delete is not None:
            await store.get(doc_id, account)  # 404 before anything else
            await before_delete(request, account, doc_id)
        await store.delete(doc_id, account)
        on_change()
        if after_delete is not None:
            await after_delete(account, doc_id)
        return success({"id": doc_id})

    body, one = request_body(model), answer(model)
    router.add_api_route(path, list_docs, methods=["GET"], openapi_extra=LIST_PARAMETERS | answer(model, many=True))
    router.add_api_route(
        path, create, methods=["PUT", "POST"], status_code=201, openapi_extra=body | answer(model, status="201")
    )
    router.add_api_route(item, get, methods=["GET"], openapi_extra=one)
    router.add_api_route(item, replace, methods=["POST", "PUT"], openapi_extra=body | one)
    router.add_api_route(item, patch, methods=["PATCH"], openapi_extra=request_body(model, "fields to change") | one)
    router.add_api_route(item, delete, methods=["DELETE"])
