"""What a list shows of each document: Kazoo 4.3's ``crossbar_listing`` views (``kazoo_apps/priv/couchdb/account``),
field for field; ``GET …/{id}`` gives the whole document. A field the document lacks is left out, as a CouchDB
view leaves out what is undefined."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]
Summary = Callable[[Doc], Doc]


def _obj(doc: Any, key: str) -> Doc:
    """``doc[key]`` if it is an object, else an empty one."""
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, dict) else {}


def _present(**fields: Any) -> Doc:
    return {key: value for key, value in fields.items() if value is not None}


def device(doc: Doc) -> Doc:
    """devices.json: id, name, username, mac_address, owner_id, enabled, device_type, mobile, call_recording, flags."""
    sip = _obj(doc, "sip")
    return _present(
        id=doc.get("id"),
        name=doc.get("name"),
        username=sip.get("username"),
        mac_address=doc.get("mac_address") or "",
        owner_id=doc.get("owner_id"),
        enabled=doc.get("enabled"),
        device_type=doc.get("device_type") or "sip_device",
        mobile=doc.get("mobile"),
        call_recording=doc.get("call_recording"),
        flags=doc.get("flags") or [],
    )


def _enabled(doc: Doc, key: str) -> bool:
    return _obj(doc, key).get("enabled") is True


def user(doc: Doc) -> Doc:
    """users.json: id, features, username, email, first_name, last_name, priv_level, feature_level, presence_id,
    timezone, call_recording, service, flags."""
    smartpbx = _obj(doc, "smartpbx")
    features = [name for name in smartpbx if _obj(smartpbx, name).get("enabled")]
    forward = _obj(doc, "call_forward")
    checks = (
        ("hotdesk", _enabled(doc, "hotdesk")),
        ("call_forward", forward.get("enabled") is True),
        ("call_forward_failover", bool(forward.get("failover")) and forward.get("enabled") is not True),
        ("caller_id", bool(_obj(_obj(doc, "caller_id"), "external").get("number"))),
        ("vm_to_email", bool(doc.get("vm_to_email_enabled"))),
        ("music_on_hold", bool(_obj(doc, "music_on_hold").get("media_id"))),
        ("do_not_disturb", _enabled(doc, "do_not_disturb")),
        ("ctu", _enabled(doc, "ctu")),
        ("desktop", _enabled(doc, "desktop")),
    )
    features += [name for name, on in checks if on]
    return _present(
        id=doc.get("id"),
        features=features,
        username=doc.get("username"),
        email=doc.get("email"),
        first_name=doc.get("first_name"),
        last_name=doc.get("last_name"),
        priv_level=doc.get("priv_level"),
        feature_level=doc.get("feature_level"),
        presence_id=doc.get("presence_id"),
        timezone=doc.get("timezone"),
        call_recording=doc.get("call_recording"),
        service=doc.get("service"),
        flags=doc.get("flags") or [],
    )


def _modules(node: Any, found: list[str]) -> list[str]:
    """The modules of a flow, each once, in the order the tree is walked (``skip_module`` ones left out)."""
    if not isinstance(node, dict):
        return found
    if node.get("module") and _obj(node, "data").get("skip_module") is not True and node["module"] not in found:
        found.append(node["module"])
    children = node.get("children")
    if isinstance(children, dict):
        if "module" in children:  # a bare node as children: the "_" branch
            _modules(children, found)
        else:
            for child in children.values():
                _modules(child, found)
    return found


def callflow(doc: Doc) -> Doc:
    """callflows.json: id, name, type, numbers, patterns, featurecode, owner_id, group_id, modules, flags."""
    return _present(
        id=doc.get("id"),
        name=doc.get("name"),
        type=doc.get("type"),
        numbers=doc.get("numbers"),
        patterns=doc.get("patterns"),
        featurecode=doc.get("featurecode") or False,
        owner_id=doc.get("owner_id"),
        group_id=doc.get("group_id"),
        modules=_modules(doc.get("flow"), []),
        flags=doc.get("flags") or [],
    )


def vmbox(doc: Doc) -> Doc:
    """vmboxes.json: id, name, mailbox, owner_id, messages (how many), flags."""
    return _present(
        id=doc.get("id"),
        name=doc.get("name"),
        mailbox=doc.get("mailbox"),
        owner_id=doc.get("owner_id"),
        messages=doc.get("messages", 0),
        flags=doc.get("flags") or [],
    )


def media(doc: Doc) -> Doc:
    """media.json: id, name, media_type, media_source, language (lower case), is_prompt."""
    return _present(
        id=doc.get("id"),
        name=doc.get("name"),
        media_type=doc.get("media_type"),
        media_source=doc.get("media_source"),
        language=str(doc.get("language") or "").lower(),
        is_prompt=bool(doc.get("prompt_id")),
    )


def menu(doc: Doc) -> Doc:
    """menus.json: id, name, flags."""
    return _present(id=doc.get("id"), name=doc.get("name"), flags=doc.get("flags") or [])


def group(doc: Doc) -> Doc:
    """groups.json: id, name, features (music_on_hold if set), endpoints (how many), flags."""
    features = [
        name for name, value in _obj(doc, "smartpbx").items() if isinstance(value, dict) and value.get("enabled")
    ]
    if _obj(doc, "music_on_hold").get("media_id"):
        features.append("music_on_hold")
    return _present(
        id=doc.get("id"),
        name=doc.get("name"),
        features=features,
        endpoints=len(_obj(doc, "endpoints")),
        flags=doc.get("flags") or [],
    )


def temporal_rule(doc: Doc) -> Doc:
    """temporal_rules.json: id, name, type, flags."""
    return _present(id=doc.get("id"), name=doc.get("name"), type=doc.get("type"), flags=doc.get("flags") or [])


def temporal_rule_set(doc: Doc) -> Doc:
    """temporal_rules_sets.json: id, name, rules, flags."""
    return _present(
        id=doc.get("id"), name=doc.get("name"), rules=doc.get("temporal_rules"), flags=doc.get("flags") or []
    )


def resource(doc: Doc) -> Doc:
    """resources.json: id, name, enabled, weight_cost, template_name, classifiers."""
    return _present(
        id=doc.get("id"),
        name=doc.get("name"),
        enabled=doc.get("enabled"),
        weight_cost=doc.get("weight_cost"),
        template_name=doc.get("template_name"),
        classifiers=doc.get("classifiers"),
    )
