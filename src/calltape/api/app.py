"""The FastAPI application: accounts, devices, callflows, media and system configs under ``/v2``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from calltape import __version__
from calltape.api import summaries
from calltape.api.accounts import add_account_routes
from calltape.api.audio_links import AudioLinks, add_audio_link_routes
from calltape.api.auth import TokenAuth, require_master
from calltape.api.callflows import check_callflow
from calltape.api.crossbar import CrossbarEnvelope
from calltape.api.docs_page import add_docs_page
from calltape.api.documents import Doc, add_document_routes, each, model_checker
from calltape.api.envelope import merge_patch, read_data, success, validate
from calltape.api.errors import ApiError, install_error_handlers
from calltape.api.live import ChannelLister, add_live_routes
from calltape.api.media import add_media_raw_routes
from calltape.api.nodes import NodeControl, add_node_routes
from calltape.api.openapi import install_openapi, request_body
from calltape.api.outbox_log import add_outbox_log_routes
from calltape.api.phone_numbers import add_phone_number_routes
from calltape.api.recordings import add_recording_routes
from calltape.api.routing import Router
from calltape.api.schemas import (
    Account,
    Device,
    Group,
    Media,
    MediaConfig,
    Menu,
    Resource,
    TemporalRule,
    TemporalRuleSet,
    User,
    VMBox,
)
from calltape.api.scope import AccountScope
from calltape.api.storage import add_storage_routes
from calltape.api.ui import add_ui
from calltape.api.user_auth import add_user_auth_route, check_user
from calltape.api.voicemail import add_message_routes
from calltape.delivery.storage_plan import StoragePlan
from calltape.media.library import MediaLibrary
from calltape.notify.smtp import SMTP_CONFIG, SmtpClientConfig
from calltape.store.auth_tokens import AuthTokens
from calltape.store.callflows import Callflows
from calltape.store.database import Database
from calltape.store.directory import Directory
from calltape.store.documents import (
    ACCOUNTS,
    DEVICES,
    GLOBAL_RESOURCES,
    GROUPS,
    MEDIA,
    MENUS,
    RESOURCES,
    TEMPORAL_RULES,
    TEMPORAL_RULES_SETS,
    USERS,
    VMBOXES,
    Documents,
)
from calltape.store.nodes import Nodes
from calltape.store.notifications import Notifications, as_smtp_log
from calltape.store.recording_audit import RecordingAudit
from calltape.store.recordings import Recordings
from calltape.store.signing_keys import SigningKeys
from calltape.store.storage_plans import StoragePlans
from calltape.store.system_configs import SystemConfigs
from calltape.store.voicemail import VoicemailMessages
from calltape.store.webhook_events import WebhookEvents, as_log_entry
from calltape.webhooks.events import StatusEvents

SYSTEM_CONFIG_MODELS: dict[str, type[BaseModel]] = {"media": MediaConfig, SMTP_CONFIG: SmtpClientConfig}
SECRET_SHOWN = "********"  # smtp_client's password as GET shows it; PUT or PATCH of this keeps the stored one


def create_app(
    db: Database,
    admin_token: str,
    media_library: MediaLibrary,
    directory: Directory | None = None,
    callflows: Callflows | None = None,
    voicemail: VoicemailMessages | None = None,
    recordings: Recordings | None = None,
    on_recording_retry: Callable[[], None] = lambda: None,
    on_notification_retry: Callable[[], None] = lambda: None,
    recording_events: StatusEvents | None = None,
    on_webhook_retry: Callable[[], None] = lambda: None,
    on_config_change: Callable[[], None] = lambda: None,
    metrics: Callable[[], Awaitable[str]] | None = None,
    health: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]] | None = None,
    channels: ChannelLister | None = None,
    node: str = "",
    node_control: NodeControl | None = None,
) -> FastAPI:
    """Build the API for *db*, guarded by *admin_token*; writes refresh *directory* and *callflows*' caches."""
    app = FastAPI(title="calltape", version=__version__, docs_url=None, redoc_url=None)
    app.add_middleware(CrossbarEnvelope, node=node)
    install_error_handlers(app)
    tokens = AuthTokens(db)
    router = Router(prefix="/v2", dependencies=[Depends(TokenAuth(admin_token, tokens))])
    open_router = Router(prefix="/v2")  # what a client calls to get a token
    accounts = Documents(db, ACCOUNTS)
    devices = Documents(db, DEVICES)
    users = Documents(db, USERS)
    vmboxes = Documents(db, VMBOXES)
    configs = SystemConfigs(db)
    recordings = recordings or Recordings(db)
    callflows = callflows or Callflows(db)
    account_in_path = AccountScope(accounts, users, devices, vmboxes, recordings)

    forget = directory.forget if directory is not None else (lambda: None)
    add_account_routes(router, open_router, accounts, tokens, forget)
    add_user_auth_route(open_router, accounts, users, callflows.dids, tokens)
    add_document_routes(
        router,
        "/accounts/{account_id}/devices",
        devices,
        model_checker(Device),
        account_of=account_in_path,
        model=Device,
        summarize=each(summaries.device),
        on_change=forget,
    )
    messages = voicemail or VoicemailMessages(db, media_library.root.parent)

    async def devices_of_user(request: Request, account: str, user_id: str) -> None:
        """A user who owns devices is deleted only with ``?cascade=true`` (then the devices go too)."""
        owned = [d["id"] for d in await devices.list(account) if d.get("owner_id") == user_id]
        if owned and request.query_params.get("cascade") != "true":
            raise ApiError(409, "conflict", {"owner_id": f"the user owns {len(owned)} device(s); use ?cascade=true"})
        for device_id in owned:
            await devices.delete(device_id, account)
        if owned:
            forget()

    async def boxes_with_counts(account: str, boxes: list[Doc]) -> list[Doc]:
        """Kazoo's box listing counts the messages a box holds."""
        return [
            summaries.vmbox({**box, "messages": sum((await messages.count(account, box["id"])).values())})
            for box in boxes
        ]

    add_document_routes(
        router,
        "/accounts/{account_id}/users",
        users,
        check_user,
        account_of=account_in_path,
        model=User,
        summarize=each(summaries.user),
        before_delete=devices_of_user,
    )
    add_document_routes(
        router,
        "/accounts/{account_id}/vmboxes",
        vmboxes,
        model_checker(VMBox),
        account_of=account_in_path,
        model=VMBox,
        summarize=boxes_with_counts,
    )
    add_message_routes(router, vmboxes, messages, account_in_path)
    audit = RecordingAudit(db)
    add_recording_routes(router, recordings, account_in_path, on_recording_retry, recording_events, audit, users)
    if node_control is not None:
        add_node_routes(router, node_control, Nodes(db))
    signing_keys = SigningKeys(db)

    @router.get("/signing_keys")
    async def list_signing_keys() -> JSONResponse:
        """The nodes' public keys that recording manifests are signed with (manifest.py)."""
        return success(await signing_keys.all())

    hooks = "/accounts/{account_id}/webhook_events"
    events = WebhookEvents(db)
    event_rows = (events.list, events.get, events.retry)
    add_outbox_log_routes(router, hooks, event_rows, as_log_entry, account_in_path, on_webhook_retry, ("recording_id",))
    smtplog = "/accounts/{account_id}/notifications/smtplog"
    mails = Notifications(db)
    mail_rows = (mails.list, mails.get, mails.retry)
    add_outbox_log_routes(router, smtplog, mail_rows, as_smtp_log, account_in_path, on_notification_retry)
    add_audio_link_routes(app, router, recordings, AudioLinks(admin_token), account_in_path, audit)
    add_live_routes(router, recordings, account_in_path, channels)
    add_storage_routes(router, StoragePlans(db), account_in_path, on_config_change)
    add_document_routes(
        router,
        "/accounts/{account_id}/callflows",
        callflows,
        check_callflow,
        account_of=account_in_path,
        summarize=each(summaries.callflow),
    )
    add_phone_number_routes(router, callflows.dids, account_in_path, callflows.forget)
    routing = (
        ("menus", MENUS, Menu, summaries.menu),
        ("groups", GROUPS, Group, summaries.group),
        ("temporal_rules", TEMPORAL_RULES, TemporalRule, summaries.temporal_rule),
        ("temporal_rules_sets", TEMPORAL_RULES_SETS, TemporalRuleSet, summaries.temporal_rule_set),
        ("resources", RESOURCES, Resource, summaries.resource),
    )
    for collection, kind, model, summary in routing:  # what menu, ring_group and temporal_route nodes name
        add_document_routes(
            router,
            f"/accounts/{{account_id}}/{collection}",
            Documents(db, kind),
            model_checker(model),
            account_of=account_in_path,
            model=model,
            summarize=each(summary),
        )
    media = Documents(db, MEDIA)
    add_media_raw_routes(router, media, media_library, account_in_path)
    add_document_routes(
        router,
        "/accounts/{account_id}/media",
        media,
        model_checker(Media),
        account_of=account_in_path,
        model=Media,
        summarize=each(summaries.media),
        after_delete=media_library.forget,
    )

    async def master_only(request: Request) -> None:
        """The platform's documents belong to no account: the operator's token only."""
        require_master(request)

    add_document_routes(  # the platform's carriers: the operator's (master token)
        router,
        "/resources",
        Documents(db, GLOBAL_RESOURCES),
        model_checker(Resource),
        account_of=master_only,
        model=Resource,
        summarize=each(summaries.resource),
    )

    def config_model(config_id: str) -> type[BaseModel]:
        model = SYSTEM_CONFIG_MODELS.get(config_id)
        if model is None:
            raise ApiError(404, "bad identifier", {"id": f"no system config {config_id!r}"})
        return model

    async def current_config(config_id: str) -> dict[str, Any]:
        model = config_model(config_id)
        stored = await configs.get(config_id) or {}
        return validate(model, stored)

    def shown(config_id: str, doc: dict[str, Any]) -> JSONResponse:
        if doc.get("password"):
            doc = {**doc, "password": SECRET_SHOWN}
        return success({**doc, "id": config_id})

    async def kept_secret(config_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        """The stored password for one sent back as shown — for the same relay and login only."""
        if doc.get("password") != SECRET_SHOWN:
            return doc
        stored = await configs.get(config_id) or {}
        if any(doc.get(key, stored.get(key)) != stored.get(key) for key in ("relay", "port", "username")):
            raise ApiError(400, "invalid data", {"password": "a new relay or username needs its password"})
        return {**doc, "password": stored.get("password", "")}

    @router.get("/system_configs/{config_id}", dependencies=[Depends(require_master)])
    async def get_config(config_id: str) -> JSONResponse:
        return shown(config_id, await current_config(config_id))

    @router.api_route(
        "/system_configs/{config_id}",
        methods=["PUT", "POST"],
        dependencies=[Depends(require_master)],
        openapi_extra=request_body(MediaConfig),
    )
    async def put_config(config_id: str, request: Request) -> JSONResponse:
        data = await read_data(request)
        data.pop("id", None)
        doc = validate(config_model(config_id), await kept_secret(config_id, data.get("default", data)))
        await configs.put(config_id, doc)
        on_config_change()
        return shown(config_id, doc)

    @router.patch(
        "/system_configs/{config_id}", dependencies=[Depends(require_master)], openapi_extra=request_body(MediaConfig)
    )
    async def patch_config(config_id: str, request: Request) -> JSONResponse:
        data = await read_data(request)
        data.pop("id", None)
        merged = merge_patch(await current_config(config_id), await kept_secret(config_id, data))
        doc = validate(config_model(config_id), merged)
        await configs.put(config_id, doc)
        on_config_change()
        return shown(config_id, doc)

    app.include_router(router)
    app.include_router(open_router)
    add_docs_page(app)  # /docs: the API reference, rendered from /openapi.json
    if health is not None:

        @app.get("/health", include_in_schema=False)
        async def get_health() -> JSONResponse:  # for load balancers: no token
            healthy, checks = await health()
            return JSONResponse({"status": "ok" if healthy else "failing", "checks": checks}, 200 if healthy else 503)

    if metrics is not None:

        @app.get("/metrics", include_in_schema=False)
        async def get_metrics() -> PlainTextResponse:  # for scrapers: no token, like the receiver's
            return PlainTextResponse(await metrics(), media_type="text/plain; version=0.0.4")

    install_openapi(
        app,
        [
            Account,
            Device,
            User,
            VMBox,
            Media,
            MediaConfig,
            StoragePlan,
            Menu,
            Group,
            TemporalRule,
            TemporalRuleSet,
            Resource,
        ],
    )
    add_ui(app)  # last: its mount takes every /ui/… path no route above took
    return app
